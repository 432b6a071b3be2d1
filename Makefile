# The two commands of the Quickstart. Each installs what it needs first (once).
VENV ?= .venv

.PHONY: demo test setup clean

demo: setup
	$(VENV)/bin/arena demo

# Two pytest-xdist workers: the test modules that use vLLM are one unit of work on one worker
# (each shared server starts once), every other module a unit of its own on the other
# (tests/conftest.py). PYTEST_WORKERS=0 runs serially.
PYTEST_WORKERS ?= 2

test:
	scripts/setup.sh --test
	$(VENV)/bin/python -m pytest -n $(PYTEST_WORKERS) --dist loadscope

setup:
	scripts/setup.sh

clean:
	rm -rf .arena
