# The two commands of the Quickstart. Each installs what it needs first (once).
VENV ?= .venv

.PHONY: demo test setup clean

demo: setup
	$(VENV)/bin/arena demo

# Serial by default: on two cores a second worker starves the vLLM tests' engines (a fresh
# clone's run with two workers took 26 min, against 34 serially, but a referee timed out). With
# PYTEST_WORKERS=2 the tests that use vLLM run together on one worker, everything else on the
# other (tests/conftest.py puts them in one xdist group): for machines with cores to spare.
PYTEST_WORKERS ?= 0

test:
	scripts/setup.sh --test
	$(VENV)/bin/python -m pytest -n $(PYTEST_WORKERS) --dist loadgroup

setup:
	scripts/setup.sh

clean:
	rm -rf .arena
