#!/usr/bin/env bash
# A newcomer on a clean Debian 12: only the README's one-line prerequisites installed, a user with no root
# and no sudo, a clone of this commit. Runs the README's `make run`, waits for /ready, uploads a synthetic
# card over HTTP and waits for it to be `completed`; checks that `make setup-test` names the Debian packages
# the tests need instead of failing obscurely. Every package comes from the network (nothing cached), so
# this takes as long as downloading torch does. Run as root (rootful podman); the transcript is on stdout.
#   NEWCOMER_TIMEOUT   seconds for make run to reach a completed card (default 3600)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
need_podman
need_base_image

# The README's prerequisites line, and nothing else.
PREREQUISITES="python3 python3-venv make git"
build_keyed localhost/kartoteka-newcomer:bookworm "$(echo "$PREREQUISITES" | sha256sum | cut -c1-64)" \
    -f - "$DEPLOY_CACHE" <<EOF
FROM debian:bookworm-slim
# hadolint ignore=DL3008
RUN apt-get update && apt-get install -y --no-install-recommends $PREREQUISITES \\
    && rm -rf /var/lib/apt/lists/* && useradd --create-home newcomer
USER newcomer
WORKDIR /home/newcomer
EOF

bundle=$DEPLOY_CACHE/newcomer.bundle
git -C "$ROOT" bundle create "$bundle" HEAD 2>/dev/null
log "cloning $(git -C "$ROOT" rev-parse --short HEAD) into a fresh container as user newcomer"

# The machine's CA bundle replaces Debian's (package indexes are reached through it here); pip and uv are
# told to use it. That is this machine's network, not a step the README asks of anyone.
podman run --rm --name kartoteka-newcomer \
    -v "$bundle:/tmp/kartoteka.bundle:ro" \
    -v /etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:ro \
    -e PIP_CERT=/etc/ssl/certs/ca-certificates.crt -e UV_NATIVE_TLS=1 \
    -e NEWCOMER_TIMEOUT="${NEWCOMER_TIMEOUT:-3600}" \
    localhost/kartoteka-newcomer:bookworm bash -c '
set -euo pipefail
say() { printf "[newcomer %s] %s\n" "$(date -u +%H:%M:%S)" "$*"; }
say "$(id); sudo: $(command -v sudo || echo none); $(. /etc/os-release; echo "$PRETTY_NAME"); $(python3 --version)"
git clone --quiet /tmp/kartoteka.bundle kartoteka && cd kartoteka
say "make setup-test as a user (should name the Debian packages and stop):"
if make setup-test 2>&1 | sed "s/^/    /"; then say "FAILED: setup-test went on without the packages"; exit 1; fi
say "make run (the README): installing and starting, log in run.log"
start=$(date +%s)
make run > run.log 2>&1 &
run=$!
until ls var/demo/cards/*.png >/dev/null 2>&1; do
    kill -0 "$run" 2>/dev/null || { say "FAILED: make run exited"; tail -40 run.log; exit 1; }
    (( $(date +%s) - start < NEWCOMER_TIMEOUT )) || { say "FAILED: no demo cards in time"; tail -40 run.log; exit 1; }
    sleep 5
done
say "installed and demo written after $(( $(date +%s) - start ))s; .venv is $(du -sh .venv | cut -f1)"
.venv/bin/python -c "import cv2; print(\"    cv2\", cv2.__version__, \"imports with no libGL/libxcb\")"
card=$(ls var/demo/cards/*.png | head -1)
python3 scripts/deploy-tests/card_roundtrip.py http://127.0.0.1:8000 "$card" --search \
    --timeout $(( NEWCOMER_TIMEOUT - ($(date +%s) - start) )) || { tail -60 run.log; exit 1; }
say "make run: first card completed $(( $(date +%s) - start ))s after the clone"
grep -E "^(kartoteka|serve)|ready|started|listening" run.log | head -20 | sed "s/^/    run.log: /" || true
exit 0  # the container ends, and with it make run and everything it started
'
log "newcomer test passed"
