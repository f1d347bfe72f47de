#!/bin/sh
# One-shot service temporal-schema (docker-compose.yml), image temporalio/admin-tools:
# creates Temporal's schema in the databases temporal and temporal_visibility (made by
# deploy/postgres/init-databases.sh) or upgrades it to the version of the admin-tools image.
# Runs before the server on every `docker compose up`; idempotent: setup-schema only records
# version 0.0 on an empty database, update-schema applies only the missing versions.
#
# Keep TEMPORAL_ADMINTOOLS_VERSION on the same server version as TEMPORAL_VERSION: the
# schema must be upgraded before the server that needs it starts.
#
# POSIX sh and the admin-tools binaries only (no bash, psql): newer admin-tools images are
# plain Alpine.
set -eu

: "${SQL_HOST:?}" "${SQL_PORT:?}" "${SQL_USER:?}" "${SQL_PASSWORD:?}" # password: read by temporal-sql-tool
SCHEMA_DIR=${TEMPORAL_SCHEMA_DIR:-/etc/temporal/schema/postgresql/v12}

sql_tool() {
  db=$1
  shift
  temporal-sql-tool --plugin postgres12 --ep "$SQL_HOST" -p "$SQL_PORT" -u "$SQL_USER" --db "$db" "$@"
}

# database:schema-subdirectory
for pair in temporal:temporal temporal_visibility:visibility; do
  db=${pair%%:*}
  dir=$SCHEMA_DIR/${pair#*:}/versioned
  [ -d "$dir" ] || { echo "setup-schema: $dir not found in this admin-tools image" >&2; exit 1; }
  echo "setup-schema: $db"
  attempt=1
  # PostgreSQL is healthy before this starts (depends_on); retry only for a slow first connection.
  until sql_tool "$db" setup-schema -v 0.0; do
    if [ "$attempt" -ge 10 ]; then
      echo "setup-schema: cannot set up $db on $SQL_HOST:$SQL_PORT as $SQL_USER (does the database exist? deploy/postgres/init-databases.sh creates it on an empty volume only)" >&2
      exit 1
    fi
    attempt=$((attempt + 1))
    sleep 3
  done
  sql_tool "$db" update-schema -d "$dir"
done
echo "setup-schema: done"
