//! The objects the connector creates, with the fields, markings and author the Python connector
//! (connectors-sdk models, serialised by stix2) gives them. Cyber observables carry the author and
//! score as `x_opencti_created_by_ref` / `x_opencti_score`, as the SDK writes them.

use serde_json::{Map, Value, json};

use super::id;
use super::timestamp::Timestamp;

pub const AUTHOR_NAME: &str = "Kaspersky Enrichment";
/// `identity--` of the organisation "Kaspersky Enrichment" (see [`id::identity`]).
pub const AUTHOR_ID: &str = "identity--204d1078-cb63-5ef2-b6ae-aef1df5bb8a9";
/// stix2's fixed TLP:AMBER marking definition.
pub const TLP_AMBER_ID: &str = "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82";
/// OpenCTI's TLP:CLEAR, a statement marking with `x_opencti_definition*` (the SDK's fixed id).
pub const TLP_CLEAR_ID: &str = "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9";
/// The OpenCTI extension of cyber observables (score, labels…).
pub const OCTI_SCO_EXTENSION: &str = "extension-definition--f93e2c80-4231-4f9a-af8b-95c9bd566a82";
pub const NOTE_ABSTRACT: &str = "Kaspersky Detections Info";

/// Which TLP marking an object gets: sectors, countries and autonomous systems are CLEAR, the rest AMBER.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tlp {
    Clear,
    Amber,
}

impl Tlp {
    fn id(self) -> &'static str {
        match self {
            Tlp::Clear => TLP_CLEAR_ID,
            Tlp::Amber => TLP_AMBER_ID,
        }
    }
}

/// Builds objects stamped with one `created`/`modified` time (one enrichment's "now").
#[derive(Debug, Clone, Copy)]
pub struct Builder {
    now: Timestamp,
}

impl Builder {
    pub fn new(now: Timestamp) -> Builder {
        Builder { now }
    }

    /// The author: organisation "Kaspersky Enrichment" (no author or marking of its own).
    pub fn author(&self) -> Value {
        let now = self.now.stix_millis();
        json!({
            "type": "identity", "spec_version": "2.1", "id": AUTHOR_ID, "created": now, "modified": now,
            "name": AUTHOR_NAME, "identity_class": "organization",
        })
    }

    pub fn tlp_clear(&self) -> Value {
        json!({
            "type": "marking-definition", "spec_version": "2.1", "id": TLP_CLEAR_ID, "created": self.now.stix_millis(),
            "definition_type": "statement", "definition": {"statement": "custom"},
            "x_opencti_definition": "TLP:CLEAR", "x_opencti_definition_type": "TLP",
        })
    }

    pub fn tlp_amber(&self) -> Value {
        json!({
            "type": "marking-definition", "spec_version": "2.1", "id": TLP_AMBER_ID, "created": "2017-01-20T00:00:00.000Z",
            "definition_type": "tlp", "name": "TLP:AMBER", "definition": {"tlp": "amber"},
        })
    }

    /// A url, domain-name, ipv4-addr or ipv6-addr observable (TLP:AMBER), scored when `score` is given.
    pub fn value_observable(&self, kind: &str, value: &str, score: Option<i64>) -> Value {
        let mut object = sco_head(kind, id::value_sco(kind, value));
        object.insert("value".into(), json!(value));
        sco_tail(object, Tlp::Amber, score)
    }

    /// A file known by its MD5 (TLP:AMBER, scored).
    pub fn file_md5(&self, md5: &str, score: Option<i64>) -> Value {
        let hashes = json!({ "MD5": md5 });
        let mut object = sco_head("file", id::file(hashes.as_object().unwrap_or(&Map::new()), None));
        object.insert("hashes".into(), hashes);
        sco_tail(object, Tlp::Amber, score)
    }

    /// An autonomous system (TLP:CLEAR); `number` is the integer TIP gave.
    pub fn autonomous_system(&self, number: i64) -> Value {
        let mut object = sco_head("autonomous-system", id::autonomous_system(&json!(number)));
        object.insert("number".into(), json!(number));
        sco_tail(object, Tlp::Clear, None)
    }

    /// A country named with what TIP gives (an ISO code), TLP:CLEAR.
    pub fn country(&self, name: &str) -> Value {
        let now = self.now.stix_millis();
        json!({
            "type": "location", "spec_version": "2.1", "id": id::location(name, "Country"),
            "created_by_ref": AUTHOR_ID, "created": now, "modified": now, "name": name, "country": name,
            "object_marking_refs": [TLP_CLEAR_ID], "x_opencti_location_type": "Country",
        })
    }

    /// A sector (identity of class `class`), TLP:CLEAR.
    pub fn sector(&self, name: &str) -> Value {
        let now = self.now.stix_millis();
        json!({
            "type": "identity", "spec_version": "2.1", "id": id::identity(name, "class"),
            "created_by_ref": AUTHOR_ID, "created": now, "modified": now, "name": name, "identity_class": "class",
            "object_marking_refs": [TLP_CLEAR_ID],
        })
    }

    /// The note of detections about `object_ref`: `created` is now, as in the Python connector
    /// (so its id differs on every run), TLP:AMBER.
    pub fn note(&self, object_ref: &str, content: &str) -> Value {
        json!({
            "type": "note", "spec_version": "2.1", "id": id::note(content, Some(self.now), Some(NOTE_ABSTRACT)),
            "created_by_ref": AUTHOR_ID, "created": self.now.stix_millis(), "modified": self.now.stix_millis(),
            "abstract": NOTE_ABSTRACT, "content": content, "object_refs": [object_ref],
            "object_marking_refs": [TLP_AMBER_ID],
        })
    }

    /// A relationship (TLP:AMBER), with start/stop times when TIP gave first/last seen.
    pub fn relationship(&self, kind: &str, source: &str, target: &str, times: Option<(Timestamp, Timestamp)>) -> Value {
        let now = self.now.stix_millis();
        let (start, stop) = times.map_or((None, None), |(start, stop)| (Some(start), Some(stop)));
        let mut object = json!({
            "type": "relationship", "spec_version": "2.1", "id": id::relationship(kind, source, target, start, stop),
            "created_by_ref": AUTHOR_ID, "created": now, "modified": now,
            "relationship_type": kind, "source_ref": source, "target_ref": target,
        });
        if let Some((start, stop)) = times {
            object["start_time"] = json!(start.stix());
            object["stop_time"] = json!(stop.stix());
        }
        object["object_marking_refs"] = json!([TLP_AMBER_ID]);
        object
    }
}

fn sco_head(kind: &str, id: String) -> Map<String, Value> {
    let mut object = Map::new();
    object.insert("type".into(), json!(kind));
    object.insert("spec_version".into(), json!("2.1"));
    object.insert("id".into(), json!(id));
    object
}

fn sco_tail(mut object: Map<String, Value>, tlp: Tlp, score: Option<i64>) -> Value {
    object.insert("object_marking_refs".into(), json!([tlp.id()]));
    object.insert("x_opencti_created_by_ref".into(), json!(AUTHOR_ID));
    if let Some(score) = score {
        object.insert("x_opencti_score".into(), json!(score));
    }
    Value::Object(object)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn builder() -> Builder {
        Builder::new(Timestamp::from_unix_micros(1_767_323_045_000_000))
    }

    #[test]
    fn author_and_markings() {
        let b = builder();
        assert_eq!(b.author()["id"], AUTHOR_ID);
        assert_eq!(id::identity(AUTHOR_NAME, "organization"), AUTHOR_ID);
        assert_eq!(b.tlp_clear()["x_opencti_definition"], "TLP:CLEAR");
        assert_eq!(b.tlp_amber()["definition"]["tlp"], "amber");
    }

    #[test]
    fn observables_carry_author_marking_and_score() {
        let url = builder().value_observable("url", "http://example.test/eicar.com", Some(20));
        assert_eq!(
            url,
            json!({"type": "url", "spec_version": "2.1", "id": "url--4bc1ee58-80be-5a6d-aebd-9d3849470c43",
                   "value": "http://example.test/eicar.com", "object_marking_refs": [TLP_AMBER_ID],
                   "x_opencti_created_by_ref": AUTHOR_ID, "x_opencti_score": 20})
        );
        let ip = builder().value_observable("ipv4-addr", "192.0.2.1", None);
        assert!(ip.get("x_opencti_score").is_none());
        let asn = builder().autonomous_system(13335);
        assert_eq!(asn["object_marking_refs"], json!([TLP_CLEAR_ID]));
        assert_eq!(asn["id"], "autonomous-system--0204c07d-e4dd-5f14-a3d5-c93cb1c5a9fc");
        assert_eq!(builder().file_md5("44d88612fea8a8f36de82e1278abb02f", Some(100))["x_opencti_score"], 100);
    }

    #[test]
    fn relationship_times_are_stix_and_hashed_as_python_isoformat() {
        let start = Timestamp::parse_tip("2026-01-02T03:04Z").unwrap();
        let stop = start.plus_minutes(1);
        let r = builder().relationship(
            "related-to",
            "file--11111111-1111-4111-8111-111111111111",
            "url--bd9b71ea-b359-5277-8695-10f0612bd2f8",
            Some((start, stop)),
        );
        assert_eq!(r["id"], "relationship--aa7bc4a3-03e2-5349-ad88-119e6a08fca5");
        assert_eq!(
            (r["start_time"].as_str(), r["stop_time"].as_str()),
            (Some("2026-01-02T03:04:00Z"), Some("2026-01-02T03:05:00Z"))
        );
    }

    #[test]
    fn note_created_is_the_builders_time() {
        let note = builder().note("file--11111111-1111-4111-8111-111111111111", "| a |\n");
        assert_eq!(note["id"], "note--9a22f016-b10b-5e99-acf0-c31806067ea4");
        assert_eq!(note["created"], "2026-01-02T03:04:05.000Z");
    }
}
