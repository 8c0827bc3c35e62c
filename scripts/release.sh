#!/usr/bin/env bash
# Release artefacts.
#
#   scripts/release.sh [archive] [--out DIR]   build the release binaries and pack
#       DIR/kaspersky-mdr-responders-<version>-<arch>-linux.tar.gz (+ .sha256): responders/ and
#       analyzers/ laid out as Cortex scans them (binaries beside their flavour files), the
#       catalogues, README.md, LICENSE and install.sh (which, run from the unpacked archive,
#       copies without building). DIR defaults to dist/.
#   scripts/release.sh images [--dry-run] [--push] [--prefix ghcr.io/<owner>]
#       docker build one image per flavour (see Dockerfile), tagged as catalogs/*.json lists
#       them; --dry-run prints the commands instead (no Docker engine needed).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
tmp_dirs=()
trap 'rm -rf "${tmp_dirs[@]:-}"' EXIT
version="$(sed -n '/^\[workspace.package\]/,/^\[/s/^version *= *"\(.*\)"/\1/p' Cargo.toml | head -n1)"

archive() {
    local out="dist"
    while [ $# -gt 0 ]; do
        case "$1" in
            --out) out="$2"; shift 2 ;;
            *) echo "release.sh archive: unknown argument $1" >&2; exit 2 ;;
        esac
    done
    local name="kaspersky-mdr-responders-$version-$(uname -m)-linux"
    local stage
    stage="$(mktemp -d)"
    tmp_dirs+=("$stage")
    mkdir -p "$stage/$name" "$out"
    scripts/install.sh "$stage/$name/responders" "$stage/$name/analyzers" >/dev/null
    # Flavours of an analyzer whose binary is not built yet are skipped by install.sh: an empty
    # folder would only confuse.
    rmdir "$stage/$name/analyzers" 2>/dev/null || true
    scripts/catalog.sh --out "$stage/$name/catalogs" >/dev/null
    install -m 0644 README.md LICENSE "$stage/$name/"
    install -m 0755 scripts/install.sh "$stage/$name/install.sh"
    # Reproducible: sorted names, fixed owner and dates (SOURCE_DATE_EPOCH, else the last commit).
    local epoch="${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}"
    local tarball="$out/$name.tar.gz"
    tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$epoch" -C "$stage" -cf - "$name" \
        | gzip -n -9 >"$tarball"
    (cd "$out" && sha256sum "$name.tar.gz" >"$name.tar.gz.sha256")
    echo "$tarball"
    tar -tzvf "$tarball" | awk '{print "  " $1 " " $6}'
}

images() {
    local dry_run=false push=false prefix="${IMAGE_PREFIX:-}"
    while [ $# -gt 0 ]; do
        case "$1" in
            --dry-run) dry_run=true; shift ;;
            --push) push=true; shift ;;
            --prefix) prefix="$2"; shift 2 ;;
            *) echo "release.sh images: unknown argument $1" >&2; exit 2 ;;
        esac
    done
    command -v jq >/dev/null || { echo "release.sh: needs jq" >&2; exit 1; }
    local catalogs
    catalogs="$(mktemp -d)"
    tmp_dirs+=("$catalogs")
    if [ -n "$prefix" ]; then
        scripts/catalog.sh --prefix "$prefix" --out "$catalogs" >/dev/null
    else
        scripts/catalog.sh --out "$catalogs" >/dev/null
    fi
    local kind file name flavour_version image command
    for kind in responders analyzers; do
        for file in $(LC_ALL=C ls -1 "$kind"/*/*.json 2>/dev/null | LC_ALL=C sort); do
            name="$(jq -r .name "$file")"
            command="$(jq -r .command "$file")"
            image="$(jq -r --arg n "$name" '.[] | select(.name == $n) | .dockerImage' "$catalogs/$kind.json")"
            set -- docker build --build-arg "COMMAND=$command" --label "org.opencontainers.image.version=$version" -t "$image" .
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
    -h|--help) sed -n '2,13p' "$0" ;;
    *) echo "release.sh: unknown command $1 (archive or images)" >&2; exit 2 ;;
esac
