//! MDR_SendTaskLog run as Cortex runs it, against the MDR stand-in over HTTP and TLS.
#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};

use crate::support::{Job, SEND, fixture, sandbox, sent};

const INCIDENT: &str = "-NzExampleIncident01";
const EXPECTED_TEXT: &str = "analyst@soc.example wrote:\n> Approved by the on-call analyst.\n\n\
                             (sent from TheHive: case #17, task \"RUN_SCRIPT\", log ~81924184)";

#[test]
fn thehive4_log_becomes_one_comment_over_http() {
    let mdr = sandbox(false);
    let (job, tokens) = Job::new(fixture("th4/input_case_task_log.json"), &mdr);
    let run = job.run(SEND);
    let full = run.assert_success();

    assert_eq!(full["incident_id"], INCIDENT);
    assert_eq!(full["already_sent"], false);
    assert_eq!(full["text"], EXPECTED_TEXT);
    assert_eq!(run.doc["operations"], json!([]));
    assert!(run.output.stdout.is_empty(), "job-folder mode prints nothing on stdout");
    assert!(
        run.raw.starts_with(b"{\"success\": true, \"full\": {\"message\": \"Comment "),
        "{}",
        String::from_utf8_lossy(&run.raw)
    );
    assert_eq!(
        sent(&mdr, "comments/create"),
        vec![json!({"incident_id": INCIDENT, "text": EXPECTED_TEXT, "markdown_to_html": true})]
    );
    let stored = mdr.incident(INCIDENT).unwrap();
    let ids: Vec<&str> =
        stored["comments"].as_array().unwrap().iter().filter_map(|c| c["comment_id"].as_str()).collect();
    assert!(ids.contains(&full["comment_id"].as_str().unwrap()), "{stored}");
    assert!(mdr.calls("session/confirm").is_empty(), "a valid access token needs no refresh");
    run.assert_no_secret(&[&tokens.access_token, &tokens.refresh_token]);
    // Nothing was written into input/.
    let inputs: Vec<_> = std::fs::read_dir(job.dir().join("input")).unwrap().collect();
    assert_eq!(inputs.len(), 1);
}

#[test]
fn thehive5_log_over_tls_with_ssl_cert() {
    let mdr = sandbox(true);
    let job = Job::on("th5/input_case_task_log.json", &mdr);
    let full = job.run(SEND).assert_success().clone();
    assert_eq!(full["incident_id"], INCIDENT);
    assert_eq!(sent(&mdr, "comments/create").len(), 1);
}

#[test]
fn cortex_cacerts_and_requests_ca_bundle_are_trusted() {
    let mdr = sandbox(true);
    // Cortex writes the `cacerts` setting to input/cacerts and points REQUESTS_CA_BUNDLE at it.
    let mut job = Job::on("th4/input_case_task_log.json", &mdr);
    job.input["config"]["ssl_cert"] = Value::Null;
    let dir = job.write();
    std::fs::write(dir.join("input/cacerts"), mdr.ca_pem().unwrap()).unwrap();
    let output = crate::support::cortex_command(SEND)
        .arg(&dir)
        .env("REQUESTS_CA_BUNDLE", dir.join("input/cacerts"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));

    // Inline `cacerts` text in the config (stdin mode has no input folder).
    let mut job = Job::on("th4/input_case_task_log.json", &mdr);
    job.input["config"]["ssl_cert"] = Value::Null;
    job.input["config"]["cacerts"] = mdr.ca_pem().unwrap().into();
    job.input["data"]["_id"] = "~other-log".into();
    job.run_stdin(SEND).assert_success();
    assert_eq!(sent(&mdr, "comments/create").len(), 2);
}

#[test]
fn an_untrusted_certificate_is_refused_with_the_setting_to_fix() {
    let mdr = sandbox(true);
    let mut job = Job::on("th4/input_case_task_log.json", &mdr);
    job.input["config"]["ssl_cert"] = Value::Null;
    let message = job.run(SEND).assert_error();
    assert!(message.contains("is not trusted") && message.contains("`ssl_cert`"), "{message}");
    assert!(mdr.journal().is_empty(), "no request may pass an unverified TLS session");
}

#[test]
fn stdin_mode_writes_the_document_to_stdout() {
    let mdr = sandbox(false);
    let job = Job::on("th4/input_case_task_log.json", &mdr);
    let run = job.run_stdin(SEND);
    run.assert_success();
    assert!(!run.raw.ends_with(b"\n"), "no trailing newline, like cortexutils");
    assert_eq!(sent(&mdr, "comments/create").len(), 1);
}

#[test]
fn a_second_click_does_not_post_twice() {
    let mdr = sandbox(false);
    let job = Job::on("th4/input_case_task_log.json", &mdr);
    let first = job.run(SEND);
    let first_id = first.assert_success()["comment_id"].clone();
    let second = job.run(SEND);
    let full = second.assert_success();
    assert_eq!(full["already_sent"], true);
    assert_eq!(full["comment_id"], first_id);
    assert!(full["message"].as_str().unwrap().contains("not sent again"), "{full}");
    assert_eq!(sent(&mdr, "comments/create").len(), 1);
}

#[test]
fn an_expired_access_token_is_rotated_once() {
    let mdr = sandbox(false);
    let job = Job::on("th4/input_case_task_log.json", &mdr);
    let old = mdr.write_token_dir(&job.token_dir(), -10).unwrap();
    let run = job.run(SEND);
    run.assert_success();

    assert_eq!(mdr.calls("session/confirm").len(), 1);
    let (access, refresh) = (job.token_file(".access_token"), job.token_file(".refresh_token"));
    assert_ne!(access, old.access_token);
    assert_ne!(refresh, old.refresh_token);
    assert!(mdr.refresh_token_usable(&refresh), "the newest refresh token is on disk");
    assert!(!mdr.refresh_token_usable(&old.refresh_token), "the old one was spent");
    run.assert_no_secret(&[&old.access_token, &old.refresh_token, &access, &refresh]);
}

#[test]
fn a_rejected_access_token_is_refreshed_and_the_call_resent_once() {
    let mdr = sandbox(false);
    let job = Job::on("th4/input_case_task_log.json", &mdr);
    // A well-formed, unexpired token the server never issued (e.g. revoked in the console).
    let exp = mdr_api::token::now_secs() + 3600;
    let payload = base64_url(&format!(r#"{{"exp":{exp}}}"#));
    std::fs::write(job.token_dir().join(".access_token"), format!("eyJhbGciOiJIUzI1NiJ9.{payload}.forged")).unwrap();
    job.run(SEND).assert_success();
    assert_eq!(mdr.calls("session/confirm").len(), 1);
    assert_eq!(sent(&mdr, "comments/create").len(), 1);
}

fn base64_url(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

#[test]
fn concurrent_jobs_with_an_expired_token_refresh_once() {
    let mdr = sandbox(false);
    let job = Job::on("th4/input_case_task_log.json", &mdr);
    mdr.write_token_dir(&job.token_dir(), -10).unwrap();
    let runs: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let mut input = job.input.clone();
                input["data"]["_id"] = format!("~log-{i}").into();
                let root = tempfile::tempdir().unwrap();
                s.spawn(move || {
                    let single = Job { root, input };
                    single.run(SEND)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for run in &runs {
        run.assert_success();
    }
    assert_eq!(mdr.calls("session/confirm").len(), 1);
    assert_eq!(sent(&mdr, "comments/create").len(), 8);
    assert!(mdr.refresh_token_usable(&job.token_file(".refresh_token")));
}

#[test]
fn a_case_without_incident_link_is_refused_before_any_call() {
    let mdr = sandbox(false);
    let mut job = Job::on("th4/input_case_task_log.json", &mdr);
    job.input["data"]["case_task"]["case"]["customFields"] = json!({});
    let message = job.run(SEND).assert_error();
    assert_eq!(
        message,
        "The case has no value in custom field `mdr-incident-id`: link the case to an MDR incident by setting \
         the case custom field `mdr-incident-id` to the MDR incident id"
    );
    assert!(mdr.journal().is_empty());
}

#[test]
fn an_unknown_incident_is_named() {
    let mdr = sandbox(false);
    let mut job = Job::on("th4/input_case_task_log.json", &mdr);
    job.input["data"]["case_task"]["case"]["customFields"]["mdr-incident-id"]["string"] = "-NoSuchIncident".into();
    let message = job.run(SEND).assert_error();
    assert!(message.starts_with("MDR has no incident -NoSuchIncident"), "{message}");
    assert!(sent(&mdr, "comments/create").is_empty());
}

#[test]
fn a_wrong_client_id_is_reported() {
    let mdr = sandbox(false);
    let (mut job, tokens) = Job::new(fixture("th4/input_case_task_log.json"), &mdr);
    job.input["config"]["client_id"] = "not-our-client".into();
    let run = job.run(SEND);
    let message = run.assert_error();
    assert!(message.contains("HTTP 404") && message.contains("client_id"), "{message}");
    run.assert_no_secret(&[&tokens.access_token, &tokens.refresh_token]);
}

#[test]
fn an_unreachable_server_is_reported() {
    let (job, _) = {
        let mdr = sandbox(false);
        Job::new(fixture("th4/input_case_task_log.json"), &mdr)
    }; // the sandbox is gone: its port refuses connections
    let message = job.run(SEND).assert_error();
    assert!(message.starts_with("Cannot reach the MDR API at http://127.0.0.1:"), "{message}");
}

#[test]
fn invalid_input_json_is_an_error_document() {
    let mdr = sandbox(false);
    let job = Job::on("th4/input_case_task_log.json", &mdr);
    let dir = job.write();
    std::fs::write(dir.join("input/input.json"), b"{\"data\": {").unwrap();
    let output = crate::support::cortex_command(SEND).arg(&dir).output().unwrap();
    let doc: Value = serde_json::from_slice(&std::fs::read(dir.join("output/output.json")).unwrap()).unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(doc["success"], false);
    assert!(doc["errorMessage"].as_str().unwrap().contains("input.json"), "{doc}");
}

#[test]
fn startup_checks_use_cortexutils_messages_and_redact_the_input() {
    let mdr = sandbox(false);
    let mut job = Job::on("th4/input_case_task_log.json", &mdr);
    job.input["tlp"] = 3.into();
    job.input["config"]["api_key"] = "sentinel-api-key".into();
    let run = job.run(SEND);
    assert_eq!(run.assert_error(), "TLP is higher than allowed.");
    assert_eq!(run.doc["input"]["config"]["api_key"], "REMOVED");
    run.assert_no_secret(&["sentinel-api-key"]);
    assert!(mdr.journal().is_empty());
}

#[test]
fn a_log_on_the_wrong_object_type_is_refused() {
    let mdr = sandbox(false);
    let job = Job::on("th4/input_case.json", &mdr);
    let message = job.run(SEND).assert_error();
    assert!(message.starts_with("This responder runs on thehive:case_task_log, not on thehive:case"), "{message}");
}

#[test]
fn help_and_version_work() {
    let output = crate::support::cortex_command(SEND).arg("--version").output().unwrap();
    assert!(String::from_utf8_lossy(&output.stdout).starts_with("MDR_SendTaskLog 2."), "{output:?}");
    let output = crate::support::cortex_command(SEND).arg("--help").output().unwrap();
    assert!(String::from_utf8_lossy(&output.stdout).contains("JOB_FOLDER"));
}

#[test]
fn cortex_proxies_are_used_and_no_proxy_exempts_hosts() {
    let mdr = sandbox(false);
    let mut job = Job::on("th4/input_case_task_log.json", &mdr);
    // A proxy that refuses every connection: going through it fails, bypassing it works.
    job.input["config"]["proxy"] = json!({"http": "http://127.0.0.1:9", "https": "http://127.0.0.1:9"});
    let message = job.run(SEND).assert_error();
    assert!(message.starts_with("Cannot reach the MDR API"), "{message}");
    assert!(mdr.journal().is_empty(), "the request went through the proxy, not straight to MDR");
    let dir = job.write();
    let output = crate::support::cortex_command(SEND).arg(&dir).env("NO_PROXY", "127.0.0.1").output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(sent(&mdr, "comments/create").len(), 1);
}

#[test]
fn a_thehive5_log_whose_case_has_only_custom_field_values_names_every_file() {
    let mdr = sandbox(false);
    let job = Job::on("th5/input_case_task_log_values.json", &mdr);
    let run = job.run(SEND);
    let full = run.assert_success();
    assert_eq!(full["incident_id"], INCIDENT);
    assert_eq!(full["text"], EXPECTED_TEXT, "the author comes from `_createdBy`");
    let names: Vec<&Value> = full["attachments"].as_array().unwrap().iter().map(|a| &a["name"]).collect();
    assert_eq!(names, [&json!("evidence.txt"), &json!("process-list.csv")]);
    let message = full["message"].as_str().unwrap();
    assert!(message.contains("attachment evidence.txt NOT sent") && message.contains("process-list.csv NOT sent"));
    assert_eq!(sent(&mdr, "comments/create").len(), 1);
}
