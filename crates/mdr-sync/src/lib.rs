//! `mdr-sync`: Kaspersky MDR incidents, comments, attachments and proposed responses into
//! TheHive cases, logs and `Response` tasks, the other direction of the MDR responders. It reads
//! the MDR Integration Utility's `config.yml` (`config`), refreshes tokens through the token store
//! the responders use (`mdr-api`), talks to TheHive 4 or 5 through the responders' client (the
//! `thehive` crate, built by [`thehive_client`]), and keeps its place in a state file of its own
//! (`state`); one pass is `sync::pass`.

pub mod config;
pub mod html;
pub mod log;
pub mod state;
pub mod status;
pub mod sync;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use config::{SyncConfig, TheHiveConfig};
use cortex_http::{HttpConfig, HttpSettings, HttpUrl};
use log::log;
use thehive::client::{DEFAULT_ATTACHMENT_MAX_MB, TheHiveClient, TheHiveSettings};
use thehive::{Naming, TheHiveError};

const USER_AGENT: &str = concat!("mdr-sync/", env!("CARGO_PKG_VERSION"));

/// The TheHive client of `config.yml`'s `thehive` section; its hints name the `thehive.*` keys.
pub fn thehive_client(config: &TheHiveConfig) -> Result<TheHiveClient, TheHiveError> {
    let url = HttpUrl::parse(&config.url)
        .map_err(|_| TheHiveError::InvalidUrl { value: config.url.clone(), naming: &Naming::SYNC_CONFIG })?;
    let settings = TheHiveSettings {
        url,
        api_key: config.api_key.clone(),
        organisation: config.organisation.clone(),
        version: config.version,
        // Unused by the sync (it uploads to TheHive, never downloads).
        attachment_max_bytes: DEFAULT_ATTACHMENT_MAX_MB * 1_000_000,
    };
    // The one HTTP layer of every client: the system store plus `thehive.ssl_cert` (a pinned
    // self-signed certificate included), environment proxies, no redirects.
    let mut http = HttpConfig::new(&HttpSettings::default(), config.timeout, USER_AGENT);
    if let Some(path) = &config.ssl_cert {
        http = http.with_ca_file("`thehive.ssl_cert`", path.clone());
    }
    TheHiveClient::new(settings, &http, &Naming::SYNC_CONFIG)
}

/// What the binary was asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Check,
    Once,
    Every(Duration),
}

/// `mdr-sync status`: the service's health from its state file; the exit code (0 healthy, 1
/// degraded, 2 failing or unreadable).
pub fn status(path: &Path, as_json: bool) -> u8 {
    let config = match SyncConfig::load(path) {
        Ok(config) => config,
        Err(err) => {
            log(&err.to_string());
            return 2;
        }
    };
    let state = match state::State::load(&config.state_file, config.start_time) {
        Ok(state) => state,
        Err(err) => {
            log(&err.to_string());
            return 2;
        }
    };
    match status::report(&state, as_json, &mut std::io::stdout().lock()) {
        Ok(health) => health.exit_code(),
        Err(err) => {
            log(&format!("cannot write the status: {err}"));
            2
        }
    }
}

/// Runs `mode` with the configuration at `path`; the exit code (0 success, 1 failure, 2 bad configuration).
pub fn run(path: &Path, mode: Mode) -> u8 {
    let config = match SyncConfig::load(path) {
        Ok(config) => config,
        Err(err) => {
            log(&err.to_string());
            return 2;
        }
    };
    for key in &config.ignored_verify_off {
        log(&format!("`{key}: false` ignored: TLS stays verified against the system trust store"));
    }
    let hive = match thehive_client(&config.thehive) {
        Ok(hive) => hive,
        Err(err) => {
            log(&err.to_string());
            return 2;
        }
    };
    match mode {
        Mode::Check => check(&config, &hive),
        Mode::Once => once(&config, &hive, &AtomicBool::new(false)),
        Mode::Every(interval) => every(&config, &hive, interval),
    }
}

fn check(config: &SyncConfig, hive: &TheHiveClient) -> u8 {
    let mdr = match mdr_api::MdrClient::new(&config.mdr) {
        Ok(mdr) => mdr,
        Err(err) => {
            log(&err.to_string());
            return 1;
        }
    };
    let mut code = 0;
    match mdr.changed_incidents(&config.filter, mdr_api::listing::Cursor { time: i64::MAX / 2, done: &[] }, 1) {
        Ok(_) => log(&format!("MDR API {} reached", config.mdr.api_url)),
        Err(err) => {
            log(&format!("MDR check failed: {err}"));
            code = 1;
        }
    }
    if let Err(err) = check_thehive(config, hive) {
        log(&format!("TheHive check failed: {err}"));
        code = 1;
    }
    if let Err(err) = state::State::load(&config.state_file, config.start_time) {
        log(&err.to_string());
        code = 1;
    }
    code
}

/// TheHive answers, takes the API key, and has the custom field the cases are found by.
fn check_thehive(config: &SyncConfig, hive: &TheHiveClient) -> Result<(), TheHiveError> {
    let version = hive.version()?;
    log(&format!("TheHive {} reached ({version:?})", config.thehive.url));
    let user = hive.current_user()?;
    log(&format!("TheHive API key accepted (user {user})"));
    hive.check_case_field(&config.thehive.incident_field)?;
    log(&format!("TheHive case custom field `{}` exists", config.thehive.incident_field));
    Ok(())
}

fn once(config: &SyncConfig, hive: &TheHiveClient, stop: &AtomicBool) -> u8 {
    once_every(config, hive, stop, None)
}

fn once_every(config: &SyncConfig, hive: &TheHiveClient, stop: &AtomicBool, interval: Option<Duration>) -> u8 {
    match sync::pass_every(config, hive, stop, interval) {
        Ok(summary) if summary.skipped => {
            let lock = state::PassLock::path(&config.state_file);
            log(&format!(
                "pass skipped: another mdr-sync pass holds {} (it mirrors the same incidents)",
                lock.display()
            ));
            0
        }
        Ok(summary) => {
            let rest = if summary.stopped { "; stopped before the next incident" } else { "" };
            log(&format!(
                "pass done: {} incident(s) handled, {} parked retried, {} failed, {} parked{rest}",
                summary.incidents, summary.retried, summary.failed, summary.parked
            ));
            u8::from(summary.failed > 0)
        }
        Err(err) => {
            log(&format!("pass failed: {err}"));
            1
        }
    }
}

/// Passes every `interval` until SIGTERM or SIGINT, which let the current incident finish.
fn every(config: &SyncConfig, hive: &TheHiveClient, interval: Duration) -> u8 {
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        if let Err(err) = signal_hook::flag::register(signal, Arc::clone(&stop)) {
            log(&format!("cannot catch signal {signal}: {err}"));
            return 1;
        }
    }
    while !stop.load(Ordering::SeqCst) {
        once_every(config, hive, &stop, Some(interval));
        let until = Instant::now() + interval;
        while Instant::now() < until && !stop.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(100).min(interval));
        }
    }
    log("stopped");
    0
}
