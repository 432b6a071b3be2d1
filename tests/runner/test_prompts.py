"""Prompt sets: loading, the errors an organizer sees, digests, the private folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runner.prompts import (
    CALIBRATION_FILE,
    PromptSetError,
    load_private_dir,
    load_prompt_file,
    warmup_prompts,
)

REPO = Path(__file__).resolve().parents[2]


def row(pid: str = "p1", content: str = "Say hello.", reference: str | None = "Hello!",
        **extra: object) -> dict:
    r = {"id": pid, "category": "writing", "messages": [{"role": "user", "content": content}]}
    if reference is not None:
        r["reference"] = reference
    r.update(extra)
    return r


def write(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def test_the_public_sets_in_the_repository_load() -> None:
    public = load_prompt_file(REPO / "prompts" / "public.jsonl")
    demo = load_prompt_file(REPO / "demo" / "prompts" / "public.jsonl")
    assert len(public) >= 32 and len(demo) >= 16
    assert all(p.reference for p in public.prompts + demo.prompts)
    assert {"maths", "code", "reasoning", "writing"} <= set(public.categories())


def test_every_problem_is_reported_at_its_line(tmp_path: Path) -> None:
    f = write(tmp_path / "set.jsonl", [
        row("a"),
        "{not json",
        row("b", reference=None),
        row("a"),
        row("c", messages=[{"role": "user", "content": "x"}, {"role": "assistant",
                                                              "content": "y"}]),
        row("d", refrence="typo"),
        {"id": "e", "messages": [{"role": "robot", "content": "hi"}], "reference": "x"},
    ])
    with pytest.raises(PromptSetError) as e:
        load_prompt_file(f)
    text = "\n".join(e.value.problems)
    assert f"{f}:2: is not valid JSON" in text
    assert f"{f}:3: the field 'reference' is missing" in text
    assert f"{f}:4: the id 'a' is already used at {f}:1" in text
    assert f"{f}:5: the last message must come from the user" in text
    assert f"{f}:6: unknown field 'refrence'" in text
    assert f"{f}:7: messages[0] must be an object with exactly a role" in text


def test_references_are_optional_when_they_are_to_be_written(tmp_path: Path) -> None:
    s = load_prompt_file(write(tmp_path / "s.jsonl", [row(reference=None)]),
                         require_reference=False)
    assert s.prompts[0].reference is None


def test_digest_names_the_prompts_not_the_file_layout(tmp_path: Path) -> None:
    a = write(tmp_path / "a.jsonl", [row("x"), row("y", "Say bye.")])
    b = tmp_path / "b.jsonl"
    b.write_text("\n".join(json.dumps(r, indent=None, separators=(", ", ": "))
                           for r in [row("x"), row("y", "Say bye.")]) + "\n\n")
    c = write(tmp_path / "c.jsonl", [row("x"), row("y", "Say bye!")])
    assert load_prompt_file(a).sha256 == load_prompt_file(b).sha256
    assert load_prompt_file(a).sha256 != load_prompt_file(c).sha256


def test_private_folder_reads_every_jsonl_in_name_order(tmp_path: Path) -> None:
    write(tmp_path / "2.jsonl", [row("late")])
    write(tmp_path / "1.jsonl", [row("early")])
    (tmp_path / "notes.txt").write_text("ignored")
    s = load_private_dir(tmp_path)
    assert [p.id for p in s.prompts] == ["early", "late"]
    assert s.private and s.name == "private" and s.reference_ppl is None
    assert s.label(0) == "private prompt #1"


def test_private_problems_never_quote_the_prompt(tmp_path: Path) -> None:
    secret = "the secret private question about zebras"
    write(tmp_path / "p.jsonl", [row("secret-id-42", secret), row("secret-id-42", secret),
                                 row("other", secret, reference=None)])
    with pytest.raises(PromptSetError) as e:
        load_private_dir(tmp_path)
    text = "\n".join(e.value.problems)
    assert "p.jsonl:2: this id is already used at p.jsonl:1" in text
    assert "p.jsonl:3: the field 'reference' is missing" in text
    assert "zebras" not in text and "secret-id-42" not in text and str(tmp_path) not in text


def test_missing_or_empty_private_folder_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(PromptSetError, match="does not exist"):
        load_private_dir(tmp_path / "nope")
    with pytest.raises(PromptSetError, match="holds no \\*.jsonl files"):
        load_private_dir(tmp_path)


def test_calibration_beside_a_private_set(tmp_path: Path) -> None:
    write(tmp_path / "p.jsonl", [row("a")])
    digest = load_private_dir(tmp_path).sha256
    (tmp_path / CALIBRATION_FILE).write_text(json.dumps(
        {"format": "arena.reference-ppl/1", "ppl": 2.5, "prompt_set_sha256": digest}))
    assert load_private_dir(tmp_path).reference_ppl == 2.5
    write(tmp_path / "p.jsonl", [row("a", "Another question.")])
    with pytest.raises(PromptSetError, match="calibrated on other prompts"):
        load_private_dir(tmp_path)


def test_warmup_prompts_are_never_from_a_timed_set() -> None:
    warm = warmup_prompts(10)
    assert len({p.messages for p in warm}) == 10
    timed = load_prompt_file(REPO / "prompts" / "public.jsonl").prompts
    assert not {p.messages for p in warm} & {p.messages for p in timed}
