//! The synchronisation's own state file (not the utility's `.last_check`): the `update_time` up to
//! which every incident has been handled, the incidents already done at exactly that time, the
//! incidents whose mirror failed (parked, retried with a backoff so that none holds the others),
//! and when the passes ran (for `mdr-sync status`). Written atomically (temp file, fsync, rename),
//! so a kill leaves the old or the new state, and privately, as the token files are: 0600 when
//! new, never readable by others.
//!
//! The state only says where to start reading; what exists in TheHive is always looked up there
//! before anything is created, so a pass replayed after a crash duplicates nothing.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

use mdr_api::listing::Cursor;
use safekeeping::{FileMode, write_atomically};
use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("Cannot read the state file {path}: {reason}")]
    Unreadable { path: String, reason: String },
    #[error(
        "The state file {path} is damaged ({reason}): delete it to start again from `mdr_sync.start_time` (nothing is duplicated, TheHive is checked first)"
    )]
    Damaged { path: String, reason: String },
    #[error("Cannot write the state file {path}: {reason}")]
    Unwritable { path: String, reason: String },
}

/// Held for a whole pass. Two passes on one state file (a cron pass overlapping a slow one, a
/// manual `--once` beside the service) would both find an incident without a case and both
/// create one. Released when the pass ends or its process dies.
#[derive(Debug)]
pub struct PassLock {
    _file: File,
}

impl PassLock {
    /// The lock file beside the state file.
    pub fn path(state_file: &Path) -> PathBuf {
        let mut name = state_file.file_name().unwrap_or_default().to_os_string();
        name.push(".lock");
        state_file.with_file_name(name)
    }

    /// The lock, or `None` when another pass holds it (this one is then skipped, not queued).
    pub fn try_take(state_file: &Path) -> Result<Option<PassLock>, StateError> {
        let path = Self::path(state_file);
        let fail =
            |e: std::io::Error| StateError::Unwritable { path: path.display().to_string(), reason: e.to_string() };
        let file = OpenOptions::new().create(true).truncate(false).write(true).open(&path).map_err(fail)?;
        match file.try_lock() {
            Ok(()) => Ok(Some(PassLock { _file: file })),
            Err(TryLockError::WouldBlock) => Ok(None),
            Err(TryLockError::Error(e)) => Err(fail(e)),
        }
    }
}

/// Wait after a parked incident's second failure (the first is retried at the next pass); doubled
/// per failure after that, up to [`MAX_BACKOFF_MS`].
pub const FIRST_BACKOFF_MS: i64 = 60_000;
/// A poison incident costs a few requests per hour, not per pass.
pub const MAX_BACKOFF_MS: i64 = 3_600_000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// Every incident with a smaller `update_time` is mirrored or parked.
    pub cursor: i64,
    /// Incidents handled whose `update_time` equals `cursor`.
    pub done_at_cursor: Vec<String>,
    /// Incidents whose mirror failed, oldest failure first: retried when due, never blocking.
    #[serde(default)]
    pub parked: Vec<Parked>,
    /// When passes ran (absent in state files of earlier versions).
    #[serde(default)]
    pub passes: Passes,
}

/// An incident the cursor moved past although its mirror failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Parked {
    pub incident_id: String,
    /// `incident K-<number> (<id>)`, for messages.
    pub label: String,
    pub attempts: u32,
    pub last_error: String,
    /// Epoch ms of the first failure and of the next try.
    pub since: i64,
    pub next_try: i64,
}

/// Epoch ms of the last pass and of the last one that completed, and the interval the service runs at.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Passes {
    pub last: Option<i64>,
    pub last_ok: Option<i64>,
    pub last_error: Option<String>,
    pub interval_secs: Option<u64>,
}

/// How one incident of a pass ended.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub incident_id: String,
    pub update_time: i64,
    /// `None` when mirrored; the error's text when not.
    pub error: Option<String>,
}

impl State {
    pub fn load(path: &Path, start_time: i64) -> Result<State, StateError> {
        let shown = || path.display().to_string();
        match std::fs::read(path) {
            Ok(bytes) => {
                serde_json::from_slice(&bytes).map_err(|e| StateError::Damaged { path: shown(), reason: e.to_string() })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::starting_at(start_time)),
            Err(e) => Err(StateError::Unreadable { path: shown(), reason: e.to_string() }),
        }
    }

    pub fn starting_at(cursor: i64) -> State {
        State { cursor, done_at_cursor: Vec::new(), parked: Vec::new(), passes: Passes::default() }
    }

    /// Where the next listing starts (the listing skips what this covers).
    pub fn position(&self) -> Cursor<'_> {
        Cursor { time: self.cursor, done: &self.done_at_cursor }
    }

    /// Moves the cursor to `time` with nothing done at it, when that is forward (the listing
    /// found everything before `time` mirrored); whether it moved.
    pub fn settle_below(&mut self, time: i64) -> bool {
        if time <= self.cursor {
            return false;
        }
        self.cursor = time;
        self.done_at_cursor.clear();
        true
    }

    /// Moves past the outcomes (in `update_time` order), failures included: a failed incident is
    /// parked in the same state, so the cursor never holds the incidents behind it.
    pub fn advance(&mut self, outcomes: &[Outcome], label: impl Fn(&str) -> String, now: i64) {
        for outcome in outcomes {
            if outcome.update_time > self.cursor {
                self.cursor = outcome.update_time;
                self.done_at_cursor.clear();
            }
            if outcome.update_time == self.cursor && !self.done_at_cursor.contains(&outcome.incident_id) {
                self.done_at_cursor.push(outcome.incident_id.clone());
            }
            self.record(&outcome.incident_id, outcome.error.as_deref(), &label(&outcome.incident_id), now);
        }
    }

    /// A success unparks the incident; a failure parks it, or pushes its next try back.
    /// Returns the parked entry after a failure.
    pub fn record(&mut self, incident_id: &str, error: Option<&str>, label: &str, now: i64) -> Option<&Parked> {
        let at = self.parked.iter().position(|p| p.incident_id == incident_id);
        let Some(error) = error else {
            if let Some(at) = at {
                self.parked.remove(at);
            }
            return None;
        };
        let at = at.unwrap_or_else(|| {
            self.parked.push(Parked {
                incident_id: incident_id.to_owned(),
                label: label.to_owned(),
                attempts: 0,
                last_error: String::new(),
                since: now,
                next_try: now,
            });
            self.parked.len() - 1
        });
        let parked = &mut self.parked[at];
        parked.attempts += 1;
        parked.last_error = error.to_owned();
        parked.next_try = now + backoff_ms(parked.attempts);
        Some(&self.parked[at])
    }

    /// The parked incidents due at `now`, oldest failure first, at most `budget`.
    pub fn due(&self, now: i64, budget: usize) -> Vec<Parked> {
        self.parked.iter().filter(|p| p.next_try <= now).take(budget).cloned().collect()
    }

    pub fn save(&self, path: &Path) -> Result<(), StateError> {
        let fail =
            |e: std::io::Error| StateError::Unwritable { path: path.display().to_string(), reason: e.to_string() };
        let text = serde_json::to_vec_pretty(self).map_err(|e| fail(std::io::Error::other(e)))?;
        write_atomically(path, &text, FileMode::PrivateKeepExisting).map_err(fail)
    }
}

/// After failure `attempts`: the next pass (a passing fault), then 1 min, 2, 4, ... up to an hour.
pub fn backoff_ms(attempts: u32) -> i64 {
    match attempts {
        0 | 1 => 0,
        n => FIRST_BACKOFF_MS.saturating_mul(1_i64 << (n - 2).min(20)).min(MAX_BACKOFF_MS),
    }
}

/// Epoch milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn one_pass_at_a_time_per_state_file() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join(".mdr-sync-state.json");
        let held = PassLock::try_take(&state).unwrap().expect("free at first");
        assert!(PassLock::try_take(&state).unwrap().is_none(), "a second pass must not run beside the first");
        assert!(
            PassLock::try_take(&dir.path().join("other.json")).unwrap().is_some(),
            "another state file is another sync"
        );
        drop(held);
        assert!(PassLock::try_take(&state).unwrap().is_some(), "free again once the pass ends");
        assert_eq!(PassLock::path(&state), dir.path().join(".mdr-sync-state.json.lock"));
    }

    fn outcome(id: &str, t: i64, ok: bool) -> Outcome {
        Outcome { incident_id: id.to_owned(), update_time: t, error: (!ok).then(|| "HTTP 400".to_owned()) }
    }

    fn label(id: &str) -> String {
        format!("incident {id}")
    }

    #[test]
    fn moves_past_a_failure_and_parks_it() {
        let mut s = State { cursor: 5, done_at_cursor: vec!["a".to_owned()], ..State::starting_at(0) };
        s.advance(
            &[outcome("b", 5, true), outcome("c", 7, true), outcome("d", 9, false), outcome("e", 11, true)],
            label,
            1_000,
        );
        assert_eq!((s.cursor, s.done_at_cursor.clone()), (11, vec!["e".to_owned()]));
        assert_eq!(s.parked.len(), 1);
        let parked = &s.parked[0];
        assert_eq!((parked.incident_id.as_str(), parked.attempts, parked.next_try), ("d", 1, 1_000));
        assert_eq!(s.due(1_000, 10).len(), 1, "a first failure is retried at the next pass");
        s.record("d", Some("HTTP 400"), "incident d", 1_500);
        assert!(s.due(1_500, 10).is_empty(), "a second failure waits its backoff");
        assert_eq!(s.due(1_500 + FIRST_BACKOFF_MS, 10).len(), 1);
        assert_eq!(s.parked.len(), 1, "one entry per incident");
        s.advance(&[outcome("x", 11, true)], label, 2_000);
        assert_eq!(s.done_at_cursor, vec!["e".to_owned(), "x".to_owned()]);
        s.record("d", None, "incident d", 3_000);
        assert!(s.parked.is_empty(), "a later success unparks it");
    }

    #[test]
    fn the_backoff_doubles_up_to_an_hour() {
        let waits: Vec<i64> = (1..=9).map(backoff_ms).collect();
        assert_eq!(waits[..5], [0, 60_000, 120_000, 240_000, 480_000]);
        assert_eq!(*waits.last().unwrap(), MAX_BACKOFF_MS);
        assert_eq!(backoff_ms(u32::MAX), MAX_BACKOFF_MS);
        let mut s = State::starting_at(0);
        for _ in 0..3 {
            s.record("p", Some("refused"), "incident p", 0);
        }
        assert_eq!((s.parked[0].attempts, s.parked[0].next_try), (3, 120_000));
    }

    #[test]
    fn a_state_file_of_the_previous_version_loads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        std::fs::write(&path, "{\n  \"cursor\": 1718000200000,\n  \"done_at_cursor\": [\"-NzA\", \"-NzB\"]\n}")
            .unwrap();
        let s = State::load(&path, 0).unwrap();
        assert_eq!((s.position().time, s.position().done.len()), (1_718_000_200_000, 2));
    }

    #[test]
    fn saves_atomically_and_names_a_damaged_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        assert_eq!(State::load(&path, 42).unwrap().cursor, 42);
        let s = State { cursor: 9, done_at_cursor: vec!["i".to_owned()], ..State::starting_at(0) };
        s.save(&path).unwrap();
        assert_eq!(State::load(&path, 0).unwrap(), s);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary file left");
        std::fs::write(&path, "{").unwrap();
        let err = State::load(&path, 0).unwrap_err().to_string();
        assert!(err.contains("is damaged") && err.contains("delete it"), "{err}");
    }

    #[test]
    fn the_state_file_is_private_and_an_open_one_is_closed_to_others() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let mode = || std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        let s = State::starting_at(9);
        s.save(&path).unwrap();
        assert_eq!(mode(), 0o600);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        s.save(&path).unwrap();
        assert_eq!(mode(), 0o640);
    }
}
