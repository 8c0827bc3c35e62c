//! The REST routes per version, in one place: docs/thehive.md#api-routes lists each with its source.
//! TheHive 4 is spoken through the v0 API (as thehive4py 1.x), TheHive 5 through v1 (as thehive4py
//! 2.x; its v0 API is deprecated since 5.4).

use crate::Version;

/// The status routes, in the order they are asked. `/api/v1/status` first: it is the route TheHive 5
/// documents, while `/api/status` is a v0 route TheHive 5 deprecated (and what older 5.x answer
/// there is unconfirmed); TheHive 4, which may lack the v1 route, is then asked on `/api/status`.
/// Either answer counts only when it names version 4 or 5.
pub(crate) const STATUS_PROBE: [&str; 2] = ["/api/v1/status", "/api/status"];

/// The route `v0` on TheHive 4, `v1` on TheHive 5.
fn pick(version: Version, v0: String, v1: String) -> String {
    match version {
        Version::V4 => v0,
        Version::V5 => v1,
    }
}

pub(crate) fn case(version: Version, case_id: &str) -> String {
    pick(version, format!("/api/case/{case_id}"), format!("/api/v1/case/{case_id}"))
}

pub(crate) fn new_case(version: Version) -> String {
    pick(version, "/api/case".to_owned(), "/api/v1/case".to_owned())
}

pub(crate) fn new_task(version: Version, case_id: &str) -> String {
    pick(version, format!("/api/case/{case_id}/task"), format!("/api/v1/case/{case_id}/task"))
}

pub(crate) fn task(version: Version, task_id: &str) -> String {
    pick(version, format!("/api/case/task/{task_id}"), format!("/api/v1/task/{task_id}"))
}

pub(crate) fn new_log(version: Version, task_id: &str) -> String {
    pick(version, format!("/api/case/task/{task_id}/log"), format!("/api/v1/task/{task_id}/log"))
}

/// The multipart part a log's file goes in: one `attachment` (v0) or the `attachments` list (v1).
pub(crate) fn log_file_part(version: Version) -> &'static str {
    match version {
        Version::V4 => "attachment",
        Version::V5 => "attachments",
    }
}

/// The user the API key belongs to (any valid key may read it).
pub(crate) fn current_user(version: Version) -> String {
    pick(version, "/api/user/current".to_owned(), "/api/v1/user/current".to_owned())
}

/// Every custom field definition (TheHive 4: `reference` is the field's name; TheHive 5: `name`).
pub(crate) fn custom_fields(version: Version) -> String {
    pick(version, "/api/customField".to_owned(), "/api/v1/customField".to_owned())
}

/// v0 searches, read whole with `range=all`.
pub(crate) const CASE_SEARCH: &str = "/api/case/_search";
pub(crate) const TASK_SEARCH: &str = "/api/case/task/_search";
pub(crate) const LOG_SEARCH: &str = "/api/case/task/log/_search";
pub(crate) const OBSERVABLE_SEARCH: &str = "/api/case/artifact/_search";
/// v1 queries, read in pages.
pub(crate) const QUERY: &str = "/api/v1/query";

/// TheHive 4 keeps files in its datastore under their hash.
pub(crate) fn datastore(hash: &str) -> String {
    format!("/api/datastore/{hash}")
}

/// TheHive 5's download route; its documented key is the attachment's `_id`.
pub(crate) fn attachment_download(id: &str) -> String {
    format!("/api/v1/attachment/{id}/download")
}
