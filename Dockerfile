# syntax=docker/dockerfile:1.7
# Kartoteka: one image for every process (api, relay, worker, watcher, migrate, models); the command
# picks it: `docker run kartoteka api`. Build: docker build -t kartoteka .
#   PYTHON_VERSION    the interpreter (3.11, Debian bookworm's; another version needs uv's managed Python)
#   INFERENCE_TYPE    cpu or gpu. Both carry the CUDA libraries: the locked torch is PyPI's CUDA build, the
#                     one wheel that PyPI's torchvision (needed by ultralytics, timm, open_clip) imports beside;
#                     cpu leaves out triton (only torch.compile on a GPU uses it) and selects the CPU device
#   TROCR_MODEL_TYPE  pytorch or onnx: the recogniser's runtime (onnx: the published ONNX export)
# Where a build can reach PyPI only through a private CA, pass it as a secret:
#   --secret id=ca,src=/etc/ssl/certs/ca-certificates.crt
ARG PYTHON_VERSION=3.11

FROM node:20-bookworm-slim AS web
WORKDIR /web
COPY web/package.json web/package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --no-audit --no-fund
COPY web/ ./
RUN npm run build

FROM debian:bookworm-slim AS build
ARG PYTHON_VERSION
ARG INFERENCE_TYPE=cpu
ENV DEBIAN_FRONTEND=noninteractive UV_LINK_MODE=copy UV_COMPILE_BYTECODE=1 UV_PYTHON_DOWNLOADS=never
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates python3 python3-venv \
    && rm -rf /var/lib/apt/lists/*
RUN --mount=type=secret,id=ca,target=/etc/ssl/certs/ca-certificates.crt,required=false \
    python3 -m venv /opt/uv && /opt/uv/bin/pip install --no-cache-dir "uv==0.13.9"
WORKDIR /app
COPY pyproject.toml uv.lock README.md ./
RUN --mount=type=cache,target=/root/.cache/uv \
    --mount=type=secret,id=ca,target=/etc/ssl/certs/ca-certificates.crt,required=false \
    set --; if [ "$INFERENCE_TYPE" = cpu ]; then set -- --no-install-package triton; fi; \
    /opt/uv/bin/uv sync --native-tls --locked --no-dev --no-install-project --python "python${PYTHON_VERSION}" "$@"
COPY src ./src
RUN --mount=type=cache,target=/root/.cache/uv \
    --mount=type=secret,id=ca,target=/etc/ssl/certs/ca-certificates.crt,required=false \
    set --; if [ "$INFERENCE_TYPE" = cpu ]; then set -- --no-install-package triton; fi; \
    /opt/uv/bin/uv sync --native-tls --locked --no-dev --no-editable --python "python${PYTHON_VERSION}" "$@"

FROM debian:bookworm-slim AS runtime
ARG INFERENCE_TYPE=cpu
ARG TROCR_MODEL_TYPE=pytorch
ENV DEBIAN_FRONTEND=noninteractive
# No libGL, libxcb or GLib: the lock installs OpenCV's headless wheel (pyproject.toml, tool.uv).
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates python3 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --create-home --uid 10001 kartoteka \
    && mkdir -p /models /gallery && chown kartoteka /models
COPY --from=build /app/.venv /app/.venv
COPY --from=web /web/dist /app/web
# The migrations travel inside the installed package: `kartoteka migrate` needs no checkout.
ENV PATH=/app/.venv/bin:$PATH \
    HF_HOME=/models/hf \
    XDG_CACHE_HOME=/models/cache \
    KARTOTEKA__API__HOST=0.0.0.0 \
    KARTOTEKA__API__WEB_DIR=/app/web \
    KARTOTEKA__RECOGNITION__RECOGNIZER__BACKEND=${TROCR_MODEL_TYPE} \
    KARTOTEKA_INFERENCE_TYPE=${INFERENCE_TYPE}
RUN if [ "$TROCR_MODEL_TYPE" = onnx ]; then \
        echo "KARTOTEKA__RECOGNITION__RECOGNIZER__MODEL=CherryJam/trocr-base-ru-dialectic-stackmix-onnx" > /app/onnx.env; \
    fi; \
    if [ "$INFERENCE_TYPE" = cpu ]; then echo "KARTOTEKA__INFERENCE__DEVICE=cpu" >> /app/inference.env; fi
COPY --chmod=0755 scripts/docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
USER 10001
WORKDIR /home/kartoteka
EXPOSE 8000
# The api's check; compose.yaml turns it off for the processes that serve no HTTP.
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=6 \
    CMD ["python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4)"]
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["api"]
