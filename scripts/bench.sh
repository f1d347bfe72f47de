#!/usr/bin/env bash
# `make bench`: the load generator of bench/ against the real stacks it starts through
# internal/devstack (each with its own throwaway PostgreSQL; the Temporal dev server and the
# production topology from the pinned binaries; the real worker and ingress; the sandbox as
# Meta and Rocket.Chat). Writes docs/benchmarks.md and docs/bench-raw/*.json.
# Arguments are passed to the generator, e.g. `bash scripts/bench.sh -quick -out /dev/null`.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

PG_BINDIR=$(pg_bindir)
export PG_BINDIR
log "Temporal CLI, server and UI (pinned; built into bin/ the first time)"
devstack build -cluster
log "go run ./bench $*   (process logs in .data/bench-logs/)"
go run ./bench "$@"
