//! The MDR Integration Utility's `config.yml`, as the responders (`config_path`), `mdr-token` and
//! `mdr-sync` read it. Relative paths are relative to the utility's folder (the parent of the
//! folder holding `config.yml`), as the utility itself resolves them.

use std::path::{Path, PathBuf};

use serde_yaml::Value as Yaml;

/// `config.yml` cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum UtilityConfigError {
    #[error("Cannot read config_path {path}: {reason}")]
    Unreadable { path: String, reason: String },
    #[error("config_path {path} is not valid YAML: {reason}")]
    InvalidYaml { path: String, reason: String },
}

/// The parts of the MDR Integration Utility's `config.yml` the responders share.
#[derive(Debug)]
pub struct UtilityConfig {
    pub path: PathBuf,
    root: Yaml,
}

impl UtilityConfig {
    pub fn load(path: &Path) -> Result<UtilityConfig, UtilityConfigError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| UtilityConfigError::Unreadable { path: shown.clone(), reason: e.to_string() })?;
        let root: Yaml = serde_yaml::from_str(&text)
            .map_err(|e| UtilityConfigError::InvalidYaml { path: shown, reason: e.to_string() })?;
        Ok(UtilityConfig { path: path.to_owned(), root })
    }

    /// A top-level scalar as text (YAML may type a client id of digits as a number).
    pub fn text(&self, key: &str) -> Option<String> {
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
    pub fn path_text(&self, key: &str) -> Option<String> {
        match self.root.get(key)? {
            Yaml::Bool(_) => None,
            _ => self.text(key),
        }
    }

    /// The utility's folder: `<utility>/conf/config.yml` → `<utility>`.
    pub fn utility_dir(&self) -> PathBuf {
        let conf_dir = self.path.parent().unwrap_or(Path::new("."));
        conf_dir.parent().unwrap_or(Path::new(".")).to_owned()
    }

    pub fn resolve(&self, value: &str) -> PathBuf {
        let path = Path::new(value);
        if path.is_absolute() { path.to_owned() } else { self.utility_dir().join(path) }
    }

    /// The utility keeps its tokens in `conf` unless told otherwise.
    pub fn default_token_dir(&self) -> PathBuf {
        self.resolve("conf")
    }
}
