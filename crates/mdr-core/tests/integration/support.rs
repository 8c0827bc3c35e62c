//! What the in-process suites share: the MDR stand-in and the TheHive sample jobs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use mdr_sandbox::{Sandbox, SandboxOptions, Seed};
use serde_json::Value;

/// A TheHive sample input from `tests/fixtures/jobs/`, e.g. `th4/input_case_task_log.json`.
pub(crate) fn fixture(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/jobs").join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).expect("fixture")).expect("fixture JSON")
}

/// The MDR stand-in with the demo seed, plain HTTP.
pub(crate) fn sandbox() -> Sandbox {
    Sandbox::start(SandboxOptions::new(Seed::default_demo())).expect("sandbox starts")
}
