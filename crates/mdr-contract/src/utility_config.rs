//! The MDR Integration Utility's `config.yml`: the one reader for the responders (`config_path`),
//! `mdr-token` (`--config-path`) and `mdr-sync` (`--config`).
//!
//! One set of rules for all three: relative paths are relative to the utility's folder (the
//! parent of the folder holding `config.yml`), as the utility resolves them; `ssl_cert: false`
//! means "no extra CA" (the utility would skip verification; we keep it on); text may be written
//! as a number, numbers and switches may be quoted ([`scalar`]).
//!
//! Strictness follows ownership. Every reader refuses a wrong type in the keys it reads, and an
//! unknown top-level key one or two edits from the MDR keys (`client-id`). [`SyncFile`] also owns
//! `mdr_sync` and `thehive`: any key there its structs do not declare is refused with the nearest
//! known key, and so is a top-level key close to a section name (`mdr-sync`). The utility's other
//! sections (`kuma`, `event_sender`, `logging`, `token_updater`, ...) are never checked.

mod layer;
pub mod scalar;
mod sections;
mod strict;

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_yaml::Value as Yaml;

pub use layer::{MdrKey, MdrLayer, Source, Sourced};
pub use scalar::{CaSetting, Switch, Text, TextList, Whole, given};
pub use sections::{
    FilterSection, HiveSection, IncidentFilter, IncidentModule, ResolvedStatus, SyncModules, SyncSection,
};
pub use strict::UnknownKey;

use sections::SyncSections;
use strict::{check_near_misses, fields_of};

/// Top-level keys and sections of the utility that no program here reads, accepted as they are.
const UTILITY_ONLY: &[&str] = &["data_dir", "token_updater", "kuma", "event_sender", "logging"];

/// `config.yml` cannot be used. `file` names it as the program's user knows it
/// (`config_path /opt/mdr/conf/config.yml` in a responder).
#[derive(Debug, thiserror::Error)]
pub enum UtilityConfigError {
    #[error("Cannot read {file}: {reason}")]
    Unreadable { file: String, reason: String },
    #[error("{file} is not valid YAML: {reason}")]
    InvalidYaml { file: String, reason: String },
    /// serde's text, which names the key and the type expected:
    /// `mdr_sync.filter.statuses: invalid type: string "Open", expected a list such as [Open] at line 4 column 15`.
    #[error("{file}: {detail}")]
    WrongType { file: String, detail: String },
    #[error("{file}: {problem}")]
    UnknownKey { file: String, problem: UnknownKey },
}

/// The MDR keys at the top of `config.yml`.
#[derive(Debug, Default, Deserialize)]
struct MdrKeys {
    api_url: Option<Text>,
    client_id: Option<Text>,
    token_dir: Option<Text>,
    ssl_cert: Option<CaSetting>,
}

/// The utility's MDR settings, read and typed; paths already resolved against the utility's folder.
#[derive(Debug, Clone)]
pub struct UtilityConfig {
    pub path: PathBuf,
    /// How messages name the file.
    pub file: String,
    pub api_url: Option<String>,
    pub client_id: Option<String>,
    /// `token_dir`, else the utility's default `conf`.
    pub token_dir: PathBuf,
    pub ssl_cert: CaFile,
}

/// What `ssl_cert` asks for, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaFile {
    /// The system trust store only (no `ssl_cert`, or `true`).
    SystemStore,
    /// `ssl_cert: false`: the utility would not verify; we verify against the system trust store.
    VerifyOffIgnored,
    File(PathBuf),
}

impl CaFile {
    pub fn path(&self) -> Option<&Path> {
        match self {
            CaFile::File(path) => Some(path),
            _ => None,
        }
    }
}

impl UtilityConfig {
    /// Reads the MDR keys; `named_by` is what pointed at the file (`config_path`, `--config-path`).
    pub fn load(path: &Path, named_by: Option<&str>) -> Result<UtilityConfig, UtilityConfigError> {
        let file = match named_by {
            Some(name) => format!("{name} {}", path.display()),
            None => path.display().to_string(),
        };
        let parsed = Parsed::read(path, file)?;
        parsed.near_misses(fields_of::<MdrKeys>())?;
        parsed.typed::<MdrKeys>().map(|keys| UtilityConfig::from_keys(path, parsed.file.clone(), keys))
    }

    fn from_keys(path: &Path, file: String, keys: MdrKeys) -> UtilityConfig {
        let utility_dir = utility_dir(path);
        let ssl_cert = match keys.ssl_cert {
            None | Some(CaSetting::SystemStore) => CaFile::SystemStore,
            Some(CaSetting::VerifyOff) => CaFile::VerifyOffIgnored,
            Some(CaSetting::File(value)) => CaFile::File(resolve(&utility_dir, &value)),
        };
        UtilityConfig {
            path: path.to_owned(),
            file,
            api_url: given(&keys.api_url).map(str::to_owned),
            client_id: given(&keys.client_id).map(str::to_owned),
            token_dir: resolve(&utility_dir, given(&keys.token_dir).unwrap_or("conf")),
            ssl_cert,
        }
    }

    /// The utility's folder: `<utility>/conf/config.yml` → `<utility>`.
    pub fn utility_dir(&self) -> PathBuf {
        utility_dir(&self.path)
    }

    /// A path from `config.yml`, relative to the utility's folder unless absolute.
    pub fn resolve(&self, value: &str) -> PathBuf {
        resolve(&self.utility_dir(), value)
    }

    /// The MDR settings this file gives, each marked as coming from it.
    pub fn layer(&self) -> MdrLayer {
        let source = || Source::File(self.path.clone());
        MdrLayer {
            api_url: self.api_url.clone().map(|v| Sourced::new(v, source())),
            client_id: self.client_id.clone().map(|v| Sourced::new(v, source())),
            token_dir: Some(Sourced::new(self.token_dir.clone(), source())),
            ssl_cert: self.ssl_cert.path().map(|p| Sourced::new(p.to_owned(), source())),
        }
    }
}

/// `config.yml` as `mdr-sync` reads it: the MDR keys and the two sections it owns, strictly.
#[derive(Debug, Clone)]
pub struct SyncFile {
    pub utility: UtilityConfig,
    pub mdr_sync: SyncSection,
    pub thehive: HiveSection,
}

impl SyncFile {
    pub fn load(path: &Path) -> Result<SyncFile, UtilityConfigError> {
        let parsed = Parsed::read(path, path.display().to_string())?;
        parsed.near_misses(&Parsed::known_at_top())?;
        sections::check_sections(&parsed.root).map_err(|problem| parsed.unknown(problem))?;
        let keys = parsed.typed::<MdrKeys>()?;
        let sections = parsed.typed::<SyncSections>()?;
        Ok(SyncFile {
            utility: UtilityConfig::from_keys(path, parsed.file.clone(), keys),
            mdr_sync: sections.mdr_sync.unwrap_or_default(),
            thehive: sections.thehive.unwrap_or_default(),
        })
    }
}

/// The file's text, parsed once as a tree (for the key checks); typed views are read from the text
/// so that serde's messages carry the key's path.
struct Parsed {
    file: String,
    text: String,
    root: Yaml,
}

impl Parsed {
    fn read(path: &Path, file: String) -> Result<Parsed, UtilityConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| UtilityConfigError::Unreadable { file: file.clone(), reason: e.to_string() })?;
        let root: Yaml = serde_yaml::from_str(&text)
            .map_err(|e| UtilityConfigError::InvalidYaml { file: file.clone(), reason: e.to_string() })?;
        if !matches!(root, Yaml::Mapping(_) | Yaml::Null) {
            let reason = "it must hold keys such as `client_id: ...`".to_owned();
            return Err(UtilityConfigError::InvalidYaml { file, reason });
        }
        Ok(Parsed { file, text, root })
    }

    /// Every top-level key or section known to the utility or to us.
    fn known_at_top() -> Vec<&'static str> {
        [fields_of::<MdrKeys>(), fields_of::<SyncSections>(), UTILITY_ONLY].concat()
    }

    /// Refuses an unknown top-level key close to one of `owned`.
    fn near_misses(&self, owned: &[&'static str]) -> Result<(), UtilityConfigError> {
        check_near_misses(&self.root, owned, &Parsed::known_at_top()).map_err(|problem| self.unknown(problem))
    }

    fn typed<T: DeserializeOwned + Default>(&self) -> Result<T, UtilityConfigError> {
        if self.root.is_null() {
            return Ok(T::default());
        }
        serde_yaml::from_str(&self.text)
            .map_err(|e| UtilityConfigError::WrongType { file: self.file.clone(), detail: e.to_string() })
    }

    fn unknown(&self, problem: UnknownKey) -> UtilityConfigError {
        UtilityConfigError::UnknownKey { file: self.file.clone(), problem }
    }
}

fn utility_dir(config: &Path) -> PathBuf {
    let conf_dir = config.parent().unwrap_or(Path::new("."));
    conf_dir.parent().unwrap_or(Path::new(".")).to_owned()
}

fn resolve(utility_dir: &Path, value: &str) -> PathBuf {
    let path = Path::new(value);
    if path.is_absolute() { path.to_owned() } else { utility_dir.join(path) }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn write(yaml: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("conf")).unwrap();
        let path = dir.path().join("conf/config.yml");
        std::fs::write(&path, yaml).unwrap();
        (dir, path)
    }

    fn sync_error(yaml: &str) -> String {
        let (_dir, path) = write(yaml);
        SyncFile::load(&path).unwrap_err().to_string()
    }

    /// The utility's sample config.yml of its later versions (klsecservices/MDR-integrations,
    /// `mdr_integration/conf/sample_config.yml`), values shortened: every section accepted.
    const LATER_SAMPLE: &str = "api_url: https://mdr.kaspersky.com/api/v1\nclient_id: 1f1f\ntoken_dir: conf\n\
        data_dir: data\ntoken_updater:\n  timeout: 590\nmdr_sync:\n  modules:\n    incident:\n      enable: false\n\
        \x20     timeout: 60\n      max_incidents_at_time: 10\n      download_attachments_size_limit: 1000000\n\
        \x20     exclude_author: John Connor\n      filter:\n        statuses: [Open]\n        priorities: [LOW]\n\
        \x20       min_creation_time: 1655096127000\n    asset:\n      enable: true\n      output_format: json\n\
        \x20     filter: {statuses: [OK]}\nkuma:\n  api_url: https://192.168.1.1:7223\n  api_token: t\n\
        \x20 modules: {incident: {enable: true}}\nthehive:\n  api_url: http://127.0.0.1:9000\n  api_key: k\n\
        \x20 ssl_cert: /opt/mdr/conf/thehive.pem\n  modules:\n    incident: {enable: false, timeout: 60}\n\
        event_sender:\n  destination_host: 192.168.0.1\n  syslog_header: true\nlogging:\n  log_dir: log\n";

    #[test]
    fn the_utility_sample_is_read_whole() {
        let (dir, path) = write(LATER_SAMPLE);
        let file = SyncFile::load(&path).unwrap();
        assert_eq!(file.utility.client_id.as_deref(), Some("1f1f"));
        assert_eq!(file.utility.token_dir, dir.path().join("conf"));
        let incident = file.mdr_sync.modules.unwrap().incident.unwrap();
        assert_eq!(incident.max_incidents_at_time, Some(Whole(10)));
        let filter = incident.filter.unwrap().to_request();
        assert_eq!(
            serde_json::Value::Object(filter),
            serde_json::json!({"statuses": ["Open"], "priorities": ["LOW"], "min_creation_time": 1_655_096_127_000_u64})
        );
        assert_eq!(file.thehive.ssl_cert, Some(CaSetting::File("/opt/mdr/conf/thehive.pem".into())));
    }

    #[test]
    fn the_v1_filter_layout_and_paging_keys() {
        let yaml = "mdr_sync:\n  filter:\n    incidents:\n      statuses: [Open]\n      page_size: 3\n      sort: x\n";
        let (_dir, path) = write(yaml);
        let filter = SyncFile::load(&path).unwrap().mdr_sync.filter.unwrap().to_request();
        assert_eq!(serde_json::Value::Object(filter), serde_json::json!({"statuses": ["Open"]}));
    }

    #[test]
    fn typos_in_owned_sections_name_the_nearest_key() {
        let err = sync_error("mdr_sync:\n  max_incident_at_time: 2\n");
        assert!(
            err.ends_with(": unknown key `mdr_sync.max_incident_at_time`: did you mean `max_incidents_at_time`?"),
            "{err}"
        );
        let err = sync_error("mdr-sync:\n  filter: {incidents: {statuses: [Open]}}\n");
        assert!(err.ends_with(": unknown key `mdr-sync`: did you mean `mdr_sync`?"), "{err}");
        let err = sync_error("thehive:\n  organization: SOC\n");
        assert!(err.ends_with("unknown key `thehive.organization`: did you mean `organisation`?"), "{err}");
        let err = sync_error("mdr_sync:\n  modules:\n    incident:\n      filter: {status: [Open]}\n");
        assert!(
            err.ends_with("unknown key `mdr_sync.modules.incident.filter.status`: did you mean `statuses`?"),
            "{err}"
        );
        let err = sync_error("mdr_sync:\n  filter:\n    incidents: {}\n    statuses: [Open]\n");
        assert!(err.contains("unknown key `mdr_sync.filter.statuses` (known here: `incidents`)"), "{err}");
        let err = sync_error("logginng: {}\n");
        assert!(err.ends_with(": unknown key `logginng`: did you mean `logging`?"), "{err}");
        let err = sync_error("client-id: c\n");
        assert!(err.ends_with("unknown key `client-id`: did you mean `client_id`?"), "{err}");
        let err = sync_error("thehive:\n  resolved_status: {true_positve: TP}\n");
        assert!(err.contains("did you mean `true_positive`?"), "{err}");
    }

    #[test]
    fn wrong_types_name_the_key_and_the_type() {
        let err = sync_error("mdr_sync:\n  filter:\n    incidents:\n      statuses: Open\n");
        assert!(
            err.contains("mdr_sync.filter.incidents.statuses: invalid type: string \"Open\", expected a list"),
            "{err}"
        );
        let err = sync_error("mdr_sync:\n  max_incidents_at_time: many\n");
        assert!(
            err.contains("mdr_sync.max_incidents_at_time: invalid value: string \"many\", expected a whole number"),
            "{err}"
        );
        let err = sync_error("thehive:\n  resolve_cases: maybe\n");
        assert!(
            err.contains("thehive.resolve_cases: invalid value: string \"maybe\", expected true or false"),
            "{err}"
        );
        let err = sync_error("client_id: [a]\n");
        assert!(err.contains("client_id: invalid type: sequence, expected text"), "{err}");
        assert!(sync_error("- a\n- b\n").contains("is not valid YAML: it must hold keys"));
        let err = sync_error("mdr_sync: 5\n");
        assert!(err.contains("mdr_sync: invalid type: integer `5`, expected a section of keys"), "{err}");
    }

    #[test]
    fn the_mdr_reader_owns_only_the_mdr_keys() {
        // Typos in sections the responders do not read stay someone else's business.
        let (dir, path) =
            write("client_id: 42\nmdr-sync: {}\nthehive: {organization: x, case_tlp: many}\nssl_cert: false\n");
        let config = UtilityConfig::load(&path, Some("config_path")).unwrap();
        assert_eq!(config.client_id.as_deref(), Some("42"));
        assert_eq!(config.ssl_cert, CaFile::VerifyOffIgnored);
        assert_eq!(config.token_dir, dir.path().join("conf"));
        assert_eq!(config.layer().ssl_cert, None);
        std::fs::write(&path, "client-id: c\n").unwrap();
        let err = UtilityConfig::load(&path, Some("config_path")).unwrap_err().to_string();
        assert_eq!(err, format!("config_path {}: unknown key `client-id`: did you mean `client_id`?", path.display()));
        std::fs::write(&path, "token_dir: 5\nssl_cert: certs/mdr.pem\n").unwrap();
        let config = UtilityConfig::load(&path, None).unwrap();
        assert_eq!(config.token_dir, dir.path().join("5"));
        assert_eq!(config.ssl_cert, CaFile::File(dir.path().join("certs/mdr.pem")));
        std::fs::write(&path, "").unwrap();
        assert_eq!(UtilityConfig::load(&path, None).unwrap().client_id, None);
    }
}
