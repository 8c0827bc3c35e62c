//! The responder actions: each reads the TheHive object of a Cortex job, talks to MDR and returns
//! the report and the operations TheHive should apply.

mod close_incident;
mod create_incident;
mod ledger;
mod respond;
mod send_task_log;

pub use close_incident::close_incident;
pub use create_incident::create_incident;
pub use respond::{approve_response, decline_response, respond_by_service};
pub use send_task_log::send_task_log;

use cortex_worker::Job;

use crate::settings::{ConfigError, Settings};
use mdr_api::client::MdrError;
use thehive::TheHiveError;
use thehive::view::{Context, DataType, ViewError};

/// Why an action failed; the text becomes the job's `errorMessage`.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    #[error(transparent)]
    View(#[from] ViewError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Item(#[from] cortex_worker::ItemError),
    #[error(transparent)]
    Mdr(#[from] MdrError),
    #[error(transparent)]
    TheHive(#[from] TheHiveError),
    #[error("Cannot build the report: {0}")]
    Report(#[from] serde_json::Error),
    #[error("No `data` in the job: Cortex must pass the TheHive object the responder runs on")]
    NoData,
    /// A refusal specific to one action, already phrased for the analyst.
    #[error("{0}")]
    Refused(String),
}

/// The TheHive objects of the job, checking the responder was run on one of `accepted`.
fn context<'a>(job: &'a Job, accepted: &[DataType]) -> Result<Context<'a>, ActionError> {
    let data = job.data().ok_or(ActionError::NoData)?;
    Ok(Context::new(job.data_type(), data, accepted)?)
}

/// A 404 on the first call about an incident means the link is wrong: say which setting to check.
fn not_found_as(err: MdrError, incident_id: &str, settings: &Settings) -> ActionError {
    match &err {
        MdrError::Status { status: 404, message, .. } => ActionError::Refused(format!(
            "MDR has no incident {incident_id} for client {} (HTTP 404: {message}): check the case custom field `{}` \
             and the `client_id` setting",
            settings.mdr.client_id, settings.incident_field
        )),
        _ => err.into(),
    }
}
