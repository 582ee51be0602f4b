# Sourced by the deploy tests: rootful podman as it works on a machine with no Docker engine, no registry
# and no systemd (see each function), and a step timer for the transcripts.
#   DEPLOY_CACHE   where the base tarball and the image keys live (default var/deploy-cache)

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DEPLOY_CACHE=${DEPLOY_CACHE:-$ROOT/var/deploy-cache}
mkdir -p "$DEPLOY_CACHE"
T0=$(date +%s)

log() { printf '[%s +%4ss] %s\n' "$(date -u +%H:%M:%S)" "$(($(date +%s) - T0))" "$*"; }
die() { log "FAILED: $*"; exit 1; }

# Podman's engine, its helpers and mmdebstrap (for the base image), from Debian, installed as root.
need_podman() {
    local pkgs=(podman buildah runc netavark aardvark-dns fuse-overlayfs slirp4netns uidmap iptables mmdebstrap)
    local missing=() pkg
    for pkg in "${pkgs[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    if ((${#missing[@]})); then
        [[ $(id -u) -eq 0 ]] || die "the deploy tests need root and: apt-get install ${missing[*]}"
        log "installing ${missing[*]}"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
    [[ $(id -u) -eq 0 ]] || die "the deploy tests run rootful podman: run them as root"
    # Podman's default ulimits exceed the hard limits (no CAP_SYS_RESOURCE to raise them), crun refuses the
    # hybrid cgroup layout, and only netavark gives containers DNS for each other. /etc/containers stays.
    export CONTAINERS_CONF=$DEPLOY_CACHE/containers.conf
    cat > "$CONTAINERS_CONF" <<EOF
[containers]
default_ulimits = ["nofile=$(ulimit -Hn):$(ulimit -Hn)", "nproc=32768:32768"]
[engine]
runtime = "runc"
[network]
network_backend = "netavark"
EOF
}

# debian:bookworm-slim under its upstream name, from Debian's own mirror, so `FROM debian:bookworm-slim` builds
# unchanged; the tarball is kept (a week at most) so later runs only re-import it.
need_base_image() {
    podman image exists docker.io/library/debian:bookworm-slim && return
    local tar=$DEPLOY_CACHE/bookworm-minbase.tar
    if [[ ! -s $tar ]] || [[ -n $(find "$tar" -mtime +7) ]]; then
        local mirror
        mirror=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1)
        log "mmdebstrap bookworm from ${mirror:-http://deb.debian.org/debian}"
        # --format: the temporary name's suffix is not .tar, and mmdebstrap would make a directory of it.
        mmdebstrap --quiet --format=tar --variant=minbase --include=ca-certificates bookworm "$tar.tmp" \
            "${mirror:-http://deb.debian.org/debian}" || die "mmdebstrap"
        mv "$tar.tmp" "$tar"
    fi
    podman import --quiet --change 'CMD ["/bin/bash"]' "$tar" docker.io/library/debian:bookworm-slim >/dev/null \
        || die "importing the base image"
    log "base image debian:bookworm-slim imported"
}

# Build an image unless one labelled with the same content key exists. $1 tag, $2 key, then podman build args.
build_keyed() {
    local tag=$1 key=$2
    shift 2
    if [[ $(podman image inspect --format '{{index .Labels "kartoteka.deploy.key"}}' "$tag" 2>/dev/null) == "$key" ]]; then
        log "image $tag is up to date (key ${key:0:12})"
        return
    fi
    local start=$SECONDS previous
    previous=$(podman image inspect --format '{{.Id}}' "$tag" 2>/dev/null || true)
    local build_log=$DEPLOY_CACHE/build-${tag//[^A-Za-z0-9_.-]/_}.log
    if ! podman build --label "kartoteka.deploy.key=$key" -t "$tag" "$@" >"$build_log" 2>&1; then
        tail -60 "$build_log"
        die "building $tag (log: $build_log)"
    fi
    log "built $tag in $((SECONDS - start))s: $(image_size "$tag")"
    # The image this one replaces, now untagged (its layers that the new one shares stay, as the build cache).
    if [[ -n $previous && $previous != $(podman image inspect --format '{{.Id}}' "$tag") ]]; then
        podman rmi "$previous" >/dev/null 2>&1 || true
    fi
}

image_size() { podman image inspect --format '{{.Size}}' "$1" | awk '{printf "%.0f MB", $1 / 1e6}'; }

# The machine's CA bundle for RUN steps that reach package indexes (a BuildKit secret: nothing stays in the image).
CA_SECRET=(--secret "id=ca,src=/etc/ssl/certs/ca-certificates.crt")
