//! The shipped flavour files: well-formed, and a job configured from them works end to end.

use std::path::Path;

use serde_json::{Map, Value, json};

use crate::common::{OPENTIP_KEY, StandIn, TIP_TOKEN, input, run};

fn flavour(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../analyzers/KasperskyTIP").join(format!("{name}.json"));
    serde_json::from_slice(&std::fs::read(path).expect("flavour file")).expect("flavour is JSON")
}

/// What Cortex sends: the flavour's fixed config, every item (its default, else null), then the values set.
fn cortex_config(flavour: &Value, set: &[(&str, Value)]) -> Value {
    let mut config: Map<String, Value> = flavour["config"].as_object().expect("config").clone();
    for item in flavour["configurationItems"].as_array().expect("items") {
        let name = item["name"].as_str().expect("name").to_owned();
        config.insert(name, item.get("defaultValue").cloned().unwrap_or(Value::Null));
    }
    for (name, value) in set {
        config.insert((*name).to_owned(), value.clone());
    }
    Value::Object(config)
}

#[test]
fn flavours_are_complete_and_run() {
    let standin = StandIn::start();
    for (name, backend, key) in
        [("KasperskyTIP_Lookup", "tip", TIP_TOKEN), ("KasperskyOpenTIP_Lookup", "opentip", OPENTIP_KEY)]
    {
        let flavour = flavour(name);
        assert_eq!(flavour["name"], name);
        for field in ["version", "author", "url", "license", "description", "command", "baseConfig"] {
            assert!(flavour[field].as_str().is_some_and(|text| !text.is_empty()), "{name}.{field}");
        }
        assert_eq!(flavour["command"], "KasperskyTIP/kaspersky-tip");
        assert_eq!(flavour["baseConfig"], "KasperskyTIP");
        assert_eq!(flavour["config"]["backend"], backend);
        assert_eq!(flavour["dataTypeList"], json!(["hash", "ip", "domain", "fqdn", "url"]));
        for item in flavour["configurationItems"].as_array().expect("items") {
            for field in ["name", "description", "type", "multi", "required"] {
                assert!(item.get(field).is_some(), "{name}: item {item} lacks {field}");
            }
        }
        let config = cortex_config(&flavour, &[("api_key", json!(key)), ("api_url", json!(standin.url()))]);
        let outcome = run(&input("ip", "198.51.100.7", 2, config));
        assert_eq!(outcome.code, 0, "{name}: {}", outcome.raw);
        assert_eq!(outcome.full()["zone"], "Orange");
        assert_eq!(outcome.full()["score"], 80);
    }
}
