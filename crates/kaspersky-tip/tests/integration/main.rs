//! Every integration suite of the TIP analyzer in one test binary, run as Cortex runs the analyzer.

mod common;

mod errors;
mod flavours;
mod lookups;
mod tls;
