//! Hybrid-36 numbers: how PDB files fit atom serials above 99,999 and residue numbers above
//! 9,999 into their 5- and 4-column fields (decimal first, then base 36 with an upper-case
//! leading digit, then with a lower-case one).

const DIGITS_UPPER: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const DIGITS_LOWER: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";

fn pure_base36(text: &[u8], digits: &[u8]) -> Option<i64> {
    text.iter().try_fold(0i64, |value, c| Some(value * 36 + digits.iter().position(|d| d == c)? as i64))
}

/// Decodes a field of `width` columns (5 for serials, 4 for residue numbers); surrounding
/// blanks are allowed, a blank field is `None`, and so is anything that is not a number.
pub fn decode(field: &[u8], width: u32) -> Option<i64> {
    let text = field.trim_ascii();
    let first = *text.first()?;
    if first.is_ascii_digit() || first == b'-' || first == b'+' {
        return std::str::from_utf8(text).ok()?.parse().ok();
    }
    // The alphabetic ranges use every column of the field.
    if text.len() != width as usize {
        return None;
    }
    let span = 36i64.pow(width - 1);
    let decimal_limit = 10i64.pow(width);
    if first.is_ascii_uppercase() {
        Some(pure_base36(text, DIGITS_UPPER)? - 10 * span + decimal_limit)
    } else if first.is_ascii_lowercase() {
        Some(pure_base36(text, DIGITS_LOWER)? + 16 * span + decimal_limit)
    } else {
        None
    }
}

/// Encodes `value` in `width` columns, right-justified (for fixtures and writers).
pub fn encode(value: i64, width: u32) -> Option<String> {
    let decimal_limit = 10i64.pow(width);
    let span = 36i64.pow(width - 1);
    let base36 = |mut v: i64, digits: &[u8]| {
        let mut out = vec![b'0'; width as usize];
        for slot in out.iter_mut().rev() {
            *slot = digits[(v % 36) as usize];
            v /= 36;
        }
        String::from_utf8(out).expect("ASCII digits")
    };
    if value > -(10i64.pow(width - 1)) && value < decimal_limit {
        Some(format!("{value:>w$}", w = width as usize))
    } else if value >= decimal_limit && value < decimal_limit + 26 * span {
        Some(base36(value - decimal_limit + 10 * span, DIGITS_UPPER))
    } else if value >= decimal_limit + 26 * span && value < decimal_limit + 52 * span {
        Some(base36(value - decimal_limit - 16 * span, DIGITS_LOWER))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values_from_the_hybrid36_definition() {
        assert_eq!(decode(b"99999", 5), Some(99_999));
        assert_eq!(decode(b"A0000", 5), Some(100_000));
        assert_eq!(decode(b"A0001", 5), Some(100_001));
        assert_eq!(decode(b"ZZZZZ", 5), Some(100_000 + 26 * 36i64.pow(4) - 1));
        assert_eq!(decode(b"a0000", 5), Some(100_000 + 26 * 36i64.pow(4)));
        assert_eq!(decode(b"9999", 4), Some(9_999));
        assert_eq!(decode(b"A000", 4), Some(10_000));
        assert_eq!(decode(b"  -5", 4), Some(-5));
        assert_eq!(decode(b"    ", 4), None);
        assert_eq!(decode(b"A00", 4), None);
        assert_eq!(decode(b"A0!0", 4), None);
    }

    #[test]
    fn encode_and_decode_are_inverse() {
        for width in [4u32, 5] {
            let top = 10i64.pow(width) + 52 * 36i64.pow(width - 1);
            for value in (-(10i64.pow(width - 1)) + 1..top).step_by(7919).chain([top - 1]) {
                let text = encode(value, width).unwrap();
                assert_eq!(text.len(), width as usize);
                assert_eq!(decode(text.as_bytes(), width), Some(value), "{value} as {text}");
            }
            assert!(encode(top, width).is_none());
        }
    }
}
