#!/usr/bin/env bash
# `make test`: static checks, unit tests, and the end-to-end tests against a real
# PostgreSQL (a throwaway cluster under .data/test-pg, or E2E_DATABASE_URL) and real
# Temporal dev servers started by the tests from the pinned CLI (or TEMPORAL_CLI).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

log "go vet"
go vet ./...
log "workflowcheck (determinism of workflow code)"
go run go.temporal.io/sdk/contrib/tools/workflowcheck@v0.6.0 -show-pos ./workflows/...
vulncheck

if [[ -z "${TEMPORAL_CLI:-}" ]]; then
  ensure_temporal_cli
  export TEMPORAL_CLI="$TEMPORAL"
fi
if [[ -z "${E2E_DATABASE_URL:-}" ]]; then
  PG_TEST_PORT=${PG_TEST_PORT:-55433}
  trap 'pg_stop "$ROOT/.data/test-pg"' EXIT
  pg_start "$ROOT/.data/test-pg" "$PG_TEST_PORT" postgres
  export E2E_DATABASE_URL="postgres://postgres@127.0.0.1:$PG_TEST_PORT/postgres?sslmode=disable"
fi
# The console's browser test drives Debian's headless Chromium (installed when missing).
source "$ROOT/scripts/chromium.sh"
ensure_chromium
export E2E_LOGS="$ROOT/.data/test-logs"
rm -rf "$E2E_LOGS"; mkdir -p "$E2E_LOGS"

log "go test (unit and end-to-end)"
go test -count=1 -timeout 25m ${GOTESTFLAGS:-} ./...

# Brief fuzzing of everything that parses untrusted input (longer: FUZZTIME=5m make test).
FUZZTIME=${FUZZTIME:-8s}
for target in "./ingress/ FuzzInstagramWebhook" "./instagram/ FuzzParseWebhook" "./safetext/ FuzzNeutralize" \
              "./instagram/ FuzzVerifySignature" "./rocketchat/ FuzzParseWebhook"; do
  set -- $target
  log "fuzz $2 in $1 for $FUZZTIME"
  if out=$(go test -run='^$' -fuzz="^$2\$" -fuzztime="$FUZZTIME" "$1" 2>&1); then
    echo "$out" | tail -1
  else
    echo "$out" | grep -v '^fuzz: elapsed' | tail -30 || true
    # A real finding is an input saved under testdata/fuzz: that fails the build. Without one,
    # the fuzzing engine itself failed (a worker hung or was killed on a loaded machine).
    if [[ -n "$(git status --porcelain -- "$1testdata/fuzz" 2>/dev/null)" ]]; then
      die "fuzzing $2 found a failing input, saved under $1testdata/fuzz/$2: go test -run=$2 $1 reproduces it"
    fi
    log "fuzzing $2 stopped without a failing input (the engine, not the code); output above"
  fi
done

log "benchmark, quick variant (keeps \`make bench\` working; its numbers are not asserted)"
go run ./bench -quick -out /dev/null -raw-dir "" -logs "$E2E_LOGS/bench"
