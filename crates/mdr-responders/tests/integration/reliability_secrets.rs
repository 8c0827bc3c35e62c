//! Sentinel values in every secret (access and refresh tokens, API keys, passwords, proxy
//! passwords in URLs), then every error path: none appears in the document, stdout or stderr.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use serde_json::json;
use test_support::{Fault, Sandbox, TokenPair};

use crate::support::{CLOSE, CREATE, DECIDE, Job, Run, SEND, fixture, sandbox};

/// The case MDR_CreateIncident runs on (the others use the th4 fixtures as they are).
const CREATE_FIXTURE: &str = "th5/input_case.json";
const API_KEY: &str = "SENTINEL-api-key-7f3a";
const PASSWORD: &str = "SENTINEL-password-91c2";
const PROXY_PASSWORD: &str = "SENTINEL-proxy-pw-4d8e";
const THEHIVE_KEY: &str = "SENTINEL-other-key-0b5c";

/// A job carrying every sentinel in its configuration; returns the token pair on disk too.
fn job(mdr: &Sandbox, fixture_name: &str) -> (Job, TokenPair) {
    let (mut job, tokens) = Job::new(fixture(fixture_name), mdr);
    let config = &mut job.input["config"];
    config["api_key"] = API_KEY.into();
    config["password"] = PASSWORD.into();
    config["integration_api_key"] = THEHIVE_KEY.into();
    config["nested"] = json!({"auth": {"secret": PASSWORD}, "list": [{"token": API_KEY}]});
    config["service"] = "confirm_response".into();
    if fixture_name == CREATE_FIXTURE {
        // Not linked yet, with a host MDR knows: creation goes all the way to MDR.
        job.input["data"]["customFields"].as_object_mut().unwrap().remove("mdr-incident-id");
        job.input["data"]["tags"] = json!(["host:HOST-01"]);
    }
    (job, tokens)
}

fn sentinels(tokens: &TokenPair) -> Vec<String> {
    let mut all: Vec<String> = [API_KEY, PASSWORD, PROXY_PASSWORD, THEHIVE_KEY].map(str::to_owned).to_vec();
    all.push(tokens.access_token.clone());
    all.push(tokens.refresh_token.clone());
    // A JWT's signature alone is as secret as the token.
    all.extend([&tokens.access_token, &tokens.refresh_token].map(|t| t.rsplit('.').next().unwrap().to_owned()));
    all
}

fn check(what: &str, run: &Run, secrets: &[String]) {
    assert!(!run.timed_out, "{what}");
    assert_eq!(run.doc["success"], false, "{what}: {}", run.doc);
    let text = run.all_text();
    for secret in secrets {
        assert!(!text.contains(secret.as_str()), "{what}: {secret} leaked: {text}");
    }
    assert!(!text.contains("panicked"), "{what}: {text}");
}

#[test]
fn no_error_path_shows_a_secret() {
    let mdr = sandbox(false);
    let binaries = [
        (SEND, "th4/input_case_task_log.json"),
        (CLOSE, "th4/input_case.json"),
        (DECIDE, "th4/input_case_task.json"),
        (CREATE, CREATE_FIXTURE),
    ];
    for (binary, fixture_name) in binaries {
        let path_of = |what: &str| format!("{} {what}", binary.rsplit('/').next().unwrap());

        // Start-up check, configuration error, invalid input.
        let (mut j, t) = job(&mdr, fixture_name);
        j.input["tlp"] = 3.into();
        j.input["config"]["check_tlp"] = true.into();
        check(&path_of("tlp"), &j.run(binary), &sentinels(&t));
        let (mut j, t) = job(&mdr, fixture_name);
        j.input["config"]["client_id"] = "".into();
        check(&path_of("config"), &j.run(binary), &sentinels(&t));

        // The server echoes the bearer token and the refresh token in its error bodies.
        let (j, t) = job(&mdr, fixture_name);
        let echo = format!(r#"{{"message": "token {} refused, refresh {}"}}"#, t.access_token, t.refresh_token);
        for endpoint in ["comments/list", "incidents/details", "responses/list", "assets/list"] {
            mdr.inject(endpoint, Fault::Status(500, echo.clone()), 1);
        }
        check(&path_of("500 echo"), &j.run(binary), &sentinels(&t));
        for endpoint in ["comments/list", "incidents/details", "responses/list", "assets/list"] {
            mdr.inject(endpoint, Fault::Status(403, echo.clone()), 2);
        }
        let run = j.run(binary);
        let new =
            TokenPair { access_token: j.token_file(".access_token"), refresh_token: j.token_file(".refresh_token") };
        let mut all = sentinels(&t);
        all.extend(sentinels(&new));
        check(&path_of("403 echo"), &run, &all);

        // Refresh refused with the refresh token echoed; no refresh token at all.
        let (j, _) = job(&mdr, fixture_name);
        let t = mdr.write_token_dir(&j.token_dir(), -10).unwrap();
        mdr.inject("session/confirm", Fault::Status(403, echo.replace(&t.refresh_token, "x") + &t.refresh_token), 1);
        let refused = format!(r#"{{"message": "refresh token {} is revoked"}}"#, t.refresh_token);
        mdr.inject("session/confirm", Fault::Status(403, refused), 1);
        check(&path_of("refresh refused"), &j.run(binary), &sentinels(&t));
        std::fs::remove_file(j.token_dir().join(".refresh_token")).unwrap();
        check(&path_of("no refresh token"), &j.run(binary), &sentinels(&t));

        // Timeouts, resets and bodies that are not JSON.
        let (mut j, t) = job(&mdr, fixture_name);
        j.input["config"]["timeout"] = 1.into();
        for fault in [Fault::Delay(Duration::from_millis(1300)), Fault::Drop, Fault::InvalidJson, Fault::Html(502)] {
            for endpoint in ["comments/list", "incidents/details", "responses/list", "assets/list"] {
                mdr.inject(endpoint, fault.clone(), 3);
            }
            check(&path_of(&format!("{fault:?}")), &j.run(binary), &sentinels(&t));
        }
    }
}

#[test]
fn proxy_passwords_never_show() {
    let mdr = sandbox(false);
    // A closed port as the proxy: the connection is refused, and the error names the proxy.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    for (name, value) in [
        ("unreachable proxy", format!("http://user:{PROXY_PASSWORD}@{closed}")),
        ("pasted with a space", format!(" http://user:{PROXY_PASSWORD}@{closed}")),
        ("invalid URL", format!("http://user:{PROXY_PASSWORD}@[not-a-host")),
    ] {
        let (mut j, t) = job(&mdr, "th4/input_case_task_log.json");
        j.input["config"]["proxy_http"] = value.clone().into();
        j.input["config"]["proxy_https"] = value.clone().into();
        j.input["config"]["proxy"] = json!({"http": value.clone(), "https": value});
        let run = j.run(SEND);
        check(name, &run, &sentinels(&t));
        let message = run.assert_error();
        assert!(message.contains("proxy") || message.contains("Cannot reach"), "{name}: {message}");
    }
}

#[test]
fn a_tls_failure_shows_no_secret() {
    let mdr = sandbox(true);
    let (mut j, t) = job(&mdr, "th4/input_case.json");
    j.input["config"]["ssl_cert"] = serde_json::Value::Null;
    check("untrusted", &j.run(CLOSE), &sentinels(&t));
}
