//! The `KASPERSKY_*` settings, read and validated as the Python connector's `settings.py` and
//! `constants.py` do (same keys, defaults and accepted values), plus the OpenTIP switch.
//!
//! - `KASPERSKY_API_KEY` (required), `KASPERSKY_API_BASE_URL` (`https://tip.kaspersky.com`).
//! - `KASPERSKY_USE_OPENTIP` (ours, after the upstream request for OpenTIP: default false; a base URL
//!   on `opentip.kaspersky.com` also selects OpenTIP, and with the switch on and no base URL the
//!   OpenTIP address is used).
//! - `KASPERSKY_MAX_TLP` (`TLP:AMBER`), `KASPERSKY_ZONE_OCTI_SCORE_MAPPING`
//!   (`red:100,orange:80,yellow:60,gray:20,green:0`, `grey` added as a copy of `gray`).
//! - `KASPERSKY_{FILE,IPV4,DOMAIN,URL}_SECTIONS`: names from the connector's supported list only;
//!   the three mandatory sections are appended when missing.

use std::collections::BTreeMap;
use std::fmt;

use kaspersky_tip::config::{Auth, Backend, OPENTIP_URL, TIP_URL, check_api_url, known_sections};
use kaspersky_tip::observable::Kind;
use safekeeping::Secret;

use crate::config::{ConfigError, ConfigSource, Sourced, parse_bool};

/// The TLP levels `KASPERSKY_MAX_TLP` accepts, as written there.
pub const TLP_LEVELS: [&str; 6] = ["TLP:CLEAR", "TLP:WHITE", "TLP:GREEN", "TLP:AMBER", "TLP:AMBER+STRICT", "TLP:RED"];

/// One lookup type's settings key, its config.yml key, and the sections the Python connector supports
/// for it (the first three mandatory).
struct SectionKey {
    kind: Kind,
    env: &'static str,
    yaml: &'static str,
    supported: &'static [&'static str],
}

const SECTION_KEYS: [SectionKey; 4] = [
    SectionKey {
        kind: Kind::Hash,
        env: "KASPERSKY_FILE_SECTIONS",
        yaml: "file_sections",
        supported: &[
            "LicenseInfo",
            "Zone",
            "FileGeneralInfo",
            "DetectionsInfo",
            "FileDownloadedFromUrls",
            "Industries",
            "FileNames",
        ],
    },
    SectionKey {
        kind: Kind::Ip,
        env: "KASPERSKY_IPV4_SECTIONS",
        yaml: "ipv4_sections",
        supported: &[
            "LicenseInfo",
            "Zone",
            "IpGeneralInfo",
            "FilesDownloadedFromIp",
            "HostedUrls",
            "IpWhoIs",
            "IpDnsResolutions",
            "Industries",
        ],
    },
    SectionKey {
        kind: Kind::Domain,
        env: "KASPERSKY_DOMAIN_SECTIONS",
        yaml: "domain_sections",
        supported: &[
            "LicenseInfo",
            "Zone",
            "DomainGeneralInfo",
            "DomainDnsResolutions",
            "FilesDownloaded",
            "FilesAccessed",
            "Industries",
        ],
    },
    SectionKey {
        kind: Kind::Url,
        env: "KASPERSKY_URL_SECTIONS",
        yaml: "url_sections",
        supported: &["LicenseInfo", "Zone", "UrlGeneralInfo", "FilesDownloaded", "FilesAccessed", "Industries"],
    },
];

/// Zone (lower case, `grey` and `gray` both present) → OpenCTI score, as the Python mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneScores(BTreeMap<String, i64>);

impl ZoneScores {
    /// The score of a zone as TIP writes it (`Red`, `Grey`…); `None` for a zone the mapping lacks.
    pub fn score(&self, zone: &str) -> Option<i64> {
        self.0.get(&zone.to_lowercase()).copied()
    }

    /// The Python parser: spaces removed, `zone:integer` pairs split on commas, keys lower-cased,
    /// and `grey` set to the `gray` score (which must be there).
    pub fn parse(text: &str) -> Result<ZoneScores, String> {
        let compact: String = text.chars().filter(|c| *c != ' ').collect();
        let mut scores = BTreeMap::new();
        for pair in compact.split(',') {
            let mut parts = pair.split(':');
            let (Some(zone), Some(score)) = (parts.next(), parts.next()) else {
                return Err(format!("`{pair}` is not `zone:score` (e.g. red:100,orange:80,yellow:60,gray:20,green:0)"));
            };
            let score =
                score.parse::<i64>().map_err(|_| format!("the score of `{zone}` (`{score}`) is not a whole number"))?;
            scores.insert(zone.to_lowercase(), score);
        }
        let gray =
            *scores.get("gray").ok_or("the mapping must give a score for `gray` (it is also used for `grey`)")?;
        scores.insert("grey".to_owned(), gray);
        Ok(ZoneScores(scores))
    }
}

impl Default for ZoneScores {
    fn default() -> ZoneScores {
        // The default text always parses.
        ZoneScores::parse(DEFAULT_ZONE_SCORES).unwrap_or(ZoneScores(BTreeMap::new()))
    }
}

pub const DEFAULT_ZONE_SCORES: &str = "red:100,orange:80,yellow:60,gray:20,green:0";

/// The validated `KASPERSKY_*` settings. Debug never shows the API key.
#[derive(Clone)]
pub struct KasperskyConfig {
    pub backend: Backend,
    pub api_url: cortex_http::HttpUrl,
    pub api_key: Secret,
    /// One of [`TLP_LEVELS`], upper-cased.
    pub max_tlp: String,
    pub zone_scores: ZoneScores,
    /// Sections per lookup type, in the order sent (TIP only; OpenTIP has none).
    pub sections: BTreeMap<&'static str, Vec<&'static str>>,
}

impl fmt::Debug for KasperskyConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KasperskyConfig")
            .field("backend", &self.backend)
            .field("api_url", &self.api_url.as_str())
            .field("api_key", &"<redacted>")
            .field("max_tlp", &self.max_tlp)
            .field("zone_scores", &self.zone_scores)
            .field("sections", &self.sections)
            .finish()
    }
}

impl KasperskyConfig {
    pub fn from_source(source: &ConfigSource) -> Result<KasperskyConfig, ConfigError> {
        let api_key = source.required("KASPERSKY_API_KEY", &["kaspersky", "api_key"])?;
        let base_url = source.text("KASPERSKY_API_BASE_URL", &["kaspersky", "api_base_url"]);
        let use_opentip = match source.text("KASPERSKY_USE_OPENTIP", &["kaspersky", "use_opentip"]) {
            None => false,
            Some(Sourced { value, origin }) => {
                parse_bool(&value).ok_or_else(|| ConfigError::invalid(&origin, "expected true or false"))?
            }
        };
        let on_opentip_host =
            base_url.as_ref().is_some_and(|url| url.value.to_ascii_lowercase().contains("://opentip.kaspersky.com"));
        let backend = if use_opentip || on_opentip_host { Backend::OpenTip } else { Backend::Tip };
        let (url_text, url_origin) = match &base_url {
            Some(Sourced { value, origin }) => (value.trim().to_owned(), origin.clone()),
            None => (if use_opentip { OPENTIP_URL } else { TIP_URL }.to_owned(), "KASPERSKY_API_BASE_URL".to_owned()),
        };
        let api_url = check_api_url(&url_text, backend).map_err(|reason| ConfigError::invalid(&url_origin, reason))?;

        let max_tlp = match source.text("KASPERSKY_MAX_TLP", &["kaspersky", "max_tlp"]) {
            None => "TLP:AMBER".to_owned(),
            Some(Sourced { value, origin }) => {
                TLP_LEVELS.iter().find(|level| **level == value).map(|level| (*level).to_owned()).ok_or_else(|| {
                    ConfigError::invalid(&origin, format!("expected one of {}", TLP_LEVELS.join(", ")))
                })?
            }
        };
        let zone_scores =
            match source.text("KASPERSKY_ZONE_OCTI_SCORE_MAPPING", &["kaspersky", "zone_octi_score_mapping"]) {
                None => ZoneScores::default(),
                Some(Sourced { value, origin }) => {
                    ZoneScores::parse(&value).map_err(|reason| ConfigError::invalid(&origin, reason))?
                }
            };
        let mut sections = BTreeMap::new();
        for key in &SECTION_KEYS {
            let list = match source.text(key.env, &["kaspersky", key.yaml]) {
                None => key.supported[..3].to_vec(),
                Some(Sourced { value, origin }) => {
                    parse_sections(key, &value).map_err(|reason| ConfigError::invalid(&origin, reason))?
                }
            };
            sections.insert(key.kind.as_str(), list);
        }
        Ok(KasperskyConfig {
            backend,
            api_url,
            api_key: Secret::new(api_key.value.trim()),
            max_tlp,
            zone_scores,
            sections,
        })
    }

    /// The sections sent for a lookup type.
    pub fn sections(&self, kind: Kind) -> &[&'static str] {
        self.sections.get(kind.as_str()).map_or(&[], Vec::as_slice)
    }

    /// How requests authenticate: TIP takes the key as a bearer token (as the Python connector
    /// sends it), OpenTIP as `x-api-key`.
    pub fn auth(&self) -> Auth {
        match self.backend {
            Backend::Tip => Auth::Bearer(self.api_key.clone()),
            Backend::OpenTip => Auth::ApiKey(self.api_key.clone()),
        }
    }
}

/// Spaces removed, every name in the supported list (exact case, as Python compares), then the
/// mandatory names appended when missing. The order and any repetition are kept as given.
fn parse_sections(key: &SectionKey, text: &str) -> Result<Vec<&'static str>, String> {
    let compact: String = text.chars().filter(|c| *c != ' ').collect();
    let mut sections = Vec::new();
    for name in compact.split(',') {
        let known = key
            .supported
            .iter()
            .find(|supported| **supported == name)
            .ok_or_else(|| format!("invalid section `{name}` (supported: {})", key.supported.join(", ")))?;
        sections.push(*known);
    }
    for mandatory in &key.supported[..3] {
        if !sections.contains(mandatory) {
            sections.push(*mandatory);
        }
    }
    // Every supported name is also one the TIP client knows for this type.
    debug_assert!(sections.iter().all(|name| known_sections(key.kind).contains(name)));
    Ok(sections)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<KasperskyConfig, String> {
        let env = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        KasperskyConfig::from_source(&ConfigSource::from_parts(env, None)).map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_are_the_python_connectors() {
        let c = config(&[("KASPERSKY_API_KEY", "k")]).unwrap();
        assert_eq!((c.backend, c.api_url.as_str(), c.max_tlp.as_str()), (Backend::Tip, TIP_URL, "TLP:AMBER"));
        assert_eq!(c.sections(Kind::Hash), ["LicenseInfo", "Zone", "FileGeneralInfo"]);
        assert_eq!(c.sections(Kind::Ip), ["LicenseInfo", "Zone", "IpGeneralInfo"]);
        assert_eq!(c.sections(Kind::Domain), ["LicenseInfo", "Zone", "DomainGeneralInfo"]);
        assert_eq!(c.sections(Kind::Url), ["LicenseInfo", "Zone", "UrlGeneralInfo"]);
        assert_eq!(
            (c.zone_scores.score("Grey"), c.zone_scores.score("gray"), c.zone_scores.score("RED")),
            (Some(20), Some(20), Some(100))
        );
        assert!(matches!(c.auth(), Auth::Bearer(_)));
        assert!(!format!("{c:?}").contains("\"k\""));
    }

    #[test]
    fn api_key_is_required_and_never_shown() {
        let error = config(&[]).unwrap_err();
        assert!(error.contains("KASPERSKY_API_KEY"), "{error}");
        let c = config(&[("KASPERSKY_API_KEY", "hunter2-SECRET")]).unwrap();
        assert!(!format!("{c:?}").contains("hunter2"));
    }

    #[test]
    fn yaml_keys_are_read_under_kaspersky() {
        let yaml: serde_yaml::Value = serde_yaml::from_str(
            "kaspersky:\n  api_key: y\n  max_tlp: TLP:RED\n  file_sections: DetectionsInfo,Zone\n",
        )
        .unwrap();
        let c = KasperskyConfig::from_source(&ConfigSource::from_parts(BTreeMap::new(), Some(yaml))).unwrap();
        assert_eq!(c.max_tlp, "TLP:RED");
        assert_eq!(c.sections(Kind::Hash), ["DetectionsInfo", "Zone", "LicenseInfo", "FileGeneralInfo"]);
    }

    #[test]
    fn sections_are_validated_with_the_key_named() {
        let c = config(&[("KASPERSKY_API_KEY", "k"), ("KASPERSKY_IPV4_SECTIONS", "IpWhoIs, HostedUrls")]).unwrap();
        assert_eq!(c.sections(Kind::Ip), ["IpWhoIs", "HostedUrls", "LicenseInfo", "Zone", "IpGeneralInfo"]);
        for (key, value) in [
            ("KASPERSKY_URL_SECTIONS", "IpWhoIs"),
            ("KASPERSKY_FILE_SECTIONS", "detectionsinfo"),
            ("KASPERSKY_DOMAIN_SECTIONS", ""),
            ("KASPERSKY_FILE_SECTIONS", "FileParentCertificates"),
        ] {
            let error = config(&[("KASPERSKY_API_KEY", "k"), (key, value)]).unwrap_err();
            assert!(error.starts_with(key) && error.contains("invalid section"), "{error}");
        }
    }

    #[test]
    fn max_tlp_accepts_exactly_the_python_literals() {
        for level in TLP_LEVELS {
            assert_eq!(config(&[("KASPERSKY_API_KEY", "k"), ("KASPERSKY_MAX_TLP", level)]).unwrap().max_tlp, level);
        }
        for bad in ["AMBER", "tlp:amber", "TLP:PURPLE", ""] {
            let error = config(&[("KASPERSKY_API_KEY", "k"), ("KASPERSKY_MAX_TLP", bad)]).unwrap_err();
            assert!(error.starts_with("KASPERSKY_MAX_TLP"), "{error}");
        }
    }

    #[test]
    fn zone_mapping_like_python() {
        let scores = ZoneScores::parse(" Red:90, ORANGE : 70 ,gray:5").unwrap();
        assert_eq!(
            (scores.score("red"), scores.score("Orange"), scores.score("Grey"), scores.score("green")),
            (Some(90), Some(70), Some(5), None)
        );
        assert!(ZoneScores::parse("red:100").unwrap_err().contains("`gray`"));
        assert!(ZoneScores::parse("red=1,gray:2").unwrap_err().contains("not `zone:score`"));
        assert!(ZoneScores::parse("red:high,gray:2").unwrap_err().contains("not a whole number"));
        let error = config(&[("KASPERSKY_API_KEY", "k"), ("KASPERSKY_ZONE_OCTI_SCORE_MAPPING", "red:1")]).unwrap_err();
        assert!(error.starts_with("KASPERSKY_ZONE_OCTI_SCORE_MAPPING"), "{error}");
    }

    #[test]
    fn opentip_by_switch_or_by_address() {
        let c = config(&[("KASPERSKY_API_KEY", "k"), ("KASPERSKY_USE_OPENTIP", "true")]).unwrap();
        assert_eq!((c.backend, c.api_url.as_str()), (Backend::OpenTip, OPENTIP_URL));
        assert!(matches!(c.auth(), Auth::ApiKey(_)));
        let c = config(&[("KASPERSKY_API_KEY", "k"), ("KASPERSKY_API_BASE_URL", "https://opentip.kaspersky.com/")])
            .unwrap();
        assert_eq!(c.backend, Backend::OpenTip);
        let error = config(&[("KASPERSKY_API_KEY", "k"), ("KASPERSKY_USE_OPENTIP", "maybe")]).unwrap_err();
        assert!(error.starts_with("KASPERSKY_USE_OPENTIP"), "{error}");
    }

    #[test]
    fn base_url_is_checked() {
        let c = config(&[("KASPERSKY_API_KEY", "k"), ("KASPERSKY_API_BASE_URL", "http://127.0.0.1:9/")]).unwrap();
        assert_eq!(c.api_url.as_str(), "http://127.0.0.1:9");
        let error =
            config(&[("KASPERSKY_API_KEY", "k"), ("KASPERSKY_API_BASE_URL", "http://tip.example")]).unwrap_err();
        assert!(error.starts_with("KASPERSKY_API_BASE_URL") && error.contains("https"), "{error}");
        let error =
            config(&[("KASPERSKY_API_KEY", "k"), ("KASPERSKY_API_BASE_URL", "https://u:pw@tip.example")]).unwrap_err();
        assert!(!error.contains("pw"), "{error}");
    }
}
