//! The HTTP transport end to end: the binary registers with a callback URI, pings, takes callback
//! posts (JWT from the registration's jwks, or the older shared token) and sends results with
//! `stixBundlePush`, against the OpenCTI and TIP stand-ins.

use std::time::Duration;

use serde_json::{Value, json};

use crate::tip_standin::StandIn;
use crate::transport_common::*;

pub(crate) fn post(port: u16, bearer: Option<&str>, body: &str) -> (u16, String) {
    let client = reqwest::blocking::Client::builder().timeout(Duration::from_secs(120)).build().expect("client");
    let mut request = client.post(format!("http://127.0.0.1:{port}/api/callback")).body(body.to_owned());
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    let response = request.send().expect("callback answer");
    (response.status().as_u16(), response.text().unwrap_or_default())
}

pub(crate) fn api_env(
    opencti: &test_support::opencti::OpenCtiSandbox,
    tip: &StandIn,
    port: u16,
) -> std::collections::BTreeMap<String, String> {
    let mut env = base_env(opencti, tip);
    env.insert("CONNECTOR_LISTEN_PROTOCOL".into(), "API".into());
    env.insert("CONNECTOR_QUEUE_PROTOCOL".into(), "api".into());
    env.insert("CONNECTOR_LISTEN_PROTOCOL_API_PORT".into(), port.to_string());
    env.insert("CONNECTOR_LISTEN_PROTOCOL_API_HOST".into(), "127.0.0.1".into());
    env.insert("CONNECTOR_LISTEN_PROTOCOL_API_URI".into(), format!("http://127.0.0.1:{port}"));
    env
}

pub(crate) fn wait_listening(port: u16, connector: &mut Connector) {
    wait_for("the callback listener", Duration::from_secs(30), || {
        if let Ok(Some(status)) = connector.child.try_wait() {
            panic!("connector exited {status}: {}", connector.log_text());
        }
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
}

#[test]
fn callback_with_jwt_enriches_every_golden_case_and_pushes_the_bundles() {
    let opencti = opencti(true, no_broker());
    let tip = StandIn::start();
    let port = free_port();
    let mut connector = spawn(&api_env(&opencti, &tip, port));
    wait_listening(port, &mut connector);

    let registrations = opencti.registrations();
    assert_eq!(registrations.len(), 1);
    let input = &registrations[0];
    assert_eq!(input["type"], "INTERNAL_ENRICHMENT");
    assert_eq!(input["scope"], json!(["StixFile", "IPv4-Addr", "Domain-Name", "Hostname", "Url"]));
    assert_eq!(input["auto"], true);
    assert_eq!(input["playbook_compatible"], true);
    assert_eq!(input["listen_callback_uri"], format!("http://127.0.0.1:{port}/api/callback"));
    wait_for("a ping", Duration::from_secs(10), || opencti.pings() >= 1);

    let jwt = opencti.mint_jwt(&json!({}));
    // Refusals first: no token, the shared token where a JWT is due, a forged signature, bad JSON.
    let sample = message(&golden()[0].1, "work-unused").to_string();
    assert_eq!(post(port, None, &sample).0, 401);
    assert_eq!(post(port, Some(TOKEN), &sample).0, 401);
    let forged = format!("{}x", &jwt[..jwt.len() - 1]);
    assert_eq!(post(port, Some(&forged), &sample).0, 401);
    let expired = opencti.mint_jwt(&json!({ "exp": 1000 }));
    assert_eq!(post(port, Some(&expired), &sample).0, 401);
    assert_eq!(post(port, Some(&jwt), "{not json").0, 400);

    for (index, (name, input, object, answer, expected)) in golden().into_iter().enumerate() {
        let work_id = format!("work-{index}");
        seed(&opencti, &tip, &input, &object, &answer, &work_id);
        let (status, body) = post(port, Some(&jwt), &message(&input, &work_id).to_string());
        assert_eq!(status, 202, "{name}: {body}");
        assert_eq!(
            serde_json::from_str::<Value>(&body).expect("json"),
            json!({"message": "Message successfully received"})
        );
        let work = opencti.work(&work_id).expect("work");
        assert_eq!(work.calls, ["toReceived", "toProcessed"], "{name}");
        assert_eq!(work.received_message.as_deref(), Some("Connector ready to process the operation"));
        assert_eq!(work.in_error, Some(false), "{name}: {:?}", work.processed_message);
        // The Python message, after our own "nothing found" note where we add one (grey zone).
        let text = work.processed_message.clone().unwrap_or_default();
        assert!(text.ends_with(expected["message"].as_str().unwrap_or("?")), "{name}: {text}");
        let pushed: Vec<Value> = opencti
            .pushed()
            .into_iter()
            .filter(|(w, _)| w.as_deref() == Some(work_id.as_str()))
            .map(|(_, b)| b)
            .collect();
        assert_eq!(pushed.len(), 1, "{name}: one stixBundlePush");
        check_structure(&name, pushed[0]["objects"].as_array().expect("objects"), &expected);
    }
    let log = connector.log_text();
    for secret in [TOKEN, crate::tip_standin::TIP_TOKEN] {
        assert!(!log.contains(secret), "a secret in the log");
    }
}

#[test]
fn shared_token_mode_tip_failures_and_an_opencti_outage_end_as_stated() {
    let opencti = opencti(false, no_broker());
    let tip = StandIn::start();
    let port = free_port();
    let mut connector = spawn(&api_env(&opencti, &tip, port));
    wait_listening(port, &mut connector);
    let (_, input, object, answer, _) = golden().into_iter().next().expect("a golden case");

    // Without a jwks the bearer is the connector's own token (pycti before 7).
    assert_eq!(post(port, Some("wrong"), &message(&input, "w").to_string()).0, 401);

    // TIP 404: nothing found, a success without a bundle.
    seed(&opencti, &tip, &input, &object, &answer, "work-404");
    tip.force(&object, 404, &[], "{}");
    assert_eq!(post(port, Some(TOKEN), &message(&input, "work-404").to_string()).0, 202);
    let work = opencti.work("work-404").expect("work");
    assert_eq!(work.in_error, Some(false));
    assert!(work.processed_message.unwrap_or_default().contains("nothing found"));

    // TIP 500 (after its retries): the work ends in error, no bundle.
    opencti.create_work("work-500");
    tip.force(&object, 500, &[], "{}");
    assert_eq!(post(port, Some(TOKEN), &message(&input, "work-500").to_string()).0, 202);
    let work = opencti.work("work-500").expect("work");
    assert_eq!(work.in_error, Some(true), "{:?}", work.processed_message);
    assert!(!opencti.pushed().iter().any(|(w, _)| w.as_deref() == Some("work-500")));

    // OpenCTI down: 500, so the platform's worker requeues; the work is untouched.
    opencti.create_work("work-outage");
    tip.force(&object, 200, &[], &answer.to_string());
    opencti.set_outage(true);
    assert_eq!(post(port, Some(TOKEN), &message(&input, "work-outage").to_string()).0, 500);
    opencti.set_outage(false);
    assert_eq!(opencti.work("work-outage").expect("work").status, "wait");
    // The requeued message then goes through.
    assert_eq!(post(port, Some(TOKEN), &message(&input, "work-outage").to_string()).0, 202);
    let work = opencti.work("work-outage").expect("work");
    assert_eq!((work.status.as_str(), work.in_error), ("complete", Some(false)));
    assert_eq!(opencti.pushed().iter().filter(|(w, _)| w.as_deref() == Some("work-outage")).count(), 1);
    assert!(!connector.log_text().contains(TOKEN));
}

#[test]
fn a_bad_setting_is_refused_at_start_naming_the_key() {
    let opencti = opencti(false, no_broker());
    let tip = StandIn::start();
    let mut env = api_env(&opencti, &tip, free_port());
    env.insert("CONNECTOR_CONCURRENCY".into(), "zero".into());
    let mut connector = spawn(&env);
    let status = connector.child.wait().expect("exit");
    assert!(!status.success());
    assert!(connector.log_text().contains("CONNECTOR_CONCURRENCY"), "{}", connector.log_text());
    assert!(opencti.registrations().is_empty());
}
