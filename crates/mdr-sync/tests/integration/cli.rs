//! The `mdr-sync` binary: `--check`, `--once`, `--interval` stopping cleanly on SIGTERM, and
//! SIGKILL at every TheHive write of a pass converging without duplicates.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;

use test_support::{Fault, Sandbox, SandboxOptions, Seed, TheHiveOptions, TheHiveSandbox, TheHiveVersion};

const BIN: &str = env!("CARGO_BIN_EXE_mdr-sync");

fn setup(dir: &Path, thehive_url: &str, key: &str, mdr: &Sandbox) -> PathBuf {
    std::fs::create_dir_all(dir.join("conf")).unwrap();
    mdr.write_token_dir(&dir.join("conf"), 3600).unwrap();
    let yaml = format!(
        "api_url: {}\nclient_id: {}\nthehive:\n  api_url: {thehive_url}\n  api_key: {key}\n",
        mdr.api_url(),
        mdr.client_id()
    );
    let path = dir.join("conf/config.yml");
    std::fs::write(&path, yaml).unwrap();
    path
}

fn start() -> (Sandbox, TheHiveSandbox, tempfile::TempDir) {
    let mdr = Sandbox::start(SandboxOptions::new(Seed::default_demo())).unwrap();
    let hive = TheHiveSandbox::start(TheHiveOptions::new(TheHiveVersion::V5)).unwrap();
    (mdr, hive, tempfile::tempdir().unwrap())
}

#[test]
fn check_reaches_both_apis_and_names_what_fails() {
    let (mdr, hive, dir) = start();
    let config = setup(dir.path(), &hive.url(), hive.api_key(), &mdr);
    let out = Command::new(BIN).args(["--config", config.to_str().unwrap(), "--check"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("TheHive") && stderr.contains("reached (V5)"), "{stderr}");
    assert_eq!(hive.journal().iter().filter(|e| !e.endpoint.starts_with("GET")).count(), 0, "--check writes nothing");

    let config = setup(dir.path(), &hive.url(), "SENTINEL-wrong-key", &mdr);
    let out = Command::new(BIN).args(["--config", config.to_str().unwrap(), "--check"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("HTTP 401") && stderr.contains("`thehive.api_key`"), "{stderr}");
    assert!(!stderr.contains("SENTINEL"), "{stderr}");

    std::fs::write(&config, "client_id: x\n").unwrap();
    let out = Command::new(BIN).args(["--config", config.to_str().unwrap(), "--once"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("`thehive.api_url` is missing"));
}

#[test]
fn check_refuses_typos_and_wrong_types_naming_the_key_and_accepts_the_utilitys_sections() {
    let (mdr, hive, dir) = start();
    let config = setup(dir.path(), &hive.url(), hive.api_key(), &mdr);
    let base = std::fs::read_to_string(&config).unwrap();
    let check = |extra: &str| {
        std::fs::write(&config, format!("{base}{extra}")).unwrap();
        let out = Command::new(BIN).args(["--config", config.to_str().unwrap(), "--check"]).output().unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    // The utility's own keys and sections (its later sample config.yml) are accepted as they are.
    let utility = "  period: 60\n  modules: {incident: {enable: false, timeout: 60}}\ndata_dir: data\n\
        token_updater: {timeout: 590}\nmdr_sync:\n  period: 60\n  modules:\n    incident: {enable: true, timeout: 60}\n    \
        asset: {enable: true, output_format: json, filter: {statuses: [OK]}}\nkuma: {api_url: 'https://192.0.2.1:7223'}\n\
        event_sender: {destination_host: 192.0.2.1, protocol: tcp}\nlogging: {log_dir: log, log_level: DEBUG}\n";
    let (code, stderr) = check(utility);
    assert_eq!(code, Some(0), "{stderr}");
    let requests = (mdr.journal().len(), hive.journal().len());

    let shown = config.display();
    for (extra, expected) in [
        (
            "mdr_sync:\n  max_incident_at_time: 2\n",
            format!("{shown}: unknown key `mdr_sync.max_incident_at_time`: did you mean `max_incidents_at_time`?"),
        ),
        (
            "mdr-sync:\n  filter:\n    incidents:\n      statuses: [Open]\n",
            format!("{shown}: unknown key `mdr-sync`: did you mean `mdr_sync`?"),
        ),
        (
            "mdr_sync:\n  filter:\n    incidents:\n      statuses: Open\n",
            format!(
                "{shown}: mdr_sync.filter.incidents.statuses: invalid type: string \"Open\", expected a list such as [Open]"
            ),
        ),
        ("  organization: SOC\n", format!("{shown}: unknown key `thehive.organization`: did you mean `organisation`?")),
        ("client-id: c\n", format!("{shown}: unknown key `client-id`: did you mean `client_id`?")),
        (
            "mdr_sync:\n  modules:\n    incident:\n      filter: {priority: [HIGH]}\n",
            format!("{shown}: unknown key `mdr_sync.modules.incident.filter.priority`: did you mean `priorities`?"),
        ),
        (
            "mdr_sync:\n  max_incidents_at_time: ten\n",
            format!("{shown}: mdr_sync.max_incidents_at_time: invalid value: string \"ten\", expected a whole number"),
        ),
    ] {
        let (code, stderr) = check(extra);
        assert_eq!(code, Some(2), "{extra:?}: {stderr}");
        assert!(stderr.contains(&expected), "{extra:?}: expected {expected:?} in {stderr}");
    }
    assert_eq!((mdr.journal().len(), hive.journal().len()), requests, "a refused configuration calls nothing");
}

#[test]
fn once_makes_one_pass_and_logs_each_action() {
    let (mdr, hive, dir) = start();
    let config = setup(dir.path(), &hive.url(), hive.api_key(), &mdr);
    let out = Command::new(BIN).args(["--config", config.to_str().unwrap(), "--once"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.lines().any(|l| l.contains("created case")), "{stderr}");
    assert!(stderr.lines().any(|l| l.contains("created Response task")), "{stderr}");
    let tokens =
        [".access_token", ".refresh_token"].map(|f| std::fs::read_to_string(dir.path().join("conf").join(f)).unwrap());
    for token in tokens.iter().chain([&hive.api_key().to_owned()]) {
        assert!(!stderr.contains(token.as_str()), "a secret in the log");
    }
}

#[test]
fn interval_loop_stops_on_sigterm_after_the_current_pass() {
    let (mdr, hive, dir) = start();
    let config = setup(dir.path(), &hive.url(), hive.api_key(), &mdr);
    let mut child = Command::new(BIN)
        .args(["--config", config.to_str().unwrap(), "--interval", "3600"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    // Wait for the first pass to finish, then ask the process to stop during its long sleep.
    let mut lines = Vec::new();
    while !lines.iter().any(|l: &String| l.contains("pass done")) {
        lines.push(rx.recv().unwrap());
    }
    let killed = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    lines.extend(rx.iter());
    assert_eq!(status.code(), Some(0), "{lines:?}");
    assert_eq!(lines.last().map(String::as_str), Some("mdr-sync: stopped"), "{lines:?}");
}

#[test]
fn sigterm_during_a_pass_finishes_the_current_incident_only() {
    let (mdr, hive, dir) = start();
    let config = setup(dir.path(), &hive.url(), hive.api_key(), &mdr);
    // The first incident's case lookup is slow: the signal arrives while it is being handled.
    hive.inject("POST /api/v1/query", Fault::Delay(std::time::Duration::from_millis(1500)), 1);
    let child = Command::new(BIN)
        .args(["--config", config.to_str().unwrap(), "--interval", "3600"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    while mdr.calls("incidents/list").is_empty() {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains(
            "pass done: 1 incident(s) handled, 0 parked retried, 0 failed, 0 parked; stopped before the next incident"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("created case"), "the current incident was finished: {stderr}");
}

/// TheHive writes the stand-in has answered (its journal records a request once answered).
fn hive_writes(hive: &TheHiveSandbox) -> usize {
    hive.journal().iter().filter(|e| !e.endpoint.starts_with("GET") && !e.endpoint.contains("query")).count()
}

/// The counts that must never exceed one: cases per incident id, tasks per (case, title and
/// description), logs per (task, message).
fn duplicates(hive: &TheHiveSandbox) -> Vec<String> {
    let (cases, tasks, logs) = hive.records();
    let mut seen = std::collections::HashMap::<String, usize>::new();
    for case in &cases {
        let fields = case["customFields"].to_string();
        *seen.entry(format!("case {fields}")).or_default() += 1;
    }
    for task in &tasks {
        *seen.entry(format!("task {} {} {}", task["case"], task["title"], task["description"])).or_default() += 1;
    }
    for log in &logs {
        *seen.entry(format!("log {} {}", log["task"], log["message"])).or_default() += 1;
    }
    seen.into_iter().filter(|(_, n)| *n > 1).map(|(k, n)| format!("{n}x {k}")).collect()
}

#[test]
fn two_passes_at_once_create_each_case_once() {
    // A cron pass starting while a slow one still runs: without a lock both would find the new
    // incidents caseless and create them twice.
    let (mdr, hive, dir) = start();
    let config = setup(dir.path(), &hive.url(), hive.api_key(), &mdr);
    hive.inject("POST /api/v1/case", Fault::Delay(std::time::Duration::from_millis(300)), 100);
    let spawn = || {
        Command::new(BIN).args(["--config", config.to_str().unwrap(), "--once"]).stderr(Stdio::piped()).spawn().unwrap()
    };
    let first = spawn();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while hive.journal().is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let second = spawn().wait_with_output().unwrap();
    let second_log = String::from_utf8_lossy(&second.stderr);
    assert!(second.status.success(), "{second_log}");
    assert!(second_log.contains("pass skipped: another mdr-sync pass holds"), "{second_log}");
    let first = first.wait_with_output().unwrap();
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    assert_eq!(duplicates(&hive), Vec::<String>::new());
    assert!(hive.records().0.len() >= 2, "the first pass mirrored the seed");
}

#[test]
fn sigkill_at_any_write_converges_with_nothing_duplicated_or_skipped() {
    // A clean run gives the reference: what a pass writes when nothing goes wrong.
    let (mdr, hive, dir) = start();
    let config = setup(dir.path(), &hive.url(), hive.api_key(), &mdr);
    let run =
        |config: &Path| Command::new(BIN).args(["--config", config.to_str().unwrap(), "--once"]).output().unwrap();
    assert!(run(&config).status.success());
    let (cases, tasks, logs) = hive.records();
    let reference = (cases.len(), tasks.len(), logs.len());
    let total_writes = hive_writes(&hive);
    assert!(total_writes >= 5, "the demo seed gives a pass worth interrupting: {total_writes} writes");

    let mut interrupted = 0;
    for kill_after in 0..total_writes {
        let (mdr, hive, dir) = start();
        let config = setup(dir.path(), &hive.url(), hive.api_key(), &mdr);
        // Slow writes, so that the kill lands while one is in flight: the stand-in still applies
        // it after the process is gone, as a real server would.
        for endpoint in ["POST /api/v1/case", "POST /api/v1/case/task", "POST /api/v1/task/log", "PATCH /api/v1/task"] {
            hive.inject(endpoint, Fault::Delay(std::time::Duration::from_millis(40)), 100);
        }
        let mut child = Command::new(BIN)
            .args(["--config", config.to_str().unwrap(), "--once"])
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while hive_writes(&hive) < kill_after && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        child.kill().unwrap();
        child.wait().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(60)); // let an in-flight write land
        let (cases, tasks, logs) = hive.records();
        interrupted += usize::from((cases.len(), tasks.len(), logs.len()) != reference);

        let again = run(&config);
        assert!(
            again.status.success(),
            "after a kill at write {kill_after}: {}",
            String::from_utf8_lossy(&again.stderr)
        );
        let (cases, tasks, logs) = hive.records();
        assert_eq!((cases.len(), tasks.len(), logs.len()), reference, "killed after write {kill_after}");
        assert_eq!(duplicates(&hive), Vec::<String>::new(), "killed after write {kill_after}");
        let writes = hive_writes(&hive);
        assert!(run(&config).status.success());
        assert_eq!(hive_writes(&hive), writes, "converged: the next pass writes nothing (kill at {kill_after})");
    }
    assert!(interrupted * 2 >= total_writes, "most kills must land mid-pass: {interrupted} of {total_writes}");
}

#[test]
fn check_trusts_a_pinned_self_signed_thehive_certificate_and_refuses_another() {
    let names = vec!["127.0.0.1".to_owned(), "localhost".to_owned()];
    let start_tls = || {
        let mut options = TheHiveOptions::new(TheHiveVersion::V5);
        options.tls = true;
        options.tls_cert = test_support::TlsCert::SelfSigned(names.clone());
        TheHiveSandbox::start(options).unwrap()
    };
    let mdr = Sandbox::start(SandboxOptions::new(Seed::default_demo())).unwrap();
    let (hive, other) = (start_tls(), start_tls());
    let dir = tempfile::tempdir().unwrap();
    let pem = dir.path().join("thehive.pem");
    std::fs::write(&pem, hive.ca_pem().unwrap()).unwrap();
    let check = |url: &str| {
        let config = setup(dir.path(), url, hive.api_key(), &mdr);
        let yaml = std::fs::read_to_string(&config).unwrap();
        let yaml = yaml.replace("thehive:\n", &format!("thehive:\n  ssl_cert: {}\n", pem.display()));
        std::fs::write(&config, yaml).unwrap();
        Command::new(BIN).args(["--config", config.to_str().unwrap(), "--check"]).output().unwrap()
    };
    let out = check(&hive.url());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = check(&other.url());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("TheHive"), "{stderr}");
}

#[test]
fn check_needs_the_incident_field_in_thehive_and_names_the_key_to_fix() {
    for version in [TheHiveVersion::V4, TheHiveVersion::V5] {
        let mdr = Sandbox::start(SandboxOptions::new(Seed::default_demo())).unwrap();
        let mut options = TheHiveOptions::new(version);
        options.custom_fields = vec!["soc-mdr-ref".to_owned()];
        let hive = TheHiveSandbox::start(options).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let config = setup(dir.path(), &hive.url(), hive.api_key(), &mdr);
        let check = || Command::new(BIN).args(["--config", config.to_str().unwrap(), "--check"]).output().unwrap();

        // The default field is not defined in this TheHive.
        let out = check();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("API key accepted"), "{stderr}");
        assert!(
            stderr.contains("TheHive has no case custom field `mdr-incident-id` (`thehive.incident_custom_field`)"),
            "{stderr}"
        );

        // Renamed in config.yml to the field TheHive has.
        let yaml = std::fs::read_to_string(&config).unwrap();
        std::fs::write(&config, yaml.replace("thehive:\n", "thehive:\n  incident_custom_field: soc-mdr-ref\n"))
            .unwrap();
        let out = check();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        assert!(stderr.contains("TheHive case custom field `soc-mdr-ref` exists"), "{stderr}");
        assert_eq!(
            hive.journal().iter().filter(|e| !e.endpoint.starts_with("GET")).count(),
            0,
            "--check writes nothing"
        );
    }
}
