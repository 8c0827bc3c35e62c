#!/usr/bin/env bash
# Checks that a release archive is what it says, as a new user would find it:
#
#   scripts/check-release.sh dist/kaspersky-mdr-responders-<version>-x86_64-linux.tar.gz
#
# - the .sha256 file beside it matches;
# - one top folder named after the archive, with README.md, LICENSE, install.sh, binaries.sh,
#   catalogs/{responders,analyzers}.json and thehive-templates.zip;
# - every binary binaries.sh lists (each flavour's `command` and the operator tools) is there,
#   0755, the same list as this source tree's scripts/binaries.sh, and starts: `--version` exits 0
#   and prints the workspace version;
# - each OpenCTI connector (binaries.sh --connectors) is connectors/<folder>/ with the source tree's
#   files of that folder and its binary (0755, starts, same checks);
# - no binary needs a glibc symbol version above GLIBC_2.17 (objdump -T);
# - the templates zip holds <AnalyzerName>_<version>/long.html and short.html at its top level
#   for every analyzer flavour, and nothing else.
# Prints one line per check; exits 1 when any fails. Run by scripts/release.sh before it writes an
# archive, and by hand; not part of cargo test (it needs a zig-built archive).
set -euo pipefail
GLIBC_BASELINE=2.17
root="$(cd "$(dirname "$0")/.." && pwd)"
[ $# -eq 1 ] || { echo "usage: scripts/check-release.sh ARCHIVE.tar.gz" >&2; exit 2; }
archive="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
[ -f "$archive" ] || { echo "check-release.sh: no file $1" >&2; exit 2; }
name="$(basename "$archive" .tar.gz)"
version="$(sed -n '/^\[workspace.package\]/,/^\[/s/^version *= *"\(.*\)"/\1/p' "$root/Cargo.toml" | head -n1)"

failures=0
ok() { echo "ok    $*"; }
fail() { echo "FAIL  $*"; failures=$((failures + 1)); }

if [ -f "$archive.sha256" ] && (cd "$(dirname "$archive")" && sha256sum --check --status "$name.tar.gz.sha256"); then
    ok "sha256: $name.tar.gz.sha256 matches"
else
    fail "sha256: $name.tar.gz.sha256 missing or does not match"
fi

unpacked="$(mktemp -d)"
trap 'rm -rf "$unpacked"' EXIT
tar -xzf "$archive" -C "$unpacked"
tops="$(ls -A "$unpacked")"
if [ "$tops" != "$name" ]; then
    fail "layout: the archive's top level is \"$tops\", expected the one folder $name"
    echo "check-release.sh: $failures check(s) failed"
    exit 1
fi
top="$unpacked/$name"
missing=()
for file in README.md LICENSE install.sh binaries.sh catalogs/responders.json catalogs/analyzers.json thehive-templates.zip; do
    [ -f "$top/$file" ] || missing+=("$file")
done
for script in install.sh binaries.sh; do
    [ -x "$top/$script" ] || missing+=("$script (executable)")
done
if [ "${#missing[@]}" -eq 0 ]; then ok "layout: $name/ with README.md, LICENSE, install.sh, binaries.sh, catalogs/, thehive-templates.zip"; else fail "layout: missing ${missing[*]}"; fi

mapfile -t listed < <("$top/binaries.sh"; "$top/binaries.sh" --connectors)
mapfile -t expected < <("$root/scripts/binaries.sh")
mapfile -t connectors < <("$root/scripts/binaries.sh" --connectors)
if [ "${listed[*]}" = "${expected[*]} ${connectors[*]}" ]; then
    ok "binaries: the archive lists the same ${#listed[@]} binaries as scripts/binaries.sh (connectors included)"
else
    fail "binaries: the archive lists [${listed[*]}], the source tree [${expected[*]} ${connectors[*]}]"
fi

# A connector folder holds what the source tree's does, plus its binary.
for entry in "${connectors[@]}"; do
    folder="${entry%%/*}"
    for file in "$root/connectors/$folder"/*; do
        [ -f "$file" ] || continue
        if ! cmp -s "$file" "$top/connectors/$folder/$(basename "$file")"; then
            fail "connectors/$folder/$(basename "$file"): missing or not the source tree's"
        fi
    done
done

newest=""
for entry in "${expected[@]}" "${connectors[@]}"; do
    path=""
    for kind in responders analyzers connectors; do
        [ -f "$top/$kind/$entry" ] && path="$top/$kind/$entry"
    done
    if [ -z "$path" ]; then fail "$entry: not in the archive"; continue; fi
    mode="$(stat -c %a "$path")"
    [ "$mode" = 755 ] || fail "$entry: mode $mode, expected 755"
    started="$(cd "$unpacked" && timeout 10 "$path" --version 2>&1)" && code=0 || code=$?
    if [ "$code" -ne 0 ] || [[ "$started" != *" $version" ]]; then
        fail "$entry: --version exited $code: $started"
        continue
    fi
    needed="$(objdump -T "$path" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/^GLIBC_//' | sort -u -V | tail -n1)"
    [ -z "$needed" ] || newest="$(printf '%s\n%s\n' "${newest:-0}" "$needed" | sort -V | tail -n1)"
    if [ -n "$needed" ] && [ "$(printf '%s\n%s\n' "$GLIBC_BASELINE" "$needed" | sort -V | tail -n1)" != "$GLIBC_BASELINE" ]; then
        fail "$entry: needs GLIBC_$needed, above GLIBC_$GLIBC_BASELINE"
        continue
    fi
    ok "$entry: starts (\"$started\"), newest glibc symbol GLIBC_${needed:-none}"
done
[ -z "$newest" ] || echo "info  glibc: the newest symbol any binary needs is GLIBC_$newest (ceiling GLIBC_$GLIBC_BASELINE)"

# The template ids TheHive derives from the analyzer flavours: <name>_<version, dots as underscores>.
ids="$(for file in "$top"/analyzers/*/*.json; do
    [ -f "$file" ] && python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["name"] + "_" + d["version"].replace(".", "_"))' "$file"
done)"
if problems="$(python3 - "$top/thehive-templates.zip" "$ids" <<'PY'
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
ids = sys.argv[2].split()
wanted = {f"{i}/{page}" for i in ids for page in ("long.html", "short.html")}
problems = [f"missing {w}" for w in sorted(wanted - set(names))]
problems += [f"unexpected entry {n}" for n in names if n not in wanted]
print("; ".join(problems))
sys.exit(1 if problems else 0)
PY
)"; then
    ok "templates: thehive-templates.zip holds long.html and short.html of $(echo "$ids" | wc -w) analyzers at its top level"
else
    fail "templates: $problems"
fi

if [ "$failures" -gt 0 ]; then
    echo "check-release.sh: $failures check(s) failed"
    exit 1
fi
echo "check-release.sh: $archive passes"
