//! What an MDR client is built from, already resolved: each program resolves it from its own
//! sources (a responder from Cortex items and `config.yml`, `mdr-sync` from `config.yml`).

use std::path::PathBuf;
use std::time::Duration;

use cortex_http::{Deadline, HttpConfig, HttpSettings, HttpUrl};

pub const DEFAULT_API_URL: &str = "https://mdr.kaspersky.com/api/v1";
/// Seconds one HTTP request may take; retries stop after twice that (see [`Deadline`]).
pub const DEFAULT_TIMEOUT_SECS: u64 = 30;
const USER_AGENT: &str = concat!("kaspersky-mdr-responders/", env!("CARGO_PKG_VERSION"));

/// The MDR connection settings.
#[derive(Debug, Clone)]
pub struct MdrSettings {
    /// Base URL without a trailing slash, e.g. `https://mdr.kaspersky.com/api/v1`.
    pub api_url: HttpUrl,
    pub client_id: String,
    pub token_dir: PathBuf,
    /// Extra CA bundle (PEM) trusted for the MDR API.
    pub ssl_cert: Option<PathBuf>,
    /// Longest wait for one HTTP request.
    pub timeout: Duration,
    /// When retries stop: a responder job's end ([`Deadline::for_job`], shared with the job's
    /// TheHive client through [`MdrSettings::http_config`]), or per request for `mdr-sync` and `mdr-token`.
    pub deadline: Deadline,
    /// The utility's `config.yml` when the settings came from it: the token folder is then shared
    /// with its token updater (see [`crate::token::TokenStore::for_settings`]).
    pub utility_config: Option<PathBuf>,
    pub http: HttpSettings,
}

impl MdrSettings {
    /// The HTTP layer's settings for MDR: `ssl_cert` first, then the Cortex or environment
    /// sources; the deadline.
    pub fn http_config(&self) -> HttpConfig {
        let config = HttpConfig::new(&self.http, self.timeout, USER_AGENT).with_deadline(self.deadline);
        match &self.ssl_cert {
            Some(path) => config.with_ca_file("`ssl_cert`", path.clone()),
            None => config,
        }
    }
}
