//! Raw bytes as a Cortex job input: parsing, validation (`Job::from_input`), redaction of the echoed
//! input and encoding of both documents, through the same runner the binaries use (stdin mode).
#![no_main]

use cortex_worker::Report;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let missing = std::path::PathBuf::from("/nonexistent/fuzz-job");
    for fail in [false, true] {
        let mut stdin = data;
        let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
        cortex_worker::run_with_io(Some(missing.clone()), &mut stdin, false, &mut stdout, &mut stderr, |job| {
            let _ = format!("{job:?}");
            if fail { Err("refused") } else { Ok(Report::from_value(job.input().clone())) }
        });
        let doc: serde_json::Value = serde_json::from_slice(&stdout).expect("the document is JSON");
        assert!(doc["success"].is_boolean());
        assert!(!String::from_utf8_lossy(&stderr).contains("panicked"));
    }
});
