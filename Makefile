# Kartoteka developer commands. `make test` works on a fresh machine: it installs what it needs.
.PHONY: setup run demo lint test test-fast bench clean

VENV := .venv/bin
DEMO := var/demo

setup:
	@scripts/bootstrap.sh

# Until the service lands, "run" exercises the recognition pipeline end to end on synthetic
# cards with tiny untrained models (no servers, no model downloads).
run: setup
	@test -f $(DEMO)/config.yaml || $(VENV)/kartoteka dev fixtures $(DEMO) --cards 2
	$(VENV)/kartoteka --config $(DEMO)/config.yaml recognize --format json $(DEMO)/cards/*.png

lint: setup
	$(VENV)/ruff check src tests
	$(VENV)/ruff format --check src tests
	$(VENV)/mypy
	$(VENV)/lint-imports --no-cache

test: lint
	$(VENV)/python -m pytest

test-fast: setup
	$(VENV)/python -m pytest tests/unit

bench: setup
	$(VENV)/python -m tests.bench.recognition $(BENCH_ARGS)

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
