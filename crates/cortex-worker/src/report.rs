//! What a successful action returns: the `full` report object and the operations TheHive should apply.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::operation::Operation;

/// The content of a success document. `full` is always an object, because Cortex rejects anything else.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Report {
    full: Map<String, Value>,
    operations: Vec<Operation>,
}

impl Report {
    /// A report with this `full` object and no operations.
    pub fn new(full: Map<String, Value>) -> Report {
        Report { full, operations: Vec::new() }
    }

    /// An object is used as `full` as-is; any other value becomes `{"message": value}`.
    pub fn from_value(full: Value) -> Report {
        match full {
            Value::Object(map) => Report::new(map),
            other => Report::new(Map::from_iter([("message".to_owned(), other)])),
        }
    }

    /// A typed report as `full`, serialised as it would be in the document. Fails only for a type
    /// JSON cannot hold (a map with non-text keys).
    pub fn of(full: &impl Serialize) -> Result<Report, serde_json::Error> {
        serde_json::to_value(full).map(Report::from_value)
    }

    /// Adds an operation (builder style).
    pub fn with_operation(mut self, op: Operation) -> Report {
        self.push_operation(op);
        self
    }

    /// Adds an operation.
    pub fn push_operation(&mut self, op: Operation) {
        self.operations.push(op);
    }

    pub fn full(&self) -> &Map<String, Value> {
        &self.full
    }

    pub fn operations(&self) -> &[Operation] {
        &self.operations
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn objects_are_kept_and_other_values_wrapped() {
        let report = Report::from_value(json!({"b": 1, "a": 2}));
        assert_eq!(Value::Object(report.full().clone()), json!({"b": 1, "a": 2}));
        assert_eq!(report.full().keys().collect::<Vec<_>>(), ["b", "a"]);
        for other in [json!("done"), json!([1]), json!(null), json!(3)] {
            let report = Report::from_value(other.clone());
            assert_eq!(Value::Object(report.full().clone()), json!({"message": other}));
        }
    }

    #[test]
    fn operations_keep_their_order() {
        let mut report = Report::new(Map::new()).with_operation(Operation::CloseTask);
        report.push_operation(Operation::MarkAlertAsRead);
        assert_eq!(report.operations(), [Operation::CloseTask, Operation::MarkAlertAsRead]);
    }
}
