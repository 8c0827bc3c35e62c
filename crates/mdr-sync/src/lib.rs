//! `mdr-sync`: Kaspersky MDR incidents, comments, attachments and proposed responses into
//! TheHive cases, logs and `Response` tasks, the other direction of the MDR responders. It reads
//! the MDR Integration Utility's `config.yml` (`config`), refreshes tokens through the token store
//! the responders use (`mdr-api`), talks to TheHive 4 or 5 (`thehive`), and keeps its place in a state
//! file of its own (`state`); one pass is `sync::pass`.

pub mod config;
pub mod html;
pub mod log;
pub mod state;
pub mod status;
pub mod sync;
pub mod thehive;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use config::SyncConfig;
use log::log;
use thehive::TheHive;

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
    let hive = match TheHive::new(&config.thehive) {
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

fn check(config: &SyncConfig, hive: &TheHive) -> u8 {
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
    match hive.version() {
        Ok(v) => log(&format!("TheHive {} reached ({v:?})", config.thehive.url)),
        Err(err) => {
            log(&format!("TheHive check failed: {err}"));
            code = 1;
        }
    }
    if let Err(err) = state::State::load(&config.state_file, config.start_time) {
        log(&err.to_string());
        code = 1;
    }
    code
}

fn once(config: &SyncConfig, hive: &TheHive, stop: &AtomicBool) -> u8 {
    once_every(config, hive, stop, None)
}

fn once_every(config: &SyncConfig, hive: &TheHive, stop: &AtomicBool, interval: Option<Duration>) -> u8 {
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
fn every(config: &SyncConfig, hive: &TheHive, interval: Duration) -> u8 {
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
