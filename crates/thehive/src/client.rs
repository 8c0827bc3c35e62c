//! The one client for TheHive's REST API, used by the responders (what Cortex operations cannot do:
//! fetch a task log's attachment, resolve a case, list a case's host observables) and by
//! `mdr-sync` (cases, tasks and logs: [`crate::records`]). Configured by the responders'
//! `thehive_url`/`thehive_api_key` items or `mdr-sync`'s `thehive.*` keys; a [`Naming`] given at
//! construction makes every hint name the setting of the program that runs it.
//!
//! TheHive 4 is spoken through its v0 routes, TheHive 5 through v1 ([`crate::routes`]). The version
//! is the configured one, else a hint from the job, else what the status routes say (asked once
//! per client). Requests carry the API key and `X-Organisation`; reads are retried on gateway
//! errors and lost connections, writes resent only when they provably never left (`cortex-http`).
//!
//! Attachments come from `/api/datastore/{hash}` on TheHive 4 and from
//! `/api/v1/attachment/{id}/download` on TheHive 5: first with the hash `id`, and if TheHive refuses
//! it with the attachment's `_id`, taken from the job or from a `getLog` query.

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use cortex_http::{Call, HttpClient, HttpConfig, HttpUrl, TransportError, causes};
use reqwest::blocking::{Client, RequestBuilder, Response};
use safekeeping::Secret;
use safekeeping::redact::preview;
use serde_json::{Value, json};

use crate::Version;
use crate::error::{Naming, TheHiveError};
use crate::routes;
use crate::view::AttachmentMeta;

/// Largest attachment sent to MDR unless `attachment_max_mb` says otherwise.
pub const DEFAULT_ATTACHMENT_MAX_MB: u64 = 100;
const HOST_DATA_TYPES: &[&str] = &["hostname", "fqdn"];

/// Where TheHive is and who the client acts as.
#[derive(Debug, Clone)]
pub struct TheHiveSettings {
    /// Base URL without a trailing slash, e.g. `https://thehive.example:9000`.
    pub url: HttpUrl,
    pub api_key: Secret,
    /// Sent as `X-Organisation` when set.
    pub organisation: Option<String>,
    /// The configured version; None means "find out".
    pub version: Option<Version>,
    /// Largest attachment downloaded.
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

/// How a case is resolved. TheHive 4 takes status `Resolved` with `th4_resolution` as
/// `resolutionStatus`; on TheHive 5 the status is the resolution, `th5_status`, which an
/// organisation may have renamed.
#[derive(Debug, Clone, Copy)]
pub struct Resolution<'a> {
    pub th4_resolution: &'a str,
    pub th5_status: &'a str,
    pub summary: &'a str,
    /// `impactStatus`; `NotApplicable` when None.
    pub impact: Option<&'a str>,
}

#[derive(Debug)]
pub struct TheHiveClient {
    pub(crate) http: HttpClient,
    settings: TheHiveSettings,
    naming: &'static Naming,
    timeout: Duration,
    /// What the object at hand says of the version, used when none is configured.
    hint: Option<Version>,
    /// The version the status routes reported, asked once.
    probed: OnceLock<Version>,
}

impl TheHiveClient {
    /// `http`: the responders pass the MDR client's (same anchors and proxies); `mdr-sync` one with
    /// `thehive.ssl_cert` as its CA file. `naming` says how the program calls its settings.
    pub fn new(
        settings: TheHiveSettings,
        http: &HttpConfig,
        naming: &'static Naming,
    ) -> Result<TheHiveClient, TheHiveError> {
        let layer = HttpClient::new(http)?;
        Ok(TheHiveClient { http: layer, settings, naming, timeout: http.timeout, hint: None, probed: OnceLock::new() })
    }

    /// Uses `hint` (from [`crate::view::Context::version_hint`], say) when no version is configured.
    pub fn with_hint(mut self, hint: Option<Version>) -> TheHiveClient {
        self.hint = hint;
        self
    }

    pub fn url(&self) -> &HttpUrl {
        &self.settings.url
    }

    /// The configured version, else the hint, else what the status routes report (in the order
    /// of [`routes::STATUS_PROBE`], the next asked only when one answers 404 or 405).
    pub fn version(&self) -> Result<Version, TheHiveError> {
        if let Some(version) = self.settings.version.or(self.hint).or_else(|| self.probed.get().copied()) {
            return Ok(version);
        }
        let [first, second] = routes::STATUS_PROBE;
        let status: Value = match self.get_json("status", first) {
            Err(TheHiveError::Status { status: 404 | 405, .. }) => self.get_json("status", second)?,
            other => other?,
        };
        let version = Version::from_status(&status).ok_or_else(|| TheHiveError::UnknownVersion {
            url: self.settings.url.to_string(),
            reported: preview(&status.to_string()),
            naming: self.naming,
        })?;
        Ok(*self.probed.get_or_init(|| version))
    }

    /// Checks the API key with a call only a valid key may make; the login of its user.
    pub fn current_user(&self) -> Result<String, TheHiveError> {
        let user: Value = self.get_json("current user", &routes::current_user(self.version()?))?;
        Ok(user["login"].as_str().or(user["_id"].as_str()).map_or_else(|| "?".to_owned(), preview))
    }

    /// Checks that TheHive defines a custom field named `name`, so cases can carry it.
    pub fn check_case_field(&self, name: &str) -> Result<(), TheHiveError> {
        let version = self.version()?;
        let fields: Vec<Value> = self.get_json("custom field list", &routes::custom_fields(version))?;
        // TheHive 4's v0 answer gives the field's name as `reference` (`name` is its display name).
        let key = match version {
            Version::V4 => "reference",
            Version::V5 => "name",
        };
        if fields.iter().any(|f| f[key].as_str() == Some(name)) {
            Ok(())
        } else {
            Err(TheHiveError::NoCustomField { name: name.to_owned(), naming: self.naming })
        }
    }

    /// Downloads attachment `meta` of log `log_id`.
    pub fn download_attachment(
        &self,
        meta: &AttachmentMeta<'_>,
        log_id: Option<&str>,
    ) -> Result<Spooled, TheHiveError> {
        if self.version()? == Version::V4 {
            return self.spool(meta.name, &routes::datastore(meta.id));
        }
        let what = format!("attachment download ({})", meta.name);
        // Whether TheHive 5 takes the hash is unconfirmed; its documented key is the `_id`.
        let refused = match self.send_once_built(&what, Call::Read, self.get(&routes::attachment_download(meta.id))) {
            Ok(response) => return self.spool_response(meta.name, response),
            Err(err @ TheHiveError::Status { status: 400 | 404, .. }) => err,
            Err(err) => return Err(err),
        };
        let entity_id = match (meta.entity_id, log_id) {
            (Some(id), _) => Some(id.to_owned()),
            (None, Some(log_id)) => self.attachment_entity_id(log_id, meta.id)?,
            (None, None) => None,
        };
        match entity_id.filter(|e| e != meta.id) {
            Some(entity_id) => self.spool(meta.name, &routes::attachment_download(&entity_id)),
            None => Err(refused),
        }
    }

    /// The `_id` of the attachment with hash `hash` in log `log_id`, from a v1 `getLog` query.
    fn attachment_entity_id(&self, log_id: &str, hash: &str) -> Result<Option<String>, TheHiveError> {
        let query = json!({"query": [{"_name": "getLog", "idOrName": log_id}]});
        let logs: Vec<Value> = self.json("log query", Call::Read, self.post(routes::QUERY).json(&query))?;
        let listed = logs.iter().filter_map(|l| l["attachments"].as_array()).flatten();
        Ok(listed.filter(|a| a["id"] == hash).find_map(|a| a["_id"].as_str()).map(str::to_owned))
    }

    fn spool(&self, name: &str, path: &str) -> Result<Spooled, TheHiveError> {
        let response = self.send_once_built(&format!("attachment download ({name})"), Call::Read, self.get(path))?;
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
            let detail = format!("the download of {name} broke off: {e}");
            self.transport_error(TransportError::broken_body(Call::Read, self.timeout, &detail))
        })?;
        if size > limit {
            return Err(too_large());
        }
        file.sync_all().map_err(spool_error)?;
        spooled.size = size;
        Ok(spooled)
    }

    /// Resolves the case (see [`Resolution`]).
    pub fn resolve_case(&self, case_id: &str, resolution: &Resolution<'_>) -> Result<(), TheHiveError> {
        let version = self.version()?;
        let impact = resolution.impact.unwrap_or("NotApplicable");
        let body = match version {
            Version::V4 => json!({"status": "Resolved", "resolutionStatus": resolution.th4_resolution,
                                  "impactStatus": impact, "summary": resolution.summary}),
            Version::V5 => {
                json!({"status": resolution.th5_status, "impactStatus": impact, "summary": resolution.summary})
            }
        };
        let request = self.http.client().patch(self.full_url(&routes::case(version, case_id))).json(&body);
        self.send_once_built("case update", Call::Write, request).map(drop)
    }

    /// The hostname and FQDN observables of the case.
    pub fn host_observables(&self, case_id: &str) -> Result<Vec<String>, TheHiveError> {
        let types = json!({"_field": "dataType", "_values": HOST_DATA_TYPES});
        let request = match self.version()? {
            Version::V4 => self.post(routes::OBSERVABLE_SEARCH).json(&json!({
                "query": {"_and": [{"_parent": {"_type": "case", "_query": {"_id": case_id}}}, {"_in": types}]},
                "range": "all",
            })),
            Version::V5 => self.post(routes::QUERY).query(&[("name", "case-observables")]).json(&json!({
                "query": [{"_name": "getCase", "idOrName": case_id}, {"_name": "observables"}, {"_name": "filter", "_in": types}],
            })),
        };
        let observables: Vec<Value> = self.json("observable search", Call::Read, request)?;
        let hosts = observables.iter().filter(|o| o["dataType"].as_str().is_some_and(|t| HOST_DATA_TYPES.contains(&t)));
        Ok(hosts.filter_map(|o| o["data"].as_str()).map(|d| d.trim().to_owned()).filter(|d| !d.is_empty()).collect())
    }

    pub(crate) fn full_url(&self, path: &str) -> String {
        format!("{}{path}", self.settings.url.as_str())
    }

    pub(crate) fn get(&self, path: &str) -> RequestBuilder {
        self.http.client().get(self.full_url(path))
    }

    pub(crate) fn post(&self, path: &str) -> RequestBuilder {
        self.http.client().post(self.full_url(path))
    }

    pub(crate) fn get_json<T: serde::de::DeserializeOwned>(&self, what: &str, path: &str) -> Result<T, TheHiveError> {
        self.json(what, Call::Read, self.get(path))
    }

    pub(crate) fn json<T: serde::de::DeserializeOwned>(
        &self,
        what: &str,
        call: Call,
        request: RequestBuilder,
    ) -> Result<T, TheHiveError> {
        let response = self.send_once_built(what, call, request)?;
        let bytes =
            response.bytes().map_err(|e| TheHiveError::BadBody { what: what.to_owned(), detail: causes(&e) })?;
        serde_json::from_slice(&bytes)
            .map_err(|e| TheHiveError::BadBody { what: what.to_owned(), detail: e.to_string() })
    }

    /// [`TheHiveClient::send`] of a request whose body can be copied for a resend.
    pub(crate) fn send_once_built(
        &self,
        what: &str,
        call: Call,
        request: RequestBuilder,
    ) -> Result<Response, TheHiveError> {
        self.send(what, call, |_| request.try_clone())
    }

    /// Sends with the API key and organisation through `cortex-http`'s retry loop (a `Call::Read`
    /// is retried on gateway errors and lost connections, a `Call::Write` only when it provably
    /// never left; a write whose answer was lost is found by the next reads). `build` makes the
    /// request for each attempt (a multipart body cannot be replayed), None when it cannot.
    /// Any non-2xx answer is an error.
    pub(crate) fn send(
        &self,
        what: &str,
        call: Call,
        mut build: impl FnMut(&Client) -> Option<RequestBuilder>,
    ) -> Result<Response, TheHiveError> {
        let not_repeatable = || TheHiveError::NotRepeatable { what: what.to_owned() };
        let mut attempts = 0;
        let outcome = self.http.execute(call, &mut attempts, |client| {
            let request = build(client).ok_or_else(not_repeatable)?.bearer_auth(self.settings.api_key.expose());
            Ok::<_, TheHiveError>(match self.settings.organisation.as_deref() {
                Some(org) => request.header("X-Organisation", org),
                None => request,
            })
        })?;
        let response = outcome.map_err(|error| self.transport_error(error))?;
        let status = response.status().as_u16();
        if response.status().is_success() {
            return Ok(response);
        }
        let text = response.text().unwrap_or_default();
        let message = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| v["message"].as_str().map(preview))
            .unwrap_or_else(|| if text.trim().is_empty() { "no details".to_owned() } else { preview(&text) });
        Err(TheHiveError::Status { what: what.to_owned(), status, message, hint: self.naming.status_hint(status) })
    }

    fn transport_error(&self, error: TransportError) -> TheHiveError {
        TheHiveError::Transport { url: self.settings.url.to_string(), error, naming: self.naming }
    }
}

/// A new private file in the temporary folder.
fn spool_file() -> io::Result<(File, Spooled)> {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let path = std::env::temp_dir().join(format!("mdr-attachment-{}-{nanos}.tmp", std::process::id()));
    let file = OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path)?;
    Ok((file, Spooled { path, size: 0 }))
}
