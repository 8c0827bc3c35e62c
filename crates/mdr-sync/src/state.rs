//! The synchronisation's own state file (not the utility's `.last_check`): the `update_time` up to
//! which every incident has been mirrored, and the incidents already done at exactly that time.
//! Written atomically (temp file, fsync, rename), so a kill leaves the old or the new state, and
//! privately, as the token files are: 0600 when new, never readable by others.
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

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// Every incident with a smaller `update_time` is mirrored.
    pub cursor: i64,
    /// Incidents mirrored whose `update_time` equals `cursor`.
    pub done_at_cursor: Vec<String>,
}

/// How one incident of a pass ended.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub incident_id: String,
    pub update_time: i64,
    pub ok: bool,
}

impl State {
    pub fn load(path: &Path, start_time: i64) -> Result<State, StateError> {
        let shown = || path.display().to_string();
        match std::fs::read(path) {
            Ok(bytes) => {
                serde_json::from_slice(&bytes).map_err(|e| StateError::Damaged { path: shown(), reason: e.to_string() })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Ok(State { cursor: start_time, done_at_cursor: Vec::new() })
            }
            Err(e) => Err(StateError::Unreadable { path: shown(), reason: e.to_string() }),
        }
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

    /// Moves past the outcomes (in `update_time` order) up to the first failure, never beyond it.
    pub fn advance(&mut self, outcomes: &[Outcome]) {
        for outcome in outcomes {
            if !outcome.ok {
                return;
            }
            if outcome.update_time > self.cursor {
                self.cursor = outcome.update_time;
                self.done_at_cursor.clear();
            }
            if outcome.update_time == self.cursor && !self.done_at_cursor.contains(&outcome.incident_id) {
                self.done_at_cursor.push(outcome.incident_id.clone());
            }
        }
    }

    pub fn save(&self, path: &Path) -> Result<(), StateError> {
        let fail =
            |e: std::io::Error| StateError::Unwritable { path: path.display().to_string(), reason: e.to_string() };
        let text = serde_json::to_vec_pretty(self).map_err(|e| fail(std::io::Error::other(e)))?;
        write_atomically(path, &text, FileMode::PrivateKeepExisting).map_err(fail)
    }
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
        Outcome { incident_id: id.to_owned(), update_time: t, ok }
    }

    #[test]
    fn never_moves_past_a_failure() {
        let mut s = State { cursor: 5, done_at_cursor: vec!["a".to_owned()] };
        s.advance(&[outcome("b", 5, true), outcome("c", 7, true), outcome("d", 9, false), outcome("e", 11, true)]);
        assert_eq!(s, State { cursor: 7, done_at_cursor: vec!["c".to_owned()] });
        assert_eq!((s.position().time, s.position().done), (7, &["c".to_owned()][..]));
        s.advance(&[outcome("x", 7, true)]);
        assert_eq!(s.done_at_cursor, vec!["c".to_owned(), "x".to_owned()]);
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
        let s = State { cursor: 9, done_at_cursor: vec!["i".to_owned()] };
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
        let s = State { cursor: 9, done_at_cursor: vec![] };
        s.save(&path).unwrap();
        assert_eq!(mode(), 0o600);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        s.save(&path).unwrap();
        assert_eq!(mode(), 0o640);
    }
}
