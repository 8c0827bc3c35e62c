//! A stateful stand-in of the OpenCTI GraphQL API, as far as an internal-enrichment connector uses
//! it (pycti 7's operations): `about`, `registerConnector`, `pingConnector`, `stixCyberObservable`,
//! `stix`, `workEdit { toReceived | toProcessed | addExpectations }`, `stixBundlePush` and
//! `playbookStepExecution`, on `POST /graphql` over 127.0.0.1.
//!
//! As strict as the platform: every call needs `Authorization: Bearer <token>` (else a GraphQL
//! `AUTH_REQUIRED` error, as the platform answers), required variables must be present with
//! their types, an unknown work is an error, and a work accepts `toReceived` only while waiting
//! and `toProcessed` only once received. Works are created by the test (the platform creates them
//! before sending a message). Registrations, pings, work states and pushed bundles are kept for
//! the tests to read. [`OpenCtiSandbox::set_outage`] makes every call answer 503.
//!
//! Callback JWTs: the registration answers a `jwks` with the public half of a fixed test RSA key
//! (`opencti/test-jwt-key.pem`, for tests only); [`OpenCtiSandbox::mint_jwt`] signs with it.

use std::collections::BTreeMap;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::http::{Request, Response};
use crate::listener::{Handler, Listener};

const TEST_KEY_PEM: &str = include_str!("opencti/test-jwt-key.pem");
pub const KEY_ID: &str = "opencti-sandbox-key";
pub const VERSION: &str = "6.9.0";

/// The broker the registration points the connector at, and the queue names it gives.
#[derive(Clone, Debug)]
pub struct BrokerInfo {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub pass: String,
    pub vhost: String,
    pub listen: String,
    pub push_exchange: String,
    pub push_routing: String,
}

#[derive(Clone, Debug)]
pub struct OpenCtiOptions {
    pub token: String,
    /// Answer a `jwks` at registration (pycti 7 platforms); else none (the older shared-token mode).
    pub jwks: bool,
    pub broker: BrokerInfo,
}

/// One work as the platform keeps it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Work {
    /// "wait", "progress" or "complete".
    pub status: String,
    pub received_message: Option<String>,
    pub processed_message: Option<String>,
    pub in_error: Option<bool>,
    pub expectations: i64,
    /// Every workEdit call on it, in order (for "exactly once" checks).
    pub calls: Vec<String>,
}

#[derive(Default)]
struct State {
    registrations: Vec<Value>,
    pings: Vec<Value>,
    works: BTreeMap<String, Work>,
    pushed: Vec<(Option<String>, Value)>,
    playbook_steps: Vec<Value>,
    observables: BTreeMap<String, Value>,
    stix: BTreeMap<String, Value>,
    operations: Vec<String>,
}

struct Inner {
    options: OpenCtiOptions,
    state: Mutex<State>,
    outage: AtomicBool,
    calls: AtomicUsize,
    key: ring::signature::RsaKeyPair,
}

/// A running stand-in; stops when dropped.
pub struct OpenCtiSandbox {
    inner: Arc<Inner>,
    listener: Listener,
}

fn test_key() -> io::Result<ring::signature::RsaKeyPair> {
    let body: String = TEST_KEY_PEM.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .map_err(|_| io::Error::other("test key is not base64"))?;
    ring::signature::RsaKeyPair::from_pkcs8(&der).map_err(|e| io::Error::other(e.to_string()))
}

impl OpenCtiSandbox {
    pub fn start(options: OpenCtiOptions) -> io::Result<OpenCtiSandbox> {
        let inner = Arc::new(Inner {
            options,
            state: Mutex::new(State::default()),
            outage: AtomicBool::new(false),
            calls: AtomicUsize::new(0),
            key: test_key()?,
        });
        let listener = Listener::start("opencti", 0, None, Arc::clone(&inner) as Arc<dyn Handler>)?;
        Ok(OpenCtiSandbox { inner, listener })
    }

    /// `http://127.0.0.1:<port>` (OPENCTI_URL).
    pub fn url(&self) -> String {
        format!("http://{}", self.listener.addr())
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Every call answers 503 while on.
    pub fn set_outage(&self, on: bool) {
        self.inner.outage.store(on, Ordering::SeqCst);
    }

    /// A work the platform created for a message, waiting for the connector.
    pub fn create_work(&self, id: &str) {
        self.state().works.insert(id.to_owned(), Work { status: "wait".into(), ..Work::default() });
    }

    pub fn work(&self, id: &str) -> Option<Work> {
        self.state().works.get(id).cloned()
    }

    /// An observable the connector may read (`stixCyberObservable`), under its standard id.
    pub fn add_observable(&self, standard_id: &str, entity: Value) {
        self.state().observables.insert(standard_id.to_owned(), entity);
    }

    /// The platform's STIX form of an entity (`stix(id:)`).
    pub fn add_stix(&self, standard_id: &str, stix: Value) {
        self.state().stix.insert(standard_id.to_owned(), stix);
    }

    pub fn registrations(&self) -> Vec<Value> {
        self.state().registrations.clone()
    }

    pub fn pings(&self) -> usize {
        self.state().pings.len()
    }

    /// `stixBundlePush` bundles with their work ids, in arrival order.
    pub fn pushed(&self) -> Vec<(Option<String>, Value)> {
        self.state().pushed.clone()
    }

    pub fn playbook_steps(&self) -> Vec<Value> {
        self.state().playbook_steps.clone()
    }

    /// Operation names received, in order (failed ones included).
    pub fn operations(&self) -> Vec<String> {
        self.state().operations.clone()
    }

    /// The JWKS the registration answers.
    pub fn jwks(&self) -> Value {
        self.inner.jwks()
    }

    /// A callback token as the platform's worker sends it (RS256 with the sandbox key); `claims`
    /// are merged over `iss: opencti, sub: connector, exp: now + 300`.
    pub fn mint_jwt(&self, claims: &Value) -> String {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let mut body = json!({ "iss": "opencti", "sub": "connector", "iat": now, "exp": now + 300 });
        if let (Some(target), Some(extra)) = (body.as_object_mut(), claims.as_object()) {
            target.extend(extra.clone());
        }
        let header = json!({ "alg": "RS256", "typ": "JWT", "kid": KEY_ID });
        let signed =
            format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(body.to_string()));
        let mut signature = vec![0; self.inner.key.public().modulus_len()];
        let rng = ring::rand::SystemRandom::new();
        if self.inner.key.sign(&ring::signature::RSA_PKCS1_SHA256, &rng, signed.as_bytes(), &mut signature).is_err() {
            return String::new();
        }
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature))
    }

    /// Requests answered so far (503s included).
    pub fn calls(&self) -> usize {
        self.inner.calls.load(Ordering::SeqCst)
    }
}

impl Handler for Inner {
    fn handle(&self, request: &Request) -> Option<Response> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.outage.load(Ordering::SeqCst) {
            return Some(Response::error(503, "Service Unavailable"));
        }
        if request.path != "/graphql" {
            return Some(Response::error(404, "Not found"));
        }
        if request.method != "POST" {
            return Some(Response::error(405, "Method not allowed"));
        }
        let body: Value = match serde_json::from_slice(&request.body) {
            Ok(body) => body,
            Err(_) => return Some(Response::error(400, "POST body must be JSON")),
        };
        let query = body.get("query").and_then(Value::as_str).unwrap_or_default().to_owned();
        let variables = body.get("variables").cloned().unwrap_or(json!({}));
        let operation = operation_of(&query);
        let mut state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        state.operations.push(operation.to_owned());
        let expected = format!("Bearer {}", self.options.token);
        if request.header("authorization") != Some(expected.as_str()) {
            return Some(graphql_error("AUTH_REQUIRED", "You must be logged in to do this."));
        }
        Some(match self.answer(&mut state, operation, &variables) {
            Ok(data) => Response::json(200, &json!({ "data": data })),
            Err(message) => graphql_error("FUNCTIONAL_ERROR", &message),
        })
    }
}

fn graphql_error(code: &str, message: &str) -> Response {
    Response::json(200, &json!({ "errors": [{ "message": message, "extensions": { "code": code } }], "data": null }))
}

/// The first top-level field the query selects, by the names this stand-in serves.
fn operation_of(query: &str) -> &'static str {
    const FIELDS: &[&str] = &[
        "registerConnector(",
        "pingConnector(",
        "stixCyberObservable(",
        "stixBundlePush(",
        "playbookStepExecution(",
        "toReceived(",
        "toProcessed(",
        "addExpectations(",
        "stix(",
        "about",
    ];
    FIELDS.iter().find(|f| selects(query, f)).map_or("unknown", |f| f.trim_end_matches('('))
}

/// Whether `query` has `field` (`name(` also matching `name (`: GraphQL allows blanks before the
/// arguments, and pycti writes `toReceived (message: $message)`).
fn selects(query: &str, field: &str) -> bool {
    let Some(name) = field.strip_suffix('(') else { return query.contains(field) };
    query.match_indices(name).any(|(at, _)| query[at + name.len()..].trim_start().starts_with('('))
}

fn need_str<'a>(variables: &'a Value, name: &str) -> Result<&'a str, String> {
    variables
        .get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("Variable \"${name}\" of required type was not provided."))
}

impl Inner {
    fn answer(&self, state: &mut State, operation: &str, v: &Value) -> Result<Value, String> {
        match operation {
            "about" => Ok(json!({ "about": { "version": VERSION } })),
            "registerConnector" => self.register(state, v),
            "pingConnector" => {
                let id = need_str(v, "id")?;
                if !state.registrations.iter().any(|r| r["id"] == id) {
                    return Err("Connector not found".into());
                }
                state.pings.push(v.clone());
                Ok(json!({ "pingConnector": { "id": id, "connector_state": null } }))
            }
            "stixCyberObservable" => {
                let id = need_str(v, "id")?;
                Ok(json!({ "stixCyberObservable": state.observables.get(id).cloned() }))
            }
            "stix" => {
                let id = need_str(v, "id")?;
                Ok(json!({ "stix": state.stix.get(id).map(Value::to_string) }))
            }
            "toReceived" | "toProcessed" | "addExpectations" => work_edit(state, operation, v),
            "stixBundlePush" => {
                need_str(v, "connectorId")?;
                let bundle: Value =
                    serde_json::from_str(need_str(v, "bundle")?).map_err(|_| "bundle is not JSON".to_owned())?;
                if bundle.get("type") != Some(&json!("bundle")) {
                    return Err("bundle is not a STIX bundle".into());
                }
                let work_id = v.get("work_id").and_then(Value::as_str).map(str::to_owned);
                if let Some(id) = &work_id
                    && !state.works.contains_key(id)
                {
                    return Err(format!("Work {id} not found"));
                }
                state.pushed.push((work_id, bundle));
                Ok(json!({ "stixBundlePush": true }))
            }
            "playbookStepExecution" => {
                for name in [
                    "execution_id",
                    "event_id",
                    "execution_start",
                    "data_instance_id",
                    "playbook_id",
                    "previous_step_id",
                    "step_id",
                    "previous_bundle",
                    "bundle",
                ] {
                    need_str(v, name)?;
                }
                // A GraphQL DateTime: `YYYY-MM-DDTHH:MM:SS…`, as the platform's scalar parses it.
                let start = need_str(v, "execution_start")?.as_bytes();
                let digits =
                    |range: std::ops::Range<usize>| start.get(range).is_some_and(|b| b.iter().all(u8::is_ascii_digit));
                if !(digits(0..4) && start.get(4) == Some(&b'-') && start.get(10) == Some(&b'T') && digits(11..13)) {
                    return Err("Variable \"$execution_start\" got invalid value; expected type DateTime".into());
                }
                state.playbook_steps.push(v.clone());
                Ok(json!({ "playbookStepExecution": true }))
            }
            _ => Err("Unknown operation".into()),
        }
    }

    fn register(&self, state: &mut State, v: &Value) -> Result<Value, String> {
        let input = v.get("input").filter(|i| i.is_object()).ok_or("input is required")?;
        for name in ["id", "name", "type"] {
            need_str(input, name)?;
        }
        if !input.get("scope").is_some_and(Value::is_array) {
            return Err("scope must be a list".into());
        }
        let b = &self.options.broker;
        state.registrations.push(input.clone());
        let jwks = if self.options.jwks { Some(self.jwks().to_string()) } else { None };
        Ok(json!({ "registerConnector": {
            "id": input["id"], "connector_state": null, "jwks": jwks, "connector_user_id": "user--sandbox-connector",
            "config": {
                "connection": { "host": b.host, "vhost": b.vhost, "use_ssl": false, "port": b.port, "user": b.user, "pass": b.pass },
                "listen": b.listen, "listen_routing": format!("listen_routing_{}", input["id"].as_str().unwrap_or_default()),
                "listen_exchange": "amqp.connector.exchange",
                "push": format!("push_{}", input["id"].as_str().unwrap_or_default()),
                "push_routing": b.push_routing, "push_exchange": b.push_exchange,
            }
        }}))
    }

    fn jwks(&self) -> Value {
        let public = ring::signature::RsaPublicKeyComponents::<Vec<u8>>::from(self.key.public());
        let n = URL_SAFE_NO_PAD.encode(&public.n);
        let e = URL_SAFE_NO_PAD.encode(&public.e);
        json!({ "keys": [{ "kty": "RSA", "kid": KEY_ID, "alg": "RS256", "use": "sig", "n": n, "e": e }] })
    }
}

fn work_edit(state: &mut State, operation: &str, v: &Value) -> Result<Value, String> {
    let id = need_str(v, "id")?;
    let work = state.works.get_mut(id).ok_or_else(|| format!("Work {id} not found"))?;
    work.calls.push(operation.to_owned());
    let message = v.get("message").and_then(Value::as_str).map(str::to_owned);
    match operation {
        "toReceived" => {
            if work.status != "wait" {
                return Err(format!("Work {id} is already {}", work.status));
            }
            work.status = "progress".into();
            work.received_message = message;
            Ok(json!({ "workEdit": { "toReceived": id } }))
        }
        "toProcessed" => {
            if work.status != "progress" {
                return Err(format!("Work {id} is {}, not in progress", work.status));
            }
            work.status = "complete".into();
            work.processed_message = message;
            work.in_error = Some(v.get("inError").and_then(Value::as_bool).unwrap_or(false));
            Ok(json!({ "workEdit": { "toProcessed": id } }))
        }
        _ => {
            let count = v.get("expectations").and_then(Value::as_i64).ok_or("expectations must be an Int")?;
            work.expectations += count;
            Ok(json!({ "workEdit": { "addExpectations": id } }))
        }
    }
}
