//! The request journal and the fault-injection queue.

use std::time::Duration;

use serde::Serialize;

use crate::tokens::BearerState;

/// One request as the sandbox received it.
#[derive(Clone, Debug, Serialize)]
pub struct JournalEntry {
    /// `"{entity}/{action}"` such as `"comments/create"`; the raw path when the route did not match.
    pub endpoint: String,
    /// The client id path segment (empty when the route did not match).
    pub client_id: String,
    /// How the bearer token looked.
    pub bearer: BearerState,
    /// Parsed JSON body; for multipart `{"meta": {...}, "file": {"name", "size"}}`; `Null` if unparseable.
    pub body: serde_json::Value,
    /// HTTP status answered (0 when the connection was dropped without an answer).
    pub status: u16,
}

impl JournalEntry {
    /// The body with token values replaced, for printing.
    pub fn redacted_body(&self) -> serde_json::Value {
        let mut body = self.body.clone();
        if let serde_json::Value::Object(fields) = &mut body {
            for key in ["refresh_token", "access_token"] {
                if let Some(value) = fields.get_mut(key) {
                    *value = serde_json::Value::String("<redacted>".to_owned());
                }
            }
        }
        body
    }
}

/// A failure to serve instead of the normal answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Answer this status with this body (sent as JSON when it parses as JSON, else text).
    Status(u16, String),
    /// Answer this status with a `Retry-After: <secs>` header.
    StatusRetryAfter(u16, u32),
    /// Wait, then answer normally.
    Delay(Duration),
    /// Read the request, then close the socket without answering.
    Drop,
    /// 200 with a body that is not JSON.
    InvalidJson,
    /// An HTML error page with this status (as a proxy in front of the API would send).
    Html(u16),
}

/// Pending faults, consumed in order per endpoint.
#[derive(Default)]
pub(crate) struct FaultQueue {
    pending: Vec<(String, Fault, usize)>,
}

impl FaultQueue {
    pub(crate) fn push(&mut self, endpoint: &str, fault: Fault, times: usize) {
        if times > 0 {
            self.pending.push((endpoint.to_owned(), fault, times));
        }
    }

    /// Takes one use of the first fault queued for `endpoint`.
    pub(crate) fn take(&mut self, endpoint: &str) -> Option<Fault> {
        let idx = self.pending.iter().position(|(e, _, _)| e == endpoint)?;
        let entry = &mut self.pending[idx];
        let fault = entry.1.clone();
        entry.2 -= 1;
        if entry.2 == 0 {
            self.pending.remove(idx);
        }
        Some(fault)
    }
}
