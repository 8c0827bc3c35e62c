//! Responder jobs beside a stand-in of the MDR Integration Utility's token updater on one token
//! folder (issue #11): the utility takes no lock, writes in place and, when its exchange fails,
//! writes back the refresh token it had read. Whatever the interleaving, and wherever the utility is
//! killed, every job succeeds and the folder ends with a refresh token MDR accepts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc::{Receiver, channel};
use std::time::Duration;

use test_support::{Sandbox, TokenPair};

use crate::support::{Job, SEND, sandbox};

const JOBS: usize = 32;
/// The utility stand-in sends Python `requests`' User-Agent; the MDR stand-in holds only its calls.
const UTILITY_AGENT: &str = "python-requests";
const WAIT: Duration = Duration::from_secs(20);

/// The stand-in is a binary of test-support, which Cargo does not build for this package's tests.
fn utility_bin() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        test_support::cortex::workspace_binary("test-support", "utility-token-updater", Path::new(SEND)).unwrap()
    })
}

/// A running utility stand-in and the lines of its stderr.
struct Utility {
    child: Child,
    lines: Receiver<String>,
}

/// A test that fails must not leave a paused utility sleeping for ever.
impl Drop for Utility {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Utility {
    fn start(mdr: &Sandbox, job: &Job, args: &[&str]) -> Utility {
        let mut child = Command::new(utility_bin())
            .arg("--token-dir")
            .arg(job.token_dir())
            .args(["--api-url", &mdr.api_url(), "--client-id", mdr.client_id()])
            .args(args)
            .stdin(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, lines) = channel();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        Utility { child, lines }
    }

    /// Waits for a stderr line containing `text`.
    fn wait_line(&self, text: &str) {
        loop {
            let line = self.lines.recv_timeout(WAIT).unwrap_or_else(|_| panic!("no line with {text:?}"));
            if line.contains(text) {
                return;
            }
        }
    }

    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    fn wait(mut self) {
        assert!(self.child.wait().unwrap().success());
    }
}

/// A job whose access token has expired, on a folder holding only the public pair (R0).
fn expired_job(mdr: &Sandbox) -> (Job, TokenPair) {
    let job = Job::on("th4/input_case_task_log.json", mdr);
    let old = mdr.write_token_dir(&job.token_dir(), -10).unwrap();
    (job, old)
}

fn run_job(job: &Job, folder: &str) {
    job.run_in(SEND, folder).assert_success();
}

/// After the utility is gone: later jobs succeed, and the folder holds a live refresh token, which
/// one more cycle of the utility (forced to refresh) exchanges successfully.
fn assert_recovered(mdr: &Sandbox, job: &Job) {
    for i in 0..3 {
        run_job(job, &format!("later-{i}"));
    }
    let refresh = job.token_file(".refresh_token");
    assert!(mdr.refresh_token_usable(&refresh), "the public refresh token is live");
    let access = job.token_file(".access_token");
    Utility::start(mdr, job, &["--once", "--timeout", "7200"]).wait();
    assert_ne!(job.token_file(".refresh_token"), refresh, "the utility refreshed");
    assert_ne!(job.token_file(".access_token"), access);
    assert!(!job.token_file(".access_token").is_empty(), "the utility's exchange succeeded");
    assert!(mdr.refresh_token_usable(&job.token_file(".refresh_token")));
    run_job(job, "after-utility");
}

/// Steps 1-2 of the issue: the utility has read R0 and its exchange is held; a job refreshes R0.
fn utility_held_while_a_job_refreshes(mdr: &Sandbox, job: &Job, args: &[&str]) -> Utility {
    mdr.hold("session/confirm", UTILITY_AGENT);
    let utility = Utility::start(mdr, job, &[&["--once"], args].concat());
    assert_eq!(mdr.wait_held(1, WAIT), 1, "the utility's exchange is held");
    run_job(job, "job");
    utility
}

#[test]
fn a_spent_token_written_back_by_the_utility_does_not_lock_jobs_out() {
    let mdr = sandbox(false);
    let (job, old) = expired_job(&mdr);
    let utility = utility_held_while_a_job_refreshes(&mdr, &job, &[]);
    assert!(!mdr.refresh_token_usable(&old.refresh_token), "the job spent R0");
    mdr.release();
    utility.wait();
    // Step 3 really happened: MDR refused R0 and the utility wrote '' and R0 back.
    assert_eq!(job.token_file(".access_token"), "");
    assert_eq!(job.token_file(".refresh_token"), old.refresh_token);
    assert_recovered(&mdr, &job);
}

#[test]
fn the_utility_killed_before_its_exchange() {
    let mdr = sandbox(false);
    let (job, _) = expired_job(&mdr);
    let utility = Utility::start(&mdr, &job, &["--once", "--pause-at", "before-exchange"]);
    utility.wait_line("paused at");
    run_job(&job, "job");
    utility.kill();
    assert_recovered(&mdr, &job);
}

#[test]
fn the_utility_killed_during_its_exchange() {
    let mdr = sandbox(false);
    let (job, _) = expired_job(&mdr);
    let utility = utility_held_while_a_job_refreshes(&mdr, &job, &[]);
    utility.kill();
    mdr.release();
    assert_recovered(&mdr, &job);
}

#[test]
fn the_utility_killed_after_its_refused_exchange() {
    let mdr = sandbox(false);
    let (job, _) = expired_job(&mdr);
    let utility = utility_held_while_a_job_refreshes(&mdr, &job, &["--pause-at", "after-exchange"]);
    mdr.release();
    utility.wait_line("paused at");
    utility.kill();
    assert_recovered(&mdr, &job);
}

#[test]
fn the_utility_killed_between_its_two_writes() {
    let mdr = sandbox(false);
    let (job, _) = expired_job(&mdr);
    let utility = utility_held_while_a_job_refreshes(&mdr, &job, &["--pause-at", "between-writes"]);
    mdr.release();
    utility.wait_line("paused at");
    utility.kill();
    assert_eq!(job.token_file(".access_token"), "", "killed after truncating the access token");
    assert_recovered(&mdr, &job);
}

#[test]
fn thirty_two_jobs_beside_a_utility_refreshing_every_cycle() {
    let mdr = sandbox(false);
    let (job, _) = expired_job(&mdr);
    // Refreshes on every cycle (margin longer than the access token's life), writing in place.
    let utility = Utility::start(&mdr, &job, &["--period", "0.05", "--timeout", "7200", "--cycles", "40"]);
    let shared = &job;
    std::thread::scope(|s| {
        let handles: Vec<_> =
            (0..JOBS).map(|i| s.spawn(move || shared.run_in(SEND, &format!("concurrent-{i}")))).collect();
        for handle in handles {
            handle.join().unwrap().assert_success();
        }
    });
    utility.wait();
    assert_recovered(&mdr, &job);
}
