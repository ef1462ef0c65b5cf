#!/usr/bin/env bash
# One command for the demo: set up, migrate, seed the demo databases and users, then run the web
# server and a Celery worker together (embedded defaults: SQLite, file-system broker).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
PY=.venv/bin/python
HOST="${MASKFLOW_HOST:-127.0.0.1}"
PORT="${MASKFLOW_PORT:-8000}"
ROWS="${MASKFLOW_DEMO_ROWS:-1000}"

$PY manage.py migrate --noinput
$PY manage.py seed_demo --rows "$ROWS" --keep

echo "==> starting the Celery worker"
# The worker marks runs whose worker died as failed on its own schedule; -B runs beat inside
# it, which fires the workflows' schedules.
.venv/bin/celery -A config worker -B --loglevel INFO --pool solo \
  --concurrency 1 --without-gossip --without-mingle &
WORKER=$!
trap 'kill $WORKER 2>/dev/null; wait $WORKER 2>/dev/null' EXIT INT TERM

cat <<MSG

  Maskflow is running at http://$HOST:$PORT/
  Sign in as 'admin' (admin) or 'analyst' (user) with the passwords printed above
  the first time the demo ran (or set MASKFLOW_ADMIN_PASSWORD / MASKFLOW_USER_PASSWORD
  before the first run; reset later with: .venv/bin/python manage.py changepassword admin).
  API docs: http://$HOST:$PORT/api/docs/     Stop with Ctrl-C.

MSG
$PY manage.py runserver "$HOST:$PORT" --noreload
