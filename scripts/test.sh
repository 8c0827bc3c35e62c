#!/usr/bin/env bash
# The whole test suite, on a fresh machine too: installs what the tests need from Debian's packages
# (jq for the deployment tests, rabbitmq-server for the OpenCTI connector's RabbitMQ tests, which
# start and stop their own broker nodes), then runs every crate's tests.
set -euo pipefail
cd "$(dirname "$0")/.."

# The deployment tests run scripts/catalog.sh, which needs jq (a Debian package).
if ! command -v jq >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then
        (apt-get update -qq && apt-get install -y -qq jq) >/dev/null
    else
        echo ".ci/run: jq is missing and this user cannot install it" >&2
    fi
fi

# The OpenCTI connector's RabbitMQ transport is tested against a real broker (Debian's rabbitmq-server),
# which its tests start and stop themselves.
if [ ! -x /usr/lib/rabbitmq/bin/rabbitmq-server ]; then
    if [ "$(id -u)" = 0 ]; then
        # policy-rc.d 101: the package must not start a system broker (no init here, and the tests
        # run their own nodes on free ports); removed again whatever the install does.
        policy=/usr/sbin/policy-rc.d
        created_policy=""
        if [ ! -e "$policy" ]; then
            printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && created_policy=1
        fi
        status=0
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            rabbitmq-server) </dev/null >/dev/null || status=$?
        [ -n "$created_policy" ] && rm -f "$policy"
        [ "$status" = 0 ] || { echo ".ci/run: installing rabbitmq-server failed ($status)" >&2; exit "$status"; }
    else
        echo ".ci/run: rabbitmq-server is missing and this user cannot install it" >&2
    fi
fi

cargo test --workspace --locked "$@"
