//! Self-signed certificates made the way `openssl req -x509` makes them (`CA:TRUE`), over real TLS on
//! loopback: trusted when exactly that certificate is configured (MDR and the TheHive API), refused
//! clearly otherwise, host name still checked; and a URL mentioning "tls" that refuses connections
//! is reported as unreachable, not as a certificate problem.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;

use serde_json::Value;
use test_support::{Sandbox, SandboxOptions, Seed, TheHiveOptions, TheHiveSandbox, TheHiveVersion, TlsCert};

use crate::support::{CLOSE, Job, SEND, sandbox};

const ATTACHMENT_ID: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

fn loopback_names() -> Vec<String> {
    vec!["127.0.0.1".to_owned(), "localhost".to_owned()]
}

fn self_signed_mdr(names: Vec<String>) -> Sandbox {
    let mut options = SandboxOptions::new(Seed::default_demo());
    options.tls = true;
    options.tls_cert = TlsCert::SelfSigned(names);
    Sandbox::start(options).unwrap()
}

fn self_signed_pem() -> String {
    self_signed_mdr(loopback_names()).ca_pem().unwrap()
}

fn close_job(mdr: &Sandbox) -> Job {
    Job::on("th4/input_case.json", mdr)
}

fn with_ssl_cert(mut job: Job, pem: &str) -> Job {
    let path = job.root.path().join("pinned.pem");
    std::fs::write(&path, pem).unwrap();
    job.input["config"]["ssl_cert"] = path.to_str().unwrap().into();
    job
}

#[test]
fn mdr_with_the_configured_self_signed_certificate_works() {
    let mdr = self_signed_mdr(loopback_names());
    // ssl_cert (Job::new writes the served certificate there).
    close_job(&mdr).run(CLOSE).assert_success();
    // Cortex `cacerts` given inline, beside an unrelated CA.
    let mut job = close_job(&mdr);
    job.input["config"]["ssl_cert"] = Value::Null;
    let other_ca = sandbox(true).ca_pem().unwrap();
    job.input["config"]["cacerts"] = format!("{other_ca}\n{}", mdr.ca_pem().unwrap()).into();
    job.run(CLOSE).assert_success();
}

#[test]
fn another_self_signed_certificate_is_refused_naming_the_settings() {
    let mdr = self_signed_mdr(loopback_names());
    let message = with_ssl_cert(close_job(&mdr), &self_signed_pem()).run(CLOSE).assert_error();
    assert_eq!(
        message,
        format!(
            "The TLS certificate of {} is not trusted: it is self-signed and is not the certificate configured in \
             `ssl_cert` or the Cortex `cacerts` setting; put the certificate this server presents there",
            mdr.api_url()
        )
    );
    assert!(mdr.journal().is_empty(), "nothing passes an unverified TLS session");
}

#[test]
fn the_host_name_of_a_configured_certificate_is_still_checked() {
    // Served for `localhost` only, reached at 127.0.0.1.
    let mdr = self_signed_mdr(vec!["localhost".to_owned()]);
    let message = close_job(&mdr).run(CLOSE).assert_error();
    assert!(
        message.starts_with(&format!("The TLS certificate of {} is not trusted (", mdr.api_url()))
            && message.contains("not valid for name \"127.0.0.1\""),
        "{message}"
    );
    assert!(mdr.journal().is_empty());
}

#[test]
fn a_url_mentioning_tls_that_refuses_connections_cannot_be_reached() {
    let mdr = sandbox(false);
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    for scheme in ["http", "https"] {
        let mut job = close_job(&mdr);
        let url = format!("{scheme}://127.0.0.1:{port}/tls-certificate-handshake/api/v1");
        job.input["config"]["api_url"] = url.clone().into();
        let message = job.run(CLOSE).assert_error();
        assert!(message.starts_with(&format!("Cannot reach the MDR API at {url}: ")), "{message}");
    }
}

fn self_signed_thehive(names: Vec<String>) -> TheHiveSandbox {
    let mut options = TheHiveOptions::new(TheHiveVersion::V4);
    options.tls = true;
    options.tls_cert = TlsCert::SelfSigned(names);
    options.attachments = HashMap::from([(ATTACHMENT_ID.to_owned(), b"test".to_vec())]);
    TheHiveSandbox::start(options).unwrap()
}

fn log_job(mdr: &Sandbox, th: &TheHiveSandbox, pem: &str) -> Job {
    let mut job = with_ssl_cert(Job::on("th4/input_case_task_log.json", mdr), pem);
    job.input["config"]["thehive_url"] = th.url().into();
    job.input["config"]["thehive_api_key"] = th.api_key().into();
    job
}

#[test]
fn thehive_with_the_configured_self_signed_certificate_works_and_another_is_refused() {
    let (mdr, th) = (sandbox(false), self_signed_thehive(loopback_names()));
    let full = log_job(&mdr, &th, &th.ca_pem().unwrap()).run(SEND).assert_success().clone();
    assert_eq!(full["attachment"]["status"], "sent", "{full}");

    // A fresh MDR: on the first one the log is already sent, and nothing would be fetched.
    let (mdr, other) = (sandbox(false), self_signed_thehive(loopback_names()));
    let message = log_job(&mdr, &other, &th.ca_pem().unwrap()).run(SEND).assert_error();
    assert!(
        message.contains(&format!(
            "The TLS certificate of TheHive at {} is not trusted: it is self-signed and is not the certificate \
             configured in `ssl_cert` or the Cortex `cacerts` setting",
            other.url()
        )),
        "{message}"
    );
    assert!(other.journal().is_empty());
    assert!(mdr.calls("comments/create").is_empty(), "nothing sent when the attachment cannot be fetched");
}
