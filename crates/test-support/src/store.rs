//! The in-memory MDR state: incidents with their children, assets, attachment bytes, history.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use crate::ids::now_ms;
use crate::seed::Seed;

pub(crate) type Object = Map<String, Value>;

/// Author recorded for seeded (SOC-side) history records.
const SOC_AUTHOR: &str = "Security Team";

/// One `incidents/history` record, tagged with its incident.
pub(crate) struct HistoryRecord {
    pub(crate) incident_id: String,
    /// `{"changed_at", "changed_by", "operation", "entity": {<kind>: {...}}}`.
    pub(crate) record: Value,
}

/// Everything the sandbox knows.
pub(crate) struct Store {
    pub(crate) incidents: Vec<Object>,
    pub(crate) assets: Vec<Object>,
    pub(crate) files: HashMap<String, Vec<u8>>,
    pub(crate) history: Vec<HistoryRecord>,
    next_number: i64,
}

impl Store {
    pub(crate) fn new(seed: Seed) -> Self {
        let next_number = seed
            .incidents
            .iter()
            .filter_map(|i| i.get("incident_number").and_then(Value::as_i64))
            .max()
            .unwrap_or(1_000_000)
            + 1;
        let mut store = Self {
            incidents: seed.incidents,
            assets: seed.assets,
            files: seed.files,
            history: Vec::new(),
            next_number,
        };
        store.seed_history();
        store
    }

    /// Creation records for the seeded incidents and their comments, so history is never empty.
    fn seed_history(&mut self) {
        let mut records = Vec::new();
        for inc in &self.incidents {
            let id = str_of(inc, "incident_id");
            let at = inc.get("creation_time").and_then(Value::as_i64).unwrap_or(0);
            records.push(record(id, at, SOC_AUTHOR, "create", "incident_details", &Value::Object(inc.clone())));
            for c in inc["comments"].as_array().into_iter().flatten() {
                let at = c.get("creation_time").and_then(Value::as_i64).unwrap_or(at);
                let by = c.get("author_name").and_then(Value::as_str).unwrap_or(SOC_AUTHOR);
                records.push(record(id, at, by, "create", "incident_comment", c));
            }
        }
        records.sort_by_key(|r| r.record["changed_at"].as_i64());
        self.history = records;
    }

    pub(crate) fn next_incident_number(&mut self) -> i64 {
        let n = self.next_number;
        self.next_number += 1;
        n
    }

    pub(crate) fn incident_index(&self, incident_id: &str) -> Option<usize> {
        self.incidents.iter().position(|i| i.get("incident_id").and_then(Value::as_str) == Some(incident_id))
    }

    /// `(incident index, child index)` of the child of kind `list` whose `key` equals `id`.
    pub(crate) fn find_child(&self, list: &str, key: &str, id: &str) -> Option<(usize, usize)> {
        self.incidents.iter().enumerate().find_map(|(i, inc)| {
            let pos = inc[list].as_array()?.iter().position(|c| c.get(key).and_then(Value::as_str) == Some(id))?;
            Some((i, pos))
        })
    }

    pub(crate) fn child(&self, list: &str, key: &str, id: &str) -> Option<Value> {
        let (i, c) = self.find_child(list, key, id)?;
        Some(self.incidents[i][list][c].clone())
    }

    pub(crate) fn asset(&self, asset_id: &str) -> Option<&Object> {
        self.assets.iter().find(|a| a.get("asset_id").and_then(Value::as_str) == Some(asset_id))
    }

    /// Appends a history record for a child/incident change.
    pub(crate) fn record(&mut self, incident_id: &str, by: &str, op: &str, kind: &str, entity: &Value) {
        self.history.push(record(incident_id, now_ms(), by, op, kind, entity));
    }

    /// Bumps the incident's `update_time` and writes the incident `update` record.
    pub(crate) fn touch(&mut self, idx: usize, by: &str) {
        let now = now_ms();
        let inc = &mut self.incidents[idx];
        inc.insert("update_time".to_owned(), json!(now));
        let snapshot = Value::Object(inc.clone());
        let id = str_of(&self.incidents[idx], "incident_id").to_owned();
        self.history.push(record(&id, now, by, "update", "incident_details", &snapshot));
    }
}

fn record(incident_id: &str, at: i64, by: &str, op: &str, kind: &str, entity: &Value) -> HistoryRecord {
    HistoryRecord {
        incident_id: incident_id.to_owned(),
        record: json!({
            "changed_at": at,
            "changed_by": by,
            "operation": op,
            "entity": { kind: entity },
        }),
    }
}

pub(crate) fn str_of<'a>(obj: &'a Object, key: &str) -> &'a str {
    obj.get(key).and_then(Value::as_str).unwrap_or("")
}
