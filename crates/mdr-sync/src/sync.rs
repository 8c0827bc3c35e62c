//! One synchronisation pass: the incidents MDR changed since the state's cursor, each mirrored
//! into exactly one TheHive case, one incident at a time.
//!
//! Everything written to TheHive carries a marker (the case's incident custom field, `[MDR comment
//! <id>]` ending a log, `**ID**: <response id>` starting a task description: `mdr_contract::contract`)
//! and is looked up before it is written, so a pass replayed after a crash or a failure writes
//! nothing twice. A failed incident is logged and parked: the cursor moves on, and it is retried
//! with a growing backoff (up to an hour) while the others go on.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use mdr_api::client::{Attachment, Comment, Incident, MdrResponse};
use mdr_api::listing::Download;
use mdr_api::{MdrClient, MdrError};
use mdr_contract::contract::{
    Footer, Mirrored, Priority, Quote, ResponseStatus, ResponseTask, origin_case_id, quote_lines,
};
use mdr_contract::inert;
use serde_json::Value;
// Under the names the sync's own client had, so this file's signatures stay as they were.
use thehive::TheHiveError as HiveError;
use thehive::client::{Resolution, TheHiveClient as TheHive};
use thehive::records::{LogFile, NewCase};
use thehive::view::{CaseRef, TaskRef, custom_field};

use crate::config::SyncConfig;
use crate::log::log;
use crate::state::{Outcome, Parked, PassLock, State, StateError, now_ms};

/// The task holding the incident's comments and attachments, as the utility named it.
pub const COMMENTS_TASK: &str = "MDR Response";

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
        "{count} TheHive cases carry {field} {incident_id}: merge them or clear the field on all but one; the incident is skipped until then"
    )]
    Duplicates { count: usize, field: String, incident_id: String },
}

/// Parked incidents retried per pass, before the changed ones: a poison incident costs a few
/// requests per hour (its backoff) and never holds the others.
const PARKED_PER_PASS: usize = 10;

/// What a pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Changed incidents handled.
    pub incidents: usize,
    /// Parked incidents tried again.
    pub retried: usize,
    /// Incidents (changed or retried) whose mirror failed this pass.
    pub failed: usize,
    /// Incidents parked after the pass.
    pub parked: usize,
    pub stopped: bool,
    /// Another pass held the state file's lock: this one did nothing.
    pub skipped: bool,
}

pub fn pass(config: &SyncConfig, hive: &TheHive, stop: &AtomicBool) -> Result<Summary, PassError> {
    pass_every(config, hive, stop, None)
}

/// One pass, noting in the state when it ran and, for a service, its interval (`mdr-sync status`
/// judges health by them).
pub fn pass_every(
    config: &SyncConfig,
    hive: &TheHive,
    stop: &AtomicBool,
    interval: Option<Duration>,
) -> Result<Summary, PassError> {
    let Some(_lock) = PassLock::try_take(&config.state_file)? else {
        return Ok(Summary { skipped: true, ..Summary::default() });
    };
    let mut state = State::load(&config.state_file, config.start_time)?;
    let started = now_ms();
    let result = incidents(config, hive, stop, &mut state);
    let passes = &mut state.passes;
    passes.last = Some(started);
    passes.interval_secs = interval.map(|i| i.as_secs());
    match &result {
        Ok(_) => (passes.last_ok, passes.last_error) = (Some(started), None),
        Err(err) => passes.last_error = Some(err.to_string()),
    }
    let saved = state.save(&config.state_file);
    let mut summary = result?;
    saved?;
    summary.parked = state.parked.len();
    Ok(summary)
}

/// The parked incidents that are due, then the changed ones; the state saved after each.
fn incidents(config: &SyncConfig, hive: &TheHive, stop: &AtomicBool, state: &mut State) -> Result<Summary, PassError> {
    let mdr = MdrClient::new(&config.mdr)?;
    let changes = mdr.changed_incidents(&config.filter, state.position(), config.max_incidents)?;
    if let Some(settled) = changes.settled_below
        && state.settle_below(settled)
    {
        state.save(&config.state_file)?;
    }
    let todo = changes.incidents;
    let mut summary = Summary::default();
    for parked in state.due(now_ms(), PARKED_PER_PASS) {
        // One that changed again is mirrored below with the rest.
        if todo.iter().any(|i| i.incident_id == parked.incident_id) {
            continue;
        }
        if stop.load(Ordering::SeqCst) {
            summary.stopped = true;
            return Ok(summary);
        }
        let result = mdr
            .incident_details(&parked.incident_id)
            .map_err(ItemError::from)
            .and_then(|incident| mirror(config, &mdr, hive, &incident, &parked.label));
        summary.retried += 1;
        let error = result.err().map(|e| e.to_string());
        summary.failed += usize::from(error.is_some());
        report(state.record(&parked.incident_id, error.as_deref(), &parked.label, now_ms()), &parked);
        state.save(&config.state_file)?;
    }
    for incident in &todo {
        if stop.load(Ordering::SeqCst) {
            summary.stopped = true;
            break;
        }
        let label = label(incident);
        let was = state.parked.iter().find(|p| p.incident_id == incident.incident_id).cloned();
        let error = mirror(config, &mdr, hive, incident, &label).err().map(|e| e.to_string());
        summary.incidents += 1;
        summary.failed += usize::from(error.is_some());
        let outcome = Outcome { incident_id: incident.incident_id.clone(), update_time: incident.update_time, error };
        state.advance(std::slice::from_ref(&outcome), |_| label.clone(), now_ms());
        let now_parked = state.parked.iter().find(|p| p.incident_id == incident.incident_id);
        match (now_parked, &was) {
            (Some(parked), _) => log_parked(parked),
            (None, Some(was)) => {
                log(&format!("{}: mirrored after {} failed attempt(s), no longer parked", label, was.attempts))
            }
            (None, None) => {}
        }
        state.save(&config.state_file)?;
    }
    Ok(summary)
}

/// What a retried parked incident came to.
fn report(now: Option<&Parked>, before: &Parked) {
    match now {
        Some(parked) => log_parked(parked),
        None => {
            log(&format!("{}: mirrored after {} failed attempt(s), no longer parked", before.label, before.attempts))
        }
    }
}

/// Said at every failure, with what to do: nothing is skipped silently.
fn log_parked(parked: &Parked) {
    let wait = (parked.next_try - now_ms()).max(0) / 1000;
    log(&format!(
        "{}: FAILED (attempt {}), parked and retried in {wait} s while the other incidents go on: {}; \
         fix the cause and it is mirrored at its next try (`mdr-sync status` lists parked incidents)",
        parked.label, parked.attempts, parked.last_error
    ));
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
    // Not what our responders posted (their footer), nor what an excluded author did.
    let comments: Vec<&Comment> = comments
        .iter()
        .filter(|c| Footer::closing(&c.text).is_none() && !excluded(config, c.author_name.as_deref().unwrap_or("")))
        .collect();
    let attachments: Vec<&Attachment> = attachments
        .iter()
        .filter(|a| Footer::ending(&a.caption).is_none() && !excluded(config, &a.author_name))
        .collect();
    if !comments.is_empty() || !attachments.is_empty() {
        let task = comments_task(config, hive, &case, &mut tasks, label)?;
        mirror_children(config, mdr, hive, &task, &comments, &attachments, label)?;
    }
    let responses = mdr.list_responses(&incident.incident_id)?;
    for response in &responses {
        mirror_response(config, hive, &case, &tasks, response, label)?;
    }
    if config.thehive.resolve_cases {
        close_case(config, hive, &case, incident, label)?;
    }
    Ok(())
}

fn excluded(config: &SyncConfig, author: &str) -> bool {
    config.exclude_author.as_ref().is_some_and(|re| re.is_match(author))
}

/// The one case carrying the incident id, created when there is none (then `true`).
fn case_for(
    config: &SyncConfig,
    hive: &TheHive,
    incident: &Incident,
    label: &str,
) -> Result<(CaseRef, bool), ItemError> {
    let field = &config.thehive.incident_field;
    let mut found = hive.find_cases(field, &incident.incident_id)?;
    match found.len() {
        0 => {}
        1 => return Ok((found.remove(0), false)),
        count => {
            return Err(ItemError::Duplicates {
                count,
                field: field.clone(),
                incident_id: incident.incident_id.clone(),
            });
        }
    }
    if let Some(case) = origin_case(hive, field, incident, label)? {
        return Ok((case, false));
    }
    let case = hive.create_case(&config.thehive.incident_field, &new_case(config, incident))?;
    log(&format!("{label}: created case {}", case_name(&case)));
    Ok((case, true))
}

/// The case an incident raised by MDR_CreateIncident came from, linked now if Cortex has not
/// linked it yet (it sets the custom field after the responder ends, or never when the field does
/// not exist in TheHive): that case is the incident's, and creating another would duplicate it.
/// `None` for an incident raised in MDR, or when the case is gone or linked to another incident.
fn origin_case(hive: &TheHive, field: &str, incident: &Incident, label: &str) -> Result<Option<CaseRef>, ItemError> {
    let Some(case_id) = incident.client_description.as_deref().and_then(origin_case_id) else { return Ok(None) };
    let Some(case) = hive.case(case_id)? else {
        log(&format!(
            "{label}: raised from TheHive case {case_id}, which TheHive no longer has; a new case is created"
        ));
        return Ok(None);
    };
    match custom_field(&case, field).and_then(Value::as_str).map(str::trim) {
        Some(other) if !other.is_empty() && other != incident.incident_id => {
            log(&format!(
                "{label}: raised from TheHive case {case_id}, which is linked to MDR incident {other}; a new case is created"
            ));
            return Ok(None);
        }
        Some(ours) if ours == incident.incident_id => {}
        _ => hive.link_case(&case, field, &incident.incident_id)?,
    }
    let case = CaseRef::from_rest(case);
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
    NewCase {
        title,
        description: description.trim_start().to_owned(),
        severity: Priority::parse(incident.priority.as_deref()).severity(),
        tlp: config.thehive.case_tlp,
        pap: config.thehive.case_pap,
        incident_id: incident.incident_id.clone(),
    }
}

fn comments_task(
    config: &SyncConfig,
    hive: &TheHive,
    case: &CaseRef,
    tasks: &mut Vec<TaskRef>,
    label: &str,
) -> Result<TaskRef, HiveError> {
    let group = &config.thehive.response_group;
    if let Some(task) = tasks.iter().find(|t| t.title == COMMENTS_TASK && !ResponseTask::in_group(&t.group, group)) {
        return Ok(task.clone());
    }
    let task = hive.create_task(&case.id, COMMENTS_TASK, "default", "The task to communicate with the MDR team")?;
    log(&format!("{label}: created task \"{COMMENTS_TASK}\" in case {}", case_name(case)));
    tasks.push(task.clone());
    Ok(task)
}

/// `<author> wrote:` and every line quoted, as the utility and the responders write comments,
/// ending with the comment's marker; MDR's HTML rendering of a comment is turned back into
/// readable text first. `None` when the comment's id cannot be carried by a marker.
pub fn comment_log(comment: &Comment) -> Option<String> {
    let marker = Mirrored::Comment(comment.comment_id.clone()).render()?;
    let quote = Quote {
        author: inert::inline(author(comment.author_name.as_deref().unwrap_or(""))),
        text: crate::html::readable(&comment.text),
    };
    Some(format!("{}\n\n{marker}", quote.render()))
}

fn author(name: &str) -> &str {
    if name.trim().is_empty() { "MDR" } else { name }
}

/// What the logs of a task mirror already, by the marker each ends with.
fn mirrored_in(logs: &[String]) -> Vec<Mirrored> {
    logs.iter().filter_map(|m| Mirrored::closing(m)).collect()
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
    let logged = mirrored_in(&hive.log_messages(&task.id)?);
    let mut comments: Vec<&&Comment> =
        comments.iter().filter(|c| !logged.contains(&Mirrored::Comment(c.comment_id.clone()))).collect();
    comments.sort_by_key(|c| c.creation_time);
    for comment in comments {
        let Some(message) = comment_log(comment) else {
            log(&format!("{label}: comment id {:?} cannot be marked in a log: not mirrored", comment.comment_id));
            continue;
        };
        hive.add_log(&task.id, &message, None)?;
        log(&format!(
            "{label}: comment {} by {} added as a log",
            comment.comment_id,
            author(comment.author_name.as_deref().unwrap_or(""))
        ));
    }
    for attachment in attachments.iter().filter(|a| !logged.contains(&Mirrored::Attachment(a.attachment_id.clone()))) {
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
    let Some(marker) = Mirrored::Attachment(attachment.attachment_id.clone()).render() else {
        log(&format!("{label}: attachment id {:?} cannot be marked in a log: not mirrored", attachment.attachment_id));
        return Ok(());
    };
    let limit = config.attachment_limit;
    // The size MDR announces is only a hint: the download itself stops past the limit.
    let download = match attachment.file_size {
        Some(size) if size > limit => Download::TooLarge,
        _ => mdr.download_attachment(&attachment.attachment_id, limit)?,
    };
    let size = match (attachment.file_size, &download) {
        (Some(size), _) if size > limit => format!(" ({size} bytes)"),
        (_, Download::TooLarge) => format!(" (more than {limit} bytes)"),
        (_, Download::File(bytes)) => format!(" ({} bytes)", bytes.len()),
    };
    let head = format!("{} attached {}{size}", inert::inline(author(&attachment.author_name)), inert::code(name));
    let caption = match attachment.caption.trim() {
        "" => String::new(),
        caption => format!(":\n{}", quote_lines(&inert::prose(caption))),
    };
    let Download::File(bytes) = download else {
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
    };
    hive.add_log(&task.id, &format!("{head}{caption}\n\n{marker}"), Some(LogFile { name: name.to_owned(), bytes }))?;
    log(&format!("{label}: attachment {name} added as a log with the file"));
    Ok(())
}

/// The Response task of a response as MDR_ApproveResponse and MDR_DeclineResponse read it.
pub fn response_task(response: &MdrResponse) -> ResponseTask<'_> {
    ResponseTask {
        response_id: &response.response_id,
        kind: response.kind.as_deref(),
        parameters: &response.parameters,
        comment: response.description.as_deref().unwrap_or(""),
    }
}

/// Whether `task` is the Response task of `response_id`: in the Response group, naming it on the
/// first line of its description (the rest holds MDR text, which may name any response).
fn names_response(task: &TaskRef, group: &str, response_id: &str) -> bool {
    ResponseTask::in_group(&task.group, group) && ResponseTask::id_in(&task.description) == Ok(response_id)
}

/// The response's task, created while the response is pending in MDR and closed with a log once
/// MDR shows it decided ([`ResponseStatus::is_decided`], the rule the responders use too).
fn mirror_response(
    config: &SyncConfig,
    hive: &TheHive,
    case: &CaseRef,
    tasks: &[TaskRef],
    response: &MdrResponse,
    label: &str,
) -> Result<(), ItemError> {
    let rid = &response.response_id;
    let group = &config.thehive.response_group;
    let status = ResponseStatus::parse(response.status.as_deref());
    let task = match tasks.iter().find(|t| names_response(t, group, rid)) {
        Some(task) if !task.is_open() || !status.is_decided() => return Ok(()),
        Some(task) => task.clone(),
        None => {
            let new = response_task(response);
            let description = match new.description() {
                Ok(description) => description,
                Err(err) => {
                    log(&format!("{label}: no Response task for this response: {err}"));
                    return Ok(());
                }
            };
            let title = new.title();
            let task = hive.create_task(&case.id, &title, group, &description)?;
            log(&format!("{label}: created Response task \"{title}\" for response {rid}"));
            if !status.is_decided() {
                return Ok(());
            }
            task
        }
    };
    let decided = status.as_str();
    let item = Mirrored::Decision(rid.clone());
    // A task typed by hand may name an id no marker can carry: it is closed without a log.
    if let Some(marker) = item.render()
        && !mirrored_in(&hive.log_messages(&task.id)?).contains(&item)
    {
        let comment = match response.comment.as_deref().map(str::trim) {
            Some(c) if !c.is_empty() => format!(" (comment: {})", inert::inline(c)),
            _ => String::new(),
        };
        let message = format!("MDR shows this response as {}{comment}.\n\n{marker}", inert::inline(decided));
        hive.add_log(&task.id, &message, None)?;
    }
    hive.close_task(&task.id)?;
    log(&format!("{label}: response {rid} is {decided} in MDR: task closed"));
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
    let renamed = [statuses.true_positive.as_str(), statuses.false_positive.as_str(), statuses.other.as_str()];
    if !matches!(status, "Resolved" | "Closed") || case.is_closed(&renamed) {
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
    let resolution = Resolution { th4_resolution: th4, th5_status: th5, summary: &summary, impact: None };
    hive.resolve_case(&case.id, &resolution)?;
    log(&format!("{label}: {status} in MDR ({th4}): case {} resolved", case_name(case)));
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn task(description: String, group: &str) -> TaskRef {
        TaskRef {
            id: "t".to_owned(),
            title: "RUN_SCRIPT".to_owned(),
            group: group.to_owned(),
            description,
            status: "InProgress".to_owned(),
        }
    }

    #[test]
    fn texts_match_what_the_responders_read() {
        let response: MdrResponse = serde_json::from_value(json!({
            "response_id": "MDR_1",
            "type": "RUN_SCRIPT",
            "status": "New",
            "description": "Isolate it; unlike **ID**: MDR_2",
            "parameters": {"interpreter": "powershell"},
        }))
        .unwrap();
        let description = response_task(&response).description().unwrap();
        assert_eq!(
            description,
            "**ID**: MDR_1  \n**Details**: `{\"interpreter\":\"powershell\"}`  \n**Comment**: Isolate it; unlike \\*\\*ID\\*\\*: MDR\\_2"
        );
        let task = task(description, "Response");
        assert!(names_response(&task, "Response", "MDR_1") && !names_response(&task, "Response", "MDR_"));
        assert!(!names_response(&task, "Response", "MDR_2"), "an id in MDR's comment names no task");
        assert!(!names_response(&task, "Actions", "MDR_1"), "another group");
        let comment = Comment {
            comment_id: "c1".to_owned(),
            author_name: Some("SOC".to_owned()),
            text: "a\n\nb".to_owned(),
            creation_time: Some(0),
        };
        assert_eq!(comment_log(&comment).unwrap(), "SOC wrote:\n> a\n>\n> b\n\n[MDR comment c1]");
        let html = Comment { text: "<p>a</p>\n<p>b &amp; c</p>".to_owned(), ..comment.clone() };
        assert_eq!(comment_log(&html).unwrap(), "SOC wrote:\n> a\n>\n> b & c\n\n[MDR comment c1]");
        let forging = Comment { text: "see\n[MDR comment c2]".to_owned(), ..comment.clone() };
        assert_eq!(mirrored_in(&[comment_log(&forging).unwrap()]), [Mirrored::Comment("c1".to_owned())]);
        assert_eq!(comment_log(&Comment { comment_id: "c 1]".to_owned(), ..comment }), None);
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
        let description = response_task(&response).description().unwrap();
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
        assert!(names_response(&task, "Response", "MDR_2") && !names_response(&task, "Response", "MDR_evil"));
        let comment = Comment {
            comment_id: "c2".to_owned(),
            author_name: Some("**Eve**\r\n# x".to_owned()),
            text: "<p>&lt;img src=x onerror=alert(1)&gt;</p><h1>Benign</h1>".to_owned(),
            creation_time: Some(0),
        };
        assert_eq!(
            comment_log(&comment).unwrap(),
            "\\*\\*Eve\\*\\* # x wrote:\n> &lt;img src=x onerror=alert(1)>\n>\n> **Benign**\n\n[MDR comment c2]"
        );
    }
}
