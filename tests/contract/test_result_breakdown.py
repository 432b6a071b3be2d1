"""The result schema's optional breakdown: per_prompt (public set) and per_category (private set,
aggregates only), exactly as the runner may write them; nothing else gets through."""

from __future__ import annotations


def test_the_result_schema_takes_the_breakdown_the_runner_may_write():
    from arena.result import result_errors
    from tests.support import sample
    doc = sample.make_result("alice/x")
    doc["per_prompt"] = [{"id": "pub-001", "tps": 210.5, "acceptance_rate": 0.61,
                          "mean_accepted_length": 2.4},
                         {"id": "pub-002", "tps": 190.0, "acceptance_rate": None,
                          "mean_accepted_length": None}, {"id": "pub-003", "tps": 1.0}]
    doc["per_category"] = {"code": {"prompts": 12, "tps": 201.0}}
    assert result_errors(doc) == []
    for bad, where in [
        ({"per_prompt": [{"id": "p", "tps": 1.0, "text": "the prompt itself"}]}, "per_prompt/0"),
        ({"per_prompt": [{"id": "p", "tps": 1.0, "acceptance_rate": 1.5}]}, "per_prompt/0"),
        ({"per_category": {"code": {"prompts": 3, "tps": 1.0, "ids": ["priv-1"]}}},
         "per_category/code"),
        ({"per_category": {"code": {"prompts": 0, "tps": 1.0}}}, "per_category/code"),
    ]:
        errors = result_errors({**doc, **bad})
        assert errors and any(e.startswith(where) for e in errors), (bad, errors)
