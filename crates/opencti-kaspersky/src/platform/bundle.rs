//! STIX bundles as the connector sends them: made, merged, and split one object per message in
//! dependency order (what pycti's splitter does before pushing to the broker).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

/// A bundle of `objects` with a fresh id.
pub fn make(objects: Vec<Value>) -> Value {
    json!({ "type": "bundle", "id": format!("bundle--{}", fresh_uuid()), "objects": objects })
}

/// `first` then `second`, one object per id: a later object replaces an earlier one in place.
pub fn merge(first: Vec<Value>, second: Vec<Value>) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::with_capacity(first.len() + second.len());
    let mut index: HashMap<String, usize> = HashMap::new();
    for object in first.into_iter().chain(second) {
        match object.get("id").and_then(Value::as_str).map(str::to_owned) {
            Some(id) => match index.get(&id) {
                Some(&at) => out[at] = object,
                None => {
                    index.insert(id, out.len());
                    out.push(object);
                }
            },
            None => out.push(object),
        }
    }
    out
}

/// One bundle per object, objects that others refer to first; each carries `x_opencti_seq`.
pub fn split(bundle: &Value) -> Vec<Value> {
    let objects = bundle.get("objects").and_then(Value::as_array).cloned().unwrap_or_default();
    let ids: HashMap<String, usize> =
        objects.iter().enumerate().filter_map(|(i, o)| Some((o.get("id")?.as_str()?.to_owned(), i))).collect();
    let mut depth_cache: BTreeMap<usize, usize> = BTreeMap::new();
    let mut order: Vec<(usize, usize)> =
        (0..objects.len()).map(|i| (depth(i, &objects, &ids, &mut depth_cache, 0), i)).collect();
    order.sort();
    order
        .into_iter()
        .enumerate()
        .map(|(seq, (_, i))| {
            let mut object = objects[i].clone();
            object["x_opencti_seq"] = json!(seq);
            make(vec![object])
        })
        .collect()
}

/// How many levels of in-bundle references lie under object `i` (0: refers to nothing here).
fn depth(
    i: usize,
    objects: &[Value],
    ids: &HashMap<String, usize>,
    cache: &mut BTreeMap<usize, usize>,
    guard: usize,
) -> usize {
    if let Some(&d) = cache.get(&i) {
        return d;
    }
    if guard > objects.len() {
        return 0; // a reference cycle: stop rather than recurse forever
    }
    let mut refs = Vec::new();
    collect_refs(&objects[i], &mut refs);
    let own = objects[i].get("id").and_then(Value::as_str);
    let d = refs
        .iter()
        .filter(|r| Some(r.as_str()) != own)
        .filter_map(|r| ids.get(r))
        .map(|&j| depth(j, objects, ids, cache, guard + 1) + 1)
        .max()
        .unwrap_or(0);
    cache.insert(i, d);
    d
}

/// Every `*_ref` / `*_refs` value, at any depth (extensions hold refs too).
pub fn collect_refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                if key.ends_with("_ref") {
                    if let Some(s) = v.as_str() {
                        out.push(s.to_owned());
                    }
                } else if key.ends_with("_refs") {
                    out.extend(v.as_array().into_iter().flatten().filter_map(Value::as_str).map(str::to_owned));
                } else {
                    collect_refs(v, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

/// A random-enough UUID (version 4 layout) from the clock, the process and a counter: bundle ids
/// only need to be unique, and this avoids a random-number dependency.
fn fresh_uuid() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut state = (nanos as u64) ^ (u64::from(std::process::id()) << 32) ^ count.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mut next = || {
        // splitmix64
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let (a, b) = (next(), next());
    format!(
        "{:08x}-{:04x}-4{:03x}-{:x}{:03x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0x0fff,
        8 | ((b >> 62) & 0x3),
        (b >> 48) & 0x0fff,
        b & 0xffff_ffff_ffff
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn split_puts_referenced_objects_first_and_numbers_them() {
        let bundle = make(vec![
            json!({"type": "relationship", "id": "relationship--1", "source_ref": "file--1", "target_ref": "url--1", "created_by_ref": "identity--1"}),
            json!({"type": "file", "id": "file--1", "created_by_ref": "identity--1", "object_marking_refs": ["marking-definition--1"]}),
            json!({"type": "identity", "id": "identity--1"}),
            json!({"type": "marking-definition", "id": "marking-definition--1"}),
            json!({"type": "url", "id": "url--1"}),
        ]);
        let parts = split(&bundle);
        let ids: Vec<&str> = parts.iter().map(|b| b["objects"][0]["id"].as_str().unwrap()).collect();
        assert_eq!(ids, ["identity--1", "marking-definition--1", "url--1", "file--1", "relationship--1"]);
        assert!(parts.iter().all(|b| b["objects"].as_array().unwrap().len() == 1));
        assert_eq!(parts[4]["objects"][0]["x_opencti_seq"], 4);
    }

    #[test]
    fn merge_keeps_one_object_per_id_the_later_one() {
        let merged = merge(
            vec![json!({"id": "a", "v": 1}), json!({"id": "b"})],
            vec![json!({"id": "a", "v": 2}), json!({"id": "c"})],
        );
        assert_eq!(merged, vec![json!({"id": "a", "v": 2}), json!({"id": "b"}), json!({"id": "c"})]);
    }

    #[test]
    fn bundle_ids_are_uuid_shaped_and_distinct() {
        let a = make(vec![])["id"].as_str().unwrap().to_owned();
        let b = make(vec![])["id"].as_str().unwrap().to_owned();
        assert_ne!(a, b);
        assert_eq!(a.len(), "bundle--".len() + 36);
        assert_eq!(&a["bundle--".len() + 14..][..1], "4");
    }
}
