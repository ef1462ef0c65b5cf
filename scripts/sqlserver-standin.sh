#!/usr/bin/env bash
# Start the local SQL Server stand-in (Babelfish, TDS on 127.0.0.1:1433) when it has been built
# on this machine; otherwise say so and succeed, since SQL Server tests skip without it.
#   scripts/sqlserver-standin.sh start-if-built
# MASKFLOW_SQLSERVER_STANDIN: the stand-in's script (default ../shared/tools/sqlserver-standin.sh
# beside the repository); BABELFISH_PREFIX: where it was built (default /opt/babelfish).
set -uo pipefail
cd "$(dirname "$0")/.."
tool="${MASKFLOW_SQLSERVER_STANDIN:-../shared/tools/sqlserver-standin.sh}"
prefix="${BABELFISH_PREFIX:-/opt/babelfish}"

answers() { (exec 3<>/dev/tcp/127.0.0.1/1433) 2>/dev/null; }

case "${1:-}" in
  start-if-built)
    if answers; then
      exit 0
    fi
    if [ ! -f "$tool" ] || [ ! -x "$prefix/pg/bin/pg_ctl" ] || [ ! -f "$prefix/data/PG_VERSION" ]; then
      echo "SQL Server stand-in not built on this machine: SQL Server tests will skip"
      exit 0
    fi
    if ! bash "$tool" start; then
      echo "SQL Server stand-in did not start (see $prefix/server.log): SQL Server tests will skip"
    fi
    exit 0 ;;
  *) sed -n '2,6p' "$0"; exit 2 ;;
esac
