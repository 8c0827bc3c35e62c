//! Every integration suite of the responder binaries in one test binary: each suite runs the built
//! binaries as Cortex runs them, against the MDR and TheHive stand-ins.

mod support;

mod close_incident;
mod create_incident;
mod deploy;
mod flavours;
mod install_script;
mod paging;
mod reliability_concurrency;
mod reliability_crash;
mod reliability_faults;
mod reliability_input;
mod reliability_pinned;
mod reliability_secrets;
mod reliability_tls;
mod reliability_utility;
mod response_decision;
mod send_task_log;
mod thehive_api;
mod token_tool;
