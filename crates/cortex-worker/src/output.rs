//! Delivering the document: atomically into `<dir>/output/output.json`, or to stdout in stdin mode.
//!
//! Cortex treats a missing or empty `output.json` as "no output" and reads whatever exists once the process
//! ends, so a half-written file must never be visible: write a temporary file next to it, fsync, rename.

use std::fs;
use std::io::{self, Write};
use std::path::Path;

use safekeeping::{FileMode, write_atomically};

/// A failed delivery: what could not be written, and the OS error.
#[derive(Debug)]
pub(crate) struct WriteError {
    pub(crate) target: String,
    pub(crate) error: io::Error,
}

impl std::fmt::Display for WriteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot write {}: {}", self.target, self.error)
    }
}

/// Writes `bytes` as `<job_dir>/output/output.json`, creating `output/` if needed.
pub(crate) fn write_job_output(job_dir: &Path, bytes: &[u8]) -> Result<(), WriteError> {
    let output_dir = job_dir.join("output");
    let target = output_dir.join("output.json");
    let context = |error| WriteError { target: target.display().to_string(), error };
    fs::create_dir_all(&output_dir).map_err(context)?;
    write_atomically(&target, bytes, FileMode::Default).map_err(context)
}

/// Writes `bytes` to stdout, without a trailing newline (like cortexutils).
pub(crate) fn write_stdout(stdout: &mut dyn Write, bytes: &[u8]) -> Result<(), WriteError> {
    stdout
        .write_all(bytes)
        .and_then(|()| stdout.flush())
        .map_err(|error| WriteError { target: "standard output".to_owned(), error })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// What is left in the folder: only the target, never a temporary file.
    fn entries(dir: &Path) -> usize {
        fs::read_dir(dir).unwrap().count()
    }

    #[test]
    fn replaces_output_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        write_job_output(dir.path(), b"first").unwrap();
        write_job_output(dir.path(), b"{}").unwrap();
        assert_eq!(fs::read(dir.path().join("output/output.json")).unwrap(), b"{}");
        assert_eq!(entries(&dir.path().join("output")), 1);
    }

    #[test]
    fn failure_names_the_target_and_cleans_up() {
        let dir = tempfile::tempdir().unwrap();
        // A directory where output.json should be: the rename fails.
        fs::create_dir_all(dir.path().join("output/output.json/x")).unwrap();
        let error = write_job_output(dir.path(), b"{}").unwrap_err().to_string();
        let target = dir.path().join("output/output.json").display().to_string();
        assert!(error.starts_with(&format!("cannot write {target}: ")), "{error}");
        assert_eq!(entries(&dir.path().join("output")), 1);
    }

    #[test]
    fn stdout_gets_the_bytes_without_newline() {
        let mut stdout = Vec::new();
        write_stdout(&mut stdout, b"{\"success\": true}").unwrap();
        assert_eq!(stdout, b"{\"success\": true}");
    }
}
