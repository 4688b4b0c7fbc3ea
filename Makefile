# Park booking — the two commands a newcomer needs:
#   make run    set up everything (uv, packages, database, demo park) and run the web server + worker
#   make test   run the whole test suite, on SQLite and then on PostgreSQL
# Extras: make test-quick (SQLite, skips browser/Slurm/benchmark smoke runs), make lint, make worker,
#         make slurm-up / slurm-down, make bench.

SHELL := /bin/bash
UV := $(shell command -v uv 2>/dev/null)
ifeq ($(UV),)
UV := python3 -m uv
endif

.PHONY: run setup uv test test-quick lint format worker slurm-up slurm-down bench messages

uv:
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet uv

setup: uv
	$(UV) sync --frozen
	$(UV) run python manage.py migrate --noinput
	$(UV) run python manage.py demo_park -v 0

run: setup
	scripts/run-park

worker:
	$(UV) run python manage.py run_huey

test: uv
	$(UV) sync --frozen
	scripts/test-all

test-quick: uv
	$(UV) sync --frozen
	$(UV) run pytest -m "not slow" -q

lint:
	$(UV) run ruff check .
	$(UV) run ruff format --check .

format:
	$(UV) run ruff check --fix .
	$(UV) run ruff format .

slurm-up:
	scripts/slurm-dev-cluster up

slurm-down:
	scripts/slurm-dev-cluster down

messages:
	$(UV) run python manage.py makemessages -l zh_Hant -l zh_Hans --ignore=.venv --ignore=var
	$(UV) run python manage.py compilemessages --ignore=.venv
