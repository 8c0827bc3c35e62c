#!/usr/bin/env bash
# Generates the Cortex catalogues catalogs/responders.json and catalogs/analyzers.json from the
# flavour files, as Cortex-Analyzers does: every responders/*/*.json (analyzers/*/*.json) in one
# JSON array, `command` removed (Cortex drops catalogue entries that keep it) and `dockerImage`
# added as <prefix>/<flavour name, lower case>:<flavour version>, the image scripts/release.sh
# images builds for that flavour.
#
#   scripts/catalog.sh [--prefix ghcr.io/<owner>] [--out DIR] [--check]
#
# --prefix  image prefix (default: $IMAGE_PREFIX, else ghcr.io/<owner of the workspace repository>)
# --out     output folder (default: catalogs/)
# --check   write nothing; exit 1 when the files in --out differ from what would be generated
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

default_prefix() {
    # repository = "https://github.com/<owner>/<name>" in [workspace.package]
    local url owner
    url="$(sed -n 's/^repository *= *"\(.*\)"/\1/p' Cargo.toml | head -n1)"
    owner="$(printf '%s' "$url" | sed -n 's#^https://github.com/\([^/]*\)/.*#\1#p')"
    printf 'ghcr.io/%s' "$(printf '%s' "${owner:-kaspersky-mdr-rs}" | tr '[:upper:]' '[:lower:]')"
}

prefix="${IMAGE_PREFIX:-}"
out="catalogs"
check=false
while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) prefix="$2"; shift 2 ;;
        --out) out="$2"; shift 2 ;;
        --check) check=true; shift ;;
        -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
        *) echo "catalog.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
[ -n "$prefix" ] || prefix="$(default_prefix)"
command -v jq >/dev/null || { echo "catalog.sh: needs jq (apt-get install jq)" >&2; exit 1; }

# One catalogue: the flavour files of <kind>/*/*.json, sorted by path, as a JSON array.
generate() {
    local kind="$1" files
    mapfile -t files < <(LC_ALL=C ls -1 "$kind"/*/*.json 2>/dev/null | LC_ALL=C sort)
    if [ "${#files[@]}" -eq 0 ]; then
        echo '[]'
        return
    fi
    jq -s --arg prefix "$prefix" '
        map(del(.command) + {dockerImage: ($prefix + "/" + (.name | ascii_downcase) + ":" + .version)})
    ' "${files[@]}"
}

mkdir -p "$out"
status=0
for kind in responders analyzers; do
    target="$out/$kind.json"
    generated="$(generate "$kind")"
    if $check; then
        if [ ! -f "$target" ] || [ "$(cat "$target")" != "$generated" ]; then
            echo "catalog.sh: $target is out of date: run scripts/catalog.sh" >&2
            status=1
        fi
    else
        printf '%s\n' "$generated" >"$target.tmp"
        mv "$target.tmp" "$target"
        echo "$target: $(jq length "$target") flavours"
    fi
done
exit $status
