#!/usr/bin/env bash
# Starts a throwaway PostgreSQL cluster on loopback for the store tests and prints
# its URL (the only thing on stdout). Idempotent: a cluster already running in
# the data directory is reused. Needs Debian's `postgresql` package.
#
#   export ZKMETER_TEST_POSTGRES_URL="$(bash store/scripts/start-postgres.sh)"
#
# PGPORT (default 5433) and ZKMETER_PG_DIR (default /tmp/zkmeter-postgres) choose
# the port and the data directory.
set -euo pipefail

port="${PGPORT:-5433}"
dir="${ZKMETER_PG_DIR:-/tmp/zkmeter-postgres}"
bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
    echo "PostgreSQL is not installed: apt-get install postgresql" >&2
    exit 1
fi

# initdb and postgres refuse to run as root.
as_postgres() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

if [ ! -f "$dir/PG_VERSION" ]; then
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres:postgres "$dir"
    as_postgres "$bin/initdb" -D "$dir" -A trust -U postgres >/dev/null
fi
if ! as_postgres "$bin/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
    as_postgres "$bin/pg_ctl" -D "$dir" -l "$dir/server.log" -w \
        -o "-c listen_addresses=127.0.0.1 -p $port -k /tmp -c fsync=off" start >/dev/null
fi
for _ in $(seq 1 50); do
    "$bin/pg_isready" -h 127.0.0.1 -p "$port" -q && break
    sleep 0.2
done

psql=("$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -v ON_ERROR_STOP=1 -qtA)
if [ "$("${psql[@]}" -c "SELECT 1 FROM pg_roles WHERE rolname = 'zkmeter'")" != 1 ]; then
    "${psql[@]}" -c "CREATE ROLE zkmeter LOGIN PASSWORD 'zkmeter'" >/dev/null
fi
if [ "$("${psql[@]}" -c "SELECT 1 FROM pg_database WHERE datname = 'zkmeter_test'")" != 1 ]; then
    "${psql[@]}" -c "CREATE DATABASE zkmeter_test OWNER zkmeter" >/dev/null
fi
echo "postgres://zkmeter:zkmeter@127.0.0.1:$port/zkmeter_test"
