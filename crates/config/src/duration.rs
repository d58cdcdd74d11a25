//! Go `time.Duration` strings (`90s`, `1m30s`, `1.5s`, `300ms`), as `metav1.Duration` holds
//! them.

use std::time::Duration;

/// The longest duration Go's `time.ParseDuration` accepts: an `int64` of nanoseconds (about
/// 292 years). The API server parses `metav1.Duration` with it, so anything longer never
/// reaches a MetalLB cluster; refusing it here keeps `validate` and the webhook in step.
pub const MAX_NANOS: u128 = i64::MAX as u128;

/// Parses a Go duration string. Negative durations are rejected: no timer here can be
/// negative. Every step is checked: a duration past [`MAX_NANOS`] is an error, never a wrap.
pub fn parse(text: &str) -> Result<Duration, String> {
    let err = || format!("invalid duration {text:?} (expected e.g. \"90s\", \"1m30s\", \"500ms\")");
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    let mut rest = text.strip_prefix('+').unwrap_or(text);
    if rest.is_empty() || rest.starts_with('-') {
        return Err(err());
    }
    let mut total_nanos: u128 = 0;
    while !rest.is_empty() {
        let number_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).ok_or_else(err)?;
        let (number, tail) = rest.split_at(number_len);
        let unit_len = tail.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let scale: u128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return Err(err()),
        };
        let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
        if whole.is_empty() && frac.is_empty() {
            return Err(err());
        }
        let whole: u128 = if whole.is_empty() { 0 } else { whole.parse().map_err(|_| err())? };
        let mut nanos = whole.checked_mul(scale).ok_or_else(err)?;
        let mut place = scale;
        for digit in frac.bytes() {
            if !digit.is_ascii_digit() {
                return Err(err());
            }
            place /= 10;
            nanos = nanos.checked_add((digit - b'0') as u128 * place).ok_or_else(err)?;
        }
        total_nanos = total_nanos.checked_add(nanos).filter(|n| *n <= MAX_NANOS).ok_or_else(err)?;
        rest = tail;
    }
    let secs = u64::try_from(total_nanos / 1_000_000_000).map_err(|_| err())?;
    Ok(Duration::new(secs, (total_nanos % 1_000_000_000) as u32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_duration_forms_parse() {
        assert_eq!(parse("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse("300ms"), Ok(Duration::from_millis(300)));
        assert_eq!(parse("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse("0"), Ok(Duration::ZERO));
        assert_eq!(parse("0s"), Ok(Duration::ZERO));
        assert_eq!(parse(".5s"), Ok(Duration::from_millis(500)));
    }

    #[test]
    fn malformed_durations_are_rejected() {
        for text in ["", "90", "s", "-1s", "1x", "1..5s", "1.s5", "99999999999999999999999h", "."] {
            assert!(parse(text).is_err(), "{text:?}");
        }
    }

    /// Found by review: the fraction's digits were added unchecked, so this panicked a debug
    /// build and wrapped to 1808.23s in release.
    #[test]
    fn a_huge_value_with_a_fraction_is_an_error_not_a_panic_or_a_wrap() {
        let err = parse("94522879700260684295381835.9h").unwrap_err();
        assert!(err.contains("invalid duration"), "{err}");
    }

    #[test]
    fn the_limit_is_gos_int64_nanoseconds() {
        // 2562047h47m16.854775807s is time.Duration's maximum
        assert_eq!(parse("2562047h47m16.854775807s"), Ok(Duration::from_nanos(i64::MAX as u64)));
        assert!(parse("2562047h47m16.854775808s").is_err());
        assert!(parse("2562048h").is_err());
        assert!(parse("9223372036854775807ns").is_ok());
        assert!(parse("9223372036854775808ns").is_err());
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn unit() -> impl Strategy<Value = (&'static str, u128)> {
            prop::sample::select(vec![
                ("ns", 1u128),
                ("us", 1_000),
                ("ms", 1_000_000),
                ("s", 1_000_000_000),
                ("m", 60_000_000_000),
                ("h", 3_600_000_000_000),
            ])
        }

        proptest! {
            /// Any run of digits, however long, with any unit and fraction: an answer, never a
            /// panic, and a value only when it is exactly the sum (checked with u128 arithmetic
            /// on the parts) and within Go's limit.
            #[test]
            fn extreme_values_never_panic_and_are_exact(
                parts in prop::collection::vec(("[0-9]{1,40}", "[0-9]{0,12}", unit()), 1..4),
            ) {
                let text: String = parts
                    .iter()
                    .map(|(whole, frac, (unit, _))| {
                        if frac.is_empty() { format!("{whole}{unit}") } else { format!("{whole}.{frac}{unit}") }
                    })
                    .collect();
                let mut expected: Option<u128> = Some(0);
                for (whole, frac, (_, scale)) in &parts {
                    let whole: Option<u128> = whole.parse().ok();
                    let mut nanos = whole.and_then(|w| w.checked_mul(*scale));
                    let mut place = *scale;
                    for d in frac.bytes() {
                        place /= 10;
                        nanos = nanos.and_then(|n| n.checked_add(u128::from(d - b'0') * place));
                    }
                    expected = expected.zip(nanos).and_then(|(a, b)| a.checked_add(b));
                }
                let expected = expected.filter(|n| *n <= MAX_NANOS);
                match (parse(&text), expected) {
                    (Ok(got), Some(want)) => prop_assert_eq!(got.as_nanos(), want, "{}", text),
                    (Err(_), None) => {}
                    (got, want) => prop_assert!(false, "{text}: got {got:?}, want {want:?} ns"),
                }
            }

            /// Arbitrary text: an answer, never a panic.
            #[test]
            fn arbitrary_text_never_panics(text in "\\PC{0,40}") {
                let _ = parse(&text);
            }
        }
    }
}
