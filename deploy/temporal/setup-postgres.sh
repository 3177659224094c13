#!/usr/bin/env sh
# Create Temporal's two PostgreSQL databases and bring their schemas up to the server's version.
# Runs in the admin-tools image (same version as the server) before the server starts, on every
# `docker compose up`: each step is idempotent, and after an image upgrade update-schema applies
# the new versions' migrations. (The Temporal Helm chart runs the same three steps.)
set -eu
export SQL_PLUGIN=postgres12
export SQL_HOST="${POSTGRES_SEEDS:?the PostgreSQL host}"
export SQL_PORT="${DB_PORT:-5432}"
export SQL_USER="${POSTGRES_USER:?the PostgreSQL user}"
export SQL_PASSWORD="${POSTGRES_PWD:?the PostgreSQL password}"

for store in temporal:temporal temporal_visibility:visibility; do
  database="${store%%:*}"
  schema="${store#*:}"
  echo "schema of ${database}"
  SQL_DATABASE="$database" temporal-sql-tool create-database
  SQL_DATABASE="$database" temporal-sql-tool setup-schema -v 0.0
  SQL_DATABASE="$database" temporal-sql-tool update-schema \
    --schema-dir "/etc/temporal/schema/postgresql/v12/${schema}/versioned"
done
echo "Temporal schemas ready"
