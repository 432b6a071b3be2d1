"""The result schema's two validators: the compiled fast path and jsonschema's detailed one must
accept and refuse exactly the same documents, or a bad result could slip into the store."""

from __future__ import annotations

import copy
import json

import jsonschema
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arena.result import _VALIDATOR, RESULT_SCHEMA, result_errors, validate_result, ResultError
from tests.support.sample import make_result

import pytest


def _reference_errors(doc) -> list:
    return list(_VALIDATOR.iter_errors(doc))


def test_sample_results_are_valid_for_both():
    doc = make_result("alice/fast")
    assert result_errors(doc) == [] and _reference_errors(doc) == []
    assert validate_result(doc) is doc


def test_an_invalid_result_is_explained_field_by_field():
    doc = make_result("alice/fast")
    doc["verdict"] = "excellent"
    doc["tps"]["public"]["median"] = -3
    errors = result_errors(doc)
    assert any(e.startswith("verdict:") for e in errors)
    assert any(e.startswith("tps/public/median:") for e in errors)
    with pytest.raises(ResultError):
        validate_result(doc)


_values = st.one_of(st.none(), st.booleans(), st.integers(-5, 10**6),
                    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=12),
                    st.just("2026-11-22T10:00:00Z"), st.just("0" * 40), st.just("a" * 64),
                    st.lists(st.integers(0, 5), max_size=3), st.dictionaries(st.text(max_size=5),
                                                                           st.integers(), max_size=2))


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, prefix + (i,))


BASE = make_result("alice/fast", speculative={"method": "ngram", "num_speculative_tokens": 4, "drafts": 10, "draft_tokens": 40, "accepted_tokens": 20, "acceptance_rate": 0.5, "mean_accepted_length": 3.0}, log_tail="x", provenance={"pr": 3, "head_sha": "a" * 40, "run_url": None, "requested_by": "bob"})
PATHS = [p for p in _paths(BASE) if p]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(PATHS), st.one_of(_values, st.just("__delete__"))),
                min_size=1, max_size=3))
def test_fast_and_reference_validators_agree_on_mutated_results(changes):
    doc = copy.deepcopy(BASE)
    for path, value in changes:
        node = doc
        try:
            for key in path[:-1]:
                node = node[key]
            if value == "__delete__":
                del node[path[-1]]
            else:
                node[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue
    doc = json.loads(json.dumps(doc))
    assert (result_errors(doc) == []) == (_reference_errors(doc) == [])


def test_the_schema_itself_is_valid():
    jsonschema.Draft202012Validator.check_schema(RESULT_SCHEMA)
