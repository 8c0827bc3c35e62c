//! The responder actions: each reads the TheHive object of a Cortex job, talks to MDR and returns
//! the report and the operations TheHive should apply.

mod send_task_log;

pub use send_task_log::send_task_log;

use crate::client::MdrError;
use crate::config::ConfigError;
use crate::thehive::ViewError;

/// Why an action failed; the text becomes the job's `errorMessage`.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    #[error(transparent)]
    View(#[from] ViewError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Mdr(#[from] MdrError),
    #[error("No `data` in the job: Cortex must pass the TheHive object the responder runs on")]
    NoData,
    /// A refusal specific to one action, already phrased for the analyst.
    #[error("{0}")]
    Refused(String),
}
