# Dyad — the two commands anyone needs are `make demo` and `make test`; both run `setup` first.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# The stamp names the hash of everything that decides what gets installed.
SETUP_HASH := $(shell cat requirements.txt requirements-dev.txt pyproject.toml setup.py 2>/dev/null | sha256sum | cut -c1-16)
STAMP := $(VENV)/.setup-$(SETUP_HASH)
# System packages, by the command each provides.
APT_redis-server := redis-server
APT_ffprobe := ffmpeg
APT_espeak-ng := espeak-ng
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
PYTEST_ARGS ?=

.PHONY: setup apt demo test test-slow lint protos bench serve clean

setup: apt $(STAMP)

apt:
	@missing=""; \
	command -v redis-server >/dev/null 2>&1 || missing="$$missing $(APT_redis-server)"; \
	command -v ffprobe >/dev/null 2>&1 || missing="$$missing $(APT_ffprobe)"; \
	command -v espeak-ng >/dev/null 2>&1 || missing="$$missing $(APT_espeak-ng)"; \
	if [ -n "$$missing" ]; then \
	  echo "setup: installing system packages:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml setup.py
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' || \
	  { echo "setup: Python 3.11 is required (the CPU torch wheel is cp311); found $$($(PYTHON) --version)"; exit 2; }
	@[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	@echo "setup: installing Python packages into $(VENV) (first time: ~2 minutes)"
	@$(BIN)/pip install -q --disable-pip-version-check -r requirements.txt -r requirements-dev.txt \
	  > $(VENV)/pip.log 2>&1 || { grep -v "is ignored: it is neither" $(VENV)/pip.log; exit 1; }
	@$(BIN)/pip install -q --disable-pip-version-check --no-deps -e . \
	  > $(VENV)/pip.log 2>&1 || { grep -v "is ignored: it is neither" $(VENV)/pip.log; exit 1; }
	@$(BIN)/python -c "import torch, dyad, dyad.v1.common_pb2; assert torch.__version__.startswith('2.13.0')" \
	  || { echo "setup: the installed environment does not import; see messages above"; exit 1; }
	@rm -f $(VENV)/.setup-*; touch $(STAMP)

demo: setup
	@$(BIN)/python -m dyad.demo

test: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-slow: setup
	$(BIN)/python -m pytest -m "slow" $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check libs services tests bench setup.py conftest.py
	$(BIN)/ruff format --check libs services tests bench setup.py conftest.py
	$(BIN)/mypy libs services
	$(BIN)/python -m tests.architecture

protos: setup
	$(BIN)/python -m dyad.protogen

bench: setup
	$(BIN)/python -m bench.run

serve: setup
	@$(BIN)/python -m dyad.demo --serve

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build dist *.egg-info .dyad
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
