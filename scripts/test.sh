#!/usr/bin/env bash
# One command for the whole test suite: set up everything, then run pytest.
# Tests that need PostgreSQL, MariaDB or Redis skip when those are absent, except with CI=true,
# where they fail. SQL Server tests (marker `sqlserver`) skip whenever nothing answers on
# 127.0.0.1:1433, CI included; when the TDS stand-in has been built on this machine
# (../shared/tools/sqlserver-standin.sh build ...), it is started here first.
# Browser screenshots go to test-artifacts/screenshots/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh --test
bash scripts/sqlserver-standin.sh start-if-built
exec .venv/bin/python -m pytest "$@"
