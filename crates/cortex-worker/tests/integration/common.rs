//! Helpers shared by the integration tests: fixtures, job folders, and one-call runs.

#![allow(dead_code, unreachable_pub)]

use std::fmt::Display;
use std::path::{Path, PathBuf};

use cortex_worker::{Job, Report, run_with_io};
use serde_json::Value;

pub fn fixture_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/cortexutils").join(name)
}

pub fn fixture_bytes(name: &str) -> Vec<u8> {
    std::fs::read(fixture_path(name)).expect("fixture is readable")
}

pub fn fixture_json(name: &str) -> Value {
    serde_json::from_slice(&fixture_bytes(name)).expect("fixture is JSON")
}

/// A job folder like Cortex makes it: compact `input/input.json`, optionally an empty `output/`.
pub fn job_folder(input: &Value, with_output_dir: bool) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir(dir.path().join("input")).expect("input dir");
    let bytes = serde_json::to_vec(input).expect("encodable");
    std::fs::write(dir.path().join("input/input.json"), bytes).expect("input file");
    if with_output_dir {
        std::fs::create_dir(dir.path().join("output")).expect("output dir");
    }
    dir
}

pub struct Run {
    pub code: i32,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

/// Runs `action` with `dir` as argv[1] and the given (non-terminal) stdin.
pub fn run_job<F, E>(dir: &Path, stdin: &str, action: F) -> Run
where
    F: FnOnce(&Job) -> Result<Report, E>,
    E: Display,
{
    run_job_tty(dir, stdin, false, action)
}

pub fn run_job_tty<F, E>(dir: &Path, stdin: &str, tty: bool, action: F) -> Run
where
    F: FnOnce(&Job) -> Result<Report, E>,
    E: Display,
{
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    let code = run_with_io(Some(dir.to_path_buf()), &mut stdin.as_bytes(), tty, &mut stdout, &mut stderr, action);
    Run { code, stdout, stderr: String::from_utf8(stderr).expect("UTF-8 stderr") }
}

pub fn output_of(dir: &Path) -> Vec<u8> {
    std::fs::read(dir.join("output/output.json")).expect("output.json was written")
}

pub fn output_json(dir: &Path) -> Value {
    serde_json::from_slice(&output_of(dir)).expect("output.json is JSON")
}

/// Sorted file names of a directory.
pub fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("readable dir")
        .map(|entry| entry.expect("dir entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}
