#!/usr/bin/env bash
# The system packages the test suite and `make run` need on Debian 12, installed once.
#   PostgreSQL (server binaries), Java 17 and Maven (the local Kafka broker), make,
#   Prometheus with promtool, Alertmanager (the alertmanager notice channel's tests), a Compose parser
#   (docker-compose), Chromium with CJK fonts (dashboard tests), pango for WeasyPrint (the PDF report),
#   poppler-utils (PDF pages to PNG in tests), Python 3.11 with venv.
# Used by both `make test` and .ci/run. Idempotent: when everything is present it only checks (no
# apt-get update). When something is missing and we are not root, it names the packages and fails.
set -euo pipefail

missing=()

have_postgres() { compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; }
have_compose() { command -v docker-compose >/dev/null || docker compose version >/dev/null 2>&1; }

have_postgres || missing+=(postgresql)
command -v java >/dev/null || missing+=(openjdk-17-jre-headless)
command -v mvn >/dev/null || missing+=(maven)
command -v make >/dev/null || missing+=(make)
{ command -v prometheus >/dev/null && command -v promtool >/dev/null; } || missing+=(prometheus)
command -v prometheus-alertmanager >/dev/null || missing+=(prometheus-alertmanager)  # Alertmanager notices
have_compose || missing+=(docker-compose)
command -v chromium >/dev/null || [ -n "${QW_CHROMIUM:-}" ] || missing+=(chromium)
dpkg -s fonts-noto-cjk >/dev/null 2>&1 || missing+=(fonts-noto-cjk)  # Chinese on the dashboard and in the PDF report
# WeasyPrint (the report's PDF) draws text with pango; pdftoppm/pdftotext (poppler) render and read the PDF in tests.
dpkg -s libpango-1.0-0 >/dev/null 2>&1 || missing+=(libpango-1.0-0)
dpkg -s libpangoft2-1.0-0 >/dev/null 2>&1 || missing+=(libpangoft2-1.0-0)
command -v pdftoppm >/dev/null || missing+=(poppler-utils)
if ! command -v python3.11 >/dev/null; then
    missing+=(python3.11 python3.11-venv)
elif ! python3.11 -c 'import ensurepip' 2>/dev/null; then
    missing+=(python3.11-venv)
fi

if [ ${#missing[@]} -eq 0 ]; then
    echo "system packages present"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "missing system packages: ${missing[*]}" >&2
    echo "install them as root:  sudo bash $0   (or: sudo apt-get install -y ${missing[*]})" >&2
    exit 1
fi

echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
