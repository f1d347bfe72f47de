#!/usr/bin/env bash
# Shared functions of the scripts. Stacks themselves are started by internal/devstack
# (bin/devstack for make run and make run-cluster; the e2e tests and the benchmark use the
# package directly); what is left here is what a Go program should not do by itself:
# installing PostgreSQL with apt-get.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN="$ROOT/bin"

log() { printf '\033[1;34m==>\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31mxx\033[0m %s\n' "$*" >&2; exit 1; }

# pg_bindir finds PostgreSQL server binaries, installing them with apt-get when possible.
pg_bindir() {
  local d
  for d in "${PG_BINDIR:-}" /usr/lib/postgresql/*/bin; do
    [[ -n "$d" && -x "$d/initdb" && -x "$d/postgres" ]] && { echo "$d"; return; }
  done
  if command -v initdb >/dev/null && command -v postgres >/dev/null; then dirname "$(command -v initdb)"; return; fi
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    log "PostgreSQL server not found; installing it with apt-get"
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
    for d in /usr/lib/postgresql/*/bin; do [[ -x "$d/initdb" ]] && { echo "$d"; return; }; done
  fi
  die "PostgreSQL server binaries not found. Install them (Debian/Ubuntu: sudo apt-get install postgresql; macOS: brew install postgresql@15) or set PG_BINDIR."
}

# devstack builds bin/devstack (internal/devstack/cmd/devstack) and runs it with the
# arguments: `devstack build [-cluster]` builds the pinned Temporal binaries into bin/.
devstack() {
  go build -o "$BIN/devstack" ./internal/devstack/cmd/devstack
  "$BIN/devstack" "$@"
}
