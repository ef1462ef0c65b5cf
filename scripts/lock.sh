#!/usr/bin/env bash
# Regenerates the lock files requirements/base.txt (a production install) and
# requirements/test.txt (with the test extras) from pyproject.toml, pinning the whole dependency
# tree. Run it after changing a dependency in pyproject.toml, then run scripts/bootstrap.sh.
# Usage: scripts/lock.sh [--upgrade]   (--upgrade moves every unpinned transitive to its latest)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
"$PY" -m piptools --version >/dev/null 2>&1 ||
  "$PY" -m pip install --quiet --disable-pip-version-check 'pip-tools==7.6.2'
common=(--quiet --strip-extras --allow-unsafe --no-emit-find-links --no-emit-index-url
  "$@")
export CUSTOM_COMPILE_COMMAND="bash scripts/lock.sh"
"$PY" -m piptools compile "${common[@]}" -o requirements/base.txt pyproject.toml
"$PY" -m piptools compile "${common[@]}" --extra test -o requirements/test.txt pyproject.toml
