# QualityWatch developer and CI entry points. A fresh clone needs only `make test` or `make run`:
# `make test` installs the system packages the suite needs (devtools/install-system-deps.sh, as
# .ci/run does), the venv is created on demand, and the test fixtures start Kafka and PostgreSQL.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: system-deps venv jars test lint run bench bench-province

venv: $(STAMP)

# Reinstall only when pyproject.toml is newer than the stamp.
$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

# PostgreSQL, Java/Maven, Prometheus, a Compose parser, Chromium, ...: checks only, when all are present.
system-deps:
	bash devtools/install-system-deps.sh

jars: venv
	$(PY) -m devtools.localinfra kafka-jars

test: system-deps venv jars
	$(PY) -m pytest -q

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

run: venv jars
	$(PY) -m devtools.devrun

bench: venv jars
	$(PY) -m bench

# A province's years of data on PostgreSQL, side by side with a GROUP BY peer (bench/RESULTS.md).
# BENCH_PROVINCE_ARGS="--years 5" for the full size; "--scale 0.01 --fresh-seconds 20 --catch-up 20000" to try it.
BENCH_PROVINCE_ARGS ?=
bench-province: system-deps venv jars
	$(PY) -m bench.province $(BENCH_PROVINCE_ARGS)
