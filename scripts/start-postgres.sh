#!/usr/bin/env bash
# Start a local PostgreSQL for the job store's PostgreSQL tests and print its URL.
#
# Idempotent: installs the Debian package only when pg_ctlcluster is missing, creates the
# cluster, role and database only when they do not exist, and starts the cluster only when it
# is down. Run as root on Debian. Progress goes to stderr; the last line on stdout is the URL,
# so CI can do: export SHOWTIME_TEST_PG_URL="$(scripts/start-postgres.sh | tail -n 1)"
set -euo pipefail

PG_USER="${SHOWTIME_PG_USER:-showtime}"
PG_PASSWORD="${SHOWTIME_PG_PASSWORD:-showtime}"
PG_DB="${SHOWTIME_PG_DB:-showtime_test}"

say() { echo "start-postgres: $*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
    say "must run as root (it installs packages and runs commands as the postgres user)"
    exit 1
fi

if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    say "installing PostgreSQL"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update >&2
    apt-get install -y --no-install-recommends postgresql >&2
fi

# The newest installed server version; its cluster is usually created by the package.
version="$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)"
if [ -z "$version" ]; then
    version="$(ls /usr/lib/postgresql | sort -V | tail -n 1)"
    say "creating cluster $version/main"
    pg_createcluster "$version" main >&2
elif [ ! -d "/etc/postgresql/$version/main" ]; then
    say "creating cluster $version/main"
    pg_createcluster "$version" main >&2
fi

# pg_ctlcluster status: 0 running, 3 stopped.
if ! pg_ctlcluster "$version" main status >/dev/null 2>&1; then
    say "starting cluster $version/main"
    pg_ctlcluster "$version" main start >&2
fi

port="$(pg_conftool -s "$version" main show port 2>/dev/null || echo 5432)"

for _ in $(seq 1 60); do
    if pg_isready -q -h 127.0.0.1 -p "$port"; then
        break
    fi
    sleep 0.5
done
if ! pg_isready -q -h 127.0.0.1 -p "$port"; then
    say "PostgreSQL $version did not accept connections on 127.0.0.1:$port within 30 s;" \
        "see /var/log/postgresql/postgresql-$version-main.log"
    exit 1
fi

psql_admin() {
    runuser -u postgres -- psql -p "$port" -v ON_ERROR_STOP=1 -qtAX "$@"
}

if [ "$(psql_admin -c "SELECT 1 FROM pg_roles WHERE rolname = '$PG_USER'")" != "1" ]; then
    say "creating role $PG_USER"
    psql_admin -c "CREATE ROLE \"$PG_USER\" LOGIN PASSWORD '$PG_PASSWORD'"
else
    # Keep the password the URL below promises, even if someone changed it.
    psql_admin -c "ALTER ROLE \"$PG_USER\" LOGIN PASSWORD '$PG_PASSWORD'"
fi

if [ "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = '$PG_DB'")" != "1" ]; then
    say "creating database $PG_DB"
    psql_admin -c "CREATE DATABASE \"$PG_DB\" OWNER \"$PG_USER\""
fi

say "PostgreSQL $version ready on 127.0.0.1:$port, database $PG_DB"
echo "postgresql+psycopg://$PG_USER:$PG_PASSWORD@127.0.0.1:$port/$PG_DB"
