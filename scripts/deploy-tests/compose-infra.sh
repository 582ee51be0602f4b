#!/usr/bin/env bash
# compose-infra.yaml, unchanged, against the stand-ins: the four servers come up healthy on 127.0.0.1, then
# `kartoteka serve` from this checkout, pointed at them by the environment the file's header gives, starts no
# server of its own; a card goes in over HTTP, the worker completes it, the gallery finds it, and the rows
# are in the compose PostgreSQL. Then `down -v`. Run as root (rootful podman); the transcript is on stdout.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/images.sh"
source "$(dirname "$0")/compose-lib.sh"

need_podman
need_base_image
need_service_standins
COMPOSE_PROJECT=kartoteka-infra
COMPOSE_FILES=("$ROOT/compose-infra.yaml")
start_engine
SERVE_PID=
cleanup() {
    local code=$?
    if [[ -n $SERVE_PID ]]; then kill -INT "$SERVE_PID" 2>/dev/null && wait "$SERVE_PID" 2>/dev/null || true; fi
    compose_down || code=1
    stop_engine
    exit "$code"
}
trap cleanup EXIT
compose down -v --remove-orphans >/dev/null 2>&1 || true  # what a killed run left

start=$SECONDS
compose up -d --wait --wait-timeout 300 >"$DEPLOY_CACHE/up-$COMPOSE_PROJECT.log" 2>&1 \
    || { cat "$DEPLOY_CACHE/up-$COMPOSE_PROJECT.log"; compose_fail "compose -f compose-infra.yaml up --wait"; }
log "compose-infra.yaml up, every server healthy, in $((SECONDS - start))s:"
compose ps --format 'table {{.Service}}\t{{.Image}}\t{{.Status}}\t{{.Ports}}' | sed 's/^/    /'

fixtures=$(need_fixtures)
port=$("$ROOT/.venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
serve_log=$DEPLOY_CACHE/serve-infra.log
data_dir=$DEPLOY_CACHE/serve-infra-data
rm -rf "$data_dir"
# The header of compose-infra.yaml, as a developer would paste it.
export KARTOTEKA__DATABASE__URL=postgresql+asyncpg://kartoteka:kartoteka@127.0.0.1:5432/kartoteka \
    KARTOTEKA__REDIS__URL=redis://127.0.0.1:6379/0 KARTOTEKA__S3__ENDPOINT=127.0.0.1:9000 \
    KARTOTEKA__BROKER__URL=amqp://kartoteka:kartoteka@127.0.0.1:5672/ KARTOTEKA__API__PORT=$port
log "kartoteka serve on the host (api on 127.0.0.1:$port, tiny models), log in $serve_log"
"$ROOT/.venv/bin/kartoteka" --config "$fixtures/config.yaml" serve --data-dir "$data_dir" >"$serve_log" 2>&1 &
SERVE_PID=$!

serve_fail() {
    echo "---- kartoteka serve's log (tail)"
    tail -80 "$serve_log"
    compose_fail "$@"
}
python3 "$ROOT/scripts/deploy-tests/card_roundtrip.py" "http://127.0.0.1:$port" "$fixtures/cards/card_00000.png" \
    --search --timeout 600 | sed 's/^/    /'
((PIPESTATUS[0] == 0)) || serve_fail "the card round trip through kartoteka serve"

# serve started nothing of its own: no embedded server or broker, no data directory, and it says so.
grep -q "the configured servers; jobs through RabbitMQ" "$serve_log" || serve_fail "serve did not use the configured servers"
! grep -qE "starting (embedded|RabbitMQ)" "$serve_log" || serve_fail "serve started embedded servers"
[[ ! -e $data_dir ]] || serve_fail "serve wrote a data directory ($data_dir)"
grep -E "Kartoteka is at" "$serve_log" | sed 's/^/    serve: /'
rows=$(podman exec kartoteka-infra-postgres-1 psql -U kartoteka -d kartoteka -tAc \
    "select (select count(*) from recognition_tasks where status = 'completed') || ' completed task(s), ' || (select count(*) from image_vectors) || ' image vector(s)'") \
    || serve_fail "reading the compose PostgreSQL"
log "in the compose PostgreSQL: $rows"
[[ $rows == [1-9]* ]] || serve_fail "no completed task in the compose PostgreSQL"
log "compose-infra test passed in $(($(date +%s) - T0))s"
