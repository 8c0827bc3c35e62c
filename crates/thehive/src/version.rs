//! Which TheHive API a server speaks: one enum for the responders and `mdr-sync`, one parse of
//! what users write (`4`, `5`, `v5`, `4.1.24`, `auto`) and one guess from what TheHive sends.

use serde_json::Value;

/// TheHive 4 (v0 routes) or TheHive 5 (v1 routes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V4,
    V5,
}

/// A version setting that is none of `4`, `5` or `auto`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a TheHive version: write 4, 5 or auto")]
pub struct UnknownVersion(pub String);

impl Version {
    /// A configured or reported version: `4`, `5`, `v5`, `4.1.2`...; `auto` (or nothing) means
    /// "find out" (`Ok(None)`).
    pub fn parse_choice(text: &str) -> Result<Option<Version>, UnknownVersion> {
        match text.trim().trim_start_matches(['v', 'V']) {
            "" | "auto" => Ok(None),
            v if v.starts_with('4') => Ok(Some(Version::V4)),
            v if v.starts_with('5') => Ok(Some(Version::V5)),
            _ => Err(UnknownVersion(text.trim().to_owned())),
        }
    }

    /// The version named in a status answer: TheHive 5's `/api/v1/status` says `version`, TheHive 4's
    /// `/api/status` (and TheHive 5's, since 5.4 at least) `versions.TheHive`. None when neither names 4 or 5.
    pub fn from_status(status: &Value) -> Option<Version> {
        let reported = status["version"].as_str().or(status["versions"]["TheHive"].as_str())?;
        Version::parse_choice(reported).ok().flatten()
    }

    /// What a case (job input or REST answer) says of its server: only TheHive 5 sends the
    /// customisable `extendedStatus` or the lifecycle `stage`. None when it does not tell: a
    /// TheHive 4 case and an older TheHive 5 one look alike.
    pub fn guess_from_case(case: &Value) -> Option<Version> {
        ["extendedStatus", "stage"].iter().any(|k| case.get(*k).is_some_and(|v| !v.is_null())).then_some(Version::V5)
    }

    /// What a task log says: TheHive 5 lists files in `attachments`, TheHive 4 has one `attachment`.
    pub fn guess_from_log(log: &Value) -> Option<Version> {
        log.get("attachments").is_some_and(Value::is_array).then_some(Version::V5)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn settings_as_users_write_them() {
        for (text, version) in [("4", Some(Version::V4)), ("v5", Some(Version::V5)), ("5.5.13-1", Some(Version::V5))] {
            assert_eq!(Version::parse_choice(text).unwrap(), version, "{text}");
        }
        assert_eq!(Version::parse_choice(" V4.1 ").unwrap(), Some(Version::V4));
        assert_eq!(Version::parse_choice("auto").unwrap(), None);
        assert_eq!(Version::parse_choice("").unwrap(), None);
        let err = Version::parse_choice("3").unwrap_err();
        assert_eq!(err.to_string(), "\"3\" is not a TheHive version: write 4, 5 or auto");
        assert!(Version::parse_choice("five").is_err());
    }

    #[test]
    fn status_answers_of_both_versions() {
        assert_eq!(Version::from_status(&json!({"versions": {"TheHive": "4.1.24-1"}})), Some(Version::V4));
        assert_eq!(Version::from_status(&json!({"version": "5.5.13-1"})), Some(Version::V5));
        assert_eq!(Version::from_status(&json!({"versions": {"TheHive": "5.4.11-1"}})), Some(Version::V5));
        assert_eq!(Version::from_status(&json!({"version": "3.5.1"})), None);
        assert_eq!(Version::from_status(&json!({})), None);
    }

    #[test]
    fn guesses_only_on_evidence_of_thehive_5() {
        assert_eq!(Version::guess_from_case(&json!({"stage": "New"})), Some(Version::V5));
        assert_eq!(Version::guess_from_case(&json!({"extendedStatus": "TruePositive"})), Some(Version::V5));
        assert_eq!(Version::guess_from_case(&json!({"status": "Open", "caseId": 3})), None);
        assert_eq!(Version::guess_from_case(&json!({"stage": null})), None);
        assert_eq!(Version::guess_from_log(&json!({"attachments": []})), Some(Version::V5));
        assert_eq!(Version::guess_from_log(&json!({"attachment": {"id": "h"}})), None);
    }
}
