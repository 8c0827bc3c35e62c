//! The TheHive client against the TheHive stand-in over real HTTP on loopback: the version probe
//! order, the API key and custom field checks, hints naming the caller's settings, and the file
//! name a log's upload carries.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use cortex_http::{HttpConfig, HttpSettings, HttpUrl};
use safekeeping::Secret;
use serde_json::{Value, json};
use test_support::{TheHiveOptions, TheHiveSandbox, TheHiveVersion};
use thehive::client::{TheHiveClient, TheHiveSettings};
use thehive::records::{LogFile, NewCase};
use thehive::{Naming, TheHiveError, Version};

fn stand_in(version: TheHiveVersion) -> TheHiveSandbox {
    TheHiveSandbox::start(TheHiveOptions::new(version)).unwrap()
}

fn client(hive: &TheHiveSandbox, key: &str, version: Option<Version>, naming: &'static Naming) -> TheHiveClient {
    let settings = TheHiveSettings {
        url: HttpUrl::parse(&hive.url()).unwrap(),
        api_key: Secret::new(key.to_owned()),
        organisation: None,
        version,
        attachment_max_bytes: 1_000_000,
    };
    let http = HttpConfig::new(&HttpSettings::default(), Duration::from_secs(5), "thehive-tests");
    TheHiveClient::new(settings, &http, naming).unwrap()
}

fn endpoints(hive: &TheHiveSandbox) -> Vec<String> {
    hive.journal().into_iter().map(|e| e.endpoint).collect()
}

#[test]
fn the_version_is_configured_else_hinted_else_probed_v1_first() {
    let th4 = stand_in(TheHiveVersion::V4);
    let probing = client(&th4, th4.api_key(), None, &Naming::RESPONDER);
    assert_eq!(probing.version().unwrap(), Version::V4);
    assert_eq!(probing.version().unwrap(), Version::V4, "asked once");
    // TheHive 4 has no v1 status route here: the v0 one is asked after its 404.
    assert_eq!(endpoints(&th4), ["GET /api/v1/status", "GET /api/status"]);

    let th5 = stand_in(TheHiveVersion::V5);
    assert_eq!(client(&th5, th5.api_key(), None, &Naming::RESPONDER).version().unwrap(), Version::V5);
    assert_eq!(endpoints(&th5), ["GET /api/v1/status"]);

    // A configured version beats the hint, a hint beats the probe; neither asks TheHive.
    let configured = client(&th5, th5.api_key(), Some(Version::V4), &Naming::RESPONDER).with_hint(Some(Version::V5));
    assert_eq!(configured.version().unwrap(), Version::V4);
    let hinted = client(&th5, th5.api_key(), None, &Naming::RESPONDER).with_hint(Some(Version::V5));
    assert_eq!(hinted.version().unwrap(), Version::V5);
    assert_eq!(endpoints(&th5).len(), 1);
}

#[test]
fn a_wrong_api_key_is_found_by_the_user_check_and_named_per_program() {
    for (version, route) in
        [(TheHiveVersion::V4, "GET /api/user/current"), (TheHiveVersion::V5, "GET /api/v1/user/current")]
    {
        let hive = stand_in(version);
        assert_eq!(
            client(&hive, hive.api_key(), None, &Naming::SYNC_CONFIG).current_user().unwrap(),
            "mdr@soc.example"
        );
        // The status routes answer without a key, as TheHive's do: only the user check fails.
        let wrong = client(&hive, "SENTINEL-wrong", None, &Naming::SYNC_CONFIG);
        assert!(wrong.version().is_ok());
        let err = wrong.current_user().unwrap_err().to_string();
        assert!(err.contains("HTTP 401") && err.ends_with("(check `thehive.api_key`)"), "{err}");
        assert!(!err.contains("SENTINEL"), "{err}");
        let err = client(&hive, "SENTINEL-wrong", None, &Naming::RESPONDER).current_user().unwrap_err().to_string();
        assert!(err.ends_with("(check `thehive_api_key`)"), "{err}");
        assert_eq!(hive.calls(route).iter().filter(|e| e.status == 401).count(), 2, "{version:?}");
    }
}

#[test]
fn the_incident_field_must_be_defined() {
    for version in [TheHiveVersion::V4, TheHiveVersion::V5] {
        let mut options = TheHiveOptions::new(version);
        options.custom_fields = vec!["mdr-id".to_owned()];
        let hive = TheHiveSandbox::start(options).unwrap();
        let c = client(&hive, hive.api_key(), None, &Naming::SYNC_CONFIG);
        c.check_case_field("mdr-id").unwrap();
        let err = c.check_case_field("mdr-incident-id").unwrap_err();
        assert!(matches!(err, TheHiveError::NoCustomField { .. }), "{err:?}");
        let text = err.to_string();
        assert!(text.contains("no case custom field `mdr-incident-id`"), "{text}");
        assert!(text.contains("set `thehive.incident_custom_field`"), "{text}");
        // The display name is not the field's name.
        assert!(c.check_case_field("Field mdr-id").is_err(), "{version:?}");
    }
}

#[test]
fn a_renamed_incident_field_finds_creates_and_links_cases() {
    for version in [TheHiveVersion::V4, TheHiveVersion::V5] {
        let mut options = TheHiveOptions::new(version);
        options.custom_fields = vec!["soc-mdr-ref".to_owned(), "escalated".to_owned()];
        let hive = TheHiveSandbox::start(options).unwrap();
        let c = client(&hive, hive.api_key(), None, &Naming::SYNC_CONFIG);
        let new = new_case("-Nz1");
        let created = c.create_case("soc-mdr-ref", &new).unwrap();
        assert_eq!(c.find_cases("soc-mdr-ref", "-Nz1").unwrap().len(), 1, "{version:?}");
        assert!(c.find_cases("mdr-incident-id", "-Nz1").unwrap().is_empty());
        assert!(!created.is_closed(&[]));
        // A field TheHive does not define is refused, as by TheHive.
        let err = c.create_case("mdr-incident-id", &new).unwrap_err().to_string();
        assert!(err.contains("HTTP 404") && err.contains("CustomField mdr-incident-id"), "{err}");

        let case = c.case(&created.id).unwrap().unwrap();
        c.link_case(&case, "soc-mdr-ref", "-Nz2").unwrap();
        assert_eq!(c.find_cases("soc-mdr-ref", "-Nz2").unwrap().len(), 1, "{version:?}");
    }
}

#[test]
fn upload_names_reach_thehive_as_plain_names() {
    for version in [TheHiveVersion::V4, TheHiveVersion::V5] {
        let hive = stand_in(version);
        let c = client(&hive, hive.api_key(), None, &Naming::SYNC_CONFIG);
        let new = new_case("-Nz1");
        let case = c.create_case("mdr-incident-id", &new).unwrap();
        let task = c.create_task(&case.id, "MDR Response", "default", "d").unwrap();
        let hostile = [
            ("../../etc/passwd", "passwd"),
            ("..\\..\\boot.ini", "boot.ini"),
            ("a\"; name=\"_json\r\nX-Injected: 1\r\n\r\n.txt", "a_; name=__json__X-Injected: 1____.txt"),
            ("..", "attachment"),
        ];
        for (name, _) in hostile {
            let file = LogFile { name: name.to_owned(), bytes: b"data".to_vec() };
            c.add_log(&task.id, &format!("file {name:?}"), Some(file)).unwrap();
        }
        let logs = hive.records().2;
        let received: Vec<&Value> =
            logs.iter().flat_map(|l| l["attachments"].as_array().unwrap()).map(|a| &a["name"]).collect();
        let expected: Vec<Value> = hostile.iter().map(|(_, plain)| json!(plain)).collect();
        assert_eq!(received, expected.iter().collect::<Vec<_>>(), "{version:?}");
        // Each file arrived whole, in its own log, with the message intact.
        assert!(logs.iter().all(|l| l["attachments"][0]["size"] == 4), "{logs:?}");
        assert_eq!(logs.len(), hostile.len());
    }
}

/// A case for the MDR incident `incident_id`.
fn new_case(incident_id: &str) -> NewCase {
    NewCase {
        title: "t".to_owned(),
        description: "d".to_owned(),
        severity: 2,
        tlp: 2,
        pap: 2,
        incident_id: incident_id.to_owned(),
    }
}
