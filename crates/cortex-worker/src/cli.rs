//! The command line Cortex gives a worker: at most one argument, the job folder.

use std::path::PathBuf;

use clap::{Arg, Command, value_parser};

/// Parses `[JOB_FOLDER]` with `--help` and `--version`; None means the default `/job`.
pub fn job_dir_arg(name: &'static str, about: &'static str, version: &'static str) -> Option<PathBuf> {
    let matches = Command::new(name)
        .about(about)
        .version(version)
        .after_help(
            "Cortex runs this program with the job folder as its only argument (or none, inside Docker, where \
             the job is at /job). Without input/input.json in that folder the job JSON is read from standard \
             input and the report written to standard output, for manual tests.",
        )
        .arg(
            Arg::new("job_dir")
                .value_name("JOB_FOLDER")
                .help("Cortex job folder holding input/input.json [default: /job]")
                .value_parser(value_parser!(PathBuf)),
        )
        .get_matches();
    matches.get_one::<PathBuf>("job_dir").cloned()
}
