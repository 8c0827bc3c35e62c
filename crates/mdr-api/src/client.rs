//! A blocking client for the Kaspersky MDR REST API (`POST {api_url}/{client_id}/{endpoint}`).
//!
//! TLS is verified against the system trust store plus `ssl_cert` and Cortex's CA certificates.
//! Bearer tokens come from the [`TokenStore`]; a 401/403 on a token believed valid is answered by
//! one refresh and one resend (the server refused the request, so resending cannot duplicate it).
//! Transport, trust and retries are `cortex-http`'s: reads are retried on gateway errors and
//! refused or lost connections; writes are resent only when the request provably never reached
//! the server, so a comment is never posted twice.
//!
//! The API facts relied on, with their public sources and confidence: docs/mdr-api.md.

use std::cell::RefCell;
use std::path::Path;
use std::time::Duration;

use cortex_http::{Call, HttpClient, HttpUrl, SetupError, TransportError, TransportKind, causes};
use reqwest::blocking::multipart::{Form, Part};
use reqwest::blocking::{RequestBuilder, Response};
use safekeeping::Secret;
use safekeeping::redact::preview;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

pub use crate::settings::MdrSettings;
use crate::token::{TokenError, TokenPair, TokenStore};

/// Items asked for per page of a list call (MDR documents no default page size).
pub(crate) const PAGE_SIZE: usize = 100;
/// Pages read before a list call gives up: 10 000 items, MDR's own cap on incident listings.
const MAX_PAGES: usize = 100;

#[derive(Debug, thiserror::Error)]
pub enum MdrError {
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error("Cannot use the CA certificates from {origin}: {reason}")]
    CaCertificates { origin: String, reason: String },
    #[error("Invalid proxy URL in the Cortex proxy settings ({which}): {url}")]
    Proxy { which: &'static str, url: String },
    #[error("Cannot set up the HTTPS client: {0}")]
    Client(String),
    #[error("MDR API {endpoint} answered HTTP {status}: {message}{hint}")]
    Status { endpoint: String, status: u16, message: String, hint: &'static str },
    #[error(
        "MDR refused the refresh token from the token folder (HTTP {status}: {message}): generate a new refresh token in the MDR console (Settings > API) and write it to `.refresh_token` in `token_dir`"
    )]
    RefreshRefused { status: u16, message: String },
    /// No HTTP answer: timeout, lost or refused connection, untrusted certificate ([`transport_message`]).
    #[error("{}", transport_message(endpoint, url, error))]
    Transport { endpoint: String, url: String, error: TransportError },
    #[error("MDR API {endpoint} answered with an unexpected body: {detail}")]
    BadBody { endpoint: String, detail: String },
    #[error("MDR API {endpoint} listed more than {max} items (pages of {PAGE_SIZE}); not reading further")]
    TooManyItems { endpoint: String, max: usize },
}

impl MdrError {
    /// The request may have been carried out although no clear answer came back. A gateway's 502
    /// or 504 means the proxy lost MDR's answer, not that MDR refused the request.
    pub fn outcome_unknown(&self) -> bool {
        match self {
            MdrError::Transport { error, .. } => matches!(error.kind, TransportKind::Timeout | TransportKind::Lost),
            MdrError::BadBody { .. } | MdrError::Status { status: 502 | 504, .. } => true,
            _ => false,
        }
    }
}

impl From<SetupError> for MdrError {
    fn from(err: SetupError) -> MdrError {
        match err {
            SetupError::CaCertificates { origin, reason } => MdrError::CaCertificates { origin, reason },
            SetupError::Proxy { which, url } => MdrError::Proxy { which, url },
            other => MdrError::Client(other.to_string()),
        }
    }
}

/// A missing or null field as the type's default: MDR may send `null` for a field it has no
/// value for, and a field the caller does not even read must not fail the whole answer.
fn null_as_default<'de, D: serde::Deserializer<'de>, T: Default + Deserialize<'de>>(d: D) -> Result<T, D::Error> {
    Option::<T>::deserialize(d).map(Option::unwrap_or_default)
}

/// A comment on an MDR incident.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
pub struct Comment {
    pub comment_id: String,
    pub author_name: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub text: String,
    pub creation_time: Option<i64>,
}

/// The fields of an MDR incident the responders and the synchronisation use.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
pub struct Incident {
    pub incident_id: String,
    pub incident_number: Option<i64>,
    pub summary: Option<String>,
    pub description: Option<String>,
    pub priority: Option<String>,
    pub status: Option<String>,
    pub resolution: Option<String>,
    pub status_description: Option<String>,
    pub client_description: Option<String>,
    pub creation_time: Option<i64>,
    /// Bumped by MDR on any change, children included: the synchronisation's cursor.
    #[serde(default, deserialize_with = "null_as_default")]
    pub update_time: i64,
    /// `HOST:asset_id` strings.
    #[serde(default, deserialize_with = "null_as_default")]
    pub affected_hosts: Vec<String>,
}

/// A response action the MDR SOC proposes on an incident.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
pub struct MdrResponse {
    pub response_id: String,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub status: Option<String>,
    pub comment: Option<String>,
    pub asset_id: Option<String>,
    /// What the SOC wrote about why it proposes the response.
    pub description: Option<String>,
    #[serde(default)]
    pub parameters: Value,
}

/// An MDR asset (a host with Kaspersky protection).
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
pub struct Asset {
    pub asset_id: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub host_name: String,
}

/// How the customer resolves an incident when closing it (`incidents/close`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    TruePositive,
    FalsePositive,
}

impl Resolution {
    pub fn api_name(self) -> &'static str {
        match self {
            Resolution::TruePositive => "TRUE_POSITIVE",
            Resolution::FalsePositive => "FALSE_POSITIVE",
        }
    }
}

/// The customer's decision on a proposed response (`response/update`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Confirmed,
    Declined,
}

impl Decision {
    pub fn api_name(self) -> &'static str {
        match self {
            Decision::Confirmed => "Confirmed",
            Decision::Declined => "Declined",
        }
    }
}

/// What `incidents/create` needs.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NewIncident {
    pub summary: String,
    pub client_description: String,
    /// `HOST:asset_id` strings.
    pub affected_hosts: Vec<String>,
    pub priority: &'static str,
    pub markdown_to_html: bool,
}

/// A file attached to an MDR incident.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
pub struct Attachment {
    pub attachment_id: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub author_name: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub full_name: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub caption: String,
    pub file_size: Option<u64>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub link: String,
}

/// A file to attach to an incident.
#[derive(Debug, Clone)]
pub struct Upload<'a> {
    pub incident_id: &'a str,
    pub path: &'a Path,
    pub file_name: &'a str,
    pub caption: &'a str,
}

/// A request body that can be rebuilt for each attempt (a streamed file cannot be replayed).
pub(crate) enum Body<'a> {
    Json(&'a Value),
    File(&'a Upload<'a>),
}

impl Body<'_> {
    fn attach(&self, request: RequestBuilder, request_timeout: Duration) -> Result<RequestBuilder, MdrError> {
        match self {
            Body::Json(value) => Ok(request.json(value)),
            Body::File(upload) => {
                let unreadable =
                    |e: std::io::Error| MdrError::Client(format!("cannot read {}: {e}", upload.path.display()));
                let file = std::fs::File::open(upload.path).map_err(unreadable)?;
                let size = file.metadata().map_err(unreadable)?.len();
                let part = Part::reader_with_length(file, size)
                    .file_name(upload.file_name.to_owned())
                    .mime_str("application/octet-stream")
                    .map_err(|e| MdrError::Client(e.to_string()))?;
                let meta = json!({"incident_id": upload.incident_id, "caption": upload.caption}).to_string();
                // Large files need longer than one JSON call: allow 1 MB/s on top of the usual timeout.
                let timeout = request_timeout + Duration::from_secs(size / 1_000_000);
                // `meta` first, as the Python client sends it (requests puts form fields before files).
                Ok(request.multipart(Form::new().text("meta", meta).part("file", part)).timeout(timeout))
            }
        }
    }
}

#[derive(Deserialize)]
struct ConfirmedSession {
    access_token: String,
    refresh_token: String,
}

#[derive(Debug)]
pub struct MdrClient {
    http: HttpClient,
    api_url: HttpUrl,
    client_id: String,
    tokens: TokenStore,
    access: RefCell<Option<Secret>>,
    timeout: Duration,
}

impl MdrClient {
    pub fn new(settings: &MdrSettings) -> Result<MdrClient, MdrError> {
        Ok(MdrClient {
            http: HttpClient::new(&settings.http_config())?,
            api_url: settings.api_url.clone(),
            client_id: settings.client_id.clone(),
            tokens: TokenStore::for_settings(settings),
            access: RefCell::new(None),
            timeout: settings.timeout,
        })
    }

    fn url(&self, endpoint: &str) -> String {
        format!("{}/{}/{endpoint}", self.api_url.as_str(), self.client_id)
    }

    pub(crate) fn transport_error(&self, endpoint: &str, error: TransportError) -> MdrError {
        MdrError::Transport { endpoint: endpoint.to_owned(), url: self.api_url.to_string(), error }
    }

    /// An answer of a read whose body broke off.
    pub(crate) fn broken_body(&self, endpoint: &str, detail: &str) -> MdrError {
        self.transport_error(endpoint, TransportError::broken_body(Call::Read, self.timeout, detail))
    }

    /// Exchanges a refresh token for a new pair (`session/confirm`, no bearer).
    pub fn confirm_session(&self, refresh: &Secret) -> Result<TokenPair, MdrError> {
        let endpoint = "session/confirm";
        let body = json!({"refresh_token": refresh.expose()});
        let response = self.exchange(endpoint, &Body::Json(&body), Call::Write, false)?;
        let status = response.status().as_u16();
        if status != 200 {
            let message = server_message(response);
            return Err(match status {
                400 | 401 | 403 => MdrError::RefreshRefused { status, message },
                _ => status_error(endpoint, status, message),
            });
        }
        decode_session(&read_body(endpoint, response)?)
    }

    pub fn incident_details(&self, incident_id: &str) -> Result<Incident, MdrError> {
        self.call("incidents/details", &Body::Json(&json!({"incident_id": incident_id})), Call::Read)
    }

    pub fn list_comments(&self, incident_id: &str) -> Result<Vec<Comment>, MdrError> {
        self.list_all("comments/list", json!({"incident_id": incident_id}))
    }

    /// Posts a markdown comment; MDR renders it to HTML.
    pub fn create_comment(&self, incident_id: &str, text: &str) -> Result<Comment, MdrError> {
        let body = json!({"incident_id": incident_id, "text": text, "markdown_to_html": true});
        self.call("comments/create", &Body::Json(&body), Call::Write)
    }

    /// Closes the incident. The body MDR answers with is not documented: any JSON is accepted,
    /// and the incident is returned when the body is one.
    pub fn close_incident(
        &self,
        incident_id: &str,
        resolution: Resolution,
        summary: &str,
    ) -> Result<Option<Incident>, MdrError> {
        let body = json!({"incident_id": incident_id, "resolution_status": resolution.api_name(), "summary": summary});
        let answer: Value = self.call("incidents/close", &Body::Json(&body), Call::Write)?;
        Ok(serde_json::from_value(answer).ok())
    }

    /// Incidents created at or after `min_creation_time` (ms), oldest first.
    pub fn incidents_created_since(&self, min_creation_time: i64) -> Result<Vec<Incident>, MdrError> {
        self.list_all("incidents/list", json!({"min_creation_time": min_creation_time, "sort": "creation_time:asc"}))
    }

    pub fn create_incident(&self, incident: &NewIncident) -> Result<Incident, MdrError> {
        let body = serde_json::to_value(incident).map_err(|e| MdrError::Client(e.to_string()))?;
        self.call("incidents/create", &Body::Json(&body), Call::Write)
    }

    pub fn list_responses(&self, incident_id: &str) -> Result<Vec<MdrResponse>, MdrError> {
        self.list_all("responses/list", json!({"incident_id": incident_id}))
    }

    /// Confirms or declines one response; the body MDR answers with is not documented.
    pub fn update_response(&self, response_id: &str, decision: Decision, comment: &str) -> Result<(), MdrError> {
        let body = json!({"response_id": response_id, "status": decision.api_name(), "comment": comment});
        let _: Value = self.call("response/update", &Body::Json(&body), Call::Write)?;
        Ok(())
    }

    /// The assets whose host name is one of `host_names`.
    pub fn find_assets(&self, host_names: &[String]) -> Result<Vec<Asset>, MdrError> {
        self.list_all("assets/list", json!({"host_names": host_names, "fields": ["asset_id", "host_name"]}))
    }

    pub(crate) fn access_token(&self) -> Result<Secret, MdrError> {
        if let Some(token) = self.access.borrow().clone() {
            return Ok(token);
        }
        let token = self.tokens.access_token(|refresh| self.confirm_session(refresh))?;
        *self.access.borrow_mut() = Some(token.clone());
        Ok(token)
    }

    pub fn list_attachments(&self, incident_id: &str) -> Result<Vec<Attachment>, MdrError> {
        self.list_all("attachments/list", json!({"incident_id": incident_id}))
    }

    /// Uploads a file to the incident (`attachments/upload`, multipart `file` + `meta`), streamed
    /// from disk. MDR's answer is not documented; any JSON is returned as it is.
    pub fn upload_attachment(&self, upload: &Upload<'_>) -> Result<Value, MdrError> {
        self.call("attachments/upload", &Body::File(upload), Call::Write)
    }

    /// Every page of a list call: explicit `page`/`page_size`, read until a short or empty page.
    /// More than [`MAX_PAGES`] full pages is an error, never a silent truncation.
    pub(crate) fn list_all<T: DeserializeOwned>(&self, endpoint: &str, mut body: Value) -> Result<Vec<T>, MdrError> {
        let mut items = Vec::new();
        for page in 1..=MAX_PAGES {
            body["page"] = page.into();
            body["page_size"] = PAGE_SIZE.into();
            let batch: Vec<T> = self.call(endpoint, &Body::Json(&body), Call::Read)?;
            let last = batch.len() < PAGE_SIZE;
            items.extend(batch);
            if last {
                return Ok(items);
            }
        }
        Err(MdrError::TooManyItems { endpoint: endpoint.to_owned(), max: MAX_PAGES * PAGE_SIZE })
    }

    pub(crate) fn call<T: DeserializeOwned>(&self, endpoint: &str, body: &Body<'_>, kind: Call) -> Result<T, MdrError> {
        let response = self.exchange(endpoint, body, kind, true)?;
        match response.status().as_u16() {
            200 => parse(endpoint, response),
            status => Err(status_error(endpoint, status, server_message(response))),
        }
    }

    /// Sends through `cortex-http`'s retry loop. With `authorized`, a 401/403 on the token
    /// believed valid is answered by one refresh and one resend, sharing the attempt counter.
    pub(crate) fn exchange(
        &self,
        endpoint: &str,
        body: &Body<'_>,
        kind: Call,
        authorized: bool,
    ) -> Result<Response, MdrError> {
        let url = self.url(endpoint);
        let mut token = if authorized { Some(self.access_token()?) } else { None };
        let mut refreshed = false;
        let mut attempts = 0;
        loop {
            let outcome = self.http.execute(kind, &mut attempts, |client| {
                let request = body.attach(client.post(&url), self.timeout)?;
                Ok::<_, MdrError>(match &token {
                    Some(token) => request.bearer_auth(token.expose()),
                    None => request,
                })
            })?;
            let response = outcome.map_err(|error| self.transport_error(endpoint, error))?;
            match &token {
                Some(rejected) if matches!(response.status().as_u16(), 401 | 403) && !refreshed => {
                    let fresh = self.tokens.replace_rejected(rejected, |refresh| self.confirm_session(refresh))?;
                    *self.access.borrow_mut() = Some(fresh.clone());
                    token = Some(fresh);
                    refreshed = true;
                }
                _ => return Ok(response),
            }
        }
    }
}

fn parse<T: DeserializeOwned>(endpoint: &str, response: Response) -> Result<T, MdrError> {
    decode_answer(endpoint, &read_body(endpoint, response)?)
}

fn read_body(endpoint: &str, response: Response) -> Result<Vec<u8>, MdrError> {
    let bytes =
        response.bytes().map_err(|e| MdrError::BadBody { endpoint: endpoint.to_owned(), detail: causes(&e) })?;
    Ok(Vec::from(bytes))
}

/// Decodes the body of a successful (200) answer of `endpoint`: every call's answer goes through
/// here, so the fuzz targets exercise exactly what the client does with what the server sent.
pub fn decode_answer<T: DeserializeOwned>(endpoint: &str, body: &[u8]) -> Result<T, MdrError> {
    // serde's message quotes the offending value in full, so it is shortened (and its JWTs
    // hidden) like the body itself.
    serde_json::from_slice(body).map_err(|e| MdrError::BadBody {
        endpoint: endpoint.to_owned(),
        detail: format!("{} (body starts with {:?})", preview(&e.to_string()), preview(&String::from_utf8_lossy(body))),
    })
}

/// Decodes the answer of `session/confirm`: the new access and refresh tokens.
pub fn decode_session(body: &[u8]) -> Result<TokenPair, MdrError> {
    let session: ConfirmedSession = decode_answer("session/confirm", body)?;
    Ok(TokenPair { access: Secret::new(session.access_token), refresh: Secret::new(session.refresh_token) })
}

pub(crate) fn status_error(endpoint: &str, status: u16, message: String) -> MdrError {
    let hint = match status {
        401 | 403 => " (the access token was refused: check `client_id` and the tokens in `token_dir`)",
        404 => " (not found: check the id and `client_id`)",
        429 => " (rate limited: try again in a minute)",
        500..=599 => " (a server-side failure: try again later)",
        _ => "",
    };
    MdrError::Status { endpoint: endpoint.to_owned(), status, message, hint }
}

/// The server's own explanation, shortened; JSON `message`/`detail`/`error` when present.
pub(crate) fn server_message(response: Response) -> String {
    error_message(&response.text().unwrap_or_default())
}

/// What an error answer's body says, as [`MdrError::Status`] shows it.
pub fn error_message(text: &str) -> String {
    let from_json = serde_json::from_str::<Value>(text).ok().and_then(|v| {
        ["message", "detail", "error"].iter().find_map(|k| v.get(*k).and_then(Value::as_str).map(str::to_owned))
    });
    match from_json {
        Some(message) => preview(&message),
        None if text.trim_start().starts_with('<') => "an HTML error page".to_owned(),
        None if text.trim().is_empty() => "no details".to_owned(),
        None => preview(text),
    }
}

/// How [`MdrError::Transport`] reads: the kind decided by `cortex-http`, the hint naming the
/// responder's settings.
fn transport_message(endpoint: &str, url: &str, error: &TransportError) -> String {
    let maybe_sent = if error.maybe_sent() {
        " (the request may have reached MDR: running the responder again is safe, it checks before re-sending)"
    } else {
        ""
    };
    let detail = &error.detail;
    match error.kind {
        TransportKind::Timeout => {
            format!("MDR API {endpoint} did not answer within {} s{maybe_sent}", error.timeout_secs())
        }
        TransportKind::Lost => {
            format!("MDR API {endpoint} closed the connection before answering ({detail}){maybe_sent}")
        }
        TransportKind::Unreachable => format!(
            "Cannot reach the MDR API at {url}: {detail}; check `api_url`, the network and the Cortex proxy settings"
        ),
        TransportKind::NotConfigured => format!(
            "The TLS certificate of {url} is not trusted: it is self-signed and is not the certificate configured in \
             `ssl_cert` or the Cortex `cacerts` setting; put the certificate this server presents there"
        ),
        TransportKind::Untrusted | TransportKind::HandshakeRefused(_) | TransportKind::Tls => format!(
            "The TLS certificate of {url} is not trusted ({detail}): set `ssl_cert` to the PEM bundle of the CA that \
             signed it, or add that CA to the Cortex `cacerts` setting"
        ),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn null_fields_read_as_their_default() {
        let incident: Incident = serde_json::from_value(serde_json::json!({
            "incident_id": "-Nz1", "update_time": null, "affected_hosts": null}))
        .unwrap();
        assert_eq!((incident.update_time, incident.affected_hosts.len()), (0, 0));
        let file: Attachment = serde_json::from_value(serde_json::json!({
            "attachment_id": "a1", "author_name": null, "full_name": null, "caption": null, "link": null}))
        .unwrap();
        assert_eq!((file.author_name.as_str(), file.link.as_str()), ("", ""));
    }

    #[test]
    fn transport_errors_read_as_before_with_the_kind_decided_by_cortex_http() {
        use cortex_http::{Failure, Untrusted};
        let error = |failure: Failure, call: Call| {
            let error = TransportError::new(failure, call, Duration::from_secs(30));
            MdrError::Transport { endpoint: "comments/create".to_owned(), url: "https://mdr".to_owned(), error }
        };
        let slow = error(Failure::Timeout { connected: true }, Call::Write);
        assert_eq!(
            slow.to_string(),
            "MDR API comments/create did not answer within 30 s (the request may have reached MDR: running the \
             responder again is safe, it checks before re-sending)"
        );
        assert!(slow.outcome_unknown());
        let lost = error(Failure::Lost { detail: "reset".to_owned() }, Call::Read);
        assert_eq!(lost.to_string(), "MDR API comments/create closed the connection before answering (reset)");
        assert!(lost.outcome_unknown());
        let far = error(Failure::Unreachable { detail: "refused".to_owned() }, Call::Write);
        assert_eq!(
            far.to_string(),
            "Cannot reach the MDR API at https://mdr: refused; check `api_url`, the network and the Cortex proxy settings"
        );
        assert!(!far.outcome_unknown());
        let pinned = error(Failure::Untrusted { reason: Untrusted::NotConfigured, detail: "x".to_owned() }, Call::Read);
        assert!(pinned.to_string().contains("is not trusted: it is self-signed and is not the certificate configured"));
    }

    #[test]
    fn a_bad_body_error_is_short_and_hides_tokens_whatever_the_answer_quotes() {
        // Found by fuzzing (mdr_answers): serde quotes a mistyped value in full.
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjF9.c2lnbmF0dXJl";
        let body = format!(r#"{{"incident_id": "i", "creation_time": "{jwt} {}"}}"#, "x".repeat(100_000));
        let err = decode_answer::<Incident>("incidents/details", body.as_bytes()).unwrap_err().to_string();
        assert!(err.starts_with("MDR API incidents/details answered with an unexpected body: invalid type"), "{err}");
        assert!(err.chars().count() < 1_000 && !err.contains("eyJ"), "{err}");
    }
}
