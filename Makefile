# aipair developer entry points. `make demo` sets everything up and runs the main job;
# `make test` runs the test suite (exactly what CI runs).
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin

.PHONY: setup demo lint test test-fast bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

# The main job: validate the catalog, start a local engine if none answers, and deploy the whole
# platform with the mock profile (offline stand-ins), ending with the health table.
demo: setup
	$(BIN)/aipair catalog validate
	scripts/local-engine.sh
	$(BIN)/aipair deploy --phase mvp --profile mock

# Style, types and the import layers: ruff (lint and format), mypy (strict for catalog, render and ops),
# import-linter (cli -> ops -> engines -> render -> catalog, never upwards). `make test` runs it first.
LINTED = cli tests benchmarks stacks
lint: setup
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)
	$(BIN)/mypy
	$(BIN)/lint-imports --no-logo --no-cache

# The inner loop: every test that needs no engine (unit and cli), in under a minute on 2 cores: 3 workers (most of
# the time is waiting on real servers, subprocesses and deadlines; a fourth costs more in start-up than it saves),
# a tenth of each property's examples, and tests/engine left uncollected (importing it alone costs a second a worker).
test-fast: setup
	AIPAIR_PROPERTY_SCALE=0.1 $(BIN)/pytest -q -m "not engine" --ignore=tests/engine -n 3 --dist worksteal

# Lint, then every test. Test dependencies from Debian (scripts/test-deps.sh); the Pulumi CLI is built from
# its Go module once and cached (scripts/build-pulumi.sh, needs Go 1.22+); a Java 21+ for the Kestra engine
# tests is found or obtained once (scripts/kestra-java.sh; the tests run it through scripts/kestra-engine.sh).
# A real Kubernetes control plane (etcd, kube-apiserver, controller manager, scheduler, kubectl) is built from
# tests/kube/go.mod once and cached by go.sum (scripts/build-kube.sh: ~6 min cold, then ~1 s).
# The tests that need no engine first, on two workers (CPU-bound: properties, real Compose and servers); then the
# engine tests in one process, no xdist: they share one Docker engine and fixed names. The Kestra engine module's
# two Maven runs (~3 min each, mostly waiting) start in the background at the first engine test and overlap with
# the rest; tests/engine/test_kestra_engine.py runs last and collects them (tests/helpers/kestra_engine.py).
# (Running both sessions at once was tried: the old engine stalled removing the whole platform's containers.)
test: setup lint
	scripts/test-deps.sh
	AIPAIR_PYTHON=$(BIN)/python scripts/kestra-java.sh >/dev/null
	scripts/build-kube.sh >/dev/null
	PATH="$$(scripts/build-pulumi.sh):$$PATH" $(BIN)/pytest -q -m "not engine" --ignore=tests/engine -n 2
	PATH="$$(scripts/build-pulumi.sh):$$PATH" $(BIN)/pytest -q --durations=15 tests/engine

bench: setup
	$(BIN)/python benchmarks/render_mvp.py
	$(BIN)/python benchmarks/startup.py
	scripts/local-engine.sh
	$(BIN)/python benchmarks/deploy_mvp.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
