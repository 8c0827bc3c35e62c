//! One synchronisation pass: the incidents MDR changed since the state's cursor, each mirrored
//! into exactly one TheHive case, one incident at a time.
//!
//! Everything written to TheHive carries a marker (the case's `mdr-incident-id`, `[MDR comment
//! <id>]` in a log, `**ID**: <response id>` in a task) and is looked up before it is written, so a
//! pass replayed after a crash or a failure writes nothing twice. A failed incident is logged and
//! retried next pass; the others go on.

use std::sync::atomic::{AtomicBool, Ordering};

use mdr_api::client::{Attachment, Comment, Incident, MdrResponse};
use mdr_api::{MdrClient, MdrError};
use mdr_contract::contract::origin_case_id;
use mdr_contract::inert;
use serde_json::Value;
use thehive::view::custom_field;

use crate::config::SyncConfig;
use crate::log::log;
use crate::state::{Outcome, PassLock, State, StateError};
use crate::thehive::{CaseRef, HiveError, INCIDENT_FIELD, LogFile, NewCase, TaskRef, TheHive};

/// The task holding the incident's comments and attachments, as the utility named it.
pub const COMMENTS_TASK: &str = "MDR Response";
pub const RESPONSE_GROUP: &str = "Response";
/// What MDR_SendTaskLog appends to every comment it posts: such comments came from TheHive.
pub const RESPONDER_MARKER: &str = "(sent from TheHive";
/// MDR's status of a response still waiting for the customer.
const PENDING: &str = "New";

#[derive(Debug, thiserror::Error)]
pub enum PassError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error("Cannot list MDR incidents: {0}")]
    Mdr(#[from] MdrError),
    #[error(transparent)]
    Hive(#[from] HiveError),
}

#[derive(Debug, thiserror::Error)]
enum ItemError {
    #[error(transparent)]
    Mdr(#[from] MdrError),
    #[error(transparent)]
    Hive(#[from] HiveError),
    #[error(
        "{0} TheHive cases carry mdr-incident-id {1}: merge them or clear the field on all but one; the incident is skipped until then"
    )]
    Duplicates(usize, String),
}

/// What a pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    pub incidents: usize,
    pub failed: usize,
    pub stopped: bool,
    /// Another pass held the state file's lock: this one did nothing.
    pub skipped: bool,
}

pub fn pass(config: &SyncConfig, hive: &TheHive, stop: &AtomicBool) -> Result<Summary, PassError> {
    let Some(_lock) = PassLock::try_take(&config.state_file)? else {
        return Ok(Summary { skipped: true, ..Summary::default() });
    };
    let mut state = State::load(&config.state_file, config.start_time)?;
    let mdr = MdrClient::new(&config.mdr)?;
    let changes = mdr.changed_incidents(&config.filter, state.position(), config.max_incidents)?;
    if let Some(settled) = changes.settled_below
        && state.settle_below(settled)
    {
        state.save(&config.state_file)?;
    }
    let todo = changes.incidents;
    let mut summary = Summary::default();
    let mut outcomes = Vec::new();
    for incident in &todo {
        if stop.load(Ordering::SeqCst) {
            summary.stopped = true;
            break;
        }
        let label = label(incident);
        let ok = match mirror(config, &mdr, hive, incident, &label) {
            Ok(()) => true,
            Err(err) => {
                log(&format!("{label}: FAILED, retried next pass: {err}"));
                summary.failed += 1;
                false
            }
        };
        summary.incidents += 1;
        outcomes.push(Outcome { incident_id: incident.incident_id.clone(), update_time: incident.update_time, ok });
        let before = state.clone();
        state.advance(&outcomes);
        if state != before {
            state.save(&config.state_file)?;
        }
    }
    Ok(summary)
}

fn label(incident: &Incident) -> String {
    match incident.incident_number {
        Some(n) => format!("incident K-{n} ({})", incident.incident_id),
        None => format!("incident {}", incident.incident_id),
    }
}

fn mirror(
    config: &SyncConfig,
    mdr: &MdrClient,
    hive: &TheHive,
    incident: &Incident,
    label: &str,
) -> Result<(), ItemError> {
    let (case, created) = case_for(config, hive, incident, label)?;
    // A case created a moment ago has no task yet: no need to ask.
    let mut tasks = if created { Vec::new() } else { hive.tasks(&case.id)? };
    let comments = mdr.list_comments(&incident.incident_id)?;
    let attachments = mdr.list_attachments(&incident.incident_id)?;
    let comments: Vec<&Comment> =
        comments.iter().filter(|c| mirrored_author(config, c.author_name.as_deref().unwrap_or(""), &c.text)).collect();
    let attachments: Vec<&Attachment> =
        attachments.iter().filter(|a| mirrored_author(config, &a.author_name, &a.caption)).collect();
    if !comments.is_empty() || !attachments.is_empty() {
        let task = comments_task(hive, &case, &mut tasks, label)?;
        mirror_children(config, mdr, hive, &task, &comments, &attachments, label)?;
    }
    let responses = mdr.list_responses(&incident.incident_id)?;
    for response in &responses {
        mirror_response(hive, &case, &tasks, response, label)?;
    }
    if config.thehive.resolve_cases {
        close_case(config, hive, &case, incident, label)?;
    }
    Ok(())
}

/// Neither a comment our responders posted (their footer) nor one by an excluded author.
fn mirrored_author(config: &SyncConfig, author: &str, text: &str) -> bool {
    !text.contains(RESPONDER_MARKER) && !config.exclude_author.as_ref().is_some_and(|re| re.is_match(author))
}

/// The one case carrying the incident id, created when there is none (then `true`).
fn case_for(
    config: &SyncConfig,
    hive: &TheHive,
    incident: &Incident,
    label: &str,
) -> Result<(CaseRef, bool), ItemError> {
    let mut found = hive.find_cases(&incident.incident_id)?;
    match found.len() {
        0 => {}
        1 => return Ok((found.remove(0), false)),
        n => return Err(ItemError::Duplicates(n, incident.incident_id.clone())),
    }
    if let Some(case) = origin_case(hive, incident, label)? {
        return Ok((case, false));
    }
    let case = hive.create_case(&new_case(config, incident))?;
    log(&format!("{label}: created case {}", case_name(&case)));
    Ok((case, true))
}

/// The case an incident raised by MDR_CreateIncident came from, linked now if Cortex has not
/// linked it yet (it sets the custom field after the responder ends, or never when the field does
/// not exist in TheHive): that case is the incident's, and creating another would duplicate it.
/// `None` for an incident raised in MDR, or when the case is gone or linked to another incident.
fn origin_case(hive: &TheHive, incident: &Incident, label: &str) -> Result<Option<CaseRef>, ItemError> {
    let Some(case_id) = incident.client_description.as_deref().and_then(origin_case_id) else { return Ok(None) };
    let Some(case) = hive.case(case_id)? else {
        log(&format!(
            "{label}: raised from TheHive case {case_id}, which TheHive no longer has; a new case is created"
        ));
        return Ok(None);
    };
    match custom_field(&case, INCIDENT_FIELD).and_then(Value::as_str).map(str::trim) {
        Some(other) if !other.is_empty() && other != incident.incident_id => {
            log(&format!(
                "{label}: raised from TheHive case {case_id}, which is linked to MDR incident {other}; a new case is created"
            ));
            return Ok(None);
        }
        Some(ours) if ours == incident.incident_id => {}
        _ => hive.link_case(&case, &incident.incident_id)?,
    }
    let case = CaseRef::from(&case);
    log(&format!("{label}: reused case {}, raised from it by MDR_CreateIncident", case_name(&case)));
    Ok(Some(case))
}

fn case_name(case: &CaseRef) -> String {
    case.number.map_or_else(|| case.id.clone(), |n| format!("#{n} ({})", case.id))
}

pub fn new_case(config: &SyncConfig, incident: &Incident) -> NewCase {
    let summary = inert::title(incident.summary.as_deref().unwrap_or(""));
    let summary = if summary.is_empty() { "MDR incident" } else { &summary };
    let title = match incident.incident_number {
        Some(n) => format!("MDR K-{n}: {summary}"),
        None => format!("MDR: {summary}"),
    };
    let mut description = inert::prose(incident.description.as_deref().unwrap_or_default());
    if !incident.affected_hosts.is_empty() {
        let hosts: Vec<String> = incident.affected_hosts.iter().map(|h| inert::inline(h)).collect();
        description.push_str(&format!("\n\n**Affected hosts**: {}", hosts.join(", ")));
    }
    let console = format!("{}/incidents/{}", config.console_url, incident.incident_id);
    match inert::link_target(&console) {
        Some(target) => description.push_str(&format!("\n\n[Open in the MDR console]({target})")),
        None => description.push_str(&format!("\n\nIn the MDR console: {}", inert::code(&console))),
    }
    let severity = match incident.priority.as_deref() {
        Some("LOW") => 1,
        Some("HIGH") => 3,
        _ => 2,
    };
    NewCase {
        title,
        description: description.trim_start().to_owned(),
        severity,
        tlp: config.thehive.case_tlp,
        pap: config.thehive.case_pap,
        incident_id: incident.incident_id.clone(),
    }
}

fn comments_task(hive: &TheHive, case: &CaseRef, tasks: &mut Vec<TaskRef>, label: &str) -> Result<TaskRef, HiveError> {
    if let Some(task) = tasks.iter().find(|t| t.title == COMMENTS_TASK && t.group != RESPONSE_GROUP) {
        return Ok(task.clone());
    }
    let task = hive.create_task(&case.id, COMMENTS_TASK, "default", "The task to communicate with the MDR team")?;
    log(&format!("{label}: created task \"{COMMENTS_TASK}\" in case {}", case_name(case)));
    tasks.push(task.clone());
    Ok(task)
}

pub fn comment_marker(comment_id: &str) -> String {
    format!("[MDR comment {comment_id}]")
}

pub fn attachment_marker(attachment_id: &str) -> String {
    format!("[MDR attachment {attachment_id}]")
}

pub fn decision_marker(response_id: &str) -> String {
    format!("[MDR decision {response_id}]")
}

/// `<author> wrote:` and every line quoted, as the utility and the responders write comments;
/// MDR's HTML rendering of a comment is turned back into readable text first.
pub fn comment_log(comment: &Comment) -> String {
    format!(
        "{} wrote:\n{}\n\n{}",
        inert::inline(author(comment.author_name.as_deref().unwrap_or(""))),
        quote(&crate::html::readable(&comment.text)),
        comment_marker(&comment.comment_id)
    )
}

fn author(name: &str) -> &str {
    if name.trim().is_empty() { "MDR" } else { name }
}

fn quote(text: &str) -> String {
    let text = text.replace("\r\n", "\n");
    let lines: Vec<String> =
        text.trim_end().lines().map(|l| if l.trim().is_empty() { ">".to_owned() } else { format!("> {l}") }).collect();
    if lines.is_empty() { ">".to_owned() } else { lines.join("\n") }
}

#[allow(clippy::too_many_arguments)]
fn mirror_children(
    config: &SyncConfig,
    mdr: &MdrClient,
    hive: &TheHive,
    task: &TaskRef,
    comments: &[&Comment],
    attachments: &[&Attachment],
    label: &str,
) -> Result<(), ItemError> {
    let logs = hive.log_messages(&task.id)?;
    let logged = |marker: &str| logs.iter().any(|m| m.contains(marker));
    let mut comments: Vec<&&Comment> = comments.iter().filter(|c| !logged(&comment_marker(&c.comment_id))).collect();
    comments.sort_by_key(|c| c.creation_time);
    for comment in comments {
        hive.add_log(&task.id, &comment_log(comment), None)?;
        log(&format!(
            "{label}: comment {} by {} added as a log",
            comment.comment_id,
            author(comment.author_name.as_deref().unwrap_or(""))
        ));
    }
    for attachment in attachments.iter().filter(|a| !logged(&attachment_marker(&a.attachment_id))) {
        mirror_attachment(config, mdr, hive, task, attachment, label)?;
    }
    Ok(())
}

fn mirror_attachment(
    config: &SyncConfig,
    mdr: &MdrClient,
    hive: &TheHive,
    task: &TaskRef,
    attachment: &Attachment,
    label: &str,
) -> Result<(), ItemError> {
    let name = if attachment.full_name.is_empty() { "attachment" } else { &attachment.full_name };
    // A size MDR does not give is read as 0: the download's own limit still applies.
    let size = attachment.file_size.unwrap_or(0);
    let head =
        format!("{} attached {} ({size} bytes)", inert::inline(author(&attachment.author_name)), inert::code(name));
    let caption = match attachment.caption.trim() {
        "" => String::new(),
        caption => format!(":\n{}", quote(&inert::prose(caption))),
    };
    let marker = attachment_marker(&attachment.attachment_id);
    if size > config.attachment_limit {
        let link = if attachment.link.trim().is_empty() {
            String::new()
        } else {
            format!(" ({})", inert::url(&attachment.link))
        };
        let message = format!(
            "{head}{caption}\n\nNot copied: larger than `download_attachments_size_limit` ({} bytes); download it from the MDR console{link}.\n\n{marker}",
            config.attachment_limit
        );
        hive.add_log(&task.id, &message, None)?;
        log(&format!("{label}: attachment {name} is over the size limit: logged without the file"));
        return Ok(());
    }
    let bytes = mdr.download_attachment(&attachment.attachment_id, config.attachment_limit)?;
    hive.add_log(&task.id, &format!("{head}{caption}\n\n{marker}"), Some(LogFile { name: name.to_owned(), bytes }))?;
    log(&format!("{label}: attachment {name} added as a log with the file"));
    Ok(())
}

/// The task description MDR_ApproveResponse and MDR_DeclineResponse read (the utility's format).
pub fn response_description(response: &MdrResponse) -> String {
    let details = if response.parameters.is_null() { "{}".to_owned() } else { response.parameters.to_string() };
    format!(
        "**ID**: {}  \n**Details**: {}  \n**Comment**: {}",
        response.response_id,
        inert::code(&details),
        inert::prose(response.description.as_deref().unwrap_or(""))
    )
}

fn names_response(task: &TaskRef, response_id: &str) -> bool {
    task.group == RESPONSE_GROUP
        && task
            .description
            .split_whitespace()
            .collect::<Vec<_>>()
            .windows(2)
            .any(|w| w[0] == "**ID**:" && w[1] == response_id)
}

fn decided(response: &MdrResponse) -> bool {
    response.status.as_deref().is_some_and(|s| !s.is_empty() && !s.eq_ignore_ascii_case(PENDING))
}

fn mirror_response(
    hive: &TheHive,
    case: &CaseRef,
    tasks: &[TaskRef],
    response: &MdrResponse,
    label: &str,
) -> Result<(), ItemError> {
    let rid = &response.response_id;
    let status = response.status.as_deref().unwrap_or("");
    let task = match tasks.iter().find(|t| names_response(t, rid)) {
        Some(task) if !task.is_open() || !decided(response) => return Ok(()),
        Some(task) => task.clone(),
        None => {
            let kind = inert::title(response.kind.as_deref().unwrap_or(""));
            let title = if kind.is_empty() { "MDR response" } else { &kind };
            let task = hive.create_task(&case.id, title, RESPONSE_GROUP, &response_description(response))?;
            log(&format!("{label}: created Response task \"{title}\" for response {rid}"));
            if !decided(response) {
                return Ok(());
            }
            task
        }
    };
    let marker = decision_marker(rid);
    if !hive.log_messages(&task.id)?.iter().any(|m| m.contains(&marker)) {
        let comment = match response.comment.as_deref().map(str::trim) {
            Some(c) if !c.is_empty() => format!(" (comment: {})", inert::inline(c)),
            _ => String::new(),
        };
        let message = format!("MDR shows this response as {}{comment}.\n\n{marker}", inert::inline(status));
        hive.add_log(&task.id, &message, None)?;
    }
    hive.close_task(&task.id)?;
    log(&format!("{label}: response {rid} is {status} in MDR: task closed"));
    Ok(())
}

fn close_case(
    config: &SyncConfig,
    hive: &TheHive,
    case: &CaseRef,
    incident: &Incident,
    label: &str,
) -> Result<(), ItemError> {
    let status = incident.status.as_deref().unwrap_or("");
    let statuses = &config.thehive.resolved;
    let renamed = [&statuses.true_positive, &statuses.false_positive, &statuses.other];
    if !matches!(status, "Resolved" | "Closed") || !case.is_open() || renamed.contains(&&case.status) {
        return Ok(());
    }
    let (th4, th5) = match incident.resolution.as_deref() {
        Some("True positive") => ("TruePositive", statuses.true_positive.as_str()),
        Some("False positive") => ("FalsePositive", statuses.false_positive.as_str()),
        _ => ("Other", statuses.other.as_str()),
    };
    let summary = match incident.status_description.as_deref().map(str::trim) {
        Some(s) if !s.is_empty() => inert::prose(s),
        _ => format!("{} in MDR", inert::inline(status)),
    };
    hive.resolve_case(&case.id, th4, th5, &summary)?;
    log(&format!("{label}: {status} in MDR ({th4}): case {} resolved", case_name(case)));
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn texts_match_what_the_responders_read() {
        let response: MdrResponse = serde_json::from_value(json!({
            "response_id": "MDR_1",
            "type": "RUN_SCRIPT",
            "status": "New",
            "description": "Isolate it",
            "parameters": {"interpreter": "powershell"},
        }))
        .unwrap();
        assert_eq!(
            response_description(&response),
            "**ID**: MDR_1  \n**Details**: `{\"interpreter\":\"powershell\"}`  \n**Comment**: Isolate it"
        );
        let task = TaskRef {
            id: "t".to_owned(),
            title: "RUN_SCRIPT".to_owned(),
            group: "Response".to_owned(),
            description: response_description(&response),
            status: "InProgress".to_owned(),
        };
        assert!(names_response(&task, "MDR_1") && !names_response(&task, "MDR_"));
        let comment = Comment {
            comment_id: "c1".to_owned(),
            author_name: Some("SOC".to_owned()),
            text: "a\n\nb".to_owned(),
            creation_time: Some(0),
        };
        assert_eq!(comment_log(&comment), "SOC wrote:\n> a\n>\n> b\n\n[MDR comment c1]");
        let html = Comment { text: "<p>a</p>\n<p>b &amp; c</p>".to_owned(), ..comment };
        assert_eq!(comment_log(&html), "SOC wrote:\n> a\n>\n> b & c\n\n[MDR comment c1]");
    }

    #[test]
    fn mdr_text_is_inert_in_what_the_sync_writes() {
        let response: MdrResponse = serde_json::from_value(json!({
            "response_id": "MDR_2",
            "type": "RUN_SCRIPT",
            "description": "# Approve\n**ID**: MDR_evil\n![x](http://h/p.png)",
            "parameters": {"cmd": "a`b```c"},
        }))
        .unwrap();
        let description = response_description(&response);
        assert_eq!(
            description,
            "**ID**: MDR_2  \n**Details**: ````{\"cmd\":\"a`b```c\"}````  \n\
             **Comment**: \\# Approve  \n\\*\\*ID\\*\\*: MDR\\_evil  \n!\\[x\\](<http://h/p.png>)"
        );
        let task = TaskRef {
            id: "t".to_owned(),
            title: "RUN_SCRIPT".to_owned(),
            group: "Response".to_owned(),
            description,
            status: "InProgress".to_owned(),
        };
        assert!(names_response(&task, "MDR_2") && !names_response(&task, "MDR_evil"));
        let comment = Comment {
            comment_id: "c2".to_owned(),
            author_name: Some("**Eve**\r\n# x".to_owned()),
            text: "<p>&lt;img src=x onerror=alert(1)&gt;</p><h1>Benign</h1>".to_owned(),
            creation_time: Some(0),
        };
        assert_eq!(
            comment_log(&comment),
            "\\*\\*Eve\\*\\* # x wrote:\n> &lt;img src=x onerror=alert(1)>\n>\n> **Benign**\n\n[MDR comment c2]"
        );
    }
}
