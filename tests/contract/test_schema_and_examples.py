"""The published JSON Schema matches the code, agrees with the validator, and the examples
validate and point editors at it."""

from __future__ import annotations

import json

import jsonschema
import pytest
import yaml

from arena.commands import validate_paths
from arena.submission import SCHEMA_COMMENT, json_schema, schema_path, schema_text

from .conftest import REPO, dump, valid_submission

from .test_submission_rules import INVALID, mutate


def test_published_schema_is_up_to_date(challenge):
    published = schema_path(challenge)
    assert published.read_text(encoding="utf-8") == schema_text(challenge), (
        "submissions/schema.json is stale: run `arena schema` and commit the result")


def test_published_schema_is_a_valid_json_schema(challenge):
    jsonschema.Draft202012Validator.check_schema(json.loads(schema_path(challenge).read_text()))


def example_files():
    return sorted((REPO / "submissions").glob("*/*.yaml")) + sorted(
        (REPO / "docs" / "examples").glob("*.yaml"))


def test_there_are_examples_of_each_kind():
    names = {p.stem for p in example_files()}
    assert {"bf16-baseline", "int4-w4a16", "int4-mtp-k6"} <= names


@pytest.mark.parametrize("path", example_files(), ids=lambda p: p.name)
def test_examples_validate_and_carry_the_schema_comment(challenge, path):
    (report,) = validate_paths([path], challenge)
    assert report.valid, [p.format() for p in report.problems]
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# yaml-language-server: $schema=")
    schema_ref = first.split("=", 1)[1]
    assert (path.parent / schema_ref).resolve() == schema_path(challenge).resolve()
    jsonschema.validate(yaml.safe_load(path.read_text()), json_schema(challenge))


def test_schema_comment_constant_points_at_the_published_file(challenge):
    assert SCHEMA_COMMENT.endswith("../schema.json")


def test_schema_accepts_what_the_validator_accepts(challenge):
    jsonschema.validate(valid_submission(), json_schema(challenge))


# Rules the schema cannot express (they need the file name, the repository or a position).
CONTEXT_ONLY = {"name not file stem", "parent missing submission", "parent is itself",
                "description blank", "description control chars", "description bidi override",
                "arg with dashes", "claimed infinite", "engine version too old",
                "engine version garbage", "spec lookup min above max"}


SCHEMA_CASES = [c for c in INVALID if c[0] not in CONTEXT_ONLY]


def test_context_only_rules_name_real_cases():
    assert CONTEXT_ONLY <= {c[0] for c in INVALID}


@pytest.mark.parametrize("case,change,field,message", SCHEMA_CASES, ids=[c[0] for c in SCHEMA_CASES])
def test_schema_rejects_what_the_validator_rejects(challenge, case, change, field, message):
    doc = yaml.safe_load(dump(mutate(change)))
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, json_schema(challenge))
