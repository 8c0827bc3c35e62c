//! An optional client for TheHive's own API, for what Cortex operations cannot do: fetch a task
//! log's attachment (Cortex passes only its metadata), resolve a case (no operation closes one),
//! and list a case's host observables. Configured by `thehive_url` and `thehive_api_key`;
//! without them the responders skip these steps and say so.
//!
//! Covered: TheHive 4.1 (v0 routes `/api/case/{id}`, `/api/case/artifact/_search`, confirmed from
//! its source) and TheHive 5 (v1 routes `/api/v1/case/{id}`, `/api/v1/query`, as thehive4py 2
//! uses them). Attachments come from `/api/datastore/{hash}` on TheHive 4 and from
//! `/api/v1/attachment/{id}/download` on TheHive 5 (the v0 API is deprecated there since 5.4):
//! first with the hash `id`, and if TheHive refuses it with the attachment's `_id`, taken from the
//! job or from a `getLog` query. The version is the `thehive_version` item, else inferred from the
//! job (TheHive 5 sends `extendedStatus` or `stage`), else read from `/api/v1/status` (TheHive 5),
//! else `/api/status` (TheHive 4). Requests carry `X-Organisation` from the job's `parameters`.
//!
//! The routes per version and their sources: docs/thehive.md#api-routes.

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

use cortex_http::{Call, Failure, HttpClient, HttpConfig, HttpUrl, SetupError, Untrusted, causes};
use reqwest::blocking::{Client, RequestBuilder, Response};
use safekeeping::Secret;
use serde_json::{Value, json};

use safekeeping::redact::preview;

use crate::view::AttachmentMeta;

/// Largest attachment sent to MDR unless `attachment_max_mb` says otherwise.
pub const DEFAULT_ATTACHMENT_MAX_MB: u64 = 100;
const HOST_DATA_TYPES: &[&str] = &["hostname", "fqdn"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TheHiveVersion {
    V4,
    V5,
}

/// A version text that is neither 4, 5 nor `auto`.
#[derive(Debug, thiserror::Error)]
#[error("unknown TheHive version {0:?}: expected 4, 5 or auto")]
pub struct UnknownVersion(pub String);

impl TheHiveVersion {
    /// A configured or reported version: `4`, `5`, `v5`, `4.1.2`...; `auto` means "find out"
    /// (`Ok(None)`).
    pub fn parse_choice(text: &str) -> Result<Option<TheHiveVersion>, UnknownVersion> {
        match text.trim().trim_start_matches(['v', 'V']) {
            "auto" => Ok(None),
            v if v.starts_with('4') => Ok(Some(TheHiveVersion::V4)),
            v if v.starts_with('5') => Ok(Some(TheHiveVersion::V5)),
            _ => Err(UnknownVersion(text.to_owned())),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TheHiveError {
    #[error(transparent)]
    Setup(#[from] SetupError),
    #[error("the TheHive API {what} request cannot be resent")]
    NotRepeatable { what: String },
    #[error("TheHive API {what} answered HTTP {status}: {message}{hint}")]
    Status { what: String, status: u16, message: String, hint: &'static str },
    #[error(
        "The TLS certificate of TheHive at {url} is not trusted ({detail}): set `ssl_cert` to a PEM bundle that \
         includes the CA that signed it, or add that CA to the Cortex `cacerts` setting"
    )]
    Untrusted { url: String, detail: String },
    #[error(
        "The TLS certificate of TheHive at {url} is not trusted: it is self-signed and is not the certificate configured \
         in `ssl_cert` or the Cortex `cacerts` setting; put the certificate TheHive presents there"
    )]
    NotConfigured { url: String },
    #[error("Cannot reach TheHive at {url}: {detail}; check `thehive_url` and the network")]
    Unreachable { url: String, detail: String },
    #[error("TheHive API {what} answered with an unexpected body: {detail}")]
    BadBody { what: String, detail: String },
    #[error("The attachment {name} is larger than {limit_mb} MB (`attachment_max_mb`)")]
    TooLarge { name: String, limit_mb: u64 },
    #[error("Cannot store the attachment {name} in a temporary file: {reason}")]
    Spool { name: String, reason: String },
}

/// TheHive connection settings of one job.
#[derive(Debug, Clone)]
pub struct TheHiveSettings {
    /// Base URL without a trailing slash, e.g. `https://thehive.example:9000`.
    pub url: HttpUrl,
    pub api_key: Secret,
    pub organisation: Option<String>,
    pub version: Option<TheHiveVersion>,
    pub attachment_max_bytes: u64,
}

/// A downloaded attachment in a private temporary file, removed when dropped.
#[derive(Debug)]
pub struct Spooled {
    pub path: PathBuf,
    pub size: u64,
}

impl Drop for Spooled {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[derive(Debug)]
pub struct TheHiveClient {
    /// Builds the requests; `layer` sends them.
    http: Client,
    layer: HttpClient,
    settings: TheHiveSettings,
}

impl TheHiveClient {
    /// `http`: the responders pass the MDR client's, so both trust the same anchors and proxies.
    pub fn new(settings: TheHiveSettings, http: &HttpConfig) -> Result<TheHiveClient, TheHiveError> {
        let layer = HttpClient::new(http)?;
        Ok(TheHiveClient { http: layer.client().clone(), layer, settings })
    }

    /// The configured version, else the job's hint, else what `/api/v1/status` (TheHive 5's
    /// `version`) or, when that route is missing, `/api/status` (TheHive 4's `versions.TheHive`) says.
    pub fn version(&self, hint: Option<TheHiveVersion>) -> Result<TheHiveVersion, TheHiveError> {
        if let Some(version) = self.settings.version.or(hint) {
            return Ok(version);
        }
        let status: Value = match self.json("status", self.http.get(self.url("/api/v1/status"))) {
            Err(TheHiveError::Status { status: 404 | 405, .. }) => {
                self.json("status", self.http.get(self.url("/api/status")))?
            }
            other => other?,
        };
        let reported = status["version"].as_str().or(status["versions"]["TheHive"].as_str()).unwrap_or("");
        TheHiveVersion::parse_choice(reported).ok().flatten().ok_or_else(|| TheHiveError::BadBody {
            what: "status".to_owned(),
            detail: format!("unknown TheHive version {reported:?}; set `thehive_version`"),
        })
    }

    /// Downloads attachment `meta` of log `log_id` through the route of `version`.
    pub fn download_attachment(
        &self,
        meta: &AttachmentMeta<'_>,
        log_id: Option<&str>,
        version: TheHiveVersion,
    ) -> Result<Spooled, TheHiveError> {
        let what = format!("attachment download ({})", meta.name);
        let v1 = |id: &str| self.url(&format!("/api/v1/attachment/{id}/download"));
        let request = match version {
            TheHiveVersion::V4 => {
                return self.spool(meta.name, self.http.get(self.url(&format!("/api/datastore/{}", meta.id))));
            }
            TheHiveVersion::V5 => self.http.get(v1(meta.id)),
        };
        // Whether TheHive 5 takes the hash is unconfirmed; its documented key is the `_id`.
        let refused = match self.send(&what, request) {
            Ok(response) => return self.spool_response(meta.name, response),
            Err(err @ TheHiveError::Status { status: 400 | 404, .. }) => err,
            Err(err) => return Err(err),
        };
        let entity_id = match meta.entity_id {
            Some(id) => Some(id.to_owned()),
            None => match log_id {
                Some(log_id) => self.attachment_entity_id(log_id, meta.id)?,
                None => None,
            },
        };
        match entity_id.filter(|e| e != meta.id) {
            Some(entity_id) => self.spool(meta.name, self.http.get(v1(&entity_id))),
            None => Err(refused),
        }
    }

    /// The `_id` of the attachment with hash `hash` in log `log_id`, from a v1 `getLog` query.
    fn attachment_entity_id(&self, log_id: &str, hash: &str) -> Result<Option<String>, TheHiveError> {
        let query = json!({"query": [{"_name": "getLog", "idOrName": log_id}]});
        let logs: Vec<Value> = self.json("log query", self.http.post(self.url("/api/v1/query")).json(&query))?;
        let listed = logs.iter().filter_map(|l| l["attachments"].as_array()).flatten();
        Ok(listed.filter(|a| a["id"] == hash).find_map(|a| a["_id"].as_str()).map(str::to_owned))
    }

    fn spool(&self, name: &str, request: RequestBuilder) -> Result<Spooled, TheHiveError> {
        let response = self.send(&format!("attachment download ({name})"), request)?;
        self.spool_response(name, response)
    }

    /// Streams the attachment into a private temporary file, refusing more than the size limit.
    fn spool_response(&self, name: &str, response: Response) -> Result<Spooled, TheHiveError> {
        let limit = self.settings.attachment_max_bytes;
        let too_large = || TheHiveError::TooLarge { name: name.to_owned(), limit_mb: limit / 1_000_000 };
        if response.content_length().is_some_and(|len| len > limit) {
            return Err(too_large());
        }
        let spool_error = |e: io::Error| TheHiveError::Spool { name: name.to_owned(), reason: e.to_string() };
        let (mut file, mut spooled) = spool_file().map_err(spool_error)?;
        let size = io::copy(&mut response.take(limit.saturating_add(1)), &mut file).map_err(|e| {
            TheHiveError::Unreachable {
                url: self.settings.url.to_string(),
                detail: format!("the download of {name} broke off: {e}"),
            }
        })?;
        if size > limit {
            return Err(too_large());
        }
        file.sync_all().map_err(spool_error)?;
        spooled.size = size;
        Ok(spooled)
    }

    /// Resolves the case with MDR's resolution and the summary (TheHive 4: status `Resolved` +
    /// `resolutionStatus`; TheHive 5: the status is the resolution). `status` is the TheHive name
    /// of MDR's resolution (an organisation may have renamed it).
    pub fn resolve_case(
        &self,
        case_id: &str,
        version: TheHiveVersion,
        status: &str,
        summary: &str,
        impact: Option<&str>,
    ) -> Result<(), TheHiveError> {
        let impact = impact.unwrap_or("NotApplicable");
        let (path, body) = match version {
            TheHiveVersion::V4 => (
                format!("/api/case/{case_id}"),
                json!({"status": "Resolved", "resolutionStatus": status, "impactStatus": impact, "summary": summary}),
            ),
            TheHiveVersion::V5 => (
                format!("/api/v1/case/{case_id}"),
                json!({"status": status, "impactStatus": impact, "summary": summary}),
            ),
        };
        self.send("case update", self.http.patch(self.url(&path)).json(&body)).map(drop)
    }

    /// The hostname and FQDN observables of the case.
    pub fn host_observables(&self, case_id: &str, version: TheHiveVersion) -> Result<Vec<String>, TheHiveError> {
        let types = json!({"_field": "dataType", "_values": HOST_DATA_TYPES});
        let request = match version {
            TheHiveVersion::V4 => self.http.post(self.url("/api/case/artifact/_search")).json(&json!({
                "query": {"_and": [{"_parent": {"_type": "case", "_query": {"_id": case_id}}}, {"_in": types}]},
                "range": "all",
            })),
            TheHiveVersion::V5 => self.http.post(self.url("/api/v1/query?name=case-observables")).json(&json!({
                "query": [{"_name": "getCase", "idOrName": case_id}, {"_name": "observables"}, {"_name": "filter", "_in": types}],
            })),
        };
        let observables: Vec<Value> = self.json("observable search", request)?;
        let hosts = observables.iter().filter(|o| o["dataType"].as_str().is_some_and(|t| HOST_DATA_TYPES.contains(&t)));
        Ok(hosts.filter_map(|o| o["data"].as_str()).map(|d| d.trim().to_owned()).filter(|d| !d.is_empty()).collect())
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.settings.url.as_str())
    }

    fn json<T: serde::de::DeserializeOwned>(&self, what: &str, request: RequestBuilder) -> Result<T, TheHiveError> {
        let response = self.send(what, request)?;
        let bytes =
            response.bytes().map_err(|e| TheHiveError::BadBody { what: what.to_owned(), detail: causes(&e) })?;
        serde_json::from_slice(&bytes)
            .map_err(|e| TheHiveError::BadBody { what: what.to_owned(), detail: e.to_string() })
    }

    /// Sends with the API key and organisation, retried as `cortex-http` decides; any non-2xx status is an error.
    fn send(&self, what: &str, request: RequestBuilder) -> Result<Response, TheHiveError> {
        // GETs are reads; anything else may change the case and is resent only if it never left.
        let method = request.try_clone().and_then(|r| r.build().ok()).map(|r| r.method().clone());
        let call = if method == Some(reqwest::Method::GET) { Call::Read } else { Call::Write };
        let auth = HiveAuth { api_key: &self.settings.api_key, organisation: self.settings.organisation.as_deref() };
        send_to_thehive(&self.layer, call, &auth, |_| request.try_clone()).map_err(|failure| match failure {
            HiveFailure::Refused { status, message } => {
                let hint = match status {
                    401 => " (check `thehive_api_key`)",
                    403 => " (the API key's user lacks the permission in this organisation)",
                    404 => " (not found: check `thehive_url` and `thehive_version`)",
                    _ => "",
                };
                TheHiveError::Status { what: what.to_owned(), status, message, hint }
            }
            HiveFailure::Transport(failure) => self.transport_error(failure),
            HiveFailure::NotRepeatable => TheHiveError::NotRepeatable { what: what.to_owned() },
        })
    }
}

/// Who a TheHive request is sent as.
pub struct HiveAuth<'a> {
    pub api_key: &'a Secret,
    /// Sent as `X-Organisation` when set.
    pub organisation: Option<&'a str>,
}

/// Why a TheHive request got no 2xx answer.
#[derive(Debug)]
pub enum HiveFailure {
    /// TheHive answered `status`; `message` is its own explanation, shortened.
    Refused { status: u16, message: String },
    /// No answer came (timeout, refused or lost connection, TLS).
    Transport(Failure),
    /// A resend was due but `build` could not make the request again.
    NotRepeatable,
}

/// One TheHive request, as the responders' client and `mdr-sync` both send it: with the API key
/// and organisation, through `cortex-http`'s retry loop (a `Call::Read` is retried on gateway
/// errors and lost connections, a `Call::Write` only when it provably never left). `build` makes
/// the request for each attempt; `None` when it cannot be made again.
pub fn send_to_thehive(
    layer: &HttpClient,
    call: Call,
    auth: &HiveAuth<'_>,
    mut build: impl FnMut(&Client) -> Option<RequestBuilder>,
) -> Result<Response, HiveFailure> {
    let mut attempts = 0;
    let outcome = layer.execute(call, &mut attempts, |client| {
        let request = build(client).ok_or(HiveFailure::NotRepeatable)?.bearer_auth(auth.api_key.expose());
        Ok(match auth.organisation {
            Some(org) => request.header("X-Organisation", org),
            None => request,
        })
    })?;
    let response = outcome.map_err(HiveFailure::Transport)?;
    let status = response.status().as_u16();
    if response.status().is_success() {
        return Ok(response);
    }
    let text = response.text().unwrap_or_default();
    let message = serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|v| v["message"].as_str().map(preview))
        .unwrap_or_else(|| if text.trim().is_empty() { "no details".to_owned() } else { preview(&text) });
    Err(HiveFailure::Refused { status, message })
}

impl TheHiveClient {
    fn transport_error(&self, failure: Failure) -> TheHiveError {
        let url = self.settings.url.to_string();
        match failure {
            Failure::Untrusted { reason: Untrusted::NotConfigured, .. } => TheHiveError::NotConfigured { url },
            Failure::Untrusted { detail, .. } | Failure::HandshakeRefused { detail, .. } | Failure::Tls { detail } => {
                TheHiveError::Untrusted { url, detail }
            }
            Failure::Timeout { .. } => {
                TheHiveError::Unreachable { url, detail: "no answer within `timeout`".to_owned() }
            }
            Failure::Unreachable { detail } | Failure::Lost { detail } => TheHiveError::Unreachable { url, detail },
        }
    }
}

/// A new private file in the temporary folder.
fn spool_file() -> io::Result<(File, Spooled)> {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let path = std::env::temp_dir().join(format!("mdr-attachment-{}-{nanos}.tmp", std::process::id()));
    let file = OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path)?;
    Ok((file, Spooled { path, size: 0 }))
}
