//! The Kaspersky MDR responder binaries share this entry point: parse the command line as Cortex
//! gives it (an optional job folder), then run one `mdr-core` action through `cortex-worker`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Arg, Command, value_parser};
use cortex_worker::{Job, Report};
use mdr_core::actions::ActionError;

/// Runs `action` on the Cortex job named on the command line (default `/job`).
pub fn main(name: &'static str, about: &'static str, action: fn(&Job) -> Result<Report, ActionError>) -> ExitCode {
    let matches = Command::new(name)
        .about(about)
        .version(env!("CARGO_PKG_VERSION"))
        .after_help(
            "Cortex runs this program with the job folder as its only argument (or none, inside Docker, \
             where the job is at /job). Without input/input.json in that folder the job JSON is read from \
             standard input and the report written to standard output, for manual tests.",
        )
        .arg(
            Arg::new("job_dir")
                .value_name("JOB_FOLDER")
                .help("Cortex job folder holding input/input.json [default: /job]")
                .value_parser(value_parser!(PathBuf)),
        )
        .get_matches();
    cortex_worker::run(matches.get_one::<PathBuf>("job_dir").cloned(), action)
}
