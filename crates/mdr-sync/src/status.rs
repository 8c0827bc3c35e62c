//! `mdr-sync status`: how the service is doing, from its state file alone (no API call), for a
//! person (text) or a monitor (`--json`), with an exit code a health check can use.

use std::io::{self, Write};

use serde_json::json;

use crate::state::{Passes, State, now_ms};

/// A service that has not completed a pass in this many intervals is failing.
const MISSED_INTERVALS: i64 = 3;
/// The binary's default `--interval`, for state written by `--once` passes.
const DEFAULT_INTERVAL_SECS: u64 = 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    Healthy,
    /// Passes complete, but some incidents are parked.
    Degraded,
    /// No completed pass for [`MISSED_INTERVALS`] intervals, or none ever.
    Failing,
}

impl Health {
    pub fn exit_code(self) -> u8 {
        match self {
            Health::Healthy => 0,
            Health::Degraded => 1,
            Health::Failing => 2,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Health::Healthy => "healthy",
            Health::Degraded => "degraded",
            Health::Failing => "failing",
        }
    }
}

pub fn health(state: &State, now: i64) -> Health {
    let interval = state.passes.interval_secs.unwrap_or(DEFAULT_INTERVAL_SECS).max(1);
    let limit = i64::try_from(interval).unwrap_or(i64::MAX / 4_000).saturating_mul(1000 * MISSED_INTERVALS);
    match state.passes.last_ok {
        Some(ok) if now.saturating_sub(ok) <= limit => {
            if state.parked.is_empty() {
                Health::Healthy
            } else {
                Health::Degraded
            }
        }
        _ => Health::Failing,
    }
}

/// Writes the report; the health it found.
pub fn report(state: &State, as_json: bool, out: &mut dyn Write) -> io::Result<Health> {
    let now = now_ms();
    let health = health(state, now);
    if as_json {
        let parked: Vec<_> = state
            .parked
            .iter()
            .map(|p| {
                json!({"incident_id": p.incident_id, "label": p.label, "attempts": p.attempts,
                       "last_error": p.last_error, "since": p.since, "next_try": p.next_try})
            })
            .collect();
        let Passes { last, last_ok, last_error, interval_secs } = &state.passes;
        let doc = json!({"health": health.name(), "last_pass": last, "last_successful_pass": last_ok,
                         "last_error": last_error, "interval_secs": interval_secs, "cursor": state.cursor,
                         "parked": parked});
        writeln!(out, "{doc}")?;
        return Ok(health);
    }
    writeln!(out, "mdr-sync: {}", health.name())?;
    writeln!(out, "last pass: {}", ago(state.passes.last, now))?;
    writeln!(out, "last successful pass: {}", ago(state.passes.last_ok, now))?;
    if let Some(error) = &state.passes.last_error {
        writeln!(out, "last pass failed: {error}")?;
    }
    writeln!(out, "cursor: update_time {} (every incident changed before it is handled)", state.cursor)?;
    writeln!(out, "parked incidents: {}", state.parked.len())?;
    for p in &state.parked {
        let next = (p.next_try - now).max(0) / 1000;
        writeln!(out, "  {}: {} failed attempt(s), next try in {next} s: {}", p.label, p.attempts, p.last_error)?;
    }
    Ok(health)
}

fn ago(time: Option<i64>, now: i64) -> String {
    match time {
        Some(t) => format!("{} s ago (epoch ms {t})", (now - t).max(0) / 1000),
        None => "never".to_owned(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn health_follows_parked_incidents_and_missed_passes() {
        let now = 10_000_000;
        let mut state = State::starting_at(0);
        assert_eq!(health(&state, now), Health::Failing, "never passed");
        state.passes.last_ok = Some(now - 10_000);
        state.passes.interval_secs = Some(60);
        assert_eq!(health(&state, now), Health::Healthy);
        state.record("-Nz1", Some("HTTP 400"), "incident -Nz1", now);
        assert_eq!(health(&state, now), Health::Degraded);
        state.passes.last_ok = Some(now - 181_000);
        assert_eq!(health(&state, now), Health::Failing, "three intervals without a completed pass");
        let mut text = Vec::new();
        report(&state, false, &mut text).unwrap();
        let text = String::from_utf8(text).unwrap();
        assert!(text.contains("incident -Nz1: 1 failed attempt(s)") && text.contains("HTTP 400"), "{text}");
    }
}
