//! `mdr-sync`'s configuration: the MDR Integration Utility's `config.yml` as it is, plus a few
//! keys of our own (all optional, documented in the README), read by the one reader
//! (`mdr_contract::utility_config::SyncFile`, which also refuses unknown keys and wrong types) and
//! resolved here into checked values with their defaults.
//!
//! Utility keys read: `api_url`, `client_id`, `token_dir`, `ssl_cert`, `thehive.api_url`,
//! `thehive.api_key`, `thehive.ssl_cert`, and under `mdr_sync` (or the later
//! `mdr_sync.modules.incident`): `filter.incidents` (or `filter`), `max_incidents_at_time`,
//! `download_attachments_size_limit` (bytes), `exclude_author` (a regular expression matched at
//! the start of the author name, as Python's `re.match` does).
//!
//! Our keys: `thehive.incident_custom_field` and `thehive.response_task_group` (the responders'
//! items of the same names must match), `thehive.version` (4, 5 or auto), `thehive.organisation`, `thehive.case_tlp`,
//! `thehive.case_pap`, `thehive.resolve_cases` (default true), `thehive.resolved_status`
//! (TheHive 5 status per resolution), `thehive.incident_custom_field` and
//! `thehive.response_task_group` (the responders' items of the same names), `mdr_sync.console_url`,
//! `mdr_sync.state_file`, `mdr_sync.start_time` (ms).

use std::path::{Path, PathBuf};
use std::time::Duration;

use cortex_http::{Deadline, HttpSettings};
use cortex_http::{HttpUrl, display_safe};
use mdr_api::MdrSettings;
use mdr_api::settings::{DEFAULT_API_URL, DEFAULT_TIMEOUT_SECS};
use mdr_contract::contract::{DEFAULT_INCIDENT_FIELD, DEFAULT_RESPONSE_GROUP};
use mdr_contract::utility_config::{
    CaFile, CaSetting, SyncFile, Text, UtilityConfig, UtilityConfigError, Whole, given,
};
use regex_lite::Regex;
use safekeeping::Secret;
use serde_json::{Map, Value};

pub const DEFAULT_MAX_INCIDENTS: usize = 100;
/// The utility's sample config says 10 MB.
pub const DEFAULT_ATTACHMENT_LIMIT: u64 = 10_000_000;
pub const DEFAULT_CONSOLE_URL: &str = "https://mdr.kaspersky.com";
pub const STATE_FILE_NAME: &str = ".mdr-sync-state.json";
/// The responders' defaults for `incident_custom_field` and `response_task_group`.

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    File(#[from] UtilityConfigError),
    #[error("{path}: `{key}` is missing: {hint}")]
    Missing { path: String, key: &'static str, hint: &'static str },
    #[error("{path}: `{key}` must be {expected}, got {value}")]
    Invalid { path: String, key: &'static str, expected: &'static str, value: String },
}

/// TheHive 5 case statuses a resolved MDR incident maps to (organisations may rename them).
#[derive(Debug, Clone)]
pub struct ResolvedStatuses {
    pub true_positive: String,
    pub false_positive: String,
    pub other: String,
}

#[derive(Debug, Clone)]
pub struct TheHiveConfig {
    /// Base URL without a trailing slash.
    pub url: String,
    pub api_key: Secret,
    pub ssl_cert: Option<PathBuf>,
    /// None: ask TheHive.
    pub version: Option<thehive::Version>,
    pub organisation: Option<String>,
    pub case_tlp: i64,
    pub case_pap: i64,
    pub resolve_cases: bool,
    pub resolved: ResolvedStatuses,
    pub timeout: Duration,
    /// `thehive.incident_custom_field`: the case custom field holding the MDR incident id; the
    /// responders' `incident_custom_field` must name the same.
    pub incident_field: String,
    /// `thehive.response_task_group`: the group of Response tasks; the decision responders'
    /// `response_task_group` must name the same.
    pub response_group: String,
}

#[derive(Debug, Clone)]
pub struct SyncConfig {
    pub mdr: MdrSettings,
    pub thehive: TheHiveConfig,
    /// Extra `incidents/list` filters (`statuses`, `priorities`, ...).
    pub filter: Map<String, Value>,
    pub max_incidents: usize,
    pub attachment_limit: u64,
    pub exclude_author: Option<Regex>,
    pub console_url: String,
    pub state_file: PathBuf,
    pub start_time: i64,
    /// Where `config.yml` said `ssl_cert: false` (the utility then skips TLS verification; we do not).
    pub ignored_verify_off: Vec<&'static str>,
}

impl SyncConfig {
    pub fn load(path: &Path) -> Result<SyncConfig, ConfigError> {
        let file = SyncFile::load(path)?;
        Resolver { utility: &file.utility, shown: file.utility.file.clone() }.config(&file)
    }
}

/// Turns the typed file into checked settings; errors name the file and the key.
struct Resolver<'a> {
    utility: &'a UtilityConfig,
    shown: String,
}

impl Resolver<'_> {
    fn config(&self, file: &SyncFile) -> Result<SyncConfig, ConfigError> {
        let (utility, hive, sync) = (self.utility, &file.thehive, &file.mdr_sync);
        // Later utility versions moved the incident settings to `mdr_sync.modules.incident`.
        let incident = sync.modules.as_ref().and_then(|m| m.incident.clone()).unwrap_or_default();
        let mut ignored_verify_off = Vec::new();

        if utility.ssl_cert == CaFile::VerifyOffIgnored {
            ignored_verify_off.push("ssl_cert");
        }
        let mdr = MdrSettings {
            api_url: self.url("api_url", utility.api_url.as_deref().unwrap_or(DEFAULT_API_URL))?,
            client_id: utility
                .client_id
                .clone()
                .ok_or_else(|| self.missing("client_id", "copy it from the MDR console (Settings > API)"))?,
            token_dir: utility.token_dir.clone(),
            ssl_cert: utility.ssl_cert.path().map(Path::to_owned),
            timeout: Duration::from_secs(DEFAULT_TIMEOUT_SECS),
            // A daemon: every request gets the same retry budget, however long the process runs.
            deadline: Deadline::per_request(),
            // The token folder is the utility's: refresh late, as beside its token updater.
            utility_config: Some(utility.path.clone()),
            http: HttpSettings::default(),
        };

        let hive_url = self.optional_url("thehive.api_url", &hive.api_url)?.ok_or_else(|| {
            self.missing("thehive.api_url", "the TheHive base URL, such as https://thehive.example:9000")
        })?;
        let api_key = given(&hive.api_key)
            .ok_or_else(|| self.missing("thehive.api_key", "an API key of a TheHive user allowed to manage cases"))?;
        let version = match given(&hive.version).map(thehive::Version::parse_choice) {
            None => None,
            Some(Ok(choice)) => choice,
            Some(Err(_)) => {
                return Err(self.invalid("thehive.version", "4, 5 or auto", given(&hive.version).unwrap_or_default()));
            }
        };
        let resolved = hive.resolved_status.clone().unwrap_or_default();
        let status = |value: &Option<Text>, default: &str| given(value).unwrap_or(default).to_owned();
        let thehive = TheHiveConfig {
            url: hive_url,
            api_key: Secret::new(api_key),
            ssl_cert: match &hive.ssl_cert {
                Some(CaSetting::VerifyOff) => {
                    ignored_verify_off.push("thehive.ssl_cert");
                    None
                }
                Some(CaSetting::File(path)) => Some(utility.resolve(path)),
                Some(CaSetting::SystemStore) | None => None,
            },
            version,
            organisation: given(&hive.organisation).map(str::to_owned),
            case_tlp: self.level("thehive.case_tlp", hive.case_tlp)?,
            case_pap: self.level("thehive.case_pap", hive.case_pap)?,
            resolve_cases: hive.resolve_cases.is_none_or(|s| s.0),
            resolved: ResolvedStatuses {
                true_positive: status(&resolved.true_positive, "TruePositive"),
                false_positive: status(&resolved.false_positive, "FalsePositive"),
                other: status(&resolved.other, "Other"),
            },
            timeout: Duration::from_secs(DEFAULT_TIMEOUT_SECS),
            incident_field: status(&hive.incident_custom_field, DEFAULT_INCIDENT_FIELD),
            response_group: status(&hive.response_task_group, DEFAULT_RESPONSE_GROUP),
        };

        let filter = incident.filter.as_ref().or(sync.filter.as_ref()).map(|f| f.to_request()).unwrap_or_default();
        let max_incidents = match incident.max_incidents_at_time.or(sync.max_incidents_at_time) {
            None => DEFAULT_MAX_INCIDENTS,
            Some(Whole(n)) => usize::try_from(n).ok().filter(|n| *n >= 1).ok_or_else(|| {
                self.invalid("mdr_sync.max_incidents_at_time", "a whole number, 1 or more", &n.to_string())
            })?,
        };
        let attachment_limit = incident
            .download_attachments_size_limit
            .or(sync.download_attachments_size_limit)
            .map_or(DEFAULT_ATTACHMENT_LIMIT, |w| w.0);
        let exclude_author = match given(&incident.exclude_author).or(given(&sync.exclude_author)) {
            None => None,
            // Anchored at the start, as Python's re.match is.
            Some(pattern) => Some(Regex::new(&format!("^(?:{pattern})")).map_err(|e| {
                self.invalid("mdr_sync.exclude_author", "a regular expression", &format!("{pattern:?} ({e})"))
            })?),
        };
        let start_time = match sync.start_time {
            None => 0,
            Some(Whole(t)) => i64::try_from(t)
                .map_err(|_| self.invalid("mdr_sync.start_time", "milliseconds since 1970", &t.to_string()))?,
        };
        Ok(SyncConfig {
            mdr,
            thehive,
            filter,
            max_incidents,
            attachment_limit,
            exclude_author,
            console_url: self
                .optional_url("mdr_sync.console_url", &sync.console_url)?
                .unwrap_or_else(|| DEFAULT_CONSOLE_URL.to_owned()),
            state_file: given(&sync.state_file)
                .map_or_else(|| utility.token_dir.join(STATE_FILE_NAME), |p| utility.resolve(p)),
            start_time,
            ignored_verify_off,
        })
    }

    fn url(&self, key: &'static str, value: &str) -> Result<HttpUrl, ConfigError> {
        match HttpUrl::parse(value) {
            Ok(url) if !url.has_credentials() => Ok(url),
            _ => Err(self.invalid(key, "an http(s) URL without credentials", &format!("{:?}", display_safe(value)))),
        }
    }

    fn optional_url(&self, key: &'static str, value: &Option<Text>) -> Result<Option<String>, ConfigError> {
        given(value).map(|v| self.url(key, v).map(|url| url.as_str().to_owned())).transpose()
    }

    fn level(&self, key: &'static str, value: Option<Whole>) -> Result<i64, ConfigError> {
        match value {
            None => Ok(2),
            Some(Whole(n)) if n <= 3 => Ok(n as i64),
            Some(Whole(n)) => Err(self.invalid(key, "0, 1, 2 or 3", &n.to_string())),
        }
    }

    fn missing(&self, key: &'static str, hint: &'static str) -> ConfigError {
        ConfigError::Missing { path: self.shown.clone(), key, hint }
    }

    fn invalid(&self, key: &'static str, expected: &'static str, value: &str) -> ConfigError {
        ConfigError::Invalid { path: self.shown.clone(), key, expected, value: value.to_owned() }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn load(yaml: &str) -> (tempfile::TempDir, Result<SyncConfig, ConfigError>) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("conf")).unwrap();
        let path = dir.path().join("conf/config.yml");
        std::fs::write(&path, yaml).unwrap();
        let config = SyncConfig::load(&path);
        (dir, config)
    }

    const UTILITY: &str = "api_url: https://mdr.kaspersky.com/api/v1\nclient_id: 1f1f\nssl_cert: conf/mdr.pem\n\
        token_dir: conf\nthehive:\n  api_url: https://hive:9000/\n  api_key: SENTINEL-key\n  ssl_cert: false\n\
        mdr_sync:\n  period: 60\n  max_incidents_at_time: 7\n  download_attachments_size_limit: 1000\n\
        \x20 exclude_author: TheHive\n  filter:\n    incidents:\n      statuses: [Open]\n      page_size: 3\n";

    #[test]
    fn reads_the_utility_config_as_it_is() {
        let (dir, config) = load(UTILITY);
        let c = config.unwrap();
        assert_eq!(c.mdr.client_id, "1f1f");
        assert_eq!(c.mdr.ssl_cert, Some(dir.path().join("conf/mdr.pem")));
        assert_eq!(c.mdr.token_dir, dir.path().join("conf"));
        assert_eq!(c.thehive.url, "https://hive:9000");
        assert_eq!(c.thehive.ssl_cert, None);
        assert_eq!(c.ignored_verify_off, vec!["thehive.ssl_cert"]);
        assert_eq!((c.max_incidents, c.attachment_limit), (7, 1000));
        assert_eq!(Value::Object(c.filter), serde_json::json!({"statuses": ["Open"]}));
        let exclude = c.exclude_author.unwrap();
        assert!(exclude.is_match("TheHive (API)") && !exclude.is_match("SOC TheHive"));
        assert_eq!(c.state_file, dir.path().join("conf").join(STATE_FILE_NAME));
        assert!(c.thehive.resolve_cases);
        assert_eq!(
            (c.thehive.incident_field.as_str(), c.thehive.response_group.as_str()),
            ("mdr-incident-id", "Response")
        );
        assert!(!format!("{:?}", c.thehive).contains("SENTINEL-key"));
    }

    #[test]
    fn the_responders_names_can_be_changed_on_this_side_too() {
        let yaml = "client_id: 42\nssl_cert: false\nthehive:\n  api_url: http://h\n  api_key: k\n  \
            incident_custom_field: ' soc-mdr-id '\n  response_task_group: MDR responses\n  resolve_cases: 'false'\n  \
            case_tlp: '3'\nmdr_sync: {state_file: state/sync.json, start_time: 1700000000000}\n";
        let (dir, config) = load(yaml);
        let c = config.unwrap();
        assert_eq!(
            (c.thehive.incident_field.as_str(), c.thehive.response_group.as_str()),
            ("soc-mdr-id", "MDR responses")
        );
        assert_eq!((c.mdr.client_id.as_str(), c.thehive.case_tlp, c.thehive.resolve_cases), ("42", 3, false));
        assert_eq!(c.ignored_verify_off, vec!["ssl_cert"]);
        assert_eq!((c.state_file, c.start_time), (dir.path().join("state/sync.json"), 1_700_000_000_000));
        let err = load("client_id: c\nthehive: {api_url: 'http://h', api_key: k, version: 6}\n").1.unwrap_err();
        assert!(err.to_string().ends_with("`thehive.version` must be 4, 5 or auto, got 6"), "{err}");
        let err = load("client_id: c\nthehive: {api_url: 'http://h', api_key: k, case_pap: 4}\n").1.unwrap_err();
        assert!(err.to_string().ends_with("`thehive.case_pap` must be 0, 1, 2 or 3, got 4"), "{err}");
        let err =
            load("client_id: c\nthehive: {api_url: 'http://h', api_key: k}\nmdr_sync: {max_incidents_at_time: 0}\n");
        assert!(
            err.1
                .unwrap_err()
                .to_string()
                .contains("`mdr_sync.max_incidents_at_time` must be a whole number, 1 or more")
        );
    }

    #[test]
    fn later_layout_and_problems_are_named() {
        let later = "client_id: c\nthehive: {api_url: 'http://h', api_key: k, version: 5}\n\
            mdr_sync:\n  modules:\n    incident:\n      max_incidents_at_time: 3\n      filter: {priorities: [HIGH]}\n";
        let c = load(later).1.unwrap();
        assert_eq!(c.max_incidents, 3);
        assert_eq!(c.thehive.version, Some(thehive::Version::V5));
        assert_eq!(Value::Object(c.filter), serde_json::json!({"priorities": ["HIGH"]}));
        let err = load("client_id: c\n").1.unwrap_err().to_string();
        assert!(err.contains("`thehive.api_url` is missing"), "{err}");
        let err =
            load("client_id: c\nthehive: {api_url: 'https://u:SENTINEL@h', api_key: k}\n").1.unwrap_err().to_string();
        assert!(err.contains("without credentials") && !err.contains("SENTINEL"), "{err}");
        let err =
            load("client_id: c\nthehive: {api_url: 'http://h', api_key: k}\nmdr_sync: {exclude_author: '(unclosed'}\n")
                .1
                .unwrap_err()
                .to_string();
        assert!(err.contains("`mdr_sync.exclude_author` must be a regular expression"), "{err}");
    }
}
