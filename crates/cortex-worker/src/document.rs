//! The two documents a job can end with, in cortexutils' key order.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::analyzer::{AnalyzerReport, Artifact, Taxonomy};
use crate::json::to_python_json;
use crate::operation::Operation;
use crate::report::Report;

#[derive(Serialize)]
struct Success<'a> {
    success: bool,
    full: &'a Map<String, Value>,
    operations: &'a [Operation],
}

#[derive(Serialize)]
struct Summary<'a> {
    taxonomies: &'a [Taxonomy],
}

/// cortexutils' `Analyzer.report` key order.
#[derive(Serialize)]
struct AnalyzerSuccess<'a> {
    success: bool,
    summary: Summary<'a>,
    artifacts: &'a [Artifact],
    operations: &'a [Operation],
    full: &'a Map<String, Value>,
}

#[derive(Serialize)]
struct Failure<'a> {
    success: bool,
    input: &'a Value,
    #[serde(rename = "errorMessage")]
    error_message: &'a str,
}

/// `{"success": true, "full": {...}, "operations": [...]}`.
pub(crate) fn success(report: &Report) -> Vec<u8> {
    let document = Success { success: true, full: report.full(), operations: report.operations() };
    // Maps with string keys and plain enums cannot fail to serialise; stay defensive anyway.
    to_python_json(&document).unwrap_or_else(|error| {
        failure(&Value::Object(Map::new()), &format!("Internal error: cannot encode the report: {error}"))
    })
}

/// `{"success": true, "summary": {"taxonomies": [...]}, "artifacts": [...], "operations": [...], "full": {...}}`.
pub(crate) fn analyzer_success(report: &AnalyzerReport) -> Vec<u8> {
    let document = AnalyzerSuccess {
        success: true,
        summary: Summary { taxonomies: report.taxonomies() },
        artifacts: report.artifacts(),
        operations: report.operations(),
        full: report.full(),
    };
    to_python_json(&document).unwrap_or_else(|error| {
        failure(&Value::Object(Map::new()), &format!("Internal error: cannot encode the report: {error}"))
    })
}

/// `{"success": false, "input": <input>, "errorMessage": "..."}`; `input` must already be redacted.
pub(crate) fn failure(input: &Value, message: &str) -> Vec<u8> {
    let document = Failure { success: false, input, error_message: message };
    to_python_json(&document).unwrap_or_else(|_| {
        let fallback = Failure { success: false, input: &Value::Object(Map::new()), error_message: message };
        to_python_json(&fallback).unwrap_or_default()
    })
}
