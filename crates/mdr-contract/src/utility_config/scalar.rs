//! The value types of `config.yml`, one rule each, the same as for Cortex items: text may be
//! written as a number (a client id of digits), a whole number or a switch may be quoted
//! (`"30"`, `"true"`), blank text counts as absent. Each names what it expects, so that a wrong
//! type is refused with the key and the expected type.

use std::fmt;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

/// Text, trimmed; a YAML number counts as its digits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Text(pub String);

/// What a program reads from an optional [`Text`]: `None` when absent, null or blank.
pub fn given(value: &Option<Text>) -> Option<&str> {
    value.as_ref().map(|t| t.0.as_str()).filter(|t| !t.is_empty())
}

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor;
        impl Visitor<'_> for TextVisitor {
            type Value = Text;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("text")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text, E> {
                Ok(Text(v.trim().to_owned()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
        }
        deserializer.deserialize_any(TextVisitor)
    }
}

/// A whole number, 0 or more: an integer, a float without fraction, or its digits quoted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Whole(pub u64);

impl<'de> Deserialize<'de> for Whole {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct WholeVisitor;
        impl Visitor<'_> for WholeVisitor {
            type Value = Whole;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a whole number, 0 or more")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Whole, E> {
                Ok(Whole(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Whole, E> {
                u64::try_from(v).map(Whole).map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Whole, E> {
                if v.fract() == 0.0 && (0.0..=u64::MAX as f64).contains(&v) {
                    Ok(Whole(v as u64))
                } else {
                    Err(E::invalid_value(de::Unexpected::Float(v), &self))
                }
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Whole, E> {
                v.trim().parse().map(Whole).map_err(|_| E::invalid_value(de::Unexpected::Str(v), &self))
            }
        }
        deserializer.deserialize_any(WholeVisitor)
    }
}

/// A switch: `true`/`false`, or those words quoted (any case).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Switch(pub bool);

impl<'de> Deserialize<'de> for Switch {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SwitchVisitor;
        impl Visitor<'_> for SwitchVisitor {
            type Value = Switch;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("true or false")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Switch, E> {
                Ok(Switch(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Switch, E> {
                match v.trim().to_ascii_lowercase().as_str() {
                    "true" => Ok(Switch(true)),
                    "false" => Ok(Switch(false)),
                    _ => Err(E::invalid_value(de::Unexpected::Str(v), &self)),
                }
            }
        }
        deserializer.deserialize_any(SwitchVisitor)
    }
}

/// A list of text values (`statuses: [Open]`); a single value is refused, not taken as a list of one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct TextList(pub Vec<String>);

impl<'de> Deserialize<'de> for TextList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ListVisitor;
        impl<'de> Visitor<'de> for ListVisitor {
            type Value = TextList;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list such as [Open]")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<TextList, A::Error> {
                let mut items = Vec::new();
                while let Some(Text(item)) = seq.next_element()? {
                    items.push(item);
                }
                Ok(TextList(items))
            }
        }
        deserializer.deserialize_seq(ListVisitor)
    }
}

/// An `ssl_cert` key: a PEM file, or the utility's booleans. `false` makes the utility skip TLS
/// verification; we never do, and say so. `true`, null or blank: the system trust store only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaSetting {
    SystemStore,
    VerifyOff,
    File(String),
}

impl<'de> Deserialize<'de> for CaSetting {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct CaVisitor;
        impl Visitor<'_> for CaVisitor {
            type Value = CaSetting;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a PEM file path, or false")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<CaSetting, E> {
                Ok(if v { CaSetting::SystemStore } else { CaSetting::VerifyOff })
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<CaSetting, E> {
                let v = v.trim();
                Ok(if v.is_empty() { CaSetting::SystemStore } else { CaSetting::File(v.to_owned()) })
            }
            fn visit_unit<E: de::Error>(self) -> Result<CaSetting, E> {
                Ok(CaSetting::SystemStore)
            }
        }
        deserializer.deserialize_any(CaVisitor)
    }
}

/// Any value: a key of the utility's that we accept and do not read (`period`, `enable`, ...).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Unread;

impl<'de> Deserialize<'de> for Unread {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        de::IgnoredAny::deserialize(deserializer).map(|_| Unread)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn read<T: for<'de> Deserialize<'de>>(yaml: &str) -> Result<T, String> {
        serde_yaml::from_str::<T>(yaml).map_err(|e| e.to_string())
    }

    #[test]
    fn text_takes_numbers_and_trims() {
        assert_eq!(read::<Text>("12345").unwrap(), Text("12345".into()));
        assert_eq!(read::<Text>("' a '").unwrap(), Text("a".into()));
        assert_eq!(given(&read::<Option<Text>>("' '").unwrap()), None);
        assert_eq!(given(&read::<Option<Text>>("~").unwrap()), None);
        assert!(read::<Text>("true").unwrap_err().contains("expected text"));
        assert!(read::<Text>("[a]").unwrap_err().contains("expected text"));
    }

    #[test]
    fn numbers_and_switches_follow_the_cortex_item_rules() {
        assert_eq!(read::<Whole>("7").unwrap(), Whole(7));
        assert_eq!(read::<Whole>("'30'").unwrap(), Whole(30));
        assert_eq!(read::<Whole>("2.0").unwrap(), Whole(2));
        for bad in ["-1", "2.5", "many", "[1]", "true"] {
            assert!(read::<Whole>(bad).unwrap_err().contains("expected a whole number"), "{bad}");
        }
        assert_eq!(read::<Switch>("false").unwrap(), Switch(false));
        assert_eq!(read::<Switch>("' TRUE '").unwrap(), Switch(true));
        assert!(read::<Switch>("yes").unwrap_err().contains("expected true or false"));
        assert!(read::<Switch>("1").unwrap_err().contains("expected true or false"));
    }

    #[test]
    fn a_list_is_a_list() {
        assert_eq!(read::<TextList>("[Open, 3]").unwrap(), TextList(vec!["Open".into(), "3".into()]));
        let err = read::<TextList>("Open").unwrap_err();
        assert!(err.contains("invalid type: string \"Open\", expected a list"), "{err}");
    }

    #[test]
    fn ssl_cert_false_is_not_a_path() {
        assert_eq!(read::<CaSetting>("false").unwrap(), CaSetting::VerifyOff);
        assert_eq!(read::<CaSetting>("true").unwrap(), CaSetting::SystemStore);
        assert_eq!(read::<CaSetting>("''").unwrap(), CaSetting::SystemStore);
        assert_eq!(read::<CaSetting>("'false.pem'").unwrap(), CaSetting::File("false.pem".into()));
        assert!(read::<CaSetting>("[a]").unwrap_err().contains("expected a PEM file path, or false"));
    }
}
