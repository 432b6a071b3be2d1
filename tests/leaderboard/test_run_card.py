"""A run's card on its submission's page reads the run's typed result, shows its reasons, notes
and checks as the one description every front end renders (arena.result.describe in
arena.render's HTML), keeps untrusted text inert, and is the only reason a build reads a run
typed: a model of the board, its JSON API and its list of runs parse no result."""

from __future__ import annotations

import copy
import datetime as dt

import pytest

from arena.challenge import load_challenge
from arena.render import html_blocks
from arena.result import Result, describe, validate_result
from leaderboard import api
from leaderboard.model import build_model
from leaderboard.pages.common import Links, page_path
from leaderboard.pages.format import _run_card
from tests.support import sample

NOW = dt.datetime(2026, 11, 30, tzinfo=dt.timezone.utc)
HOSTILE = "<script>alert(1)</script> **bold** [x](https://evil.example) \x1b[2J"


@pytest.fixture(scope="module")
def challenge(tmp_path_factory):
    return load_challenge(sample.challenge_folder(tmp_path_factory.mktemp("ch")))


def hostile_run() -> dict:
    doc = sample.make_result("mallory/x", verdict="invalid",
                             reasons=[("greedy_fidelity", HOSTILE)], run_id="r1")
    doc = copy.deepcopy(doc)
    doc["checks"][0]["message"] = HOSTILE
    doc["telemetry"] = {"source": "nvml", "samples": 40, "throttled": True,
                        "throttle_reasons": {"hw_slowdown": 3}}
    return validate_result(doc)


def model_of(challenge, docs, verdicts=()):
    return build_model(challenge, {}, [(f"results/{d['submission']['id']}/{d['run_id']}.json", d)
                                       for d in docs], list(verdicts), now=NOW)


def test_the_card_shows_the_runs_description(challenge):
    doc = hostile_run()
    run = model_of(challenge, [doc]).runs[0]
    card = str(_run_card(run, Links()))
    d = describe(Result.from_json(doc))
    part = html_blocks(d, "checks", {"table": "compact cards result-checks"})
    assert part and part in card
    # The throttle warning, once, in the card's own words (tests/organizers/test_controls.py).
    assert "GPU throttled during the timed passes: hw_slowdown (3)." in card
    assert "The GPU throttled" not in card
    assert '<span class="badge st-pass">pass</span>' in card  # a check's status, a badge
    assert '<ul class="reasons"><li><code>greedy_fidelity</code>: <code>' in card
    # Text from the run is inert: escaped, no tag, no link, no terminal control.
    assert "<script>" not in card and "\x1b" not in card and "href=\"https://evil" not in card
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in card


def test_a_maintainers_decision_shows_the_maintainers_reason(challenge, verdict):
    doc = sample.make_result("mallory/x", run_id="r1")
    v = verdict("mallory/x", "invalidate", run_id="r1", reason="served <b>cached</b> answers")
    run = model_of(challenge, [doc], [v]).runs[0]
    card = str(_run_card(run, Links()))
    assert "Decided by maintainer" in card
    assert '<ul class="reasons"><li>maintainer: served &lt;b&gt;cached&lt;/b&gt; answers</li>' \
        in card


def test_a_build_reads_a_run_typed_only_for_a_page_that_shows_it(challenge, monkeypatch):
    docs = [sample.make_result(f"u{i}/s", run_id=f"r{i}") for i in range(30)]
    # Every run is read typed, lazily (arena.result.Result: a part when it is asked for); what
    # a run's page adds is its description, the whole of it read and put in words.
    from leaderboard.pages import format as fmt

    read: list[str] = []
    original = fmt.describe
    monkeypatch.setattr(fmt, "describe", lambda result, **kw: read.append(result.run_id)
                        or original(result, **kw))
    model = model_of(challenge, docs)
    api.runs_doc(model, page_path)
    api.submissions_doc(model, page_path)
    api.leaderboard_doc(model, page_path)
    assert read == []  # the model, the JSON API: no run read typed
    _run_card(model.runs[0], Links())
    assert read == [model.runs[0].run_id]  # its card: that run, once
