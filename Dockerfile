# One image per Cortex flavour, as Cortex-Analyzers publishes them, from the release archive's
# portable binary (glibc 2.17 baseline, so any glibc base runs it): the flavour's binary is the
# ENTRYPOINT, run with no arguments, so it reads the job Cortex mounts at /job (Cortex sets
# REQUESTS_CA_BUNDLE=/job/input/cacerts when the job carries CA certificates; the binary trusts it
# in addition to the system store).
#
# The build context is not this source tree: scripts/release.sh images lays out one per flavour
# from the archive (this Dockerfile, the binary as `entrypoint`, the flavour folder's files under
# worker/<Folder>/) and runs, for each flavour,
#
#   docker build --build-arg COMMAND=KasperskyMDR/mdr-send-task-log \
#       -t ghcr.io/kaspersky-mdr-rs/mdr_sendtasklog:2.0 <context>
#
# The MDR responders also need their token folder: see "Docker runner" in README.md.

# glibc, libgcc (unwinding: a panic still ends in an error document), CA certificates, nothing else.
# Runs as root like the Cortex-Analyzers images: the job folder Cortex mounts belongs to the Cortex user.
FROM gcr.io/distroless/cc-debian12
ARG COMMAND
LABEL org.opencontainers.image.title="Kaspersky MDR responders for Cortex: ${COMMAND}" \
      org.opencontainers.image.source="https://github.com/kaspersky-mdr-rs/kaspersky-mdr-responders" \
      org.opencontainers.image.licenses="AGPL-3.0-only" \
      cortex.command="${COMMAND}"
COPY worker/ /worker/
COPY entrypoint /worker/entrypoint
WORKDIR /worker
ENTRYPOINT ["/worker/entrypoint"]
