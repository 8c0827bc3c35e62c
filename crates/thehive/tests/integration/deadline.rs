//! The TheHive client's retries against its deadline, on the TheHive stand-in: a client kept for
//! longer than its retry budget (as `mdr-sync` keeps one for the life of the process) still
//! retries a transient 503 on a read; a job's client stops retrying at the job's deadline.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use cortex_http::{Deadline, HttpConfig, HttpSettings, HttpUrl, RETRY_BUDGET_TIMEOUTS};
use safekeeping::Secret;
use test_support::{Fault, TheHiveOptions, TheHiveSandbox, TheHiveVersion};
use thehive::client::{TheHiveClient, TheHiveSettings};
use thehive::{Naming, TheHiveError};

const TIMEOUT: Duration = Duration::from_secs(1);
const STATUS: &str = "GET /api/v1/status";

fn client(hive: &TheHiveSandbox, deadline: Deadline) -> TheHiveClient {
    let settings = TheHiveSettings {
        url: HttpUrl::parse(&hive.url()).unwrap(),
        api_key: Secret::new(hive.api_key().to_owned()),
        organisation: None,
        version: None,
        attachment_max_bytes: 1_000_000,
    };
    let http = HttpConfig::new(&HttpSettings::default(), TIMEOUT, "thehive-tests").with_deadline(deadline);
    TheHiveClient::new(settings, &http, &Naming::RESPONDER).unwrap()
}

fn gateway() -> Fault {
    Fault::Status(503, r#"{"message": "upstream hiccup"}"#.to_owned())
}

#[test]
fn a_client_used_longer_than_its_budget_still_retries_a_read_and_a_job_stops_at_its_deadline() {
    let hive = TheHiveSandbox::start(TheHiveOptions::new(TheHiveVersion::V5)).unwrap();
    let daemon = client(&hive, Deadline::per_request());
    let job = client(&hive, Deadline::for_job(TIMEOUT));
    std::thread::sleep(TIMEOUT * RETRY_BUDGET_TIMEOUTS + Duration::from_millis(300));

    hive.inject(STATUS, gateway(), 1);
    let before = hive.calls(STATUS).len();
    daemon.version().unwrap();
    assert_eq!(hive.calls(STATUS).len() - before, 2, "the daemon's read was retried as in its first minute");

    hive.inject(STATUS, gateway(), 1);
    let before = hive.calls(STATUS).len();
    let error = job.version().unwrap_err();
    assert!(matches!(error, TheHiveError::Status { status: 503, .. }), "{error}");
    assert_eq!(hive.calls(STATUS).len() - before, 1, "past the job's deadline nothing is retried");
}
