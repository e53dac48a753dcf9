//! Resolution of plain scalars with the YAML 1.2 core schema.

use std::borrow::Cow;

use super::node::Value;

/// The value of a plain scalar; a string keeps `text`'s allocation when the parser made one.
pub fn resolve_plain(text: Cow<'_, str>) -> Value {
    match &*text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Value::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Value::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Value::Float(f64::NAN),
        _ => {}
    }
    if let Some(value) = resolve_int(&text) {
        return value;
    }
    if looks_like_float(&text)
        && let Ok(f) = text.parse::<f64>()
    {
        return Value::Float(f);
    }
    Value::String(text.into_owned())
}

fn resolve_int(text: &str) -> Option<Value> {
    let (digits, radix) = if let Some(hex) = text.strip_prefix("0x") {
        (hex, 16)
    } else if let Some(oct) = text.strip_prefix("0o") {
        (oct, 8)
    } else {
        let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
        if unsigned.is_empty() || !unsigned.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        // An integer too large for i64 is still a number to the user: keep it as a float
        // rather than turning it into a string.
        return Some(match text.parse::<i64>() {
            Ok(i) => Value::Int(i),
            Err(_) => Value::Float(text.parse::<f64>().ok()?),
        });
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    i64::from_str_radix(digits, radix).ok().map(Value::Int)
}

/// `[-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?`
fn looks_like_float(text: &str) -> bool {
    let bytes = text.strip_prefix(['-', '+']).unwrap_or(text).as_bytes();
    let mut i = 0;
    let int_digits = count_digits(&bytes[i..]);
    i += int_digits;
    let mut frac_digits = 0;
    if bytes.get(i) == Some(&b'.') {
        i += 1;
        frac_digits = count_digits(&bytes[i..]);
        i += frac_digits;
    }
    if int_digits == 0 && frac_digits == 0 {
        return false;
    }
    if matches!(bytes.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(bytes.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        let exp_digits = count_digits(&bytes[i..]);
        if exp_digits == 0 {
            return false;
        }
        i += exp_digits;
    }
    i == bytes.len()
}

fn count_digits(bytes: &[u8]) -> usize {
    bytes.iter().take_while(|b| b.is_ascii_digit()).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_schema() {
        assert_eq!(resolve_plain("".into()), Value::Null);
        assert_eq!(resolve_plain("~".into()), Value::Null);
        assert_eq!(resolve_plain("TRUE".into()), Value::Bool(true));
        assert_eq!(resolve_plain("yes".into()), Value::String("yes".into()));
        assert_eq!(resolve_plain("-42".into()), Value::Int(-42));
        assert_eq!(resolve_plain("0x1F".into()), Value::Int(31));
        assert_eq!(resolve_plain("0o17".into()), Value::Int(15));
        assert_eq!(resolve_plain("0.05".into()), Value::Float(0.05));
        assert_eq!(resolve_plain("1e3".into()), Value::Float(1000.0));
        assert_eq!(resolve_plain("1e".into()), Value::String("1e".into()));
        assert_eq!(resolve_plain(".".into()), Value::String(".".into()));
        assert_eq!(resolve_plain("12abc".into()), Value::String("12abc".into()));
        assert_eq!(
            resolve_plain("99999999999999999999".into()),
            Value::Float(99999999999999999999.0)
        );
        assert_eq!(
            resolve_plain("9nsr7pjw1e1g6hgy9l1znjql7".into()),
            Value::String("9nsr7pjw1e1g6hgy9l1znjql7".into())
        );
    }
}
