//! The operations the connector sends, as pycti 7 phrases them, and what it reads back.

use serde_json::{Value, json};

use super::graphql::{ApiError, OpenCti};
use crate::config::ConnectorConfig;

/// The message a work gets when the connector takes it (pycti's).
pub const RECEIVED_MESSAGE: &str = "Connector ready to process the operation";

const ABOUT: &str = "query { about { version } }";

const REGISTER: &str = "mutation RegisterConnector($input: RegisterConnectorInput) {
  registerConnector(input: $input) {
    id connector_state jwks connector_user_id
    config {
      connection { host vhost use_ssl port user pass }
      listen listen_routing listen_exchange push push_routing push_exchange
    }
  }
}";

const PING: &str = "mutation PingConnector($id: ID!, $state: String, $connectorInfo: ConnectorInfoInput) {
  pingConnector(id: $id, state: $state, connectorInfo: $connectorInfo) { id connector_state }
}";

/// The part of pycti's observable read that an enrichment needs, plus the common fields.
const READ_OBSERVABLE: &str = "query StixCyberObservable($id: String!) {
  stixCyberObservable(id: $id) {
    id standard_id entity_type parent_types observable_value x_opencti_score
    createdBy { id standard_id entity_type name }
    objectMarking { id standard_id entity_type definition_type definition x_opencti_order x_opencti_color }
    objectLabel { id value color }
    ... on StixFile { name size mime_type hashes { algorithm hash } }
    ... on Artifact { mime_type payload_bin url hashes { algorithm hash } }
    ... on IPv4Addr { value }
    ... on DomainName { value }
    ... on Hostname { value }
    ... on Url { value }
  }
}";

const STIX: &str = "query Stix($id: String!) { stix(id: $id) }";

const TO_RECEIVED: &str = "mutation workToReceived($id: ID!, $message: String) {
  workEdit(id: $id) { toReceived(message: $message) }
}";

const TO_PROCESSED: &str = "mutation workToProcessed($id: ID!, $message: String, $inError: Boolean) {
  workEdit(id: $id) { toProcessed(message: $message, inError: $inError) }
}";

const ADD_EXPECTATIONS: &str = "mutation addExpectations($id: ID!, $expectations: Int) {
  workEdit(id: $id) { addExpectations(expectations: $expectations) }
}";

const BUNDLE_PUSH: &str = "mutation StixBundlePush($connectorId: String!, $bundle: String!, $work_id: String) {
  stixBundlePush(connectorId: $connectorId, bundle: $bundle, work_id: $work_id)
}";

const PLAYBOOK_STEP: &str = "mutation PlaybookStepExecution($execution_id: ID!, $event_id: ID!, $execution_start: DateTime!, $data_instance_id: ID!, $playbook_id: ID!, $previous_step_id: ID!, $step_id: ID!, $previous_bundle: String!, $bundle: String!) {
  playbookStepExecution(execution_id: $execution_id, event_id: $event_id, execution_start: $execution_start, data_instance_id: $data_instance_id, playbook_id: $playbook_id, previous_step_id: $previous_step_id, step_id: $step_id, previous_bundle: $previous_bundle, bundle: $bundle)
}";

/// What the registration says: the connector's queues and the broker, and the callback keys.
#[derive(Debug, Clone)]
pub struct Registration {
    pub connector_user_id: Option<String>,
    /// The JSON Web Key Set (a JSON string in the answer) the platform signs callbacks with.
    pub jwks: Option<Value>,
    pub broker: Broker,
    pub listen_queue: String,
    pub push_exchange: String,
    pub push_routing: String,
}

/// The broker as the platform describes it (before the `MQ_*` overrides).
#[derive(Clone)]
pub struct Broker {
    pub host: String,
    pub port: u16,
    pub vhost: String,
    pub use_ssl: bool,
    pub user: String,
    pub pass: safekeeping::Secret,
}

impl std::fmt::Debug for Broker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{} vhost {:?} ssl {} user {:?}", self.host, self.port, self.vhost, self.use_ssl, self.user)
    }
}

impl OpenCti {
    /// pycti's health check: `about.version`.
    pub fn health(&self) -> Result<String, ApiError> {
        let data = self.call("about", ABOUT, json!({}))?;
        Ok(data.pointer("/about/version").and_then(Value::as_str).unwrap_or("unknown").to_owned())
    }

    pub fn register(&self, connector: &ConnectorConfig, callback: Option<&str>) -> Result<Registration, ApiError> {
        let mut input = json!({
            "id": connector.id,
            "name": connector.name,
            "type": "INTERNAL_ENRICHMENT",
            "scope": connector.scope,
            "auto": connector.auto,
            "auto_update": false,
            "enrichment_resolution": "none",
            "only_contextual": false,
            "playbook_compatible": true,
        });
        if let Some(uri) = callback {
            input["listen_callback_uri"] = json!(uri);
        }
        let data = self.call("registerConnector", REGISTER, json!({ "input": input }))?;
        parse_registration(&data)
    }

    /// One ping; returns the platform's `connector_state`.
    pub fn ping(&self, id: &str) -> Result<Option<String>, ApiError> {
        let info = json!({
            "run_and_terminate": false, "buffering": false, "queue_threshold": 500.0,
            "queue_messages_size": 0.0, "next_run_datetime": null, "last_run_datetime": null,
        });
        let data = self.call("pingConnector", PING, json!({ "id": id, "state": "null", "connectorInfo": info }))?;
        Ok(data.pointer("/pingConnector/connector_state").and_then(Value::as_str).map(str::to_owned))
    }

    /// The entity as pycti's helper reads it; None when the platform has no such observable.
    pub fn read_observable(&self, id: &str) -> Result<Option<Value>, ApiError> {
        let mut data = self.call("stixCyberObservable", READ_OBSERVABLE, json!({ "id": id }))?;
        let entity = data.get_mut("stixCyberObservable").map(Value::take).unwrap_or(Value::Null);
        Ok(entity.is_object().then_some(entity))
    }

    /// The platform's own STIX form of an entity (when a message carries none).
    pub fn stix(&self, id: &str) -> Result<Option<Value>, ApiError> {
        let data = self.call("stix", STIX, json!({ "id": id }))?;
        match data.get("stix") {
            Some(Value::String(text)) => serde_json::from_str(text)
                .map(Some)
                .map_err(|_| ApiError::Shape { operation: "stix", detail: "not a JSON object".into() }),
            _ => Ok(None),
        }
    }

    pub fn work_to_received(&self, work_id: &str) -> Result<(), ApiError> {
        self.call("workToReceived", TO_RECEIVED, json!({ "id": work_id, "message": RECEIVED_MESSAGE })).map(drop)
    }

    pub fn work_to_processed(&self, work_id: &str, message: &str, in_error: bool) -> Result<(), ApiError> {
        let variables = json!({ "id": work_id, "message": message, "inError": in_error });
        self.call("workToProcessed", TO_PROCESSED, variables).map(drop)
    }

    pub fn add_expectations(&self, work_id: &str, count: usize) -> Result<(), ApiError> {
        self.call("addExpectations", ADD_EXPECTATIONS, json!({ "id": work_id, "expectations": count })).map(drop)
    }

    pub fn bundle_push(&self, connector_id: &str, bundle: &str, work_id: Option<&str>) -> Result<(), ApiError> {
        let variables = json!({ "connectorId": connector_id, "bundle": bundle, "work_id": work_id });
        self.call("stixBundlePush", BUNDLE_PUSH, variables).map(drop)
    }

    /// Hands the playbook's bundle to its next step. `execution_start` is when the connector took
    /// the message: the platform's message does not carry it (pycti sets it to its own clock).
    pub fn playbook_step(
        &self,
        playbook: &Value,
        execution_start: &str,
        previous_bundle: &str,
        bundle: &str,
    ) -> Result<(), ApiError> {
        let field = |name: &str| playbook.get(name).cloned().unwrap_or(Value::Null);
        let variables = json!({
            "execution_id": field("execution_id"),
            "event_id": field("event_id"),
            "execution_start": execution_start,
            "data_instance_id": field("data_instance_id"),
            "playbook_id": field("playbook_id"),
            "previous_step_id": field("previous_step_id"),
            "step_id": field("step_id"),
            "previous_bundle": previous_bundle,
            "bundle": bundle,
        });
        self.call("playbookStepExecution", PLAYBOOK_STEP, variables).map(drop)
    }
}

fn parse_registration(data: &Value) -> Result<Registration, ApiError> {
    let shape = |detail: &str| ApiError::Shape { operation: "registerConnector", detail: detail.to_owned() };
    let reg = data.get("registerConnector").filter(|r| r.is_object()).ok_or_else(|| shape("no registerConnector"))?;
    let text = |path: &str| reg.pointer(path).and_then(Value::as_str).map(str::to_owned);
    let need = |path: &str| text(path).ok_or_else(|| shape(&format!("missing {path}")));
    let jwks = match reg.get("jwks") {
        Some(Value::String(s)) if !s.is_empty() => {
            Some(serde_json::from_str(s).map_err(|_| shape("jwks is not a JSON document"))?)
        }
        Some(Value::Object(o)) => Some(Value::Object(o.clone())),
        _ => None,
    };
    let port = reg.pointer("/config/connection/port").and_then(Value::as_u64).unwrap_or(5672);
    Ok(Registration {
        connector_user_id: text("/connector_user_id"),
        jwks,
        broker: Broker {
            host: need("/config/connection/host")?,
            port: u16::try_from(port).map_err(|_| shape("connection port out of range"))?,
            vhost: text("/config/connection/vhost").unwrap_or_else(|| "/".into()),
            use_ssl: reg.pointer("/config/connection/use_ssl").and_then(Value::as_bool).unwrap_or(false),
            user: text("/config/connection/user").unwrap_or_default(),
            pass: safekeeping::Secret::new(text("/config/connection/pass").unwrap_or_default()),
        },
        listen_queue: need("/config/listen")?,
        push_exchange: need("/config/push_exchange")?,
        push_routing: need("/config/push_routing")?,
    })
}
