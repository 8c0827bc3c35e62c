//! What the in-process suites share: the MDR stand-in.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use test_support::{Sandbox, SandboxOptions, Seed};

/// The MDR stand-in with the demo seed, plain HTTP.
pub(crate) fn sandbox() -> Sandbox {
    Sandbox::start(SandboxOptions::new(Seed::default_demo())).expect("sandbox starts")
}
