#!/usr/bin/env bash
# Install the Debian packages Najda needs, only those that are missing.
# PostgreSQL + PostGIS + pgRouting for the embedded database, Chromium for browser tests,
# Node's npm for the browser libraries.
set -euo pipefail

pg_major() {
  # the newest PostgreSQL already installed, else Debian 12's (bookworm ships 15)
  local v
  v=$(ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -n1 || true)
  echo "${v:-15}"
}

PG=$(pg_major)
PACKAGES=(
  "postgresql-${PG}"
  "postgresql-${PG}-postgis-3"
  "postgresql-${PG}-pgrouting"
  chromium
  fonts-noto-core
)
# npm installs the browser libraries of package.json (Node may come from elsewhere)
if ! command -v npm >/dev/null; then
  PACKAGES+=(nodejs npm)
fi
# Debian's own python3 needs python3-venv for `python3 -m venv`
if ! "${PYTHON:-python3}" -c 'import ensurepip, venv' 2>/dev/null; then
  PACKAGES+=(python3-venv)
fi

missing=()
for pkg in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$pkg")
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "system packages: all present (PostgreSQL ${PG}, PostGIS, pgRouting, Chromium)"
  exit 0
fi

echo "system packages: installing ${missing[*]}"
SUDO=""
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null; then SUDO="sudo"; else
    echo "error: need root (or sudo) to install: ${missing[*]}" >&2; exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "system packages: done"
