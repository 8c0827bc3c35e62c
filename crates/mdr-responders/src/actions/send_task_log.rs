//! MDR_SendTaskLog: a TheHive task log becomes a comment on the linked MDR incident, and each of
//! its attachments (`attachment` and `attachments[]`) an MDR attachment when the TheHive API is
//! configured.
//!
//! Nothing is sent twice: the comment and each file's caption end with the footer naming the log
//! (`mdr_contract::contract::Footer`), and both are looked for on the incident before sending. The files are fetched from TheHive first (a TheHive
//! failure sends nothing), then the comment is posted, then the files uploaded; when an upload
//! fails the error says what went through and a second click sends only what is missing.

use cortex_worker::{Job, Report};
use serde::Serialize;
use serde_json::Value;

use super::{ActionError, context, not_found_as};
use crate::settings::Settings;
use mdr_api::client::{Attachment, Comment, MdrClient, Upload};
use mdr_contract::contract::{Footer, Quote, writable_id};
use thehive::client::{Spooled, TheHiveClient, TheHiveSettings};
use thehive::view::{AttachmentMeta, DataType};
use thehive::{Naming, TheHiveError, Version};

pub fn send_task_log(job: &Job) -> Result<Report, ActionError> {
    let ctx = context(job, &[DataType::TaskLog])?;
    let log = ctx.log.ok_or(ActionError::NoData)?;
    let message = log.message().ok_or_else(|| {
        ActionError::Refused("The task log has no text to send: write the message in the log first".to_owned())
    })?;
    let settings = Settings::from_job(job)?;
    let thehive = crate::settings::thehive_from_job(job)?;
    let incident_id = ctx.case.mdr_incident_id(&settings.incident_field)?;
    let origin = Footer {
        case_number: ctx.case.number(),
        task_title: ctx.task.and_then(|t| t.title()).map(str::to_owned),
        log_id: log.id().map(str::to_owned),
    };
    let author = log.author().unwrap_or("TheHive user");
    let text = comment_text(author, message, &origin);

    let client = MdrClient::new(&settings.mdr)?;
    let existing = client.list_comments(incident_id).map_err(|e| not_found_as(e, incident_id, &settings))?;
    // Every file is fetched before anything is posted: a TheHive failure sends nothing.
    let metas = log.attachments();
    let prepared = prepare_attachments(&client, thehive, &settings, incident_id, &metas, &origin, ctx.version_hint())?;
    let (comment, already_sent) = match existing.into_iter().find(|c| sent_from(&origin, &c.text, Footer::closing)) {
        Some(comment) => (comment, true),
        None => (client.create_comment(incident_id, &text)?, false),
    };
    let mut outcomes = vec![];
    let mut failed = vec![];
    for item in prepared {
        outcomes.push(match item {
            Prepared::Ready { meta_name, spooled } => {
                let caption = format!("{author} attached {meta_name} {}", origin.render());
                let upload = Upload { incident_id, path: &spooled.path, file_name: &meta_name, caption: &caption };
                let status = match client.upload_attachment(&upload) {
                    Ok(answer) => {
                        Status::Sent { size: spooled.size, attachment_id: answer.get("attachment_id").cloned() }
                    }
                    Err(e) => {
                        failed.push(format!("uploading {meta_name} failed: {e}"));
                        Status::NotSent { reason: format!("upload failed: {e}") }
                    }
                };
                Outcome { name: meta_name, status }
            }
            Prepared::Done(outcome) => outcome,
        });
    }
    if !failed.is_empty() {
        let sent: Vec<&str> =
            outcomes.iter().filter(|o| matches!(o.status, Status::Sent { .. })).map(|o| o.name.as_str()).collect();
        let sent = match sent.is_empty() {
            true => String::new(),
            false => format!(" ({} uploaded)", sent.join(", ")),
        };
        return Err(ActionError::Refused(format!(
            "The comment was sent to MDR incident {incident_id} (comment {}){sent}, but {}. Run the responder again: \
             only what is missing will be sent",
            comment.comment_id,
            failed.join("; ")
        )));
    }
    report(incident_id, &comment, &text, already_sent, outcomes)
}

/// What became of one of the log's files, as listed in the report.
#[derive(Debug, Serialize)]
struct Outcome {
    name: String,
    #[serde(flatten)]
    status: Status,
}

#[derive(Debug, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
enum Status {
    /// `attachment_id` as MDR answered it (null when it did not say).
    Sent {
        size: u64,
        attachment_id: Option<Value>,
    },
    AlreadySent {
        attachment_id: String,
    },
    NotSent {
        reason: String,
    },
}

impl Outcome {
    fn not_sent(name: &str, reason: String) -> Outcome {
        Outcome { name: name.to_owned(), status: Status::NotSent { reason } }
    }

    /// This file's part of the report's message.
    fn message(&self) -> String {
        let name = &self.name;
        match &self.status {
            Status::Sent { .. } => format!("; attachment {name} uploaded"),
            Status::AlreadySent { .. } => format!("; attachment {name} was already uploaded"),
            Status::NotSent { reason } => format!("; attachment {name} NOT sent: {reason}"),
        }
    }
}

/// What to do with one of the log's attachments, decided before anything is posted.
enum Prepared {
    /// Downloaded from TheHive, to upload after the comment.
    Ready { meta_name: String, spooled: Spooled },
    /// Nothing to upload; the outcome says why, for the report.
    Done(Outcome),
}

fn prepare_attachments(
    client: &MdrClient,
    thehive: Option<TheHiveSettings>,
    settings: &Settings,
    incident_id: &str,
    metas: &[AttachmentMeta<'_>],
    origin: &Footer,
    hint: Option<Version>,
) -> Result<Vec<Prepared>, ActionError> {
    if metas.is_empty() {
        return Ok(vec![]);
    }
    let Some(thehive) = thehive else {
        let reason = "Cortex passes only the attachment's metadata; set `thehive_url` and `thehive_api_key` so the \
                      responder can fetch the file from TheHive";
        return Ok(metas.iter().map(|m| Prepared::Done(Outcome::not_sent(m.name, reason.to_owned()))).collect());
    };
    let uploaded = match marked(origin) {
        true => client.list_attachments(incident_id)?,
        false => vec![],
    };
    let limit = thehive.attachment_max_bytes;
    let thehive = TheHiveClient::new(thehive, &settings.mdr.http_config(), &Naming::RESPONDER)?.with_hint(hint);
    let mut prepared = vec![];
    for meta in metas {
        let name = meta.name.to_owned();
        // The "nothing twice" marker, per file: its name and the log's id in the caption's footer.
        let done = uploaded
            .iter()
            .find(|a: &&Attachment| a.full_name == name && sent_from(origin, &a.caption, Footer::ending));
        if let Some(found) = done {
            let status = Status::AlreadySent { attachment_id: found.attachment_id.clone() };
            prepared.push(Prepared::Done(Outcome { name, status }));
            continue;
        }
        let too_large = |size: String| {
            let reason = format!("{name} is {size}, above the {} MB limit (`attachment_max_mb`)", limit / 1_000_000);
            Prepared::Done(Outcome::not_sent(&name, reason))
        };
        if let Some(size) = meta.size.filter(|s| *s > limit) {
            prepared.push(too_large(format!("{} MB", size.div_ceil(1_000_000))));
            continue;
        }
        let fetch_failed = |err: TheHiveError| {
            ActionError::Refused(format!("Nothing was sent: fetching the attachment {name} from TheHive failed: {err}"))
        };
        prepared.push(match thehive.download_attachment(meta, origin.log_id.as_deref()) {
            Ok(spooled) => Prepared::Ready { meta_name: name, spooled },
            Err(TheHiveError::TooLarge { .. }) => too_large("larger".to_owned()),
            Err(err) => return Err(fetch_failed(err)),
        });
    }
    Ok(prepared)
}

/// Whether the footer names the log, so that what was sent from it can be found again.
fn marked(origin: &Footer) -> bool {
    origin.log_id.as_deref().is_some_and(writable_id)
}

/// Whether `text` (a comment, a caption) was sent from the same log: its footer, read where
/// `footer_of` looks for it, names the log. Never without a log id.
fn sent_from(origin: &Footer, text: &str, footer_of: fn(&str) -> Option<Footer>) -> bool {
    marked(origin) && footer_of(text).is_some_and(|f| f.log_id == origin.log_id)
}

/// `<author> wrote:` then every line of the message quoted, then where it came from.
fn comment_text(author: &str, message: &str, origin: &Footer) -> String {
    let quote = Quote { author: author.to_owned(), text: message.to_owned() };
    format!("{}\n\n{}", quote.render(), origin.render())
}

/// The report's `full` object.
#[derive(Debug, Serialize)]
struct Sent<'a> {
    message: String,
    incident_id: &'a str,
    comment_id: &'a str,
    already_sent: bool,
    text: &'a str,
    /// The first file, which keeps the report readable by what read it before `attachments`.
    #[serde(skip_serializing_if = "Option::is_none")]
    attachment: Option<&'a Outcome>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    attachments: &'a [Outcome],
}

fn report(
    incident_id: &str,
    comment: &Comment,
    text: &str,
    already_sent: bool,
    attachments: Vec<Outcome>,
) -> Result<Report, ActionError> {
    let mut message = match already_sent {
        true => format!(
            "This task log was already sent to MDR incident {incident_id} (comment {}); not sent again",
            comment.comment_id
        ),
        false => format!("Comment {} added to MDR incident {incident_id}", comment.comment_id),
    };
    for attachment in &attachments {
        message.push_str(&attachment.message());
    }
    let full = Sent {
        message,
        incident_id,
        comment_id: &comment.comment_id,
        already_sent,
        text,
        attachment: attachments.first(),
        attachments: &attachments,
    };
    Ok(Report::of(&full)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_is_quoted_and_the_origin_is_named() {
        let origin = Footer {
            case_number: Some(17),
            task_title: Some("RUN_SCRIPT".to_owned()),
            log_id: Some("~819".to_owned()),
        };
        let text = comment_text("ana@soc", "first\r\n\nsecond  \n\n", &origin);
        assert_eq!(
            text,
            "ana@soc wrote:\n> first\n>\n> second\n\n(sent from TheHive: case #17, task \"RUN_SCRIPT\", log ~819)"
        );
        assert!(sent_from(&origin, &text, Footer::closing));
        let other = Footer { log_id: Some("~820".to_owned()), ..origin.clone() };
        assert!(!sent_from(&other, &text, Footer::closing));
        // A later comment quoting this one is not this one.
        let quoting = format!("SOC wrote:\n{}\n\nplease check", mdr_contract::contract::quote_lines(&text));
        assert!(!sent_from(&origin, &quoting, Footer::closing));
    }

    #[test]
    fn no_log_id_means_no_marker() {
        let origin = Footer::default();
        assert!(!marked(&origin));
        let text = comment_text("a", "m", &origin);
        assert_eq!(text, "a wrote:\n> m\n\n(sent from TheHive)");
        assert!(!sent_from(&origin, &text, Footer::closing));
    }
}
