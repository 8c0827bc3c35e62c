//! The flavour files in responders/KasperskyMDR are definitions Cortex accepts, and each names a
//! binary this crate builds.
#![allow(clippy::unwrap_used)]

use serde_json::Value;

use crate::support::{CLOSE, CREATE, DECIDE, SEND};

fn flavours() -> Vec<(String, Value)> {
    let dir = crate::support::workspace_root().join("responders/KasperskyMDR");
    let mut found: Vec<(String, Value)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap(),
            )
        })
        .collect();
    found.sort_by(|a, b| a.0.cmp(&b.0));
    found
}

const BINARIES: &[(&str, &str)] = &[
    ("mdr-send-task-log", SEND),
    ("mdr-close-incident", CLOSE),
    ("mdr-response-decision", DECIDE),
    ("mdr-create-incident", CREATE),
];

#[test]
fn every_flavour_is_a_valid_cortex_definition() {
    let flavours = flavours();
    let names: Vec<&str> = flavours.iter().map(|(_, f)| f["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["MDR_ApproveResponse", "MDR_CloseIncident", "MDR_CreateIncident", "MDR_DeclineResponse", "MDR_SendTaskLog"]
    );
    for (file, flavour) in &flavours {
        assert_eq!(format!("{}.json", flavour["name"].as_str().unwrap()), *file);
        for field in ["name", "version", "author", "url", "license", "description", "command", "baseConfig"] {
            assert!(flavour[field].as_str().is_some_and(|v| !v.trim().is_empty()), "{file}: {field}");
        }
        assert!(!flavour["name"].as_str().unwrap().contains(char::is_whitespace));
        assert_eq!(flavour["baseConfig"], "KasperskyMDR");
        let types = flavour["dataTypeList"].as_array().unwrap();
        assert!(!types.is_empty() && types.iter().all(|t| t.as_str().unwrap().starts_with("thehive:")), "{file}");
        let command = flavour["command"].as_str().unwrap();
        let binary = command.strip_prefix("KasperskyMDR/").unwrap();
        assert!(BINARIES.iter().any(|(name, _)| *name == binary), "{file}: no binary {binary}");
        for item in flavour["configurationItems"].as_array().unwrap() {
            for field in ["name", "description", "type"] {
                assert!(item[field].is_string(), "{file}: item {item}");
            }
            assert!(["string", "text", "number", "boolean"].contains(&item["type"].as_str().unwrap()));
            assert!(item["multi"].is_boolean() && item["required"].is_boolean(), "{file}: item {item}");
        }
    }
}

#[test]
fn flavours_share_one_configuration() {
    let flavours = flavours();
    let first = &flavours[0].1["configurationItems"];
    for (file, flavour) in &flavours {
        assert_eq!(&flavour["configurationItems"], first, "{file} differs: one baseConfig, one set of items");
    }
    let names: Vec<&str> = first.as_array().unwrap().iter().map(|i| i["name"].as_str().unwrap()).collect();
    for original in ["api_url", "client_id", "token_dir", "ssl_cert", "config_path"] {
        assert!(names.contains(&original), "the Python responders' item {original} must stay");
    }
}

#[test]
fn the_flavour_service_is_the_one_the_binary_expects() {
    for (file, flavour) in flavours() {
        let service = flavour["config"]["service"].as_str().unwrap();
        let expected = match flavour["name"].as_str().unwrap() {
            "MDR_SendTaskLog" => "send_task_log",
            "MDR_CloseIncident" => "close_incident",
            "MDR_ApproveResponse" => "confirm_response",
            "MDR_DeclineResponse" => "decline_response",
            "MDR_CreateIncident" => "create_incident",
            other => panic!("unexpected flavour {other}"),
        };
        assert_eq!(service, expected, "{file}");
    }
}
