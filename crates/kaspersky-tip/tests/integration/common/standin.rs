//! A loopback stand-in for Kaspersky TIP and OpenTIP: canned bodies from `tests/fixtures/tip/`, auth checks,
//! request recording, and per-object status overrides. Plain HTTP by default, HTTPS (optionally requiring a
//! client certificate) with [`StandIn::start_tls`]; served by test-support's listener.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use base64::Engine;
use rustls::ServerConfig;
use serde_json::{Map, Value};
use test_support::{Handler, Listener, Request, Response};

use super::tls::TestPki;

pub const TIP_TOKEN: &str = "tip-token-SENTINEL-7f3a";
pub const OPENTIP_KEY: &str = "opentip-key-SENTINEL-91c2";
pub const BASIC_USER: &str = "tip-user";
pub const BASIC_PASSWORD: &str = "tip-password-SENTINEL-44d1";

/// One request as the stand-in saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// `tip` or `opentip`.
    pub service: String,
    pub kind: String,
    /// The looked-up object, decoded.
    pub object: String,
    /// Request target as sent (path and query, still encoded).
    pub target: String,
    pub query: Vec<(String, String)>,
    /// Lower-cased header names.
    pub headers: Vec<(String, String)>,
    /// DER of the client certificate presented in the TLS handshake (verified: only a server that requires one
    /// asks for it, and rustls refuses the handshake unless the client CA issued it).
    pub client_cert: Option<Vec<u8>>,
}

impl Recorded {
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
    }
}

/// A forced answer for one object.
#[derive(Debug, Clone)]
pub struct Forced {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub delay: Duration,
}

#[derive(Default)]
struct State {
    requests: Vec<Recorded>,
    forced: HashMap<String, Forced>,
    /// Why TLS handshakes failed, in order.
    handshake_errors: Vec<String>,
    /// Requests being answered now, and the most there ever were at once.
    in_flight: usize,
    max_in_flight: usize,
}

/// The TIP and OpenTIP routes over test-support's listener.
struct Tip {
    state: Mutex<State>,
    objects: Value,
}

impl Handler for Tip {
    fn handle(&self, request: &Request) -> Option<Response> {
        {
            let mut state = self.state.lock().expect("state");
            state.in_flight += 1;
            state.max_in_flight = state.max_in_flight.max(state.in_flight);
        }
        let response = self.answer(request);
        self.state.lock().expect("state").in_flight -= 1;
        Some(response)
    }

    fn handshake_failed(&self, reason: &str) {
        self.state.lock().expect("state").handshake_errors.push(reason.to_owned());
    }
}

impl Tip {
    fn answer(&self, request: &Request) -> Response {
        let headers = request.headers.iter().map(|(name, value)| (name.to_ascii_lowercase(), value.clone())).collect();
        let (status, extra, body, delay) = respond(
            &request.method,
            &request.path,
            headers,
            request.peer_certificate.clone(),
            &self.state,
            &self.objects,
        );
        thread::sleep(delay);
        let mut response = Response::raw(status, "application/json", body.into_bytes());
        for (name, value) in extra {
            response = response.with_header(&name, &value);
        }
        response
    }
}

pub struct StandIn {
    tip: Arc<Tip>,
    listener: Listener,
    tls: bool,
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/tip")
}

impl StandIn {
    pub fn start() -> StandIn {
        StandIn::launch(None)
    }

    /// HTTPS with `pki`'s server certificate for 127.0.0.1; with `require_client_cert`, only clients presenting a
    /// certificate from `pki`'s client CA get past the handshake.
    pub fn start_tls(pki: &TestPki, require_client_cert: bool) -> StandIn {
        StandIn::launch(Some(pki.server_config(require_client_cert)))
    }

    fn launch(tls: Option<Arc<ServerConfig>>) -> StandIn {
        let objects: Value =
            serde_json::from_slice(&std::fs::read(fixtures().join("objects.json")).expect("objects.json"))
                .expect("objects.json is JSON");
        let tip = Arc::new(Tip { state: Mutex::new(State::default()), objects });
        let secure = tls.is_some();
        let listener = Listener::start("tip-stand-in", 0, tls, Arc::clone(&tip) as Arc<dyn Handler>).expect("listen");
        StandIn { tip, listener, tls: secure }
    }

    pub fn url(&self) -> String {
        format!("{}://{}", if self.tls { "https" } else { "http" }, self.listener.addr())
    }

    pub fn handshake_errors(&self) -> Vec<String> {
        self.tip.state.lock().expect("state").handshake_errors.clone()
    }

    /// The most requests the stand-in was answering at the same time (forced delays included).
    pub fn max_concurrent(&self) -> usize {
        self.tip.state.lock().expect("state").max_in_flight
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.tip.state.lock().expect("state").requests.clone()
    }

    /// Answers `status` (with headers and body) for this object, on both services.
    pub fn force(&self, object: &str, status: u16, headers: &[(&str, &str)], body: &str) {
        self.force_with_delay(object, status, headers, body, Duration::ZERO);
    }

    pub fn force_with_delay(&self, object: &str, status: u16, headers: &[(&str, &str)], body: &str, delay: Duration) {
        let forced = Forced {
            status,
            headers: headers.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
            body: body.to_owned(),
            delay,
        };
        self.tip.state.lock().expect("state").forced.insert(object.to_owned(), forced);
    }
}

type Answer = (u16, Vec<(String, String)>, String, Duration);

fn plain(status: u16, body: &str) -> Answer {
    (status, Vec::new(), body.to_owned(), Duration::ZERO)
}

fn respond(
    method: &str,
    target: &str,
    headers: Vec<(String, String)>,
    client_cert: Option<Vec<u8>>,
    state: &Mutex<State>,
    objects: &Value,
) -> Answer {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let query: Vec<(String, String)> = query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(key, true), decode(value, true))
        })
        .collect();
    let header = |name: &str| headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let (service, kind, object) = if let Some(kind) = path.strip_prefix("/api/v1/search/") {
        let object = query.iter().find(|(k, _)| k == "request").map(|(_, v)| v.clone()).unwrap_or_default();
        ("opentip", kind.to_owned(), object)
    } else if let Some(rest) = path.strip_prefix("/api/") {
        let Some((kind, encoded)) = rest.split_once('/') else {
            return plain(500, "{\"error\": \"stand-in: no such route\"}");
        };
        if encoded.contains('/') {
            return plain(500, "{\"error\": \"stand-in: object not percent-encoded\"}");
        }
        ("tip", kind.to_owned(), decode(encoded, false))
    } else {
        return plain(500, "{\"error\": \"stand-in: no such route\"}");
    };
    let forced = {
        let mut state = state.lock().expect("state");
        state.requests.push(Recorded {
            service: service.to_owned(),
            kind: kind.clone(),
            object: object.clone(),
            target: target.to_owned(),
            query: query.clone(),
            headers: headers.clone(),
            client_cert,
        });
        state.forced.get(&object).cloned()
    };
    if method != "GET" {
        return plain(405, "{}");
    }
    let authorised = match service {
        "opentip" => header("x-api-key").as_deref() == Some(OPENTIP_KEY),
        _ => {
            let basic = base64::engine::general_purpose::STANDARD.encode(format!("{BASIC_USER}:{BASIC_PASSWORD}"));
            let given = header("authorization");
            given.as_deref() == Some(&format!("Bearer {TIP_TOKEN}"))
                || given.as_deref() == Some(&format!("Basic {basic}"))
        }
    };
    if !authorised {
        return plain(401, "{\"error\": \"authentication failed\"}");
    }
    if let Some(forced) = forced {
        return (forced.status, forced.headers, forced.body, forced.delay);
    }
    let Some(name) = objects.get(&kind).and_then(|known| known.get(&object)).and_then(Value::as_str) else {
        return plain(404, "");
    };
    let file = fixtures().join(service).join(format!("{name}.json"));
    let mut body: Map<String, Value> =
        serde_json::from_slice(&std::fs::read(file).expect("fixture body")).expect("fixture is a JSON object");
    if service == "tip"
        && let Some((_, sections)) = query.iter().find(|(k, _)| k == "sections")
    {
        let wanted: Vec<&str> = sections.split(',').collect();
        body.retain(|key, _| wanted.iter().any(|w| w.eq_ignore_ascii_case(key)));
    }
    plain(200, &Value::Object(body).to_string())
}

fn decode(text: &str, plus_is_space: bool) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz");
                match u8::from_str_radix(hex, 16) {
                    Ok(byte) => {
                        out.push(byte);
                        i += 3;
                        continue;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b'+' if plus_is_space => out.push(b' '),
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
