#!/usr/bin/env bash
# tools/bench-store.sh [CONTEXTS] -- the store's figures on both backends
# (issue 17), for docs/performance.md. Builds an optimised rhai_bench_store
# (build-bench), then on sqlite (a temp data dir, synchronous=FULL as
# shipped) and on postgres (a throwaway PostgreSQL 15 from
# tools/with-postgres.sh, started durable: fsync and synchronous_commit on,
# as a production server runs):
#   - DSL create+get per pair inside a task, a task of 50 writes,
#   - a hot context: all tasks in one context, 2 and 8 processes,
#   - CONTEXTS (default 10000) contexts: create time, size, first and warm
#     task among them,
# and on postgres the layout question: the shared tables keyed by context
# that the backend uses against a schema per context (the same tables made
# again per context with CREATE TABLE ... LIKE), at CONTEXTS contexts or as
# many as LAYOUT_MAX_S seconds (default 300) of DDL allow: create time,
# database and catalog size, relations, and per-call cost (pgbench: a
# transaction of an insert and a get by id in one context).
# Prints "name value unit" lines. Bounded: every step has its own limit.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-10000}
LAYOUT_MAX_S=${LAYOUT_MAX_S:-300}

tools/deps.sh >/dev/null
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DRHAI_BUILD_TESTS=OFF >/dev/null
cmake --build build-bench -j"$(nproc)" --target rhai_bench_store >/dev/null
BENCH=$PWD/build-bench/bin/rhai_bench_store

work=$(mktemp -d "${TMPDIR:-/tmp}/rhai-bench-store-XXXXXX")
trap 'rm -rf "$work"' EXIT

figures() {     # figures BACKEND URL-PREFIX
    local b=$1 u=$2
    timeout 600 "$BENCH" "${u}pairs" pairs 2000 | sed "s/^/${b}_/"
    timeout 600 "$BENCH" "${u}w50" writes50 200 | sed "s/^/${b}_/"
    timeout 600 "$BENCH" "${u}hot2" hot 2 1000 | sed "s/^/${b}_/"
    timeout 600 "$BENCH" "${u}hot8" hot 8 250 | sed "s/^/${b}_/"
    timeout 1800 "$BENCH" "${u}many" contexts "$N" | sed "s/^/${b}_/"
}

echo "# sqlite"
figures sqlite "$work/"
echo "sqlite_${N}_contexts_size $(du -sk "$work/many" | cut -f1) kB"
echo "sqlite_${N}_contexts_files $(find "$work/many" -type f | wc -l) files"

echo "# postgres"
RHAI_PG_DURABLE=1 tools/with-postgres.sh bash -c '
set -euo pipefail
BENCH=$0 N=$1 LAYOUT_MAX_S=$2
bin=$(dirname "$(ls /usr/lib/postgresql/*/bin/psql | head -1)")
admin="host=127.0.0.1 port=$(echo "$RHAI_TEST_PG_URL" | sed "s|.*:\([0-9]*\)/.*|\1|") user=rhai"
db() { "$bin/psql" -X -q -v ON_ERROR_STOP=1 "$admin dbname=postgres" -c "CREATE DATABASE $1"; echo "$admin dbname=$1"; }
q() { "$bin/psql" -X -qAt -v ON_ERROR_STOP=1 "$1" -c "$2"; }
for w in "pairs pairs 2000" "w50 writes50 200" "hot2 hot 2 1000" "hot8 hot 8 250"; do
    set -- $w
    timeout 600 "$BENCH" "$(db "$1")" "$2" "$3" ${4:-} | sed "s/^/postgres_/"
done
many=$(db many)
timeout 1800 "$BENCH" "$many" contexts "$N" | sed "s/^/postgres_/"
echo "postgres_${N}_contexts_size $(( $(q "$many" "SELECT pg_database_size(current_database())") / 1024 )) kB"
echo "postgres_${N}_contexts_relations $(q "$many" "SELECT count(*) FROM pg_class") relations"
echo "postgres_${N}_contexts_catalog_size $(( $(q "$many" "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = '"'"'pg_catalog'"'"'") / 1024 )) kB"

# The other layout: a schema per context, each with every table of the
# shared layout made again (LIKE ... INCLUDING ALL: columns, identity,
# keys, indexes), in batches of 50 schemas per transaction.
alt=$(db alt)
timeout 300 "$BENCH" "$alt" contexts 1 >/dev/null       # the tables to copy
tables=$(q "$alt" "SELECT string_agg(quote_ident(tablename), '"'"' '"'"') FROM pg_tables WHERE schemaname = '"'"'public'"'"'")
base=$(q "$alt" "SELECT pg_database_size(current_database())")
t0=$(date +%s%N) made=0
while [ $made -lt "$N" ] && [ $(( ($(date +%s%N) - t0) / 1000000000 )) -lt "$LAYOUT_MAX_S" ]; do
    sql="BEGIN;"
    for i in $(seq $((made + 1)) $((made + 50))); do
        sql+="CREATE SCHEMA c$i;"
        for t in $tables; do sql+="CREATE TABLE c$i.$t (LIKE public.$t INCLUDING ALL);"; done
    done
    q "$alt" "$sql COMMIT;" >/dev/null
    made=$((made + 50))
done
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
echo "postgres_schema_per_context_made $made schemas"
echo "postgres_schema_per_context_create_ms $(awk -v a=$ms -v b=$made "BEGIN {printf \"%.2f\", a / b}") ms"
echo "postgres_schema_per_context_tables_each $(echo $tables | wc -w) tables"
echo "postgres_schema_per_context_size_per_context $(( ($(q "$alt" "SELECT pg_database_size(current_database())") - base) / made / 1024 )) kB"
echo "postgres_schema_per_context_relations $(q "$alt" "SELECT count(*) FROM pg_class") relations"
echo "postgres_schema_per_context_catalog_size $(( $(q "$alt" "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = '"'"'pg_catalog'"'"'") / 1024 )) kB"

# Per call: one transaction of an insert and a get by id, in the middle
# context, through pgbench (2 clients, 2000 transactions each).
mid=$((made / 2))
printf "BEGIN;\nINSERT INTO c%s.company (context_id, created_at, updated_at, name) VALUES ('"'"'x'"'"', 0, 0, '"'"'c'"'"') RETURNING id \\\\gset\nSELECT * FROM c%s.company WHERE id = :id;\nCOMMIT;\n" $mid $mid >"$RHAI_TEST_PG_DIR/alt.sql"
printf "BEGIN;\nINSERT INTO company (context_id, created_at, updated_at, name) VALUES ('"'"'ctx-%06d'"'"', 0, 0, '"'"'c'"'"') RETURNING id \\\\gset\nSELECT * FROM company WHERE context_id = '"'"'ctx-%06d'"'"' AND id = :id;\nCOMMIT;\n" $((N / 2)) $((N / 2)) >"$RHAI_TEST_PG_DIR/shared.sql"
for l in shared alt; do
    d=$([ $l = shared ] && echo "$many" || echo "$alt")
    lat=$(timeout 300 "$bin/pgbench" -n -c 2 -t 2000 -f "$RHAI_TEST_PG_DIR/$l.sql" "$d" 2>/dev/null | sed -n "s/^latency average = \([0-9.]*\) ms/\1/p")
    echo "postgres_layout_${l}_insert_get_tx_ms $lat ms"
done
' "$BENCH" "$N" "$LAYOUT_MAX_S"
