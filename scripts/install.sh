#!/usr/bin/env bash
# Installs the responders (and analyzers) into the folders Cortex scans, with their flavour files,
# and prints the responder.urls / analyzer.urls lines for Cortex's application.conf.
#
#   scripts/install.sh [--bin-dir DIR] [--no-build] RESPONDERS_DIR [ANALYZERS_DIR]
#
# From a source tree it first builds the release binaries (cargo build --release --locked). From
# an unpacked release archive (binaries already beside their flavour files) it builds nothing.
# --bin-dir takes the binaries from DIR instead (e.g. target/debug); --no-build skips the build
# and uses target/release (under CARGO_TARGET_DIR when set) as it is.
#
# Each flavour folder (responders/KasperskyMDR, analyzers/KasperskyTIP, ...) is copied as
# RESPONDERS_DIR/<Folder>/: the flavour files (0644), README.md, and the binary each flavour's
# `command` names (0755), replaced by rename so a job running meanwhile keeps its old binary.
# A flavour whose binary this workspace does not build is skipped with a warning. Analyzers are
# installed only when ANALYZERS_DIR is given. Folders are created 0755; existing other responders
# in those folders are left alone.
set -euo pipefail
# In a release archive this script sits at the top, beside responders/ and analyzers/; in a source
# tree it is in scripts/. Look beside it first: the archive's parent may hold another responders/.
root="$(cd "$(dirname "$0")" && pwd)"
[ -d "$root/responders" ] || root="$(cd "$root/.." && pwd)"

bin_dir=""
build=true
args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --bin-dir) bin_dir="$2"; build=false; shift 2 ;;
        --no-build) build=false; shift ;;
        -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
        -*) echo "install.sh: unknown option $1" >&2; exit 2 ;;
        *) args+=("$1"); shift ;;
    esac
done
if [ "${#args[@]}" -lt 1 ] || [ "${#args[@]}" -gt 2 ]; then
    echo "usage: scripts/install.sh [--bin-dir DIR] [--no-build] RESPONDERS_DIR [ANALYZERS_DIR]" >&2
    exit 2
fi
responders_dest="${args[0]}"
analyzers_dest="${args[1]:-}"
umask 022

# The `command` of a flavour file, without needing jq.
flavour_command() {
    sed -n 's/^[[:space:]]*"command"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' "$1" | head -n1
}

# Every flavour file of the kinds being installed.
flavour_files() {
    local kind
    for kind in "$@"; do
        [ -d "$root/$kind" ] || continue
        find "$root/$kind" -mindepth 2 -maxdepth 2 -name '*.json' -type f | LC_ALL=C sort
    done
}

kinds=(responders)
[ -n "$analyzers_dest" ] && kinds+=(analyzers)
# Programs installed beside the responders that no flavour runs (operator tools).
tools=(KasperskyMDR/mdr-token KasperskyMDR/mdr-sync)

# Whether the workspace defines a binary of that name.
workspace_defines() {
    compgen -G "$root/crates/*/src/bin/$1.rs" >/dev/null || grep -qx "name = \"$1\"" "$root"/crates/*/Cargo.toml
}

if [ -f "$root/Cargo.toml" ] && [ -z "$bin_dir" ]; then
    # Where cargo puts the binaries: CARGO_TARGET_DIR or build.target-dir when set, else target/.
    target_dir="$(cd "$root" && cargo metadata --format-version 1 --no-deps 2>/dev/null \
        | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')" || target_dir=""
    bin_dir="${target_dir:-$root/target}/release"
    if $build; then
        # Build the binaries the flavours name; a flavour whose crate defines no binary yet is
        # skipped below rather than failing the build.
        bins=()
        while IFS= read -r file; do
            name="$(basename "$(flavour_command "$file")")"
            if [ -n "$name" ] && workspace_defines "$name" && [[ " ${bins[*]:-} " != *" --bin=$name "* ]]; then
                bins+=("--bin=$name")
            fi
        done < <(flavour_files "${kinds[@]}")
        for tool in "${tools[@]}"; do
            workspace_defines "${tool#*/}" && bins+=("--bin=${tool#*/}")
        done
        if [ "${#bins[@]}" -gt 0 ]; then
            echo "Building ${bins[*]#--bin=} (release profile)"
            (cd "$root" && cargo build --release --locked "${bins[@]}")
        fi
    fi
fi

# Copies src to dest/name with mode, atomically (temp file + rename).
install_file() {
    local src="$1" dest_dir="$2" mode="$3" name tmp
    name="$(basename "$src")"
    tmp="$dest_dir/.$name.install.$$"
    cp "$src" "$tmp"
    chmod "$mode" "$tmp"
    mv -f "$tmp" "$dest_dir/$name"
}

installed=0
skipped=0
# Installs every flavour of <kind> into <dest> (an absolute path).
install_kind() {
    local kind="$1" dest="$2" file folder command binary src
    while IFS= read -r file; do
        folder="$(basename "$(dirname "$file")")"
        command="$(flavour_command "$file")"
        binary="$(basename "$command")"
        if [ -z "$command" ] || [ "${command%%/*}" != "$folder" ]; then
            echo "warning: $file: command \"$command\" is not $folder/<binary>; skipped" >&2
            skipped=$((skipped + 1))
            continue
        fi
        if [ -n "$bin_dir" ]; then src="$bin_dir/$binary"; else src="$(dirname "$file")/$binary"; fi
        if [ ! -x "$src" ]; then
            echo "warning: $(basename "$file"): no binary $src; flavour not installed" >&2
            skipped=$((skipped + 1))
            continue
        fi
        mkdir -p "$dest/$folder"
        chmod 0755 "$dest/$folder"
        if [ "$(cd "$(dirname "$src")" && pwd)/$binary" != "$dest/$folder/$binary" ]; then
            install_file "$src" "$dest/$folder" 0755
        fi
        install_file "$file" "$dest/$folder" 0644
        if [ -f "$(dirname "$file")/README.md" ]; then
            install_file "$(dirname "$file")/README.md" "$dest/$folder" 0644
        fi
        # What Cortex does with it: `command` resolved against the folder it scans.
        [ -x "$dest/$command" ] || { echo "install.sh: $dest/$command is not executable" >&2; exit 1; }
        echo "  $folder/$(basename "$file") -> $command"
        installed=$((installed + 1))
    done < <(flavour_files "$kind")
}

absolute() {
    mkdir -p "$1"
    chmod 0755 "$1"
    (cd "$1" && pwd)
}

responders_abs="$(absolute "$responders_dest")"
echo "Installing responders into $responders_abs"
install_kind responders "$responders_abs"
analyzers_abs=""
if [ -n "$analyzers_dest" ]; then
    analyzers_abs="$(absolute "$analyzers_dest")"
    echo "Installing analyzers into $analyzers_abs"
    install_kind analyzers "$analyzers_abs"
fi
# Flavour files left from another version (e.g. the Python responders' MDR_ConfirmResponse.json,
# whose mdr.py is gone): Cortex would still list them.
for dest in "$responders_abs" ${analyzers_abs:+"$analyzers_abs"}; do
    for file in "$dest"/*/*.json; do
        [ -f "$file" ] || continue
        rel="${file#"$dest"/}"
        if [ ! -f "$root/responders/$rel" ] && [ ! -f "$root/analyzers/$rel" ]; then
            folder="${rel%%/*}"
            if [ -d "$root/responders/$folder" ] || [ -d "$root/analyzers/$folder" ]; then
                echo "warning: $file is not part of this version: rename it to .json.disabled or delete it" >&2
            fi
        fi
    done
done

for tool in "${tools[@]}"; do
    if [ -n "$bin_dir" ]; then src="$bin_dir/${tool#*/}"; else src="$root/responders/$tool"; fi
    if [ -x "$src" ] && [ -d "$responders_abs/${tool%%/*}" ] && [ "$src" != "$responders_abs/$tool" ]; then
        install_file "$src" "$responders_abs/${tool%%/*}" 0755
        echo "  $tool (operator tool, not a flavour)"
    fi
done
if [ "$installed" -eq 0 ]; then
    echo "install.sh: no flavour installed" >&2
    exit 1
fi

echo
note=""
[ "$skipped" -eq 0 ] || note=" ($skipped skipped, see the warnings above)"
echo "Installed $installed flavours$note. Add to Cortex's application.conf (append to the"
echo "list if it already names other folders), then restart Cortex or refresh Organization > Responders:"
echo
echo "responder.urls = [\"$responders_abs\"]"
[ -z "$analyzers_abs" ] || echo "analyzer.urls = [\"$analyzers_abs\"]"
echo
echo "The Cortex user needs read and execute access to these folders (installed 0755, flavour files 0644)."
