//! MDR_CreateIncident's record of the incident created per case, in
//! `<token_dir>/.created-incidents/<case id>`: two clicks in quick succession both arrive before
//! TheHive has applied the first link-back, so the second must find the first one's incident
//! instead of creating another. The record says "pending" while MDR is asked; when MDR does not
//! answer clearly it stays, so the next run looks for the incident in MDR before creating one.
//! Records are changed only under the ledger's lock, held as a [`Locked`].

use std::fs::File;
use std::path::{Path, PathBuf};

use mdr_api::client::MdrError;
use mdr_api::token::{lock_exclusive, write_private};

const LEDGER_DIR: &str = ".created-incidents";
const LEDGER_LOCK: &str = ".create-incident.lock";
/// Record content while a creation's outcome is unknown (MDR ids never contain a colon).
const PENDING: &str = "pending:";

/// What the ledger knows of a case.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Entry {
    Created(String),
    /// A creation started at this time (ms since 1970) and its outcome is unknown.
    Pending(i64),
}

/// One case's record.
#[derive(Debug)]
pub(super) struct Ledger {
    token_dir: PathBuf,
    case_key: String,
}

impl Ledger {
    pub(super) fn new(token_dir: &Path, case_id: &str) -> Ledger {
        // The case id made safe as a file name.
        let case_key = case_id.chars().map(|c| if c.is_ascii_alphanumeric() || "-_~".contains(c) { c } else { '_' });
        Ledger { token_dir: token_dir.to_owned(), case_key: case_key.collect() }
    }

    pub(super) fn read(&self) -> Option<Entry> {
        let text = std::fs::read_to_string(self.dir().join(&self.case_key)).ok()?;
        let text = text.trim();
        match text.strip_prefix(PENDING) {
            Some(since) => Some(Entry::Pending(since.parse().unwrap_or(0))),
            None => (!text.is_empty()).then(|| Entry::Created(text.to_owned())),
        }
    }

    /// Waits for the other jobs creating incidents (up to the token lock's timeout).
    pub(super) fn lock(&self) -> Result<Locked<'_>, MdrError> {
        let file = lock_exclusive(&self.token_dir, LEDGER_LOCK)?;
        Ok(Locked { ledger: self, _file: file })
    }

    fn dir(&self) -> PathBuf {
        self.token_dir.join(LEDGER_DIR)
    }
}

/// The ledger while this job holds its lock (released on drop, also when the process dies).
#[derive(Debug)]
pub(super) struct Locked<'a> {
    ledger: &'a Ledger,
    _file: File,
}

impl Locked<'_> {
    /// Re-read under the lock: another job may have written since.
    pub(super) fn read(&self) -> Option<Entry> {
        self.ledger.read()
    }

    /// A creation is about to be asked of MDR.
    pub(super) fn mark_pending(&self) -> Result<(), String> {
        self.write(&format!("{PENDING}{}", now_ms()))
    }

    /// The incident exists; a failure here only weakens the double-click guard, so the caller
    /// reports it rather than failing.
    pub(super) fn record(&self, incident_id: &str) -> Result<(), String> {
        self.write(incident_id)
    }

    /// MDR refused the creation: nothing is pending any more.
    pub(super) fn forget(&self) {
        let _ = std::fs::remove_file(self.ledger.dir().join(&self.ledger.case_key));
    }

    fn write(&self, content: &str) -> Result<(), String> {
        let dir = self.ledger.dir();
        std::fs::create_dir_all(&dir)
            .and_then(|()| write_private(&dir, &self.ledger.case_key, content))
            .map_err(|e| format!("could not record the incident in {}: {e}", dir.display()))
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_record_goes_from_pending_to_created_under_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::new(dir.path(), "~4096/x");
        assert_eq!(ledger.read(), None);
        let locked = ledger.lock().unwrap();
        locked.mark_pending().unwrap();
        assert!(matches!(locked.read(), Some(Entry::Pending(since)) if since > 0));
        locked.record("-Nz1").unwrap();
        assert_eq!(ledger.read(), Some(Entry::Created("-Nz1".to_owned())));
        assert!(dir.path().join(LEDGER_DIR).join("~4096_x").is_file(), "the case id is a safe file name");
        locked.forget();
        assert_eq!(ledger.read(), None);
    }
}
