#!/usr/bin/env bash
# `make run` (and `make run-cluster`, with -cluster): the whole stack on the embedded
# defaults, started by internal/devstack (bin/devstack run). PostgreSQL under .data/, the
# Temporal dev server (SQLite under .data/temporal, UI on :8233) or the production topology
# of docker-compose.yml (.data/cluster), worker and ingress, and - when no Rocket.Chat / Meta
# credentials are set - the sandbox emulators. Ctrl-C stops everything it started; a second
# run reuses .data/.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

[[ -f "$ROOT/.env" ]] && { set -a; source "$ROOT/.env"; set +a; }
# PostgreSQL is started here unless DATABASE_URL points elsewhere (run-cluster: always).
if [[ " $* " == *" -cluster "* || -z "${DATABASE_URL:-}" || "$DATABASE_URL" == *"127.0.0.1:${PG_PORT:-55432}"* ]]; then
  PG_BINDIR=$(pg_bindir)
  export PG_BINDIR
fi
go build -o "$BIN/devstack" ./internal/devstack/cmd/devstack
exec "$BIN/devstack" run "$@"
