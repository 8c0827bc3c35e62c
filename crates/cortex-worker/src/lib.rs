//! The Cortex job protocol for compiled responders, behaving like Python `cortexutils` 2.2.1 (and a little safer).
//!
//! A responder binary calls [`run`] with its job logic. The runner finds the input (`<job dir>/input/input.json`,
//! else standard input), validates it the way cortexutils' constructor does ([`Job::from_input`]), calls the
//! action, and writes exactly one document: `{"success": true, "full": …, "operations": […]}` built from the
//! returned [`Report`], or `{"success": false, "input": <input with secrets masked>, "errorMessage": …}` with
//! exit code 1. Documents are byte-for-byte what Python's `json.dump` would produce, panics become error
//! documents, and nothing in this crate knows about any vendor API.
//!
//! Actions read their configuration through [`Items`] (typed, naming the item of a wrong value), keep
//! credentials in `safekeeping::Secret`, and replace files with `safekeeping::write_atomically`, as the runner
//! does its output. Proxies and CA files for outgoing HTTPS are `cortex_http::HttpSettings::from_cortex`.
//!
//! An analyzer binary calls [`run_analyzer`] instead: same input handling and error documents, but the
//! action returns an [`AnalyzerReport`] and the success document is cortexutils' analyzer shape
//! `{"success": true, "summary": {"taxonomies": […]}, "artifacts": […], "operations": […], "full": …}`.
//!
//! The protocol facts this crate relies on, with their public sources: docs/cortex-jobs.md.

mod analyzer;
mod cli;
mod document;
mod input;
mod items;
mod job;
mod json;
mod operation;
mod output;
mod panic_hook;
mod redact;
mod report;
mod runner;

pub use analyzer::{AnalyzerReport, Artifact, Taxonomy, TaxonomyLevel};
pub use cli::job_dir_arg;
pub use items::{ItemError, Items};
pub use job::{InputError, Job};
pub use operation::{CustomFieldValue, Operation};
pub use report::Report;
pub use runner::{WorkerReport, run, run_analyzer, run_with_io};
