# aipair developer entry points. `make demo` sets everything up and runs the main job;
# `make test` runs the test suite (exactly what CI runs).
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin

.PHONY: setup demo test bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

# The main job: validate the catalog, render phase 1 (mvp), and have the real Compose binary
# check the result. (Deploying comes with `aipair deploy`.)
demo: setup
	$(BIN)/aipair catalog validate
	$(BIN)/aipair render --phase mvp
	$(BIN)/docker-compose -f compose/docker-compose.yml config --quiet
	@echo "compose/docker-compose.yml is valid for Docker Compose $$($(BIN)/docker-compose version --short)"
	$(BIN)/aipair catalog list --phase mvp

test: setup
	$(BIN)/pytest -q

bench: setup
	$(BIN)/python benchmarks/render_mvp.py

clean:
	rm -rf $(VENV) .pytest_cache
