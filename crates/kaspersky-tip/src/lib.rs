//! A Cortex analyzer for Kaspersky threat intelligence lookups, on the commercial Kaspersky Threat
//! Intelligence Portal (TIP, `/api/{type}/{value}` with sections, token or client certificate + Basic auth)
//! or the free OpenTIP (`/api/v1/search/{type}?request=`, `x-api-key`).
//!
//! [`analyze`] reads the job's configuration ([`config::Settings`]), refuses observables above `tlp_limit`,
//! validates the value ([`observable::Observable`]), makes one GET ([`client::lookup`]) and builds the report
//! ([`report::build`]): zone, score, general info, detections, categories, WHOIS, related objects, portal link,
//! quota, `KTIP` taxonomies, optional `AddTagToArtifact` operations and artifacts. Nothing is sent to the
//! network before every check has passed.
//!
//! The services' routes, sections and status codes, with their sources: docs/tip-api.md.

pub mod client;
pub mod config;
pub mod error;
pub mod observable;
pub mod report;
pub mod zone;

use std::process::ExitCode;

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
    let answer = client::lookup(&settings.service, &observable)?;
    Ok(report::build(&settings, &observable, &answer, job.auto_extract()))
}

/// The binary's entry point: an optional job folder argument, as Cortex passes it.
pub fn main() -> ExitCode {
    let about = "Cortex analyzer: looks up a hash, IP, domain, FQDN or URL in Kaspersky TIP or OpenTIP";
    cortex_worker::run_analyzer(cortex_worker::job_dir_arg("kaspersky-tip", about, env!("CARGO_PKG_VERSION")), analyze)
}
