//! Serialisation identical to Python's `json.dump(obj, fp, ensure_ascii=False)` with default separators.
//!
//! serde_json already escapes strings exactly like Python (`\"`, `\\`, `\n`, `\r`, `\t`, `\b`, `\f`, other
//! control characters as lower-case `\u00XX`, everything else raw UTF-8); only the separators and the float
//! notation differ, so those are the parts overridden here.

use std::io::{self, Write};

use serde::Serialize;
use serde_json::ser::Formatter;

/// Encodes `value` the way cortexutils writes its documents (no trailing newline).
pub(crate) fn to_python_json<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, serde_json::Error> {
    let mut bytes = Vec::new();
    let mut serializer = serde_json::Serializer::with_formatter(&mut bytes, PythonFormatter);
    value.serialize(&mut serializer)?;
    Ok(bytes)
}

/// `", "` between items, `": "` after keys, floats written like Python's `repr`.
struct PythonFormatter;

impl Formatter for PythonFormatter {
    fn begin_array_value<W: ?Sized + Write>(&mut self, writer: &mut W, first: bool) -> io::Result<()> {
        if first { Ok(()) } else { writer.write_all(b", ") }
    }

    fn begin_object_key<W: ?Sized + Write>(&mut self, writer: &mut W, first: bool) -> io::Result<()> {
        if first { Ok(()) } else { writer.write_all(b", ") }
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        writer.write_all(b": ")
    }

    fn write_f32<W: ?Sized + Write>(&mut self, writer: &mut W, value: f32) -> io::Result<()> {
        writer.write_all(python_float_repr(f64::from(value)).as_bytes())
    }

    fn write_f64<W: ?Sized + Write>(&mut self, writer: &mut W, value: f64) -> io::Result<()> {
        writer.write_all(python_float_repr(value).as_bytes())
    }
}

/// Python's `repr(float)` for finite values: the shortest round-trip digits, positional notation when the
/// decimal exponent is in -4..16, otherwise `1e+16` / `1.5e-05` style (sign and at least two exponent digits).
/// serde_json (ryu) differs on small numbers (`1e-5`) and on the exponent format.
fn python_float_repr(value: f64) -> String {
    // Rust's `{:e}` gives the same shortest round-trip digits, e.g. "-1.2345e16" or "0e0".
    let scientific = format!("{value:e}");
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((scientific.as_str(), "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    // Position of the decimal point relative to the first digit, as in Python's float_repr.
    let point = exponent + 1;
    let body = if point <= -4 || point > 16 {
        let (first, rest) = digits.split_at(1);
        let fraction = if rest.is_empty() { String::new() } else { format!(".{rest}") };
        let exp_sign = if exponent < 0 { '-' } else { '+' };
        format!("{first}{fraction}e{exp_sign}{:02}", exponent.unsigned_abs())
    } else if point <= 0 {
        format!("0.{}{digits}", "0".repeat(point.unsigned_abs() as usize))
    } else {
        let point = point as usize;
        if point >= digits.len() {
            format!("{digits}{}.0", "0".repeat(point - digits.len()))
        } else {
            format!("{}.{}", &digits[..point], &digits[point..])
        }
    };
    format!("{sign}{body}")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn encode(value: &serde_json::Value) -> String {
        String::from_utf8(to_python_json(value).unwrap()).unwrap()
    }

    #[test]
    fn separators_and_key_order_follow_python() {
        let value = json!({"b": 1, "a": [1, 2, {}], "c": {"x": [], "y": null, "z": true}});
        assert_eq!(encode(&value), r#"{"b": 1, "a": [1, 2, {}], "c": {"x": [], "y": null, "z": true}}"#);
    }

    #[test]
    fn strings_are_escaped_like_python_with_raw_utf8() {
        let value = json!("q\" b\\ n\n r\r t\t b\u{8} f\u{c} nul\u{0} us\u{1f} del\u{7f} é ж 🙂 \u{2028}");
        assert_eq!(
            encode(&value),
            "\"q\\\" b\\\\ n\\n r\\r t\\t b\\b f\\f nul\\u0000 us\\u001f del\u{7f} é ж 🙂 \u{2028}\""
        );
    }

    #[test]
    fn floats_match_python_repr() {
        let cases = [
            (2.0, "2.0"),
            (-0.0, "-0.0"),
            (0.0, "0.0"),
            (0.1, "0.1"),
            (123.456, "123.456"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.5e-7, "1.5e-07"),
            (1e15, "1000000000000000.0"),
            (1e16, "1e+16"),
            (1.2345e100, "1.2345e+100"),
            (-2.5e-300, "-2.5e-300"),
            (1718000000000.5, "1718000000000.5"),
        ];
        for (value, expected) in cases {
            assert_eq!(python_float_repr(value), expected, "repr of {value:e}");
        }
        assert_eq!(encode(&json!({"f": 1e16, "i": 10000000000000000_u64})), r#"{"f": 1e+16, "i": 10000000000000000}"#);
    }
}
