//! What the in-process suites share: the MDR stand-in and the TheHive sample jobs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use mdr_sandbox::{Sandbox, SandboxOptions, Seed};
use serde_json::Value;

/// A TheHive sample input from `tests/fixtures/jobs/`, e.g. `th4/input_case_task_log.json`.
pub(crate) fn fixture(name: &str) -> Value {
    mdr_sandbox::cortex::sample_input(name).expect("fixture")
}

/// The MDR stand-in with the demo seed, plain HTTP.
pub(crate) fn sandbox() -> Sandbox {
    Sandbox::start(SandboxOptions::new(Seed::default_demo())).expect("sandbox starts")
}
