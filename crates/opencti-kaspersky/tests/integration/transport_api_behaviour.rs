//! What the connector does better than the Python one, end to end on the HTTP transport: several
//! messages at once (`CONNECTOR_CONCURRENCY`), a playbook's bundle always passed on, and TIP rate
//! limits and timeouts ending as docs/opencti-enrichment.md says.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::tip_standin::{StandIn, TIP_TOKEN};
use crate::transport_api::{api_env, post, wait_listening};
use crate::transport_common::*;

/// The TIP stand-in's delay per lookup in the concurrency test.
const TIP_DELAY: Duration = Duration::from_millis(600);
const MESSAGES: usize = 4;

/// Posts `MESSAGES` messages at once to a connector running with `concurrency`; returns the most
/// lookups the TIP stand-in was answering at the same time, and how long all of them took.
fn post_at_once(concurrency: usize) -> (usize, Duration) {
    let opencti = opencti(false, no_broker());
    let tip = StandIn::start();
    let port = free_port();
    let mut env = api_env(&opencti, &tip, port);
    env.insert("CONNECTOR_CONCURRENCY".into(), concurrency.to_string());
    let mut connector = spawn(&env);
    wait_listening(port, &mut connector);
    let (_, input, object, answer, _) = golden().into_iter().next().expect("a golden case");
    let works: Vec<String> = (0..MESSAGES).map(|i| format!("work-at-once-{i}")).collect();
    seed(&opencti, &tip, &input, &object, &answer, &works[0]);
    for work in &works[1..] {
        opencti.create_work(work);
    }
    tip.force_with_delay(&object, 200, &[], &answer.to_string(), TIP_DELAY);

    let started = Instant::now();
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let posts: Vec<_> = works
            .iter()
            .map(|work| {
                let body = message(&input, work).to_string();
                scope.spawn(move || post(port, Some(TOKEN), &body).0)
            })
            .collect();
        posts.into_iter().map(|p| p.join().expect("post thread")).collect()
    });
    let elapsed = started.elapsed();
    assert_eq!(statuses, [202; MESSAGES]);
    for id in &works {
        let work = opencti.work(id).expect("work");
        assert_eq!((work.status.as_str(), work.in_error), ("complete", Some(false)), "{id}");
    }
    assert_eq!(opencti.pushed().len(), MESSAGES, "one bundle per message");
    assert_eq!(tip.requests().len(), MESSAGES, "one lookup per message");
    (tip.max_concurrent(), elapsed)
}

#[test]
fn concurrency_four_processes_several_messages_at_once_and_the_default_one_at_a_time() {
    let (overlap, elapsed) = post_at_once(4);
    assert_eq!(overlap, MESSAGES, "the four lookups were not in flight together (took {elapsed:?})");
    // The control: the same load with one worker never has two lookups in flight, so the count
    // above measures the setting, not the stand-in.
    let (overlap, serial) = post_at_once(1);
    assert_eq!(overlap, 1);
    assert!(serial >= TIP_DELAY * MESSAGES as u32, "one at a time took only {serial:?}");
    assert!(elapsed < serial, "four workers ({elapsed:?}) were not faster than one ({serial:?})");
}

/// A playbook's message as the platform sends it and pycti reads it: `internal.playbook` with the
/// step's ids (no `execution_start`: pycti takes its own clock), `event.bundle`, no `event_type`.
fn playbook_message(input: &Value, work_id: &str, bundle: &Value) -> Value {
    let entity_id = &input["stix_entity"]["id"];
    json!({
        "internal": {
            "work_id": work_id,
            "applicant_id": null,
            "playbook": {
                "event_id": "1733260000000-0",
                "execution_id": "0f0c8f5e-4a2b-4d6e-9a51-3b7c2d1e9f00",
                "playbook_id": "playbook--7d3a7c1e-2f4b-4b8a-9c0d-5e6f7a8b9c0d",
                "data_instance_id": entity_id,
                "step_id": "b0f2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d",
                "previous_step_id": "a9e8d7c6-b5a4-4392-8170-6f5e4d3c2b1a",
            },
        },
        "event": {
            "entity_id": entity_id,
            "entity_type": input["enrichment_entity"]["entity_type"],
            "bundle": bundle,
        },
    })
}

fn ids(objects: &Value) -> BTreeSet<String> {
    objects.as_array().expect("objects").iter().filter_map(|o| o["id"].as_str().map(str::to_owned)).collect()
}

#[test]
fn a_playbook_gets_the_incoming_bundle_on_success_and_on_a_tip_error() {
    let opencti = opencti(false, no_broker());
    let tip = StandIn::start();
    let port = free_port();
    let mut connector = spawn(&api_env(&opencti, &tip, port));
    wait_listening(port, &mut connector);
    let (name, input, object, answer, expected) = golden().into_iter().next().expect("a golden case");
    // The bundle an earlier playbook step made: the entity and an object of that step's own.
    let earlier = json!({
        "type": "identity",
        "spec_version": "2.1",
        "id": "identity--5b1e0f3a-6c2d-4e8f-9a7b-1c2d3e4f5a6b",
        "name": "Made by an earlier step",
        "identity_class": "organization",
    });
    let incoming = json!({
        "type": "bundle",
        "id": "bundle--3c2b1a09-8f7e-4d6c-b5a4-3928170f6e5d",
        "objects": [input["stix_entity"].clone(), earlier],
    });

    // Success: the incoming objects and the new ones go to the next step, nothing to the queue.
    seed(&opencti, &tip, &input, &object, &answer, "work-playbook-ok");
    let (status, body) = post(port, Some(TOKEN), &playbook_message(&input, "work-playbook-ok", &incoming).to_string());
    assert_eq!(status, 202, "{body}: {}", connector.log_text());
    let work = opencti.work("work-playbook-ok").expect("work");
    assert_eq!(work.in_error, Some(false), "{:?}", work.processed_message);
    let steps = opencti.playbook_steps();
    assert_eq!(steps.len(), 1);
    let step = &steps[0];
    for (key, value) in [
        ("execution_id", "0f0c8f5e-4a2b-4d6e-9a51-3b7c2d1e9f00"),
        ("event_id", "1733260000000-0"),
        ("step_id", "b0f2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d"),
        ("previous_step_id", "a9e8d7c6-b5a4-4392-8170-6f5e4d3c2b1a"),
    ] {
        assert_eq!(step[key], value, "{key}");
    }
    let previous: Value = serde_json::from_str(step["previous_bundle"].as_str().expect("text")).expect("JSON");
    assert_eq!(previous, incoming, "previous_bundle is the incoming bundle");
    let out: Value = serde_json::from_str(step["bundle"].as_str().expect("text")).expect("JSON");
    let out_ids = ids(&out["objects"]);
    assert!(out_ids.is_superset(&ids(&incoming["objects"])), "{name}: an incoming object was dropped");
    let new_ids: BTreeSet<String> =
        ids(&expected["objects"]).into_iter().filter(|id| !id.starts_with("note--")).collect();
    assert!(out_ids.is_superset(&new_ids), "{name}: enriched objects missing: {:?}", new_ids.difference(&out_ids));
    assert!(opencti.pushed().is_empty(), "in a playbook the bundle goes to the next step only");

    // A TIP error (5xx after its retries): the work ends in error, and the next step still gets
    // the incoming bundle as it came.
    opencti.create_work("work-playbook-error");
    tip.force(&object, 500, &[], "{}");
    let (status, _) = post(port, Some(TOKEN), &playbook_message(&input, "work-playbook-error", &incoming).to_string());
    assert_eq!(status, 202);
    let work = opencti.work("work-playbook-error").expect("work");
    assert_eq!(work.in_error, Some(true), "{:?}", work.processed_message);
    let steps = opencti.playbook_steps();
    assert_eq!(steps.len(), 2, "the bundle was not passed on after the error");
    let out: Value = serde_json::from_str(steps[1]["bundle"].as_str().expect("text")).expect("JSON");
    assert_eq!(out["objects"], incoming["objects"], "after an error the incoming objects go on unchanged");
    assert!(opencti.pushed().is_empty());
}

#[test]
fn tip_rate_limits_and_timeouts_end_as_documented() {
    let opencti = opencti(false, no_broker());
    let tip = StandIn::start();
    let port = free_port();
    let mut env = api_env(&opencti, &tip, port);
    env.insert("KASPERSKY_TIMEOUT".into(), "1".into());
    let mut connector = spawn(&env);
    wait_listening(port, &mut connector);
    let (_, input, object, answer, _) = golden().into_iter().next().expect("a golden case");
    let pushed_for = |work: &str| opencti.pushed().iter().filter(|(w, _)| w.as_deref() == Some(work)).count();
    let lookups = || tip.requests().iter().filter(|r| r.object == object).count();

    // 429 with Retry-After that clears: waited out, then the full enrichment.
    seed(&opencti, &tip, &input, &object, &answer, "work-429-clears");
    tip.force(&object, 429, &[("Retry-After", "1")], "{}");
    let status = std::thread::scope(|scope| {
        let body = message(&input, "work-429-clears").to_string();
        let sent = scope.spawn(move || post(port, Some(TOKEN), &body).0);
        wait_for("the first lookup", Duration::from_secs(30), || lookups() >= 1);
        tip.force(&object, 200, &[], &answer.to_string());
        sent.join().expect("post thread")
    });
    assert_eq!(status, 202);
    let work = opencti.work("work-429-clears").expect("work");
    assert_eq!((work.status.as_str(), work.in_error), ("complete", Some(false)), "{:?}", work.processed_message);
    assert_eq!(pushed_for("work-429-clears"), 1);
    assert_eq!(lookups(), 2, "one refused lookup, one after Retry-After");

    // 429 that does not clear: three waits of Retry-After, then the work ends in error naming it.
    opencti.create_work("work-429");
    tip.force(&object, 429, &[("Retry-After", "1")], "{}");
    let before = lookups();
    let started = Instant::now();
    assert_eq!(post(port, Some(TOKEN), &message(&input, "work-429").to_string()).0, 202);
    let work = opencti.work("work-429").expect("work");
    assert_eq!(work.in_error, Some(true));
    let text = work.processed_message.unwrap_or_default();
    assert!(text.contains("HTTP 429"), "{text}");
    assert_eq!(lookups() - before, 4, "the first answer and three retries");
    assert!(started.elapsed() >= Duration::from_secs(3), "Retry-After was not waited for");
    assert_eq!(pushed_for("work-429"), 0);

    // A Retry-After beyond the 30 s cap is reported at once, not waited for.
    opencti.create_work("work-429-long");
    tip.force(&object, 429, &[("Retry-After", "3600")], "{}");
    let before = lookups();
    assert_eq!(post(port, Some(TOKEN), &message(&input, "work-429-long").to_string()).0, 202);
    let work = opencti.work("work-429-long").expect("work");
    assert_eq!(work.in_error, Some(true));
    assert!(work.processed_message.unwrap_or_default().contains("HTTP 429"));
    assert_eq!(lookups() - before, 1);

    // No answer within KASPERSKY_TIMEOUT: the work ends in error saying so, nothing sent.
    opencti.create_work("work-timeout");
    tip.force_with_delay(&object, 200, &[], &answer.to_string(), Duration::from_secs(3));
    assert_eq!(post(port, Some(TOKEN), &message(&input, "work-timeout").to_string()).0, 202);
    let work = opencti.work("work-timeout").expect("work");
    assert_eq!(work.in_error, Some(true));
    let text = work.processed_message.unwrap_or_default();
    assert!(text.contains("No answer from Kaspersky TIP within 1 s"), "{text}");
    assert!(!text.contains(TIP_TOKEN));
    assert_eq!(pushed_for("work-timeout"), 0);
    assert!(!connector.log_text().contains(TIP_TOKEN));
}
