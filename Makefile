# `make study` and `make test` each set up (or refresh) the local virtual environment first.
PYTHON ?= python3
VENV ?= .venv
# PyTorch is installed first and alone; override for another build, e.g. TORCH_SPEC="torch==2.13.0+cu126".
TORCH_SPEC ?= torch==2.13.0
PIP_FLAGS ?= -q --disable-pip-version-check
PY := $(VENV)/bin/python
STAMP := $(VENV)/.sycolab-installed
# Every transitive dependency pinned (torch aside: TORCH_SPEC installs it first, and the lock is compiled
# against it). `make lock` refreshes it on purpose; a test keeps it in step with pyproject.toml.
LOCK := requirements.lock
RUN_DIR ?= runs/tiny
PYTEST_ARGS ?=

.PHONY: setup study lint test test-fast bench report clean lock

$(STAMP): pyproject.toml $(LOCK) Makefile
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install $(PIP_FLAGS) "$(TORCH_SPEC)"
	$(PY) -m pip install $(PIP_FLAGS) -r $(LOCK)
	$(PY) -m pip install $(PIP_FLAGS) --no-deps -e .
	@touch $(STAMP)

setup: $(STAMP)

study: setup
	$(VENV)/bin/sycolab run configs/tiny.yaml --run-dir $(RUN_DIR)

# ruff and mypy (configured in pyproject.toml) on src/ (ruff also on tests/, tools/ and benchmarks/), before the tests.
lint: setup
	$(PY) -m ruff check src tests tools benchmarks
	$(PY) -m mypy

test: lint
	$(PY) -m pytest -q $(PYTEST_ARGS) tests

test-fast: setup
	$(PY) -m pytest -q -m "not integration and not browser" tests

# The benchmark suite lives in the checkout (benchmarks/ is not installed with sycolab).
bench: setup
	$(PY) -m benchmarks.run_all

report: setup
	$(VENV)/bin/sycolab report $(RUN_DIR)

# Re-resolve every dependency to the newest versions pyproject.toml allows (torch held at TORCH_SPEC),
# then reinstall from the new lock. Run the tests and `make study` afterwards before committing it.
lock:
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install $(PIP_FLAGS) "$(TORCH_SPEC)" "pip-tools>=7.4,<8"
	@echo "$(TORCH_SPEC)" > $(VENV)/torch-constraint.txt
	CUSTOM_COMPILE_COMMAND="make lock" $(VENV)/bin/pip-compile -q --upgrade --extra test --extra dev --unsafe-package torch -c $(VENV)/torch-constraint.txt \
		--no-emit-index-url --no-emit-find-links --strip-extras --newline LF \
		-o $(LOCK) pyproject.toml
	@rm -f $(STAMP)
	$(MAKE) setup

clean:
	rm -rf $(VENV) runs .pytest_cache
