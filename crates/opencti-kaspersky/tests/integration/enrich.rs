//! The Enricher's own behaviours against the TIP stand-in, beyond the golden parity: the cases
//! where it deliberately differs from the Python connector, and how TIP failures end.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use opencti_kaspersky::config::ConfigSource;
use opencti_kaspersky::enrich::{EnrichError, Enricher, EnrichmentInput};
use opencti_kaspersky::kaspersky::KasperskyConfig;
use serde_json::{Value, json};

use crate::golden::{enricher, input};
use crate::tip_standin::{OPENTIP_KEY, StandIn, TIP_TOKEN};

const MD5: &str = "44d88612fea8a8f36de82e1278abb02f";

fn golden(case: &str, file: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden").join(case).join(file);
    serde_json::from_slice(&std::fs::read(path).expect("golden file")).expect("json")
}

fn file_input() -> EnrichmentInput {
    input(&golden("file", "input.json"))
}

fn file_answer() -> String {
    golden("file", "tip.json")["answer"].to_string()
}

#[test]
fn a_tip_404_is_nothing_found_not_a_failed_job() {
    let standin = StandIn::start();
    standin.force(MD5, 404, &[], "");
    let enrichment = enricher(&standin).enrich(&file_input()).expect("success");
    assert!(enrichment.objects.is_empty());
    assert!(enrichment.message.contains("nothing found"), "{}", enrichment.message);
}

#[test]
fn a_grey_zone_says_nothing_found_and_keeps_the_python_bundle() {
    let standin = StandIn::start();
    let tip = golden("file_grey", "tip.json");
    standin.force("d41d8cd98f00b204e9800998ecf8427e", 200, &[], &tip["answer"].to_string());
    let enrichment = enricher(&standin).enrich(&input(&golden("file_grey", "input.json"))).expect("success");
    assert!(enrichment.message.starts_with("Kaspersky has no verdict"), "{}", enrichment.message);
    assert!(enrichment.message.ends_with("Sending 4 stix bundle(s) for worker import"), "{}", enrichment.message);
    assert_eq!(enrichment.objects.len(), 4);
}

#[test]
fn tlp_above_the_maximum_sends_nothing_to_kaspersky() {
    let standin = StandIn::start();
    let mut message = file_input();
    message.entity["objectMarking"] = json!([{"definition_type": "TLP", "definition": "TLP:RED"}]);
    let enrichment = enricher(&standin).enrich(&message).expect("a refusal is a success, as in Python");
    assert!(enrichment.objects.is_empty());
    assert!(
        enrichment.message.starts_with("Do not send any data, TLP of the entity is (TLP:RED)"),
        "{}",
        enrichment.message
    );
    assert!(standin.requests().is_empty(), "Kaspersky was asked");
}

#[test]
fn out_of_scope_is_an_error_naming_the_type() {
    let standin = StandIn::start();
    let enricher = enricher(&standin).with_scope(&["IPv4-Addr"]);
    let error = enricher.enrich(&file_input()).unwrap_err();
    assert!(matches!(error, EnrichError::OutOfScope(_)));
    assert!(error.to_string().contains("StixFile is not a supported entity type"), "{error}");
    assert!(standin.requests().is_empty());
}

#[test]
fn rate_limits_and_server_errors_are_waited_out_then_reported() {
    let standin = StandIn::start();
    standin.force(MD5, 429, &[("Retry-After", "1")], "{}");
    let enricher = enricher(&standin);
    let started = Instant::now();
    let error = enricher.enrich(&file_input()).unwrap_err();
    assert!(error.to_string().contains("HTTP 429"), "{error}");
    // The first answer and three waits of one second each.
    assert_eq!(standin.requests().len(), 4);
    assert!(started.elapsed() >= Duration::from_secs(3));

    let standin = StandIn::start();
    standin.force(MD5, 429, &[("Retry-After", "3600")], "{}");
    let error = super::golden::enricher(&standin).enrich(&file_input()).unwrap_err();
    assert!(error.to_string().contains("HTTP 429"), "{error}");
    assert_eq!(standin.requests().len(), 1, "an hour's Retry-After is reported, not waited for");
}

#[test]
fn a_server_error_that_clears_ends_in_the_full_bundle() {
    let standin = StandIn::start();
    standin.force(MD5, 500, &[], "{}");
    let enricher = enricher(&standin);
    let worker = std::thread::scope(|scope| {
        let handle = scope.spawn(|| enricher.enrich(&file_input()));
        // Let the first attempt fail, then heal the service.
        while standin.requests().is_empty() {
            std::thread::sleep(Duration::from_millis(20));
        }
        standin.force(MD5, 200, &[], &file_answer());
        handle.join().expect("thread")
    });
    let enrichment = worker.expect("success after the retry");
    assert_eq!(enrichment.message, "Sending 14 stix bundle(s) for worker import");
    assert!(standin.requests().len() >= 2);
}

#[test]
fn a_slow_tip_ends_in_a_timeout_error_without_the_key() {
    let standin = StandIn::start();
    standin.force_with_delay(MD5, 200, &[], &file_answer(), Duration::from_secs(3));
    let mut env = BTreeMap::new();
    env.insert("KASPERSKY_API_KEY".to_owned(), TIP_TOKEN.to_owned());
    env.insert("KASPERSKY_API_BASE_URL".to_owned(), standin.url());
    let config = KasperskyConfig::from_source(&ConfigSource::from_parts(env, None)).expect("config");
    let enricher = Enricher::new(&config, Duration::from_secs(1)).expect("enricher");
    let error = enricher.enrich(&file_input()).unwrap_err().to_string();
    assert!(error.contains("No answer from Kaspersky TIP within 1 s"), "{error}");
    assert!(!error.contains(TIP_TOKEN));
}

#[test]
fn a_refused_key_names_the_setting_and_hides_the_key() {
    let standin = StandIn::start();
    let mut env = BTreeMap::new();
    env.insert("KASPERSKY_API_KEY".to_owned(), "wrong-key-SENTINEL".to_owned());
    env.insert("KASPERSKY_API_BASE_URL".to_owned(), standin.url());
    let config = KasperskyConfig::from_source(&ConfigSource::from_parts(env, None)).expect("config");
    let error = Enricher::new(&config, Duration::from_secs(5))
        .expect("enricher")
        .enrich(&file_input())
        .unwrap_err()
        .to_string();
    assert!(error.contains("HTTP 401") && error.contains("KASPERSKY_API_KEY"), "{error}");
    assert!(!error.contains("SENTINEL"), "{error}");
}

/// With `stix_objects` sent by the platform (resolution `stix_bundle`), the Python connector pushes
/// the stale copy of the entity; ours pushes the enriched one in its place.
#[test]
fn the_entitys_edits_survive_a_platform_sent_bundle() {
    let standin = StandIn::start();
    standin.force(MD5, 200, &[], &file_answer());
    let message = file_input();
    let stale_copy = message.stix_objects.clone();
    let entity_id = message.stix_entity["id"].clone();
    let enrichment =
        enricher(&standin).enrich(&EnrichmentInput { stix_objects: stale_copy, ..message }).expect("success");
    let pushed: Vec<&Value> = enrichment.objects.iter().filter(|o| o["id"] == entity_id).collect();
    assert_eq!(pushed.len(), 1, "the entity once");
    assert_eq!(pushed[0]["extensions"]["extension-definition--f93e2c80-4231-4f9a-af8b-95c9bd566a82"]["score"], 100);
    assert_eq!(pushed[0]["hashes"].as_object().map(|h| h.len()), Some(3));
    assert!(pushed[0].get("x_opencti_score").is_none());
}

#[test]
fn opentip_is_asked_with_its_key_and_its_answer_mapped() {
    let standin = StandIn::start();
    let answer = json!({"Zone": "Red", "FileGeneralInfo": {"Md5": MD5, "Size": 68, "Type": "COM"},
                        "DetectionsInfo": [{"LastDetectDate": "2026-11-28T06:41Z", "DetectionName": "EICAR-Test-File",
                                            "DetectionMethod": "Signature", "DescriptionUrl": "https://threats.kaspersky.com/x", "Zone": "Red"}],
                        "DynamicAnalysisResults": {"Detections": []}});
    standin.force(MD5, 200, &[], &answer.to_string());
    let mut env = BTreeMap::new();
    env.insert("KASPERSKY_API_KEY".to_owned(), OPENTIP_KEY.to_owned());
    env.insert("KASPERSKY_USE_OPENTIP".to_owned(), "true".to_owned());
    env.insert("KASPERSKY_API_BASE_URL".to_owned(), standin.url());
    env.insert("KASPERSKY_FILE_SECTIONS".to_owned(), "DetectionsInfo".to_owned());
    let config = KasperskyConfig::from_source(&ConfigSource::from_parts(env, None)).expect("config");
    let enrichment =
        Enricher::new(&config, Duration::from_secs(5)).expect("enricher").enrich(&file_input()).expect("success");
    let request = &standin.requests()[0];
    assert_eq!((request.service.as_str(), request.object.as_str()), ("opentip", MD5));
    assert_eq!(request.header("x-api-key"), Some(OPENTIP_KEY));
    let kinds: Vec<&str> = enrichment.objects.iter().filter_map(|o| o["type"].as_str()).collect();
    assert!(kinds.contains(&"note"), "{kinds:?}");
    assert!(enrichment.warnings.is_empty(), "{:?}", enrichment.warnings);
}
