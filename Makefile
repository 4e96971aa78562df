# One-command set-up: `make demo` runs the main job, `make test` runs the tests.
# Both create .venv and install on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# CPU build from the local wheel store by default. GPU users:
#   make install TORCH_SPEC="torch==2.13.0" TORCH_INDEX="--index-url https://download.pytorch.org/whl/cu128"
TORCH_SPEC ?= torch==2.13.0
TORCH_INDEX ?=
PYTEST_ARGS ?=

.PHONY: install demo test check format bench clean configs

install: $(STAMP)

$(STAMP): setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH_INDEX) "$(TORCH_SPEC)"
	$(PY) -m pip install -q -e ".[test,dev]"
	touch $(STAMP)

demo: install
	$(BIN)/cappuccino-ray demo

check: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: install check
	$(BIN)/pytest $(PYTEST_ARGS)

bench: install
	$(PY) -m pip install -q -e ".[bench]"
	@for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

# The packaged default configs are copies of configs/ (a test checks they match).
configs:
	rm -rf cappuccino_ray/configs && cp -r configs cappuccino_ray/configs

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache build *.egg-info
