//! Where the responders find the MDR API, the client id and the token folder.
//!
//! Each setting comes from, in order: the Cortex configuration item of the same name (non-null,
//! non-blank), the MDR Integration Utility's `config.yml` named by `config_path`, a built-in
//! default. `config.yml` is read by the one reader (`mdr_contract::utility_config`): relative paths
//! are relative to the utility's folder, as the utility itself resolves them. `mdr-token` stacks its
//! flags instead of the Cortex items and resolves through [`resolve_mdr`] too.
//!
//! The utility's `config.yml` and token folder: docs/mdr-api.md#utility-configuration.

use std::path::{Path, PathBuf};
use std::time::Duration;

use cortex_http::{Deadline, HttpSettings, HttpUrl, display_safe};
use cortex_worker::{ItemError, Items, Job};

use mdr_api::MdrSettings;
use mdr_api::settings::{DEFAULT_API_URL, DEFAULT_TIMEOUT_SECS};
use mdr_contract::utility_config::{MdrKey, MdrLayer, Source, Sourced, UtilityConfig, UtilityConfigError};
use safekeeping::Secret;
use thehive::Version;
use thehive::client::{DEFAULT_ATTACHMENT_MAX_MB, TheHiveSettings};

pub use mdr_contract::contract::DEFAULT_INCIDENT_FIELD;
const MAX_TIMEOUT_SECS: u64 = 600;

/// A setting that cannot be resolved; the text names the item and where it was looked for.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "Missing configuration item `{key}`: set it in the KasperskyMDR responder configuration in Cortex, \
         or set `config_path` to the MDR Integration Utility's config.yml (looked in: {looked_in})"
    )]
    Missing { key: MdrKey, looked_in: String },
    #[error(transparent)]
    Utility(#[from] UtilityConfigError),
    #[error("Configuration item `{item}` ({origin}) must be an http(s) URL such as {DEFAULT_API_URL}, got {value:?}")]
    InvalidUrl { item: &'static str, origin: Source, value: String },
    #[error("Configuration item `{item}` is needed with `{with}`: set both to use the TheHive API, or neither")]
    Incomplete { item: &'static str, with: &'static str },
    #[error("Configuration item `{item}` must be {expected}, got {value:?}")]
    Invalid { item: &'static str, expected: &'static str, value: String },
    #[error(transparent)]
    Item(#[from] ItemError),
}

/// The resolved settings of one responder job.
#[derive(Debug, Clone)]
pub struct Settings {
    pub mdr: MdrSettings,
    /// The case custom field that holds the MDR incident id.
    pub incident_field: String,
}

impl Settings {
    pub fn from_job(job: &Job) -> Result<Settings, ConfigError> {
        let http = HttpSettings::from_cortex(job.input().get("config"), job.dir());
        let mut settings = Settings::from_items(job.items(), http)?;
        // One deadline from the job's start, shared by its MDR and TheHive clients (both are built
        // from `mdr.http_config()`).
        settings.mdr.deadline = Deadline::for_job(settings.mdr.timeout);
        Ok(settings)
    }

    /// From a job's configuration items; each request with its own retry budget (a job sets its
    /// deadline in [`Settings::from_job`]).
    pub fn from_items(items: Items<'_>, http: HttpSettings) -> Result<Settings, ConfigError> {
        let utility = utility_config(items)?;
        let timeout = Duration::from_secs(items.whole_number("timeout", DEFAULT_TIMEOUT_SECS, 1..=MAX_TIMEOUT_SECS)?);
        let mdr = resolve_mdr(cortex_layer(items)?, utility.as_ref(), Source::Cortex, timeout, http)?;
        let incident_field = items.text("incident_custom_field")?.unwrap_or(DEFAULT_INCIDENT_FIELD).to_owned();
        Ok(Settings { mdr, incident_field })
    }
}

/// The MDR settings of `first` (the Cortex items, or `mdr-token`'s flags) over `config.yml` over
/// the defaults.
pub fn resolve_mdr(
    first: MdrLayer,
    utility: Option<&UtilityConfig>,
    first_source: Source,
    timeout: Duration,
    http: HttpSettings,
) -> Result<MdrSettings, ConfigError> {
    let layer = first.or(utility.map(UtilityConfig::layer).unwrap_or_default());
    let missing = |key| ConfigError::Missing { key, looked_in: looked_in(first_source.clone(), utility) };
    let api_url = layer.api_url.unwrap_or_else(|| Sourced::new(DEFAULT_API_URL.to_owned(), Source::Default));
    Ok(MdrSettings {
        api_url: checked_url(MdrKey::ApiUrl.name(), &api_url)?,
        client_id: layer.client_id.ok_or_else(|| missing(MdrKey::ClientId))?.value,
        token_dir: layer.token_dir.ok_or_else(|| missing(MdrKey::TokenDir))?.value,
        ssl_cert: layer.ssl_cert.map(|cert| cert.value),
        timeout,
        deadline: Deadline::per_request(),
        utility_config: utility.map(|u| u.path.clone()),
        http,
    })
}

/// The MDR settings among a job's configuration items.
fn cortex_layer(items: Items<'_>) -> Result<MdrLayer, ConfigError> {
    let text = |key: MdrKey| -> Result<Option<Sourced<String>>, ConfigError> {
        Ok(items.text(key.name())?.map(|v| Sourced::new(v.to_owned(), Source::Cortex)))
    };
    let path = |key| -> Result<Option<Sourced<PathBuf>>, ConfigError> {
        Ok(text(key)?.map(|v| Sourced::new(PathBuf::from(v.value), v.source)))
    };
    Ok(MdrLayer {
        api_url: text(MdrKey::ApiUrl)?,
        client_id: text(MdrKey::ClientId)?,
        token_dir: path(MdrKey::TokenDir)?,
        ssl_cert: path(MdrKey::SslCert)?,
    })
}

/// The utility's `config.yml` when `config_path` names one.
fn utility_config(items: Items<'_>) -> Result<Option<UtilityConfig>, ConfigError> {
    match items.text("config_path")? {
        Some(path) => Ok(Some(UtilityConfig::load(Path::new(path), Some("config_path"))?)),
        None => Ok(None),
    }
}

fn looked_in(first: Source, utility: Option<&UtilityConfig>) -> String {
    let mut looked_in = first.to_string();
    if let Some(utility) = utility {
        looked_in.push_str(&format!(", {}", utility.path.display()));
    }
    looked_in
}

fn checked_url(item: &'static str, value: &Sourced<String>) -> Result<HttpUrl, ConfigError> {
    HttpUrl::parse(&value.value).map_err(|_| ConfigError::InvalidUrl {
        item,
        origin: value.source.clone(),
        value: display_safe(&value.value),
    })
}

/// TheHive's API settings of a job; None when `thehive_url` is not set: the TheHive API is optional.
pub fn thehive_from_job(job: &Job) -> Result<Option<TheHiveSettings>, ConfigError> {
    let items = job.items();
    let (url, key) = (items.text("thehive_url")?, items.text("thehive_api_key")?);
    let (url, key) = match (url, key) {
        (None, None) => return Ok(None),
        (Some(_), None) => return Err(ConfigError::Incomplete { item: "thehive_api_key", with: "thehive_url" }),
        (None, Some(_)) => return Err(ConfigError::Incomplete { item: "thehive_url", with: "thehive_api_key" }),
        (Some(url), Some(key)) => (url, key),
    };
    let url = HttpUrl::parse(url).ok().filter(|url| !url.has_credentials()).ok_or_else(|| {
        let expected = "an http(s) URL without credentials, such as https://thehive.example:9000";
        // The value is shown to say what is wrong; credentials in it (with or without a scheme) must not be.
        ConfigError::Invalid { item: "thehive_url", expected, value: display_safe(url.trim_end_matches('/')) }
    })?;
    Ok(Some(TheHiveSettings {
        url,
        api_key: Secret::new(key),
        organisation: job.parameter_str("organisation").map(str::to_owned),
        version: version_item(items.text("thehive_version")?)?,
        // A huge limit (meaning "no limit") must not overflow.
        attachment_max_bytes: items
            .whole_number("attachment_max_mb", DEFAULT_ATTACHMENT_MAX_MB, 1..=u64::MAX)?
            .saturating_mul(1_000_000),
    }))
}

fn version_item(value: Option<&str>) -> Result<Option<Version>, ConfigError> {
    let Some(value) = value else { return Ok(None) };
    Version::parse_choice(value).map_err(|_| ConfigError::Invalid {
        item: "thehive_version",
        expected: "4, 5 or auto",
        value: value.to_owned(),
    })
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
        let s = Settings::from_job(&job(json!({"client_id": "abc", "token_dir": "/t", "api_url": null}))).unwrap();
        assert_eq!(s.mdr.api_url.as_str(), DEFAULT_API_URL);
        assert_eq!(s.mdr.client_id, "abc");
        assert_eq!(s.mdr.token_dir, PathBuf::from("/t"));
        assert_eq!(s.mdr.ssl_cert, None);
        assert_eq!(s.incident_field, "mdr-incident-id");
        assert_eq!(s.mdr.timeout, Duration::from_secs(30));
    }

    #[test]
    fn a_job_has_one_deadline_from_its_start_and_the_token_tool_a_budget_per_request() {
        let before = std::time::Instant::now();
        let s = Settings::from_job(&job(json!({"client_id": "c", "token_dir": "/t", "timeout": 7}))).unwrap();
        let Deadline::At(end) = s.mdr.deadline else { panic!("a job has a fixed deadline: {:?}", s.mdr.deadline) };
        assert!(end >= before + Duration::from_secs(14) && end <= std::time::Instant::now() + Duration::from_secs(14));
        assert_eq!(s.mdr.http_config().deadline, s.mdr.deadline, "the TheHive client built from it shares it");
        let items =
            serde_json::Map::from_iter([("client_id".to_owned(), json!("c")), ("token_dir".to_owned(), json!("/t"))]);
        let tool = Settings::from_items(Items::new(&items), HttpSettings::default()).unwrap();
        assert_eq!(tool.mdr.deadline, Deadline::per_request());
    }

    #[test]
    fn timeout_is_a_whole_number_item() {
        let with = |t: Value| Settings::from_job(&job(json!({"client_id": "c", "token_dir": "/t", "timeout": t})));
        assert_eq!(with(json!(" 7 ")).unwrap().mdr.timeout, Duration::from_secs(7));
        let err = with(json!(601)).unwrap_err().to_string();
        assert_eq!(err, "Invalid configuration item `timeout`: expected a whole number from 1 to 600, got 601");
    }

    #[test]
    fn missing_items_are_named() {
        let err = Settings::from_job(&job(json!({"token_dir": "/t", "client_id": "  "}))).unwrap_err();
        assert!(err.to_string().starts_with("Missing configuration item `client_id`"), "{err}");
        let err = Settings::from_job(&job(json!({"client_id": "c"}))).unwrap_err();
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
        let s = Settings::from_job(&job(json!({"config_path": yml.to_str().unwrap(), "token_dir": null}))).unwrap();
        assert_eq!(s.mdr.api_url.as_str(), "https://mdr.example.invalid/api/v1");
        assert_eq!(s.mdr.client_id, "12345");
        assert_eq!(s.mdr.ssl_cert, Some(dir.path().join("conf/mdr.pem")));
        assert_eq!(s.mdr.token_dir, dir.path().join("conf"));
        // An explicit Cortex item still wins over config.yml.
        let s = Settings::from_job(&job(json!({"config_path": yml.to_str().unwrap(), "client_id": "x"}))).unwrap();
        assert_eq!(s.mdr.client_id, "x");
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
            let s = Settings::from_job(&job(json!({"config_path": yml.to_str().unwrap()}))).unwrap();
            assert_eq!(s.mdr.ssl_cert, None, "{text:?}");
        }
        std::fs::write(&yml, "client_id: c\nssl_cert: 'false.pem'\n").unwrap();
        let s = Settings::from_job(&job(json!({"config_path": yml.to_str().unwrap()}))).unwrap();
        assert_eq!(s.mdr.ssl_cert, Some(dir.path().join("false.pem")));
    }

    #[test]
    fn config_yml_problems_name_the_file() {
        let err = Settings::from_job(&job(json!({"config_path": "/nonexistent/conf/config.yml"}))).unwrap_err();
        assert!(err.to_string().starts_with("Cannot read config_path /nonexistent/conf/config.yml"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let yml = dir.path().join("config.yml");
        std::fs::write(&yml, "client_id: [unclosed\n").unwrap();
        let err = Settings::from_job(&job(json!({"config_path": yml.to_str().unwrap()}))).unwrap_err();
        assert!(err.to_string().contains("is not valid YAML"), "{err}");
        std::fs::write(&yml, "api_url: https://h/api\n").unwrap();
        let err = Settings::from_job(&job(json!({"config_path": yml.to_str().unwrap()}))).unwrap_err();
        assert!(err.to_string().contains(yml.to_str().unwrap()), "{err}");
    }

    #[test]
    fn config_yml_is_strict_only_in_the_keys_the_responders_read() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("conf")).unwrap();
        let yml = dir.path().join("conf/config.yml");
        let with = |text: &str| {
            std::fs::write(&yml, text).unwrap();
            Settings::from_job(&job(json!({"config_path": yml.to_str().unwrap()}))).map_err(|e| e.to_string())
        };
        // mdr-sync's sections, typos included, and the utility's are not the responders' to judge.
        let others = "client_id: c\nmdr-sync: {max_incident_at_time: 2}\nthehive: {organization: x, case_tlp: many}\n\
            kuma: {api_url: x}\nlogging: {log_dir: log}\n";
        assert_eq!(with(others).unwrap().mdr.client_id, "c");
        let err = with("client-id: c\n").unwrap_err();
        assert_eq!(err, format!("config_path {}: unknown key `client-id`: did you mean `client_id`?", yml.display()));
        let err = with("client_id: c\ntoken_dir: [conf]\n").unwrap_err();
        assert!(err.contains("token_dir: invalid type: sequence, expected text"), "{err}");
    }

    #[test]
    fn api_url_must_be_http() {
        let err =
            Settings::from_job(&job(json!({"client_id": "c", "token_dir": "/t", "api_url": "mdr.kaspersky.com"})))
                .unwrap_err();
        assert!(err.to_string().contains("`api_url` (Cortex configuration) must be an http(s) URL"), "{err}");
    }

    fn thehive(config: Value) -> Result<Option<TheHiveSettings>, String> {
        let input =
            json!({"dataType": "thehive:case", "data": {}, "config": config, "parameters": {"organisation": "SOC"}});
        thehive_from_job(&Job::from_input(input, None).unwrap()).map_err(|e| e.to_string())
    }

    #[test]
    fn thehive_api_is_optional_but_complete() {
        assert!(thehive(json!({})).unwrap().is_none());
        let err = thehive(json!({"thehive_url": "https://h"})).unwrap_err();
        assert!(err.starts_with("Configuration item `thehive_api_key` is needed with `thehive_url`"), "{err}");
        let s = thehive(json!({"thehive_url": "https://h:9000/", "thehive_api_key": "k", "thehive_version": "5"}))
            .unwrap()
            .unwrap();
        assert_eq!(
            (s.url.as_str(), s.version, s.organisation.as_deref()),
            ("https://h:9000", Some(Version::V5), Some("SOC"))
        );
        assert_eq!(s.attachment_max_bytes, 100_000_000);
        assert!(!format!("{s:?}").contains("\"k\""));
    }

    #[test]
    fn invalid_thehive_items_are_named() {
        let base = json!({"thehive_url": "https://h", "thehive_api_key": "k"});
        let with = |k: &str, v: Value| {
            let mut c = base.clone();
            c[k] = v;
            thehive(c).unwrap_err()
        };
        assert!(with("thehive_version", json!("6")).contains("`thehive_version` must be 4, 5 or auto"));
        assert!(with("attachment_max_mb", json!(0)).contains("`attachment_max_mb`"));
        assert!(with("thehive_url", json!("https://u:p@h")).contains("without credentials"));
        for url in ["https://admin:SENTINEL-pw@thehive.example", "admin:SENTINEL-pw@thehive.example:9000"] {
            let err = with("thehive_url", json!(url));
            assert!(err.contains("without credentials") && !err.contains("SENTINEL-pw"), "{err}");
        }
    }

    #[test]
    fn a_huge_attachment_limit_does_not_overflow() {
        let config = json!({"thehive_url": "https://h", "thehive_api_key": "k", "attachment_max_mb": 1e20});
        assert_eq!(thehive(config).unwrap().unwrap().attachment_max_bytes, u64::MAX);
    }
}
