//! Every MDR endpoint the responders call, under every fault the stand-in can inject: a precise
//! error within the deadline, writes never resent once they may have reached the server, reads
//! retried with backoff inside the deadline.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::{Duration, Instant};

use cortex_http::{Deadline, HttpSettings, HttpUrl, RETRY_BUDGET_TIMEOUTS};
use mdr_api::MdrSettings;
use mdr_api::client::{Decision, MdrClient, MdrError, NewIncident, Resolution, Upload};
use test_support::{Fault, Sandbox};

use crate::support::sandbox;

const INCIDENT: &str = "-NzExampleIncident01";
const RESPONSE: &str = "MDR_00000000-1111-2222-3333-444444444444";
const ASSET: &str = "0xA1B2C3D4E5F60718293A4B5C6D7E8F90";
/// The `timeout` item used here: one request may take 1 s, retries stop after 2 s.
const TIMEOUT_SECS: u64 = 1;
/// The longest a call may take: the retry budget, plus one last request, plus slack for a busy machine.
const DEADLINE: Duration = Duration::from_millis(2 * 1000 * TIMEOUT_SECS + 1000 * TIMEOUT_SECS + 1500);

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Read,
    Write,
}

const ENDPOINTS: &[(&str, Kind)] = &[
    ("incidents/details", Kind::Read),
    ("comments/list", Kind::Read),
    ("responses/list", Kind::Read),
    ("assets/list", Kind::Read),
    ("attachments/list", Kind::Read),
    ("comments/create", Kind::Write),
    ("incidents/close", Kind::Write),
    ("incidents/create", Kind::Write),
    ("response/update", Kind::Write),
    ("attachments/upload", Kind::Write),
];

fn client(mdr: &Sandbox, token_dir: &Path) -> MdrClient {
    MdrClient::new(&settings(&mdr.api_url(), mdr.client_id(), token_dir)).unwrap()
}

fn settings(api_url: &str, client_id: &str, token_dir: &Path) -> MdrSettings {
    MdrSettings {
        api_url: HttpUrl::parse(api_url).unwrap(),
        client_id: client_id.to_owned(),
        token_dir: token_dir.to_owned(),
        ssl_cert: None,
        timeout: Duration::from_secs(TIMEOUT_SECS),
        deadline: Deadline::per_request(),
        utility_config: None,
        http: HttpSettings::default(),
    }
}

fn call(client: &MdrClient, endpoint: &str, file: &Path) -> Result<(), MdrError> {
    match endpoint {
        "incidents/details" => client.incident_details(INCIDENT).map(drop),
        "comments/list" => client.list_comments(INCIDENT).map(drop),
        "responses/list" => client.list_responses(INCIDENT).map(drop),
        "assets/list" => client.find_assets(&["HOST-01".to_owned()]).map(drop),
        "attachments/list" => client.list_attachments(INCIDENT).map(drop),
        "comments/create" => client.create_comment(INCIDENT, "from the fault tests").map(drop),
        "incidents/close" => client.close_incident(INCIDENT, Resolution::TruePositive, "done").map(drop),
        "incidents/create" => client
            .create_incident(&NewIncident {
                summary: "fault test".to_owned(),
                client_description: "d".to_owned(),
                affected_hosts: vec![format!("HOST:{ASSET}")],
                priority: "LOW",
                markdown_to_html: true,
            })
            .map(drop),
        "response/update" => client.update_response(RESPONSE, Decision::Confirmed, "ok").map(drop),
        "attachments/upload" => client
            .upload_attachment(&Upload { incident_id: INCIDENT, path: file, file_name: "e.txt", caption: "c" })
            .map(drop),
        other => panic!("no call for {other}"),
    }
}

struct Outcome {
    result: Result<(), MdrError>,
    /// Requests that reached the endpoint, faulted or not.
    attempts: usize,
    confirms: usize,
    elapsed: Duration,
}

impl Outcome {
    fn message(&self) -> String {
        match &self.result {
            Ok(()) => panic!("expected an error"),
            Err(e) => e.to_string(),
        }
    }
}

/// One call on a fresh stand-in whose `endpoint` answers `fault` the next `times` times.
fn under_fault(endpoint: &str, fault: &Fault, times: usize) -> Outcome {
    let mdr = sandbox();
    let dir = tempfile::tempdir().unwrap();
    mdr.write_token_dir(dir.path(), 3600).unwrap();
    let file = dir.path().join("evidence.txt");
    std::fs::write(&file, b"test").unwrap();
    mdr.inject(endpoint, fault.clone(), times);
    let client = client(&mdr, dir.path());
    let started = Instant::now();
    let result = call(&client, endpoint, &file);
    let elapsed = started.elapsed();
    if matches!(fault, Fault::Delay(_)) {
        await_journal(&mdr, endpoint);
    }
    Outcome { result, attempts: mdr.calls(endpoint).len(), confirms: mdr.calls("session/confirm").len(), elapsed }
}

/// The stand-in journals a delayed request once it has answered it: wait for that.
fn await_journal(mdr: &Sandbox, endpoint: &str) {
    let until = Instant::now() + Duration::from_secs(5);
    while mdr.calls(endpoint).is_empty() && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn check_endpoint(endpoint: &str, kind: Kind) {
    let read = kind == Kind::Read;
    let case = |fault: Fault, times: usize| {
        let outcome = under_fault(endpoint, &fault, times);
        assert!(outcome.elapsed < DEADLINE, "{endpoint} {fault:?}: took {:?}", outcome.elapsed);
        if let Err(e) = &outcome.result {
            assert!(e.to_string().contains(endpoint), "{endpoint} {fault:?}: the endpoint is named: {e}");
        }
        outcome
    };
    let json_error = |code: u16| Fault::Status(code, r#"{"message": "upstream hiccup"}"#.to_owned());

    // 500: a server failure, never retried.
    let o = case(json_error(500), 10);
    assert_eq!(o.attempts, 1, "{endpoint} 500");
    assert_eq!(
        o.message(),
        format!("MDR API {endpoint} answered HTTP 500: upstream hiccup (a server-side failure: try again later)")
    );

    // 502/503 once, with and without Retry-After: reads retry (after the wait asked for), writes do not.
    for (fault, wait) in [
        (json_error(502), Duration::ZERO),
        (json_error(503), Duration::ZERO),
        (Fault::StatusRetryAfter(503, 1), Duration::from_secs(1)),
        (Fault::StatusRetryAfter(502, 1), Duration::from_secs(1)),
    ] {
        let o = case(fault.clone(), 1);
        if read {
            assert!(o.result.is_ok(), "{endpoint} {fault:?}: {:?}", o.result.err());
            assert_eq!(o.attempts, 2, "{endpoint} {fault:?}");
            assert!(o.elapsed >= wait, "{endpoint} {fault:?}: Retry-After honoured ({:?})", o.elapsed);
        } else {
            assert_eq!(o.attempts, 1, "{endpoint} {fault:?}: a write is never resent");
            assert!(o.message().contains("answered HTTP 50"), "{}", o.message());
            assert!(o.elapsed < Duration::from_millis(900), "{endpoint} {fault:?}: no wait for a write");
        }
    }

    // 503 that does not end: reads try three times with backoff; with a Retry-After far beyond the
    // deadline, they wait only what is left of it and give up in time.
    let o = case(json_error(503), 10);
    assert_eq!(o.attempts, if read { 3 } else { 1 }, "{endpoint} persistent 503");
    let o = case(Fault::StatusRetryAfter(503, 30), 10);
    assert_eq!(o.attempts, if read { 2 } else { 1 }, "{endpoint} persistent 503, Retry-After: 30");
    assert!(o.message().contains("answered HTTP 503: too many requests"), "{}", o.message());

    // Connection reset after the request was read.
    let o = case(Fault::Drop, 1);
    if read {
        assert!(o.result.is_ok(), "{endpoint} drop: {:?}", o.result.err());
        assert_eq!(o.attempts, 2);
    } else {
        assert_eq!(o.attempts, 1, "{endpoint} drop: a write is never resent");
        let message = o.message();
        assert!(
            message.starts_with(&format!("MDR API {endpoint} closed the connection before answering ("))
                && message.contains("the request may have reached MDR"),
            "{endpoint}: {message}"
        );
    }
    let o = case(Fault::Drop, 10);
    assert_eq!(o.attempts, if read { 3 } else { 1 }, "{endpoint} drops every time");
    assert!(o.message().contains("closed the connection before answering"), "{}", o.message());

    // Slower than the timeout: not retried (the server may still be working on it).
    let o = case(Fault::Delay(Duration::from_millis(1000 * TIMEOUT_SECS + 1500)), 1);
    assert_eq!(o.attempts, 1, "{endpoint} slow");
    let message = o.message();
    assert!(message.starts_with(&format!("MDR API {endpoint} did not answer within {TIMEOUT_SECS} s")), "{message}");
    assert_eq!(message.contains("the request may have reached MDR"), !read, "{message}");

    // A body that is not JSON, and an HTML error page from a proxy.
    let o = case(Fault::InvalidJson, 1);
    assert_eq!(o.attempts, 1);
    assert!(
        o.message().starts_with(&format!("MDR API {endpoint} answered with an unexpected body: "))
            && o.message().contains("<<not json>>"),
        "{}",
        o.message()
    );
    let o = case(Fault::Html(500), 1);
    assert_eq!(o.attempts, 1);
    assert_eq!(
        o.message(),
        format!("MDR API {endpoint} answered HTTP 500: an HTML error page (a server-side failure: try again later)")
    );
    let o = case(Fault::Html(502), 1);
    assert_eq!(o.result.is_ok(), read, "{endpoint} HTML 502");

    // 401/403: one refresh and one resend (the server refused the request); a second refusal is final.
    for code in [401, 403] {
        let o = case(json_error(code), 1);
        assert!(o.result.is_ok(), "{endpoint} {code} once: {:?}", o.result.err());
        assert_eq!((o.attempts, o.confirms), (2, 1), "{endpoint} {code} once");
        let o = case(json_error(code), 2);
        assert_eq!((o.attempts, o.confirms), (2, 1), "{endpoint} {code} twice");
        assert!(o.message().contains("(the access token was refused: check `client_id`"), "{}", o.message());
    }
}

#[test]
fn every_endpoint_under_every_fault() {
    std::thread::scope(|s| {
        for (endpoint, kind) in ENDPOINTS {
            s.spawn(move || check_endpoint(endpoint, *kind));
        }
    });
}

// ---- The deadline: per request for a long-lived client, fixed for a job. ----

#[test]
fn a_client_used_longer_than_its_budget_still_retries_a_read_and_a_job_stops_at_its_deadline() {
    let mdr = sandbox();
    let dir = tempfile::tempdir().unwrap();
    mdr.write_token_dir(dir.path(), 3600).unwrap();
    let daemon = client(&mdr, dir.path());
    let job_settings = MdrSettings {
        deadline: Deadline::for_job(Duration::from_secs(TIMEOUT_SECS)),
        ..settings(&mdr.api_url(), mdr.client_id(), dir.path())
    };
    let job = MdrClient::new(&job_settings).unwrap();
    daemon.list_comments(INCIDENT).unwrap();
    job.list_comments(INCIDENT).unwrap();
    std::thread::sleep(Duration::from_secs(TIMEOUT_SECS) * RETRY_BUDGET_TIMEOUTS + Duration::from_millis(300));

    let gateway = Fault::Status(503, r#"{"message": "upstream hiccup"}"#.to_owned());
    mdr.clear_journal();
    mdr.inject("comments/list", gateway.clone(), 1);
    daemon.list_comments(INCIDENT).unwrap();
    assert_eq!(mdr.calls("comments/list").len(), 2, "the daemon's read was retried as in its first minute");

    mdr.clear_journal();
    mdr.inject("comments/list", gateway, 1);
    let message = job.list_comments(INCIDENT).unwrap_err().to_string();
    assert!(message.contains("answered HTTP 503"), "{message}");
    assert_eq!(mdr.calls("comments/list").len(), 1, "past the job's deadline nothing is retried");
}

// ---- Connection attempts per call, counted at the socket. ----

/// The README's maximum: a read is tried at most 3 times, a write that may have arrived once.
const MAX_READ_ATTEMPTS: usize = 3;

/// A server that accepts, reads the request, and closes without answering; counts connections.
fn hang_up_server() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::Read;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/api/v1", listener.local_addr().unwrap());
    let count = std::sync::Arc::new(AtomicUsize::new(0));
    let counter = std::sync::Arc::clone(&count);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            counter.fetch_add(1, Ordering::SeqCst);
            let _ = stream.set_read_timeout(Some(Duration::from_millis(300)));
            let _ = stream.read(&mut [0u8; 65536]);
        }
    });
    (url, count)
}

#[test]
fn connection_attempts_per_call_match_the_stated_maximum() {
    let mdr = sandbox();
    std::thread::scope(|s| {
        for (endpoint, kind) in ENDPOINTS {
            s.spawn(|| attempts_of(&mdr, endpoint, *kind));
        }
    });
}

fn attempts_of(mdr: &Sandbox, endpoint: &str, kind: Kind) {
    {
        // Plain HTTP: the request was read, then the connection closed: only reads are tried again.
        // HTTPS: the server hangs up during the handshake, so no request left: every call is tried again.
        for tls in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            mdr.write_token_dir(dir.path(), 3600).unwrap();
            let file = dir.path().join("evidence.txt");
            std::fs::write(&file, b"test").unwrap();
            let (url, count) = hang_up_server();
            let url = if tls { url.replace("http://", "https://") } else { url };
            let client = MdrClient::new(&settings(&url, mdr.client_id(), dir.path())).unwrap();
            let started = Instant::now();
            let message = call(&client, endpoint, &file).unwrap_err().to_string();
            assert!(started.elapsed() < DEADLINE, "{endpoint}: {:?}", started.elapsed());
            let (expected, text) = match tls {
                false if kind == Kind::Write => (1..=1, "closed the connection before answering"),
                false => (MAX_READ_ATTEMPTS..=MAX_READ_ATTEMPTS, "closed the connection before answering"),
                // A streamed upload can see the hang-up as a broken body instead (reqwest's body
                // thread races the handshake), on any attempt: attempts that failed in the
                // handshake were resent, and the first that may have arrived is the last.
                true if kind == Kind::Write && message.contains("may have reached MDR") => {
                    (1..=MAX_READ_ATTEMPTS, "closed the connection")
                }
                true => (MAX_READ_ATTEMPTS..=MAX_READ_ATTEMPTS, "Cannot reach the MDR API at"),
            };
            assert!(message.contains(text), "{endpoint} tls={tls}: {message}");
            let connections = count.load(std::sync::atomic::Ordering::SeqCst);
            assert!(
                expected.contains(&connections),
                "{endpoint} tls={tls}: {connections} connections, expected {expected:?}"
            );
        }
    }
}
