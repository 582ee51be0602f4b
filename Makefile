# Kartoteka developer commands. `make test` works on a fresh machine: it installs what it needs.
.PHONY: setup run recognize-demo demo lint test test-deploy test-fast bench bench-service bench-fulltext bench-gallery clean

VENV := .venv/bin
DEMO := var/demo

setup:
	@scripts/bootstrap.sh

# The whole service on this machine: embedded PostgreSQL, Valkey and S3, api + relay + worker.
# With no real checkpoints on a fresh machine it uses tiny untrained models (what they read is noise).
run: setup demo
	$(VENV)/kartoteka --config $(DEMO)/config.yaml serve --watch $(DEMO)/gallery

# The recognition pipeline alone, on synthetic cards, with no server at all.
recognize-demo: setup demo
	$(VENV)/kartoteka --config $(DEMO)/config.yaml recognize --format json $(DEMO)/cards/*.png

demo:
	@test -d $(DEMO)/gallery || $(VENV)/kartoteka dev fixtures $(DEMO) --cards 2

lint: setup
	$(VENV)/ruff check src tests
	$(VENV)/ruff format --check src tests
	$(VENV)/mypy
	$(VENV)/lint-imports --no-cache

test: lint
	KARTOTEKA_NO_SKIPS=1 $(VENV)/python -m pytest

# The deployment files, checked with no engine: hadolint, Compose v2's own validation, the compose-spec schema.
COMPOSE := .venv/lib/python3.11/site-packages/compose/docker-compose
test-deploy: setup
	$(VENV)/hadolint Dockerfile
	$(COMPOSE) -f compose.yaml config -q
	$(COMPOSE) -f compose-infra.yaml config -q
	$(VENV)/check-jsonschema --builtin-schema vendor.compose-spec compose.yaml compose-infra.yaml

test-fast: setup
	$(VENV)/python -m pytest tests/unit

bench: setup
	$(VENV)/python -m tests.bench.recognition $(BENCH_ARGS)

bench-service: setup
	$(VENV)/python -m tests.bench.service $(BENCH_ARGS)

# Full-text search over 100,000 synthetic cards: latency p50/p95 by query kind, index sizes, ILIKE baseline.
bench-fulltext: setup
	$(VENV)/python -m tests.bench.fulltext $(BENCH_ARGS)

# Vector search (HNSW against exact, 100,000 × 768) and indexing throughput (against the model alone).
bench-gallery: setup
	$(VENV)/python -m tests.bench.gallery $(BENCH_ARGS)

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
