//! Configuration items by name: a Cortex job's `config` object, or a map built the same way by a
//! command-line tool. Each typed read accepts the JSON type and its unambiguous string forms, since
//! some configuration tools save every value as a string, and refuses anything else with an
//! [`ItemError`] naming the item: a wrong value is never read as a silent default.
//!
//! - text: a JSON string, trimmed; blank counts as absent.
//! - boolean: `true`/`false`, or the strings `"true"`/`"false"` (any case, blanks around ignored).
//!   `"yes"`, `"1"`, `"on"` are refused: a typo must not pass for a decision.
//! - whole number: a JSON integer (or an integral float such as `30.0`), or its decimal string
//!   (`"30"`); a blank string counts as absent.
//!
//! JSON null counts as absent everywhere, as Cortex sends null for an item left empty.

use std::ops::RangeInclusive;

use serde_json::{Map, Value};

use crate::redact;
use safekeeping::redact::json_type;

/// A configuration item of the wrong type; `Display` names the item and what it accepts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Invalid configuration item `{item}`: expected {expected}, got {found}")]
pub struct ItemError {
    pub item: String,
    pub expected: String,
    pub found: String,
}

/// The items, borrowed; copy it freely.
#[derive(Debug, Clone, Copy)]
pub struct Items<'a>(Option<&'a Map<String, Value>>);

impl<'a> Items<'a> {
    pub fn new(map: &'a Map<String, Value>) -> Items<'a> {
        Items(Some(map))
    }

    /// The items of a JSON value: its members when it is an object, none otherwise.
    pub fn of(value: Option<&'a Value>) -> Items<'a> {
        Items(value.and_then(Value::as_object))
    }

    /// The raw value; `None` when missing or null.
    pub fn value(&self, name: &str) -> Option<&'a Value> {
        self.0?.get(name).filter(|value| !value.is_null())
    }

    /// A text item, trimmed; `None` when missing, null or blank.
    pub fn text(&self, name: &str) -> Result<Option<&'a str>, ItemError> {
        match self.value(name) {
            None => Ok(None),
            Some(Value::String(text)) => Ok(Some(text.trim()).filter(|text| !text.is_empty())),
            Some(other) => Err(invalid(name, "text", other)),
        }
    }

    /// A boolean item, `default` when missing or null.
    pub fn flag(&self, name: &str, default: bool) -> Result<bool, ItemError> {
        let refused = |value: &Value| invalid(name, "true or false", value);
        match self.value(name) {
            None => Ok(default),
            Some(Value::Bool(flag)) => Ok(*flag),
            Some(value @ Value::String(text)) => match text.trim().to_ascii_lowercase().as_str() {
                "true" => Ok(true),
                "false" => Ok(false),
                _ => Err(refused(value)),
            },
            Some(other) => Err(refused(other)),
        }
    }

    /// A whole-number item within `range`, `default` when missing, null or a blank string.
    pub fn whole_number(&self, name: &str, default: u64, range: RangeInclusive<u64>) -> Result<u64, ItemError> {
        let Some(value) = self.value(name) else { return Ok(default) };
        let number = match value {
            Value::Number(number) => {
                number.as_u64().or_else(|| number.as_f64().filter(|f| f.fract() == 0.0 && *f >= 0.0).map(|f| f as u64))
            }
            Value::String(text) if text.trim().is_empty() => return Ok(default),
            Value::String(text) => text.trim().parse().ok(),
            _ => None,
        };
        number.filter(|n| range.contains(n)).ok_or_else(|| {
            let expected = format!("a whole number from {} to {}", range.start(), range.end());
            ItemError { item: name.to_owned(), expected, found: shown(name, value) }
        })
    }
}

fn invalid(name: &str, expected: &str, value: &Value) -> ItemError {
    ItemError { item: name.to_owned(), expected: expected.to_owned(), found: shown(name, value) }
}

/// At most 40 characters of the value, masked as the echoed input is: only the type of a secret
/// item (`thehive_api_key: 123`), and URL passwords hidden in the rest.
fn shown(name: &str, value: &Value) -> String {
    if redact::is_secret_key(name) {
        return format!("a {} (not shown: the item holds a secret)", json_type(value));
    }
    let mut safe = value.clone();
    redact::redact_config_value(&mut safe);
    let text = match &safe {
        Value::String(text) => format!("{text:?}"),
        other => other.to_string(),
    };
    match text.char_indices().nth(40) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;

    fn with<T>(value: Value, read: impl FnOnce(Items<'_>) -> T) -> T {
        let config = json!({ "item": value });
        read(Items::of(Some(&config)))
    }

    #[test]
    fn booleans_and_their_string_forms() {
        assert_eq!(Items::of(None).flag("item", true), Ok(true));
        for (value, default, expected) in [
            (json!(null), false, false),
            (json!(false), true, false),
            (json!("false"), true, false),
            (json!(" FALSE "), true, false),
            (json!("True"), false, true),
        ] {
            assert_eq!(with(value.clone(), |items| items.flag("item", default)), Ok(expected), "{value}");
        }
    }

    #[test]
    fn anything_else_names_the_item() {
        for bad in [json!("yes"), json!("0"), json!(""), json!(1), json!([]), json!({"a": 1})] {
            let err = with(bad.clone(), |items| items.flag("item", true)).expect_err("must refuse");
            assert_eq!(
                err.to_string(),
                format!("Invalid configuration item `item`: expected true or false, got {}", shown("item", &bad))
            );
        }
        let err = with(json!("yes"), |items| items.flag("item", true)).unwrap_err();
        assert_eq!(err.to_string(), "Invalid configuration item `item`: expected true or false, got \"yes\"");
    }

    #[test]
    fn a_refused_secret_or_url_password_is_not_shown() {
        let config = json!({"thehive_api_key": 123456789012_u64, "thehive_url": ["https://u:SENTINEL@th.example"]});
        let items = Items::of(Some(&config));
        let err = items.text("thehive_api_key").unwrap_err().to_string();
        assert!(err.ends_with("got a number (not shown: the item holds a secret)") && !err.contains("1234"), "{err}");
        let err = items.text("thehive_url").unwrap_err().to_string();
        assert!(!err.contains("SENTINEL") && err.contains("u:REMOVED@"), "{err}");
    }

    #[test]
    fn whole_numbers_from_numbers_and_digits() {
        let read = |value: Value| with(value, |items| items.whole_number("item", 30, 1..=600));
        for (value, expected) in [(json!(null), 30), (json!(5), 5), (json!(5.0), 5), (json!(" 7 "), 7), (json!(""), 30)]
        {
            assert_eq!(read(value.clone()), Ok(expected), "{value}");
        }
        for bad in [json!(0), json!(-1), json!(1.5), json!("soon"), json!(601), json!([5]), json!(true)] {
            let err = read(bad.clone()).unwrap_err().to_string();
            assert!(
                err.starts_with("Invalid configuration item `item`: expected a whole number from 1 to 600"),
                "{err}"
            );
        }
    }

    #[test]
    fn text_is_trimmed_and_a_non_string_is_refused() {
        let text = |value: Value| with(value, |items| items.text("item").map(|t| t.map(str::to_owned)));
        assert_eq!(text(json!(" a ")), Ok(Some("a".to_owned())));
        assert_eq!(text(json!("  ")), Ok(None));
        assert_eq!(text(json!(null)), Ok(None));
        let err = text(json!(12)).unwrap_err();
        assert_eq!(err.to_string(), "Invalid configuration item `item`: expected text, got 12");
        let long = with(json!("x".repeat(100)), |items| items.flag("item", true)).unwrap_err();
        assert!(long.found.ends_with('…') && long.found.chars().count() == 41, "{}", long.found);
    }
}
