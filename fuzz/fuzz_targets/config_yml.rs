//! Any bytes as the MDR Integration Utility's `config.yml`, read as the responders read it (the
//! `config_path` item of a job, with and without Cortex items beside it) and as `mdr-sync` reads it.
//! Both readers take a file, so each input is written to `<temp>/conf/config.yml` first.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use cortex_worker::Job;
use libfuzzer_sys::fuzz_target;
use mdr_responders::settings::Settings;
use mdr_sync::config::SyncConfig;
use serde_json::json;

/// `<temp>/kaspersky-mdr-fuzz-<pid>/conf/config.yml`, the layout the utility ships.
fn config_file() -> &'static PathBuf {
    static FILE: OnceLock<PathBuf> = OnceLock::new();
    FILE.get_or_init(|| {
        let conf = std::env::temp_dir().join(format!("kaspersky-mdr-fuzz-{}", std::process::id())).join("conf");
        std::fs::create_dir_all(&conf).expect("a writable temporary folder");
        conf.join("config.yml")
    })
}

fn jobs(path: &str) -> [Job; 2] {
    let job = |config| Job::from_input(json!({"dataType": "thehive:case", "data": {}, "config": config}), None);
    [
        job(json!({"config_path": path})).expect("a valid job"),
        job(json!({"config_path": path, "client_id": "c", "timeout": 5})).expect("a valid job"),
    ]
}

fuzz_target!(|data: &[u8]| {
    let path = config_file();
    std::fs::write(path, data).expect("the temporary config.yml is writable");
    for job in jobs(&path.display().to_string()) {
        match Settings::from_job(&job) {
            Ok(settings) => drop(format!("{settings:?}")),
            Err(error) => drop(error.to_string()),
        }
    }
    match SyncConfig::load(path) {
        Ok(config) => drop(format!("{config:?}")),
        Err(error) => drop(error.to_string()),
    }
});
