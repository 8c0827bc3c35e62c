//! Every integration suite of mdr-sync in one test binary.

mod cli;
mod inert_e2e;
mod sync_e2e;
