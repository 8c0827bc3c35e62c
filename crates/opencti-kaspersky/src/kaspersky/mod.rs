//! The `KASPERSKY_*` settings (engineer A replaces this placeholder).

use crate::config::{ConfigError, ConfigSource};

/// Placeholder until engineer A's settings land.
#[derive(Debug, Clone)]
pub struct KasperskyConfig;

impl KasperskyConfig {
    pub fn from_source(_source: &ConfigSource) -> Result<KasperskyConfig, ConfigError> {
        Ok(KasperskyConfig)
    }
}
