#!/usr/bin/env bash
# `make bench`: the load generator of bench/ against the real stack (a database in a
# throwaway PostgreSQL cluster under .data/bench-pg, or E2E_DATABASE_URL; Temporal dev
# servers from the pinned CLI, or TEMPORAL_CLI; the real worker and ingress; the sandbox as
# Meta and Rocket.Chat). Writes docs/benchmarks.md and docs/bench-raw/*.json.
# Arguments are passed to the generator, e.g. `bash scripts/bench.sh -quick -out /dev/null`.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

if [[ -z "${TEMPORAL_CLI:-}" ]]; then
  ensure_temporal_cli
  export TEMPORAL_CLI="$TEMPORAL"
fi
if [[ -z "${E2E_DATABASE_URL:-}" ]]; then
  PG_BENCH_PORT=${PG_BENCH_PORT:-55434}
  trap 'pg_stop "$ROOT/.data/bench-pg"' EXIT
  pg_start "$ROOT/.data/bench-pg" "$PG_BENCH_PORT" postgres
  export E2E_DATABASE_URL="postgres://postgres@127.0.0.1:$PG_BENCH_PORT/postgres?sslmode=disable"
fi
log "go run ./bench $*   (process logs in .data/bench-logs/)"
go run ./bench "$@"
