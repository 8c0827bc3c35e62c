//! Every integration suite of cortex-worker in one test binary: one link instead of one a suite.

mod common;

mod analyzer;
mod golden;
mod runner;
