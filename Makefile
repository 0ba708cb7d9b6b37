# One command per intent, shared by humans and CI (.ci/run calls `make check`).
SHELL := /bin/bash
UV ?= $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
PY := .venv/bin/python
CONFIG ?= ongoingai.yaml

.PHONY: install serve fmt lint test test-e2e check bench

# Bootstraps uv with pip when it is missing, then installs exactly what uv.lock says.
install:
	@command -v $(UV) >/dev/null 2>&1 || python3 -m pip install --quiet --user uv
	$(UV) sync --frozen --compile-bytecode
	@# Byte-compile our own sources too: with PYTHONDONTWRITEBYTECODE set (as on these machines) Python
	@# would otherwise recompile every module at each start, tripling start-up time.
	@.venv/bin/python -m compileall -q src

serve: install
	.venv/bin/ongoingai serve --config $(CONFIG)

fmt: install
	.venv/bin/ruff format src tests bench
	.venv/bin/ruff check --fix src tests bench

lint: install
	.venv/bin/ruff check src tests bench
	.venv/bin/ruff format --check src tests bench
	.venv/bin/mypy
	.venv/bin/lint-imports

test: install
	.venv/bin/pytest -m "not e2e"

test-e2e: install
	.venv/bin/pytest -m e2e

check: lint
	.venv/bin/pytest

bench: install
	$(PY) bench/run.py
