#!/usr/bin/env bash
# Shared functions of the scripts. Stacks themselves are started by internal/devstack
# (bin/devstack for make run and make run-cluster; the e2e tests and the benchmark use the
# package directly); what is left here is what a Go program should not do by itself
# (installing PostgreSQL with apt-get) and govulncheck.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN="$ROOT/bin"

log() { printf '\033[1;34m==>\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31mxx\033[0m %s\n' "$*" >&2; exit 1; }

# use_pinned_go makes every go command of make and of these scripts run the Go release
# go.mod pins (its toolchain line): the one govulncheck scans and the images are built
# with, not whatever go the machine has. The go command fetches that release once through
# the Go module proxy (golang.org/toolchain) into the module cache; when it cannot, this
# stops, saying so, rather than build and test with another release. An explicit
# GOTOOLCHAIN in the environment is overridden.
use_pinned_go() {
  local want have
  want=$(sed -n 's/^toolchain //p' "$ROOT/go.mod")
  [[ -n "$want" ]] || return 0
  export GOTOOLCHAIN=$want
  # stdout only: the first run prints "go: downloading go1.x" on stderr while it fetches it.
  if ! have=$(go env GOVERSION 2>/dev/null) || [[ "$have" != "$want" ]]; then
    have=$(go env GOVERSION 2>&1 || true)
    die "go.mod pins $want (toolchain line), and the go command could not run it: ${have//$'\n'/ }. It downloads that release once through the Go module proxy (GOPROXY=$(GOTOOLCHAIN=local go env GOPROXY 2>/dev/null)); make the proxy reachable, or install $want and put its go first in PATH."
  fi
}
use_pinned_go

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

# vulncheck runs govulncheck on the module, offline but for the Go module proxy: the Go
# vulnerability database is the module golang.org/x/vulndb (its data/osv holds every
# report), and that module's indexdb command writes the database layout govulncheck reads
# (file://). The newest database the proxy has is used unless VULNDB_VERSION pins one; the
# built database is kept under .data/vulndb/<version>. The standard library scanned is the
# toolchain go.mod pins (the one the images are built with), fetched through the proxy
# once. Any vulnerability reachable from our code fails the run.
GOVULNCHECK_VERSION=v1.9.0
vulncheck() {
  local version dir src
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
  log "govulncheck $GOVULNCHECK_VERSION (database golang.org/x/vulndb@$version, standard library of $(go env GOVERSION))"
  (cd "$ROOT" && go run "golang.org/x/vuln/cmd/govulncheck@$GOVULNCHECK_VERSION" -db "file://$dir" ./...)
}
