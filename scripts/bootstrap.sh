#!/usr/bin/env bash
# Install everything the tests and a local run need on a fresh Debian machine:
# Debian packages (servers for the test harness, handwriting fonts for synthetic
# cards, Chromium for the workbench's browser tests), uv, the locked Python
# environment in ./.venv, and the card workbench built into web/dist (when npm is
# there; without it the api still runs and / says how to build it). Safe to re-run.
set -euo pipefail
cd "$(dirname "$0")/.."

# chromium is for the tests only: the workbench's browser tests drive it (no browser is downloaded).
APT_PACKAGES=(rabbitmq-server redis-server fonts-klee fonts-sjfonts fonts-seto fonts-kiloji chromium)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
    if [[ $(id -u) -ne 0 ]]; then
        echo "bootstrap: need root to apt-get install: ${missing[*]}" >&2
        exit 1
    fi
    echo "bootstrap: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v uv >/dev/null 2>&1; then
    echo "bootstrap: installing uv"
    python3 -m pip install --quiet "uv>=0.5"
fi

# triton is only used by torch.compile on GPUs; skipping it saves 0.7 GB.
uv sync --locked --no-install-package triton --quiet

# The card workbench: rebuilt when its sources or lock are newer than the build.
if command -v npm >/dev/null 2>&1; then
    stamp=web/dist/index.html
    if [[ ! -f $stamp ]] || [[ -n $(find web/src web/index.html web/package-lock.json web/vite.config.ts -newer "$stamp" -print -quit) ]]; then
        echo "bootstrap: building the card workbench (web/)"
        (cd web && npm ci --no-audit --no-fund --loglevel=error && npm run build --silent) \
            || { echo "bootstrap: the workbench did not build; the api runs without it" >&2; }
    fi
else
    echo "bootstrap: npm not found: the card workbench is not built (the api runs; / says how to build it)." >&2
    echo "bootstrap: install Node.js 20+ and npm, then run make setup again." >&2
fi
