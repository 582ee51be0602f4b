#!/usr/bin/env bash
# Install everything the tests and a local run need on a fresh Debian machine:
# Debian packages (servers for the test harness, handwriting fonts for synthetic
# cards), uv, and the locked Python environment in ./.venv. Safe to re-run.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(rabbitmq-server redis-server fonts-klee fonts-sjfonts fonts-seto fonts-kiloji)

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
