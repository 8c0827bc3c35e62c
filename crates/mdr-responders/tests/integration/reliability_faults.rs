//! Whole responders under MDR faults: the error document names what happened, and running again is
//! safe (the client's own fault handling is tested in mdr-api).
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use test_support::{Fault, Sandbox};

use crate::support::{CLOSE, CREATE, Job, SEND, sandbox};

/// The `timeout` item used here: one request may take 1 s, retries stop after 2 s.
const TIMEOUT_SECS: u64 = 1;
/// The longest a run may take: the retry budget, plus one last request, plus slack for a busy machine.
const DEADLINE: Duration = Duration::from_millis(2 * 1000 * TIMEOUT_SECS + 1000 * TIMEOUT_SECS + 1500);

/// The stand-in journals a delayed request once it has answered it: wait for that.
fn await_journal(mdr: &Sandbox, endpoint: &str) {
    let until = Instant::now() + Duration::from_secs(5);
    while mdr.calls(endpoint).is_empty() && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn job_with_timeout(mdr: &Sandbox, fixture_name: &str) -> Job {
    Job::on(fixture_name, mdr).with_config("timeout", TIMEOUT_SECS)
}

#[test]
fn a_comment_that_timed_out_is_found_on_the_next_click_not_posted_twice() {
    let mdr = sandbox(false);
    let job = job_with_timeout(&mdr, "th4/input_case_task_log.json");
    mdr.inject("comments/create", Fault::Delay(Duration::from_millis(2500)), 1);
    let started = Instant::now();
    let run = job.run(SEND);
    let message = run.assert_error();
    assert!(started.elapsed() < DEADLINE, "{:?}", started.elapsed());
    assert_eq!(
        message,
        "MDR API comments/create did not answer within 1 s (the request may have reached MDR: running the responder \
         again is safe, it checks before re-sending)"
    );
    std::thread::sleep(Duration::from_millis(1800)); // the stand-in finishes the slow request
    let full = job.run(SEND).assert_success().clone();
    assert_eq!(full["already_sent"], true);
    assert_eq!(mdr.calls("comments/create").len(), 1);
}

#[test]
fn a_failed_incident_creation_is_not_retried() {
    let mdr = sandbox(false);
    let mut job = job_with_timeout(&mdr, "th4/input_case.json");
    let fields = job.input["data"]["customFields"].as_object_mut().unwrap();
    fields.remove("mdr-incident-id");
    job.input["data"]["tags"] = json!(["host:HOST-01"]);
    for fault in [Fault::Status(502, "{}".to_owned()), Fault::Drop, Fault::Html(503)] {
        mdr.clear_journal();
        mdr.inject("incidents/create", fault.clone(), 1);
        let message = job.run(CREATE).assert_error();
        // A dropped connection or a gateway error leaves the outcome unknown: the next run looks in MDR first.
        let expected = match fault {
            Fault::Drop | Fault::Status(502, _) => {
                "MDR may have created the incident but did not answer clearly (MDR API incidents/create"
            }
            _ => "MDR API incidents/create",
        };
        assert!(message.starts_with(expected), "{fault:?}: {message}");
        assert_eq!(mdr.calls("incidents/create").len(), 1, "{fault:?}");
    }
}

#[test]
fn a_refresh_that_fails_on_the_server_keeps_the_refresh_token() {
    let mdr = sandbox(false);
    let job = job_with_timeout(&mdr, "th4/input_case.json");
    for fault in [
        Fault::Status(500, "{}".to_owned()),
        Fault::StatusRetryAfter(503, 1),
        Fault::Html(502),
        Fault::InvalidJson,
        Fault::Delay(Duration::from_millis(1500)),
    ] {
        let old = mdr.write_token_dir(&job.token_dir(), -10).unwrap();
        mdr.clear_journal();
        mdr.inject("session/confirm", fault.clone(), 1);
        let run = job.run(CLOSE);
        if matches!(fault, Fault::Delay(_)) {
            await_journal(&mdr, "session/confirm");
        }
        let message = run.assert_error();
        assert!(message.starts_with("MDR API session/confirm"), "{fault:?}: {message}");
        assert_eq!(mdr.calls("session/confirm").len(), 1, "{fault:?}: the refresh token is never sent twice");
        run.assert_no_secret(&[&old.access_token, &old.refresh_token]);
        // After a timeout MDR may have spent it (the stand-in does, once its delay is over); else it is kept.
        if !matches!(fault, Fault::Delay(_)) {
            assert_eq!(job.token_file(".refresh_token"), old.refresh_token, "{fault:?}");
            assert!(mdr.refresh_token_usable(&old.refresh_token), "{fault:?}");
        }
    }
    mdr.write_token_dir(&job.token_dir(), -10).unwrap();
    let _: Value = job.run(CLOSE).assert_success().clone();
}
