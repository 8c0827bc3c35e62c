//! TLS trust: each CA source alone makes an unknown CA trusted; a wrong or invalid CA file is
//! reported with the setting (and file) to fix, before any request is sent.
#![allow(clippy::unwrap_used)]

use serde_json::Value;

use crate::support::{CLOSE, Job, Run, cortex_command, job_timeout, sandbox};

fn tls_job(mdr: &test_support::Sandbox) -> Job {
    let mut job = Job::on("th4/input_case.json", mdr);
    job.input["config"]["ssl_cert"] = Value::Null;
    job
}

fn run_with_env(job: &Job, folder: &str, env: Option<&std::path::Path>) -> Run {
    let dir = job.root.path().join(folder);
    std::fs::create_dir_all(dir.join("output")).unwrap();
    std::fs::create_dir_all(dir.join("input")).unwrap();
    std::fs::write(dir.join("input/input.json"), serde_json::to_vec(&job.input).unwrap()).unwrap();
    let mut command = cortex_command(CLOSE);
    if let Some(bundle) = env {
        command.env("REQUESTS_CA_BUNDLE", bundle);
    }
    command.arg(&dir);
    Run(test_support::cortex::run_command(command, &dir, job_timeout()).unwrap())
}

#[test]
fn each_ca_source_alone_is_trusted() {
    let mdr = sandbox(true);
    let ca = mdr.ca_pem().unwrap();

    // input/cacerts only (Cortex's `cacerts` setting), no environment variable.
    let job = tls_job(&mdr);
    let dir = job.root.path().join("cacerts");
    std::fs::create_dir_all(dir.join("input")).unwrap();
    std::fs::write(dir.join("input/cacerts"), &ca).unwrap();
    run_with_env(&job, "cacerts", None).assert_success();

    // REQUESTS_CA_BUNDLE only, a file outside the job folder.
    let job = tls_job(&mdr);
    let bundle = job.root.path().join("bundle.pem");
    std::fs::write(&bundle, &ca).unwrap();
    run_with_env(&job, "env", Some(&bundle)).assert_success();

    // ssl_cert only, next to other certificates in one bundle.
    let other = sandbox(true).ca_pem().unwrap();
    let mut job = tls_job(&mdr);
    let both = job.root.path().join("both.pem");
    std::fs::write(&both, format!("{other}\n{ca}")).unwrap();
    job.input["config"]["ssl_cert"] = both.to_str().unwrap().into();
    run_with_env(&job, "ssl_cert", None).assert_success();
}

#[test]
fn a_wrong_ca_is_refused_naming_the_setting() {
    let mdr = sandbox(true);
    let mut job = tls_job(&mdr);
    let wrong = job.root.path().join("wrong-ca.pem");
    std::fs::write(&wrong, sandbox(true).ca_pem().unwrap()).unwrap();
    job.input["config"]["ssl_cert"] = wrong.to_str().unwrap().into();
    let message = run_with_env(&job, "job", None).assert_error();
    assert!(
        message.starts_with(&format!("The TLS certificate of {} is not trusted", mdr.api_url()))
            && message.contains("set `ssl_cert` to the PEM bundle of the CA that signed it")
            && message.contains("Cortex `cacerts`"),
        "{message}"
    );
    assert!(mdr.journal().is_empty(), "nothing passes an unverified TLS session");
}

#[test]
fn invalid_pem_files_are_reported_by_name() {
    let mdr = sandbox(true);
    let garbage = "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n";

    // ssl_cert: not PEM at all, a broken certificate, a missing file.
    for (name, content) in
        [("text.pem", Some("just some text\n")), ("broken.pem", Some(garbage)), ("missing.pem", None)]
    {
        let mut job = tls_job(&mdr);
        let path = job.root.path().join(name);
        if let Some(content) = content {
            std::fs::write(&path, content).unwrap();
        }
        job.input["config"]["ssl_cert"] = path.to_str().unwrap().into();
        let message = run_with_env(&job, "job", None).assert_error();
        assert!(
            message.starts_with(&format!("Cannot use the CA certificates from `ssl_cert` ({}): ", path.display())),
            "{name}: {message}"
        );
    }

    // Cortex's cacerts (input/cacerts) and REQUESTS_CA_BUNDLE.
    let job = tls_job(&mdr);
    let dir = job.root.path().join("cacerts");
    std::fs::create_dir_all(dir.join("input")).unwrap();
    std::fs::write(dir.join("input/cacerts"), "not a certificate").unwrap();
    let message = run_with_env(&job, "cacerts", None).assert_error();
    assert!(message.starts_with("Cannot use the CA certificates from ") && message.contains("cacerts"), "{message}");

    let job = tls_job(&mdr);
    let bundle = job.root.path().join("bundle.pem");
    std::fs::write(&bundle, garbage).unwrap();
    let message = run_with_env(&job, "env", Some(&bundle)).assert_error();
    assert!(
        message.starts_with("Cannot use the CA certificates from ") && message.contains(&bundle.display().to_string()),
        "{message}"
    );
    assert!(mdr.journal().is_empty());
}
