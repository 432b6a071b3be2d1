"""Negative results: a submission file with a `tried:` block (what was tried, what happened,
no run requested), validated like any submission."""

from __future__ import annotations

import pytest

from arena.submission import TRIED_OUTCOMES, SubmissionIndex, validate_file

from .conftest import dump, valid_submission

PATH = "submissions/bob/int4-mtp.yaml"


def run(repo, doc):
    return validate_file(dump(doc), path_in_repo=PATH, challenge=repo.challenge,
                         index=SubmissionIndex.scan(repo.challenge.submissions_dir))


def negative(**tried):
    doc = valid_submission()
    doc["tried"] = {"outcome": "slower", "what_happened": "k=8 accepted 20%; 30 tok/s slower",
                    **tried}
    return doc


def test_a_negative_result_is_a_valid_submission_that_says_it_is_one(repo):
    report = run(repo, negative(tps=255.5))
    assert report.valid, [p.format() for p in report.problems]
    sub = report.submission
    assert sub.negative and sub.tried.outcome == "slower" and sub.tried.tps == 255.5
    assert sub.to_json()["tried"]["what_happened"].startswith("k=8")
    # The configuration is the same as the file's without the block: the duplicate check and
    # the tried page match it against runs of that configuration.
    plain = run(repo, valid_submission()).submission
    assert sub.config_sha256() == plain.config_sha256() and not plain.negative


@pytest.mark.parametrize("tried, field, words", [
    ({"outcome": "faster"}, "tried.outcome", "Use one of: " + ", ".join(TRIED_OUTCOMES)),
    ({"what_happened": "  "}, "tried.what_happened", "must not be blank"),
    ({"what_happened": "x\u202eevil"}, "tried.what_happened", "control characters"),
    ({"what_happened": "x" * 2001}, "tried.what_happened", "at most 2000"),
    ({"tps": -1}, "tried.tps", "greater than 0"),
    ({"run": True}, "tried.run", "unknown field"),
])
def test_a_bad_negative_result_says_what_is_wrong_where(repo, tried, field, words):
    report = run(repo, negative(**tried))
    assert not report.valid
    hits = [p for p in report.problems if p.field == field and words in p.message]
    assert hits, [p.format() for p in report.problems]
    assert hits[0].line > 1


def test_the_block_needs_an_outcome_and_an_account(repo):
    doc = valid_submission()
    doc["tried"] = {"tps": 3.0}
    fields = {p.field for p in run(repo, doc).problems}
    assert "tried" in fields or {"tried.outcome", "tried.what_happened"} <= fields

