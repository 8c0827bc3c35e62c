#!/usr/bin/env bash
# The binaries a release ships, one <Folder>/<binary> a line, sorted and unique (the form of a
# flavour's `command`): the `command` of every flavour file (responders/*/*.json, analyzers/*/*.json)
# and the operator tools listed below, which no flavour runs. install.sh, release.sh (archive and
# images), check-release.sh and the deployment tests all read this one list.
#
#   scripts/binaries.sh [--tools] [KIND...]
#   scripts/binaries.sh --connectors
#
# KIND: responders and/or analyzers (default both) for the flavour commands; --tools: the tools only.
# --connectors: the OpenCTI connectors instead, <folder under connectors/>/<binary>; each ships as
# its own folder (connectors/<folder>/, binary inside), never in Cortex's folders.
# In a release archive this script sits beside install.sh, at the top of the archive.
set -euo pipefail

# Operator tools shipped beside the flavours of their folder: one <Folder>/<binary> per line.
tools=(
    KasperskyMDR/mdr-token
    KasperskyMDR/mdr-sync
)

# OpenCTI connectors: connectors/<folder>/ shipped whole, with its binary beside its Dockerfile.
connectors=(
    kaspersky-enrichment/opencti-kaspersky-enrichment
)

here="$(cd "$(dirname "$0")" && pwd)"
root="$here"
[ -d "$root/responders" ] || root="$(cd "$here/.." && pwd)"

only_tools=false
kinds=()
for arg in "$@"; do
    case "$arg" in
        --connectors) [ $# -eq 1 ] || { echo "binaries.sh: --connectors takes no other argument" >&2; exit 2; }
            printf '%s\n' "${connectors[@]}" | LC_ALL=C sort -u
            exit 0 ;;
        --tools) only_tools=true ;;
        responders|analyzers) kinds+=("$arg") ;;
        -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
        *) echo "binaries.sh: unknown argument $arg" >&2; exit 2 ;;
    esac
done
[ "${#kinds[@]}" -gt 0 ] || kinds=(responders analyzers)

{
    printf '%s\n' "${tools[@]}"
    if ! $only_tools; then
        for kind in "${kinds[@]}"; do
            [ -d "$root/$kind" ] || continue
            # `command` without jq: one "command": "<Folder>/<binary>" line per flavour file.
            find "$root/$kind" -mindepth 2 -maxdepth 2 -name '*.json' -type f -exec \
                sed -n 's/^[[:space:]]*"command"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' {} +
        done
    fi
} | LC_ALL=C sort -u
