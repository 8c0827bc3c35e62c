//! What a successful analyzer returns (docs/cortex-jobs.md#output): `summary` taxonomies, `artifacts`,
//! `operations` and the `full` report, written as `{"success", "summary", "artifacts", "operations", "full"}`.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::operation::Operation;

/// A taxonomy level; TheHive colours the badge by it (cortexutils accepts exactly these four).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TaxonomyLevel {
    Info,
    Safe,
    Suspicious,
    Malicious,
}

impl TaxonomyLevel {
    /// `info`, `safe`, `suspicious` or `malicious`.
    pub fn as_str(self) -> &'static str {
        match self {
            TaxonomyLevel::Info => "info",
            TaxonomyLevel::Safe => "safe",
            TaxonomyLevel::Suspicious => "suspicious",
            TaxonomyLevel::Malicious => "malicious",
        }
    }
}

/// One summary entry, shown by TheHive as `namespace:predicate="value"`; keys in cortexutils' order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Taxonomy {
    pub level: TaxonomyLevel,
    pub namespace: String,
    pub predicate: String,
    pub value: String,
}

impl Taxonomy {
    pub fn new(
        level: TaxonomyLevel,
        namespace: impl Into<String>,
        predicate: impl Into<String>,
        value: impl Into<String>,
    ) -> Taxonomy {
        Taxonomy { level, namespace: namespace.into(), predicate: predicate.into(), value: value.into() }
    }
}

/// An observable the analyzer found, offered to TheHive for import: `{"dataType", "data", …}` like
/// cortexutils' `build_artifact`; unset optional fields and empty `tags` are omitted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Artifact {
    #[serde(rename = "dataType")]
    pub data_type: String,
    pub data: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tlp: Option<u8>,
}

impl Artifact {
    pub fn new(data_type: impl Into<String>, data: impl Into<String>) -> Artifact {
        Artifact { data_type: data_type.into(), data: data.into(), message: None, tags: Vec::new(), tlp: None }
    }

    /// Sets the message (builder style).
    pub fn with_message(mut self, message: impl Into<String>) -> Artifact {
        self.message = Some(message.into());
        self
    }

    /// Adds a tag (builder style).
    pub fn with_tag(mut self, tag: impl Into<String>) -> Artifact {
        self.tags.push(tag.into());
        self
    }

    /// Sets the TLP (builder style).
    pub fn with_tlp(mut self, tlp: u8) -> Artifact {
        self.tlp = Some(tlp);
        self
    }
}

/// The content of an analyzer's success document. `full` is always an object, because Cortex rejects
/// anything else; the summary is always `{"taxonomies": [...]}`, possibly empty.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AnalyzerReport {
    full: Map<String, Value>,
    taxonomies: Vec<Taxonomy>,
    artifacts: Vec<Artifact>,
    operations: Vec<Operation>,
}

impl AnalyzerReport {
    /// A report with this `full` object and nothing else.
    pub fn new(full: Map<String, Value>) -> AnalyzerReport {
        AnalyzerReport { full, ..AnalyzerReport::default() }
    }

    /// An object is used as `full` as-is; any other value becomes `{"message": value}`.
    pub fn from_value(full: Value) -> AnalyzerReport {
        match full {
            Value::Object(map) => AnalyzerReport::new(map),
            other => AnalyzerReport::new(Map::from_iter([("message".to_owned(), other)])),
        }
    }

    /// Adds a taxonomy (builder style).
    pub fn with_taxonomy(mut self, taxonomy: Taxonomy) -> AnalyzerReport {
        self.taxonomies.push(taxonomy);
        self
    }

    /// Adds an artifact (builder style).
    pub fn with_artifact(mut self, artifact: Artifact) -> AnalyzerReport {
        self.artifacts.push(artifact);
        self
    }

    /// Adds an operation (builder style).
    pub fn with_operation(mut self, op: Operation) -> AnalyzerReport {
        self.operations.push(op);
        self
    }

    pub fn push_taxonomy(&mut self, taxonomy: Taxonomy) {
        self.taxonomies.push(taxonomy);
    }

    pub fn push_artifact(&mut self, artifact: Artifact) {
        self.artifacts.push(artifact);
    }

    pub fn push_operation(&mut self, op: Operation) {
        self.operations.push(op);
    }

    pub fn full(&self) -> &Map<String, Value> {
        &self.full
    }

    pub fn taxonomies(&self) -> &[Taxonomy] {
        &self.taxonomies
    }

    pub fn artifacts(&self) -> &[Artifact] {
        &self.artifacts
    }

    pub fn operations(&self) -> &[Operation] {
        &self.operations
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn encode<T: Serialize>(value: &T) -> String {
        String::from_utf8(crate::json::to_python_json(value).unwrap()).unwrap()
    }

    #[test]
    fn taxonomy_keys_follow_cortexutils_order() {
        let taxonomy = Taxonomy::new(TaxonomyLevel::Malicious, "KTIP", "Zone", "Red");
        assert_eq!(
            encode(&taxonomy),
            r#"{"level": "malicious", "namespace": "KTIP", "predicate": "Zone", "value": "Red"}"#
        );
        let levels = [TaxonomyLevel::Info, TaxonomyLevel::Safe, TaxonomyLevel::Suspicious, TaxonomyLevel::Malicious];
        for level in levels {
            assert_eq!(encode(&level), format!("\"{}\"", level.as_str()));
        }
        assert!(TaxonomyLevel::Malicious > TaxonomyLevel::Suspicious);
    }

    #[test]
    fn artifacts_omit_unset_fields() {
        assert_eq!(encode(&Artifact::new("ip", "192.0.2.1")), r#"{"dataType": "ip", "data": "192.0.2.1"}"#);
        let full = Artifact::new("url", "http://x.test/").with_message("m").with_tag("a").with_tag("b").with_tlp(2);
        assert_eq!(
            encode(&full),
            r#"{"dataType": "url", "data": "http://x.test/", "message": "m", "tags": ["a", "b"], "tlp": 2}"#
        );
    }

    #[test]
    fn report_keeps_order_and_wraps_non_objects() {
        let mut report = AnalyzerReport::from_value(json!({"b": 1, "a": 2}))
            .with_taxonomy(Taxonomy::new(TaxonomyLevel::Info, "N", "P", "1"))
            .with_artifact(Artifact::new("hash", "00"))
            .with_operation(Operation::AddTagToArtifact { tag: "t".into() });
        report.push_taxonomy(Taxonomy::new(TaxonomyLevel::Safe, "N", "Q", "2"));
        report.push_artifact(Artifact::new("ip", "::1"));
        report.push_operation(Operation::AddTagToCase { tag: "c".into() });
        assert_eq!(report.full().keys().collect::<Vec<_>>(), ["b", "a"]);
        assert_eq!(report.taxonomies().len(), 2);
        assert_eq!(report.taxonomies()[1].predicate, "Q");
        assert_eq!(report.artifacts()[1].data, "::1");
        assert_eq!(report.operations().len(), 2);
        let wrapped = AnalyzerReport::from_value(json!("text"));
        assert_eq!(Value::Object(wrapped.full().clone()), json!({"message": "text"}));
    }
}
