//! Log lines on stderr with pycti's levels; the level is set once at start. Callers never pass a
//! secret (messages name keys and ids, never values of tokens or keys).

use std::sync::atomic::{AtomicU8, Ordering};

use crate::config::LogLevel;

static LEVEL: AtomicU8 = AtomicU8::new(LogLevel::Info as u8);

pub fn set_level(level: LogLevel) {
    LEVEL.store(level as u8, Ordering::Relaxed);
}

fn emit(level: LogLevel, name: &str, message: &str) {
    if level as u8 >= LEVEL.load(Ordering::Relaxed) {
        let line = serde_json::json!({ "level": name, "name": "Kaspersky Enrichment", "message": message });
        eprintln!("{line}");
    }
}

pub fn debug(message: &str) {
    emit(LogLevel::Debug, "debug", message);
}
pub fn info(message: &str) {
    emit(LogLevel::Info, "info", message);
}
pub fn warn(message: &str) {
    emit(LogLevel::Warning, "warning", message);
}
pub fn error(message: &str) {
    emit(LogLevel::Error, "error", message);
}
