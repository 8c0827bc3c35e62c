#!/usr/bin/env bash
# Builds everything, starts the local MDR stand-in on loopback, runs every responder on a sample
# job folder exactly as Cortex does, and prints each report and what the stand-in received.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --workspace --bins --quiet
# Through cargo: the binaries are wherever CARGO_TARGET_DIR (or build.target-dir) puts them.
exec cargo run --quiet -p test-support --example mdr-demo -- --root .
