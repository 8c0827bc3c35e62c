//! What the transport suites share: the connector binary run as users run it, the stand-ins, the
//! golden cases as listen messages, and the structure checks of a pushed bundle.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use test_support::opencti::{BrokerInfo, OpenCtiOptions, OpenCtiSandbox};

use crate::golden::SECTIONS;
use crate::tip_standin::{StandIn, TIP_TOKEN};

pub(crate) const TOKEN: &str = "opencti-token-SENTINEL-5b21";
pub(crate) const CONNECTOR_ID: &str = "kaspersky--8825ba29-8475-4e6a-95b7-9206052c0934";

pub(crate) fn read(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The golden cases: (name, input, TIP request object, TIP answer, expected bundle).
pub(crate) fn golden() -> Vec<(String, Value, String, Value, Value)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("tests/golden")
        .filter_map(Result::ok)
        .filter(|e| e.path().join("expected.json").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let input = read(&dir.join(&name).join("input.json"));
            let tip = read(&dir.join(&name).join("tip.json"));
            let expected = read(&dir.join(&name).join("expected.json"));
            let object = tip["request"]["path"]
                .as_str()
                .unwrap_or_default()
                .splitn(4, '/')
                .nth(3)
                .unwrap_or_default()
                .to_owned();
            (name, input, object, tip["answer"].clone(), expected)
        })
        .collect()
}

pub(crate) fn opencti(jwks: bool, broker: BrokerInfo) -> OpenCtiSandbox {
    OpenCtiSandbox::start(OpenCtiOptions { token: TOKEN.into(), jwks, broker }).expect("OpenCTI stand-in")
}

pub(crate) fn no_broker() -> BrokerInfo {
    BrokerInfo {
        host: "127.0.0.1".into(),
        port: 1,
        user: "guest".into(),
        pass: "guest-SENTINEL-pass".into(),
        vhost: "/".into(),
        listen: format!("listen_{CONNECTOR_ID}"),
        push_exchange: "amqp.worker.exchange".into(),
        push_routing: format!("push_routing_{CONNECTOR_ID}"),
    }
}

/// The platform's listen message for a golden case, under `work_id`.
pub(crate) fn message(input: &Value, work_id: &str) -> Value {
    let entity = &input["stix_entity"];
    json!({
        "internal": { "work_id": work_id, "applicant_id": null, "draft_id": null, "trigger": "update", "mode": "manual" },
        "event": {
            "event_type": "INTERNAL_ENRICHMENT",
            "entity_id": entity["id"],
            "entity_type": input["enrichment_entity"]["entity_type"],
            "stix_entity": entity.to_string(),
            "stix_objects": input["stix_objects"].to_string(),
        }
    })
}

/// Seeds the stand-ins for a case: the observable, the TIP answer and a waiting work.
pub(crate) fn seed(
    opencti: &OpenCtiSandbox,
    tip: &StandIn,
    input: &Value,
    object: &str,
    answer: &Value,
    work_id: &str,
) {
    let id = input["stix_entity"]["id"].as_str().expect("stix id");
    opencti.add_observable(id, input["enrichment_entity"].clone());
    tip.force(object, 200, &[], &answer.to_string());
    opencti.create_work(work_id);
}

/// The connector process; killed when dropped.
pub(crate) struct Connector {
    pub(crate) child: Child,
    pub(crate) log: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Connector {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Connector {
    pub(crate) fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

pub(crate) fn base_env(opencti: &OpenCtiSandbox, tip: &StandIn) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    env.insert("OPENCTI_URL".into(), opencti.url());
    env.insert("OPENCTI_TOKEN".into(), TOKEN.into());
    env.insert("KASPERSKY_API_KEY".into(), TIP_TOKEN.into());
    env.insert("KASPERSKY_API_BASE_URL".into(), tip.url());
    env.insert("CONNECTOR_LOG_LEVEL".into(), "info".into());
    for (key, value) in SECTIONS {
        env.insert(key.into(), value.into());
    }
    env
}

/// Starts the binary with exactly `env` (plus PATH), its stderr to a log file.
pub(crate) fn spawn(env: &BTreeMap<String, String>) -> Connector {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("connector.log");
    let file = std::fs::File::create(&log).expect("log");
    let child = Command::new(env!("CARGO_BIN_EXE_opencti-kaspersky-enrichment"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env)
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(file)
        .spawn()
        .expect("connector binary");
    Connector { child, log, _dir: dir }
}

pub(crate) fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// Every ref resolves inside the bundle (or to the incoming entity), every created object has the
/// author and a marking, the ids are the golden ones.
pub(crate) fn check_structure(name: &str, objects: &[Value], expected: &Value) {
    let ids: HashSet<&str> = objects.iter().filter_map(|o| o["id"].as_str()).collect();
    for object in objects {
        let mut refs = Vec::new();
        opencti_kaspersky::platform::bundle::collect_refs(object, &mut refs);
        for r in refs {
            assert!(ids.contains(r.as_str()), "{name}: {} refers to {r}, not in the bundle", object["id"]);
        }
        // Author and markings wherever the Python connector sets them (it leaves them off a few
        // SCOs, e.g. the IPs of DNS resolutions).
        let python = expected["objects"].as_array().into_iter().flatten().find(|o| o["id"] == object["id"]);
        for key in ["created_by_ref", "object_marking_refs"] {
            if python.is_some_and(|p| p.get(key).is_some()) {
                assert!(object.get(key).is_some(), "{name}: {} has no {key}", object["id"]);
            }
        }
    }
    assert!(ids.contains(opencti_kaspersky::stix::objects::TLP_AMBER_ID), "{name}: no TLP:AMBER");
    assert!(
        objects.iter().any(|o| o["type"] == "identity" && o["name"] == "Kaspersky Enrichment"),
        "{name}: no author"
    );
    let expected_ids: Vec<&str> = expected["objects"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|o| o["type"] != "note")
        .filter_map(|o| o["id"].as_str())
        .collect();
    let ours: Vec<&str> = objects.iter().filter(|o| o["type"] != "note").filter_map(|o| o["id"].as_str()).collect();
    assert_eq!(ours, expected_ids, "{name}: object ids");
}
