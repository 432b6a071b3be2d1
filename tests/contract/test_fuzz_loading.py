"""The validator never crashes, whatever the file (issue 13, point 8): structure-aware fuzzing of
every loading path (arena.yamlstrict.load, arena.submission.validate_file, SubmissionIndex.scan)
with YAML-ish documents built from submission-shaped values, written out in block and flow
style with odd types, anchors and aliases, tags, merge keys, huge numbers, deep nesting, bad
unicode and duplicate keys, then mutated byte-wise. Every run must end in a clean list of
Problems (file, line, column, message) and no exception."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from arena import yamlstrict
from arena.challenge import load_challenge
from arena.problems import Problem
from arena.submission import INTERNAL_ERROR, FileReport, SubmissionIndex, validate_file

from .conftest import REPO, valid_submission

CHALLENGE = load_challenge(REPO / "challenge.yaml")
PATH = "submissions/alice/fuzz.yaml"
SETTINGS = settings(max_examples=300, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

KEYS = ["name", "description", "parent", "tags", "model", "id", "revision", "engine", "version",
        "args", "speculative_config", "method", "num_speculative_tokens", "prompt_lookup_max",
        "compilation_config", "cudagraph_capture_sizes", "dtype", "quantization", "claimed",
        "tps", "ppl", "max_model_len", "gpu_memory_utilization", "tracks", "a10g", "<<", "1",
        "true", "null",
        "é", "\u202e", "k" * 300]

odd_text = st.one_of(
    st.sampled_from(["", "~", "null", "yes", "no", "on", "0x1F", "0o17", "1e999", "-.inf", ".nan",
                     "2026-11-22", "2026-11-22T10:15:00Z", "12:30:45", "-", "?", ":", "#", "|",
                     ">", "'", '"', "\\", "\u0085", "\u2028", "\ufeff", "\U0001f600", "a: b",
                     "vllm", "0.32.0", "google/gemma-4-E4B-it", "0" * 40, "alice/other",
                     "alice/fuzz", "../x", "mtp", "ngram", "FULL", "bfloat16"]),
    st.text(max_size=30),
    st.integers(4290, 4400).map(lambda n: "9" * n),  # past Python's int-from-text limit
    st.text("0123456789.e-", min_size=1, max_size=12))
numbers = st.one_of(st.integers(), st.integers(min_value=-10**400, max_value=10**400),
                    st.floats(allow_nan=True, allow_infinity=True), st.booleans(), st.none())
scalars = st.one_of(numbers, odd_text)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=5),
                            st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=8)),
                                            inner, max_size=6)),
    max_leaves=40)


def _scalar(v, draw) -> str:
    if isinstance(v, str):
        style = draw(st.sampled_from(["plain", "json", "single"]))
        if style == "json":
            return json.dumps(v)
        if style == "single":
            return "'" + v.replace("'", "''") + "'"
        return v
    if v is None:
        return draw(st.sampled_from(["null", "~", ""]))
    if isinstance(v, bool):
        return draw(st.sampled_from(["true", "false", "True", "yes", "off"]))
    if isinstance(v, float):
        return draw(st.sampled_from([repr(v), ".inf", "-.Inf", ".NaN", "1e400"]))
    return str(v)


def _prefix(draw) -> str:
    """What YAML features this loader refuses may appear before a value."""
    return draw(st.sampled_from(["", "", "", "&a ", "!!str ", "!!python/object:os.system ",
                                 "!custom ", "*a ", "&b !!int "]))


def emit(v, draw, indent: int = 0) -> str:
    pad = " " * indent
    flow = draw(st.booleans()) if isinstance(v, (dict, list)) else False
    if isinstance(v, dict):
        if not v:
            return "{}"
        if flow:
            return "{" + ", ".join(f"{_scalar(k, draw)}: {emit(x, draw, 0)}"
                                   for k, x in v.items()) + "}"
        lines = []
        for k, x in v.items():
            key = _scalar(k, draw)
            for _ in range(draw(st.integers(0, 1))):  # a duplicate key now and then
                lines.append(f"{pad}{key}: {_scalar(str(x)[:5], draw)}")
            if isinstance(x, (dict, list)) and x:
                lines.append(f"{pad}{key}:{' ' + _prefix(draw).strip() if draw(st.booleans()) else ''}")
                lines.append(emit(x, draw, indent + 2))
            else:
                lines.append(f"{pad}{key}: {_prefix(draw)}{emit(x, draw, 0)}")
        return "\n".join(lines)
    if isinstance(v, list):
        if not v:
            return "[]"
        if flow:
            return "[" + ", ".join(emit(x, draw, 0) for x in v) + "]"
        return "\n".join(f"{pad}- {emit(x, draw, indent + 2).lstrip()}" for x in v)
    return _scalar(v, draw)


def _paths(v, prefix=()):
    yield prefix
    if isinstance(v, dict):
        for k, x in v.items():
            yield from _paths(x, prefix + (k,))


def _replace(v, path, new):
    if not path:
        return new
    if not isinstance(v, dict):
        raise KeyError(path[0])
    out = dict(v)
    out[path[0]] = _replace(v[path[0]], path[1:], new)
    return out


BASE = valid_submission("fuzz")
BASE_PATHS = [p for p in _paths(BASE) if p]


@st.composite
def mutated_submission(draw):
    """A valid submission with a few of its values, at any depth, replaced by odd ones."""
    doc = BASE
    for path in draw(st.lists(st.sampled_from(BASE_PATHS), min_size=1, max_size=3)):
        try:
            doc = _replace(doc, path, draw(values))
        except (KeyError, TypeError):  # an earlier replacement removed the path
            pass
    return doc


@st.composite
def documents(draw) -> bytes:
    base = BASE
    doc = draw(st.one_of(values, st.just(base), mutated_submission(), st.builds(
        lambda extra, drop: {**{k: v for k, v in base.items() if k not in drop}, **extra},
        st.dictionaries(st.sampled_from(KEYS), values, max_size=3),
        st.sets(st.sampled_from(list(base)), max_size=3))))
    text = emit(doc, draw)
    if draw(st.booleans()):  # deep nesting
        depth = draw(st.integers(10, 300))
        text += "\nargs: " + "[" * depth + "]" * draw(st.sampled_from([depth, 0]))
    if draw(st.booleans()):
        text += draw(st.sampled_from(["\n---\nname: x\n", "\n...\n", "\n<<: {a: 1}\n",
                                      "\nx: *nope\n", "\n? [a, b]\n: c\n", "\n%YAML 1.1\n"]))
    raw = text.encode("utf-8", errors="surrogatepass")
    for _ in range(draw(st.integers(0, 3))):  # byte-level damage: bad UTF-8, NUL, controls
        at = draw(st.integers(0, len(raw)))
        junk = draw(st.sampled_from([b"\xff", b"\xc3", b"\x00", b"\x07", b"\xed\xa0\x80", b"\t",
                                     b"\r", b"\xef\xbb\xbf", b"\n  - ", b": :"]))
        raw = raw[:at] + junk + raw[at:]
    return raw


def _assert_clean(report: FileReport) -> None:
    assert isinstance(report, FileReport)
    for p in report.problems:
        assert isinstance(p, Problem)
        assert INTERNAL_ERROR not in p.message, "the checks crashed (caught only by the net)"
        assert isinstance(p.line, int) and p.line >= 1 and isinstance(p.message, str)
        p.format()  # a problem can always be shown
    if report.valid:
        assert report.submission is not None
        report.submission.config_sha256()
        json.dumps(report.submission.to_json())


@SETTINGS
@given(documents())
def test_validate_file_never_raises(raw: bytes) -> None:
    _assert_clean(validate_file(raw, path_in_repo=PATH, challenge=CHALLENGE,
                                index=SubmissionIndex({"alice/other": None})))


@SETTINGS
@given(documents())
def test_the_strict_loader_raises_only_its_own_error(raw: bytes) -> None:
    try:
        doc = yamlstrict.load(raw, max_bytes=CHALLENGE.max_submission_bytes)
    except yamlstrict.YamlError as exc:
        assert exc.line >= 1 and exc.column >= 1 and exc.message
        return
    json.dumps(doc.data, default=str)


@pytest.mark.parametrize("raw", [
    b"a: 1e400", b"a: " + b"9" * 5000, b"- " * 200 + b"x", b"[" * 5000, b"{a: " * 3000,
    "name: \ud800".encode("utf-8", "surrogatepass"), b"\xef\xbb\xbf\xef\xbb\xbfname: x",
    b"a: !!binary aGVsbG8=", b"a: !!set {x}", b"a: !!omap [x: 1]", b"a: 2026-13-45",
    b"? - a\n: b", b"&x a: *x", b"name: [x]\nname: y", b"a: 0b101", b"a: 1_000", b"a: 190:20:30",
    b"\t- x", b"'unterminated", b"a: |\n\x85", b"\x00", b"", b"# only a comment", b"---",
    b"name: fuzz\nengine:\n  args: {speculative_config: {method: [x]}}",
    b"name: fuzz\nengine: {args: {compilation_config: {cudagraph_capture_sizes: [1e400]}}}",
    b"name: fuzz\nmodel: {id: 5, revision: [1]}\nengine: {name: {}, version: 1.5}",
    b"name: fuzz\nengine:\n  args:\n    max_model_len: 1e400\n    gpu_memory_utilization: .nan",
    b"name: fuzz\nparent: {a: b}\ntags: [[x], {y: z}, 1e400]\nclaimed: {tps: .inf, ppl: -1}",
])
def test_known_hostile_files_give_problems_not_tracebacks(raw: bytes) -> None:
    _assert_clean(validate_file(raw, path_in_repo=PATH, challenge=CHALLENGE,
                                index=SubmissionIndex()))


@SETTINGS
@given(st.lists(documents(), min_size=1, max_size=4))
def test_a_hostile_file_on_main_never_breaks_the_index(tmp_path_factory, files: list[bytes]) -> None:
    root = tmp_path_factory.mktemp("subs")
    for i, raw in enumerate(files):
        d = root / f"user{i}"
        d.mkdir()
        (d / "x.yaml").write_bytes(raw)
    index = SubmissionIndex.scan(root, max_bytes=CHALLENGE.max_submission_bytes)
    assert all(f"user{i}/x" in index for i in range(len(files)))
    for i in range(len(files)):
        index.ancestry_reaches(f"user{i}/x", "alice/fuzz")
    # and validating a good file against it still works
    good = (REPO / "submissions").glob("*/*.yaml")
    for f in list(good)[:1]:
        _assert_clean(validate_file(f.read_bytes(), path_in_repo=str(f.relative_to(REPO)),
                                    challenge=CHALLENGE, index=index))


def test_the_fuzz_reaches_deep_into_the_checks() -> None:
    """The generators are not only noise: a well-formed submission comes out valid."""
    raw = json.dumps(valid_submission("fuzz")).encode()
    report = validate_file(raw, path_in_repo=PATH, challenge=CHALLENGE, index=SubmissionIndex())
    assert report.valid, [p.format() for p in report.problems]
