#!/usr/bin/env bash
# Sets up everything Maskflow needs on a fresh Debian machine: system packages, a virtualenv and
# the Python dependencies at the versions locked in requirements/*.txt (scripts/lock.sh
# regenerates them from pyproject.toml). Safe to run again. Usage: scripts/bootstrap.sh [--test]
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(pkg-config libmariadb-dev unixodbc)
if [[ "${1:-}" == "--test" ]]; then
  packages+=(chromium postgresql-client)  # psql: the copy limit in bench/limits.py
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
lock=requirements/base.txt
[[ "${1:-}" == "--test" ]] && lock=requirements/test.txt
echo "==> installing Python dependencies (the whole tree, locked in $lock)"
pip=(.venv/bin/python -m pip install --quiet --disable-pip-version-check)
"${pip[@]}" --upgrade pip
"${pip[@]}" -r "$lock"
# the project itself, its dependencies already there at their locked versions
"${pip[@]}" --no-deps -e .
