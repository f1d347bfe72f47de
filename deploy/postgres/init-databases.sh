#!/usr/bin/env bash
# First start of the PostgreSQL container only (empty data volume): the postgres image runs
# the scripts in /docker-entrypoint-initdb.d once, as the superuser, before it accepts TCP
# connections. Mounted there by docker-compose.yml.
#
# One server, two owners that cannot touch each other's data:
#   role igdirect  owns database igdirect                       (worker and ingress)
#   role temporal  owns databases temporal, temporal_visibility (Temporal server; schema by
#                  the temporal-schema service, deploy/temporal/setup-schema.sh)
# The passwords come from APP_DB_PASSWORD and TEMPORAL_DB_PASSWORD (.env). They are passed
# as psql variables and quoted by psql (:'var'), so any character is safe here; in
# DATABASE_URL they must be URL-safe (README: openssl rand -hex 24).
#
# Changing a password later: ALTER ROLE … PASSWORD … by hand; this script never runs again.
set -euo pipefail

: "${APP_DB_PASSWORD:?APP_DB_PASSWORD is not set}"
: "${TEMPORAL_DB_PASSWORD:?TEMPORAL_DB_PASSWORD is not set}"

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  --set app_password="$APP_DB_PASSWORD" \
  --set temporal_password="$TEMPORAL_DB_PASSWORD" <<'SQL'
CREATE ROLE igdirect LOGIN PASSWORD :'app_password';
CREATE DATABASE igdirect OWNER igdirect;

CREATE ROLE temporal LOGIN PASSWORD :'temporal_password';
CREATE DATABASE temporal OWNER temporal;
CREATE DATABASE temporal_visibility OWNER temporal;

-- Temporal's SQL visibility schema needs btree_gin and creates it when missing, which a
-- database owner may do only where btree_gin is a trusted extension (PostgreSQL 13+).
-- Creating it here as the superuser works on any version.
\connect temporal_visibility
CREATE EXTENSION IF NOT EXISTS btree_gin;
SQL

echo "init-databases: created roles igdirect, temporal and databases igdirect, temporal, temporal_visibility"
