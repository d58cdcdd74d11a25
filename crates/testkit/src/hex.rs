//! Wire fixtures are written as annotated hex (`"ff ff ff ff  00 13 01"`): bytes in pairs of
//! digits, grouped by white space as the RFC diagrams group fields.

/// The bytes of `text`: pairs of hex digits, white space ignored. Panics on anything else
/// (an odd digit out, a stray character), so a typo in a fixture fails loudly.
pub fn hex(text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    assert!(digits.len().is_multiple_of(2), "odd number of hex digits in {text:?}");
    digits
        .chunks(2)
        .map(|pair| {
            let pair = std::str::from_utf8(pair).expect("ASCII");
            u8::from_str_radix(pair, 16).unwrap_or_else(|_| panic!("not hex: {pair:?} in {text:?}"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_and_line_breaks_are_ignored() {
        assert_eq!(hex("ff 00\n  0a1B"), [0xff, 0x00, 0x0a, 0x1b]);
        assert_eq!(hex(""), Vec::<u8>::new());
    }

    #[test]
    #[should_panic(expected = "odd number")]
    fn an_odd_digit_out_is_a_fixture_error() {
        hex("fff");
    }

    #[test]
    #[should_panic(expected = "not hex")]
    fn a_stray_character_is_a_fixture_error() {
        hex("f:");
    }
}
