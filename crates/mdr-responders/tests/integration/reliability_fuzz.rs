//! A bounded, deterministic stand-in for the cargo-fuzz targets in `fuzz/` (which need nightly):
//! thousands of mutated inputs through input parsing, validation, redaction, document encoding and
//! the TheHive extractors, asserting that nothing panics and that every document is valid JSON.
//! The seed can be changed with `RELIABILITY_FUZZ_SEED`, the number of cases with `RELIABILITY_FUZZ_CASES`.
#![allow(clippy::unwrap_used)]

use cortex_worker::{Job, Report};
use mdr_contract::contract::ResponseTask;
use thehive::view::{Case, Context, DataType, TaskLog};
use serde_json::{Map, Value, json};

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

const INTERESTING_STRINGS: &[&str] = &[
    "",
    " ",
    "**ID**: MDR_1",
    "**ID**: MDR_1\n**ID**: MDR_2",
    "```\n**ID**: MDR_x\n```",
    "**ID**:",
    "eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjF9.c2ln",
    "http://user:hunter2@proxy:3128",
    "\u{0}",
    "\u{feff}",
    "é\u{301}",
    "𝕏",
    "\r\n\r",
    "thehive:case_task_log",
    "thehive:case",
    "thehive:case_task",
    "-NzExampleIncident01",
];

const KEYS: &[&str] = &[
    "dataType",
    "data",
    "config",
    "parameters",
    "tlp",
    "pap",
    "check_tlp",
    "max_tlp",
    "check_pap",
    "max_pap",
    "case_task",
    "case",
    "customFields",
    "mdr-incident-id",
    "string",
    "order",
    "name",
    "value",
    "message",
    "description",
    "_id",
    "id",
    "api_key",
    "password",
    "proxy_https",
    "token_dir",
    "cacerts",
    "tags",
    "title",
];

fn random_value(rng: &mut Rng, depth: u32) -> Value {
    match rng.below(if depth > 4 { 6 } else { 8 }) {
        0 => Value::Null,
        1 => Value::Bool(rng.below(2) == 0),
        2 => json!(rng.next() as i64),
        3 => json!(f64::from(rng.below(1000) as u32) / 7.0 - 50.0),
        4 | 5 => Value::String((*rng.pick(INTERESTING_STRINGS)).to_owned()),
        6 => Value::Array((0..rng.below(4)).map(|_| random_value(rng, depth + 1)).collect()),
        _ => {
            let mut map = Map::new();
            for _ in 0..rng.below(4) {
                map.insert((*rng.pick(KEYS)).to_owned(), random_value(rng, depth + 1));
            }
            Value::Object(map)
        }
    }
}

/// Replaces, removes or inserts one node somewhere in `value`.
fn mutate(rng: &mut Rng, value: &mut Value) {
    let descend = rng.below(4) != 0;
    match value {
        Value::Object(map) if descend && !map.is_empty() => {
            let key = map.keys().nth(rng.below(map.len())).unwrap().clone();
            match rng.below(6) {
                0 => {
                    map.remove(&key);
                }
                1 => {
                    map.insert((*rng.pick(KEYS)).to_owned(), random_value(rng, 0));
                }
                _ => mutate(rng, map.get_mut(&key).unwrap()),
            }
        }
        Value::Array(items) if descend && !items.is_empty() => {
            let i = rng.below(items.len());
            mutate(rng, &mut items[i]);
        }
        _ => *value = random_value(rng, 0),
    }
}

/// Byte-level damage: truncation, flips, insertions of structural or invalid bytes.
fn damage(rng: &mut Rng, bytes: &mut Vec<u8>) {
    for _ in 0..=rng.below(3) {
        let at = rng.below(bytes.len() + 1);
        match rng.below(5) {
            0 => bytes.truncate(at),
            1 if at < bytes.len() => bytes[at] ^= 1 << rng.below(8),
            2 => bytes.insert(at, *rng.pick(&[b'{', b'}', b'[', b']', b'"', b',', b':', b'\\', 0xff, 0xc3, 0x00])),
            3 => {
                let depth = rng.below(300);
                let nested: Vec<u8> =
                    std::iter::repeat_n(b'[', depth).chain(std::iter::repeat_n(b']', depth)).collect();
                bytes.splice(at..at, nested);
            }
            _ => {
                let end = (at + rng.below(16)).min(bytes.len());
                bytes.drain(at..end);
            }
        }
    }
}

/// Runs the whole worker in stdin mode on `bytes`; the document must be valid JSON of the right shape.
fn run_worker(bytes: &[u8], check_secrets: bool, action: impl FnOnce(&Job) -> Result<Report, String>) {
    let mut stdin: &[u8] = bytes;
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    let missing = std::path::PathBuf::from("/nonexistent/reliability-fuzz-job");
    let code = cortex_worker::run_with_io(Some(missing), &mut stdin, false, &mut stdout, &mut stderr, action);
    let doc: Value = serde_json::from_slice(&stdout)
        .unwrap_or_else(|e| panic!("invalid document ({e}): {}", String::from_utf8_lossy(&stdout)));
    let stderr = String::from_utf8_lossy(&stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    match doc["success"] {
        Value::Bool(true) => assert_eq!(code, 0),
        Value::Bool(false) => {
            assert_eq!(code, 1);
            assert!(doc["errorMessage"].as_str().is_some_and(|m| !m.is_empty()), "{doc}");
            assert!(doc["input"].is_object(), "{doc}");
            // Secrets of the configuration never come back (TheHive data is echoed as it is).
            let config = doc["input"]["config"].to_string();
            assert!(!check_secrets || !config.contains("hunter2"), "a config secret survived redaction: {doc}");
        }
        _ => panic!("no success flag: {doc}"),
    }
}

/// The extractors the actions use on `data`, exercised on any JSON.
fn extract(data_type: &str, data: &Value) {
    for accepted in [&[DataType::Case][..], &[DataType::Task, DataType::TaskLog], &[DataType::TaskLog]] {
        if let Ok(ctx) = Context::new(data_type, data, accepted) {
            let _ = ctx.case.mdr_incident_id("mdr-incident-id");
            let _ = (ctx.case.number(), ctx.case.tags(), ctx.case.summary(), ctx.case.extended_status());
            if let Some(task) = ctx.task {
                let _ = ResponseTask::id_in(task.description().unwrap_or(""));
            }
            if let Some(log) = ctx.log {
                let _ = (log.message(), log.author(), log.attachment(), log.id());
            }
        }
    }
    let _ = Case::new(data).mdr_incident_id("mdr-incident-id");
    let _ = Case::new(data).custom_field("mdr-incident-id");
    let _ = TaskLog::new(data).attachment();
    if let Some(text) = data.as_str() {
        let _ = ResponseTask::id_in(text);
    }
}

fn seeds() -> Vec<Value> {
    ["th4/input_case_task_log.json", "th4/input_case_task.json", "th4/input_case.json", "th5/input_case_task_log.json"]
        .iter()
        .map(|name| {
            let mut input = crate::support::fixture(name);
            input["config"]["api_key"] = "hunter2".into();
            input["config"]["proxy_https"] = "http://user:hunter2@proxy:3128".into();
            input
        })
        .collect()
}

#[test]
fn mutated_inputs_never_panic() {
    let mut rng = Rng(env_u64("RELIABILITY_FUZZ_SEED", 0x5EED_CAFE_F00D_0001) | 1);
    let cases = env_u64("RELIABILITY_FUZZ_CASES", 10_000);
    let seeds = seeds();
    for case in 0..cases {
        let mut input = rng.pick(&seeds).clone();
        for _ in 0..=rng.below(4) {
            mutate(&mut rng, &mut input);
        }
        let data_type = input.get("dataType").and_then(Value::as_str).unwrap_or("thehive:case").to_owned();
        extract(&data_type, input.get("data").unwrap_or(&Value::Null));
        let _ = format!("{:?}", Job::from_input(input.clone(), None));

        let mut bytes = serde_json::to_vec(&input).unwrap();
        // Byte damage can mangle the proxy URL itself into something that is no URL: its text is then
        // echoed as it is, and only structurally intact inputs are checked for secrets.
        let damaged = case % 3 == 0;
        if damaged {
            damage(&mut rng, &mut bytes);
        }
        // One action echoes its input as the report (success encoding), one fails (redacted echo).
        match case % 2 {
            0 => run_worker(&bytes, !damaged, |job| Ok(Report::from_value(job.input().clone()))),
            _ => run_worker(&bytes, !damaged, |job| {
                extract(job.data_type(), job.data().unwrap_or(&Value::Null));
                Err("refused".to_owned())
            }),
        }
    }
}

#[test]
fn response_ids_from_random_text_never_panic() {
    let mut rng = Rng(env_u64("RELIABILITY_FUZZ_SEED", 0x5EED_CAFE_F00D_0002) | 1);
    let pieces = ["**ID**:", " ", "MDR_", "\n", "```", "`", "*", "ID", ":", "é", "\r", "-", "**", "\t", "𝕏"];
    for _ in 0..env_u64("RELIABILITY_FUZZ_CASES", 10_000) * 3 {
        let text: String = (0..rng.below(24)).map(|_| *rng.pick(&pieces)).collect();
        if let Ok(id) = ResponseTask::id_in(&text) {
            assert!(!id.is_empty() && !id.contains('\n'), "{text:?} -> {id:?}");
        }
    }
}
