"""Fixtures of the cheat suite: the prompt sets a run measures, and a second shared vLLM server
serving the tiny model with n-gram speculative decoding (the honest speculative configuration,
and the engine behind the relaxed-acceptance cheat). The plain server is the root conftest's
`tiny_server`.
"""

from __future__ import annotations

import dataclasses
from typing import Iterator

import pytest

from arena.challenge import Challenge
from arena.commands import validate_paths
from workshop.demo import private_prompt_rows
from arena.submission import Submission
from runner.prompts import Prompt, PromptSet, load_prompt_file, set_sha256
from tests.conftest import REPO

SUBMISSIONS = REPO / "demo" / "submissions" / "arena-maintainers"
# Small sets keep each run to seconds; every check still sees both sets and every pass.
PUBLIC_PROMPTS = 4
PRIVATE_PROMPTS = 4


def demo_submission(challenge: Challenge, name: str) -> Submission:
    [report] = validate_paths([SUBMISSIONS / f"{name}.yaml"], challenge)
    assert report.valid and report.submission is not None, \
        [p.format() for p in report.problems]
    return report.submission


@pytest.fixture(scope="session")
def prompt_sets(demo_challenge: Challenge) -> list[PromptSet]:
    """A public and a private set, public first (the order `arena bench` measures them)."""
    public = load_prompt_file(demo_challenge.public_prompts)
    public = dataclasses.replace(public, prompts=public.prompts[:PUBLIC_PROMPTS])
    rows = private_prompt_rows(PRIVATE_PROMPTS, seed=11)
    private = tuple(Prompt(r["id"], r["category"],
                           tuple((m["role"], m["content"]) for m in r["messages"]),
                           r["reference"]) for r in rows)
    return [public, PromptSet("private", private, set_sha256(private), True)]


@pytest.fixture(scope="session")
def ngram_server(tiny_model, demo_challenge: Challenge,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """vLLM serving the tiny model as the demo's ngram-k4 submission asks (started like
    `arena bench` starts it), shared by the tests of this folder."""
    from runner.bench import merged_engine_args
    from tests.conftest import shared_server

    args = merged_engine_args(demo_submission(demo_challenge, "ngram-k4"), demo_challenge, None)
    yield from shared_server("the n-gram vLLM server", tiny_model.path, args, demo_challenge,
                             tmp_path_factory.mktemp("ngram-server"))
