"""Fixtures for the workflow tests: the repository's workflows, parsed and as text."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Callable

import pytest

from .invariants import load_workflow

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = REPO / ".github" / "workflows"


@pytest.fixture(scope="session")
def workflow_dir() -> Path:
    return WORKFLOWS


@pytest.fixture(scope="session")
def workflows() -> dict[str, dict[str, Any]]:
    """Every workflow by file name, parsed once per session; copy before changing one."""
    return {p.name: load_workflow(p) for p in sorted(WORKFLOWS.glob("*.yml"))}


@pytest.fixture
def workflow_copy(workflows: dict[str, dict[str, Any]]) -> Callable[[str], dict[str, Any]]:
    def make(name: str) -> dict[str, Any]:
        return copy.deepcopy(workflows[name])
    return make
