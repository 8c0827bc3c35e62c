#!/usr/bin/env bash
# Coverage-guided fuzzing: every cargo-fuzz target in fuzz/ for SECONDS each (default 60), with the
# nightly toolchain and AddressSanitizer, starting from the committed seeds (fuzz/seeds/ and the
# sample jobs and answers in tests/fixtures/). Installs cargo-fuzz when it is missing.
#
#   ./scripts/fuzz.sh                 # 60 s per target
#   ./scripts/fuzz.sh 600             # 10 minutes per target
#   FUZZ_TARGETS="mdr_answers config_yml" ./scripts/fuzz.sh 30
#
# What libFuzzer adds to the corpus goes to fuzz/corpus/<target>/ and crash inputs to
# fuzz/artifacts/<target>/ (both git-ignored). Exits 1 when a target found a crash, a timeout or a
# memory blow-up, after naming the input; prints the executions and coverage of each target.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

seconds=${1:-60}
if ! [[ "$seconds" =~ ^[1-9][0-9]*$ ]]; then
    echo "usage: scripts/fuzz.sh [SECONDS]   (seconds per target, default 60)" >&2
    exit 2
fi
if ! cargo +nightly --version >/dev/null 2>&1; then
    echo "fuzz.sh: the nightly toolchain is required: rustup toolchain install nightly" >&2
    exit 1
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "fuzz.sh: installing cargo-fuzz from crates.io" >&2
    cargo install cargo-fuzz --locked
fi

# `cargo fuzz <command> --fuzz-dir fuzz ...`: the option goes before any `--` meant for libFuzzer.
fuzz() {
    local command=$1
    shift
    cargo +nightly fuzz "$command" --fuzz-dir "$root/fuzz" "$@"
}

# The seed folders of a target (read only: libFuzzer writes new inputs to the first corpus folder).
seeds() {
    case "$1" in
        job_input | thehive_extractors) echo tests/fixtures/jobs tests/fixtures/cortexutils ;;
        response_id) echo fuzz/seeds/response_id tests/fixtures/jobs ;;
        mdr_answers) echo fuzz/seeds/mdr_answers ;;
        config_yml) echo fuzz/seeds/config_yml ;;
        tip_answer) echo tests/fixtures/tip/tip tests/fixtures/tip/opentip ;;
        *) echo "fuzz.sh: no seeds named for target $1: add it to seeds() in scripts/fuzz.sh" >&2; return 1 ;;
    esac
}

targets=${FUZZ_TARGETS:-$(fuzz list)}
if [ -z "$targets" ]; then
    echo "fuzz.sh: no fuzz target found (cargo fuzz list printed none)" >&2
    exit 1
fi
for target in $targets; do seeds "$target" >/dev/null; done
fuzz build

logs="$root/fuzz/target/logs"
mkdir -p "$logs"
summary=()
found=()
for target in $targets; do
    mkdir -p "fuzz/corpus/$target" "fuzz/artifacts/$target"
    # config_yml writes its input to a file under the temporary folder: keep that inside fuzz/target.
    scratch="$root/fuzz/target/tmp/$target"
    mkdir -p "$scratch"
    log="$logs/$target.log"
    echo "== $target: ${seconds} s" >&2
    # shellcheck disable=SC2046 # seeds() lists folders without spaces
    set +e
    TMPDIR="$scratch" fuzz run "$target" "fuzz/corpus/$target" $(seeds "$target") -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 2>&1 | tee "$log" >&2
    status=${PIPESTATUS[0]}
    set -e
    rm -rf "$scratch"
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    cov=$(grep -Eo 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -n 1)
    summary+=("| $target | ${runs:-?} | ${cov:-?} |")
    if [ "$status" -ne 0 ]; then
        input=$(sed -n 's/.*Test unit written to //p' "$log" | tail -n 1)
        found+=("$target: ${input:-no input written, see $log}")
    fi
done

echo
echo "| target | executions | coverage (libFuzzer) |"
echo "|---|---|---|"
printf '%s\n' "${summary[@]}"
if [ "${#found[@]}" -gt 0 ]; then
    echo >&2
    echo "fuzz.sh: findings (reproduce with: cargo +nightly fuzz run --fuzz-dir fuzz <target> <input>):" >&2
    printf '  %s\n' "${found[@]}" >&2
    exit 1
fi
echo "fuzz.sh: no finding in ${seconds} s per target"
