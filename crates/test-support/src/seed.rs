//! Initial data: incidents (with embedded comments, attachments, responses) and assets.
//!
//! File shape: `{"incidents": [Incident...], "assets": [Asset...], "attachment_files":
//! {"<attachment_id>": "<base64 bytes>"}}`; objects are kept verbatim (their fields: docs/mdr-api.md,
//! sections Incidents, Responses, Assets), only the ids and embedded arrays are checked.

use std::collections::HashMap;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value};

type Object = Map<String, Value>;

/// Seed data for a sandbox.
#[derive(Clone, Debug, Default)]
pub struct Seed {
    pub(crate) incidents: Vec<Object>,
    pub(crate) assets: Vec<Object>,
    pub(crate) files: HashMap<String, Vec<u8>>,
}

/// Why a seed could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    /// The file could not be read.
    #[error("cannot read seed file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not JSON.
    #[error("seed is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// The JSON does not have the expected shape.
    #[error("invalid seed: {0}")]
    Invalid(String),
}

const DEMO_SEED: &str = include_str!("../../../tests/fixtures/sandbox/seed.json");

impl Seed {
    /// Loads a seed JSON file.
    pub fn from_file(path: &Path) -> Result<Seed, SeedError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| SeedError::Io { path: path.display().to_string(), source })?;
        Self::from_json(serde_json::from_str(&text)?)
    }

    /// Builds a seed from an already parsed document.
    pub fn from_json(v: Value) -> Result<Seed, SeedError> {
        let Value::Object(mut root) = v else {
            return Err(invalid("top level must be an object"));
        };
        let incidents = objects(root.remove("incidents"), "incidents")?;
        let assets = objects(root.remove("assets"), "assets")?;
        let seed = Seed {
            incidents: incidents.into_iter().map(normalize_incident).collect(),
            assets,
            files: decode_files(root.remove("attachment_files"))?,
        };
        seed.validate()?;
        Ok(seed)
    }

    /// The demo seed `tests/fixtures/sandbox/seed.json`, embedded at build time.
    pub fn default_demo() -> Seed {
        let v = serde_json::from_str(DEMO_SEED).expect("the embedded demo seed is valid JSON");
        Self::from_json(v).expect("the embedded demo seed is a valid seed")
    }

    fn validate(&self) -> Result<(), SeedError> {
        for inc in &self.incidents {
            let id = require_str(inc, "incident_id", "incident")?;
            if !inc.get("incident_number").is_some_and(Value::is_i64) {
                return Err(invalid(&format!("incident {id}: incident_number must be an integer")));
            }
            for (list, key) in
                [("comments", "comment_id"), ("attachments", "attachment_id"), ("responses", "response_id")]
            {
                for child in inc[list].as_array().into_iter().flatten() {
                    let obj = child
                        .as_object()
                        .ok_or_else(|| invalid(&format!("incident {id}: {list} must hold objects")))?;
                    require_str(obj, key, list)?;
                }
            }
        }
        for asset in &self.assets {
            require_str(asset, "asset_id", "asset")?;
        }
        Ok(())
    }
}

/// Makes sure the embedded arrays exist so handlers can rely on them.
fn normalize_incident(mut inc: Object) -> Object {
    for list in ["comments", "attachments", "responses"] {
        if !inc.get(list).is_some_and(Value::is_array) {
            inc.insert(list.to_owned(), Value::Array(Vec::new()));
        }
    }
    inc
}

fn objects(v: Option<Value>, what: &str) -> Result<Vec<Object>, SeedError> {
    match v {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .into_iter()
            .map(|item| match item {
                Value::Object(o) => Ok(o),
                _ => Err(invalid(&format!("{what} must hold objects"))),
            })
            .collect(),
        Some(_) => Err(invalid(&format!("{what} must be an array"))),
    }
}

fn decode_files(v: Option<Value>) -> Result<HashMap<String, Vec<u8>>, SeedError> {
    let Some(v) = v else {
        return Ok(HashMap::new());
    };
    let Value::Object(map) = v else {
        return Err(invalid("attachment_files must be an object"));
    };
    map.into_iter()
        .map(|(id, b64)| {
            let bytes = b64
                .as_str()
                .and_then(|s| STANDARD.decode(s).ok())
                .ok_or_else(|| invalid(&format!("attachment_files.{id} must be base64")))?;
            Ok((id, bytes))
        })
        .collect()
}

fn require_str<'a>(obj: &'a Object, key: &str, what: &str) -> Result<&'a str, SeedError> {
    obj.get(key).and_then(Value::as_str).ok_or_else(|| invalid(&format!("every {what} needs a string {key}")))
}

fn invalid(msg: &str) -> SeedError {
    SeedError::Invalid(msg.to_owned())
}
