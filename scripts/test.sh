#!/usr/bin/env bash
# One command for the whole test suite: set up everything, then run pytest.
# Tests that need PostgreSQL, MariaDB or Redis skip when those are absent, except with CI=true,
# where they fail. Browser screenshots go to test-artifacts/screenshots/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh --test
exec .venv/bin/python -m pytest "$@"
