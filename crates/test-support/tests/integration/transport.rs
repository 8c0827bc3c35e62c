//! Faults, TLS, chunked bodies and keep-alive, and the binary.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::blocking::Client;
use serde_json::{Value, json};
use test_support::{Fault, Sandbox, SandboxOptions, Seed};

use crate::common::{Api, INCIDENT, split};

#[test]
fn each_fault_kind_then_normal_service() {
    let api = Api::new();
    let ep = "incidents/count";

    api.sandbox.inject(ep, Fault::Status(500, r#"{"message":"boom"}"#.to_owned()), 2);
    assert_eq!(api.post(ep, json!({})), (500, json!({"message": "boom"})));
    assert_eq!(api.post(ep, json!({})).0, 500);
    assert_eq!(api.post(ep, json!({})), (200, json!({"count": 3})));

    api.sandbox.inject(ep, Fault::StatusRetryAfter(429, 7), 1);
    let resp = api.client.post(api.url(ep)).bearer_auth(&api.token).json(&json!({})).send().unwrap();
    assert_eq!(resp.status().as_u16(), 429);
    assert_eq!(resp.headers()["retry-after"], "7");

    api.sandbox.inject(ep, Fault::Delay(Duration::from_millis(400)), 1);
    let start = Instant::now();
    assert_eq!(api.post(ep, json!({})), (200, json!({"count": 3})));
    assert!(start.elapsed() >= Duration::from_millis(400));

    api.sandbox.inject(ep, Fault::InvalidJson, 1);
    let resp = api.client.post(api.url(ep)).bearer_auth(&api.token).json(&json!({})).send().unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert!(serde_json::from_str::<Value>(&resp.text().unwrap()).is_err());

    api.sandbox.inject(ep, Fault::Html(502), 1);
    let resp = api.client.post(api.url(ep)).bearer_auth(&api.token).json(&json!({})).send().unwrap();
    assert_eq!(resp.status().as_u16(), 502);
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    assert!(resp.text().unwrap().contains("<html>"));

    api.sandbox.inject(ep, Fault::Drop, 1);
    let err = api.client.post(api.url(ep)).bearer_auth(&api.token).json(&json!({})).send();
    assert!(err.is_err(), "dropped connection must fail the request");

    // A fault on comments/create does not touch the state.
    api.sandbox.inject("comments/create", Fault::Status(503, "down".to_owned()), 1);
    let (status, body) = api.post("comments/create", json!({"incident_id": INCIDENT, "text": "x"}));
    assert_eq!((status, body), (503, Value::Null));
    assert_eq!(api.sandbox.incident(INCIDENT).unwrap()["comments"].as_array().unwrap().len(), 1);

    let statuses: Vec<u16> = api.sandbox.calls(ep).iter().map(|e| e.status).collect();
    assert_eq!(statuses, [500, 500, 200, 429, 200, 200, 502, 0]);
    api.sandbox.clear_journal();
    assert!(api.sandbox.journal().is_empty());
}

fn tls_sandbox() -> Sandbox {
    let mut opts = SandboxOptions::new(Seed::default_demo());
    opts.tls = true;
    Sandbox::start(opts).unwrap()
}

#[test]
fn tls_trusted_ca_works_untrusted_fails() {
    let sandbox = tls_sandbox();
    assert!(sandbox.api_url().starts_with("https://127.0.0.1:"));
    let pem = sandbox.ca_pem().unwrap();
    let token = sandbox.issue_tokens(60).access_token;
    let url = format!("{}/{}/incidents/count", sandbox.api_url(), sandbox.client_id());

    let trusting = Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes()).unwrap())
        .build()
        .unwrap();
    for _ in 0..3 {
        let (status, body) = split(trusting.post(&url).bearer_auth(&token).json(&json!({})).send().unwrap());
        assert_eq!((status, body), (200, json!({"count": 3})));
    }
    let localhost = url.replace("127.0.0.1", "localhost");
    assert_eq!(trusting.post(localhost).bearer_auth(&token).json(&json!({})).send().unwrap().status().as_u16(), 200);

    let untrusting = Client::new();
    assert!(untrusting.post(&url).bearer_auth(&token).json(&json!({})).send().is_err());
    // Another sandbox's CA is not enough either.
    let other = tls_sandbox().ca_pem().unwrap();
    let wrong = Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(other.as_bytes()).unwrap())
        .build()
        .unwrap();
    assert!(wrong.post(&url).bearer_auth(&token).json(&json!({})).send().is_err());
    assert!(Sandbox::start(SandboxOptions::new(Seed::default_demo())).unwrap().ca_pem().is_none());
}

/// Reads one response (Content-Length framed) from a raw socket.
fn read_response(reader: &mut BufReader<TcpStream>) -> (String, String) {
    let mut status = String::new();
    reader.read_line(&mut status).unwrap();
    let mut len = 0;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        if line == "\r\n" {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            len = v.trim().parse().unwrap();
        }
    }
    let mut body = vec![0; len];
    reader.read_exact(&mut body).unwrap();
    (status, String::from_utf8(body).unwrap())
}

#[test]
fn chunked_body_and_keep_alive_on_one_socket() {
    let api = Api::new();
    let addr = api.sandbox.api_url().trim_start_matches("http://").trim_end_matches("/api/v1").to_owned();
    let path = format!("/api/v1/{}/comments/create", api.sandbox.client_id());
    let stream = TcpStream::connect(&addr).unwrap();
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    let body = json!({"incident_id": INCIDENT, "text": "chunked hello"}).to_string();
    let (a, b) = body.split_at(10);
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{a}\r\n{:x};ext=1\r\n{b}\r\n0\r\n\r\n",
        api.token,
        a.len(),
        b.len()
    );
    writer.write_all(request.as_bytes()).unwrap();
    let (status, text) = read_response(&mut reader);
    assert!(status.starts_with("HTTP/1.1 200"), "{status} {text}");
    assert_eq!(serde_json::from_str::<Value>(&text).unwrap()["text"], "chunked hello");
    // Second request on the same connection.
    let count = format!("/api/v1/{}/incidents/count", api.sandbox.client_id());
    let request = format!(
        "POST {count} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\nContent-Length: 2\r\n\r\n{{}}",
        api.token
    );
    writer.write_all(request.as_bytes()).unwrap();
    let (status, text) = read_response(&mut reader);
    assert!(status.starts_with("HTTP/1.1 200"));
    assert_eq!(text, r#"{"count":3}"#);
}

#[test]
fn binary_prints_url_and_journal_then_exits_on_stdin_eof() {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    let mut child = Command::new(env!("CARGO_BIN_EXE_mdr-sandbox"))
        .args(["--tls", "--client-id", "feedface"])
        .arg("--ca-out")
        .arg(&ca)
        .arg("--token-dir")
        .arg(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let url = line.trim().strip_prefix("api_url=").unwrap().to_owned();
    line.clear();
    out.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "client_id=feedface");
    let pem = std::fs::read(&ca).unwrap();
    let refresh = std::fs::read_to_string(dir.path().join(".refresh_token")).unwrap();
    let client = Client::builder().add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap()).build().unwrap();
    let (status, _) = split(
        client.post(format!("{url}/feedface/session/confirm")).json(&json!({"refresh_token": refresh})).send().unwrap(),
    );
    assert_eq!(status, 200);
    line.clear();
    out.read_line(&mut line).unwrap();
    let entry: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(entry["endpoint"], "session/confirm");
    assert_eq!(entry["status"], 200);
    assert!(!line.contains(&refresh), "no tokens in the output");
    drop(child.stdin.take());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success());
            break;
        }
        assert!(Instant::now() < deadline, "binary did not exit on stdin EOF");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn binary_serves_the_thehive_stand_in_beside_mdr() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mdr-sandbox"))
        .args(["--thehive", "5"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut fields = std::collections::HashMap::new();
    for _ in 0..4 {
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        let (key, value) = line.trim().split_once('=').unwrap();
        fields.insert(key.to_owned(), value.to_owned());
    }
    let (url, key) = (&fields["thehive_url"], &fields["thehive_api_key"]);
    assert!(fields["api_url"].starts_with("http://127.0.0.1:") && url.starts_with("http://127.0.0.1:"));
    let answer = Client::new().get(format!("{url}/api/v1/status")).bearer_auth(key).send().unwrap();
    assert_eq!(answer.status().as_u16(), 200);
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let entry: Value = serde_json::from_str(&line).unwrap();
    assert_eq!((entry["service"].as_str(), entry["endpoint"].as_str()), (Some("thehive"), Some("GET /api/v1/status")));
    assert!(
        Command::new(env!("CARGO_BIN_EXE_mdr-sandbox")).args(["--thehive", "3"]).output().unwrap().status.code()
            == Some(2)
    );
    drop(child.stdin.take());
    assert!(child.wait().unwrap().success());
}

#[test]
fn thehive_logs_created_by_a_client_are_the_logs_get_log_and_download_serve() {
    use reqwest::blocking::multipart::{Form, Part};
    use test_support::{TheHiveOptions, TheHiveSandbox, TheHiveVersion};
    let mut options = TheHiveOptions::new(TheHiveVersion::V5);
    options.logs = vec![json!({"_id": "~seeded", "attachments": []})];
    let hive = TheHiveSandbox::start(options).unwrap();
    let client = Client::new();
    let post = |path: &str, body: Value| -> Value {
        let answer = client.post(format!("{}{path}", hive.url())).bearer_auth(hive.api_key()).json(&body).send();
        answer.unwrap().json().unwrap()
    };
    let case = post("/api/v1/case", json!({"title": "c"}));
    let task = post(&format!("/api/v1/case/{}/task", case["_id"].as_str().unwrap()), json!({"title": "t"}));
    let form = Form::new()
        .text("_json", json!({"message": "with a file"}).to_string())
        .part("attachments", Part::bytes(b"file body".to_vec()).file_name("f.txt"));
    let log: Value = client
        .post(format!("{}/api/v1/task/{}/log", hive.url(), task["_id"].as_str().unwrap()))
        .bearer_auth(hive.api_key())
        .multipart(form)
        .send()
        .unwrap()
        .json()
        .unwrap();
    let found = post("/api/v1/query", json!({"query": [{"_name": "getLog", "idOrName": log["_id"]}]}));
    assert_eq!(found, json!([log]));
    let attachment = log["attachments"][0]["_id"].as_str().unwrap();
    let bytes = client
        .get(format!("{}/api/v1/attachment/{attachment}/download", hive.url()))
        .bearer_auth(hive.api_key())
        .send()
        .unwrap()
        .bytes()
        .unwrap();
    assert_eq!(&bytes[..], b"file body");
    let logs = hive.records().2;
    assert_eq!(
        logs.iter().map(|l| l["_id"].as_str().unwrap()).collect::<Vec<_>>(),
        ["~seeded", log["_id"].as_str().unwrap()]
    );
}
