//! Many jobs at once on one token folder with an expired access token: one refresh, nothing lost.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use serde_json::Value;
use test_support::{Fault, Sandbox};

use crate::support::{Job, Run, SEND, sandbox};

const JOBS: usize = 32;

/// Starts `JOBS` processes at once, each on its own job folder and log id, all on `job`'s token folder.
fn run_all(job: &Job) -> Vec<Run> {
    let started = Instant::now();
    let runs: Vec<Run> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..JOBS)
            .map(|i| {
                let mut input = job.input.clone();
                input["data"]["_id"] = format!("~concurrent-{i}").into();
                let root = tempfile::tempdir().unwrap();
                s.spawn(move || Job { root, input }.run(SEND))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(started.elapsed() < Duration::from_secs(30), "{JOBS} jobs took {:?}", started.elapsed());
    runs
}

/// The `sub` claim (client id + session) of a sandbox JWT.
fn session_of(token: &str) -> String {
    use base64::Engine;
    let payload = token.split('.').nth(1).unwrap();
    let claims: Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    claims["sub"].as_str().unwrap().to_owned()
}

fn expired_job(mdr: &Sandbox) -> (Job, test_support::TokenPair) {
    let job = Job::on("th4/input_case_task_log.json", mdr);
    let old = mdr.write_token_dir(&job.token_dir(), -10).unwrap();
    (job, old)
}

#[test]
fn thirty_two_jobs_with_an_expired_token_refresh_exactly_once() {
    let mdr = sandbox(false);
    let (job, old) = expired_job(&mdr);
    let runs = run_all(&job);
    for run in &runs {
        run.assert_success();
        run.assert_no_secret(&[&old.access_token, &old.refresh_token]);
    }
    assert_eq!(mdr.calls("session/confirm").len(), 1, "one refresh for all jobs");
    assert_eq!(mdr.calls("comments/create").len(), JOBS);
    assert!(mdr.calls("comments/create").iter().all(|c| c.bearer == test_support::BearerState::Valid));

    // The token files hold the pair the single refresh returned: unspent refresh token, and the
    // access token of the same session.
    let (access, refresh) = (job.token_file(".access_token"), job.token_file(".refresh_token"));
    assert!(mdr.refresh_token_usable(&refresh), "the newest refresh token is on disk");
    assert!(!mdr.refresh_token_usable(&old.refresh_token), "the old one was spent");
    assert_ne!(access, old.access_token);
    assert_eq!(session_of(&access), session_of(&refresh), "access and refresh token come from one pair");
    let leftovers: Vec<String> = std::fs::read_dir(job.token_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn thirty_two_jobs_with_a_refused_refresh_all_fail_and_keep_the_refresh_token() {
    let mdr = sandbox(false);
    let (job, old) = expired_job(&mdr);
    // MDR refuses every refresh (e.g. revoked in the console, then re-enabled) without consuming it.
    mdr.inject("session/confirm", Fault::Status(403, r#"{"message": "refresh token revoked"}"#.to_owned()), JOBS);
    let runs = run_all(&job);
    for run in &runs {
        let message = run.assert_error();
        assert!(
            message
                .starts_with("MDR refused the refresh token from the token folder (HTTP 403: refresh token revoked)")
                && message.contains("`.refresh_token`"),
            "{message}"
        );
        run.assert_no_secret(&[&old.access_token, &old.refresh_token]);
    }
    assert!(mdr.calls("comments/create").is_empty() && mdr.calls("comments/list").is_empty());
    assert_eq!(mdr.calls("session/confirm").len(), JOBS, "each job tried once, under the lock");
    assert_eq!(job.token_file(".refresh_token"), old.refresh_token, "the refresh token on disk is untouched");
    assert_eq!(job.token_file(".access_token"), old.access_token);
    assert!(mdr.refresh_token_usable(&old.refresh_token), "nothing was consumed");

    // Once MDR accepts it again, the next job refreshes with that same token and succeeds.
    let next = Job { root: tempfile::tempdir().unwrap(), input: job.input.clone() };
    next.run(SEND).assert_success();
    assert!(!mdr.refresh_token_usable(&old.refresh_token));
    assert!(mdr.refresh_token_usable(&job.token_file(".refresh_token")));
}
