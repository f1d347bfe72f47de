#!/bin/sh
# One-shot service temporal-setup (docker-compose.yml), image temporalio/admin-tools:
#   1. waits until `temporal operator cluster health` reports SERVING,
#   2. creates the namespace TEMPORAL_NAMESPACE when it does not exist (retention
#      TEMPORAL_NAMESPACE_RETENTION; an existing namespace is left as it is),
#   3. creates the search attributes in SEARCH_ATTRIBUTES ("Name=Type …", the keys of
#      workflows.SearchAttributeTypes; deploy/compose_test.go checks they match),
#   4. lists them back and fails unless every one is there with its type.
# worker and ingress start only after this exits 0 (service_completed_successfully): the
# worker refuses to start without the search attributes (internal/temporalx), and without
# them every workflow task would fail (specs/temporal-go.md §1.9).
#
# Idempotent, runs on every `docker compose up`: creating an existing attribute with the same
# type succeeds. Only our six Keyword attributes are created: with SQL visibility a namespace
# has 10 Keyword, 3 Text, 3 Datetime … slots, so no demo attributes are registered here.
#
# POSIX sh and the temporal CLI only (newer admin-tools images are plain Alpine).
set -eu

: "${TEMPORAL_ADDRESS:?}" "${TEMPORAL_NAMESPACE:?}" "${SEARCH_ATTRIBUTES:?}"
RETENTION=${TEMPORAL_NAMESPACE_RETENTION:-720h}
export TEMPORAL_ADDRESS # the CLI reads it; no --address needed

log() { echo "temporal-setup: $*"; }

# retry ATTEMPTS DELAY_SECONDS COMMAND… runs COMMAND until it succeeds.
retry() {
  attempts=$1 delay=$2 n=1
  shift 2
  until "$@"; do
    if [ "$n" -ge "$attempts" ]; then
      log "giving up after $attempts attempts: $*" >&2
      return 1
    fi
    n=$((n + 1))
    sleep "$delay"
  done
}

# grep -w: NOT_SERVING is one word, so it does not match.
serving() { temporal operator cluster health 2>/dev/null | grep -qw SERVING; }

namespace_exists() { temporal operator namespace describe --namespace "$TEMPORAL_NAMESPACE" >/dev/null 2>&1; }

# create_namespace succeeds when the namespace exists afterwards (another run may race us).
create_namespace() {
  namespace_exists && return 0
  temporal operator namespace create --namespace "$TEMPORAL_NAMESPACE" --retention "$RETENTION" ||
    namespace_exists
}

log "waiting for Temporal at $TEMPORAL_ADDRESS"
retry 150 2 serving || {
  temporal operator cluster health >&2 # show why
  exit 1
}
log "cluster is serving"

if namespace_exists; then
  log "namespace $TEMPORAL_NAMESPACE exists"
else
  log "creating namespace $TEMPORAL_NAMESPACE (retention $RETENTION)"
  retry 30 2 create_namespace
fi

# --name/--type pairs, one pair per attribute, in one call.
set --
for sa in $SEARCH_ATTRIBUTES; do
  case $sa in
  ?*=?*) ;;
  *)
    log "bad SEARCH_ATTRIBUTES entry '$sa' (want Name=Type)" >&2
    exit 1
    ;;
  esac
  set -- "$@" --name "${sa%%=*}" --type "${sa#*=}"
done
log "creating search attributes: $SEARCH_ATTRIBUTES"
# Right after a namespace is created the frontend may not know it yet ("namespace not
# found" until its cache refreshes): retry.
retry 30 2 temporal operator search-attribute create --namespace "$TEMPORAL_NAMESPACE" "$@"

list=$(temporal operator search-attribute list --namespace "$TEMPORAL_NAMESPACE")
missing=
for sa in $SEARCH_ATTRIBUTES; do
  name=${sa%%=*} type=${sa#*=}
  # the row of the attribute (whole word), with its type on it (whole word: Keyword is not KeywordList)
  echo "$list" | grep -w -- "$name" | grep -qiw -- "$type" || missing="$missing $sa"
done
if [ -n "$missing" ]; then
  log "missing after create:$missing" >&2
  echo "$list" >&2
  exit 1
fi
log "namespace $TEMPORAL_NAMESPACE has every search attribute"
