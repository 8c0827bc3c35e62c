//! A job killed (SIGKILL) at any moment never leaves a torn or empty token file or output file:
//! each is either the old complete file, the new complete file, or (output only) absent.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use mdr_api::token::jwt_expiry;
use serde_json::Value;
use test_support::{Fault, Sandbox};

use crate::support::{Job, SEND, cortex_command, sandbox};

/// A token file must hold one whole JWT: three segments and a readable `exp`.
fn assert_whole_token(dir: &Path, name: &str, context: &str) {
    let text = std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{context}: {name}: {e}"));
    assert!(!text.trim().is_empty(), "{context}: {name} is empty");
    assert_eq!(text.split('.').count(), 3, "{context}: {name} is not a whole JWT");
    assert!(jwt_expiry(text.trim()).is_some(), "{context}: {name} is torn");
}

/// `output/output.json` is absent (killed before the end) or a whole Cortex document.
fn assert_output_whole_or_absent(job_dir: &Path, context: &str) -> bool {
    match std::fs::read(job_dir.join("output/output.json")) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) => panic!("{context}: {e}"),
        Ok(bytes) => {
            let doc: Value = serde_json::from_slice(&bytes)
                .unwrap_or_else(|e| panic!("{context}: torn output.json ({e}): {}", String::from_utf8_lossy(&bytes)));
            assert!(doc["success"].is_boolean(), "{context}: {doc}");
            true
        }
    }
}

/// Runs the job once, killing it `kill_after` after the start (None: let it finish). Returns the
/// time it took when it was not killed.
fn run_and_kill(job: &Job, folder: &str, kill_after: Option<Duration>) -> Duration {
    let dir = job.root.path().join(folder);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("input")).unwrap();
    std::fs::create_dir_all(dir.join("output")).unwrap();
    std::fs::write(dir.join("input/input.json"), serde_json::to_vec(&job.input).unwrap()).unwrap();
    let started = Instant::now();
    let mut child = cortex_command(SEND).arg(&dir).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    match kill_after {
        Some(after) => {
            std::thread::sleep(after);
            let _ = child.kill(); // SIGKILL; fails only if it already exited
            child.wait().unwrap();
        }
        None => assert!(child.wait().unwrap().success()),
    }
    started.elapsed()
}

/// Kills the job at `steps` points spread over its whole run, each time from an expired access
/// token (so the refresh and both token writes are inside the window), with `delays` injected.
fn kill_everywhere(mdr: &Sandbox, job: &Job, delays: &[(&str, Duration)], steps: u32) {
    let prepare = |i: u32| {
        mdr.write_token_dir(&job.token_dir(), -10).unwrap();
        for (endpoint, delay) in delays {
            mdr.inject(endpoint, Fault::Delay(*delay), 1);
        }
        let mut input = job.input.clone();
        input["data"]["_id"] = format!("~crash-{i}").into();
        Job { root: tempfile::tempdir().unwrap(), input }
    };
    let full = run_and_kill(&prepare(steps), "job", None);
    let mut completed = 0;
    for i in 0..steps {
        let single = prepare(i);
        let kill_after = full.mul_f64(f64::from(i) / f64::from(steps)) + Duration::from_micros(u64::from(i % 7) * 150);
        run_and_kill(&single, "job", Some(kill_after));
        let context = format!("killed after {kill_after:?} (a full run takes {full:?})");
        assert_whole_token(&job.token_dir(), ".access_token", &context);
        assert_whole_token(&job.token_dir(), ".refresh_token", &context);
        completed += usize::from(assert_output_whole_or_absent(&single.root.path().join("job"), &context));
    }
    assert!(completed < steps as usize, "every job finished before the kill: the test killed nothing");
}

#[test]
fn killed_during_a_slow_refresh_and_a_slow_post() {
    let mdr = sandbox(false);
    let job = Job::on("th4/input_case_task_log.json", &mdr);
    let slow = [("session/confirm", Duration::from_millis(150)), ("comments/create", Duration::from_millis(150))];
    kill_everywhere(&mdr, &job, &slow, 16);
}

#[test]
fn killed_at_any_point_of_a_fast_job() {
    let mdr = sandbox(false);
    let job = Job::on("th4/input_case_task_log.json", &mdr);
    kill_everywhere(&mdr, &job, &[], 40);
}

#[test]
fn a_job_killed_while_holding_the_token_lock_does_not_block_the_next() {
    let mdr = sandbox(false);
    let job = Job::on("th4/input_case_task_log.json", &mdr);
    mdr.write_token_dir(&job.token_dir(), -10).unwrap();
    // The refresh hangs with the lock held; the kernel releases the lock when the process dies.
    mdr.inject("session/confirm", Fault::Delay(Duration::from_secs(2)), 1);
    let started = Instant::now();
    run_and_kill(&job, "killed", Some(Duration::from_millis(400)));
    mdr.write_token_dir(&job.token_dir(), -10).unwrap();
    job.run_in(SEND, "next").assert_success();
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
}
