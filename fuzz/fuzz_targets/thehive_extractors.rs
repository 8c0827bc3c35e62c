//! Any JSON as the TheHive object of a job: the views, the incident link and the response id.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mdr_contract::contract::ResponseTask;
use thehive::view::{Case, Context, DataType};

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    let data_type = value.get("dataType").and_then(|d| d.as_str()).unwrap_or("thehive:case_task_log");
    let object = value.get("data").unwrap_or(&value);
    for accepted in [&[DataType::Case][..], &[DataType::Task, DataType::TaskLog], &[DataType::TaskLog]] {
        if let Ok(ctx) = Context::new(data_type, object, accepted) {
            let _ = ctx.case.mdr_incident_id("mdr-incident-id");
            let _ = (ctx.case.number(), ctx.case.tags(), ctx.case.summary(), ctx.case.description());
            if let Some(task) = ctx.task {
                let _ = ResponseTask::id_in(task.description().unwrap_or(""));
            }
            if let Some(log) = ctx.log {
                let _ = (log.message(), log.author(), log.attachment());
            }
        }
    }
    let _ = Case::new(object).mdr_incident_id("mdr-incident-id");
});
