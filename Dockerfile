# One image per Cortex flavour, as Cortex-Analyzers publishes them: the flavour's binary is the
# ENTRYPOINT, run with no arguments, so it reads the job Cortex mounts at /job (Cortex sets
# REQUESTS_CA_BUNDLE=/job/input/cacerts when the job carries CA certificates; the binary trusts it
# in addition to the system store). The flavour is chosen with the COMMAND build argument, the
# flavour file's `command`:
#
#   docker build --build-arg COMMAND=KasperskyMDR/mdr-send-task-log \
#       -t ghcr.io/kaspersky-mdr-rs/mdr_sendtasklog:2.0 .
#
# scripts/release.sh images runs that for every flavour, with the names catalogs/*.json list.
# The MDR responders also need their token folder: see "Docker runner" in README.md.

ARG RUST_VERSION=1.89

FROM rust:${RUST_VERSION}-slim-bookworm AS build
ARG COMMAND
RUN test -n "${COMMAND}" || { echo "build with --build-arg COMMAND=<Folder>/<binary> (a flavour's command)" >&2; exit 1; }
WORKDIR /src
COPY . .
# Release profile (LTO, stripped), from the lock file; only the binary this image runs.
RUN cargo build --release --locked --bin "${COMMAND#*/}" \
    && folder="${COMMAND%%/*}" \
    && kind="$(for k in responders analyzers; do [ -d "$k/$folder" ] && echo "$k"; done | head -n1)" \
    && test -n "$kind" \
    && install -D -m 0755 "target/release/${COMMAND#*/}" /out/worker/entrypoint \
    && install -d -m 0755 "/out/worker/$folder" \
    && install -m 0644 "$kind/$folder"/*.json "/out/worker/$folder/" \
    && if [ -f "$kind/$folder/README.md" ]; then install -m 0644 "$kind/$folder/README.md" "/out/worker/$folder/"; fi

# glibc, libgcc (unwinding: a panic still ends in an error document), CA certificates, nothing else.
# Runs as root like the Cortex-Analyzers images: the job folder Cortex mounts belongs to the Cortex user.
FROM gcr.io/distroless/cc-debian12
ARG COMMAND
LABEL org.opencontainers.image.title="Kaspersky MDR responders for Cortex: ${COMMAND}" \
      org.opencontainers.image.source="https://github.com/kaspersky-mdr-rs/kaspersky-mdr-responders" \
      org.opencontainers.image.licenses="AGPL-3.0-only" \
      cortex.command="${COMMAND}"
COPY --from=build /out/worker /worker
WORKDIR /worker
ENTRYPOINT ["/worker/entrypoint"]
