//! The MDR calls the MDR -> TheHive synchronisation (`mdr-sync`) makes: incidents changed since a
//! time, and every comment, attachment and proposed response of one incident.
//!
//! No default page size is documented for any list call, so every list here names `page` and
//! `page_size` and reads pages until a short or empty one, up to a bound: an answer that is still
//! full past the bound is an error naming what to narrow, never a silent truncation.
//!
//! Paging as MDR documents it (or not): docs/mdr-api.md#lists-and-paging.

use std::io::Read;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use cortex_http::Call;

use crate::client::{Body, MdrClient, MdrError, server_message, status_error};

/// Pages read at most for one list before giving up.
pub const MAX_PAGES: usize = 100;
const MAX_INCIDENT_PAGE: usize = 100;

/// The incident fields the synchronisation mirrors into TheHive.
#[derive(Debug, Clone, Deserialize)]
pub struct SyncIncident {
    pub incident_id: String,
    #[serde(default)]
    pub incident_number: Option<i64>,
    #[serde(default)]
    pub summary: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub priority: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub resolution: Option<String>,
    #[serde(default)]
    pub status_description: Option<String>,
    #[serde(default)]
    pub creation_time: Option<i64>,
    #[serde(default)]
    pub update_time: i64,
    #[serde(default)]
    pub affected_hosts: Vec<String>,
}

/// An attachment's metadata (the bytes come from [`MdrClient::download_attachment`]).
#[derive(Debug, Clone, Deserialize)]
pub struct SyncAttachment {
    pub attachment_id: String,
    #[serde(default)]
    pub author_name: String,
    #[serde(default)]
    pub full_name: String,
    #[serde(default)]
    pub caption: String,
    #[serde(default)]
    pub file_size: u64,
    #[serde(default)]
    pub link: String,
    #[serde(default)]
    pub creation_time: i64,
}

/// A response action the MDR SOC proposed, with what the TheHive task shows of it.
#[derive(Debug, Clone, Deserialize)]
pub struct ProposedResponse {
    pub response_id: String,
    #[serde(default, rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub comment: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub parameters: Value,
    #[serde(default)]
    pub creation_time: i64,
}

impl MdrClient {
    /// Incidents matching `filter` with `update_time >= min_update_time`, oldest change first, at
    /// most `limit` of them.
    pub fn incidents_updated_since(
        &self,
        filter: &Map<String, Value>,
        min_update_time: i64,
        limit: usize,
    ) -> Result<Vec<SyncIncident>, MdrError> {
        let mut body = filter.clone();
        body.insert("min_update_time".to_owned(), json!(min_update_time));
        body.insert("sort".to_owned(), json!("update_time:asc"));
        let page_size = limit.clamp(1, MAX_INCIDENT_PAGE);
        let mut all = self.pages("incidents/list", body, page_size, limit)?;
        all.truncate(limit);
        Ok(all)
    }

    pub fn all_attachments(&self, incident_id: &str) -> Result<Vec<SyncAttachment>, MdrError> {
        self.children("attachments/list", incident_id)
    }

    pub fn all_responses(&self, incident_id: &str) -> Result<Vec<ProposedResponse>, MdrError> {
        self.children("responses/list", incident_id)
    }

    /// The attachment's bytes (`attachments/download` answers the raw file), refusing more than
    /// `limit` bytes. Called after a list call of the same pass, so the access token is fresh.
    pub fn download_attachment(&self, attachment_id: &str, limit: u64) -> Result<Vec<u8>, MdrError> {
        let endpoint = "attachments/download";
        let body = json!({"attachment_id": attachment_id});
        let response = self.exchange(endpoint, &Body::Json(&body), Call::Read, true)?;
        let status = response.status().as_u16();
        if status != 200 {
            return Err(status_error(endpoint, status, server_message(response)));
        }
        let mut bytes = Vec::new();
        response.take(limit.saturating_add(1)).read_to_end(&mut bytes).map_err(|e| MdrError::ConnectionLost {
            endpoint: endpoint.to_owned(),
            detail: e.to_string(),
            maybe_sent: "",
        })?;
        if bytes.len() as u64 > limit {
            return Err(MdrError::BadBody {
                endpoint: endpoint.to_owned(),
                detail: format!("the file is larger than the {limit} bytes its size announced or allowed"),
            });
        }
        Ok(bytes)
    }

    fn children<T: DeserializeOwned>(&self, endpoint: &str, incident_id: &str) -> Result<Vec<T>, MdrError> {
        self.list_all(endpoint, json!({"incident_id": incident_id}))
    }

    /// Reads pages 1, 2, ... until a short or empty page, or until `wanted` items are read.
    fn pages<T: DeserializeOwned>(
        &self,
        endpoint: &str,
        body: Map<String, Value>,
        page_size: usize,
        wanted: usize,
    ) -> Result<Vec<T>, MdrError> {
        let mut all = Vec::new();
        for page in 1..=MAX_PAGES {
            let mut body = body.clone();
            body.insert("page".to_owned(), json!(page));
            body.insert("page_size".to_owned(), json!(page_size));
            let items: Vec<T> = self.call(endpoint, &Body::Json(&Value::Object(body)), Call::Read)?;
            let short = items.len() < page_size;
            all.extend(items);
            if short || all.len() >= wanted {
                return Ok(all);
            }
        }
        Err(MdrError::BadBody {
            endpoint: endpoint.to_owned(),
            detail: format!(
                "still full after {MAX_PAGES} pages of {page_size}: narrow `mdr_sync.filter.incidents` or lower `max_incidents_at_time`"
            ),
        })
    }
}
