# The two commands of the Quickstart. Each installs what it needs first (once).
VENV ?= .venv

.PHONY: demo test setup clean

demo: setup
	$(VENV)/bin/arena demo

# Two workers: the tests that use vLLM run together on one, everything else on the other
# meanwhile (tests/conftest.py puts them in one xdist group). PYTEST_WORKERS=0 runs serially.
PYTEST_WORKERS ?= 2

test:
	scripts/setup.sh --test
	$(VENV)/bin/python -m pytest -n $(PYTEST_WORKERS) --dist loadgroup

setup:
	scripts/setup.sh

clean:
	rm -rf .arena
