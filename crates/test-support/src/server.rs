//! The MDR stand-in: routing, auth, journal and fault injection over the shared listener.

use std::io::{self, Write};
use std::path::Path;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::Duration;

use serde_json::{Value, json};

use crate::api::{self, Ctx};
use crate::http::{Request, Response};
use crate::journal::{Fault, FaultQueue, JournalEntry};
use crate::listener::{Handler, Listener};
use crate::seed::Seed;
use crate::store::Store;
use crate::tls::{self, TlsCert};
use crate::tokens::{BearerState, TokenPair, TokenStore};

const PREFIX: &str = "/api/v1/";

/// How to start a [`Sandbox`].
#[derive(Clone, Debug)]
pub struct SandboxOptions {
    /// The only client id the routes accept.
    pub client_id: String,
    /// Serve HTTPS with a freshly generated CA (see [`Sandbox::ca_pem`]).
    pub tls: bool,
    /// With `tls`: which certificate is served.
    pub tls_cert: TlsCert,
    /// Lifetime of access tokens issued by `session/confirm`.
    pub access_ttl: Duration,
    /// Lifetime of refresh tokens.
    pub refresh_ttl: Duration,
    /// API connection name: `author_name` of comments/attachments created through the API.
    pub connection_name: String,
    /// Initial data.
    pub seed: Seed,
    /// Port on 127.0.0.1 (0 = any free port).
    pub port: u16,
}

impl SandboxOptions {
    /// Defaults: client id `0123456789abcdef`, plain HTTP, access 1 h, refresh 7 days,
    /// connection name `TheHive (API)`, any port.
    pub fn new(seed: Seed) -> Self {
        Self {
            client_id: "0123456789abcdef".to_owned(),
            tls: false,
            tls_cert: TlsCert::CaSigned,
            access_ttl: Duration::from_secs(3600),
            refresh_ttl: Duration::from_secs(7 * 24 * 3600),
            connection_name: "TheHive (API)".to_owned(),
            seed,
            port: 0,
        }
    }
}

/// State shared by all connection threads.
struct Shared {
    client_id: String,
    author: String,
    access_ttl: i64,
    store: Mutex<Store>,
    tokens: Mutex<TokenStore>,
    journal: Mutex<Vec<JournalEntry>>,
    faults: Mutex<FaultQueue>,
    subscribers: Mutex<Vec<Sender<JournalEntry>>>,
    hold: Mutex<Hold>,
    hold_changed: Condvar,
    tls: bool,
}

/// Requests of one caller held back until released, to force an interleaving in tests.
#[derive(Default)]
struct Hold {
    /// `(endpoint, User-Agent substring)` of the requests to hold; `None` = hold nothing.
    rule: Option<(String, String)>,
    /// How many requests are waiting now.
    waiting: usize,
}

impl Handler for Shared {
    fn handle(&self, request: &Request) -> Option<Response> {
        answer(request, self)
    }
}

/// A running MDR API stand-in on 127.0.0.1; stops accepting when dropped.
pub struct Sandbox {
    shared: Arc<Shared>,
    listener: Listener,
    ca_pem: Option<String>,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox").field("addr", &self.listener.addr()).finish_non_exhaustive()
    }
}

/// Locks a mutex, ignoring poisoning: a panicked handler must not take the sandbox down.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX / 2)
}

impl Sandbox {
    /// Binds 127.0.0.1 and serves in background threads.
    pub fn start(opts: SandboxOptions) -> io::Result<Sandbox> {
        let tls = if opts.tls { Some(tls::generate_for(&opts.tls_cert)?) } else { None };
        let ca_pem = tls.as_ref().map(|t| t.ca_pem.clone());
        let shared = Arc::new(Shared {
            tokens: Mutex::new(TokenStore::new(&opts.client_id, secs(opts.refresh_ttl))),
            client_id: opts.client_id,
            author: opts.connection_name,
            access_ttl: secs(opts.access_ttl),
            store: Mutex::new(Store::new(opts.seed)),
            journal: Mutex::new(Vec::new()),
            faults: Mutex::new(FaultQueue::default()),
            subscribers: Mutex::new(Vec::new()),
            hold: Mutex::new(Hold::default()),
            hold_changed: Condvar::new(),
            tls: tls.is_some(),
        });
        let handler: Arc<dyn Handler> = Arc::clone(&shared) as Arc<dyn Handler>;
        let listener = Listener::start("mdr-sandbox", opts.port, tls.map(|t| t.config), handler)?;
        Ok(Sandbox { shared, listener, ca_pem })
    }

    /// Base URL without trailing slash, e.g. `https://127.0.0.1:41234/api/v1`.
    pub fn api_url(&self) -> String {
        let scheme = if self.shared.tls { "https" } else { "http" };
        format!("{scheme}://{}/api/v1", self.listener.addr())
    }

    /// The accepted client id.
    pub fn client_id(&self) -> &str {
        &self.shared.client_id
    }

    /// PEM of the generated CA when serving TLS.
    pub fn ca_pem(&self) -> Option<String> {
        self.ca_pem.clone()
    }

    /// Mints a valid pair as `session/confirm` would; `access_ttl_secs <= 0` gives an expired access token.
    pub fn issue_tokens(&self, access_ttl_secs: i64) -> TokenPair {
        lock(&self.shared.tokens).issue(access_ttl_secs)
    }

    /// Writes `<dir>/.access_token` and `<dir>/.refresh_token` (no newline, mode 0600).
    pub fn write_token_dir(&self, dir: &Path, access_ttl_secs: i64) -> io::Result<TokenPair> {
        let pair = self.issue_tokens(access_ttl_secs);
        write_secret(&dir.join(".access_token"), &pair.access_token)?;
        write_secret(&dir.join(".refresh_token"), &pair.refresh_token)?;
        Ok(pair)
    }

    /// Whether `session/confirm` would accept this refresh token now.
    pub fn refresh_token_usable(&self, token: &str) -> bool {
        lock(&self.shared.tokens).check_refresh(token).is_ok()
    }

    /// Every request received, in order.
    pub fn journal(&self) -> Vec<JournalEntry> {
        lock(&self.shared.journal).clone()
    }

    /// Journal entries for one endpoint such as `"comments/create"`.
    pub fn calls(&self, endpoint: &str) -> Vec<JournalEntry> {
        lock(&self.shared.journal).iter().filter(|e| e.endpoint == endpoint).cloned().collect()
    }

    /// Forgets the journal.
    pub fn clear_journal(&self) {
        lock(&self.shared.journal).clear();
    }

    /// The next `times` requests to `endpoint` get `fault` (they are still journaled).
    pub fn inject(&self, endpoint: &str, fault: Fault, times: usize) {
        lock(&self.shared.faults).push(endpoint, fault, times);
    }

    /// Holds every request to `endpoint` whose User-Agent contains `agent` (other callers pass)
    /// until [`Sandbox::release`]; e.g. a slow network for the MDR Integration Utility only.
    pub fn hold(&self, endpoint: &str, agent: &str) {
        lock(&self.shared.hold).rule = Some((endpoint.to_owned(), agent.to_owned()));
    }

    /// How many requests are held now.
    pub fn held(&self) -> usize {
        lock(&self.shared.hold).waiting
    }

    /// Waits until at least `count` requests are held (or `timeout` passes); returns the number held.
    pub fn wait_held(&self, count: usize, timeout: Duration) -> usize {
        let guard = lock(&self.shared.hold);
        let (guard, _) = self
            .shared
            .hold_changed
            .wait_timeout_while(guard, timeout, |h| h.waiting < count)
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        guard.waiting
    }

    /// Lets the held requests go on (they are then answered normally) and holds no more.
    pub fn release(&self) {
        lock(&self.shared.hold).rule = None;
        self.shared.hold_changed.notify_all();
    }

    /// A channel receiving every journal entry from now on (the binary streams it).
    pub fn subscribe(&self) -> Receiver<JournalEntry> {
        let (tx, rx) = channel();
        lock(&self.shared.subscribers).push(tx);
        rx
    }

    /// Current state of an incident, with embedded comments/attachments/responses.
    pub fn incident(&self, incident_id: &str) -> Option<Value> {
        let store = lock(&self.shared.store);
        let idx = store.incident_index(incident_id)?;
        Some(Value::Object(store.incidents[idx].clone()))
    }

    /// Current state of a response.
    pub fn response(&self, response_id: &str) -> Option<Value> {
        lock(&self.shared.store).child("responses", "response_id", response_id)
    }

    /// Stored bytes of an attachment.
    pub fn attachment_bytes(&self, attachment_id: &str) -> Option<Vec<u8>> {
        let store = lock(&self.shared.store);
        store.child("attachments", "attachment_id", attachment_id)?;
        Some(store.files.get(attachment_id).cloned().unwrap_or_default())
    }
}

fn write_secret(path: &Path, text: &str) -> io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(text.as_bytes())?;
    #[cfg(unix)]
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    Ok(())
}

/// A matched route.
struct Route {
    client_id: String,
    endpoint: String,
}

fn route(path: &str) -> Option<Route> {
    let path = path.split('?').next().unwrap_or(path);
    let rest = path.strip_prefix(PREFIX)?;
    let mut segs = rest.split('/');
    let (Some(cid), Some(entity), Some(action), None) = (segs.next(), segs.next(), segs.next(), segs.next()) else {
        return None;
    };
    if [cid, entity, action].iter().any(|s| s.is_empty()) {
        return None;
    }
    Some(Route { client_id: cid.to_owned(), endpoint: format!("{entity}/{action}") })
}

/// Computes the answer (`None` = drop the connection) and journals the request.
fn answer(request: &Request, shared: &Shared) -> Option<Response> {
    let bearer = lock(&shared.tokens).bearer_state(request.header("authorization"));
    let Some(route) = route(&request.path) else {
        let response = Response::error(404, "not found");
        journal(shared, request.path.clone(), String::new(), bearer, Value::Null, response.status);
        return Some(response);
    };
    let body = if route.endpoint == "attachments/upload" {
        api::journal_body(request)
    } else {
        serde_json::from_slice(&request.body).unwrap_or(Value::Null)
    };
    let response = respond(request, &route, bearer, shared);
    let status = response.as_ref().map_or(0, |r| r.status);
    journal(shared, route.endpoint, route.client_id, bearer, body, status);
    response
}

fn respond(request: &Request, route: &Route, bearer: BearerState, shared: &Shared) -> Option<Response> {
    if request.method != "POST" {
        return Some(Response::error(405, "method not allowed; every endpoint is POST").with_header("Allow", "POST"));
    }
    wait_if_held(request, route, shared);
    let fault = lock(&shared.faults).take(&route.endpoint);
    match fault {
        Some(Fault::Drop) => return None,
        Some(Fault::Delay(d)) => thread::sleep(d),
        Some(fault) => return Some(fault_response(&fault)),
        None => {}
    }
    // Unknown client ids answer 404: the path names a resource (the client) that does not exist.
    if route.client_id != shared.client_id {
        return Some(Response::error(404, "unknown client id"));
    }
    if route.endpoint == "session/confirm" {
        return Some(confirm(request, shared));
    }
    match bearer {
        BearerState::Valid => {}
        BearerState::Missing => return Some(Response::error(403, "missing bearer token")),
        BearerState::Expired => return Some(Response::error(403, "access token expired")),
        BearerState::Unknown => return Some(Response::error(403, "invalid access token")),
    }
    let mut store = lock(&shared.store);
    let mut ctx = Ctx { store: &mut store, author: &shared.author };
    Some(api::handle(&route.endpoint, request, &mut ctx))
}

fn wait_if_held(request: &Request, route: &Route, shared: &Shared) {
    let agent = request.header("user-agent").unwrap_or("");
    let matches = |h: &Hold| h.rule.as_ref().is_some_and(|(e, a)| *e == route.endpoint && agent.contains(a.as_str()));
    let mut hold = lock(&shared.hold);
    if !matches(&hold) {
        return;
    }
    hold.waiting += 1;
    shared.hold_changed.notify_all();
    let mut hold =
        shared.hold_changed.wait_while(hold, |h| matches(h)).unwrap_or_else(std::sync::PoisonError::into_inner);
    hold.waiting -= 1;
    shared.hold_changed.notify_all();
}

/// `session/confirm`: consume the refresh token, return exactly the new pair.
fn confirm(request: &Request, shared: &Shared) -> Response {
    let token = match serde_json::from_slice::<Value>(&request.body) {
        Ok(Value::Object(o)) => match o.get("refresh_token") {
            Some(Value::String(t)) => t.clone(),
            Some(_) => return Response::error(400, "field refresh_token must be a string"),
            None => return Response::error(400, "missing required field: refresh_token"),
        },
        _ => return Response::error(400, "request body must be a JSON object"),
    };
    match lock(&shared.tokens).exchange(&token, shared.access_ttl) {
        Ok(pair) => {
            Response::json(200, &json!({"access_token": pair.access_token, "refresh_token": pair.refresh_token}))
        }
        Err(e) => Response::error(403, e.message()),
    }
}

pub(crate) fn fault_response(fault: &Fault) -> Response {
    match fault {
        Fault::Status(code, body) => {
            let kind = if serde_json::from_str::<Value>(body).is_ok() {
                "application/json; charset=utf-8"
            } else {
                "text/plain; charset=utf-8"
            };
            Response::raw(*code, kind, body.clone().into_bytes())
        }
        Fault::StatusRetryAfter(code, secs) => {
            Response::error(*code, "too many requests").with_header("Retry-After", &secs.to_string())
        }
        Fault::InvalidJson => {
            Response::raw(200, "application/json; charset=utf-8", b"<<not json>> {".to_vec())
        }
        Fault::Html(code) => Response::raw(
            *code,
            "text/html; charset=utf-8",
            format!("<html><head><title>{code} Error</title></head><body><h1>{code} Error</h1><p>upstream failure</p></body></html>").into_bytes(),
        ),
        // Handled before answering.
        Fault::Delay(_) | Fault::Drop => Response::error(500, "unexpected fault"),
    }
}

fn journal(shared: &Shared, endpoint: String, client_id: String, bearer: BearerState, body: Value, status: u16) {
    let entry = JournalEntry { endpoint, client_id, bearer, body, status };
    lock(&shared.subscribers).retain(|tx| tx.send(entry.clone()).is_ok());
    lock(&shared.journal).push(entry);
}
