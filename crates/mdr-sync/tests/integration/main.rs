//! Every integration suite of mdr-sync in one test binary.

mod cli;
mod sync_e2e;
