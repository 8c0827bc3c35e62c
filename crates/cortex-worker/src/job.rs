//! The validated job input, with the accessors responders use (cortexutils' `get_param` and friends).

use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::items::Items;
use crate::redact::redact_input;

/// Default TLP/PAP of a job, and default maximum, as in cortexutils.
const DEFAULT_LEVEL: f64 = 2.0;

/// Why a job could not start. `Display` is the exact `errorMessage` written in the error document.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// No `input/input.json` and standard input is a terminal (cortexutils' text, typo included).
    #[error("Input file doesnt exist")]
    NoInput,
    /// The input could not be read. `place` is e.g. `input/input.json` or `standard input`.
    #[error("Cannot read {place}: {reason}")]
    Unreadable { place: &'static str, reason: String },
    /// The input was empty or only whitespace. `place` is e.g. `in input/input.json`.
    #[error("Empty input {place}")]
    Empty { place: &'static str },
    /// The input is not valid JSON; `reason` is the parser's message (never the input's content).
    #[error("Invalid input JSON {place}: {reason}")]
    InvalidJson { place: &'static str, reason: String },
    /// Valid JSON, but not an object.
    #[error("Invalid input: expected a JSON object")]
    NotAnObject,
    #[error("Missing dataType field")]
    MissingDataType,
    /// `field` is the dotted path of a TLP/PAP value that is neither a number nor null.
    #[error("Invalid {field} field: expected a number")]
    NotANumber { field: &'static str },
    #[error("TLP is higher than allowed.")]
    TlpTooHigh,
    #[error("PAP is higher than allowed.")]
    PapTooHigh,
}

/// One Cortex job: the whole input object plus what cortexutils' constructor derives from it.
/// `Debug` shows the input with its secrets masked, like error documents do.
#[derive(Clone)]
pub struct Job {
    input: Value,
    data_type: String,
    // Kept as f64 because Cortex may send `2.0` and cortexutils compares numerically.
    tlp: f64,
    pap: f64,
    dir: Option<PathBuf>,
}

impl Job {
    /// Validates like cortexutils' constructor: input must be a JSON object; "Missing dataType field" when
    /// dataType is missing, null or not a string; tlp/pap default to 2; the `config.check_tlp`/`check_pap`
    /// flags (truthy like in Python, null = absent = off) enable "TLP is higher than allowed." then "PAP is
    /// higher than allowed." (TLP wins) against `max_tlp`/`max_pap` (default 2, null = absent, floats allowed).
    /// A tlp/pap (or an enabled max) that is neither a number nor null is reported with its field name.
    pub fn from_input(input: Value, dir: Option<PathBuf>) -> Result<Job, InputError> {
        if !input.is_object() {
            return Err(InputError::NotAnObject);
        }
        let data_type = match input.get("dataType") {
            Some(Value::String(data_type)) => data_type.clone(),
            _ => return Err(InputError::MissingDataType),
        };
        let tlp = number_or_default(input.get("tlp"), "tlp")?;
        let pap = number_or_default(input.get("pap"), "pap")?;
        let config = input.get("config");
        let setting = |name: &str| config.and_then(|config| config.get(name));
        if is_truthy(setting("check_tlp")) && tlp > number_or_default(setting("max_tlp"), "config.max_tlp")? {
            return Err(InputError::TlpTooHigh);
        }
        if is_truthy(setting("check_pap")) && pap > number_or_default(setting("max_pap"), "config.max_pap")? {
            return Err(InputError::PapTooHigh);
        }
        Ok(Job { input, data_type, tlp, pap, dir })
    }

    /// The whole input object, as read.
    pub fn input(&self) -> &Value {
        &self.input
    }

    /// `dataType`, e.g. `thehive:case_task_log`.
    pub fn data_type(&self) -> &str {
        &self.data_type
    }

    /// The job TLP (0 white … 3 red), 2 when absent.
    pub fn tlp(&self) -> i64 {
        self.tlp as i64
    }

    /// The job PAP (0 … 3), 2 when absent.
    pub fn pap(&self) -> i64 {
        self.pap as i64
    }

    /// The job folder in job-folder mode, `None` when the input came from standard input.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// `input.data` (the TheHive object for responders); `None` if missing or null.
    pub fn data(&self) -> Option<&Value> {
        self.input.get("data").filter(|data| !data.is_null())
    }

    /// `input.data` as a trimmed string: the observable value an analyzer receives (`None` when missing, null,
    /// not a string, or blank; file analyzers get `file`/`filename` instead).
    pub fn data_str(&self) -> Option<&str> {
        non_blank(self.input.get("data"))
    }

    /// Whether an analyzer should offer artifacts: cortexutils reads `config.auto_extract` (this also accepts
    /// the older `config.auto_extract_artifacts`), true unless set to a falsy value; null counts as absent.
    pub fn auto_extract(&self) -> bool {
        ["auto_extract", "auto_extract_artifacts"]
            .iter()
            .find_map(|name| self.config(name))
            .is_none_or(|value| is_truthy(Some(value)))
    }

    /// A dotted path from the input root, like cortexutils' `get_param` (`data.case.customFields.x.string`).
    /// A missing key or JSON null ends in `None`; so does walking through a non-object (list, string, number),
    /// where Python would crash. Falsy values (`false`, `0`, `""`, `[]`, `{}`) are returned as they are.
    pub fn param(&self, path: &str) -> Option<&Value> {
        path.split('.').try_fold(&self.input, |value, key| value.as_object()?.get(key)).filter(|value| !value.is_null())
    }

    /// `input.config.<name>`; `None` when missing or null.
    pub fn config(&self, name: &str) -> Option<&Value> {
        self.section_value("config", name)
    }

    /// `input.config.<name>` as a trimmed string; `None` when missing, null, not a string, or blank
    /// (cortexutils' leniency). [`Job::items`] reads the same items typed, refusing a wrong type.
    pub fn config_str(&self, name: &str) -> Option<&str> {
        non_blank(self.config(name))
    }

    /// The configuration items (`input.config`), for typed reads that name a wrong value's item.
    pub fn items(&self) -> Items<'_> {
        Items::of(self.input.get("config"))
    }

    /// `input.parameters.<name>` as a trimmed string; same rules as [`Job::config_str`].
    pub fn parameter_str(&self, name: &str) -> Option<&str> {
        non_blank(self.section_value("parameters", name))
    }

    fn section_value(&self, section: &str, name: &str) -> Option<&Value> {
        self.input.get(section)?.get(name).filter(|value| !value.is_null())
    }
}

impl fmt::Debug for Job {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Job")
            .field("input", &redact_input(&self.input))
            .field("data_type", &self.data_type)
            .field("tlp", &self.tlp)
            .field("pap", &self.pap)
            .field("dir", &self.dir)
            .finish()
    }
}

fn non_blank(value: Option<&Value>) -> Option<&str> {
    value?.as_str().map(str::trim).filter(|text| !text.is_empty())
}

/// A TLP/PAP number; null or absent means the default 2.
fn number_or_default(value: Option<&Value>, field: &'static str) -> Result<f64, InputError> {
    match value {
        None | Some(Value::Null) => Ok(DEFAULT_LEVEL),
        Some(Value::Number(number)) => number.as_f64().ok_or(InputError::NotANumber { field }),
        Some(_) => Err(InputError::NotANumber { field }),
    }
}

/// Python truthiness, because cortexutils tests `if self.check_tlp and …` on whatever the config holds.
fn is_truthy(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => false,
        Some(Value::Bool(flag)) => *flag,
        Some(Value::Number(number)) => number.as_f64().is_some_and(|n| n != 0.0),
        Some(Value::String(text)) => !text.is_empty(),
        Some(Value::Array(items)) => !items.is_empty(),
        Some(Value::Object(map)) => !map.is_empty(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn job(input: Value) -> Job {
        Job::from_input(input, None).unwrap()
    }

    fn error(input: Value) -> String {
        Job::from_input(input, None).unwrap_err().to_string()
    }

    fn checked(tlp: Value, pap: Value, config: Value) -> Result<Job, InputError> {
        Job::from_input(json!({"dataType": "thehive:case", "tlp": tlp, "pap": pap, "config": config}), None)
    }

    #[test]
    fn input_must_be_an_object() {
        assert_eq!(error(json!([1])), "Invalid input: expected a JSON object");
        assert_eq!(error(json!("x")), "Invalid input: expected a JSON object");
    }

    #[test]
    fn data_type_is_required_and_a_string() {
        assert_eq!(error(json!({})), "Missing dataType field");
        assert_eq!(error(json!({"dataType": null})), "Missing dataType field");
        assert_eq!(error(json!({"dataType": 5})), "Missing dataType field");
        assert_eq!(job(json!({"dataType": "thehive:alert"})).data_type(), "thehive:alert");
    }

    #[test]
    fn tlp_and_pap_default_to_two() {
        let job = job(json!({"dataType": "thehive:case", "tlp": null}));
        assert_eq!((job.tlp(), job.pap()), (2, 2));
        let job = self::job(json!({"dataType": "thehive:case", "tlp": 0, "pap": 3.0}));
        assert_eq!((job.tlp(), job.pap()), (0, 3));
    }

    #[test]
    fn tlp_check_compares_with_max() {
        let on = json!({"check_tlp": true, "max_tlp": 2, "check_pap": true, "max_pap": 2});
        assert!(checked(json!(2), json!(2), on.clone()).is_ok());
        assert_eq!(checked(json!(3), json!(2), on.clone()).unwrap_err().to_string(), "TLP is higher than allowed.");
        assert_eq!(checked(json!(2), json!(3), on.clone()).unwrap_err().to_string(), "PAP is higher than allowed.");
        // Both too high: TLP is reported, as cortexutils checks it first.
        assert!(matches!(checked(json!(3), json!(3), on).unwrap_err(), InputError::TlpTooHigh));
    }

    #[test]
    fn null_or_float_max_and_missing_tlp_use_defaults() {
        let null_max = json!({"check_tlp": true, "max_tlp": null, "check_pap": true, "max_pap": null});
        assert!(checked(json!(2), json!(2), null_max.clone()).is_ok());
        assert!(matches!(checked(json!(3), json!(2), null_max).unwrap_err(), InputError::TlpTooHigh));
        let float_max = json!({"check_tlp": true, "max_tlp": 2.0, "check_pap": true, "max_pap": 1.5});
        assert!(matches!(checked(json!(2), json!(2), float_max).unwrap_err(), InputError::PapTooHigh));
        // tlp absent counts as 2, above a max of 1.
        let low = json!({"dataType": "x", "config": {"check_tlp": true, "max_tlp": 1}});
        assert_eq!(error(low), "TLP is higher than allowed.");
    }

    #[test]
    fn checks_off_absent_or_null_allow_anything() {
        let off = json!({"check_tlp": false, "max_tlp": 0, "check_pap": 0, "max_pap": 0});
        assert!(checked(json!(3), json!(3), off).is_ok());
        let null_checks = json!({"check_tlp": null, "max_tlp": 0, "check_pap": null, "max_pap": 0});
        assert!(checked(json!(3), json!(3), null_checks).is_ok());
        assert!(job(json!({"dataType": "x", "tlp": 3, "pap": 3})).tlp() == 3);
        // A disabled check does not look at its max at all.
        assert!(checked(json!(3), json!(3), json!({"max_tlp": "two"})).is_ok());
    }

    #[test]
    fn non_numbers_are_named() {
        assert_eq!(error(json!({"dataType": "x", "tlp": "3"})), "Invalid tlp field: expected a number");
        assert_eq!(error(json!({"dataType": "x", "pap": true})), "Invalid pap field: expected a number");
        let config = json!({"check_tlp": true, "max_tlp": "2"});
        assert_eq!(
            checked(json!(2), json!(2), config).unwrap_err().to_string(),
            "Invalid config.max_tlp field: expected a number"
        );
        let config = json!({"check_pap": "yes", "max_pap": [2]});
        assert_eq!(
            checked(json!(2), json!(2), config).unwrap_err().to_string(),
            "Invalid config.max_pap field: expected a number"
        );
    }

    #[test]
    fn param_walks_objects_only() {
        let job = job(json!({
            "dataType": "thehive:case_task_log",
            "data": {"case_task": {"case": {"customFields": {"mdr-incident-id": {"string": "-Nz1", "order": 0}}}},
                     "tags": ["a", "b"], "title": "t", "nothing": null,
                     "no": false, "zero": 0, "empty": "", "list": [], "object": {}}
        }));
        assert_eq!(job.param("data.case_task.case.customFields.mdr-incident-id.string"), Some(&json!("-Nz1")));
        assert_eq!(job.param("data.case_task.case.customFields.mdr-incident-id.order"), Some(&json!(0)));
        assert_eq!(job.param("data.nothing"), None);
        assert_eq!(job.param("data.nothing.below"), None);
        assert_eq!(job.param("data.missing.deep"), None);
        assert_eq!(job.param("data.tags.0"), None);
        assert_eq!(job.param("data.title.length"), None);
        assert_eq!(job.param("data.zero.x"), None);
        for (path, value) in [
            ("data.no", json!(false)),
            ("data.zero", json!(0)),
            ("data.empty", json!("")),
            ("data.list", json!([])),
            ("data.object", json!({})),
        ] {
            assert_eq!(job.param(path), Some(&value), "{path}");
        }
        assert_eq!(job.param("dataType"), Some(&json!("thehive:case_task_log")));
    }

    #[test]
    fn data_config_and_parameters_accessors() {
        let job = job(json!({
            "dataType": "x", "data": null,
            "config": {"service": "  close  ", "blank": "   ", "n": 5, "nul": null},
            "parameters": {"user": " analyst ", "organisation": 1}
        }));
        assert_eq!(job.data(), None);
        assert_eq!(job.config("n"), Some(&json!(5)));
        assert_eq!(job.config("nul"), None);
        assert_eq!(job.config_str("service"), Some("close"));
        assert_eq!(job.config_str("blank"), None);
        assert_eq!(job.config_str("n"), None);
        assert_eq!(job.config_str("missing"), None);
        assert_eq!(job.parameter_str("user"), Some("analyst"));
        assert_eq!(job.parameter_str("organisation"), None);
        assert_eq!(job.dir(), None);
        let secret = self::job(json!({"dataType": "x", "config": {"api_key": "hunter2"}}));
        assert!(!format!("{secret:?}").contains("hunter2"));
        let with_data = self::job(json!({"dataType": "x", "data": {"a": 1}, "config": [1]}));
        assert_eq!(with_data.data_str(), None);
        assert_eq!(with_data.data(), Some(&json!({"a": 1})));
        assert_eq!(with_data.config("a"), None);
    }

    #[test]
    fn analyzer_accessors() {
        let job = self::job(json!({"dataType": "ip", "data": " 192.0.2.1 "}));
        assert_eq!(job.data_str(), Some("192.0.2.1"));
        assert!(job.auto_extract(), "absent means extract");
        for (config, expected) in [
            (json!({"auto_extract": false}), false),
            (json!({"auto_extract": null}), true),
            (json!({"auto_extract": true}), true),
            (json!({"auto_extract": 0}), false),
            (json!({"auto_extract_artifacts": false}), false),
            (json!({"auto_extract": true, "auto_extract_artifacts": false}), true),
        ] {
            let job = self::job(json!({"dataType": "ip", "data": "", "config": config.clone()}));
            assert_eq!(job.auto_extract(), expected, "{config}");
            assert_eq!(job.data_str(), None);
        }
    }
}
