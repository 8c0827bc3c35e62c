//! Where the connector's settings come from, and the platform-side settings.
//!
//! [`ConfigSource`] resolves one setting as the Python connector does (connectors-sdk's settings
//! loader, which keeps pycti's `get_config_variable` order): the environment variable if it is set
//! (even empty), else the key in `config.yml`, else the default. `config.yml` is looked for beside
//! the program, then one folder up (the SDK looks beside `main.py`, then one folder up); when there
//! is none, a `.env` file one folder up stands in for it (KEY=VALUE lines, the same env names).
//! `--config FILE` names the file explicitly.
//!
//! [`Config::from_source`] reads the `OPENCTI_*`, `CONNECTOR_*` and `MQ_*` settings with pycti's
//! defaults and calls [`KasperskyConfig::from_source`] for the `KASPERSKY_*` ones. A bad value is
//! refused at start with the key named; a secret's value is never shown.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_yaml::Value as Yaml;

use safekeeping::Secret;

use crate::kaspersky::KasperskyConfig;

/// A value and where it came from ("KASPERSKY_MAX_TLP" or "config.yml kaspersky.max_tlp").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sourced<T> {
    pub value: T,
    pub origin: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {reason}")]
    Unreadable { path: String, reason: String },
    #[error("{path} is not valid YAML: {reason}")]
    InvalidYaml { path: String, reason: String },
    /// `key` names the environment variable (and the config.yml key).
    #[error("{key} is required (set the environment variable or config.yml `{yaml_key}`)")]
    Missing { key: String, yaml_key: String },
    /// `origin` is where the bad value came from; `reason` must not contain a secret.
    #[error("{origin}: {reason}")]
    Invalid { origin: String, reason: String },
}

impl ConfigError {
    /// A bad value: `origin` names the key, `reason` says what is expected (no secret in it).
    pub fn invalid(origin: &str, reason: impl Into<String>) -> ConfigError {
        ConfigError::Invalid { origin: origin.to_owned(), reason: reason.into() }
    }
}

/// The raw settings: environment variables and the parsed `config.yml` (if any).
#[derive(Clone, Default)]
pub struct ConfigSource {
    env: BTreeMap<String, String>,
    yaml: Option<Yaml>,
    /// Every environment name asked for, so that tests can tell a key the connector reads from a
    /// key it ignores (e.g. in the sample compose file).
    asked: std::cell::RefCell<std::collections::BTreeSet<String>>,
}

impl fmt::Debug for ConfigSource {
    // Values may be secrets: only the names are shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfigSource")
            .field("env", &self.env.keys().collect::<Vec<_>>())
            .field("yaml", &self.yaml.is_some())
            .finish()
    }
}

impl ConfigSource {
    pub fn from_parts(env: BTreeMap<String, String>, yaml: Option<Yaml>) -> ConfigSource {
        ConfigSource { env, yaml, asked: Default::default() }
    }

    /// The environment names asked for so far (set or not), sorted.
    pub fn keys_read(&self) -> Vec<String> {
        self.asked.borrow().iter().cloned().collect()
    }

    /// The process environment and `config.yml` (or `.env`) where the Python connector looks,
    /// relative to this program's own location.
    pub fn load() -> Result<ConfigSource, ConfigError> {
        let exe = std::env::current_exe()
            .map_err(|e| ConfigError::Unreadable { path: "the program's own path".into(), reason: e.to_string() })?;
        let dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
        let parent = dir.parent().map(Path::to_path_buf);
        let candidates = std::iter::once(dir.join("config.yml")).chain(parent.iter().map(|p| p.join("config.yml")));
        for candidate in candidates {
            if candidate.is_file() {
                return Self::load_with(Some(&candidate));
            }
        }
        let mut source = Self::load_with(None)?;
        if let Some(dot_env) = parent.map(|p| p.join(".env")).filter(|p| p.is_file()) {
            source.add_dot_env(&dot_env)?;
        }
        Ok(source)
    }

    /// The process environment and the given `config.yml` (or none).
    pub fn load_with(config_file: Option<&Path>) -> Result<ConfigSource, ConfigError> {
        let env: BTreeMap<String, String> =
            std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))).collect();
        let yaml = match config_file {
            Some(path) => Some(read_yaml(path)?),
            None => None,
        };
        Ok(ConfigSource { env, yaml, asked: Default::default() })
    }

    /// `.env` values count as environment variables that the real environment overrides.
    fn add_dot_env(&mut self, path: &Path) -> Result<(), ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::Unreadable { path: path.display().to_string(), reason: e.to_string() })?;
        for line in text.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let line = line.strip_prefix("export ").unwrap_or(line);
            if let Some((key, value)) = line.split_once('=') {
                let value = value.trim();
                let unquoted = value
                    .strip_prefix('"')
                    .and_then(|v| v.strip_suffix('"'))
                    .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                    .unwrap_or(value);
                self.env.entry(key.trim().to_owned()).or_insert_with(|| unquoted.to_owned());
            }
        }
        Ok(())
    }

    /// Raw text of a setting: env var `env` if set, else config.yml at `path` (e.g.
    /// `["kaspersky", "max_tlp"]`), else None. A YAML list is joined with commas, as the
    /// comma-separated env form of the same setting.
    pub fn text(&self, env: &str, path: &[&str]) -> Option<Sourced<String>> {
        self.asked.borrow_mut().insert(env.to_owned());
        if let Some(value) = self.env.get(env) {
            return Some(Sourced { value: value.clone(), origin: env.to_owned() });
        }
        let mut node = self.yaml.as_ref()?;
        for key in path {
            node = node.as_mapping()?.get(*key)?;
        }
        let value = yaml_text(node)?;
        Some(Sourced { value, origin: format!("config.yml {}", path.join(".")) })
    }

    /// A required setting; the error names the env var and the config.yml key.
    pub fn required(&self, env: &str, path: &[&str]) -> Result<Sourced<String>, ConfigError> {
        self.text(env, path)
            .filter(|s| !s.value.trim().is_empty())
            .ok_or_else(|| ConfigError::Missing { key: env.to_owned(), yaml_key: path.join(".") })
    }

    /// A boolean as pydantic reads it (true/false, yes/no, on/off, 1/0, t/f, y/n; any case).
    pub fn bool(&self, env: &str, path: &[&str], default: bool) -> Result<bool, ConfigError> {
        let Some(s) = self.text(env, path) else { return Ok(default) };
        parse_bool(&s.value)
            .ok_or_else(|| ConfigError::invalid(&s.origin, format!("expected true or false, got {:?}", s.value)))
    }

    /// An integer within `range` (inclusive).
    pub fn integer(
        &self,
        env: &str,
        path: &[&str],
        default: i64,
        range: std::ops::RangeInclusive<i64>,
    ) -> Result<i64, ConfigError> {
        let Some(s) = self.text(env, path) else { return Ok(default) };
        let value: i64 = s
            .value
            .trim()
            .parse()
            .map_err(|_| ConfigError::invalid(&s.origin, format!("expected an integer, got {:?}", s.value)))?;
        if !range.contains(&value) {
            return Err(ConfigError::invalid(
                &s.origin,
                format!("must be between {} and {}, got {value}", range.start(), range.end()),
            ));
        }
        Ok(value)
    }

    /// A plain string with a default.
    pub fn string(&self, env: &str, path: &[&str], default: &str) -> String {
        self.text(env, path).map_or_else(|| default.to_owned(), |s| s.value)
    }
}

fn read_yaml(path: &Path) -> Result<Yaml, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::Unreadable { path: path.display().to_string(), reason: e.to_string() })?;
    // The YAML error may quote a line of the file, which can hold a secret: keep only its position.
    serde_yaml::from_str(&text).map_err(|e| ConfigError::InvalidYaml {
        path: path.display().to_string(),
        reason: e.location().map_or_else(
            || "unparsable document".to_owned(),
            |l| format!("syntax error at line {}, column {}", l.line(), l.column()),
        ),
    })
}

fn yaml_text(node: &Yaml) -> Option<String> {
    match node {
        Yaml::Null => None,
        Yaml::Bool(b) => Some(b.to_string()),
        Yaml::Number(n) => Some(n.to_string()),
        Yaml::String(s) => Some(s.clone()),
        Yaml::Sequence(items) => Some(items.iter().filter_map(yaml_text).collect::<Vec<_>>().join(",")),
        Yaml::Mapping(_) | Yaml::Tagged(_) => None,
    }
}

pub fn parse_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" | "t" | "y" => Some(true),
        "false" | "no" | "off" | "0" | "f" | "n" => Some(false),
        _ => None,
    }
}

/// The whole configuration, read once at start.
#[derive(Debug)]
pub struct Config {
    pub opencti: OpenCtiConfig,
    pub connector: ConnectorConfig,
    pub mq: MqOverrides,
    pub kaspersky: KasperskyConfig,
}

impl Config {
    pub fn from_source(source: &ConfigSource) -> Result<Config, ConfigError> {
        Ok(Config {
            opencti: OpenCtiConfig::from_source(source)?,
            connector: ConnectorConfig::from_source(source)?,
            mq: MqOverrides::from_source(source)?,
            kaspersky: KasperskyConfig::from_source(source)?,
        })
    }
}

#[derive(Debug, Clone)]
pub struct OpenCtiConfig {
    /// Without a trailing slash.
    pub url: String,
    pub token: Secret,
    /// Ours defaults to true (pycti's to false): TLS verification stays on unless
    /// `OPENCTI_SSL_VERIFY=false` turns it off, which the start-up log warns about.
    pub ssl_verify: bool,
    /// `OPENCTI_CUSTOM_HEADERS` ("name:value;name:value").
    pub custom_headers: Vec<(String, String)>,
    /// Ours: per GraphQL call (pycti has none).
    pub timeout: Duration,
}

impl OpenCtiConfig {
    fn from_source(source: &ConfigSource) -> Result<OpenCtiConfig, ConfigError> {
        let url = source.required("OPENCTI_URL", &["opencti", "url"])?;
        let trimmed = url.value.trim().trim_end_matches('/').to_owned();
        if !(trimmed.starts_with("http://") || trimmed.starts_with("https://")) || trimmed.len() < 9 {
            return Err(ConfigError::invalid(&url.origin, "expected an http:// or https:// URL"));
        }
        let token = source.required("OPENCTI_TOKEN", &["opencti", "token"])?;
        let ssl_verify = source.bool("OPENCTI_SSL_VERIFY", &["opencti", "ssl_verify"], true)?;
        let custom_headers = match source.text("OPENCTI_CUSTOM_HEADERS", &["opencti", "custom_headers"]) {
            None => Vec::new(),
            Some(s) => parse_headers(&s)?,
        };
        let timeout = source.integer("OPENCTI_TIMEOUT", &["opencti", "timeout"], 60, 1..=3600)?;
        Ok(OpenCtiConfig {
            url: trimmed,
            token: Secret::new(token.value.trim()),
            ssl_verify,
            custom_headers,
            timeout: Duration::from_secs(timeout.unsigned_abs()),
        })
    }
}

fn parse_headers(s: &Sourced<String>) -> Result<Vec<(String, String)>, ConfigError> {
    let mut headers = Vec::new();
    for part in s.value.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((name, value)) = part.split_once(':') else {
            return Err(ConfigError::invalid(&s.origin, "expected name:value pairs separated by ';'"));
        };
        headers.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    Ok(headers)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListenProtocol {
    Amqp,
    Api,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueProtocol {
    Amqp,
    Api,
}

#[derive(Debug, Clone)]
pub struct ConnectorConfig {
    pub id: String,
    pub name: String,
    pub scope: Vec<String>,
    pub auto: bool,
    pub log_level: LogLevel,
    /// `CONNECTOR_CONFIDENCE_LEVEL` (deprecated in pycti; kept for the logs only).
    pub confidence_level: Option<i64>,
    pub listen_protocol: ListenProtocol,
    pub listen_api_port: u16,
    pub listen_api_path: String,
    pub listen_api_uri: String,
    pub listen_api_ssl: bool,
    pub listen_api_ssl_cert: Option<PathBuf>,
    pub listen_api_ssl_key: Option<PathBuf>,
    /// Ours: listen address of the callback server (pycti binds 0.0.0.0).
    pub listen_api_host: String,
    pub queue_protocol: QueueProtocol,
    /// AMQP prefetch (pycti: `CONNECTOR_QUEUE_THRESHOLD` is something else; prefetch is 1 in pycti).
    pub prefetch: u16,
    /// Ours: messages processed at once (pycti: one).
    pub concurrency: usize,
    /// Ours: per TIP request.
    pub tip_timeout: Duration,
}

pub const DEFAULT_CONNECTOR_ID: &str = "kaspersky--8825ba29-8475-4e6a-95b7-9206052c0934";
pub const DEFAULT_CONNECTOR_NAME: &str = "Kaspersky Enrichment";
pub const DEFAULT_SCOPE: &str = "StixFile,IPv4-Addr,Domain-Name,Hostname,Url";

impl ConnectorConfig {
    fn from_source(source: &ConfigSource) -> Result<ConnectorConfig, ConfigError> {
        let id = source.string("CONNECTOR_ID", &["connector", "id"], DEFAULT_CONNECTOR_ID).trim().to_owned();
        if id.is_empty() {
            return Err(ConfigError::invalid("CONNECTOR_ID", "must not be empty"));
        }
        let name = source.string("CONNECTOR_NAME", &["connector", "name"], DEFAULT_CONNECTOR_NAME);
        let scope: Vec<String> = source
            .string("CONNECTOR_SCOPE", &["connector", "scope"], DEFAULT_SCOPE)
            .split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect();
        if scope.is_empty() {
            return Err(ConfigError::invalid("CONNECTOR_SCOPE", "must list at least one entity type"));
        }
        let auto = source.bool("CONNECTOR_AUTO", &["connector", "auto"], true)?;
        let log_level = match source.text("CONNECTOR_LOG_LEVEL", &["connector", "log_level"]) {
            None => LogLevel::Error,
            Some(s) => LogLevel::parse(&s.value).ok_or_else(|| {
                ConfigError::invalid(
                    &s.origin,
                    format!("expected debug, info, warn, warning or error, got {:?}", s.value),
                )
            })?,
        };
        let confidence_level = match source.text("CONNECTOR_CONFIDENCE_LEVEL", &["connector", "confidence_level"]) {
            None => None,
            Some(_) => {
                Some(source.integer("CONNECTOR_CONFIDENCE_LEVEL", &["connector", "confidence_level"], 0, 0..=100)?)
            }
        };
        let listen_protocol = match source.text("CONNECTOR_LISTEN_PROTOCOL", &["connector", "listen_protocol"]) {
            None => ListenProtocol::Amqp,
            Some(s) => match s.value.trim().to_ascii_uppercase().as_str() {
                "AMQP" => ListenProtocol::Amqp,
                "API" => ListenProtocol::Api,
                _ => return Err(ConfigError::invalid(&s.origin, format!("expected AMQP or API, got {:?}", s.value))),
            },
        };
        let port = source.integer(
            "CONNECTOR_LISTEN_PROTOCOL_API_PORT",
            &["connector", "listen_protocol_api_port"],
            7070,
            1..=65535,
        )?;
        let path = source.string(
            "CONNECTOR_LISTEN_PROTOCOL_API_PATH",
            &["connector", "listen_protocol_api_path"],
            "/api/callback",
        );
        if !path.starts_with('/') {
            return Err(ConfigError::invalid("CONNECTOR_LISTEN_PROTOCOL_API_PATH", "must start with '/'"));
        }
        // pycti's default URI is http://127.0.0.1:7070 whatever the port (observed).
        let uri = source.string(
            "CONNECTOR_LISTEN_PROTOCOL_API_URI",
            &["connector", "listen_protocol_api_uri"],
            "http://127.0.0.1:7070",
        );
        let uri = uri.trim().trim_end_matches('/').to_owned();
        if !(uri.starts_with("http://") || uri.starts_with("https://")) {
            return Err(ConfigError::invalid(
                "CONNECTOR_LISTEN_PROTOCOL_API_URI",
                "expected an http:// or https:// URL",
            ));
        }
        let ssl = source.bool("CONNECTOR_LISTEN_PROTOCOL_API_SSL", &["connector", "listen_protocol_api_ssl"], false)?;
        let cert = source
            .text("CONNECTOR_LISTEN_PROTOCOL_API_SSL_CERT", &["connector", "listen_protocol_api_ssl_cert"])
            .map(|s| PathBuf::from(s.value));
        let key = source
            .text("CONNECTOR_LISTEN_PROTOCOL_API_SSL_KEY", &["connector", "listen_protocol_api_ssl_key"])
            .map(|s| PathBuf::from(s.value));
        if ssl && (cert.is_none() || key.is_none()) {
            return Err(ConfigError::invalid(
                "CONNECTOR_LISTEN_PROTOCOL_API_SSL",
                "needs CONNECTOR_LISTEN_PROTOCOL_API_SSL_CERT and CONNECTOR_LISTEN_PROTOCOL_API_SSL_KEY",
            ));
        }
        let host =
            source.string("CONNECTOR_LISTEN_PROTOCOL_API_HOST", &["connector", "listen_protocol_api_host"], "0.0.0.0");
        let queue_protocol = match source.text("CONNECTOR_QUEUE_PROTOCOL", &["connector", "queue_protocol"]) {
            None => QueueProtocol::Amqp,
            Some(s) => match s.value.trim().to_ascii_lowercase().as_str() {
                "amqp" => QueueProtocol::Amqp,
                "api" => QueueProtocol::Api,
                _ => return Err(ConfigError::invalid(&s.origin, format!("expected amqp or api, got {:?}", s.value))),
            },
        };
        let concurrency = source.integer("CONNECTOR_CONCURRENCY", &["connector", "concurrency"], 1, 1..=256)?;
        let prefetch = source.integer("CONNECTOR_PREFETCH", &["connector", "prefetch"], concurrency, 1..=65535)?;
        let tip_timeout = source.integer("KASPERSKY_TIMEOUT", &["kaspersky", "timeout"], 30, 1..=3600)?;
        Ok(ConnectorConfig {
            id,
            name,
            scope,
            auto,
            log_level,
            confidence_level,
            listen_protocol,
            listen_api_port: u16::try_from(port).unwrap_or(7070),
            listen_api_path: path,
            listen_api_uri: uri,
            listen_api_ssl: ssl,
            listen_api_ssl_cert: cert,
            listen_api_ssl_key: key,
            listen_api_host: host,
            queue_protocol,
            prefetch: u16::try_from(prefetch).unwrap_or(1),
            concurrency: usize::try_from(concurrency).unwrap_or(1),
            tip_timeout: Duration::from_secs(tip_timeout.unsigned_abs()),
        })
    }

    /// The URI the platform's worker posts to (`listen_callback_uri` at registration).
    pub fn callback_uri(&self) -> String {
        format!("{}{}", self.listen_api_uri, self.listen_api_path)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    Debug,
    Info,
    Warning,
    Error,
}

impl LogLevel {
    pub fn parse(text: &str) -> Option<LogLevel> {
        match text.trim().to_ascii_lowercase().as_str() {
            "debug" => Some(LogLevel::Debug),
            "info" => Some(LogLevel::Info),
            "warn" | "warning" => Some(LogLevel::Warning),
            "error" => Some(LogLevel::Error),
            _ => None,
        }
    }
}

/// `MQ_*`: replace what the registration says about the broker (pycti's overrides).
#[derive(Debug, Clone, Default)]
pub struct MqOverrides {
    pub host: Option<String>,
    pub port: Option<u16>,
    pub vhost: Option<String>,
    pub use_ssl: Option<bool>,
    pub user: Option<String>,
    pub pass: Option<Secret>,
    /// A PEM CA file to trust for the broker's certificate.
    pub ssl_ca: Option<PathBuf>,
    /// Loudly named: turn off broker certificate verification.
    pub ssl_reject_unauthorized: bool,
}

impl MqOverrides {
    fn from_source(source: &ConfigSource) -> Result<MqOverrides, ConfigError> {
        let port = match source.text("MQ_PORT", &["mq", "port"]) {
            None => None,
            Some(_) => u16::try_from(source.integer("MQ_PORT", &["mq", "port"], 5672, 1..=65535)?).ok(),
        };
        let use_ssl = match source.text("MQ_USE_SSL", &["mq", "use_ssl"]) {
            None => None,
            Some(_) => Some(source.bool("MQ_USE_SSL", &["mq", "use_ssl"], false)?),
        };
        Ok(MqOverrides {
            host: source.text("MQ_HOST", &["mq", "host"]).map(|s| s.value),
            port,
            vhost: source.text("MQ_VHOST", &["mq", "vhost"]).map(|s| s.value),
            use_ssl,
            user: source.text("MQ_USER", &["mq", "user"]).map(|s| s.value),
            pass: source.text("MQ_PASS", &["mq", "pass"]).map(|s| Secret::new(s.value)),
            ssl_ca: source.text("MQ_USE_SSL_CA", &["mq", "use_ssl_ca"]).map(|s| PathBuf::from(s.value)),
            ssl_reject_unauthorized: source.bool(
                "MQ_USE_SSL_REJECT_UNAUTHORIZED",
                &["mq", "use_ssl_reject_unauthorized"],
                true,
            )?,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn opencti(extra: &[(&str, &str)]) -> Result<OpenCtiConfig, ConfigError> {
        let mut env: BTreeMap<String, String> = [("OPENCTI_URL", "https://opencti.example"), ("OPENCTI_TOKEN", "t")]
            .map(|(k, v)| (k.into(), v.into()))
            .into();
        env.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        OpenCtiConfig::from_source(&ConfigSource::from_parts(env, None))
    }

    #[test]
    fn opencti_tls_verification_is_on_unless_turned_off() {
        assert!(opencti(&[]).unwrap().ssl_verify, "on by default (pycti: off)");
        assert!(!opencti(&[("OPENCTI_SSL_VERIFY", "false")]).unwrap().ssl_verify);
        assert!(opencti(&[("OPENCTI_SSL_VERIFY", "true")]).unwrap().ssl_verify);
    }
}
