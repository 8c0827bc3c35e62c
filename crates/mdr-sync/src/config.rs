//! `mdr-sync`'s configuration: the MDR Integration Utility's `config.yml` as it is, plus a few
//! keys of our own (all optional, documented in the README).
//!
//! Utility keys read: `api_url`, `client_id`, `token_dir`, `ssl_cert`, `thehive.api_url`,
//! `thehive.api_key`, `thehive.ssl_cert`, and under `mdr_sync` (or the later
//! `mdr_sync.modules.incident`): `filter.incidents` (or `filter`), `max_incidents_at_time`,
//! `download_attachments_size_limit` (bytes), `exclude_author` (a regular expression matched at
//! the start of the author name, as Python's `re.match` does). Relative paths are relative to the
//! utility's folder, the parent of the folder holding `config.yml`, as the utility resolves them.
//!
//! Our keys: `thehive.version` (4, 5 or auto), `thehive.organisation`, `thehive.case_tlp`,
//! `thehive.case_pap`, `thehive.resolve_cases` (default true), `thehive.resolved_status`
//! (TheHive 5 status per resolution), `mdr_sync.console_url`, `mdr_sync.state_file`,
//! `mdr_sync.start_time` (ms).

use std::path::{Path, PathBuf};
use std::time::Duration;

use cortex_http::{Deadline, HttpSettings};
use cortex_http::{HttpUrl, display_safe};
use mdr_api::MdrSettings;
use mdr_api::settings::{DEFAULT_API_URL, DEFAULT_TIMEOUT_SECS};
use regex_lite::Regex;
use safekeeping::Secret;
use serde_json::{Map, Value};
use serde_yaml::Value as Yaml;

pub const DEFAULT_MAX_INCIDENTS: usize = 100;
/// The utility's sample config says 10 MB.
pub const DEFAULT_ATTACHMENT_LIMIT: u64 = 10_000_000;
pub const DEFAULT_CONSOLE_URL: &str = "https://mdr.kaspersky.com";
pub const STATE_FILE_NAME: &str = ".mdr-sync-state.json";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("Cannot read {path}: {reason}")]
    Unreadable { path: String, reason: String },
    #[error("{path} is not valid YAML: {reason}")]
    InvalidYaml { path: String, reason: String },
    #[error("{path}: `{key}` is missing: {hint}")]
    Missing { path: String, key: &'static str, hint: &'static str },
    #[error("{path}: `{key}` must be {expected}, got {value}")]
    Invalid { path: String, key: &'static str, expected: &'static str, value: String },
}

/// Which TheHive API to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionChoice {
    V4,
    V5,
    /// Ask TheHive (`/api/status`, then `/api/v1/status`).
    Auto,
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
    pub version: VersionChoice,
    pub organisation: Option<String>,
    pub case_tlp: i64,
    pub case_pap: i64,
    pub resolve_cases: bool,
    pub resolved: ResolvedStatuses,
    pub timeout: Duration,
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
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::Unreadable { path: shown.clone(), reason: e.to_string() })?;
        let root: Yaml = serde_yaml::from_str(&text)
            .map_err(|e| ConfigError::InvalidYaml { path: shown.clone(), reason: e.to_string() })?;
        Yml { path: path.to_owned(), shown, root }.config()
    }
}

struct Yml {
    path: PathBuf,
    shown: String,
    root: Yaml,
}

impl Yml {
    fn config(&self) -> Result<SyncConfig, ConfigError> {
        let root = &self.root;
        let hive = root.get("thehive").unwrap_or(&Yaml::Null);
        let sync = root.get("mdr_sync").unwrap_or(&Yaml::Null);
        // Later utility versions moved the incident settings to `mdr_sync.modules.incident`.
        let incident = sync.get("modules").and_then(|m| m.get("incident")).unwrap_or(&Yaml::Null);
        let sync_key = |key: &str| incident.get(key).or_else(|| sync.get(key)).filter(|v| !v.is_null());
        let mut ignored_verify_off = Vec::new();

        let token_dir = self.path_of(root.get("token_dir")).unwrap_or_else(|| self.resolve("conf"));
        let api_url = self.url("api_url", text(root.get("api_url")).as_deref().unwrap_or(DEFAULT_API_URL))?;
        let client_id = text(root.get("client_id"))
            .ok_or_else(|| self.missing("client_id", "copy it from the MDR console (Settings > API)"))?;
        let ssl_cert = self.cert(root.get("ssl_cert"), "ssl_cert", &mut ignored_verify_off);
        let mdr = MdrSettings {
            api_url,
            client_id,
            token_dir: token_dir.clone(),
            ssl_cert,
            timeout: Duration::from_secs(DEFAULT_TIMEOUT_SECS),
            // A daemon: every request gets the same retry budget, however long the process runs.
            deadline: Deadline::per_request(),
            // The token folder is the utility's: refresh late, as beside its token updater.
            utility_config: Some(self.path.clone()),
            http: HttpSettings::default(),
        };

        let hive_url = self.optional_url("thehive.api_url", hive.get("api_url"))?.ok_or_else(|| {
            self.missing("thehive.api_url", "the TheHive base URL, such as https://thehive.example:9000")
        })?;
        let api_key = text(hive.get("api_key"))
            .ok_or_else(|| self.missing("thehive.api_key", "an API key of a TheHive user allowed to manage cases"))?;
        let version = match text(hive.get("version")).as_deref().map(|v| v.trim_start_matches(['v', 'V'])) {
            None | Some("auto") => VersionChoice::Auto,
            Some(v) if v.starts_with('4') => VersionChoice::V4,
            Some(v) if v.starts_with('5') => VersionChoice::V5,
            Some(v) => return Err(self.invalid("thehive.version", "4, 5 or auto", v)),
        };
        let resolved = hive.get("resolved_status").unwrap_or(&Yaml::Null);
        let status = |key: &str, default: &str| text(resolved.get(key)).unwrap_or_else(|| default.to_owned());
        let thehive = TheHiveConfig {
            url: hive_url,
            api_key: Secret::new(api_key),
            ssl_cert: self.cert(hive.get("ssl_cert"), "thehive.ssl_cert", &mut ignored_verify_off),
            version,
            organisation: text(hive.get("organisation")),
            case_tlp: self.level("thehive.case_tlp", hive.get("case_tlp"))?,
            case_pap: self.level("thehive.case_pap", hive.get("case_pap"))?,
            resolve_cases: self.flag("thehive.resolve_cases", hive.get("resolve_cases"), true)?,
            resolved: ResolvedStatuses {
                true_positive: status("true_positive", "TruePositive"),
                false_positive: status("false_positive", "FalsePositive"),
                other: status("other", "Other"),
            },
            timeout: Duration::from_secs(DEFAULT_TIMEOUT_SECS),
        };

        let filter = self.filter(sync_key("filter"))?;
        let max_incidents =
            match sync_key("max_incidents_at_time") {
                None => DEFAULT_MAX_INCIDENTS,
                Some(v) => v.as_u64().filter(|n| *n >= 1).and_then(|n| usize::try_from(n).ok()).ok_or_else(|| {
                    self.invalid("mdr_sync.max_incidents_at_time", "a whole number, 1 or more", &show(v))
                })?,
            };
        let attachment_limit = match sync_key("download_attachments_size_limit") {
            None => DEFAULT_ATTACHMENT_LIMIT,
            Some(v) => v.as_u64().ok_or_else(|| {
                self.invalid("mdr_sync.download_attachments_size_limit", "a whole number of bytes", &show(v))
            })?,
        };
        let exclude_author = match text(sync_key("exclude_author")) {
            None => None,
            // Anchored at the start, as Python's re.match is.
            Some(pattern) => Some(Regex::new(&format!("^(?:{pattern})")).map_err(|e| {
                self.invalid("mdr_sync.exclude_author", "a regular expression", &format!("{pattern:?} ({e})"))
            })?),
        };
        let start_time = match sync.get("start_time").filter(|v| !v.is_null()) {
            None => 0,
            Some(v) => v
                .as_i64()
                .filter(|t| *t >= 0)
                .ok_or_else(|| self.invalid("mdr_sync.start_time", "milliseconds since 1970", &show(v)))?,
        };
        Ok(SyncConfig {
            mdr,
            thehive,
            filter,
            max_incidents,
            attachment_limit,
            exclude_author,
            console_url: self
                .optional_url("mdr_sync.console_url", sync.get("console_url"))?
                .unwrap_or_else(|| DEFAULT_CONSOLE_URL.to_owned()),
            state_file: self.path_of(sync.get("state_file")).unwrap_or_else(|| token_dir.join(STATE_FILE_NAME)),
            start_time,
            ignored_verify_off,
        })
    }

    /// `filter.incidents` (old layout) or `filter` itself (later layout): a map of list filters.
    fn filter(&self, value: Option<&Yaml>) -> Result<Map<String, Value>, ConfigError> {
        let Some(value) = value else { return Ok(Map::new()) };
        let value = value.get("incidents").unwrap_or(value);
        if value.is_null() {
            return Ok(Map::new());
        }
        let json: Value = serde_json::to_value(value).map_err(|e| {
            self.invalid("mdr_sync.filter.incidents", "a map of incidents/list filters", &e.to_string())
        })?;
        match json {
            Value::Object(mut map) => {
                // The sync pages and orders by update time itself.
                for key in ["min_update_time", "page", "page_size", "sort"] {
                    map.remove(key);
                }
                Ok(map)
            }
            other => {
                Err(self.invalid("mdr_sync.filter.incidents", "a map of incidents/list filters", &other.to_string()))
            }
        }
    }

    fn url(&self, key: &'static str, value: &str) -> Result<HttpUrl, ConfigError> {
        match HttpUrl::parse(value) {
            Ok(url) if !url.has_credentials() => Ok(url),
            _ => Err(self.invalid(key, "an http(s) URL without credentials", &format!("{:?}", display_safe(value)))),
        }
    }

    fn optional_url(&self, key: &'static str, value: Option<&Yaml>) -> Result<Option<String>, ConfigError> {
        text(value).map(|v| self.url(key, &v).map(|url| url.as_str().to_owned())).transpose()
    }

    /// A PEM bundle path; `false` (the utility's "do not verify") is refused quietly: we verify
    /// against the system trust store instead and say so in `--check`.
    fn cert(&self, value: Option<&Yaml>, key: &'static str, ignored: &mut Vec<&'static str>) -> Option<PathBuf> {
        if let Some(Yaml::Bool(false)) = value {
            ignored.push(key);
            return None;
        }
        self.path_of(value)
    }

    fn level(&self, key: &'static str, value: Option<&Yaml>) -> Result<i64, ConfigError> {
        match value.filter(|v| !v.is_null()) {
            None => Ok(2),
            Some(v) => {
                v.as_i64().filter(|n| (0..=3).contains(n)).ok_or_else(|| self.invalid(key, "0, 1, 2 or 3", &show(v)))
            }
        }
    }

    fn flag(&self, key: &'static str, value: Option<&Yaml>, default: bool) -> Result<bool, ConfigError> {
        match value.filter(|v| !v.is_null()) {
            None => Ok(default),
            Some(v) => v.as_bool().ok_or_else(|| self.invalid(key, "true or false", &show(v))),
        }
    }

    fn path_of(&self, value: Option<&Yaml>) -> Option<PathBuf> {
        text(value).map(|v| self.resolve(&v))
    }

    /// `<utility>/conf/config.yml`: relative paths start at `<utility>`.
    fn resolve(&self, value: &str) -> PathBuf {
        let path = Path::new(value);
        if path.is_absolute() {
            return path.to_owned();
        }
        let conf_dir = self.path.parent().unwrap_or(Path::new("."));
        conf_dir.parent().unwrap_or(Path::new(".")).join(path)
    }

    fn missing(&self, key: &'static str, hint: &'static str) -> ConfigError {
        ConfigError::Missing { path: self.shown.clone(), key, hint }
    }

    fn invalid(&self, key: &'static str, expected: &'static str, value: &str) -> ConfigError {
        ConfigError::Invalid { path: self.shown.clone(), key, expected, value: value.to_owned() }
    }
}

/// A scalar as trimmed text; blank counts as absent (YAML may type a client id of digits as a number).
fn text(value: Option<&Yaml>) -> Option<String> {
    let text = match value? {
        Yaml::String(s) => s.trim().to_owned(),
        Yaml::Number(n) => n.to_string(),
        _ => return None,
    };
    (!text.is_empty()).then_some(text)
}

fn show(value: &Yaml) -> String {
    serde_yaml::to_string(value).map(|s| s.trim().to_owned()).unwrap_or_default()
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
        assert!(!format!("{:?}", c.thehive).contains("SENTINEL-key"));
    }

    #[test]
    fn later_layout_and_problems_are_named() {
        let later = "client_id: c\nthehive: {api_url: 'http://h', api_key: k, version: 5}\n\
            mdr_sync:\n  modules:\n    incident:\n      max_incidents_at_time: 3\n      filter: {priorities: [HIGH]}\n";
        let c = load(later).1.unwrap();
        assert_eq!(c.max_incidents, 3);
        assert_eq!(c.thehive.version, VersionChoice::V5);
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
