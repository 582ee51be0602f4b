#!/usr/bin/env bash
# compose.yaml, unchanged, for real: the project's image (CPU variant) built with podman, the upstream
# service images replaced by local stand-ins under their names, the stack up with every healthcheck passed,
# a card submitted through the published api port and completed by the worker-recognition container, found
# by the gallery search, then `down -v`. The only addition is a second -f file (compose.tiny-models.yaml)
# that puts the tiny test models into the models volume: the hub cannot be reached here.
# Run as root (rootful podman); the transcript is on stdout.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/images.sh"
source "$(dirname "$0")/compose-lib.sh"

need_podman
need_base_image
need_service_standins
build_start=$SECONDS
need_app_image
log "app image $APP_IMAGE ready in $((SECONDS - build_start))s: $(image_size "$APP_IMAGE")"

COMPOSE_PROJECT=kartoteka
COMPOSE_FILES=("$ROOT/compose.yaml" "$ROOT/scripts/deploy-tests/compose.tiny-models.yaml")
fixtures=$(need_fixtures)
export TINY_MODELS_DIR=$fixtures/models KARTOTEKA_GALLERY_DIR=$fixtures/gallery
KARTOTEKA_API_PORT=$("$ROOT/.venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export KARTOTEKA_API_PORT
start_engine
cleanup() {
    local code=$?
    compose_down || code=1
    stop_engine
    exit "$code"
}
trap cleanup EXIT
compose down -v --remove-orphans >/dev/null 2>&1 || true  # what a killed run left

start=$SECONDS
# Compose itself waits for each depends_on condition (healthy servers, migrate and models done) before it
# starts the processes; wait_settled then waits for the api's own healthcheck.
compose up -d --no-build >"$DEPLOY_CACHE/up-$COMPOSE_PROJECT.log" 2>&1 \
    || { cat "$DEPLOY_CACHE/up-$COMPOSE_PROJECT.log"; compose_fail "compose up"; }
wait_settled 600
log "compose.yaml up, every healthcheck passed and both one-shots done, in $((SECONDS - start))s:"
compose ps -a --format 'table {{.Service}}\t{{.Image}}\t{{.Status}}' | sed 's/^/    /'
log "the api's published port: $(podman port kartoteka-api-1 | tr '\n' ' ')"
for oneshot in migrate models; do
    [[ $(podman inspect --format '{{.State.ExitCode}}' "kartoteka-$oneshot-1") == 0 ]] || compose_fail "$oneshot did not succeed"
    podman logs "kartoteka-$oneshot-1" 2>&1 | tail -3 | sed "s/^/    $oneshot: /"
done

python3 "$ROOT/scripts/deploy-tests/card_roundtrip.py" "http://127.0.0.1:$KARTOTEKA_API_PORT" \
    "$fixtures/cards/card_00000.png" --search --timeout 600 | sed 's/^/    /'
((PIPESTATUS[0] == 0)) || compose_fail "the card round trip through the published api port"

# The card was recognised in the worker-recognition container: it is the one consumer of the recognition
# queue (the worker logs no task id on success, so the job it ran is what is checked), and no other
# container ran a recognition job.
worker_log=$(podman logs kartoteka-worker-recognition-1 2>&1)
grep -q "Executing task kartoteka.recognize " <<<"$worker_log" || compose_fail "worker-recognition ran no recognition job"
for name in $(podman ps -a --filter "label=com.docker.compose.project=$COMPOSE_PROJECT" --format '{{.Names}}'); do
    [[ $name == kartoteka-worker-recognition-1 ]] && continue
    other_log=$(podman logs "$name" 2>&1)
    ! grep -q "Executing task kartoteka.recognize " <<<"$other_log" || compose_fail "$name ran a recognition job"
done
log "worker-recognition ran the job (and no other container did):"
grep -E "loaded from|consuming|kartoteka.recognize " <<<"$worker_log" | cut -c1-200 | sed 's/^/    /'
log "compose smoke test passed in $(($(date +%s) - T0))s"
