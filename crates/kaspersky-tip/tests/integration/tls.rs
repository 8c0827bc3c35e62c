//! HTTPS against the stand-in: its CA trusted through Cortex `cacerts`, and TIP's client certificate actually
//! presented, and verified, in the TLS handshake.

use std::path::Path;

use base64::Engine;
use serde_json::{Value, json};

use crate::common::{
    BASIC_PASSWORD, BASIC_USER, Backend, Outcome, StandIn, TIP_TOKEN, TestPki, config, input, run, run_in,
};

const DOMAIN: &str = "bad.example.test";

/// TIP certificate mode against `standin`, trusting `pki`'s server CA through the inline Cortex `cacerts`.
fn certificate_config(standin: &StandIn, pki: &TestPki, client_pem: &Path) -> Value {
    let mut config = config(standin, Backend::Tip);
    config["api_key"] = Value::Null;
    config["client_cert"] = json!(client_pem);
    config["username"] = json!(BASIC_USER);
    config["password"] = json!(BASIC_PASSWORD);
    config["cacerts"] = json!(pki.server_ca_pem());
    config
}

fn failed(outcome: &Outcome) -> String {
    assert_eq!(outcome.code, 1, "{}", outcome.raw);
    for secret in [TIP_TOKEN, BASIC_PASSWORD] {
        assert!(!outcome.raw.contains(secret) && !outcome.stderr.contains(secret), "secret leaked: {}", outcome.raw);
    }
    outcome.error().to_owned()
}

#[test]
fn client_certificate_is_presented_in_the_handshake_with_basic_auth() {
    let pki = TestPki::generate();
    let standin = StandIn::start_tls(&pki, true);
    let dir = tempfile::tempdir().expect("temp dir");
    let identity = pki.client_identity("tip-client");
    let pem_path = dir.path().join("client.pem");
    std::fs::write(&pem_path, &identity.pem).expect("write pem");
    let basic =
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{BASIC_USER}:{BASIC_PASSWORD}")));

    // CA given in the config (Cortex also writes it to input/cacerts), then only as that file.
    let inline = run(&input("domain", DOMAIN, 2, certificate_config(&standin, &pki, &pem_path)));
    assert_eq!(inline.code, 0, "{}", inline.raw);
    assert_eq!(inline.full()["zone"], "Yellow");
    let job = tempfile::tempdir().expect("job dir");
    std::fs::create_dir_all(job.path().join("input")).expect("input dir");
    std::fs::write(job.path().join("input/cacerts"), pki.server_ca_pem()).expect("write cacerts");
    let mut config = certificate_config(&standin, &pki, &pem_path);
    config["cacerts"] = Value::Null;
    let file = run_in(job.path(), &input("domain", DOMAIN, 2, config));
    assert_eq!(file.code, 0, "{}", file.raw);
    assert_eq!(file.full()["zone"], "Yellow");

    let requests = standin.requests();
    assert_eq!(requests.len(), 2);
    for request in &requests {
        assert_eq!(request.client_cert.as_deref(), Some(identity.der.as_slice()), "the issued certificate");
        assert_eq!(request.header("authorization"), Some(basic.as_str()));
        assert_eq!((request.service.as_str(), request.object.as_str()), ("tip", DOMAIN));
    }
    assert!(standin.handshake_errors().is_empty(), "{:?}", standin.handshake_errors());
}

#[test]
fn a_server_requiring_a_client_certificate_is_explained() {
    let pki = TestPki::generate();
    let standin = StandIn::start_tls(&pki, true);
    let url = standin.url();

    // Token mode: no `client_cert` at all.
    let mut token = config(&standin, Backend::Tip);
    token["cacerts"] = json!(pki.server_ca_pem());
    let message = failed(&run(&input("domain", DOMAIN, 2, token)));
    assert_eq!(
        message,
        format!(
            "Kaspersky TIP at {url} refused the TLS handshake (received fatal alert: CertificateRequired): it requires a TLS client certificate. Set `client_cert` (the certificate and key from Kaspersky, in PEM) with `username` and `password`."
        )
    );

    // Certificate mode with a certificate the server's client CA did not issue.
    let dir = tempfile::tempdir().expect("temp dir");
    let pem_path = dir.path().join("client.pem");
    std::fs::write(&pem_path, TestPki::generate().client_identity("stranger").pem).expect("write pem");
    let message = failed(&run(&input("domain", DOMAIN, 2, certificate_config(&standin, &pki, &pem_path))));
    assert_eq!(
        message,
        format!(
            "Kaspersky TIP at {url} refused the TLS handshake (received fatal alert: UnknownCA): it did not accept the client certificate. Check that `client_cert` holds the current certificate Kaspersky issued for this account (not expired or revoked) and its private key."
        )
    );

    assert!(standin.requests().is_empty(), "no request gets past the handshake");
    let refused = standin.handshake_errors();
    assert_eq!(refused, ["peer sent no certificates", "invalid peer certificate: UnknownIssuer"]);
}

#[test]
fn an_untrusted_server_certificate_names_the_ca_setting() {
    let pki = TestPki::generate();
    let standin = StandIn::start_tls(&pki, false);
    let dir = tempfile::tempdir().expect("temp dir");
    let pem_path = dir.path().join("client.pem");
    std::fs::write(&pem_path, pki.client_identity("tip-client").pem).expect("write pem");
    let expected = format!(
        "Kaspersky TIP at {} presented a TLS certificate that is not trusted (invalid peer certificate: UnknownIssuer). If a TLS-inspecting proxy or a private CA is in the way, add its CA certificate to the Cortex `cacerts` setting; otherwise check `api_url`.",
        standin.url()
    );
    // No extra CA (system store only), another CA in `cacerts`, and token mode on the OpenTIP backend.
    let mut none = certificate_config(&standin, &pki, &pem_path);
    none["cacerts"] = Value::Null;
    let mut other = certificate_config(&standin, &pki, &pem_path);
    other["cacerts"] = json!(TestPki::generate().server_ca_pem());
    let mut opentip = config(&standin, Backend::OpenTip);
    opentip["cacerts"] = json!(TestPki::generate().server_ca_pem());
    for config in [none, other] {
        assert_eq!(failed(&run(&input("domain", DOMAIN, 2, config))), expected);
    }
    let message = failed(&run(&input("domain", DOMAIN, 2, opentip)));
    assert_eq!(message, expected.replace("Kaspersky TIP", "Kaspersky OpenTIP"));
    assert!(standin.requests().is_empty());
    assert_eq!(standin.handshake_errors().len(), 3, "{:?}", standin.handshake_errors());
}

#[test]
fn a_self_signed_server_certificate_is_trusted_only_when_it_is_the_configured_one() {
    let pki = TestPki::self_signed();
    let standin = StandIn::start_tls(&pki, false);
    for backend in [Backend::Tip, Backend::OpenTip] {
        let mut pinned = config(&standin, backend);
        pinned["cacerts"] = json!(pki.server_ca_pem());
        let outcome = run(&input("domain", DOMAIN, 2, pinned));
        assert_eq!(outcome.code, 0, "{backend:?}: {}", outcome.raw);
    }
    assert_eq!(standin.requests().len(), 2);

    let mut other = config(&standin, Backend::Tip);
    other["cacerts"] = json!(TestPki::self_signed().server_ca_pem());
    assert_eq!(
        failed(&run(&input("domain", DOMAIN, 2, other))),
        format!(
            "Kaspersky TIP at {} presented a TLS certificate that is not trusted (it is self-signed and is not the certificate configured in `cacerts`). If a TLS-inspecting proxy or a private CA is in the way, add its CA certificate to the Cortex `cacerts` setting; otherwise check `api_url`.",
            standin.url()
        )
    );
    assert_eq!(standin.requests().len(), 2, "the refused handshake carried no request");
}
