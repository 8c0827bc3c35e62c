#!/usr/bin/env bash
# Benchmark: each responder binary as a whole process against the local MDR stand-in (plain HTTP and
# TLS, with an expired access token too), beside curl doing the same requests, and mdr-sync passes against
# the stand-in's MDR and TheHive APIs, and the OpenCTI connector's throughput and peak RSS on the
# HTTP transport against the OpenCTI and TIP stand-ins (bench/connector.py: the TIP answering after
# a fixed delay, CONNECTOR_CONCURRENCY 1 and 8). Writes bench/results.md.
#
#   ./scripts/bench.sh            # 30 runs per case
#   BENCH_RUNS=100 ./scripts/bench.sh
#   ./scripts/bench.sh connector  # only the connector's section of bench/results.md (3 runs per line)
#   BENCH_PYTHON_VENV=venv BENCH_PYTHON_SRC=src ./scripts/bench.sh connector
#       # adds the Python connector (upstream internal-enrichment/kaspersky-enrichment/src, run with a
#       # virtualenv holding pycti and its requirements), fed by bench/python_connector.py
#
# Needs: cargo, python3, curl. Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in python3 curl; do
    command -v "$tool" >/dev/null || { echo "bench.sh: $tool is required" >&2; exit 1; }
done

target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
# The connector lines: its binary and the stand-ins' (opencti-sandbox, in test-support).
connector() {
    cargo build --release --locked -p opencti-kaspersky -p test-support --bins
    python3 bench/connector.py --bin-dir "$target_dir/release" --tip-delay-ms "${BENCH_TIP_DELAY_MS:-50}" \
        --runs "${BENCH_CONNECTOR_RUNS:-3}" ${BENCH_PYTHON_NOTE:+--python-note "$BENCH_PYTHON_NOTE"} \
        ${BENCH_PYTHON_VENV:+--python-venv "$BENCH_PYTHON_VENV" --python-src "$BENCH_PYTHON_SRC"} --out bench/results.md
}

if [ "${1:-}" = connector ]; then
    connector
    cat bench/results.md
    exit 0
fi
cargo build --release --locked -p mdr-responders -p test-support -p mdr-sync --bins
python3 bench/harness.py --bin-dir "$target_dir/release" --runs "${BENCH_RUNS:-30}" --out bench/results.md
connector
cat bench/results.md
