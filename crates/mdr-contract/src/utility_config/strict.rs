//! Typos caught: inside a section a program owns, a key its structs do not declare is refused,
//! naming the nearest known key. The known keys are read from the serde structs themselves
//! ([`fields_of`]), so the list cannot drift from what is parsed.

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use serde_yaml::{Mapping, Value as Yaml};

/// A key that is not known where it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownKey {
    /// Dotted from the top: `mdr_sync.max_incident_at_time`.
    pub key: String,
    /// The nearest known key, when one is close enough to be the intended one.
    pub nearest: Option<&'static str>,
    /// Every key known there, for the message when none is near.
    pub known: Vec<&'static str>,
}

impl std::fmt::Display for UnknownKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "unknown key `{}`", self.key)?;
        match self.nearest {
            Some(nearest) => write!(f, ": did you mean `{nearest}`?"),
            None => {
                let known: Vec<String> = self.known.iter().map(|k| format!("`{k}`")).collect();
                write!(f, " (known here: {})", known.join(", "))
            }
        }
    }
}

/// The field names serde reads for `T` (a struct deriving `Deserialize`).
pub(crate) fn fields_of<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
    let mut fields: &'static [&'static str] = &[];
    let _ = T::deserialize(FieldProbe(&mut fields));
    fields
}

/// A deserializer that only records the fields a struct asks for, then stops.
struct FieldProbe<'a>(&'a mut &'static [&'static str]);

#[derive(Debug)]
struct Stop;

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("field probe")
    }
}

impl std::error::Error for Stop {}

impl de::Error for Stop {
    fn custom<M: std::fmt::Display>(_: M) -> Stop {
        Stop
    }
}

impl<'de> Deserializer<'de> for FieldProbe<'_> {
    type Error = Stop;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Stop> {
        Err(Stop)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Stop> {
        *self.0 = fields;
        Err(Stop)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option unit
        unit_struct newtype_struct seq tuple tuple_struct map enum identifier ignored_any
    }
}

/// The keys of `map` (at `path`, dotted; empty at the top) that `known` does not hold.
pub(crate) fn check_keys(map: &Yaml, path: &str, known: &[&'static str]) -> Result<(), UnknownKey> {
    let Some(map) = map.as_mapping() else { return Ok(()) };
    for key in keys(map) {
        if !known.contains(&key.as_str()) {
            // Refused anyway: the suggestion may reach further than a near miss at the top.
            let nearest = nearest(&key, known, |k| 2.max(k.chars().count() / 3));
            return Err(UnknownKey { key: dotted(path, &key), nearest, known: known.to_vec() });
        }
    }
    Ok(())
}

/// At the top, unknown keys are allowed (the utility's sections are many and grow), except one
/// close to a key or section a program reads: that is a typo hiding its settings.
pub(crate) fn check_near_misses(
    map: &Yaml,
    read: &[&'static str],
    also_known: &[&'static str],
) -> Result<(), UnknownKey> {
    let Some(map) = map.as_mapping() else { return Ok(()) };
    for key in keys(map) {
        if read.contains(&key.as_str()) || also_known.contains(&key.as_str()) {
            continue;
        }
        if let Some(nearest) = nearest(&key, read, near_miss_edits) {
            return Err(UnknownKey { key, nearest: Some(nearest), known: read.to_vec() });
        }
    }
    Ok(())
}

fn keys(map: &Mapping) -> Vec<String> {
    map.keys()
        .map(|k| match k {
            Yaml::String(s) => s.clone(),
            other => serde_yaml::to_string(other).map(|s| s.trim().to_owned()).unwrap_or_default(),
        })
        .collect()
}

pub(crate) fn dotted(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_owned() } else { format!("{path}.{key}") }
}

/// How far a top-level key may be from a known one to count as its typo: two edits, one for
/// names under five letters (too short for two to mean a typo: `kms` is not `kuma`).
fn near_miss_edits(known: &str) -> usize {
    if known.chars().count() < 5 { 1 } else { 2 }
}

/// The closest known key within `edits(known key)` edits.
fn nearest(key: &str, known: &[&'static str], edits: impl Fn(&str) -> usize) -> Option<&'static str> {
    known.iter().map(|k| (distance(key, k), *k)).filter(|(d, k)| *d <= edits(k)).min_by_key(|(d, _)| *d).map(|(_, k)| k)
}

/// Levenshtein distance over characters, case-insensitive.
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.to_lowercase().chars().collect();
    let b: Vec<char> = b.to_lowercase().chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != cb);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    #[allow(dead_code)]
    struct Sample {
        max_incidents_at_time: Option<u64>,
        #[serde(rename = "filter")]
        incident_filter: Option<u64>,
    }

    #[test]
    fn fields_come_from_serde() {
        assert_eq!(fields_of::<Sample>(), ["max_incidents_at_time", "filter"]);
    }

    #[test]
    fn distances() {
        assert_eq!(distance("max_incident_at_time", "max_incidents_at_time"), 1);
        assert_eq!(distance("mdr-sync", "mdr_sync"), 1);
        assert_eq!(distance("Thehive", "thehive"), 0);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("kms", "kuma"), 2);
    }

    #[test]
    fn unknown_keys_name_the_nearest() {
        let yaml: Yaml = serde_yaml::from_str("max_incident_at_time: 3").unwrap();
        let err = check_keys(&yaml, "mdr_sync", fields_of::<Sample>()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown key `mdr_sync.max_incident_at_time`: did you mean `max_incidents_at_time`?"
        );
        let yaml: Yaml = serde_yaml::from_str("colour: 3").unwrap();
        let err = check_keys(&yaml, "mdr_sync", fields_of::<Sample>()).unwrap_err();
        assert_eq!(err.to_string(), "unknown key `mdr_sync.colour` (known here: `max_incidents_at_time`, `filter`)");
    }

    #[test]
    fn at_the_top_only_near_misses_are_refused() {
        let read = ["mdr_sync", "thehive", "kuma"];
        let top: Yaml = serde_yaml::from_str("mdr-sync: {}\n").unwrap();
        assert_eq!(check_near_misses(&top, &read, &[]).unwrap_err().nearest, Some("mdr_sync"));
        // A section of its own far from any known one, and a short name two edits away, pass.
        let top: Yaml = serde_yaml::from_str("siem: {}\nkms: {}\nlogging: {}\n").unwrap();
        assert!(check_near_misses(&top, &read, &["logging"]).is_ok());
        let top: Yaml = serde_yaml::from_str("kumaa: {}\n").unwrap();
        assert_eq!(check_near_misses(&top, &read, &[]).unwrap_err().nearest, Some("kuma"));
    }
}
