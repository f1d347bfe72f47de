#!/usr/bin/env bash
# `make test`: static checks, unit tests, the end-to-end tests on the Temporal dev server,
# brief fuzzing, a representative part of the end-to-end tests on the production topology,
# and the quick benchmark. `make test-cluster` (`test.sh cluster`) runs every end-to-end
# test on the production topology; `make test-faults` (`test.sh faults`) the fault suite with
# more messages; `make screenshots` (`test.sh screenshots`) the console's browser test alone.
# Stacks (PostgreSQL included) are started and stopped by the tests themselves through
# internal/devstack, on free ports: nothing outlives the run.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
MODE=${1:-all}

# The end-to-end tests on the production topology that `make test` runs: the conversation
# tests, the cluster-only faults, the log scan for secrets (all of them: make test-cluster).
CLUSTER_SUBSET='TestMessagesArriveInOrderExactlyOnce|TestAgentReplyReachesInstagramAndEchoIsNotPosted|TestClosingRoomCompletesRunAndNextMessageOpensNewRoom|TestTemporalDownThenRetriedDeliverySucceeds|TestClusterFaults|TestZZNoSecretInAnyLog'

if [[ "$MODE" == all ]]; then
  log "go vet"
  go vet ./...
  log "workflowcheck (determinism of workflow code)"
  go run go.temporal.io/sdk/contrib/tools/workflowcheck@v0.6.0 -show-pos ./workflows/...
  vulncheck
fi

PG_BINDIR=$(pg_bindir)
export PG_BINDIR
log "Temporal CLI, server and UI (pinned; built into bin/ the first time)"
devstack build -cluster

# The console's browser test drives Debian's headless Chromium (installed when missing).
source "$ROOT/scripts/chromium.sh"
ensure_chromium

export E2E_LOGS="$ROOT/.data/test-logs"
rm -rf "$E2E_LOGS"; mkdir -p "$E2E_LOGS"

case "$MODE" in
cluster)
  log "end-to-end tests on the production topology"
  E2E_LOGS="$E2E_LOGS/cluster" E2E_TOPOLOGY=cluster go test -count=1 -timeout 40m ${GOTESTFLAGS:--v} ./e2e/
  exit
  ;;
faults)
  log "fault-injection suite, ${FAULT_MESSAGES:-4} messages each way per case"
  go test -count=1 -timeout 25m -run TestFaults -v ${GOTESTFLAGS:-} ./e2e/
  exit
  ;;
screenshots)
  log "the console's screenshots (CONSOLE_SCREENSHOTS=${CONSOLE_SCREENSHOTS:-a temporary folder})"
  go test -count=1 -timeout 10m -run TestConsoleInABrowser -v ./e2e/
  exit
  ;;
all) ;;
*) die "unknown mode $MODE (all, cluster, faults, screenshots)" ;;
esac

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

log "end-to-end tests on the production topology, a representative part (all of them: make test-cluster)"
# Histories are recorded from the dev-server run only (make record-histories).
env -u RECORD_HISTORIES E2E_LOGS="$E2E_LOGS/cluster" E2E_TOPOLOGY=cluster go test -count=1 -timeout 20m -run "$CLUSTER_SUBSET" ./e2e/

log "benchmark, quick variant (keeps \`make bench\` working; its numbers are not asserted)"
go run ./bench -quick -out /dev/null -raw-dir "" -logs "$E2E_LOGS/bench"
