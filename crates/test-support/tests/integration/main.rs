//! Every integration suite of test-support in one test binary: the MDR stand-in over real HTTP and
//! the Cortex harness the other crates run their binaries with.

mod common;

mod auth;
mod cortex_harness;
mod endpoints;
mod layering;
mod transport;
