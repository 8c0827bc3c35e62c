//! A Cortex analyzer for Kaspersky threat intelligence lookups, on the commercial Kaspersky Threat
//! Intelligence Portal (TIP, `/api/{type}/{value}` with sections, token or client certificate + Basic auth)
//! or the free OpenTIP (`/api/v1/search/{type}?request=`, `x-api-key`).
//!
//! [`analyze`] reads the job's configuration ([`config::Settings`]), refuses observables above `tlp_limit`,
//! validates the value ([`observable::Observable`]), makes one GET ([`client::lookup`]) and builds the report
//! ([`report::build`]): zone, score, general info, detections, categories, WHOIS, related objects, portal link,
//! quota, `KTIP` taxonomies, optional `AddTagToArtifact` operations and artifacts. Nothing is sent to the
//! network before every check has passed.

pub mod client;
pub mod config;
pub mod error;
pub mod observable;
pub mod report;
pub mod zone;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Arg, Command, value_parser};
use cortex_worker::{AnalyzerReport, Job};

pub use error::TipError;

/// Runs one lookup for the job: the action given to [`cortex_worker::run_analyzer`].
pub fn analyze(job: &Job) -> Result<AnalyzerReport, TipError> {
    let data_type = job.data_type();
    if !observable::DATA_TYPES.contains(&data_type) {
        return Err(TipError::UnsupportedDataType(data_type.to_owned()));
    }
    let settings = config::Settings::from_job(job)?;
    if job.tlp() > i64::from(settings.tlp_limit) {
        return Err(TipError::TlpAboveLimit {
            tlp: config::tlp_name(job.tlp()),
            limit: config::tlp_name(settings.tlp_limit.into()),
        });
    }
    let data = job.data_str().ok_or(TipError::MissingData)?;
    let observable = observable::Observable::parse(data_type, data)?;
    let answer = client::lookup(&settings, &observable)?;
    Ok(report::build(&settings, &observable, &answer, job.auto_extract()))
}

/// The binary's entry point: an optional job folder argument, as Cortex passes it.
pub fn main() -> ExitCode {
    let matches = Command::new("kaspersky-tip")
        .about("Cortex analyzer: looks up a hash, IP, domain, FQDN or URL in Kaspersky TIP or OpenTIP")
        .version(env!("CARGO_PKG_VERSION"))
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
    cortex_worker::run_analyzer(matches.get_one::<PathBuf>("job_dir").cloned(), analyze)
}
