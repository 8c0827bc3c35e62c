//! The conventions the responders and `mdr-sync` both write and read in TheHive and MDR: one typed
//! owner each, with its writer and its reader side by side, so that the two halves cannot drift.
//!
//! A marker is recognised only where and as its writer puts it (a fixed first or last line), never
//! anywhere in the text around it: MDR text quoted in the same message cannot forge one.
//!
//! | convention | writer | reader |
//! |---|---|---|
//! | [`ResponseTask`] (group, title, `**ID**:` first line) | mdr-sync | MDR_Approve/DeclineResponse, mdr-sync |
//! | [`ResponseStatus::is_decided`] | MDR | mdr-sync (closes the task), the decision responders |
//! | [`Footer`] `(sent from TheHive…)` | MDR_SendTaskLog | mdr-sync (not mirrored back), MDR_SendTaskLog (sent once) |
//! | [`Mirrored`] `[MDR comment <id>]`… | mdr-sync | mdr-sync (written once) |
//! | [`origin_marker`] `TheHive case id <id>)` | MDR_CreateIncident | mdr-sync, MDR_CreateIncident |
//! | [`Quote`] `<author> wrote:` + `> ` lines | both | (people; the round trip is tested) |
//! | [`Priority`] ↔ severity | both | both |
//! | [`CASE_TAG`], [`DEFAULT_INCIDENT_FIELD`], [`DEFAULT_RESPONSE_GROUP`] | both | both |

mod case;
mod footer;
mod lines;
mod mirrored;
mod origin;
mod quote;
mod response;

pub use case::{CASE_TAG, DEFAULT_INCIDENT_FIELD, Priority};
pub use footer::Footer;
pub use lines::writable_id;
pub use mirrored::Mirrored;
pub use origin::{origin_case_id, origin_marker};
pub use quote::{Quote, quote_lines};
pub use response::{DEFAULT_RESPONSE_GROUP, ResponseIdError, ResponseStatus, ResponseTask};
