//! BGP communities as MetalLB writes them: `A:B` (RFC 1997) and `large:A:B:C` (RFC 8092).

use std::cmp::Ordering;
use std::fmt;

use serde::Serialize;

/// A standard or large community value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Community {
    Standard(u32),
    Large(u32, u32, u32),
}

impl Community {
    /// The 96-bit value MetalLB sorts by: a standard community `A:B` counts as
    /// `(A<<16|B):0:0`.
    fn sort_key(&self) -> (u32, u32, u32) {
        match *self {
            Self::Standard(v) => (v, 0, 0),
            Self::Large(a, b, c) => (a, b, c),
        }
    }
}

impl Ord for Community {
    fn cmp(&self, other: &Self) -> Ordering {
        self.sort_key()
            .cmp(&other.sort_key())
            .then_with(|| matches!(self, Self::Large(..)).cmp(&matches!(other, Self::Large(..))))
    }
}

impl PartialOrd for Community {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Community {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Standard(v) => write!(f, "{}:{}", v >> 16, v & 0xffff),
            Self::Large(a, b, c) => write!(f, "large:{a}:{b}:{c}"),
        }
    }
}

impl Serialize for Community {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Why a string is not a community literal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LiteralError {
    /// Not 2 or 4 `:`-separated sections: maybe an alias not defined (yet).
    Shape,
    /// The right shape with a bad section: certainly wrong.
    Invalid(String),
}

/// Parses `A:B` (two 16-bit numbers) or `large:A:B:C` (three 32-bit numbers).
pub fn parse_literal(text: &str) -> Result<Community, LiteralError> {
    let sections: Vec<&str> = text.split(':').collect();
    match sections.as_slice() {
        [a, b] => {
            let a: u16 = a.parse().map_err(|_| bad_section(text, a, "a 16-bit number"))?;
            let b: u16 = b.parse().map_err(|_| bad_section(text, b, "a 16-bit number"))?;
            Ok(Community::Standard((a as u32) << 16 | b as u32))
        }
        [marker, a, b, c] => {
            if *marker != "large" {
                return Err(LiteralError::Invalid(format!(
                    "invalid marker {marker:?} for large community {text:?}: must be \"large\""
                )));
            }
            let parse = |s: &str| s.parse::<u32>().map_err(|_| bad_section(text, s, "a 32-bit number"));
            Ok(Community::Large(parse(a)?, parse(b)?, parse(c)?))
        }
        _ => Err(LiteralError::Shape),
    }
}

fn bad_section(text: &str, section: &str, expected: &str) -> LiteralError {
    LiteralError::Invalid(format!("invalid community {text:?}: section {section:?} is not {expected}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_and_large_literals_parse_and_print_back() {
        for text in ["64500:100", "0:0", "65535:65535", "large:1:2:3", "large:4294967295:0:7"] {
            assert_eq!(parse_literal(text).unwrap().to_string(), text);
        }
    }

    #[test]
    fn out_of_range_sections_are_hard_errors() {
        for text in ["65536:1", "1:-1", "large:1:2:4294967296", "a:b"] {
            assert!(matches!(parse_literal(text), Err(LiteralError::Invalid(_))), "{text}");
        }
    }

    #[test]
    fn four_sections_need_the_large_marker() {
        let Err(LiteralError::Invalid(msg)) = parse_literal("big:1:2:3") else { panic!() };
        assert!(msg.contains("invalid marker"));
    }

    #[test]
    fn other_shapes_may_be_aliases() {
        for text in ["no-export", "1:2:3", "a:b:c:d:e"] {
            assert_eq!(parse_literal(text), Err(LiteralError::Shape), "{text}");
        }
    }

    #[test]
    fn communities_sort_as_96_bit_numbers() {
        let mut v = [
            parse_literal("large:0:5:0").unwrap(),
            parse_literal("1:0").unwrap(),
            parse_literal("large:65536:0:0").unwrap(),
            parse_literal("0:1").unwrap(),
        ];
        v.sort();
        let text: Vec<String> = v.iter().map(ToString::to_string).collect();
        assert_eq!(text, ["large:0:5:0", "0:1", "1:0", "large:65536:0:0"]);
    }
}
