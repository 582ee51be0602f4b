#!/bin/bash
# initdb on an empty PGDATA (the superuser and database from POSTGRES_*), then postgres in the foreground.
set -euo pipefail
if [[ $(id -u) -eq 0 ]]; then
    mkdir -p "$PGDATA" && chown -R postgres "$PGDATA" && chmod 0700 "$PGDATA"
    exec setpriv --reuid=postgres --regid="$(id -g postgres)" --init-groups "$0" "$@"
fi
: "${POSTGRES_USER:=postgres}" "${POSTGRES_DB:=$POSTGRES_USER}"
[[ -n ${POSTGRES_PASSWORD:-} ]] || { echo "POSTGRES_PASSWORD is required" >&2; exit 1; }
if [[ ! -s $PGDATA/PG_VERSION ]]; then
    initdb -D "$PGDATA" -U "$POSTGRES_USER" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") -E UTF8 \
        --locale-provider=builtin --builtin-locale=C.UTF-8 --auth-local=trust --auth-host=scram-sha-256
    echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
    if [[ $POSTGRES_DB != postgres ]]; then
        postgres --single -D "$PGDATA" -c listen_addresses= postgres <<< "CREATE DATABASE \"$POSTGRES_DB\"" >/dev/null
    fi
fi
[[ ${1:-postgres} == postgres ]] && shift || true
exec postgres -D "$PGDATA" -c listen_addresses='*' "$@"
