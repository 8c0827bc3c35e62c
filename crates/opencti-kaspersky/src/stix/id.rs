//! Deterministic STIX identifiers: `<type>--<UUIDv5>` in the STIX namespace over the canonical JSON
//! (keys sorted, no spaces, non-ASCII kept as UTF-8) of the properties that make an object unique.
//!
//! The inputs per type follow pycti 7.260817.0 (`generate_id` of Identity, Location, Note,
//! StixCoreRelationship) and stix2 3.0.2 (id-contributing properties of cyber observables). The
//! known values in the tests were computed by those libraries.

use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::timestamp::Timestamp;

/// The namespace both pycti and stix2 use for name-based STIX ids.
const STIX_NAMESPACE: Uuid = Uuid::from_u128(0x00abedb4_aa42_466c_9c01_fed23315a9b7);

/// `<kind>--` followed by the UUIDv5 of `data`'s canonical JSON.
pub fn deterministic(kind: &str, data: &Value) -> String {
    let name = canonical_json(data);
    format!("{kind}--{}", Uuid::new_v5(&STIX_NAMESPACE, name.as_bytes()))
}

/// RFC 8785-style canonical JSON as Python's `canonicalize(..., utf8=False)` writes it: object keys
/// sorted, compact separators, strings escaped as `json.dumps(ensure_ascii=False)` does. The
/// workspace's `serde_json` keeps insertion order, so keys are sorted here explicitly.
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            // JCS sorts by UTF-16 code units; for the keys used here (ASCII) that is byte order.
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_by(|a, b| a.encode_utf16().cmp(b.encode_utf16()));
            out.push('{');
            for (index, key) in keys.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String((*key).clone()).to_string());
                out.push(':');
                write_canonical(&map[*key], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        // serde_json escapes strings as Python's encoder does with ensure_ascii=False.
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// A cyber observable whose id comes from one `value` property (url, domain-name, ipv4-addr, ipv6-addr).
pub fn value_sco(kind: &str, value: &str) -> String {
    deterministic(kind, &json!({ "value": value }))
}

/// An autonomous system: its `number`.
pub fn autonomous_system(number: &Value) -> String {
    deterministic("autonomous-system", &json!({ "number": number }))
}

/// A file: stix2 keeps one hash, the first of MD5, SHA-1, SHA-256, SHA-512 present (then any
/// other), plus `name` when set.
pub fn file(hashes: &Map<String, Value>, name: Option<&str>) -> String {
    let mut data = Map::new();
    let preferred = ["MD5", "SHA-1", "SHA-256", "SHA-512"];
    let chosen =
        preferred.iter().find_map(|algorithm| hashes.get_key_value(*algorithm)).or_else(|| hashes.iter().next());
    if let Some((algorithm, hash)) = chosen {
        data.insert("hashes".into(), json!({ algorithm.clone(): hash }));
    }
    if let Some(name) = name {
        data.insert("name".into(), json!(name));
    }
    deterministic("file", &Value::Object(data))
}

/// An identity (organisation, sector class): name lower-cased and trimmed, class lower-cased.
pub fn identity(name: &str, identity_class: &str) -> String {
    let data = json!({ "name": python_lower(name).trim(), "identity_class": identity_class.to_lowercase() });
    deterministic("identity", &data)
}

/// A location other than a position: name lower-cased and trimmed, with its OpenCTI location type.
pub fn location(name: &str, location_type: &str) -> String {
    deterministic("location", &json!({ "name": python_lower(name).trim(), "x_opencti_location_type": location_type }))
}

/// A relationship: type, ends, and the times when given (as Python's `isoformat()` writes them).
pub fn relationship(
    relationship_type: &str,
    source_ref: &str,
    target_ref: &str,
    start_time: Option<Timestamp>,
    stop_time: Option<Timestamp>,
) -> String {
    let mut data =
        json!({ "relationship_type": relationship_type, "source_ref": source_ref, "target_ref": target_ref });
    // pycti adds stop_time only together with start_time.
    if let Some(start) = start_time {
        data["start_time"] = json!(start.python_isoformat());
        if let Some(stop) = stop_time {
            data["stop_time"] = json!(stop.python_isoformat());
        }
    }
    deterministic("relationship", &data)
}

/// A note: trimmed content, `created` as `isoformat()`, and the trimmed abstract when not blank.
pub fn note(content: &str, created: Option<Timestamp>, abstract_: Option<&str>) -> String {
    let mut data = json!({ "content": content.trim() });
    if let Some(created) = created {
        data["created"] = json!(created.python_isoformat());
    }
    if let Some(abstract_) = abstract_.map(str::trim).filter(|text| !text.is_empty()) {
        data["attribute_abstract"] = json!(abstract_);
    }
    deterministic("note", &data)
}

/// Python's `str.lower()` for the names used here (Unicode lower case, as Rust's).
fn python_lower(text: &str) -> String {
    text.to_lowercase()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    // Every expected id below was computed by pycti 7.260817.0 / stix2 3.0.2 (connectors-sdk models).

    #[test]
    fn canonical_json_sorts_keys_and_is_compact() {
        let value = json!({"b": 1, "a": {"d": [true, null], "c": "é\n\"x\""}});
        assert_eq!(canonical_json(&value), r#"{"a":{"c":"é\n\"x\"","d":[true,null]},"b":1}"#);
    }

    #[test]
    fn observables() {
        assert_eq!(value_sco("url", "http://example.test/eicar.com"), "url--4bc1ee58-80be-5a6d-aebd-9d3849470c43");
        assert_eq!(value_sco("domain-name", "example.test"), "domain-name--48827ca8-3d15-588f-8d9a-65f5d2c6673b");
        assert_eq!(value_sco("ipv4-addr", "192.0.2.1"), "ipv4-addr--8dded90c-40c0-545a-8027-5b212bb37e8e");
        assert_eq!(value_sco("ipv6-addr", "2001:db8::1"), "ipv6-addr--6469e3a9-b053-5e34-a025-9396ae051d26");
        assert_eq!(autonomous_system(&json!(13335)), "autonomous-system--0204c07d-e4dd-5f14-a3d5-c93cb1c5a9fc");
        let md5 = json!({"MD5": "44d88612fea8a8f36de82e1278abb02f"});
        assert_eq!(file(md5.as_object().unwrap(), None), "file--5a0c55a1-48a3-5003-9776-42946d1054cb");
        // MD5 wins over the longer hashes, whatever the order.
        let all = json!({"SHA-256": "x", "SHA-1": "y", "MD5": "44d88612fea8a8f36de82e1278abb02f"});
        assert_eq!(file(all.as_object().unwrap(), None), "file--5a0c55a1-48a3-5003-9776-42946d1054cb");
    }

    #[test]
    fn domain_objects() {
        assert_eq!(identity("Kaspersky Enrichment", "organization"), "identity--204d1078-cb63-5ef2-b6ae-aef1df5bb8a9");
        assert_eq!(identity("Finance", "class"), "identity--283d4ea0-b6f1-5421-bdab-117a33fdb2b7");
        assert_eq!(identity("  FINANCE ", "Class"), "identity--283d4ea0-b6f1-5421-bdab-117a33fdb2b7");
        assert_eq!(location("US", "Country"), "location--1ff17ffc-2cdc-5be5-931c-a3fb392dc43c");
    }

    #[test]
    fn relationships_and_notes() {
        let file = "file--11111111-1111-4111-8111-111111111111";
        let sector = "identity--283d4ea0-b6f1-5421-bdab-117a33fdb2b7";
        assert_eq!(
            relationship("related-to", file, sector, None, None),
            "relationship--0733f377-7efb-5701-b089-455b58e0ae1e"
        );
        let url = "url--bd9b71ea-b359-5277-8695-10f0612bd2f8";
        let start = Timestamp::parse_tip("2026-01-02T03:04Z").unwrap();
        let stop = Timestamp::parse_tip("2026-01-02T03:05Z").unwrap();
        assert_eq!(
            relationship("related-to", file, url, Some(start), Some(stop)),
            "relationship--aa7bc4a3-03e2-5349-ad88-119e6a08fca5"
        );
        let created = Timestamp::from_unix_micros(1_767_323_045_000_000);
        assert_eq!(
            note("| a |\n", Some(created), Some("Kaspersky Detections Info")),
            "note--9a22f016-b10b-5e99-acf0-c31806067ea4"
        );
    }
}
