//! The Kaspersky MDR responders: the actions ([`actions`]) that join a Cortex job to the MDR and
//! TheHive APIs, their settings ([`settings`]: Cortex items over the utility's `config.yml`), and
//! `mdr-token` ([`token_tool`]). Every responder binary calls [`main`]: parse the command line as
//! Cortex gives it (an optional job folder), then run one action through `cortex-worker`.

pub mod actions;
pub mod settings;
pub mod token_tool;

use std::process::ExitCode;

use crate::actions::ActionError;
use cortex_worker::{Job, Report};

/// Runs `action` on the Cortex job named on the command line (default `/job`).
pub fn main(name: &'static str, about: &'static str, action: fn(&Job) -> Result<Report, ActionError>) -> ExitCode {
    cortex_worker::run(cortex_worker::job_dir_arg(name, about, env!("CARGO_PKG_VERSION")), action)
}
