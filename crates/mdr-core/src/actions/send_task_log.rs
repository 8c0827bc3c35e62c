//! MDR_SendTaskLog: a TheHive task log becomes a comment on the linked MDR incident.

use cortex_worker::{Job, Report};
use serde_json::json;

use super::{ActionError, context, not_found_as};
use crate::client::{Comment, MdrClient};
use crate::config::MdrSettings;
use crate::thehive::{DataType, TaskLog};

pub fn send_task_log(job: &Job) -> Result<Report, ActionError> {
    let ctx = context(job, &[DataType::TaskLog])?;
    let log = ctx.log.ok_or(ActionError::NoData)?;
    let message = log.message().ok_or_else(|| {
        ActionError::Refused("The task log has no text to send: write the message in the log first".to_owned())
    })?;
    let settings = MdrSettings::from_job(job)?;
    let incident_id = ctx.case.mdr_incident_id(&settings.incident_field)?;
    let origin =
        Origin { case_number: ctx.case.number(), task_title: ctx.task.and_then(|t| t.title()), log_id: log.id() };
    let text = comment_text(log.author().unwrap_or("TheHive user"), message, &origin);

    let client = MdrClient::new(&settings)?;
    let existing = client.list_comments(incident_id).map_err(|e| not_found_as(e, incident_id, &settings))?;
    let (comment, already_sent) = match origin.marker().and_then(|m| existing.into_iter().find(|c| c.text.contains(&m)))
    {
        Some(comment) => (comment, true),
        None => (client.create_comment(incident_id, &text)?, false),
    };
    Ok(report(incident_id, &comment, &text, already_sent, log))
}

/// Where the log came from; also the marker that recognises a comment already sent.
struct Origin<'a> {
    case_number: Option<i64>,
    task_title: Option<&'a str>,
    log_id: Option<&'a str>,
}

impl Origin<'_> {
    fn footer(&self) -> String {
        let mut parts = vec![];
        if let Some(n) = self.case_number {
            parts.push(format!("case #{n}"));
        }
        if let Some(t) = self.task_title {
            parts.push(format!("task \"{t}\""));
        }
        if let Some(id) = self.log_id {
            parts.push(format!("log {id}"));
        }
        match parts.is_empty() {
            true => "(sent from TheHive)".to_owned(),
            false => format!("(sent from TheHive: {})", parts.join(", ")),
        }
    }

    /// Survives MDR's markdown-to-HTML rendering: plain characters, no markup.
    fn marker(&self) -> Option<String> {
        self.log_id.map(|id| format!("log {id})"))
    }
}

/// `<author> wrote:` then every line of the message quoted (the Python responder quoted only the
/// first line, so the rest escaped the quote block), then where it came from.
fn comment_text(author: &str, message: &str, origin: &Origin<'_>) -> String {
    let normalized = message.replace("\r\n", "\n").replace('\r', "\n");
    let quoted: Vec<String> = normalized
        .trim_end()
        .lines()
        .map(|line| if line.trim().is_empty() { ">".to_owned() } else { format!("> {line}") })
        .collect();
    format!("{author} wrote:\n{}\n\n{}", quoted.join("\n"), origin.footer())
}

fn report(incident_id: &str, comment: &Comment, text: &str, already_sent: bool, log: TaskLog<'_>) -> Report {
    let message = match already_sent {
        true => format!(
            "This task log was already sent to MDR incident {incident_id} (comment {}); not sent again",
            comment.comment_id
        ),
        false => format!("Comment {} added to MDR incident {incident_id}", comment.comment_id),
    };
    let mut full = json!({
        "message": message,
        "incident_id": incident_id,
        "comment_id": comment.comment_id,
        "already_sent": already_sent,
        "text": text,
    });
    if let Some(attachment) = log.attachment() {
        full["attachment_not_sent"] = json!(format!(
            "{} was not sent: Cortex passes only attachment metadata; sending attachment files needs the TheHive API, \
             which this version does not use",
            attachment.name
        ));
    }
    Report::from_value(full)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_is_quoted_and_the_origin_is_named() {
        let origin = Origin { case_number: Some(17), task_title: Some("RUN_SCRIPT"), log_id: Some("~819") };
        let text = comment_text("ana@soc", "first\r\n\nsecond  \n\n", &origin);
        assert_eq!(
            text,
            "ana@soc wrote:\n> first\n>\n> second\n\n(sent from TheHive: case #17, task \"RUN_SCRIPT\", log ~819)"
        );
        assert_eq!(origin.marker().as_deref(), Some("log ~819)"));
    }

    #[test]
    fn no_log_id_means_no_marker() {
        let origin = Origin { case_number: None, task_title: None, log_id: None };
        assert_eq!(origin.marker(), None);
        assert_eq!(comment_text("a", "m", &origin), "a wrote:\n> m\n\n(sent from TheHive)");
    }
}
