//! One enrichment message, whichever transport brought it: parse it as pycti does, report the
//! work, read the entity, enrich, send the result and close the work.
//!
//! Differences from pycti, on purpose: a refusal or an error inside a playbook still passes the
//! incoming bundle on (the playbook would otherwise stop there); when the platform sends no
//! `stix_objects` the entity's STIX form alone is the bundle (pycti rebuilds a larger export).

use serde_json::{Value, json};

use super::bundle;
use super::graphql::{ApiError, OpenCti};
use safekeeping::Secret;

/// What an enrichment gives: new objects to send (empty: nothing) and the work message.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub objects: Vec<Value>,
    pub message: String,
}

/// The enrichment itself, as the platform side sees it. `Err` is the work's error message.
pub trait Enrich: Send + Sync {
    fn enrich(&self, entity: &Value, stix_entity: &Value, stix_objects: &[Value]) -> Result<Outcome, String>;
}

/// Where results go.
pub trait Sink: Send + Sync {
    /// Sends a bundle (not in a playbook) for the given work.
    fn send(&self, api: &OpenCti, bundle: &Value, work_id: Option<&str>) -> Result<(), SendError>;
}

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error("the broker did not take the bundle: {0}")]
    Broker(String),
}

/// A message that cannot be processed at all (the HTTP callback answers 400).
#[derive(Debug, thiserror::Error)]
pub enum MessageError {
    #[error("the message is not JSON")]
    NotJson,
    #[error("the message has no {0}")]
    Missing(&'static str),
}

/// How the message ended, for the transport (the HTTP callback answers 500 on `Failed`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handled {
    Processed,
    /// The work was marked in error with this message.
    InError(String),
    /// The platform could not be told (outage): the transport decides.
    Failed(String),
}

/// The fields of a listen message this connector uses.
#[derive(Debug, Clone)]
pub struct Message {
    pub work_id: Option<String>,
    pub playbook: Option<Value>,
    pub entity_id: String,
    pub event_type: Option<String>,
    pub stix_entity: Option<Value>,
    pub stix_objects: Option<Vec<Value>>,
    /// The playbook's incoming bundle.
    pub bundle: Option<Value>,
}

impl Message {
    pub fn parse(body: &[u8]) -> Result<Message, MessageError> {
        let value: Value = serde_json::from_slice(body).map_err(|_| MessageError::NotJson)?;
        Message::from_value(&value)
    }

    pub fn from_value(value: &Value) -> Result<Message, MessageError> {
        let internal = value.get("internal").filter(|v| v.is_object()).ok_or(MessageError::Missing("internal"))?;
        let event = value.get("event").filter(|v| v.is_object()).ok_or(MessageError::Missing("event"))?;
        let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
        let entity_id = text(event, "entity_id").ok_or(MessageError::Missing("event.entity_id"))?;
        // stix_entity / stix_objects come as JSON strings (pycti parses them); objects are accepted too.
        let embedded = |k: &str| match event.get(k) {
            Some(Value::String(s)) => serde_json::from_str::<Value>(s).ok(),
            Some(v) if !v.is_null() => Some(v.clone()),
            _ => None,
        };
        let stix_objects = embedded("stix_objects").and_then(|v| match v {
            Value::Array(items) => Some(items),
            _ => None,
        });
        Ok(Message {
            work_id: text(internal, "work_id"),
            playbook: internal.get("playbook").filter(|p| p.is_object()).cloned(),
            entity_id,
            event_type: text(event, "event_type"),
            stix_entity: embedded("stix_entity").filter(Value::is_object),
            stix_objects,
            bundle: event.get("bundle").filter(|b| b.is_object()).cloned(),
        })
    }
}

/// Everything a message needs; shared by the worker threads.
pub struct Context {
    pub api: OpenCti,
    pub enricher: Box<dyn Enrich>,
    pub sink: Box<dyn Sink>,
    pub connector_id: String,
    /// Secrets that must never reach a work message.
    pub secrets: Vec<Secret>,
}

impl Context {
    /// Processes one message to the end. Never panics on bad input.
    pub fn handle(&self, message: &Message) -> Handled {
        if let Some(work_id) = &message.work_id
            && let Err(e) = self.api.work_to_received(work_id)
        {
            return Handled::Failed(format!("cannot mark the work received: {e}"));
        }
        let started = crate::stix::timestamp::Timestamp::now().stix();
        let result = self.enrich(message, &started);
        let (text, in_error) = match &result {
            Ok(outcome) => (outcome.message.clone(), false),
            Err(Step::Refused(text)) => (text.clone(), true),
            Err(Step::Platform(text)) => return Handled::Failed(text.clone()),
        };
        let text = self.redact(&text);
        if let Some(work_id) = &message.work_id
            && let Err(e) = self.api.work_to_processed(work_id, &text, in_error)
        {
            return Handled::Failed(format!("cannot close the work: {e}"));
        }
        if in_error { Handled::InError(text) } else { Handled::Processed }
    }

    fn enrich(&self, message: &Message, started: &str) -> Result<Outcome, Step> {
        let entity = match self.api.read_observable(&message.entity_id) {
            Ok(Some(entity)) => entity,
            Ok(None) => {
                let refusal = "Unable to read/access the entity, please check that the connector permission is correct";
                return self.finish_playbook(message, started, Err(refusal.to_owned()));
            }
            Err(e) => return Err(Step::Platform(format!("cannot read the entity: {e}"))),
        };
        let (stix_entity, stix_objects) = match self.stix_input(message) {
            Ok(input) => input,
            Err(Step::Refused(text)) => return self.finish_playbook(message, started, Err(text)),
            Err(step) => return Err(step),
        };
        let outcome = self.enricher.enrich(&entity, &stix_entity, &stix_objects);
        if message.playbook.is_some() {
            return self.finish_playbook(message, started, outcome);
        }
        match outcome {
            Ok(outcome) => {
                if !outcome.objects.is_empty() {
                    let bundle = bundle::make(outcome.objects.clone());
                    self.sink
                        .send(&self.api, &bundle, message.work_id.as_deref())
                        .map_err(|e| Step::Platform(format!("cannot send the bundle: {e}")))?;
                }
                Ok(outcome)
            }
            Err(text) => Err(Step::Refused(text)),
        }
    }

    /// The entity's STIX form and the bundle it came with, as pycti resolves them.
    fn stix_input(&self, message: &Message) -> Result<(Value, Vec<Value>), Step> {
        if let Some(bundle) = &message.bundle {
            let objects = bundle.get("objects").and_then(Value::as_array).cloned().unwrap_or_default();
            let entity = objects
                .iter()
                .find(|o| o.get("id").and_then(Value::as_str) == Some(message.entity_id.as_str()))
                .cloned()
                .ok_or_else(|| Step::Refused("The playbook bundle does not hold the entity to enrich".into()))?;
            return Ok((entity, objects));
        }
        let entity = match &message.stix_entity {
            Some(entity) => entity.clone(),
            None => self
                .api
                .stix(&message.entity_id)
                .map_err(|e| Step::Platform(format!("cannot read the entity's STIX form: {e}")))?
                .ok_or_else(|| Step::Refused("The platform has no STIX form of the entity".into()))?,
        };
        let objects = message.stix_objects.clone().unwrap_or_else(|| vec![entity.clone()]);
        Ok((entity, objects))
    }

    /// In a playbook the incoming bundle always goes on, with the new objects on success.
    fn finish_playbook(
        &self,
        message: &Message,
        started: &str,
        outcome: Result<Outcome, String>,
    ) -> Result<Outcome, Step> {
        let (Some(playbook), Some(incoming)) = (&message.playbook, &message.bundle) else {
            return outcome.map_err(Step::Refused);
        };
        let incoming_objects = incoming.get("objects").and_then(Value::as_array).cloned().unwrap_or_default();
        let new_objects = outcome.as_ref().map(|o| o.objects.clone()).unwrap_or_default();
        let mut out = incoming.clone();
        out["objects"] = Value::Array(bundle::merge(incoming_objects, new_objects));
        let previous = incoming.to_string();
        self.api
            .playbook_step(playbook, started, &previous, &out.to_string())
            .map_err(|e| Step::Platform(format!("cannot hand the bundle to the playbook: {e}")))?;
        outcome.map_err(Step::Refused)
    }

    fn redact(&self, text: &str) -> String {
        let mut text = text.to_owned();
        for secret in &self.secrets {
            if secret.expose().len() >= 4 {
                text = text.replace(secret.expose(), "[redacted]");
            }
        }
        text
    }
}

enum Step {
    /// The enrichment or the input said no: the work ends in error with this text.
    Refused(String),
    /// The platform could not be reached or refused a call.
    Platform(String),
}

/// The callback's 202 body, as pycti answers.
pub fn accepted_body() -> Value {
    json!({ "message": "Message successfully received" })
}
