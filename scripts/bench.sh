#!/usr/bin/env bash
# Benchmark: each responder binary as a whole process against the local MDR stand-in (plain HTTP and
# TLS, with an expired access token too), beside curl doing the same requests, and mdr-sync passes against
# the stand-in's MDR and TheHive APIs. Writes bench/results.md.
#
#   ./scripts/bench.sh            # 30 runs per case
#   BENCH_RUNS=100 ./scripts/bench.sh
#
# Needs: cargo, python3, curl. Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in python3 curl; do
    command -v "$tool" >/dev/null || { echo "bench.sh: $tool is required" >&2; exit 1; }
done

cargo build --release --locked -p mdr-responders -p test-support -p mdr-sync --bins
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')

python3 bench/harness.py --bin-dir "$target_dir/release" --runs "${BENCH_RUNS:-30}" --out bench/results.md
cat bench/results.md
