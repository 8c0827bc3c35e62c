//! Where the responders find the MDR API, the client id and the token folder.
//!
//! Each setting comes from, in order: the Cortex configuration item of the same name (non-null,
//! non-blank), the MDR Integration Utility's `config.yml` named by `config_path`, a built-in
//! default. Relative paths in `config.yml` are relative to the utility's folder (the parent of
//! the folder holding `config.yml`), as the utility itself resolves them.
//!
//! The utility's `config.yml` and token folder: docs/mdr-api.md#utility-configuration.

use std::path::{Path, PathBuf};
use std::time::Duration;

use cortex_http::{HttpUrl, display_safe};
use cortex_worker::{HttpSettings, ItemError, Items, Job};
use serde_yaml::Value as Yaml;

pub const DEFAULT_API_URL: &str = "https://mdr.kaspersky.com/api/v1";
pub const DEFAULT_INCIDENT_FIELD: &str = "mdr-incident-id";
/// Seconds one HTTP request may take (`timeout` item); retries stop after twice that.
pub const DEFAULT_TIMEOUT_SECS: u64 = 30;
const MAX_TIMEOUT_SECS: u64 = 600;

/// A setting that cannot be resolved; the text names the item and where it was looked for.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "Missing configuration item `{item}`: set it in the KasperskyMDR responder configuration in Cortex, \
         or set `config_path` to the MDR Integration Utility's config.yml (looked in: {looked_in})"
    )]
    Missing { item: &'static str, looked_in: String },
    #[error("Cannot read config_path {path}: {reason}")]
    Unreadable { path: String, reason: String },
    #[error("config_path {path} is not valid YAML: {reason}")]
    InvalidYaml { path: String, reason: String },
    #[error("Configuration item `{item}` ({origin}) must be an http(s) URL such as {DEFAULT_API_URL}, got {value:?}")]
    InvalidUrl { item: &'static str, origin: String, value: String },
    #[error(transparent)]
    Item(#[from] ItemError),
}

/// The resolved MDR connection settings of one job.
#[derive(Debug, Clone)]
pub struct MdrSettings {
    /// Base URL without a trailing slash, e.g. `https://mdr.kaspersky.com/api/v1`.
    pub api_url: HttpUrl,
    pub client_id: String,
    pub token_dir: PathBuf,
    /// Extra CA bundle (PEM) trusted for the MDR API.
    pub ssl_cert: Option<PathBuf>,
    /// The case custom field that holds the MDR incident id.
    pub incident_field: String,
    /// Longest wait for one HTTP request (`timeout` item, default 30 s).
    pub timeout: Duration,
    /// The utility's `config.yml` when `config_path` is set: the token folder is then shared with
    /// its token updater (see [`crate::token::TokenStore::for_settings`]).
    pub utility_config: Option<PathBuf>,
    pub http: HttpSettings,
}

impl MdrSettings {
    pub fn from_job(job: &Job) -> Result<MdrSettings, ConfigError> {
        MdrSettings::from_items(job.items(), job.http_settings())
    }

    /// From configuration items by name: a job's, or a command line's gathered into a map.
    pub fn from_items(items: Items<'_>, http: HttpSettings) -> Result<MdrSettings, ConfigError> {
        let sources = Sources::new(items)?;
        let (api_url, origin) =
            sources.text("api_url")?.unwrap_or_else(|| (DEFAULT_API_URL.to_owned(), "built-in default".to_owned()));
        Ok(MdrSettings {
            api_url: checked_url("api_url", &origin, &api_url)?,
            client_id: sources.required("client_id")?,
            token_dir: sources.token_dir()?,
            ssl_cert: sources.path("ssl_cert")?,
            incident_field: items.text("incident_custom_field")?.unwrap_or(DEFAULT_INCIDENT_FIELD).to_owned(),
            timeout: Duration::from_secs(items.whole_number("timeout", DEFAULT_TIMEOUT_SECS, 1..=MAX_TIMEOUT_SECS)?),
            utility_config: sources.yaml.as_ref().map(|y| y.path.clone()),
            http,
        })
    }
}

/// Only the token folder (`token_dir`, else the utility's), for callers that need no API settings.
pub fn token_dir(items: Items<'_>) -> Result<PathBuf, ConfigError> {
    Sources::new(items)?.token_dir()
}

/// The configuration items, then config.yml.
struct Sources<'a> {
    items: Items<'a>,
    yaml: Option<UtilityConfig>,
}

impl<'a> Sources<'a> {
    fn new(items: Items<'a>) -> Result<Sources<'a>, ConfigError> {
        let yaml = match items.text("config_path")? {
            Some(path) => Some(UtilityConfig::load(Path::new(path))?),
            None => None,
        };
        Ok(Sources { items, yaml })
    }

    /// The value and a description of where it came from.
    fn text(&self, item: &str) -> Result<Option<(String, String)>, ConfigError> {
        if let Some(v) = self.items.text(item)? {
            return Ok(Some((v.to_owned(), "Cortex configuration".to_owned())));
        }
        let Some(yaml) = &self.yaml else { return Ok(None) };
        Ok(yaml.text(item).map(|v| (v, yaml.path.display().to_string())))
    }

    fn path(&self, item: &str) -> Result<Option<PathBuf>, ConfigError> {
        if let Some(v) = self.items.text(item)? {
            return Ok(Some(PathBuf::from(v)));
        }
        Ok(self.yaml.as_ref().and_then(|yaml| yaml.path_text(item).map(|v| yaml.resolve(&v))))
    }

    fn token_dir(&self) -> Result<PathBuf, ConfigError> {
        self.path("token_dir")?
            .or_else(|| self.yaml.as_ref().map(UtilityConfig::default_token_dir))
            .ok_or_else(|| self.missing("token_dir"))
    }

    fn required(&self, item: &'static str) -> Result<String, ConfigError> {
        self.text(item)?.map(|(v, _)| v).ok_or_else(|| self.missing(item))
    }

    fn missing(&self, item: &'static str) -> ConfigError {
        let mut looked_in = "Cortex configuration".to_owned();
        if let Some(yaml) = &self.yaml {
            looked_in.push_str(&format!(", {}", yaml.path.display()));
        }
        ConfigError::Missing { item, looked_in }
    }
}

fn checked_url(item: &'static str, origin: &str, value: &str) -> Result<HttpUrl, ConfigError> {
    HttpUrl::parse(value).map_err(|_| ConfigError::InvalidUrl {
        item,
        origin: origin.to_owned(),
        value: display_safe(value),
    })
}

/// The parts of the MDR Integration Utility's `config.yml` the responders share.
#[derive(Debug)]
struct UtilityConfig {
    path: PathBuf,
    root: Yaml,
}

impl UtilityConfig {
    fn load(path: &Path) -> Result<UtilityConfig, ConfigError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::Unreadable { path: shown.clone(), reason: e.to_string() })?;
        let root: Yaml =
            serde_yaml::from_str(&text).map_err(|e| ConfigError::InvalidYaml { path: shown, reason: e.to_string() })?;
        Ok(UtilityConfig { path: path.to_owned(), root })
    }

    /// A top-level scalar as text (YAML may type a client id of digits as a number).
    fn text(&self, key: &str) -> Option<String> {
        let value = match self.root.get(key)? {
            Yaml::String(s) => s.trim().to_owned(),
            Yaml::Number(n) => n.to_string(),
            Yaml::Bool(b) => b.to_string(),
            _ => return None,
        };
        (!value.is_empty()).then_some(value)
    }

    /// A top-level path. A YAML boolean is never a path: the utility's `ssl_cert: false` means
    /// "no extra CA" (it passes `verify=False` to requests; we keep verification on).
    fn path_text(&self, key: &str) -> Option<String> {
        match self.root.get(key)? {
            Yaml::Bool(_) => None,
            _ => self.text(key),
        }
    }

    /// The utility's folder: `<utility>/conf/config.yml` → `<utility>`.
    fn utility_dir(&self) -> PathBuf {
        let conf_dir = self.path.parent().unwrap_or(Path::new("."));
        conf_dir.parent().unwrap_or(Path::new(".")).to_owned()
    }

    fn resolve(&self, value: &str) -> PathBuf {
        let path = Path::new(value);
        if path.is_absolute() { path.to_owned() } else { self.utility_dir().join(path) }
    }

    /// The utility keeps its tokens in `conf` unless told otherwise.
    fn default_token_dir(&self) -> PathBuf {
        self.resolve("conf")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn job(config: Value) -> Job {
        Job::from_input(json!({"data": {}, "dataType": "thehive:case", "config": config}), None).unwrap()
    }

    #[test]
    fn cortex_items_win_and_api_url_has_a_default() {
        let s = MdrSettings::from_job(&job(json!({"client_id": "abc", "token_dir": "/t", "api_url": null}))).unwrap();
        assert_eq!(s.api_url.as_str(), DEFAULT_API_URL);
        assert_eq!(s.client_id, "abc");
        assert_eq!(s.token_dir, PathBuf::from("/t"));
        assert_eq!(s.ssl_cert, None);
        assert_eq!(s.incident_field, "mdr-incident-id");
        assert_eq!(s.timeout, Duration::from_secs(30));
    }

    #[test]
    fn timeout_is_a_whole_number_item() {
        let with = |t: Value| MdrSettings::from_job(&job(json!({"client_id": "c", "token_dir": "/t", "timeout": t})));
        assert_eq!(with(json!(" 7 ")).unwrap().timeout, Duration::from_secs(7));
        let err = with(json!(601)).unwrap_err().to_string();
        assert_eq!(err, "Invalid configuration item `timeout`: expected a whole number from 1 to 600, got 601");
    }

    #[test]
    fn missing_items_are_named() {
        let err = MdrSettings::from_job(&job(json!({"token_dir": "/t", "client_id": "  "}))).unwrap_err();
        assert!(err.to_string().starts_with("Missing configuration item `client_id`"), "{err}");
        let err = MdrSettings::from_job(&job(json!({"client_id": "c"}))).unwrap_err();
        assert!(err.to_string().contains("`token_dir`"), "{err}");
    }

    #[test]
    fn config_yml_fills_gaps_with_paths_relative_to_the_utility() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("conf")).unwrap();
        let yml = dir.path().join("conf/config.yml");
        std::fs::write(
            &yml,
            "api_url: https://mdr.example.invalid/api/v1/\nclient_id: 12345\nssl_cert: conf/mdr.pem\n",
        )
        .unwrap();
        let s = MdrSettings::from_job(&job(json!({"config_path": yml.to_str().unwrap(), "token_dir": null}))).unwrap();
        assert_eq!(s.api_url.as_str(), "https://mdr.example.invalid/api/v1");
        assert_eq!(s.client_id, "12345");
        assert_eq!(s.ssl_cert, Some(dir.path().join("conf/mdr.pem")));
        assert_eq!(s.token_dir, dir.path().join("conf"));
        // An explicit Cortex item still wins over config.yml.
        let s = MdrSettings::from_job(&job(json!({"config_path": yml.to_str().unwrap(), "client_id": "x"}))).unwrap();
        assert_eq!(s.client_id, "x");
    }

    #[test]
    fn ssl_cert_false_or_null_in_config_yml_means_no_extra_ca() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("conf")).unwrap();
        let yml = dir.path().join("conf/config.yml");
        for text in
            ["ssl_cert: false\n", "ssl_cert: null\n", "ssl_cert:\n", "ssl_cert: true\n", "ssl_cert: ''\n", "other: 1\n"]
        {
            std::fs::write(&yml, format!("client_id: c\n{text}")).unwrap();
            let s = MdrSettings::from_job(&job(json!({"config_path": yml.to_str().unwrap()}))).unwrap();
            assert_eq!(s.ssl_cert, None, "{text:?}");
        }
        std::fs::write(&yml, "client_id: c\nssl_cert: 'false.pem'\n").unwrap();
        let s = MdrSettings::from_job(&job(json!({"config_path": yml.to_str().unwrap()}))).unwrap();
        assert_eq!(s.ssl_cert, Some(dir.path().join("false.pem")));
    }

    #[test]
    fn config_yml_problems_name_the_file() {
        let err = MdrSettings::from_job(&job(json!({"config_path": "/nonexistent/conf/config.yml"}))).unwrap_err();
        assert!(err.to_string().starts_with("Cannot read config_path /nonexistent/conf/config.yml"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let yml = dir.path().join("config.yml");
        std::fs::write(&yml, "client_id: [unclosed\n").unwrap();
        let err = MdrSettings::from_job(&job(json!({"config_path": yml.to_str().unwrap()}))).unwrap_err();
        assert!(err.to_string().contains("is not valid YAML"), "{err}");
        std::fs::write(&yml, "api_url: https://h/api\n").unwrap();
        let err = MdrSettings::from_job(&job(json!({"config_path": yml.to_str().unwrap()}))).unwrap_err();
        assert!(err.to_string().contains(yml.to_str().unwrap()), "{err}");
    }

    #[test]
    fn api_url_must_be_http() {
        let err =
            MdrSettings::from_job(&job(json!({"client_id": "c", "token_dir": "/t", "api_url": "mdr.kaspersky.com"})))
                .unwrap_err();
        assert!(err.to_string().contains("`api_url` (Cortex configuration) must be an http(s) URL"), "{err}");
    }
}
