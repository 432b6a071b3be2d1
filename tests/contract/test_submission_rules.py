"""Every submission rule, table-driven: the valid case passes, each invalid case is reported
with the field, a message that says what to do, and the line where it was written."""

from __future__ import annotations

import copy
from typing import Any, Callable

import pytest

from arena.challenge import FORBIDDEN_ARGS, FORBIDDEN_SPECULATIVE_FIELDS
from arena.submission import SubmissionIndex, validate_file

from .conftest import DRAFTER_REVISION, VALID_REVISION, dump, valid_submission

PATH = "submissions/bob/int4-mtp.yaml"


def run(repo, content: bytes | dict, path: str = PATH, index: SubmissionIndex | None = None):
    raw = dump(content) if isinstance(content, dict) else content
    if index is None:
        index = SubmissionIndex.scan(repo.challenge.submissions_dir)
    return validate_file(raw, path_in_repo=path, challenge=repo.challenge, index=index)


def mutate(fn: Callable[[dict], Any]) -> dict:
    doc = valid_submission()
    fn(doc)
    return doc


def spec(doc: dict) -> dict:
    return doc["engine"]["args"]["speculative_config"]


def test_valid_submission_passes_and_is_normalized(repo):
    report = run(repo, valid_submission())
    assert report.problems == []
    sub = report.submission
    assert sub.id == "bob/int4-mtp"
    assert sub.engine_args["speculative_config"]["num_speculative_tokens"] == 6
    # The config hash ignores descriptions and tags, and key order.
    other = valid_submission()
    other["description"] = "different words"
    other["engine"]["args"] = dict(reversed(list(other["engine"]["args"].items())))
    assert run(repo, other).submission.config_sha256() == sub.config_sha256()
    changed = valid_submission()
    changed["engine"]["args"]["max_num_batched_tokens"] = 256
    assert run(repo, changed).submission.config_sha256() != sub.config_sha256()


def test_minimal_submission_passes(repo):
    doc = {"name": "int4-mtp", "description": "x",
           "model": {"id": "a/b", "revision": VALID_REVISION},
           "engine": {"name": "vllm", "version": "0.32.0"}}
    assert run(repo, doc).valid


INVALID: list[tuple[str, Callable[[dict], Any], str, str]] = [
    # name
    ("name missing", lambda d: d.pop("name"), "", "'name' is missing"),
    ("name uppercase", lambda d: d.update(name="Int4-MTP"), "name", "lowercase letters"),
    ("name underscore", lambda d: d.update(name="int4_mtp"), "name", "lowercase letters"),
    ("name leading hyphen", lambda d: d.update(name="-int4"), "name", "lowercase letters"),
    ("name too long", lambda d: d.update(name="a" * 64), "name", "at most 63"),
    ("name not file stem", lambda d: d.update(name="other"), "name", "must equal the file name"),
    ("name is a number", lambda d: d.update(name=123), "name", "Put the value in quotes"),
    # description
    ("description missing", lambda d: d.pop("description"), "", "'description' is missing"),
    ("description empty", lambda d: d.update(description=""), "description", "must not be empty"),
    ("description blank", lambda d: d.update(description="   "), "description", "must not be blank"),
    ("description too long", lambda d: d.update(description="x" * 2001), "description",
     "at most 2000"),
    ("description control chars", lambda d: d.update(description="ok\x1b[31m red"),
     "description", "control characters"),
    ("description bidi override", lambda d: d.update(description="abc\u202edcba"),
     "description", "invisible direction marks"),
    ("description a list", lambda d: d.update(description=["a"]), "description",
     "must be a string"),
    # parent
    ("parent bad format", lambda d: d.update(parent="no-slash"), "parent", "<github-login>/<name>"),
    ("parent missing submission", lambda d: d.update(parent="alice/nope"), "parent",
     "is not an existing submission"),
    ("parent is itself", lambda d: d.update(parent="bob/int4-mtp"), "parent", "itself"),
    # tags
    ("tags not a list", lambda d: d.update(tags="quantization"), "tags", "must be a list"),
    ("tag unknown", lambda d: d.update(tags=["turbo"]), "tags[0]", "not one of the allowed"),
    ("tag twice", lambda d: d.update(tags=["quantization", "quantization"]), "tags[1]",
     "listed twice"),
    ("too many tags", lambda d: d.update(tags=[
        "baseline", "quantization", "speculative-decoding", "kv-cache", "attention",
        "cuda-graphs", "compilation", "scheduling", "kernels", "pruning", "distillation"]),
     "tags", "at most 10"),
    # model
    ("model missing", lambda d: d.pop("model"), "", "'model' is missing"),
    ("model not mapping", lambda d: d.update(model="google/gemma"), "model", "must be a mapping"),
    ("model id missing", lambda d: d["model"].pop("id"), "model", "'id' is missing"),
    ("model id not hub id", lambda d: d["model"].update(id="gemma"), "model.id",
     "not a Hugging Face Hub repo id"),
    ("model id double dash", lambda d: d["model"].update(id="a--b/c"), "model.id",
     "not a Hugging Face Hub repo id"),
    ("model id url", lambda d: d["model"].update(id="https://evil.example/x"), "model.id",
     "not a Hugging Face Hub repo id"),
    ("model id local path", lambda d: d["model"].update(id="./models/x"), "model.id",
     "local paths are not allowed"),
    ("model id absolute path", lambda d: d["model"].update(id="/etc/passwd"), "model.id",
     "local paths are not allowed"),
    ("revision missing", lambda d: d["model"].pop("revision"), "model", "'revision' is missing"),
    ("revision branch", lambda d: d["model"].update(revision="main"), "model.revision",
     "branch, tag or other name"),
    ("revision tag", lambda d: d["model"].update(revision="v1.0"), "model.revision",
     "branch, tag or other name"),
    ("revision short sha", lambda d: d["model"].update(revision="0123abc"), "model.revision",
     "short SHA"),
    ("revision uppercase", lambda d: d["model"].update(revision=VALID_REVISION.upper()),
     "model.revision", "lowercase"),
    ("revision a number", lambda d: d["model"].update(revision=1234567), "model.revision",
     "full commit SHA in quotes"),
    # engine
    ("engine missing", lambda d: d.pop("engine"), "", "'engine' is missing"),
    ("engine name not allowed", lambda d: d["engine"].update(name="sglang"), "engine.name",
     "is not allowed in this challenge"),
    ("engine version unquoted", lambda d: d["engine"].update(version=0.32), "engine.version",
     "in quotes"),
    ("engine version too old", lambda d: d["engine"].update(version="0.31.0"), "engine.version",
     "0.32.0 or later"),
    ("engine version garbage", lambda d: d["engine"].update(version="latest"), "engine.version",
     "is not allowed"),
    ("engine args not mapping", lambda d: d["engine"].update(args=["x"]), "engine.args",
     "must be a mapping"),
    ("engine unknown key", lambda d: d["engine"].update(image="evil"), "engine.image",
     "unknown field"),
    ("arg unknown", lambda d: d["engine"]["args"].update(swap_space=4), "engine.args.swap_space",
     "not an allowed engine argument"),
    ("arg with dashes", lambda d: d["engine"]["args"].update({"max-num-seqs": 1}),
     "engine.args.max-num-seqs", "Did you mean 'max_num_seqs'"),
    ("bool arg not bool", lambda d: d["engine"]["args"].update(enforce_eager="yes please"),
     "engine.args.enforce_eager", "true or false"),
    ("int arg out of range", lambda d: d["engine"]["args"].update(max_model_len=999999),
     "engine.args.max_model_len", "out of range"),
    ("int arg a float", lambda d: d["engine"]["args"].update(max_num_seqs=1.5),
     "engine.args.max_num_seqs", "whole number"),
    ("float arg out of range", lambda d: d["engine"]["args"].update(gpu_memory_utilization=1.2),
     "engine.args.gpu_memory_utilization", "out of range"),
    ("enum arg unknown value", lambda d: d["engine"]["args"].update(kv_cache_dtype="int2"),
     "engine.args.kv_cache_dtype", "Use one of"),
    ("object arg unknown field", lambda d: d["engine"]["args"].update(
        compilation_config={"mode": 3, "backend": "my_backend"}),
     "engine.args.compilation_config.backend", "unknown field"),
    ("object arg bad value", lambda d: d["engine"]["args"].update(
        compilation_config={"mode": 9}), "engine.args.compilation_config.mode", "out of range"),
    ("int list item out of range", lambda d: d["engine"]["args"].update(
        compilation_config={"cudagraph_capture_sizes": [1, 2, 4096]}),
     "engine.args.compilation_config.cudagraph_capture_sizes[2]", "out of range"),
    ("int list duplicates", lambda d: d["engine"]["args"].update(
        compilation_config={"cudagraph_capture_sizes": [1, 1]}),
     "engine.args.compilation_config.cudagraph_capture_sizes", "twice"),
    ("int list empty", lambda d: d["engine"]["args"].update(
        compilation_config={"cudagraph_capture_sizes": []}),
     "engine.args.compilation_config.cudagraph_capture_sizes", "non-empty list"),
    # speculative decoding
    ("spec not mapping", lambda d: d["engine"]["args"].update(speculative_config="mtp"),
     "engine.args.speculative_config", "must be a mapping"),
    ("spec method missing", lambda d: spec(d).pop("method"), "engine.args.speculative_config",
     "'method' is missing"),
    ("spec method suffix", lambda d: spec(d).update(method="suffix"),
     "engine.args.speculative_config.method", "caching answers across requests"),
    ("spec method custom class", lambda d: spec(d).update(method="custom_class"),
     "engine.args.speculative_config.method", "runs code"),
    ("spec method unknown", lambda d: spec(d).update(method="medusa"),
     "engine.args.speculative_config.method", "Use one of"),
    ("spec tokens missing", lambda d: spec(d).pop("num_speculative_tokens"),
     "engine.args.speculative_config", "'num_speculative_tokens' is missing"),
    ("spec tokens too many", lambda d: spec(d).update(num_speculative_tokens=64),
     "engine.args.speculative_config.num_speculative_tokens", "out of range"),
    ("spec drafter missing", lambda d: (spec(d).pop("model"), spec(d).pop("revision")),
     "engine.args.speculative_config", "needs a drafter"),
    ("spec drafter revision missing", lambda d: spec(d).pop("revision"),
     "engine.args.speculative_config", "needs its own revision"),
    ("spec drafter revision branch", lambda d: spec(d).update(revision="main"),
     "engine.args.speculative_config.revision", "branch, tag or other name"),
    ("spec drafter not hub id", lambda d: spec(d).update(model="not a repo"),
     "engine.args.speculative_config.model", "not a Hugging Face Hub repo id"),
    ("spec ngram with model", lambda d: spec(d).update(method="ngram"),
     "engine.args.speculative_config.model", "uses no drafter model"),
    ("spec lookup on mtp", lambda d: spec(d).update(prompt_lookup_max=4),
     "engine.args.speculative_config.prompt_lookup_max", "only used with method 'ngram'"),
    ("spec lookup min above max", lambda d: d["engine"]["args"].update(speculative_config={
        "method": "ngram", "num_speculative_tokens": 4, "prompt_lookup_min": 5,
        "prompt_lookup_max": 2}),
     "engine.args.speculative_config.prompt_lookup_min", "not be greater than"),
    ("spec unknown field", lambda d: spec(d).update(draft_tensor_parallel_size=2),
     "engine.args.speculative_config.draft_tensor_parallel_size", "unknown field"),
    # claimed
    ("claimed not mapping", lambda d: d.update(claimed=300), "claimed", "must be a mapping"),
    ("claimed unknown key", lambda d: d["claimed"].update(latency=3), "claimed.latency",
     "unknown field"),
    ("claimed negative", lambda d: d["claimed"].update(tps=-5), "claimed.tps",
     "greater than 0"),
    ("claimed zero", lambda d: d["claimed"].update(ppl=0), "claimed.ppl", "greater than 0"),
    ("claimed bool", lambda d: d["claimed"].update(tps=True), "claimed.tps", "must be a number"),
    ("claimed string", lambda d: d["claimed"].update(tps="300"), "claimed.tps",
     "must be a number"),
    ("claimed infinite", lambda d: d["claimed"].update(tps=float("inf")), "claimed.tps",
     "finite"),
    # top level
    ("unknown top-level key", lambda d: d.update(script="rm -rf /"), "script", "unknown field"),
    ("misspelt top-level key", lambda d: d.update(tag=["baseline"]), "tag", "Did you mean 'tags'"),
]


@pytest.mark.parametrize("case,change,field,message", INVALID, ids=[c[0] for c in INVALID])
def test_invalid_submission_is_reported(repo, case, change, field, message):
    report = run(repo, mutate(change))
    assert not report.valid
    matching = [p for p in report.problems if p.field == field and message in p.message]
    assert matching, f"expected {field!r}: ...{message}...; got " + "; ".join(
        p.format() for p in report.problems)
    assert all(p.line >= 1 and p.column >= 1 for p in report.problems)


@pytest.mark.parametrize("arg", sorted(FORBIDDEN_ARGS))
def test_every_dangerous_argument_is_refused_with_its_reason(repo, arg):
    doc = valid_submission()
    doc["engine"]["args"][arg] = True
    report = run(repo, doc)
    (problem,) = [p for p in report.problems if p.field == f"engine.args.{arg}"]
    assert FORBIDDEN_ARGS[arg] in problem.message
    assert "Remove it" in problem.message


@pytest.mark.parametrize("field", sorted(FORBIDDEN_SPECULATIVE_FIELDS))
def test_verification_skipping_speculative_fields_are_refused(repo, field):
    doc = valid_submission()
    spec(doc)[field] = "synthetic"
    report = run(repo, doc)
    (problem,) = [p for p in report.problems
                  if p.field == f"engine.args.speculative_config.{field}"]
    assert FORBIDDEN_SPECULATIVE_FIELDS[field] in problem.message


def test_dangerous_argument_written_with_dashes_is_still_refused(repo):
    doc = valid_submission()
    doc["engine"]["args"]["trust-remote-code"] = True
    report = run(repo, doc)
    assert any("runs code from the model repository" in p.message for p in report.problems)


def test_ngram_speculation_without_drafter_passes(repo):
    doc = valid_submission()
    doc["engine"]["args"]["speculative_config"] = {
        "method": "ngram", "num_speculative_tokens": 4, "prompt_lookup_min": 2,
        "prompt_lookup_max": 4}
    assert run(repo, doc).valid


def test_existing_parent_passes(repo):
    doc = valid_submission()
    doc["parent"] = "alice/base"
    assert run(repo, doc).valid


def test_parent_cycle_is_refused(repo):
    # alice/base is edited to name bob/int4-mtp as parent, while bob/int4-mtp descends from it.
    index = SubmissionIndex({"alice/base": None, "bob/int4-mtp": "alice/base"})
    doc = {"name": "base", "description": "bf16", "parent": "bob/int4-mtp",
           "model": {"id": "a/b", "revision": VALID_REVISION},
           "engine": {"name": "vllm", "version": "0.32.0"}}
    report = run(repo, doc, path="submissions/alice/base.yaml", index=index)
    assert any(p.field == "parent" and "cycle" in p.message for p in report.problems)


def test_parent_typo_gets_a_suggestion(repo):
    doc = valid_submission()
    doc["parent"] = "alice/bsae"
    report = run(repo, doc)
    assert any("Did you mean 'alice/base'" in p.message for p in report.problems)


def test_all_problems_are_reported_at_once(repo):
    doc = valid_submission()
    doc["name"] = "BAD"
    doc["model"]["revision"] = "main"
    doc["engine"]["args"]["trust_remote_code"] = True
    doc["claimed"]["tps"] = -1
    report = run(repo, doc)
    fields = {p.field for p in report.problems}
    assert {"name", "model.revision", "engine.args.trust_remote_code", "claimed.tps"} <= fields
    lines = [p.line for p in report.problems]
    assert lines == sorted(lines), "problems are listed in file order"


def test_positions_point_at_the_offending_value(repo):
    text = (
        "name: int4-mtp\n"
        "description: ok\n"
        "model:\n"
        "  id: google/gemma-4-E4B-it\n"
        "  revision: main\n"
        "engine:\n"
        "  name: vllm\n"
        "  version: \"0.32.0\"\n"
        "  args:\n"
        "    max_model_len: 4096\n"
        "    trust_remote_code: true\n"
    ).encode()
    report = run(repo, text)
    by_field = {p.field: p for p in report.problems}
    assert (by_field["model.revision"].line, by_field["model.revision"].column) == (5, 13)
    assert (by_field["engine.args.trust_remote_code"].line,
            by_field["engine.args.trust_remote_code"].column) == (11, 5)
    assert by_field["model.revision"].format().startswith(f"{PATH}:5:13: model.revision: ")


def test_top_level_must_be_a_mapping(repo):
    for text in (b"- a\n- b\n", b"just a string\n", b"42\n"):
        report = run(repo, text)
        assert any("must be a mapping" in p.message for p in report.problems)


# -- where the file is ----------------------------------------------------------------------------

def test_file_must_sit_in_an_author_folder(repo):
    report = run(repo, valid_submission(), path="submissions/int4-mtp.yaml")
    assert any("submissions/<your-github-login>/<name>.yaml" in p.message
               for p in report.problems)


def test_file_too_deep_is_refused(repo):
    report = run(repo, valid_submission(), path="submissions/bob/extra/int4-mtp.yaml")
    assert any("one folder per author" in p.message for p in report.problems)


def test_yml_extension_is_refused(repo):
    report = run(repo, valid_submission(), path="submissions/bob/int4-mtp.yml")
    assert any("must end in .yaml" in p.message for p in report.problems)


def test_author_folder_must_be_a_login(repo):
    report = run(repo, valid_submission(), path="submissions/bad_login!/int4-mtp.yaml")
    assert any("is not a GitHub login" in p.message for p in report.problems)


def test_file_outside_submissions_is_checked_for_content_only(repo):
    report = run(repo, valid_submission("anything"), path="drafts/anything.yaml")
    assert report.valid


# -- local models ---------------------------------------------------------------------------------

def test_local_model_paths_only_where_the_challenge_allows(demo_challenge):
    doc = {"name": "plain", "description": "demo",
           "model": {"id": "./tiny-gemma4", "revision": VALID_REVISION},
           "engine": {"name": "vllm", "version": "0.32.0"}}
    ok = validate_file(dump(doc), path_in_repo="submissions/someone/plain.yaml",
                       challenge=demo_challenge)
    assert ok.valid, [p.format() for p in ok.problems]
    doc["model"]["id"] = "./../../etc"
    bad = validate_file(dump(doc), path_in_repo="submissions/someone/plain.yaml",
                        challenge=demo_challenge)
    assert any("without '..'" in p.message for p in bad.problems)


def test_drafter_revision_rules_apply_to_local_drafters(demo_challenge):
    doc = {"name": "draft", "description": "demo",
           "model": {"id": "./tiny-gemma4", "revision": VALID_REVISION},
           "engine": {"name": "vllm", "version": "0.32.0", "args": {"speculative_config": {
               "method": "draft_model", "model": "./tiny-gemma4", "revision": "HEAD",
               "num_speculative_tokens": 3}}}}
    report = validate_file(dump(doc), path_in_repo="submissions/someone/draft.yaml",
                           challenge=demo_challenge)
    assert any(p.field == "engine.args.speculative_config.revision" for p in report.problems)
    spec_doc = copy.deepcopy(doc)
    spec_doc["engine"]["args"]["speculative_config"]["revision"] = DRAFTER_REVISION
    assert validate_file(dump(spec_doc), path_in_repo="submissions/someone/draft.yaml",
                         challenge=demo_challenge).valid
