#!/usr/bin/env bash
# Shared functions of the dev/test stack: the pinned Temporal CLI, a throwaway PostgreSQL
# cluster, the Temporal dev server. Sourced by run.sh and test-stack.sh.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN="$ROOT/bin"
TEMPORAL_CLI_VERSION=v1.5.1
TEMPORAL="$BIN/temporal"
SEARCH_ATTRIBUTES=(InstagramPageID InstagramAccount InstagramUsername RocketChatRoomID RocketChatDepartment ConversationState)

log() { printf '\033[1;34m==>\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31mxx\033[0m %s\n' "$*" >&2; exit 1; }

# ensure_temporal_cli builds the pinned CLI (dev server + UI) into bin/ once (~3 minutes).
ensure_temporal_cli() {
  if [[ -x "$TEMPORAL" ]] && "$TEMPORAL" --version 2>/dev/null | grep -q "Server 1.29"; then return; fi
  log "Building Temporal CLI $TEMPORAL_CLI_VERSION into bin/ (first time only, about 3 minutes)"
  mkdir -p "$BIN"
  GOBIN="$BIN" GOFLAGS=-mod=mod go install "github.com/temporalio/cli/cmd/temporal@$TEMPORAL_CLI_VERSION"
}

# pg_bindir finds PostgreSQL server binaries, installing them with apt-get when possible.
pg_bindir() {
  local d
  for d in "${PG_BINDIR:-}" /usr/lib/postgresql/*/bin; do
    [[ -n "$d" && -x "$d/initdb" && -x "$d/pg_ctl" ]] && { echo "$d"; return; }
  done
  if command -v initdb >/dev/null && command -v pg_ctl >/dev/null; then dirname "$(command -v initdb)"; return; fi
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    log "PostgreSQL server not found; installing it with apt-get"
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
    for d in /usr/lib/postgresql/*/bin; do [[ -x "$d/initdb" ]] && { echo "$d"; return; }; done
  fi
  die "PostgreSQL server binaries not found. Install them (Debian/Ubuntu: sudo apt-get install postgresql; macOS: brew install postgresql@15) or set PG_BINDIR."
}

# as_pg runs a command as the unprivileged user that owns the cluster: PostgreSQL refuses
# to run as root, so root uses the postgres account.
as_pg() {
  if [[ $(id -u) == 0 ]]; then
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# pg_start DATADIR PORT DBNAME: initdb on first use (loopback only, trust auth: a local dev
# cluster), start it, create the database. Idempotent.
pg_start() {
  local dir=$1 port=$2 db=$3 bindir
  bindir=$(pg_bindir)
  mkdir -p "$dir"
  if [[ $(id -u) == 0 ]]; then
    # The postgres account must reach the data directory through every parent; a checkout
    # under a private directory gets its cluster under /tmp instead (same name every run).
    if ! runuser -u postgres -- test -x "$(dirname "$dir")" 2>/dev/null; then
      local alt="/tmp/igdirect-pg-$(printf '%s' "$dir" | sha256sum | cut -c1-12)"
      log "user postgres cannot reach $dir; using $alt"
      dir=$alt
      mkdir -p "$dir"
      PG_DATA_DIR=$dir
    fi
    chown -R postgres "$dir"
  fi
  if [[ ! -f "$dir/PG_VERSION" ]]; then
    log "Creating PostgreSQL cluster in $dir"
    as_pg "$bindir/initdb" -D "$dir" -U postgres --auth=trust --encoding=UTF8 --no-sync >/dev/null
  fi
  if ! as_pg "$bindir/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
    log "Starting PostgreSQL on 127.0.0.1:$port"
    as_pg "$bindir/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories='' -c fsync=off -c max_connections=200" start >/dev/null \
      || { tail -20 "$dir/server.log" >&2; die "PostgreSQL did not start"; }
  fi
  local psql="$bindir/psql"
  [[ -x "$psql" ]] || psql=psql
  if ! "$psql" -h 127.0.0.1 -p "$port" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='$db'" | grep -q 1; then
    "$psql" -h 127.0.0.1 -p "$port" -U postgres -qc "CREATE DATABASE \"$db\"" >/dev/null
  fi
}

pg_stop() {
  local dir=${PG_DATA_DIR:-$1} bindir
  bindir=$(pg_bindir)
  [[ -f "$dir/PG_VERSION" ]] && as_pg "$bindir/pg_ctl" -D "$dir" -m fast -w stop >/dev/null 2>&1 || true
}

# temporal_start DBFILE PORT UIPORT(0 = headless) LOGFILE [CODEC_ENDPOINT]: start the dev
# server in the background with the latency flags of specs/temporal-go.md §6.4, wait until
# healthy, and create the search attributes (flags are ignored for an existing DB file, so
# always run the idempotent create). With CODEC_ENDPOINT the UI decrypts payloads through
# it. Sets TEMPORAL_PID (the server stays a child of the calling shell).
temporal_start() {
  local dbfile=$1 port=$2 uiport=$3 logfile=$4 codec=${5:-}
  mkdir -p "$(dirname "$dbfile")"
  local args=(server start-dev --db-filename "$dbfile" --ip 127.0.0.1 --port "$port"
    --sqlite-pragma journal_mode=wal --sqlite-pragma synchronous=normal
    --dynamic-config-value history.transferProcessorMaxPollRPS=1000
    --dynamic-config-value 'history.timerProcessorMaxTimeShift="20ms"'
    --dynamic-config-value history.timerProcessorMaxPollRPS=1000
    --dynamic-config-value system.enableActivityEagerExecution=true
    --dynamic-config-value system.forceSearchAttributesCacheRefreshOnRead=true
    --log-level warn)
  if [[ "$uiport" == 0 ]]; then args+=(--headless); else args+=(--ui-port "$uiport"); fi
  if [[ -n "$codec" ]]; then args+=(--ui-codec-endpoint "$codec"); fi
  "$TEMPORAL" "${args[@]}" >"$logfile" 2>&1 &
  TEMPORAL_PID=$!
  local pid=$TEMPORAL_PID
  local i
  for i in $(seq 1 120); do
    if "$TEMPORAL" operator cluster health --address "127.0.0.1:$port" >/dev/null 2>&1; then break; fi
    kill -0 "$pid" 2>/dev/null || { tail -20 "$logfile" >&2; die "Temporal dev server exited"; }
    sleep 0.5
  done
  local sa
  for sa in "${SEARCH_ATTRIBUTES[@]}"; do
    "$TEMPORAL" operator search-attribute create --address "127.0.0.1:$port" --namespace default \
      --name "$sa" --type Keyword >/dev/null 2>&1 || true
  done
}

# vulncheck runs govulncheck on the module, offline but for the Go module proxy: the Go
# vulnerability database is the module golang.org/x/vulndb (its data/osv holds every
# report), and that module's indexdb command writes the database layout govulncheck reads
# (file://). The newest database the proxy has is used unless VULNDB_VERSION pins one; the
# built database is kept under .data/vulndb/<version>. The standard library scanned is the
# toolchain go.mod pins (the one the images are built with), fetched through the proxy
# once. Any vulnerability reachable from our code fails the run.
GOVULNCHECK_VERSION=v1.9.0
vulncheck() {
  local version dir src toolchain
  version=${VULNDB_VERSION:-$(go list -m -f '{{.Version}}' golang.org/x/vulndb@latest)} \
    || die "cannot reach the Go module proxy for golang.org/x/vulndb (set VULNDB_VERSION to a cached version)"
  dir="$ROOT/.data/vulndb/$version"
  if [[ ! -f "$dir/index/db.json" ]]; then
    log "Building the vulnerability database golang.org/x/vulndb@$version into .data/vulndb/"
    src=$(go mod download -json "golang.org/x/vulndb@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
    [[ -d "$src/data/osv" ]] || die "golang.org/x/vulndb@$version has no data/osv"
    rm -rf "$dir.tmp" && mkdir -p "$(dirname "$dir")"
    GOFLAGS=-mod=mod go run "golang.org/x/vulndb/cmd/indexdb@$version" -vulns "$src/data/osv" -out "$dir.tmp"
    mv "$dir.tmp" "$dir"
  fi
  toolchain=$(sed -n 's/^toolchain //p' "$ROOT/go.mod")
  log "govulncheck $GOVULNCHECK_VERSION (database golang.org/x/vulndb@$version, standard library of ${toolchain:-$(go env GOVERSION)})"
  (cd "$ROOT" && GOTOOLCHAIN=${toolchain:-local} go run "golang.org/x/vuln/cmd/govulncheck@$GOVULNCHECK_VERSION" -db "file://$dir" ./...)
}

# random_secret prints 32 random bytes, base64.
random_secret() { head -c 32 /dev/urandom | base64 | tr -d '\n'; }

# random_hex prints 32 random bytes in hex (64 characters: safe in URLs, paths and .env).
random_hex() { head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'; }

# wait_http URL: wait until URL answers 2xx.
wait_http() {
  local url=$1 i
  for i in $(seq 1 120); do
    curl -fsS -o /dev/null "$url" 2>/dev/null && return 0
    sleep 0.5
  done
  die "$url did not come up"
}
