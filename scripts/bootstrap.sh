#!/usr/bin/env bash
# Sets up everything Maskflow needs on a fresh Debian machine: system packages, a virtualenv and
# the pinned Python dependencies. Safe to run again. Usage: scripts/bootstrap.sh [--test]
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(pkg-config libmariadb-dev unixodbc)
if [[ "${1:-}" == "--test" ]]; then
  packages+=(chromium)
fi
missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "==> installing system packages: ${missing[*]}"
  SUDO=""
  [[ "$(id -u)" == 0 ]] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PYTHON="${PYTHON:-python3}"
if [[ ! -x .venv/bin/python ]]; then
  echo "==> creating virtualenv .venv"
  "$PYTHON" -m venv .venv
fi
extras=""
[[ "${1:-}" == "--test" ]] && extras="[test]"
echo "==> installing Python dependencies (pinned in pyproject.toml)"
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".${extras}"
