//! A blocking client for the Kaspersky MDR REST API (`POST {api_url}/{client_id}/{endpoint}`).
//!
//! TLS is verified against the system trust store plus `ssl_cert` and Cortex's CA certificates.
//! Bearer tokens come from the [`TokenStore`]; a 401/403 on a token believed valid is answered by
//! one refresh and one resend (the server refused the request, so resending cannot duplicate it).
//! Reads are retried on gateway errors and refused connections; writes are resent only when the
//! request provably never reached the server, so a comment is never posted twice.

use std::cell::RefCell;
use std::path::Path;
use std::thread::sleep;
use std::time::{Duration, Instant};

use cortex_worker::CaSource;
use reqwest::blocking::multipart::{Form, Part};
use reqwest::blocking::{Client, RequestBuilder, Response};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::config::{ConfigError, MdrSettings};
use crate::secret::{Secret, redact_url_passwords};
use crate::token::{TokenError, TokenPair, TokenStore};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Retries stop once this many request timeouts (the `timeout` item, 30 s by default) have passed
/// since the client was made: Cortex's own timeout is far longer, but an analyst is waiting.
const RETRY_BUDGET_TIMEOUTS: u32 = 2;
const READ_ATTEMPTS: u32 = 3;
const MAX_MESSAGE_CHARS: usize = 300;
const USER_AGENT: &str = concat!("kaspersky-mdr-responders/", env!("CARGO_PKG_VERSION"));

#[derive(Debug, thiserror::Error)]
pub enum MdrError {
    #[error(transparent)]
    Config(#[from] ConfigError),
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
    #[error(
        "The TLS certificate of {url} is not trusted ({detail}): set `ssl_cert` to the PEM bundle of the CA that signed it, \
         or add that CA to the Cortex `cacerts` setting"
    )]
    Untrusted { url: String, detail: String },
    #[error("Cannot reach the MDR API at {url}: {detail}; check `api_url`, the network and the Cortex proxy settings")]
    Unreachable { url: String, detail: String },
    #[error("MDR API {endpoint} did not answer within {secs} s{maybe_sent}")]
    Timeout { endpoint: String, secs: u64, maybe_sent: &'static str },
    /// The connection was made, then lost before the answer: the request may have been received.
    #[error("MDR API {endpoint} closed the connection before answering ({detail}){maybe_sent}")]
    ConnectionLost { endpoint: String, detail: String, maybe_sent: &'static str },
    #[error("MDR API {endpoint} answered with an unexpected body: {detail}")]
    BadBody { endpoint: String, detail: String },
}

impl MdrError {
    /// The HTTP status the MDR API answered, if the failure was an HTTP error.
    pub fn status(&self) -> Option<u16> {
        match self {
            MdrError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The request may have been carried out although no clear answer came back. A gateway's 502
    /// or 504 means the proxy lost MDR's answer, not that MDR refused the request.
    pub fn outcome_unknown(&self) -> bool {
        matches!(
            self,
            MdrError::Timeout { .. }
                | MdrError::ConnectionLost { .. }
                | MdrError::BadBody { .. }
                | MdrError::Status { status: 502 | 504, .. }
        )
    }
}

/// Whether a call may be resent after the request could have reached the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Call {
    Read,
    Write,
}

/// A comment on an MDR incident.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
pub struct Comment {
    pub comment_id: String,
    #[serde(default)]
    pub author_name: Option<String>,
    #[serde(default)]
    pub text: String,
    #[serde(default)]
    pub creation_time: Option<i64>,
}

/// The fields of an MDR incident the responders use; the rest is kept in `extra`.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
pub struct Incident {
    pub incident_id: String,
    #[serde(default)]
    pub incident_number: Option<i64>,
    #[serde(default)]
    pub summary: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub resolution: Option<String>,
    #[serde(default)]
    pub status_description: Option<String>,
    #[serde(default)]
    pub client_description: Option<String>,
    #[serde(default)]
    pub creation_time: Option<i64>,
}

/// A response action the MDR SOC proposes on an incident.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
pub struct MdrResponse {
    pub response_id: String,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub comment: Option<String>,
    #[serde(default)]
    pub asset_id: Option<String>,
}

/// An MDR asset (a host with Kaspersky protection).
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
pub struct Asset {
    pub asset_id: String,
    #[serde(default)]
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
    #[serde(default)]
    pub full_name: String,
    #[serde(default)]
    pub caption: String,
    #[serde(default)]
    pub file_size: Option<u64>,
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
                Ok(request.multipart(Form::new().part("file", part).text("meta", meta)).timeout(timeout))
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
    http: Client,
    api_url: String,
    client_id: String,
    tokens: TokenStore,
    access: RefCell<Option<Secret>>,
    started: Instant,
    timeout: Duration,
}

impl MdrClient {
    pub fn new(settings: &MdrSettings) -> Result<MdrClient, MdrError> {
        Ok(MdrClient {
            http: http_client(settings)?,
            api_url: settings.api_url.clone(),
            client_id: settings.client_id.clone(),
            tokens: TokenStore::new(&settings.token_dir),
            access: RefCell::new(None),
            started: Instant::now(),
            timeout: settings.timeout,
        })
    }

    fn url(&self, endpoint: &str) -> String {
        format!("{}/{}/{endpoint}", self.api_url, self.client_id)
    }

    /// Exchanges a refresh token for a new pair (`session/confirm`, no bearer).
    pub fn confirm_session(&self, refresh: &Secret) -> Result<TokenPair, MdrError> {
        let endpoint = "session/confirm";
        let body = json!({"refresh_token": refresh.expose()});
        let response = self.send(endpoint, &Body::Json(&body), None, Call::Write)?;
        let status = response.status().as_u16();
        if status != 200 {
            let message = server_message(response);
            return Err(match status {
                400 | 401 | 403 => MdrError::RefreshRefused { status, message },
                _ => status_error(endpoint, status, message),
            });
        }
        let session: ConfirmedSession = parse(endpoint, response)?;
        Ok(TokenPair { access: Secret::new(session.access_token), refresh: Secret::new(session.refresh_token) })
    }

    pub fn incident_details(&self, incident_id: &str) -> Result<Incident, MdrError> {
        self.call("incidents/details", &Body::Json(&json!({"incident_id": incident_id})), Call::Read)
    }

    pub fn list_comments(&self, incident_id: &str) -> Result<Vec<Comment>, MdrError> {
        self.call("comments/list", &Body::Json(&json!({"incident_id": incident_id})), Call::Read)
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
        let body =
            json!({"min_creation_time": min_creation_time, "sort": "creation_time:asc", "page": 1, "page_size": 100});
        self.call("incidents/list", &Body::Json(&body), Call::Read)
    }

    pub fn create_incident(&self, incident: &NewIncident) -> Result<Incident, MdrError> {
        let body = serde_json::to_value(incident).map_err(|e| MdrError::Client(e.to_string()))?;
        self.call("incidents/create", &Body::Json(&body), Call::Write)
    }

    pub fn list_responses(&self, incident_id: &str) -> Result<Vec<MdrResponse>, MdrError> {
        self.call("responses/list", &Body::Json(&json!({"incident_id": incident_id})), Call::Read)
    }

    /// Confirms or declines one response; the body MDR answers with is not documented.
    pub fn update_response(&self, response_id: &str, decision: Decision, comment: &str) -> Result<(), MdrError> {
        let body = json!({"response_id": response_id, "status": decision.api_name(), "comment": comment});
        let _: Value = self.call("response/update", &Body::Json(&body), Call::Write)?;
        Ok(())
    }

    /// The assets whose host name is one of `host_names`.
    pub fn find_assets(&self, host_names: &[String]) -> Result<Vec<Asset>, MdrError> {
        let body = json!({"host_names": host_names, "fields": ["asset_id", "host_name"], "page": 1, "page_size": 1000});
        self.call("assets/list", &Body::Json(&body), Call::Read)
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
        self.call("attachments/list", &Body::Json(&json!({"incident_id": incident_id})), Call::Read)
    }

    /// Uploads a file to the incident (`attachments/upload`, multipart `file` + `meta`), streamed
    /// from disk. MDR's answer is not documented; any JSON is returned as it is.
    pub fn upload_attachment(&self, upload: &Upload<'_>) -> Result<Value, MdrError> {
        self.call("attachments/upload", &Body::File(upload), Call::Write)
    }

    pub(crate) fn call<T: DeserializeOwned>(&self, endpoint: &str, body: &Body<'_>, kind: Call) -> Result<T, MdrError> {
        let mut token = self.access_token()?;
        let mut refreshed = false;
        let mut attempt = 1;
        loop {
            let response = match self.send(endpoint, body, Some(&token), kind) {
                Ok(response) => response,
                Err(err) if kind == Call::Read && attempt < READ_ATTEMPTS && self.may_retry(&err) => {
                    self.backoff(attempt, None);
                    attempt += 1;
                    continue;
                }
                Err(err) => return Err(err),
            };
            let status = response.status().as_u16();
            match status {
                200 => return parse(endpoint, response),
                401 | 403 if !refreshed => {
                    token = self.tokens.replace_rejected(&token, |refresh| self.confirm_session(refresh))?;
                    *self.access.borrow_mut() = Some(token.clone());
                    refreshed = true;
                }
                502..=504 if kind == Call::Read && attempt < READ_ATTEMPTS && self.within_budget() => {
                    let retry_after = retry_after(&response);
                    self.backoff(attempt, retry_after);
                    attempt += 1;
                }
                _ => return Err(status_error(endpoint, status, server_message(response))),
            }
        }
    }

    /// Sends once. Connection failures before the request left are retried here for every call,
    /// since the server cannot have seen them.
    pub(crate) fn send(
        &self,
        endpoint: &str,
        body: &Body<'_>,
        token: Option<&Secret>,
        kind: Call,
    ) -> Result<Response, MdrError> {
        let url = self.url(endpoint);
        let mut attempt = 1;
        loop {
            let mut request = body.attach(self.http.post(&url), self.timeout)?;
            if let Some(token) = token {
                request = request.bearer_auth(token.expose());
            }
            match request.send() {
                Ok(response) => return Ok(response),
                Err(err) if err.is_connect() && !is_tls(&err) && attempt < READ_ATTEMPTS && self.within_budget() => {
                    self.backoff(attempt, None);
                    attempt += 1;
                }
                Err(err) => return Err(transport_error(endpoint, &self.api_url, &err, kind, self.timeout)),
            }
        }
    }

    fn may_retry(&self, err: &MdrError) -> bool {
        matches!(err, MdrError::Unreachable { .. } | MdrError::ConnectionLost { .. }) && self.within_budget()
    }

    fn within_budget(&self) -> bool {
        self.started.elapsed() < self.retry_budget()
    }

    fn retry_budget(&self) -> Duration {
        self.timeout * RETRY_BUDGET_TIMEOUTS
    }

    fn backoff(&self, attempt: u32, retry_after: Option<Duration>) {
        let base = Duration::from_millis(200 * 3u64.pow(attempt - 1));
        let wait = retry_after.unwrap_or(base).min(Duration::from_secs(10));
        let left = self.retry_budget().saturating_sub(self.started.elapsed());
        sleep(wait.min(left));
    }
}

pub(crate) fn http_client(settings: &MdrSettings) -> Result<Client, MdrError> {
    let mut builder = Client::builder()
        .use_rustls_tls()
        .connect_timeout(CONNECT_TIMEOUT.min(settings.timeout))
        .timeout(settings.timeout)
        .user_agent(USER_AGENT);
    let mut origins = Vec::new();
    if let Some(path) = &settings.ssl_cert {
        let origin = format!("`ssl_cert` ({})", path.display());
        builder = add_certificates(builder, &origin, &read_pem(&origin, path)?)?;
        origins.push(origin);
    }
    for source in &settings.http.ca_sources {
        let (origin, pem) = match source {
            CaSource::File { origin, path } => {
                let origin = format!("{origin} ({})", path.display());
                let pem = read_pem(&origin, path)?;
                (origin, pem)
            }
            CaSource::Pem { origin, text } => (origin.clone(), text.clone().into_bytes()),
        };
        builder = add_certificates(builder, &origin, &pem)?;
        origins.push(origin);
    }
    // Cortex's proxies, minus the hosts NO_PROXY exempts (as Python requests does).
    if let Some(url) = &settings.http.proxy_https {
        let proxy = reqwest::Proxy::https(url).map_err(|_| proxy_error("https", url))?;
        builder = builder.proxy(proxy.no_proxy(reqwest::NoProxy::from_env()));
    }
    if let Some(url) = &settings.http.proxy_http {
        let proxy = reqwest::Proxy::http(url).map_err(|_| proxy_error("http", url))?;
        builder = builder.proxy(proxy.no_proxy(reqwest::NoProxy::from_env()));
    }
    builder.build().map_err(|e| match origins.is_empty() {
        true => MdrError::Client(chain(&e)),
        false => MdrError::CaCertificates { origin: origins.join(" or "), reason: chain(&e) },
    })
}

fn proxy_error(which: &'static str, url: &str) -> MdrError {
    MdrError::Proxy { which, url: redact_url_passwords(url) }
}

fn read_pem(origin: &str, path: &Path) -> Result<Vec<u8>, MdrError> {
    std::fs::read(path).map_err(|e| MdrError::CaCertificates { origin: origin.to_owned(), reason: e.to_string() })
}

fn add_certificates(
    builder: reqwest::blocking::ClientBuilder,
    origin: &str,
    pem: &[u8],
) -> Result<reqwest::blocking::ClientBuilder, MdrError> {
    let invalid = |reason: String| MdrError::CaCertificates { origin: origin.to_owned(), reason };
    let certificates = reqwest::Certificate::from_pem_bundle(pem).map_err(|e| invalid(chain(&e)))?;
    if certificates.is_empty() {
        return Err(invalid("no PEM certificate (-----BEGIN CERTIFICATE-----) found".to_owned()));
    }
    Ok(certificates.into_iter().fold(builder, |b, c| b.add_root_certificate(c)))
}

fn parse<T: DeserializeOwned>(endpoint: &str, response: Response) -> Result<T, MdrError> {
    let bytes = response.bytes().map_err(|e| MdrError::BadBody { endpoint: endpoint.to_owned(), detail: chain(&e) })?;
    serde_json::from_slice(&bytes).map_err(|e| MdrError::BadBody {
        endpoint: endpoint.to_owned(),
        detail: format!("{e} (body starts with {:?})", preview(&String::from_utf8_lossy(&bytes))),
    })
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
    let text = response.text().unwrap_or_default();
    let from_json = serde_json::from_str::<Value>(&text).ok().and_then(|v| {
        ["message", "detail", "error"].iter().find_map(|k| v.get(*k).and_then(Value::as_str).map(str::to_owned))
    });
    match from_json {
        Some(message) => preview(&message),
        None if text.trim_start().starts_with('<') => "an HTML error page".to_owned(),
        None if text.trim().is_empty() => "no details".to_owned(),
        None => preview(&text),
    }
}

/// Shortens text for an error message and hides anything shaped like a JWT, in case a server
/// echoes the token it refused.
pub(crate) fn preview(text: &str) -> String {
    let mut out: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    while let Some(start) = out.find("eyJ") {
        let end = out[start..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || "-_.=".contains(c)))
            .map_or(out.len(), |e| start + e);
        out.replace_range(start..end, "<redacted>");
    }
    if out.chars().count() > MAX_MESSAGE_CHARS {
        out = out.chars().take(MAX_MESSAGE_CHARS).collect::<String>() + "…";
    }
    out
}

fn retry_after(response: &Response) -> Option<Duration> {
    let value = response.headers().get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

pub(crate) fn is_tls(err: &reqwest::Error) -> bool {
    let text = chain(err).to_lowercase();
    text.contains("certificate") || text.contains("tls") || text.contains("handshake")
}

fn transport_error(endpoint: &str, api_url: &str, err: &reqwest::Error, kind: Call, timeout: Duration) -> MdrError {
    let detail = chain(err);
    let maybe_sent = match kind {
        Call::Write => {
            " (the request may have reached MDR: running the responder again is safe, it checks before re-sending)"
        }
        Call::Read => "",
    };
    if err.is_timeout() {
        return MdrError::Timeout { endpoint: endpoint.to_owned(), secs: timeout.as_secs(), maybe_sent };
    }
    if !err.is_connect() {
        return MdrError::ConnectionLost { endpoint: endpoint.to_owned(), detail, maybe_sent };
    }
    if is_tls(err) {
        return MdrError::Untrusted { url: api_url.to_owned(), detail };
    }
    MdrError::Unreachable { url: api_url.to_owned(), detail }
}

/// The error and its causes on one line, without URLs' credentials.
pub(crate) fn chain(err: &dyn std::error::Error) -> String {
    let mut parts = vec![err.to_string()];
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    redact_url_passwords(&parts.join(": "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn previews_hide_jwts_and_stay_short() {
        let text = "bad token eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjF9.c2lnbmF0dXJl was refused";
        assert_eq!(preview(text), "bad token <redacted> was refused");
        let long = "x".repeat(1000);
        assert_eq!(preview(&long).chars().count(), MAX_MESSAGE_CHARS + 1);
    }
}
