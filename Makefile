# Two commands: `make demo` runs the embedded default, `make test` runs the suite
# (`make test-fast` its fast part, while you work).
# Each creates its own virtual environment on first use.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo demo-once demo-reset test test-fast mutants lint bench drill sandbox clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## Worker + Temporal dev server (with the Web UI) + vendor sandbox, fed sample billing events.
demo: $(STAMP)
	$(BIN)/onboarding-demo

## The demo in one-shot mode: exits 0 once every sample run reached its expected state.
demo-once: $(STAMP)
	$(BIN)/onboarding-demo --once

## Forget the demo's runs, sandbox records and key ring (var/); the virtual environment stays.
## Stop `make demo` first.
demo-reset:
	rm -rf var

## Lint, types and the whole test suite, on two processes (each file on one of them); it names
## the ten slowest tests, so that the suite stays fast as it grows.
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest -n 2 --dist loadfile --durations=10

## The fast part of the suite, in under a minute: domain, workflow unit tests (fake activities
## on the time-skipping server), replay, intake, security; not the tests marked e2e or slow.
test-fast: $(STAMP)
	$(BIN)/pytest -m "not e2e and not slow"

## Take out one feature at a time (Retry-After, get-or-create, choose-match, rollback,
## escalation) and check that the tests claiming it turn red (a few minutes; not in `make test`).
mutants: $(STAMP)
	$(BIN)/python -m tests.mutants

lint: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## The benchmark, every figure beside a bare Temporal run of the same shape on the same server:
## happy path, parked runs and the queue, signed webhooks. The issue-sized run:
## make bench BENCH_ARGS="--runs 400 --parked 10000 --intake 2000"
BENCH_ARGS ?= --runs 100 --parked 1000 --intake 500
bench: $(STAMP)
	$(BIN)/python -m bench.onboarding_bench $(BENCH_ARGS)

## Fault drill on 127.0.0.1: SIGKILLed workers and dev server, 429/5xx storms, lost answers;
## exits non-zero on any lost or duplicate run, duplicate or orphan record. DRILL_RUNS=300 make drill
DRILL_RUNS ?= 30
drill: $(STAMP)
	$(BIN)/python -m bench.drill --runs $(DRILL_RUNS)

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
