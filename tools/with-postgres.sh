#!/usr/bin/env bash
# tools/with-postgres.sh CMD... -- run CMD with RHAI_TEST_PG_URL pointing at
# a throwaway PostgreSQL 15: initdb into a temp dir, pg_ctl start on a free
# 127.0.0.1 port (and a unix socket in that dir), fsync off; stopped and
# removed when CMD ends, whatever happens. Run as root, the server runs as
# the unprivileged 'postgres' user of Debian's package (or 'rhai-pg', made
# when neither exists). Never touches a system-wide server.
#
# Exported to CMD:
#   RHAI_TEST_PG_URL      postgres://rhai@127.0.0.1:PORT/rhai (trust auth, no password)
#   RHAI_TEST_PG_RESTART  a command that restarts the server (same port and data)
#   RHAI_TEST_PG_STOP / RHAI_TEST_PG_START   commands that stop / start it
#   RHAI_TEST_PG_DIR      the temp dir (data in $dir/data, socket in $dir)
# With RHAI_PG_DURABLE=1 the server keeps fsync on (benchmarks).
# With RHAI_TEST_PGBOUNCER=1 a PgBouncer in transaction pooling mode is put
# in front (RHAI_TEST_PG_URL names it): what a store must survive there (no
# session state across transactions) is then tested too.
# With RHAI_TEST_PG_URL already set, it is used as is (no server started).
set -euo pipefail

if [ -n "${RHAI_TEST_PG_URL:-}" ]; then
    exec "$@"
fi

bindir=""
for d in "${RHAI_PG_BINDIR:-}" /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
    if [ -n "$d" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/initdb" ]; then bindir=$d; break; fi
done
if [ -z "$bindir" ] && command -v pg_ctl >/dev/null && command -v initdb >/dev/null; then
    bindir=$(dirname "$(command -v pg_ctl)")
fi
[ -n "$bindir" ] || { echo "with-postgres: no initdb/pg_ctl (tools/deps.sh installs postgresql)" >&2; exit 1; }

# As root, the server runs as an unprivileged user (postgres refuses root).
runas=()
if [ "$(id -u)" -eq 0 ]; then
    pguser=""
    if id postgres >/dev/null 2>&1; then
        pguser=postgres
    else
        id rhai-pg >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin rhai-pg
        pguser=rhai-pg
    fi
    if command -v runuser >/dev/null; then runas=(runuser -u "$pguser" --)
    else runas=(su -s /bin/sh "$pguser" -c); fi
fi
# su -c takes one string; runuser takes argv
as_pg() {
    if [ ${#runas[@]} -eq 0 ]; then "$@"
    elif [ "${runas[0]}" = runuser ]; then "${runas[@]}" "$@"
    else "${runas[@]}" "$(printf '%q ' "$@")"; fi
}

dir=$(mktemp -d "${TMPDIR:-/tmp}/rhai-pg-XXXXXX")
chmod 0755 "$dir"
[ -n "${pguser:-}" ] && chown "$pguser" "$dir"
started=""
cleanup() {
    if [ -f "$dir/pgbouncer.pid" ]; then
        kill "$(cat "$dir/pgbouncer.pid")" 2>/dev/null || true
    fi
    if [ -n "$started" ]; then
        as_pg "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
}
trap cleanup EXIT INT TERM

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null \
        || echo $(( 20000 + RANDOM % 20000 ))
}

as_pg "$bindir/initdb" -D "$dir/data" -U rhai --auth=trust -E UTF8 --no-locale \
    >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }

for attempt in 1 2 3 4 5; do
    port=$(free_port)
    # fsync=off only risks an OS crash; never synchronous_commit=off: a
    # server killed -9 (tools/chaos) would lose commits it acknowledged
    # RHAI_PG_DURABLE=1 (tools/bench-store.sh): fsync on, as in production
    durable="-c fsync=off -c full_page_writes=off"
    [ "${RHAI_PG_DURABLE:-0}" = 1 ] && durable=""
    opts="-c listen_addresses=127.0.0.1 -p $port -k $dir $durable \
-c max_connections=200 \
-c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all"
    if as_pg "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -o "$opts" -w -t 30 start \
        >/dev/null 2>&1; then
        started=1
        break
    fi
done
[ -n "$started" ] || { echo "with-postgres: could not start postgres" >&2; cat "$dir/server.log" >&2 || true; exit 1; }

"$bindir/psql" -X -q -h 127.0.0.1 -p "$port" -U rhai -d postgres -c "CREATE DATABASE rhai" >/dev/null

ctl="$bindir/pg_ctl -D $dir/data -l $dir/server.log -w -t 30"
if [ ${#runas[@]} -gt 0 ]; then ctl="runuser -u $pguser -- $ctl"; fi
export RHAI_TEST_PG_URL="postgres://rhai@127.0.0.1:$port/rhai"
if [ "${RHAI_TEST_PGBOUNCER:-}" = 1 ]; then
    command -v pgbouncer >/dev/null || { echo "with-postgres: no pgbouncer (tools/deps.sh)" >&2; exit 1; }
    bport=$(free_port)
    printf '%s\n' "[databases]" "* = host=127.0.0.1 port=$port user=rhai" "[pgbouncer]" \
        "listen_addr = 127.0.0.1" "listen_port = $bport" "unix_socket_dir =" "auth_type = any" \
        "pool_mode = transaction" "max_client_conn = 500" "default_pool_size = 10" \
        "ignore_startup_parameters = extra_float_digits" "logfile = $dir/pgbouncer.log" \
        "pidfile = $dir/pgbouncer.pid" "server_login_retry = 1" >"$dir/pgbouncer.ini"
    [ -n "${pguser:-}" ] && chown "$pguser" "$dir/pgbouncer.ini"
    as_pg pgbouncer -d "$dir/pgbouncer.ini" >/dev/null 2>&1 \
        || { echo "with-postgres: pgbouncer did not start" >&2; cat "$dir/pgbouncer.log" >&2 || true; exit 1; }
    for _ in $(seq 100); do
        "$bindir/psql" -X -q -h 127.0.0.1 -p "$bport" -U rhai -d rhai -c "SELECT 1" >/dev/null 2>&1 && break
        sleep 0.05
    done
    export RHAI_TEST_PG_URL="postgres://rhai@127.0.0.1:$bport/rhai"
fi
export RHAI_TEST_PG_DIR="$dir"
export RHAI_TEST_PG_RESTART="$ctl -m fast restart -o '$opts' >/dev/null"
export RHAI_TEST_PG_STOP="$ctl -m fast stop >/dev/null"
export RHAI_TEST_PG_START="$ctl start -o '$opts' >/dev/null"
echo "with-postgres: throwaway postgres at $RHAI_TEST_PG_URL (data $dir/data)" >&2
set +e
"$@"
rc=$?
set -e
exit $rc
