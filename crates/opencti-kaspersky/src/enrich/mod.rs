//! One enrichment, as the Python connector does it: the TLP check with pycti's table, the scope
//! check, one TIP (or OpenTIP) lookup with the configured sections, then the STIX objects of
//! [`mapping`] and the work message.
//!
//! Where this differs from the Python connector (each listed in docs/opencti-enrichment.md): a TIP
//! 404 ends as "nothing found" (success, no bundle); a zone missing from the mapping leaves the score
//! alone instead of failing; the entity's own edits replace it in `stix_objects` (by id) instead of
//! being lost when the platform sent `stix_objects`; the lookup has a timeout and bounded retries.

mod mapping;

use std::time::Duration;

use kaspersky_tip::TipError;
use kaspersky_tip::client::{self, Answer};
use kaspersky_tip::config::{Backend, Patience, Service};
use kaspersky_tip::error::{Trouble, transport_message};
use kaspersky_tip::observable::{Kind, Observable};
use serde_json::{Map, Value};

use crate::kaspersky::KasperskyConfig;
use crate::stix::timestamp::Timestamp;

/// The Python connector's default `CONNECTOR_SCOPE`.
pub const DEFAULT_SCOPE: [&str; 5] = ["StixFile", "IPv4-Addr", "Domain-Name", "Hostname", "Url"];
/// The prefix the Python connector puts on every failure's work message.
const ERROR_PREFIX: &str = "[Kaspersky Enrichment] Unexpected Error occurred: ";
/// Waiting out 429/5xx: a few times, never more than this at once.
const PATIENCE: Patience = Patience { attempts: 3, max_wait: Duration::from_secs(30) };

pub struct EnrichmentInput {
    /// The OpenCTI entity as pycti's helper reads it (GraphQL answer): `entity_type`, `objectMarking`.
    pub entity: Value,
    /// Its STIX 2.1 form.
    pub stix_entity: Value,
    /// The objects of the bundle the platform sent (`stix_entity` among them).
    pub stix_objects: Vec<Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Enrichment {
    /// The bundle's objects; empty: nothing to send.
    pub objects: Vec<Value>,
    /// The work message.
    pub message: String,
    /// What the Python connector would only log (quota reached, unknown zone…), for the log.
    pub warnings: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum EnrichError {
    /// The entity type is outside `CONNECTOR_SCOPE` (a playbook passes its bundle on unchanged).
    #[error("{ERROR_PREFIX}Failed to process observable, {0} is not a supported entity type.")]
    OutOfScope(String),
    /// The lookup failed; the text says what to do (never a secret).
    #[error("{ERROR_PREFIX}{0}")]
    Tip(String),
    /// The message or entity lacks what the enrichment needs.
    #[error("{ERROR_PREFIX}{0}")]
    BadInput(String),
}

/// Thread-safe: `enrich` takes `&self`; each lookup has its own HTTP client.
#[derive(Debug, Clone)]
pub struct Enricher {
    service: Service,
    max_tlp: String,
    zone_scores: crate::kaspersky::ZoneScores,
    scope: Vec<String>,
}

impl Enricher {
    /// `timeout` bounds each TIP request (the connector's setting); retries stay within a few of them.
    pub fn new(config: &KasperskyConfig, timeout: Duration) -> Result<Enricher, EnrichError> {
        let mut service = Service::new(config.backend, config.api_url.clone(), config.auth());
        for kind in Kind::ALL {
            service.set_sections(kind, config.sections(kind).to_vec());
        }
        // The Python connector asks for one record per list section.
        service.count = 1;
        service.timeout = timeout;
        service.patience = Some(PATIENCE);
        Ok(Enricher {
            service,
            max_tlp: config.max_tlp.clone(),
            zone_scores: config.zone_scores.clone(),
            scope: DEFAULT_SCOPE.iter().map(|s| s.to_lowercase()).collect(),
        })
    }

    /// `CONNECTOR_SCOPE` (compared case-insensitively, as the Python connector does).
    pub fn with_scope<S: AsRef<str>>(mut self, scope: &[S]) -> Enricher {
        self.scope = scope.iter().map(|s| s.as_ref().trim().to_lowercase()).collect();
        self
    }

    pub fn enrich(&self, input: &EnrichmentInput) -> Result<Enrichment, EnrichError> {
        self.enrich_at(input, Timestamp::now())
    }

    /// [`Enricher::enrich`] with "now" given (the note's `created`, hence its id, depends on it).
    pub fn enrich_at(&self, input: &EnrichmentInput, now: Timestamp) -> Result<Enrichment, EnrichError> {
        let entity_type = input
            .entity
            .get("entity_type")
            .and_then(Value::as_str)
            .ok_or_else(|| EnrichError::BadInput("the entity has no entity_type".to_owned()))?;
        let tlp = entity_tlp(&input.entity);
        if !tlp_allowed(&tlp, &self.max_tlp) {
            // As the Python connector: a success whose message says why nothing was sent.
            let message = format!(
                "Do not send any data, TLP of the entity is ({tlp}), which\n                  is greater than MAX TLP: ({})",
                self.max_tlp
            );
            return Ok(Enrichment { objects: Vec::new(), message, warnings: Vec::new() });
        }
        if !self.scope.contains(&entity_type.to_lowercase()) {
            return Err(EnrichError::OutOfScope(entity_type.to_owned()));
        }
        let stix_entity = input
            .stix_entity
            .as_object()
            .ok_or_else(|| EnrichError::BadInput("the message has no stix_entity".to_owned()))?;
        let observable = observable(entity_type, stix_entity)?;
        let answer = match client::lookup(&self.service, &observable).map_err(|e| EnrichError::Tip(tip_message(e)))? {
            Answer::NotFound => {
                let message = format!(
                    "{} has no information about this {entity_type} (HTTP 404): nothing found, nothing to enrich",
                    self.service.backend.service()
                );
                return Ok(Enrichment { objects: Vec::new(), message, warnings: Vec::new() });
            }
            Answer::Found(answer) => self.wanted_sections(observable.kind, answer),
        };
        let context = mapping::Context { entity_type, zone_scores: &self.zone_scores, now };
        let outcome = mapping::enrich(&context, stix_entity, &answer)?;
        let mut objects = replace_entity(&input.stix_objects, outcome.entity);
        objects.extend(outcome.objects);
        let mut message = format!("Sending {} stix bundle(s) for worker import", distinct_ids(&objects));
        if outcome.nothing_known {
            message = format!("Kaspersky has no verdict for this {entity_type} (zone Grey: nothing found). {message}");
        }
        Ok(Enrichment { objects, message, warnings: outcome.warnings })
    }

    /// Only the configured sections count, on OpenTIP (fixed answer) as on TIP (asked for them).
    fn wanted_sections(&self, kind: Kind, answer: Map<String, Value>) -> Map<String, Value> {
        if self.service.backend == Backend::Tip {
            return answer;
        }
        let wanted = self.service.sections(kind);
        answer.into_iter().filter(|(key, _)| wanted.iter().any(|name| name.eq_ignore_ascii_case(key))).collect()
    }
}

/// The last TLP marking of the entity (`TLP:CLEAR` when none), as the Python connector reads it.
pub fn entity_tlp(entity: &Value) -> String {
    let markings = entity.get("objectMarking").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    markings
        .iter()
        .filter(|marking| marking.get("definition_type").and_then(Value::as_str) == Some("TLP"))
        .filter_map(|marking| marking.get("definition").and_then(Value::as_str))
        .next_back()
        .unwrap_or("TLP:CLEAR")
        .to_owned()
}

/// pycti's `check_max_tlp` table: which entity TLPs each maximum allows (CLEAR and WHITE alike).
pub fn tlp_allowed(tlp: &str, max_tlp: &str) -> bool {
    let order = ["TLP:CLEAR", "TLP:GREEN", "TLP:AMBER", "TLP:AMBER+STRICT", "TLP:RED"];
    let rank = |name: &str| {
        let upper = name.to_uppercase();
        let upper = if upper == "TLP:WHITE" { "TLP:CLEAR".to_owned() } else { upper };
        order.iter().position(|level| *level == upper)
    };
    match (rank(tlp), rank(max_tlp)) {
        (Some(tlp), Some(max)) => tlp <= max,
        _ => false,
    }
}

/// What to look up: the first of SHA-256, SHA-1, MD5 for files; the value otherwise (`http://`
/// put before a URL that does not start with `http`).
fn observable(entity_type: &str, stix_entity: &Map<String, Value>) -> Result<Observable, EnrichError> {
    let text = |key: &str| stix_entity.get(key).and_then(Value::as_str).map(str::trim).filter(|v| !v.is_empty());
    let value = |kind: Kind| {
        text("value")
            .map(|value| Observable { kind, data_type: kind.as_str().to_owned(), value: value.to_owned() })
            .ok_or_else(|| EnrichError::BadInput(format!("the {entity_type} has no value")))
    };
    match entity_type {
        "StixFile" | "Artifact" => {
            let hashes = stix_entity.get("hashes").and_then(Value::as_object);
            let hash = ["SHA-256", "SHA-1", "MD5"]
                .iter()
                .find_map(|algorithm| hashes?.get(*algorithm)?.as_str())
                .ok_or_else(|| {
                    EnrichError::BadInput(
                        "Unable to enrich the observable, the observable does not have an SHA256, SHA1, or MD5"
                            .to_owned(),
                    )
                })?;
            Observable::parse("hash", hash).map_err(|e| EnrichError::BadInput(e.to_string()))
        }
        "IPv4-Addr" => value(Kind::Ip),
        "Domain-Name" | "Hostname" => value(Kind::Domain),
        "Url" => {
            let mut url = value(Kind::Url)?;
            if !url.value.starts_with("http") {
                url.value = format!("http://{}", url.value);
            }
            Ok(url)
        }
        other => Err(EnrichError::BadInput(format!("Entity type is not supported: {other}"))),
    }
}

/// `stix_objects` with the entity replaced by its enriched form (matched by id), or the enriched
/// entity first when the platform's list lacks it.
fn replace_entity(stix_objects: &[Value], entity: Value) -> Vec<Value> {
    let id = entity.get("id").cloned();
    let mut replaced = false;
    let mut objects: Vec<Value> = stix_objects
        .iter()
        .map(|object| {
            if !replaced && object.get("id") == id.as_ref() {
                replaced = true;
                entity.clone()
            } else {
                object.clone()
            }
        })
        .collect();
    if !replaced {
        objects.insert(0, entity);
    }
    objects
}

/// The number of objects pycti would send: its splitter keeps one object per id.
fn distinct_ids(objects: &[Value]) -> usize {
    let mut ids: Vec<&str> = objects.iter().filter_map(|o| o.get("id").and_then(Value::as_str)).collect();
    ids.sort_unstable();
    ids.dedup();
    ids.len()
}

/// The lookup's failure, with the connector's settings named where the client names Cortex items.
fn tip_message(error: TipError) -> String {
    match error {
        TipError::Unauthorized { service, .. } => format!(
            "{service} refused the API key (HTTP 401): check KASPERSKY_API_KEY (a token expires after at most a year) and that the portal's terms were accepted once in a browser."
        ),
        TipError::Transport { service, url, error, advice } => match Trouble::of(&error, advice) {
            Trouble::Timeout { seconds } => format!(
                "No answer from {service} within {seconds} s: the service or the network is slow; the enrichment can be asked again later."
            ),
            Trouble::Unreachable { detail } => format!(
                "Cannot reach {service} at {url}: {detail}. Check KASPERSKY_API_BASE_URL, the proxy settings and the network."
            ),
            Trouble::Untrusted { detail } => format!(
                "{service} at {url} presented a TLS certificate that is not trusted ({detail}). Add the CA of a TLS-inspecting proxy to the system trust store, or check KASPERSKY_API_BASE_URL."
            ),
            refused @ Trouble::HandshakeRefused { .. } => transport_message(service, &url, refused),
        },
        other => other.to_string(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tlp_table_is_pyctis() {
        for (tlp, max, allowed) in [
            ("TLP:CLEAR", "TLP:CLEAR", true),
            ("TLP:WHITE", "TLP:CLEAR", true),
            ("TLP:CLEAR", "TLP:WHITE", true),
            ("TLP:GREEN", "TLP:CLEAR", false),
            ("TLP:AMBER", "TLP:AMBER", true),
            ("TLP:AMBER+STRICT", "TLP:AMBER", false),
            ("TLP:AMBER+STRICT", "TLP:AMBER+STRICT", true),
            ("TLP:RED", "TLP:AMBER+STRICT", false),
            ("TLP:RED", "TLP:RED", true),
            ("tlp:green", "TLP:AMBER", true),
            ("PAP:RED", "TLP:RED", false),
        ] {
            assert_eq!(tlp_allowed(tlp, max), allowed, "{tlp} under {max}");
        }
    }

    #[test]
    fn the_last_tlp_marking_wins() {
        let entity = json!({"objectMarking": [
            {"definition_type": "TLP", "definition": "TLP:RED"},
            {"definition_type": "PAP", "definition": "PAP:GREEN"},
            {"definition_type": "TLP", "definition": "TLP:GREEN"}]});
        assert_eq!(entity_tlp(&entity), "TLP:GREEN");
        assert_eq!(entity_tlp(&json!({"objectMarking": []})), "TLP:CLEAR");
        assert_eq!(entity_tlp(&json!({})), "TLP:CLEAR");
    }

    #[test]
    fn lookup_values_per_type() {
        let file = json!({"hashes": {"MD5": "44D88612FEA8A8F36DE82E1278ABB02F", "SHA-1": "3395856ce81f2b7382dee72602f798b642f14140"}});
        let o = observable("StixFile", file.as_object().unwrap()).unwrap();
        assert_eq!((o.kind, o.value.as_str()), (Kind::Hash, "3395856ce81f2b7382dee72602f798b642f14140"));
        let error = observable("StixFile", json!({"hashes": {}}).as_object().unwrap()).unwrap_err();
        assert!(error.to_string().contains("does not have an SHA256, SHA1, or MD5"));
        let url = observable("Url", json!({"value": "example.test/a"}).as_object().unwrap()).unwrap();
        assert_eq!(url.value, "http://example.test/a");
        let host = observable("Hostname", json!({"value": "cdn.example.test"}).as_object().unwrap()).unwrap();
        assert_eq!(host.kind, Kind::Domain);
        assert!(observable("Url", json!({"value": " "}).as_object().unwrap()).is_err());
    }

    #[test]
    fn the_enriched_entity_replaces_its_stale_copy() {
        let stale = vec![json!({"id": "m"}), json!({"id": "file--1", "x_opencti_score": 50})];
        let objects = replace_entity(&stale, json!({"id": "file--1", "size": 68}));
        assert_eq!(objects, vec![json!({"id": "m"}), json!({"id": "file--1", "size": 68})]);
        let objects = replace_entity(&[], json!({"id": "file--1"}));
        assert_eq!(objects, vec![json!({"id": "file--1"})]);
        assert_eq!(distinct_ids(&[json!({"id": "a"}), json!({"id": "a"}), json!({"id": "b"})]), 2);
    }

    #[test]
    fn errors_carry_the_python_prefix() {
        assert_eq!(
            EnrichError::OutOfScope("Email-Addr".into()).to_string(),
            "[Kaspersky Enrichment] Unexpected Error occurred: Failed to process observable, Email-Addr is not a supported entity type."
        );
    }
}
