//! Golden parity: each case under `tests/golden/` holds what the real Python connector (pycti
//! 7.260817.0) received, the TIP answer it got, and the bundle it pushed (see tests/golden/README.md).
//! Our Enricher runs on the same input against the TIP stand-in serving the same answer; the
//! objects must be the same, in the same order, with the same ids and fields. Only `created` and
//! `modified` (the time of the run) are left out of the comparison; the note's id, which hashes its
//! `created`, is checked by running at the Python note's time.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use opencti_kaspersky::config::ConfigSource;
use opencti_kaspersky::enrich::{Enricher, EnrichmentInput};
use opencti_kaspersky::kaspersky::KasperskyConfig;
use opencti_kaspersky::stix::timestamp::Timestamp;
use serde_json::Value;

use crate::tip_standin::{StandIn, TIP_TOKEN};

/// The sections the golden run configured (and the transport tests): every one the Python
/// connector supports.
pub(crate) const SECTIONS: [(&str, &str); 4] = [
    (
        "KASPERSKY_FILE_SECTIONS",
        "LicenseInfo,Zone,FileGeneralInfo,DetectionsInfo,FileDownloadedFromUrls,Industries,FileNames",
    ),
    (
        "KASPERSKY_IPV4_SECTIONS",
        "LicenseInfo,Zone,IpGeneralInfo,FilesDownloadedFromIp,HostedUrls,IpWhoIs,IpDnsResolutions,Industries",
    ),
    (
        "KASPERSKY_DOMAIN_SECTIONS",
        "LicenseInfo,Zone,DomainGeneralInfo,DomainDnsResolutions,FilesDownloaded,FilesAccessed,Industries",
    ),
    ("KASPERSKY_URL_SECTIONS", "LicenseInfo,Zone,UrlGeneralInfo,FilesDownloaded,FilesAccessed,Industries"),
];

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

fn read(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub(crate) fn enricher(standin: &StandIn) -> Enricher {
    let mut env: BTreeMap<String, String> = SECTIONS.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    env.insert("KASPERSKY_API_KEY".into(), TIP_TOKEN.into());
    env.insert("KASPERSKY_API_BASE_URL".into(), standin.url());
    let config = KasperskyConfig::from_source(&ConfigSource::from_parts(env, None)).expect("config");
    Enricher::new(&config, Duration::from_secs(10)).expect("enricher")
}

pub(crate) fn input(case: &Value) -> EnrichmentInput {
    EnrichmentInput {
        entity: case["enrichment_entity"].clone(),
        stix_entity: case["stix_entity"].clone(),
        stix_objects: case["stix_objects"].as_array().cloned().unwrap_or_default(),
    }
}

/// The objects without the run's own times.
fn without_times(objects: &[Value]) -> Vec<Value> {
    objects
        .iter()
        .map(|object| {
            let mut object = object.clone();
            if let Some(map) = object.as_object_mut() {
                // TLP:AMBER's `created` is a fixed date: it stays compared.
                if map.get("id").and_then(Value::as_str) != Some(opencti_kaspersky::stix::objects::TLP_AMBER_ID) {
                    map.remove("created");
                    map.remove("modified");
                }
            }
            object
        })
        .collect()
}

fn cases() -> Vec<(String, PathBuf)> {
    let mut cases: Vec<(String, PathBuf)> = std::fs::read_dir(golden_dir())
        .expect("tests/golden")
        .filter_map(Result::ok)
        .filter(|entry| entry.path().join("expected.json").is_file())
        .map(|entry| (entry.file_name().to_string_lossy().into_owned(), entry.path()))
        .collect();
    cases.sort();
    cases
}

#[test]
fn every_golden_case_gives_the_python_bundle() {
    let cases = cases();
    assert!(cases.len() >= 6, "golden cases missing: {cases:?}");
    let standin = StandIn::start();
    let enricher = enricher(&standin);
    for (name, dir) in cases {
        let case = read(&dir.join("input.json"));
        let tip = read(&dir.join("tip.json"));
        let expected = read(&dir.join("expected.json"));
        let object =
            tip["request"]["path"].as_str().unwrap_or_default().splitn(4, '/').nth(3).unwrap_or_default().to_owned();
        standin.force(&object, 200, &[], &tip["answer"].to_string());
        let expected_objects = expected["objects"].as_array().cloned().unwrap_or_default();
        // The note's created (hence its id) is the Python run's time; other cases run at any time.
        let now = expected_objects
            .iter()
            .find(|o| o["type"] == "note")
            .and_then(|note| note["created"].as_str())
            .map(|created| Timestamp::parse_rfc3339(created).expect("note created"))
            .unwrap_or_else(Timestamp::now);
        let before = standin.requests().len();
        let enrichment = enricher.enrich_at(&input(&case), now).unwrap_or_else(|e| panic!("{name}: {e}"));

        let python_message = expected["message"].as_str().unwrap_or_default();
        if tip["answer"]["Zone"] == "Grey" {
            // Ours says first that Kaspersky knows nothing (docs/opencti-enrichment.md, differences).
            assert!(enrichment.message.starts_with("Kaspersky has no verdict"), "{name}: {}", enrichment.message);
            assert!(enrichment.message.ends_with(python_message), "{name}: {}", enrichment.message);
        } else {
            assert_eq!(enrichment.message, python_message, "{name}: work message");
        }
        let ours = without_times(&enrichment.objects);
        let python = without_times(&expected_objects);
        for (index, (a, b)) in ours.iter().zip(&python).enumerate() {
            assert_eq!(a, b, "{name}: object {index} differs");
        }
        assert_eq!(ours.len(), python.len(), "{name}: object count");
        assert!(enrichment.warnings.is_empty(), "{name}: {:?}", enrichment.warnings);

        // The same request as the Python connector's: type, object, sections, count, format.
        let requests = standin.requests();
        assert_eq!(requests.len(), before + 1, "{name}: one lookup");
        let request = &requests[before];
        let path = tip["request"]["path"].as_str().unwrap_or_default();
        assert_eq!(format!("/api/{}/{}", request.kind, request.object), path, "{name}");
        for key in ["sections", "count", "format"] {
            assert_eq!(request.query(key), tip["request"]["query"][key].as_str(), "{name}: {key}");
        }
        assert_eq!(request.header("authorization"), Some(format!("Bearer {TIP_TOKEN}").as_str()));
    }
}

/// The Python note: its id is the hash of its content, abstract and `created` as Python wrote it.
#[test]
fn the_python_note_id_is_reproduced_from_its_created_time() {
    let expected = read(&golden_dir().join("file/expected.json"));
    let note =
        expected["objects"].as_array().and_then(|o| o.iter().find(|o| o["type"] == "note")).expect("a note").clone();
    let created = Timestamp::parse_rfc3339(note["created"].as_str().unwrap_or_default()).expect("created");
    let id = opencti_kaspersky::stix::id::note(
        note["content"].as_str().unwrap_or_default(),
        Some(created),
        Some("Kaspersky Detections Info"),
    );
    assert_eq!(Some(id.as_str()), note["id"].as_str());
}
