# The two commands of the Quickstart. Each installs what it needs first (once).
VENV ?= .venv

.PHONY: demo test setup clean

demo: setup
	$(VENV)/bin/arena demo

test:
	scripts/setup.sh --test
	$(VENV)/bin/python -m pytest

setup:
	scripts/setup.sh

clean:
	rm -rf .arena
