#!/bin/sh
# Re-makes the golden cases (see ../README.md). Needs: a venv with pycti==7.260817.0, the upstream
# connector's requirements, connectors-sdk and stix2-validator ($VENV), and the upstream connector's
# src/ folder ($CONNECTOR_SRC, internal-enrichment/kaspersky-enrichment/src of OpenCTI-Platform/connectors).
set -eu
: "${VENV:?set VENV to the virtualenv}" "${CONNECTOR_SRC:?set CONNECTOR_SRC to the upstream src folder}"
TOOLS=$(cd "$(dirname "$0")" && pwd)
DEST=$(dirname "$TOOLS")
WORK=$(mktemp -d)
cp "$TOOLS"/*.py "$WORK"/
cd "$WORK"
"$VENV/bin/python" make_cases.py
"$VENV/bin/python" stub.py 18931 & STUB=$!
trap 'kill $STUB; rm -rf "$WORK"' EXIT
sleep 2
export OPENCTI_URL=http://127.0.0.1:18931 OPENCTI_TOKEN=octi-token CONNECTOR_ID=11111111-2222-4333-8444-555555555555
export CONNECTOR_LISTEN_PROTOCOL=API CONNECTOR_QUEUE_PROTOCOL=api CONNECTOR_LOG_LEVEL=info
export KASPERSKY_API_KEY=tip-key KASPERSKY_API_BASE_URL=http://127.0.0.1:18931
export KASPERSKY_FILE_SECTIONS=LicenseInfo,Zone,FileGeneralInfo,DetectionsInfo,FileDownloadedFromUrls,Industries,FileNames
export KASPERSKY_IPV4_SECTIONS=LicenseInfo,Zone,IpGeneralInfo,FilesDownloadedFromIp,HostedUrls,IpWhoIs,IpDnsResolutions,Industries
export KASPERSKY_DOMAIN_SECTIONS=LicenseInfo,Zone,DomainGeneralInfo,DomainDnsResolutions,FilesDownloaded,FilesAccessed,Industries
export KASPERSKY_URL_SECTIONS=LicenseInfo,Zone,UrlGeneralInfo,FilesDownloaded,FilesAccessed,Industries
"$VENV/bin/python" run_connector.py "$CONNECTOR_SRC" > connector.log 2>&1
"$VENV/bin/python" collect.py "$DEST"
"$VENV/bin/python" validate.py "$DEST"
