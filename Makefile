# Kartoteka developer commands. `make run` works on a fresh machine with no root: it installs what it needs;
# `make test` also needs a few Debian packages, which it installs as root and names otherwise.
.PHONY: setup setup-test run recognize-demo demo lint test test-deploy test-faults test-fast bench bench-service bench-fulltext bench-gallery \
	bench-workbench web-build web-check web-schema clean

VENV := .venv/bin
DEMO := var/demo

setup:
	@scripts/bootstrap.sh

# What only the tests need besides: Debian packages (servers, handwriting fonts, Chromium), installed as root.
setup-test:
	@scripts/bootstrap.sh --test

# The whole service on this machine: embedded PostgreSQL, Valkey and S3, api + relay + worker.
# It reads cards with the demo models trained on synthetic cards (models/demo), copied into var/demo.
run: setup demo
	$(VENV)/kartoteka --config $(DEMO)/config.yaml serve --watch $(DEMO)/gallery

# The recognition pipeline alone, on synthetic cards, with no server at all.
recognize-demo: setup demo
	$(VENV)/kartoteka --config $(DEMO)/config.yaml recognize --format json $(DEMO)/cards/*.png

demo: $(DEMO)/config.yaml

# Made again when the demo models change, so a pull that brings new ones is what make run reads with.
$(DEMO)/config.yaml: $(wildcard models/demo/*/*)
	rm -rf $(DEMO) && $(VENV)/kartoteka dev fixtures $(DEMO) --cards 2

lint: setup
	$(VENV)/ruff check src tests
	$(VENV)/ruff format --check src tests
	$(VENV)/mypy
	$(VENV)/lint-imports --no-cache

# The browser tests (tests/e2e/test_workbench.py) fail, never skip, when Chromium is missing here; so does
# any other test whose prerequisite is missing (KARTOTEKA_NO_SKIPS).
test: setup-test lint web-check
	KARTOTEKA_NO_SKIPS=1 KARTOTEKA_REQUIRE_BROWSER=1 $(VENV)/python -m pytest

# The deployment files, first checked with no engine (hadolint, Compose v2's own validation, the compose-spec
# schema), then run for real with rootful podman, as root (scripts/deploy-tests/: images and stand-ins are
# cached by content in var/deploy-cache, so a second run rebuilds nothing): compose-infra.yaml with
# `kartoteka serve` on the host, compose.yaml with the project's image, and a newcomer on a clean Debian 12.
COMPOSE := .venv/lib/python3.11/site-packages/compose/docker-compose
DEPLOY_TESTS := scripts/deploy-tests
test-deploy: setup
	$(VENV)/hadolint Dockerfile $(DEPLOY_TESTS)/standins/*/Dockerfile
	$(COMPOSE) -f compose.yaml config -q
	$(COMPOSE) -f compose-infra.yaml config -q
	TINY_MODELS_DIR=/nonexistent $(COMPOSE) -f compose.yaml -f $(DEPLOY_TESTS)/compose.tiny-models.yaml config -q
	$(VENV)/check-jsonschema --builtin-schema vendor.compose-spec compose.yaml compose-infra.yaml \
		$(DEPLOY_TESTS)/compose.tiny-models.yaml
	$(DEPLOY_TESTS)/compose-infra.sh
	$(DEPLOY_TESTS)/compose-smoke.sh
	$(DEPLOY_TESTS)/newcomer.sh

# Seven faults during 30-card runs (part of `make test` too); prints the fault matrix, also in var/faults/matrix.md.
test-faults: setup
	$(VENV)/python -m pytest tests/e2e/faults

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

# The card workbench (web/): the api serves web/dist at /. `make setup` builds it when npm is there.
web-build:
	cd web && npm ci --no-audit --no-fund && npm run build

# Type-check, lint and unit-test the workbench, and check its generated API types against web/openapi.json.
web-check: setup
	cd web && npm ci --no-audit --no-fund && npm run check

# After a change to the API: the schema the workbench is typed from, and the types generated from it.
web-schema: setup
	$(VENV)/python scripts/openapi_schema.py > web/openapi.json
	cd web && npm run gen:api

# Time to first rows and to every row of a 1,000-card batch in the workbench (headless Chromium).
bench-workbench: setup
	$(VENV)/python -m tests.bench.workbench $(BENCH_ARGS)

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
