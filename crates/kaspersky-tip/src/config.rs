//! The analyzer's configuration, read from the Cortex job and validated with errors naming the item.

use std::path::PathBuf;
use std::time::Duration;

use cortex_http::HttpSettings;
use cortex_http::HttpUrl;
use cortex_worker::Job;
use safekeeping::Secret;
use serde_json::Value;

use crate::error::TipError;
use crate::observable::Kind;
use crate::zone::ZoneScores;

pub const TIP_URL: &str = "https://tip.kaspersky.com";
pub const OPENTIP_URL: &str = "https://opentip.kaspersky.com";
const DEFAULT_COUNT: u32 = 100;
const MAX_COUNT: u32 = 1000;
const DEFAULT_TIMEOUT: u64 = 30;
const MAX_TIMEOUT: u64 = 600;
/// TLP:AMBER, like the OpenCTI connector's default `max_tlp`.
const DEFAULT_TLP_LIMIT: u8 = 2;

/// Which service the flavour talks to (`config.backend`, set by the flavour file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Commercial Kaspersky Threat Intelligence Portal: `/api/{type}/{value}`.
    Tip,
    /// Free OpenTIP: `/api/v1/search/{type}?request=`.
    OpenTip,
}

impl Backend {
    pub fn service(self) -> &'static str {
        match self {
            Backend::Tip => "Kaspersky TIP",
            Backend::OpenTip => "Kaspersky OpenTIP",
        }
    }

    pub fn default_url(self) -> &'static str {
        match self {
            Backend::Tip => TIP_URL,
            Backend::OpenTip => OPENTIP_URL,
        }
    }
}

/// How requests authenticate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// TIP API token (`Authorization: Bearer`).
    Bearer(Secret),
    /// OpenTIP token (`x-api-key`).
    ApiKey(Secret),
    /// TIP client certificate (PEM with its key) plus HTTP Basic user/password.
    CertificateBasic { client_cert: PathBuf, username: String, password: Secret },
}

/// What one lookup needs, as plain values: the analyzer reads it from the Cortex job, the OpenCTI
/// connector builds it from its own settings ([`Service::new`]).
#[derive(Debug, Clone)]
pub struct Service {
    pub backend: Backend,
    /// Base URL without trailing slash.
    pub api_url: HttpUrl,
    pub auth: Auth,
    /// TIP only: the sections requested per lookup type (mandatory ones included).
    pub sections: [Vec<&'static str>; 4],
    /// TIP only: records per data group.
    pub count: u32,
    /// One request's timeout.
    pub timeout: Duration,
    pub http: HttpSettings,
    /// Waiting out 429 and 5xx answers (the analyzer reports them at once: `None`).
    pub patience: Option<Patience>,
}

/// Further attempts after a 429 or 5xx answer: at most `attempts` more, each after the answer's
/// `Retry-After` (or 1 s, 2 s, 4 s…), never waiting longer than `max_wait` at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Patience {
    pub attempts: u32,
    pub max_wait: Duration,
}

impl Service {
    /// The defaults of the analyzer's items: every section it shows, 100 records, 30 s, no proxy.
    pub fn new(backend: Backend, api_url: HttpUrl, auth: Auth) -> Service {
        Service {
            backend,
            api_url,
            auth,
            sections: Kind::ALL.map(default_sections),
            count: DEFAULT_COUNT,
            timeout: Duration::from_secs(DEFAULT_TIMEOUT),
            http: HttpSettings::default(),
            patience: None,
        }
    }

    pub fn sections(&self, kind: Kind) -> &[&'static str] {
        &self.sections[kind_index(kind)]
    }

    pub fn set_sections(&mut self, kind: Kind, sections: Vec<&'static str>) {
        self.sections[kind_index(kind)] = sections;
    }
}

/// Everything the analyzer needs, validated.
#[derive(Debug, Clone)]
pub struct Settings {
    pub service: Service,
    pub zone_scores: ZoneScores,
    /// Highest TLP sent to Kaspersky (0 CLEAR … 3 RED).
    pub tlp_limit: u8,
    pub add_tags: bool,
    pub extract_artifacts: bool,
}

impl Settings {
    /// Reads and validates every item, in the order an operator would fix them.
    pub fn from_job(job: &Job) -> Result<Settings, TipError> {
        let backend = match job.config_str("backend").map(str::to_ascii_lowercase).as_deref() {
            Some("tip") => Backend::Tip,
            Some("opentip") => Backend::OpenTip,
            Some(other) => return Err(config("backend", format!("`{other}` is neither `tip` nor `opentip`"))),
            None => {
                return Err(config("backend", "missing; the flavour file sets it to `tip` or `opentip`".to_owned()));
            }
        };
        let api_url = api_url(job.config_str("api_url"), backend)?;
        let auth = auth(job, backend)?;
        let mut sections: [Vec<&'static str>; 4] = Default::default();
        for kind in Kind::ALL {
            sections[kind_index(kind)] = parse_sections(kind, job.config(section_item(kind)))?;
        }
        Ok(Settings {
            service: Service {
                backend,
                api_url,
                auth,
                sections,
                count: job.items().whole_number("count", DEFAULT_COUNT.into(), 1..=MAX_COUNT.into())? as u32,
                timeout: Duration::from_secs(job.items().whole_number("timeout", DEFAULT_TIMEOUT, 1..=MAX_TIMEOUT)?),
                http: HttpSettings::from_cortex(job.input().get("config"), job.dir()),
                patience: None,
            },
            zone_scores: match job.items().text("zone_scores")? {
                Some(text) => ZoneScores::parse(text).map_err(|reason| config("zone_scores", reason))?,
                None => ZoneScores::default(),
            },
            tlp_limit: match job.config("tlp_limit") {
                None => DEFAULT_TLP_LIMIT,
                Some(value) => parse_tlp(value).ok_or_else(|| {
                    config(
                        "tlp_limit",
                        "expected CLEAR, WHITE, GREEN, AMBER, AMBER+STRICT or RED (or 0 to 3)".to_owned(),
                    )
                })?,
            },
            add_tags: flag(job, "add_tags")?,
            extract_artifacts: flag(job, "extract_artifacts")?,
        })
    }
}

fn config(item: &'static str, reason: String) -> TipError {
    TipError::Config { item, reason }
}

fn kind_index(kind: Kind) -> usize {
    match kind {
        Kind::Hash => 0,
        Kind::Ip => 1,
        Kind::Domain => 2,
        Kind::Url => 3,
    }
}

fn section_item(kind: Kind) -> &'static str {
    match kind {
        Kind::Hash => "sections_hash",
        Kind::Ip => "sections_ip",
        Kind::Domain => "sections_domain",
        Kind::Url => "sections_url",
    }
}

/// The TIP section names known per type (docs/tip-api.md#sections); the first three are always requested.
pub fn known_sections(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::Hash => &[
            "LicenseInfo",
            "Zone",
            "FileGeneralInfo",
            "DetectionsInfo",
            "FileDownloadedFromUrls",
            "FileNames",
            "Industries",
            "FileParentCertificates",
            "RelatedObjects",
        ],
        Kind::Ip => &[
            "LicenseInfo",
            "Zone",
            "IpGeneralInfo",
            "IpWhoIs",
            "HostedUrls",
            "FilesDownloadedFromIp",
            "IpDnsResolutions",
            "Industries",
            "RelatedObjects",
        ],
        Kind::Domain => &[
            "LicenseInfo",
            "Zone",
            "DomainGeneralInfo",
            "DomainDnsResolutions",
            "FilesDownloaded",
            "FilesAccessed",
            "Industries",
            "RelatedObjects",
        ],
        Kind::Url => &[
            "LicenseInfo",
            "Zone",
            "UrlGeneralInfo",
            "FilesDownloaded",
            "FilesAccessed",
            "Industries",
            "RelatedObjects",
        ],
    }
}

/// Used when `sections_<type>` is empty: everything the report shows.
fn default_sections(kind: Kind) -> Vec<&'static str> {
    let known = known_sections(kind);
    let shown = match kind {
        Kind::Hash => 7,
        Kind::Ip => 8,
        Kind::Domain => 7,
        Kind::Url => 6,
    };
    known[..shown].to_vec()
}

/// Comma-separated string or list; names are matched case-insensitively and written canonically; the
/// mandatory `LicenseInfo`, `Zone` and `<Type>GeneralInfo` are added when missing; duplicates dropped.
fn parse_sections(kind: Kind, value: Option<&Value>) -> Result<Vec<&'static str>, TipError> {
    let item = section_item(kind);
    let names: Vec<String> = match value {
        None => Vec::new(),
        Some(Value::String(text)) => text.split(',').map(|name| name.trim().to_owned()).collect(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| item.as_str().map(|name| name.trim().to_owned()))
            .collect::<Option<_>>()
            .ok_or_else(|| config(item, "expected section names (text)".to_owned()))?,
        Some(_) => return Err(config(item, "expected comma-separated section names".to_owned())),
    };
    let names: Vec<String> = names.into_iter().filter(|name| !name.is_empty()).collect();
    if names.is_empty() {
        return Ok(default_sections(kind));
    }
    let known = known_sections(kind);
    let mut sections: Vec<&'static str> = known[..3].to_vec();
    for name in names {
        let canonical = known.iter().find(|known| known.eq_ignore_ascii_case(&name)).ok_or_else(|| {
            config(item, format!("unknown {} section `{name}` (known: {})", kind.as_str(), known.join(", ")))
        })?;
        if !sections.contains(canonical) {
            sections.push(canonical);
        }
    }
    Ok(sections)
}

/// [`api_url`]'s rules for callers without a Cortex job: the reason when `text` is refused.
pub fn check_api_url(text: &str, backend: Backend) -> Result<HttpUrl, String> {
    api_url(Some(text), backend).map_err(|error| match error {
        TipError::Config { reason, .. } => reason,
        other => other.to_string(),
    })
}

/// https only, except plain http to a loopback address (local tests and stand-ins); no credentials in it.
fn api_url(value: Option<&str>, backend: Backend) -> Result<HttpUrl, TipError> {
    let text = value.unwrap_or(backend.default_url());
    let invalid = |reason: &str| config("api_url", format!("`{}` {reason}", text.trim_end_matches('/')));
    // Any `@` may end a userinfo (a password can hold a raw `/`, `?` or `#`, or the scheme be
    // missing): refuse it before the URL is parsed and echoed.
    if text.contains('@') {
        return Err(config(
            "api_url",
            "must not contain credentials; use `api_key` or `username`/`password`".to_owned(),
        ));
    }
    let url = HttpUrl::parse(text).map_err(|e| invalid(&e.to_string()))?;
    if url.has_query_or_fragment() {
        return Err(invalid("must not have a query or fragment"));
    }
    if !url.is_https() && !url.is_loopback() {
        return Err(invalid("must use https (plain http is only allowed to a loopback address)"));
    }
    Ok(url)
}

fn auth(job: &Job, backend: Backend) -> Result<Auth, TipError> {
    let api_key = job.config_str("api_key");
    match backend {
        Backend::OpenTip => {
            // `key` is the item of the Python KasperskyTIP analyzer (same baseConfig): keep it working.
            let key = api_key.or_else(|| job.config_str("key")).ok_or_else(|| {
                config(
                    "api_key",
                    "missing; request an API token at https://opentip.kaspersky.com (My account > API)".to_owned(),
                )
            })?;
            Ok(Auth::ApiKey(Secret::new(key)))
        }
        Backend::Tip => match job.config_str("client_cert") {
            Some(path) => {
                let username = job.config_str("username").ok_or_else(|| {
                    config("username", "missing; `client_cert` needs a user name and password".to_owned())
                })?;
                let password = job.config_str("password").ok_or_else(|| {
                    config("password", "missing; `client_cert` needs a user name and password".to_owned())
                })?;
                Ok(Auth::CertificateBasic {
                    client_cert: PathBuf::from(path),
                    username: username.to_owned(),
                    password: Secret::new(password),
                })
            }
            None => api_key.map(|key| Auth::Bearer(Secret::new(key))).ok_or_else(|| {
                config(
                    "api_key",
                    "missing; set the TIP API token, or `client_cert` with `username` and `password`".to_owned(),
                )
            }),
        },
    }
}

fn flag(job: &Job, item: &'static str) -> Result<bool, TipError> {
    match job.config(item) {
        None => Ok(false),
        Some(Value::Bool(flag)) => Ok(*flag),
        Some(Value::String(text)) => match text.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "1" => Ok(true),
            "false" | "no" | "0" | "" => Ok(false),
            _ => Err(config(item, "expected true or false".to_owned())),
        },
        Some(_) => Err(config(item, "expected true or false".to_owned())),
    }
}

/// `TLP:AMBER`, `amber`, `2`… → 0..=3. AMBER+STRICT counts as AMBER (Cortex numbers have no such level).
fn parse_tlp(value: &Value) -> Option<u8> {
    match value {
        Value::Number(number) => number.as_u64().filter(|n| *n <= 3).map(|n| n as u8),
        Value::String(text) => {
            let text = text.trim().to_ascii_uppercase();
            let name = text.strip_prefix("TLP:").unwrap_or(&text);
            match name {
                "CLEAR" | "WHITE" | "0" => Some(0),
                "GREEN" | "1" => Some(1),
                "AMBER" | "AMBER+STRICT" | "2" => Some(2),
                "RED" | "3" => Some(3),
                _ => None,
            }
        }
        _ => None,
    }
}

/// The TLP name Cortex's number stands for.
pub fn tlp_name(level: i64) -> &'static str {
    match level {
        i64::MIN..=0 => "CLEAR",
        1 => "GREEN",
        2 => "AMBER",
        _ => "RED",
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn settings(config: Value) -> Result<Settings, String> {
        let job = Job::from_input(json!({"dataType": "ip", "data": "192.0.2.1", "config": config}), None).unwrap();
        Settings::from_job(&job).map_err(|e| e.to_string())
    }

    #[test]
    fn minimal_opentip_uses_defaults() {
        let s = settings(json!({"backend": "opentip", "api_key": "k"})).unwrap();
        assert_eq!(s.service.backend, Backend::OpenTip);
        assert_eq!(s.service.api_url.as_str(), OPENTIP_URL);
        assert_eq!(s.service.auth, Auth::ApiKey(Secret::new("k")));
        assert_eq!((s.service.count, s.tlp_limit, s.add_tags, s.extract_artifacts), (100, 2, false, false));
        assert_eq!(s.service.timeout, Duration::from_secs(30));
        assert_eq!(s.service.sections(Kind::Hash)[..4], ["LicenseInfo", "Zone", "FileGeneralInfo", "DetectionsInfo"]);
        // The Python analyzer's item name still works.
        let legacy = settings(json!({"backend": "OpenTIP", "key": "old"})).unwrap();
        assert_eq!(legacy.service.auth, Auth::ApiKey(Secret::new("old")));
    }

    #[test]
    fn tip_auth_modes() {
        let s = settings(json!({"backend": "tip", "api_key": "t", "api_url": "https://tip.example/"})).unwrap();
        assert_eq!(
            (s.service.api_url.as_str(), &s.service.auth),
            ("https://tip.example", &Auth::Bearer(Secret::new("t")))
        );
        let cert = settings(json!({"backend": "tip", "client_cert": "/c.pem", "username": "u", "password": "p"}));
        assert!(matches!(cert.unwrap().service.auth, Auth::CertificateBasic { .. }));
        let error = settings(json!({"backend": "tip", "client_cert": "/c.pem", "username": "u"})).unwrap_err();
        assert!(error.starts_with("Invalid configuration item `password`: missing"), "{error}");
        let error = settings(json!({"backend": "tip"})).unwrap_err();
        assert!(error.starts_with("Invalid configuration item `api_key`: missing"), "{error}");
        assert!(
            !format!("{:?}", settings(json!({"backend": "tip", "api_key": "hunter2"})).unwrap()).contains("hunter2")
        );
    }

    #[test]
    fn backend_is_required() {
        assert!(settings(json!({"api_key": "k"})).unwrap_err().contains("`backend`: missing"));
        assert!(settings(json!({"backend": "x", "api_key": "k"})).unwrap_err().contains("`x` is neither"));
    }

    #[test]
    fn api_url_rules() {
        let ok = |url: &str| settings(json!({"backend": "tip", "api_key": "k", "api_url": url}));
        assert_eq!(ok("http://127.0.0.1:8080/").unwrap().service.api_url.as_str(), "http://127.0.0.1:8080");
        assert!(ok("http://[::1]:1").is_ok());
        assert!(ok("http://tip.example").unwrap_err().contains("must use https"));
        assert!(ok("https://u:p@tip.example").unwrap_err().contains("must not contain credentials"));
        assert!(!ok("https://u:p@tip.example").unwrap_err().contains("u:p"));
        // A password with a raw `/`, `?` or `#` (or no scheme at all) is refused without being echoed.
        for leaky in [
            "https://u:hun/ter2@tip.example",
            "https://u:hun?ter2@tip.example",
            "http://u:hun#ter2@127.0.0.1",
            "u:hunter2@tip",
        ] {
            let error = ok(leaky).unwrap_err();
            assert!(error.contains("must not contain credentials"), "{error}");
            assert!(!error.contains("ter2"), "{error}");
        }
        assert!(ok("ftp://x").unwrap_err().contains("not an http(s) URL"));
        assert!(ok("https://x/?a").unwrap_err().contains("query"));
    }

    #[test]
    fn default_sections_are_all_but_those_the_flavours_leave_out() {
        let s = settings(json!({"backend": "tip", "api_key": "k"})).unwrap();
        for (kind, left_out) in [
            (Kind::Hash, &["FileParentCertificates", "RelatedObjects"][..]),
            (Kind::Ip, &["RelatedObjects"][..]),
            (Kind::Domain, &["RelatedObjects"][..]),
            (Kind::Url, &["RelatedObjects"][..]),
        ] {
            let expected: Vec<&str> =
                known_sections(kind).iter().copied().filter(|name| !left_out.contains(name)).collect();
            assert_eq!(s.service.sections(kind), expected, "{kind:?}");
        }
    }

    #[test]
    fn sections_are_validated_and_completed() {
        let s = settings(json!({"backend": "tip", "api_key": "k", "sections_ip": "ipwhois, HostedUrls,IpWhoIs",
                                "sections_url": ["Industries"]}))
        .unwrap();
        assert_eq!(s.service.sections(Kind::Ip), ["LicenseInfo", "Zone", "IpGeneralInfo", "IpWhoIs", "HostedUrls"]);
        assert_eq!(s.service.sections(Kind::Url), ["LicenseInfo", "Zone", "UrlGeneralInfo", "Industries"]);
        let error = settings(json!({"backend": "tip", "api_key": "k", "sections_domain": "Zone,Nope"})).unwrap_err();
        assert!(error.starts_with("Invalid configuration item `sections_domain`: unknown domain section `Nope`"));
        assert!(settings(json!({"backend": "tip", "api_key": "k", "sections_hash": 5})).is_err());
    }

    #[test]
    fn numbers_flags_scores_and_tlp() {
        let s = settings(json!({"backend": "tip", "api_key": "k", "count": "250", "timeout": 5.0, "add_tags": true,
                                "extract_artifacts": "yes", "zone_scores": "red:90", "tlp_limit": "TLP:GREEN"}))
        .unwrap();
        assert_eq!(
            (s.service.count, s.service.timeout.as_secs(), s.add_tags, s.extract_artifacts, s.tlp_limit),
            (250, 5, true, true, 1)
        );
        assert_eq!(s.zone_scores.score(crate::zone::Zone::Red), 90);
        let bad = |item: &str, value: Value| {
            let mut config = json!({"backend": "tip", "api_key": "k"});
            config[item] = value;
            settings(config).unwrap_err()
        };
        assert!(bad("count", json!(0)).contains("`count`: expected a whole number from 1 to 1000"));
        assert!(bad("count", json!(1001)).contains("`count`"));
        assert!(bad("timeout", json!("soon")).contains("`timeout`"));
        assert!(bad("add_tags", json!("maybe")).contains("`add_tags`: expected true or false"));
        assert!(bad("zone_scores", json!("red:200")).contains("`zone_scores`"));
        assert!(bad("tlp_limit", json!("PURPLE")).contains("`tlp_limit`"));
        assert!(bad("tlp_limit", json!(4)).contains("`tlp_limit`"));
        for (text, level) in [("clear", 0), ("WHITE", 0), ("amber+strict", 2), ("TLP:RED", 3)] {
            assert_eq!(parse_tlp(&json!(text)), Some(level), "{text}");
        }
    }
}
