//! The Kaspersky MDR responder binaries share this entry point: parse the command line as Cortex
//! gives it (an optional job folder), then run one `mdr-core` action through `cortex-worker`.

use std::process::ExitCode;

use cortex_worker::{Job, Report};
use mdr_core::actions::ActionError;

/// Runs `action` on the Cortex job named on the command line (default `/job`).
pub fn main(name: &'static str, about: &'static str, action: fn(&Job) -> Result<Report, ActionError>) -> ExitCode {
    cortex_worker::run(cortex_worker::job_dir_arg(name, about, env!("CARGO_PKG_VERSION")), action)
}
