//! Go `time.Duration` strings (`90s`, `1m30s`, `1.5s`, `300ms`), as `metav1.Duration` holds
//! them.

use std::time::Duration;

/// Parses a Go duration string. Negative durations are rejected: no timer here can be
/// negative.
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
            nanos += (digit - b'0') as u128 * place;
        }
        total_nanos = total_nanos.checked_add(nanos).ok_or_else(err)?;
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
}
