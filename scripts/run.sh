#!/usr/bin/env bash
# `make run`: the whole stack on the embedded defaults. PostgreSQL under .data/pg, the
# Temporal dev server (SQLite under .data/temporal, UI on :8233), worker and ingress, and -
# when no Rocket.Chat / Meta credentials are set - the sandbox emulators. Ctrl-C stops
# everything this script started; a second run reuses .data/.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

# Refuse to start over another stack (ports would clash and half the processes would exit).
for port in 7233 8080 9081 9091 9092; do
  if (echo >/dev/tcp/127.0.0.1/$port) 2>/dev/null; then
    die "port $port is already in use (another make run?); stop it first"
  fi
done

DATA="$ROOT/.data"
mkdir -p "$DATA/logs"
PIDS=()
cleanup() {
  trap - INT TERM EXIT
  log "Stopping"
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  pkill -P $$ 2>/dev/null || true
  wait 2>/dev/null || true
  pg_stop "$DATA/pg"
}
STOPPING=
trap 'STOPPING=1' INT TERM
trap cleanup EXIT

# Secrets generated once for the embedded defaults, kept in .data/ (git-ignored).
if [[ ! -f "$DATA/secrets.env" ]]; then
  umask 077
  cat >"$DATA/secrets.env" <<SECRETS
TOKEN_ENCRYPTION_KEY=$(random_secret)
SANDBOX_PAGE_TOKEN=EAAG$(random_hex)
ADMIN_API_TOKEN=$(random_hex)
SECRETS
fi
# Added since the first version of secrets.env: appended once, kept afterwards. Every secret
# the bridge compares is at least 32 bytes (it refuses shorter ones); random_hex gives 64.
for v in SANDBOX_META_APP_SECRET SANDBOX_META_VERIFY_TOKEN SANDBOX_ROCKETCHAT_WEBHOOK_TOKEN \
         SANDBOX_ROCKETCHAT_AUTH_TOKEN SANDBOX_ROCKETCHAT_COMMAND_TOKEN CODEC_AUTH_TOKEN; do
  grep -q "^$v=.\{32,\}" "$DATA/secrets.env" || echo "$v=$(random_hex)" >>"$DATA/secrets.env"
done
set -a; source "$DATA/secrets.env"; set +a
[[ -f "$ROOT/.env" ]] && { set -a; source "$ROOT/.env"; set +a; }

PG_PORT=${PG_PORT:-55432}
export DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:$PG_PORT/igdirect?sslmode=disable}
export TEMPORAL_ADDRESS=${TEMPORAL_ADDRESS:-127.0.0.1:7233}
export INGRESS_ADDR=${INGRESS_ADDR:-:8080}
export ADMIN_ADDR=${ADMIN_ADDR:-127.0.0.1:9081}
export PUBLIC_URL=${PUBLIC_URL:-http://localhost:8080}
INGRESS_LOCAL=http://127.0.0.1:${INGRESS_ADDR##*:}
ADMIN_LOCAL=http://127.0.0.1:${ADMIN_ADDR##*:}

log "Building"
go build -o "$BIN/" ./worker ./ingress/cmd/ingress ./sandbox/cmd/sandbox
ensure_temporal_cli

if [[ "$DATABASE_URL" == *"127.0.0.1:$PG_PORT"* ]]; then
  pg_start "$DATA/pg" "$PG_PORT" igdirect
fi
if [[ "$TEMPORAL_ADDRESS" == "127.0.0.1:7233" ]]; then
  log "Starting Temporal dev server (UI http://localhost:8233)"
  # The UI decrypts payloads through ingress's codec endpoint (admin listener).
  temporal_start "$DATA/temporal/dev.db" 7233 8233 "$DATA/logs/temporal.log" "$ADMIN_LOCAL/codec/$CODEC_AUTH_TOKEN"
  PIDS+=("$TEMPORAL_PID")
fi

SANDBOX=false
if [[ -z "${ROCKETCHAT_URL:-}" && -z "${META_APP_SECRET:-}" ]]; then
  SANDBOX=true
  export META_APP_ID=910000000000001
  export META_APP_SECRET=$SANDBOX_META_APP_SECRET META_VERIFY_TOKEN=$SANDBOX_META_VERIFY_TOKEN
  export META_GRAPH_URL=http://127.0.0.1:9091 META_DIALOG_URL=http://127.0.0.1:9091
  # The sandbox's CDN serves customer media over plain HTTP on loopback (tests and make run only).
  export MEDIA_FETCH_TEST_ORIGINS=http://127.0.0.1:9091
  export ROCKETCHAT_URL=http://127.0.0.1:9092 ROCKETCHAT_USER_ID=bridge-bot
  export ROCKETCHAT_AUTH_TOKEN=$SANDBOX_ROCKETCHAT_AUTH_TOKEN ROCKETCHAT_WEBHOOK_TOKEN=$SANDBOX_ROCKETCHAT_WEBHOOK_TOKEN
  export ROCKETCHAT_COMMAND_TOKEN=$SANDBOX_ROCKETCHAT_COMMAND_TOKEN
  log "No Rocket.Chat / Meta credentials set: starting the sandbox emulators"
  SANDBOX_META_ADDR=127.0.0.1:9091 SANDBOX_RC_ADDR=127.0.0.1:9092 \
    SANDBOX_INSTAGRAM_WEBHOOK=$INGRESS_LOCAL/webhooks/instagram \
    SANDBOX_ROCKETCHAT_WEBHOOK=$INGRESS_LOCAL/webhooks/rocketchat \
    SANDBOX_PAGE_TOKEN=$SANDBOX_PAGE_TOKEN \
    "$BIN/sandbox" >"$DATA/logs/sandbox.log" 2>&1 &
  PIDS+=($!)
  wait_http http://127.0.0.1:9092/sandbox/state
fi

"$BIN/worker" >"$DATA/logs/worker.log" 2>&1 &
PIDS+=($!)
"$BIN/ingress" >"$DATA/logs/ingress.log" 2>&1 &
PIDS+=($!)
wait_http "$INGRESS_LOCAL/healthz"

if $SANDBOX; then
  curl -fsS -X PUT "$ADMIN_LOCAL/admin/api/pages/102030405060708" \
    -H "Authorization: Bearer $ADMIN_API_TOKEN" -H 'Content-Type: application/json' \
    -d "{\"ig_account_id\":\"17841400000000001\",\"ig_username\":\"casaazul.store\",\"name\":\"Casa Azul Store\",\"access_token\":\"$SANDBOX_PAGE_TOKEN\",\"department\":\"Instagram\"}" >/dev/null
fi

cat <<MSG

  Instagram Direct for Rocket.Chat is running.

  Temporal UI        http://localhost:8233  (conversations: workflow IDs instagram:<account>:<user>)
  Ingress            $PUBLIC_URL  (webhooks: /webhooks/instagram, /webhooks/rocketchat)
  Ingress (internal) $ADMIN_LOCAL  (admin API, /metrics, /readyz, payload codec for the UI)
  Logs               .data/logs/
MSG
if $SANDBOX; then
cat <<MSG
  Sandbox Meta       http://127.0.0.1:9091/sandbox/state
  Sandbox Rocket.Chat http://127.0.0.1:9092/sandbox/state  (agent "ana" answers every message)

  Make a simulated Instagram user send a message:

    curl -s -X POST http://127.0.0.1:9091/sandbox/messages -H 'Content-Type: application/json' -d '{"igsid":"6871234500000001","text":"Hello from Instagram!"}'

  Then see it in the Rocket.Chat room, and the agent's reply sent back to Instagram:

    curl -s 'http://127.0.0.1:9092/sandbox/state'; curl -s 'http://127.0.0.1:9091/sandbox/sent?igsid=6871234500000001'
MSG
fi
echo; log "Press Ctrl-C to stop everything."
wait -n "${PIDS[@]}" || true
[[ -n "$STOPPING" ]] || log "A process exited; see .data/logs/"
