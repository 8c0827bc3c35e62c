//! Status mapping, TLP limits, validation and secrecy, run as Cortex runs the analyzer.

use std::time::Duration;

use serde_json::{Value, json};

use crate::common::{
    BACKENDS, BASIC_PASSWORD, BASIC_USER, Backend, OPENTIP_KEY, Outcome, StandIn, TIP_TOKEN, config, input, run,
};

const IP: &str = "198.51.100.7";

/// Forced status, response headers, body, expected errorMessage.
type StatusCase = (u16, Vec<(&'static str, &'static str)>, &'static str, String);

fn service(backend: Backend) -> &'static str {
    match backend {
        Backend::Tip => "Kaspersky TIP",
        Backend::OpenTip => "Kaspersky OpenTIP",
    }
}

fn no_secret(outcome: &Outcome) {
    for secret in [TIP_TOKEN, OPENTIP_KEY, BASIC_PASSWORD] {
        assert!(!outcome.raw.contains(secret), "secret in output: {}", outcome.raw);
        assert!(!outcome.stderr.contains(secret), "secret in stderr: {}", outcome.stderr);
        assert!(!outcome.stdout.contains(secret), "secret in stdout");
    }
}

fn failed(outcome: &Outcome) -> String {
    assert_eq!(outcome.code, 1, "{}", outcome.raw);
    no_secret(outcome);
    let input = &outcome.output["input"];
    if input["config"].get("api_key").is_some() {
        assert_eq!(input["config"]["api_key"], "REMOVED");
    }
    outcome.error().to_owned()
}

#[test]
fn every_status_maps_to_its_message_on_both_backends() {
    for backend in BACKENDS {
        let svc = service(backend);
        let standin = StandIn::start();
        let portal = match backend {
            Backend::Tip => "https://tip.kaspersky.com",
            Backend::OpenTip => "https://opentip.kaspersky.com",
        };
        let cases: Vec<StatusCase> = vec![
            (
                400,
                vec![],
                "{}",
                format!(
                    "{svc} rejected the request as invalid (HTTP 400): it does not accept the ip `{IP}`. Check the observable's value and type."
                ),
            ),
            (
                401,
                vec![],
                "",
                format!(
                    "{svc} refused the credentials (HTTP 401): bad API key, or the portal's terms and conditions were not accepted. Check `api_key` (the {} API token; it expires after at most a year), and sign in once at {portal} to accept the terms.",
                    if backend == Backend::Tip { "TIP" } else { "OpenTIP" }
                ),
            ),
            (
                403,
                vec![],
                "{\"LicenseInfo\": {\"DayRequests\": 1000, \"DayQuota\": 1000}}",
                format!(
                    "{svc} denied the request (HTTP 403): the request quota is exhausted or the licence does not allow this lookup (1000 of 1000 daily requests used). Wait for the daily quota to reset, or check the licence/API access with Kaspersky."
                ),
            ),
            (
                414,
                vec![],
                "",
                format!(
                    "{svc} refused the request as too long (HTTP 414 URI Too Long): the URL must have at most 2000 characters."
                ),
            ),
            (
                429,
                vec![("Retry-After", "120")],
                "",
                format!(
                    "{svc} is limiting the request rate (HTTP 429): retry the analysis in 120 seconds (Retry-After)."
                ),
            ),
            (
                429,
                vec![],
                "",
                format!(
                    "{svc} is limiting the request rate (HTTP 429): retry the analysis in a few minutes, and run fewer lookups at once."
                ),
            ),
            (503, vec![], "", format!("{svc} had a server error (HTTP 503): retry the analysis later.")),
            (418, vec![], "", format!("{svc} answered with an unexpected HTTP status 418.")),
            (
                200,
                vec![],
                "[1, 2]",
                format!("{svc} sent a response that is not a JSON object: expected an object, got an array"),
            ),
        ];
        for (status, headers, body, expected) in cases {
            standin.force(IP, status, &headers, body);
            let outcome = run(&input("ip", IP, 2, config(&standin, backend)));
            assert_eq!(failed(&outcome), expected, "{backend:?} {status}");
        }
        // 403 without a quota in the body.
        standin.force(IP, 403, &[], "");
        let outcome = run(&input("ip", IP, 2, config(&standin, backend)));
        assert!(failed(&outcome).contains("does not allow this lookup. Wait"), "{}", outcome.raw);
    }
}

#[test]
fn not_found_is_a_success_saying_unknown_to_kaspersky() {
    for backend in BACKENDS {
        let standin = StandIn::start();
        for (data_type, data) in [
            ("hash", "d41d8cd98f00b204e9800998ecf8427e"),
            ("ip", "203.0.113.200"),
            ("url", "https://nowhere.example.test/"),
        ] {
            let outcome = run(&input(data_type, data, 2, config(&standin, backend)));
            assert_eq!(outcome.code, 0, "{}", outcome.raw);
            let full = outcome.full();
            assert_eq!(full["found"], json!(false));
            assert_eq!(
                full["message"],
                json!(format!(
                    "The {data_type} `{data}` is unknown to Kaspersky ({} answered 404 Not Found).",
                    service(backend)
                ))
            );
            assert_eq!((full["zone"].clone(), full["score"].clone()), (json!("Grey"), json!(20)));
            assert!(full["portal_url"].as_str().expect("link").contains("kaspersky.com"));
            assert_eq!(outcome.taxonomies(), [("info".into(), "Zone".into(), "Grey".into())]);
        }
    }
}

#[test]
fn tlp_above_the_limit_is_refused_before_any_request() {
    for backend in BACKENDS {
        let standin = StandIn::start();
        // The analyzer's own limit (default AMBER) with Cortex's check off.
        let outcome = run(&input("ip", IP, 3, config(&standin, backend)));
        assert_eq!(
            failed(&outcome),
            "The observable's TLP:RED is above this analyzer's limit `tlp_limit` (TLP:AMBER): it was not sent to Kaspersky."
        );
        let mut strict = config(&standin, backend);
        strict["tlp_limit"] = json!("TLP:CLEAR");
        let outcome = run(&input("ip", IP, 1, strict));
        assert!(failed(&outcome).starts_with("The observable's TLP:GREEN is above"));
        // Cortex's own check comes first, with cortexutils' message.
        let mut cortex = config(&standin, backend);
        cortex["check_tlp"] = json!(true);
        cortex["max_tlp"] = json!(1);
        let outcome = run(&input("ip", IP, 2, cortex));
        assert_eq!(failed(&outcome), "TLP is higher than allowed.");
        let mut pap = config(&standin, backend);
        pap["check_pap"] = json!(true);
        pap["max_pap"] = json!(1);
        let outcome = run(&input("ip", IP, 2, pap));
        assert_eq!(failed(&outcome), "PAP is higher than allowed.");
        assert!(standin.requests().is_empty(), "nothing may reach Kaspersky");
        // At the limit it goes through.
        let mut red = config(&standin, backend);
        red["tlp_limit"] = json!("RED");
        assert_eq!(run(&input("ip", IP, 3, red)).code, 0);
        assert_eq!(standin.requests().len(), 1);
    }
}

#[test]
fn config_errors_name_the_item_and_send_nothing() {
    let standin = StandIn::start();
    let cases: Vec<(Backend, &str, Value, &str)> = vec![
        (
            Backend::Tip,
            "backend",
            json!("vt"),
            "Invalid configuration item `backend`: `vt` is neither `tip` nor `opentip`",
        ),
        (Backend::Tip, "backend", Value::Null, "Invalid configuration item `backend`: missing"),
        (Backend::Tip, "api_key", Value::Null, "Invalid configuration item `api_key`: missing"),
        (Backend::OpenTip, "api_key", json!(""), "Invalid configuration item `api_key`: missing"),
        (
            Backend::Tip,
            "api_url",
            json!("http://tip.example.test"),
            "Invalid configuration item `api_url`: `http://tip.example.test` must use https",
        ),
        (
            Backend::Tip,
            "sections_hash",
            json!("Zone,Bogus"),
            "Invalid configuration item `sections_hash`: unknown hash section `Bogus`",
        ),
        (Backend::Tip, "count", json!(0), "Invalid configuration item `count`: expected a whole number from 1 to 1000"),
        (
            Backend::Tip,
            "zone_scores",
            json!("red:high"),
            "Invalid configuration item `zone_scores`: score `high` for Red",
        ),
        (Backend::OpenTip, "tlp_limit", json!("PURPLE"), "Invalid configuration item `tlp_limit`"),
        (
            Backend::OpenTip,
            "add_tags",
            json!("perhaps"),
            "Invalid configuration item `add_tags`: expected true or false",
        ),
        (
            Backend::OpenTip,
            "timeout",
            json!(0),
            "Invalid configuration item `timeout`: expected a whole number from 1 to 600",
        ),
        (
            Backend::Tip,
            "client_cert",
            json!("/nonexistent/client.pem"),
            "Invalid configuration item `username`: missing",
        ),
    ];
    for (backend, item, value, expected) in cases {
        let mut config = config(&standin, backend);
        config[item] = value;
        let outcome = run(&input("ip", IP, 2, config));
        let message = failed(&outcome);
        assert!(message.starts_with(expected), "{item}: {message}");
    }
    assert!(standin.requests().is_empty());
}

#[test]
fn invalid_values_and_data_types_are_refused_before_any_request() {
    let standin = StandIn::start();
    let long_url = format!("http://x.test/{}", "a".repeat(2000));
    let cases = [
        (
            "hash",
            "abc123",
            "Invalid hash: `abc123` is not an MD5, SHA-1 or SHA-256 hash (32, 40 or 64 hexadecimal digits). Nothing was sent to Kaspersky.",
        ),
        ("ip", "300.1.2.3", "Invalid ip: `300.1.2.3` is not an IPv4 or IPv6 address. Nothing was sent to Kaspersky."),
        (
            "domain",
            "not a domain",
            "Invalid domain: `not a domain` is not a valid domain name. Nothing was sent to Kaspersky.",
        ),
        ("fqdn", "localhost", "Invalid fqdn: `localhost` is not a valid domain name. Nothing was sent to Kaspersky."),
        (
            "url",
            long_url.as_str(),
            "Invalid url: the URL has 2014 characters; Kaspersky accepts at most 2000. Nothing was sent to Kaspersky.",
        ),
        (
            "mail",
            "a@b.test",
            "This analyzer does not support the data type `mail` (supported: hash, ip, domain, fqdn, url)",
        ),
        ("ip", "", "Missing data field"),
    ];
    for backend in BACKENDS {
        for (data_type, data, expected) in cases {
            let outcome = run(&input(data_type, data, 2, config(&standin, backend)));
            assert_eq!(failed(&outcome), expected);
        }
    }
    assert!(standin.requests().is_empty());
}

#[test]
fn wrong_credentials_get_401_and_never_leak() {
    for backend in BACKENDS {
        let standin = StandIn::start();
        let mut config = config(&standin, backend);
        config["api_key"] = json!("wrong-SENTINEL-key");
        let outcome = run(&input("ip", IP, 2, config));
        let message = failed(&outcome);
        assert!(message.contains("(HTTP 401): bad API key"), "{message}");
        assert!(!outcome.raw.contains("wrong-SENTINEL-key") && !outcome.stderr.contains("wrong-SENTINEL-key"));
        assert_eq!(outcome.output["input"]["config"]["api_key"], "REMOVED");
    }
}

#[test]
fn client_certificate_with_basic_auth() {
    let standin = StandIn::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let key = rcgen::KeyPair::generate().expect("key");
    let cert = rcgen::CertificateParams::new(vec!["tip-client".to_owned()])
        .expect("params")
        .self_signed(&key)
        .expect("certificate");
    let pem_path = dir.path().join("client.pem");
    std::fs::write(&pem_path, format!("{}{}", cert.pem(), key.serialize_pem())).expect("write pem");
    let mut config = config(&standin, Backend::Tip);
    config["api_key"] = Value::Null;
    config["client_cert"] = json!(pem_path);
    config["username"] = json!(BASIC_USER);
    config["password"] = json!(BASIC_PASSWORD);
    let outcome = run(&input("domain", "bad.example.test", 2, config.clone()));
    assert_eq!(outcome.code, 0, "{}", outcome.raw);
    assert_eq!(outcome.full()["zone"], "Yellow");
    let request = &standin.requests()[0];
    assert!(request.header("authorization").expect("auth").starts_with("Basic "));

    config["password"] = json!("bad-SENTINEL-password");
    let outcome = run(&input("domain", "bad.example.test", 2, config.clone()));
    let message = failed(&outcome);
    assert!(message.contains("bad user name, password or client certificate"), "{message}");
    assert_eq!(outcome.output["input"]["config"]["password"], "REMOVED");
    assert!(!outcome.raw.contains("bad-SENTINEL-password"));

    std::fs::write(&pem_path, cert.pem()).expect("certificate without key");
    config["password"] = json!(BASIC_PASSWORD);
    let message = failed(&run(&input("domain", "bad.example.test", 2, config.clone())));
    assert!(message.starts_with("Invalid configuration item `client_cert`:"), "{message}");
    config["client_cert"] = json!(dir.path().join("missing.pem"));
    let message = failed(&run(&input("domain", "bad.example.test", 2, config)));
    assert!(message.starts_with("Invalid configuration item `client_cert`: cannot read"), "{message}");
    assert_eq!(standin.requests().len(), 2);
}

#[test]
fn slow_service_times_out_with_advice() {
    let standin = StandIn::start();
    standin.force_with_delay(IP, 200, &[], "{}", Duration::from_secs(4));
    let mut config = config(&standin, Backend::OpenTip);
    config["timeout"] = json!(1);
    let message = failed(&run(&input("ip", IP, 2, config)));
    assert_eq!(
        message,
        format!(
            "No answer from Kaspersky OpenTIP at {} within 1 s (configuration item `timeout`): the service or the network is slow; retry later or raise `timeout`.",
            standin.url()
        )
    );
}

#[test]
fn unreachable_service_is_named() {
    // A port nobody listens on: bind, read the port, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let standin = StandIn::start();
    let mut config = config(&standin, Backend::Tip);
    config["api_url"] = json!(format!("http://127.0.0.1:{port}"));
    let message = failed(&run(&input("ip", IP, 2, config)));
    assert!(message.starts_with(&format!("Cannot reach Kaspersky TIP at http://127.0.0.1:{port}: ")), "{message}");
    assert!(!message.contains(IP), "{message}");
}

#[test]
fn empty_body_is_an_empty_report_not_a_crash() {
    let standin = StandIn::start();
    standin.force(IP, 200, &[], "");
    let outcome = run(&input("ip", IP, 2, config(&standin, Backend::OpenTip)));
    assert_eq!(outcome.code, 0, "{}", outcome.raw);
    assert_eq!(outcome.full()["zone"], Value::Null);
    assert_eq!(outcome.taxonomies(), [("info".into(), "Zone".into(), "None".into())]);
}

#[test]
fn redirects_are_not_followed_so_the_key_stays_with_the_service() {
    for backend in BACKENDS {
        let standin = StandIn::start();
        let elsewhere = format!("{}/elsewhere", standin.url());
        standin.force(IP, 302, &[("Location", elsewhere.as_str())], "");
        let outcome = run(&input("ip", IP, 2, config(&standin, backend)));
        assert!(failed(&outcome).ends_with("answered with an unexpected HTTP status 302."), "{}", outcome.raw);
        assert_eq!(standin.requests().len(), 1, "{backend:?}: the redirect was followed");
    }
}
