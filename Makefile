# Tasks for working on helpcrunch-async. Run `make` (or `make help`) for the list.
# Every task runs in the active virtualenv: first `python -m pip install -e ".[dev]"`
# (and `".[docs]"` for `make docs`).
PYTHON ?= python

.PHONY: help test test-serial lint format typecheck bench docs check

help:  ## list the tasks
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

test:  ## the whole test suite, in parallel (as CI runs it)
	$(PYTHON) -m pytest

test-serial:  ## the whole test suite in one process (slower; easier to debug)
	$(PYTHON) -m pytest -n 0

lint:  ## ruff lint and format check, mypy over the package (strict) and the tests
	ruff check .
	ruff format --check .
	$(MAKE) typecheck

typecheck:  ## mypy: strict over the package, examples and docs tools, loose over tests and benchmarks
	mypy --strict helpcrunch_async
	mypy tests benchmarks examples docs/_tools

format:  ## apply ruff's fixes and formatting
	ruff check --fix .
	ruff format .

bench:  ## every benchmark, one run each (ratios; takes minutes)
	$(PYTHON) -m benchmarks

docs:  ## build the docs site strictly into site/; run the examples of README, docs/, examples/
	$(PYTHON) docs/_tools/build.py
	$(PYTHON) -m pytest tests/docs tests/test_readme_example.py tests/cli/test_readme.py tests/test_doctests.py

check: lint test  ## what CI runs besides the fresh install and the demo
