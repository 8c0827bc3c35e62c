#!/usr/bin/env bash
# Release artefacts.
#
#   scripts/release.sh [archive] [--out DIR]   build portable binaries (glibc 2.17 or later, x86_64)
#       and pack DIR/kaspersky-mdr-responders-<version>-x86_64-linux.tar.gz (+ .sha256):
#       responders/ and analyzers/ laid out as Cortex scans them (binaries beside their flavour
#       files), the catalogues, thehive-templates.zip, README.md, LICENSE, install.sh and
#       binaries.sh (install.sh, run from the unpacked archive, copies without building), and
#       connectors/<folder>/ per OpenCTI connector (see below). DIR defaults to dist/. The archive is written only when scripts/check-release.sh passes
#       on it (layout, every binary starts, no glibc symbol above GLIBC_2.17, sha256 file).
#   scripts/release.sh images [--from DIR|--archive FILE] [--contexts DIR] [--dry-run] [--push]
#       [--prefix ghcr.io/<owner>]   one Docker image per flavour from the archive's portable
#       binary (see Dockerfile), tagged as catalogs/*.json lists them; --dry-run prints the docker
#       commands instead (no Docker engine needed); --contexts keeps the build contexts there.
#   scripts/release.sh connectors --bin-dir DIR --out DIR   lay out each OpenCTI connector that
#       binaries.sh --connectors lists as OUT/<folder>/: the files of connectors/<folder>/ (0644) and
#       its binary from --bin-dir (0755). The archive's connectors/ is made this way; each folder is
#       then the Docker build context of its own Dockerfile (the binary beside it).
#
# The binaries are linked against glibc 2.17 by zig (cargo-zigbuild), whatever the build machine's
# glibc. Missing tools are installed at the pinned versions below and the script says so: ziglang
# from PyPI into a virtualenv (RELEASE_TOOLS_DIR, default ~/.cache/kaspersky-mdr-release), and
# cargo-zigbuild from crates.io with cargo install --locked.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

ZIGLANG_VERSION=0.15.2
CARGO_ZIGBUILD_VERSION=0.24.1
# The target triple with zigbuild's glibc suffix; cargo puts the output under the plain triple.
GLIBC_BASELINE=2.17
TARGET=x86_64-unknown-linux-gnu

tmp_dirs=()
trap 'rm -rf "${tmp_dirs[@]:-}"' EXIT
version="$(sed -n '/^\[workspace.package\]/,/^\[/s/^version *= *"\(.*\)"/\1/p' Cargo.toml | head -n1)"
archive_name="kaspersky-mdr-responders-$version-x86_64-linux"

# ziglang in its own virtualenv, at the pinned version; exports CARGO_ZIGBUILD_PYTHON_PATH.
ensure_zig() {
    local venv="${RELEASE_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kaspersky-mdr-release}/ziglang-$ZIGLANG_VERSION"
    if ! [ -x "$venv/bin/python" ] || [ "$("$venv/bin/python" -m ziglang version 2>/dev/null)" != "$ZIGLANG_VERSION" ]; then
        echo "release.sh: installing zig $ZIGLANG_VERSION (PyPI package ziglang) into $venv" >&2
        python3 -m venv "$venv"
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "ziglang==$ZIGLANG_VERSION"
    fi
    export CARGO_ZIGBUILD_PYTHON_PATH="$venv/bin/python"
}

ensure_zigbuild() {
    local installed
    installed="$(cargo-zigbuild --version 2>/dev/null | awk '{print $2}')" || installed=""
    if [ "$installed" != "$CARGO_ZIGBUILD_VERSION" ]; then
        echo "release.sh: installing cargo-zigbuild $CARGO_ZIGBUILD_VERSION (crates.io; found: ${installed:-none})" >&2
        cargo install --locked --quiet --version "$CARGO_ZIGBUILD_VERSION" cargo-zigbuild
    fi
}

# The newest GLIBC_x.y symbol version a binary needs (empty when none).
glibc_needed() {
    objdump -T "$1" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/^GLIBC_//' | sort -u -V | tail -n1
}

archive() {
    local out="dist"
    while [ $# -gt 0 ]; do
        case "$1" in
            --out) out="$2"; shift 2 ;;
            *) echo "release.sh archive: unknown argument $1" >&2; exit 2 ;;
        esac
    done
    for tool in python3 objdump jq tar gzip sha256sum; do
        command -v "$tool" >/dev/null || { echo "release.sh: $tool is required" >&2; exit 1; }
    done
    ensure_zig
    ensure_zigbuild

    local binaries=() bins=() entry
    mapfile -t binaries < <(scripts/binaries.sh; scripts/binaries.sh --connectors)
    for entry in "${binaries[@]}"; do bins+=("--bin=${entry#*/}"); done
    echo "Building ${bins[*]#--bin=} for $TARGET, glibc $GLIBC_BASELINE (release profile, zig $ZIGLANG_VERSION)" >&2
    cargo zigbuild --release --locked --target "$TARGET.$GLIBC_BASELINE" "${bins[@]}"
    local target_dir
    target_dir="$(cargo metadata --format-version 1 --no-deps | jq -r .target_directory)"
    local bin_dir="$target_dir/$TARGET/release"

    # Refuse before packing: every shipped binary built, none needing a newer glibc.
    local binary needed failed=false
    for entry in "${binaries[@]}"; do
        binary="$bin_dir/${entry#*/}"
        [ -x "$binary" ] || { echo "release.sh: $binary was not built" >&2; failed=true; continue; }
        needed="$(glibc_needed "$binary")"
        if [ -n "$needed" ] && [ "$(printf '%s\n%s\n' "$GLIBC_BASELINE" "$needed" | sort -V | tail -n1)" != "$GLIBC_BASELINE" ]; then
            echo "release.sh: ${entry#*/} needs GLIBC_$needed, above the GLIBC_$GLIBC_BASELINE baseline" >&2
            failed=true
        fi
    done
    $failed && { echo "release.sh: no archive written" >&2; exit 1; }

    local stage
    stage="$(mktemp -d)"
    tmp_dirs+=("$stage")
    local top="$stage/$archive_name"
    mkdir -p "$top" "$out"
    scripts/install.sh --bin-dir "$bin_dir" "$top/responders" "$top/analyzers" >/dev/null
    scripts/catalog.sh --out "$top/catalogs" >/dev/null
    connectors --bin-dir "$bin_dir" --out "$top/connectors"
    templates_zip "$top/thehive-templates.zip"
    install -m 0644 README.md LICENSE "$top/"
    install -m 0755 scripts/install.sh scripts/binaries.sh "$top/"
    # Reproducible: sorted names, fixed owner and dates (SOURCE_DATE_EPOCH, else the last commit).
    local epoch="${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}"
    find "$top" -exec touch -h -d "@$epoch" {} +
    tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$epoch" -C "$stage" -cf - "$archive_name" \
        | gzip -n -9 >"$stage/$archive_name.tar.gz"
    (cd "$stage" && sha256sum "$archive_name.tar.gz" >"$archive_name.tar.gz.sha256")
    if ! scripts/check-release.sh "$stage/$archive_name.tar.gz" >&2; then
        echo "release.sh: the archive fails scripts/check-release.sh; not written to $out" >&2
        exit 1
    fi
    mv -f "$stage/$archive_name.tar.gz" "$stage/$archive_name.tar.gz.sha256" "$out/"
    echo "$out/$archive_name.tar.gz"
}

# Each connector folder with its binary: OUT/<folder>/ holds connectors/<folder>/'s files and the
# binary, so that it is the build context its Dockerfile expects.
connectors() {
    local bin_dir="" out=""
    while [ $# -gt 0 ]; do
        case "$1" in
            --bin-dir) bin_dir="$2"; shift 2 ;;
            --out) out="$2"; shift 2 ;;
            *) echo "release.sh connectors: unknown argument $1" >&2; exit 2 ;;
        esac
    done
    [ -n "$bin_dir" ] && [ -n "$out" ] || { echo "usage: scripts/release.sh connectors --bin-dir DIR --out DIR" >&2; exit 2; }
    local entry folder binary
    while IFS= read -r entry; do
        folder="${entry%%/*}"
        binary="${entry#*/}"
        [ -d "connectors/$folder" ] || { echo "release.sh connectors: no folder connectors/$folder" >&2; exit 1; }
        [ -x "$bin_dir/$binary" ] || { echo "release.sh connectors: no binary $bin_dir/$binary" >&2; exit 1; }
        mkdir -p "$out/$folder"
        chmod 0755 "$out" "$out/$folder"
        find "connectors/$folder" -maxdepth 1 -type f -exec install -m 0644 {} "$out/$folder/" \;
        install -m 0755 "$bin_dir/$binary" "$out/$folder/$binary"
    done < <(scripts/binaries.sh --connectors)
}

# The report templates as TheHive 4 and 5 import them: <AnalyzerName>_<version>/long.html and
# short.html at the top of the zip (zipping thehive-templates/ itself would make one template named
# after that folder). Entries sorted, fixed date and modes, so the zip is the same on every build.
templates_zip() {
    python3 - "$1" thehive-templates <<'PY'
import os, sys, zipfile
out, src = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
    for folder in sorted(os.listdir(src)):
        for name in sorted(os.listdir(os.path.join(src, folder))):
            info = zipfile.ZipInfo(f"{folder}/{name}", date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o100644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            with open(os.path.join(src, folder, name), "rb") as f:
                zf.writestr(info, f.read())
PY
}

images() {
    local dry_run=false push=false prefix="${IMAGE_PREFIX:-}" from="" archive_file="" contexts=""
    while [ $# -gt 0 ]; do
        case "$1" in
            --dry-run) dry_run=true; shift ;;
            --push) push=true; shift ;;
            --prefix) prefix="$2"; shift 2 ;;
            --from) from="$2"; shift 2 ;;
            --archive) archive_file="$2"; shift 2 ;;
            --contexts) contexts="$2"; shift 2 ;;
            *) echo "release.sh images: unknown argument $1" >&2; exit 2 ;;
        esac
    done
    command -v jq >/dev/null || { echo "release.sh: needs jq" >&2; exit 1; }
    if [ -z "$from" ]; then
        archive_file="${archive_file:-dist/$archive_name.tar.gz}"
        [ -f "$archive_file" ] || { echo "release.sh images: no $archive_file: run scripts/release.sh first" >&2; exit 1; }
        from="$(mktemp -d)"
        tmp_dirs+=("$from")
        tar -xzf "$archive_file" -C "$from"
        from="$from/$archive_name"
    fi
    if [ -z "$contexts" ]; then
        contexts="$(mktemp -d)"
        tmp_dirs+=("$contexts")
    fi
    local catalogs
    catalogs="$(mktemp -d)"
    tmp_dirs+=("$catalogs")
    scripts/catalog.sh ${prefix:+--prefix "$prefix"} --out "$catalogs" >/dev/null
    local kind file name command image context folder
    for kind in responders analyzers; do
        for file in $(LC_ALL=C ls -1 "$kind"/*/*.json 2>/dev/null | LC_ALL=C sort); do
            name="$(jq -r .name "$file")"
            command="$(jq -r .command "$file")"
            folder="${command%%/*}"
            image="$(jq -r --arg n "$name" '.[] | select(.name == $n) | .dockerImage' "$catalogs/$kind.json")"
            [ -x "$from/$kind/$command" ] || { echo "release.sh images: no binary $from/$kind/$command" >&2; exit 1; }
            # The context: the Dockerfile, the binary as `entrypoint`, the flavour folder's files.
            context="$contexts/$(printf '%s' "$name" | tr '[:upper:]' '[:lower:]')"
            rm -rf "$context"
            mkdir -p "$context/worker/$folder"
            install -m 0644 Dockerfile "$context/Dockerfile"
            install -m 0755 "$from/$kind/$command" "$context/entrypoint"
            find "$from/$kind/$folder" -maxdepth 1 -type f \( -name '*.json' -o -name README.md \) \
                -exec install -m 0644 {} "$context/worker/$folder/" \;
            set -- docker build --build-arg "COMMAND=$command" --label "org.opencontainers.image.version=$version" \
                -t "$image" "$context"
            if $dry_run; then echo "$*"; else "$@"; fi
            if $push; then
                if $dry_run; then echo "docker push $image"; else docker push "$image"; fi
            fi
        done
    done
}

case "${1:-archive}" in
    archive) shift || true; archive "$@" ;;
    --out) archive "$@" ;;
    images) shift; images "$@" ;;
    connectors) shift; connectors "$@" ;;
    -h|--help) sed -n '2,23p' "$0" ;;
    *) echo "release.sh: unknown command $1 (archive, images or connectors)" >&2; exit 2 ;;
esac
