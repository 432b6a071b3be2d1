"""Strict loading: what a stranger's YAML file may and may not contain, and where it is told."""

from __future__ import annotations

import pytest

from arena import yamlstrict
from arena.submission import validate_file

from .conftest import dump, valid_submission

PATH = "submissions/bob/int4-mtp.yaml"

REFUSED = [
    ("anchor", b"name: &n int4-mtp\n", "anchors", (1, 7)),
    ("alias", b"a: x\nb: *a\n", "aliases", (2, 4)),
    ("merge key", b"base: {a: 1}\nother:\n  <<: {a: 2}\n", "merge keys", (3, 3)),
    ("python tag", b"name: !!python/object/apply:os.system ['id']\n", "tags", (1, 7)),
    ("local tag", b"name: !secret x\n", "tags", (1, 7)),
    ("explicit str tag", b"name: !!str 12\n", "tags", (1, 7)),
    ("binary tag", b"blob: !!binary aGVsbG8=\n", "tags", (1, 7)),
    ("set tag", b"s: !!set {a, b}\n", "tags", (1, 4)),
    ("duplicate key", b"name: a\ndescription: b\nname: c\n", "duplicate key 'name' (first written "
     "on line 1)", (3, 1)),
    ("duplicate nested key", b"engine:\n  name: vllm\n  name: vllm\n", "duplicate key", (3, 3)),
    ("two documents", b"name: a\n---\nname: b\n", "more than one YAML document", (2, 1)),
    ("not utf-8", b"name: caf\xe9\n", "not valid UTF-8 (byte 0xe9)", (1, 10)),
    ("utf-16", "name: x\n".encode("utf-16"), "not valid UTF-8", (1, 1)),
    ("nul byte", b"name: a\x00b\n", "NUL", (1, 1)),
    ("empty file", b"", "the file is empty", (1, 1)),
    ("only a comment", b"# nothing here\n", "the file is empty", (1, 1)),
    ("syntax error", b"name: [unclosed\n", "not valid YAML", (2, 1)),
    ("bad indentation", b"model:\n  id: a/b\n revision: x\n", "not valid YAML", (3, 2)),
    ("tab indentation", b"model:\n\tid: a/b\n", "not valid YAML", (2, 1)),
    ("deep nesting", b"a: " + b"[" * 40 + b"]" * 40 + b"\n", "nesting is deeper than 16", None),
    ("complex key", b"? [a, b]\n: c\n", "keys must be plain names", (1, 3)),
]


@pytest.mark.parametrize("case,text,message,position", REFUSED, ids=[c[0] for c in REFUSED])
def test_refused_yaml_is_reported_with_its_position(case, text, message, position):
    with pytest.raises(yamlstrict.YamlError) as info:
        yamlstrict.load(text, max_bytes=65536)
    assert message in info.value.message
    if position is not None:
        assert (info.value.line, info.value.column) == position


def test_size_cap_is_enforced_before_parsing():
    text = b"description: " + b"x" * 70000 + b"\n"
    with pytest.raises(yamlstrict.YamlError) as info:
        yamlstrict.load(text, max_bytes=65536)
    assert "the limit is 65536" in info.value.message


def test_dates_stay_text_and_plain_scalars_keep_yaml_types():
    doc = yamlstrict.load(b"a: 2026-01-01\nb: 3\nc: 1.5\nd: true\ne: null\nf: '3'\n",
                          max_bytes=1000)
    assert doc.data == {"a": "2026-01-01", "b": 3, "c": 1.5, "d": True, "e": None, "f": "3"}


def test_a_byte_order_mark_is_accepted():
    doc = yamlstrict.load(b"\xef\xbb\xbfname: x\n", max_bytes=1000)
    assert doc.data == {"name": "x"}


def test_marks_record_values_and_keys():
    doc = yamlstrict.load(b"engine:\n  args:\n    dtype: auto\n", max_bytes=1000)
    assert doc.marks[("engine", "args", "dtype")] == yamlstrict.Mark(3, 12)
    assert doc.key_marks[("engine", "args", "dtype")] == yamlstrict.Mark(3, 5)
    # A missing path falls back to its nearest ancestor.
    assert doc.mark(("engine", "args", "missing")) == yamlstrict.Mark(3, 5)


def test_refused_yaml_reaches_the_validator_report_with_position(challenge):
    report = validate_file(b"name: &x a\n", path_in_repo=PATH, challenge=challenge)
    (problem,) = report.problems
    assert (problem.line, problem.column) == (1, 7)
    assert problem.format() == f"{PATH}:1:7: anchors (&x) are not allowed. Write each value out " \
                               "in full."


def test_hostile_key_names_are_made_safe_for_a_terminal(challenge):
    doc = valid_submission()
    doc["\x1b]0;pwned\x07evil"] = 1
    report = validate_file(dump(doc), path_in_repo=PATH, challenge=challenge)
    text = "\n".join(p.format() for p in report.problems)
    assert "\x1b" not in text and "\x07" not in text
    assert "\\u001b" in text


def test_control_characters_are_reported_not_raised():
    with pytest.raises(yamlstrict.YamlError) as info:
        yamlstrict.load(b"name: ok\ndescription: a\x01b\n", max_bytes=1000)
    assert "control character (U+0001)" in info.value.message
    assert (info.value.line, info.value.column) == (2, 15)
