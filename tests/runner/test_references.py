"""`arena references`: reference continuations from a reference model, and the calibration
that `arena bench` then judges a private set against."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from arena.result import validate_result
from runner.bench import BenchPlan, run_bench
from runner.prompts import CALIBRATION_FILE, load_private_dir, load_prompt_file
from runner.references import run_references
from tests.conftest import REPO
from tests.runner.test_bench import external, submission


@pytest.mark.vllm
def test_references_calibrate_a_private_set_that_bench_then_judges(
        tiny_server, tiny_model, demo_challenge, tmp_path: Path) -> None:
    src = tmp_path / "questions.jsonl"
    src.write_text("".join(json.dumps({"id": f"q{i}", "category": "maths", "messages": [
        {"role": "user", "content": f"What is {i} plus {i}?"}]}) + "\n" for i in range(1, 4)))
    out = tmp_path / "private" / "prompts.jsonl"
    lines: list[str] = []
    summary = run_references(demo_challenge, src, out, model_id="./tiny-gemma4",
                             revision=tiny_model.digest, max_tokens=24, temperature=1.0,
                             calibration=None, model_cache=None, progress=lines.append,
                             serve=external(tiny_server))
    written = load_prompt_file(out, name="private")
    assert [p.id for p in written.prompts] == ["q1", "q2", "q3"]
    assert all(p.reference and p.reference.strip() for p in written.prompts)
    cal = json.loads((out.parent / CALIBRATION_FILE).read_text())
    assert cal["format"] == "arena.reference-ppl/1" and cal["prompts"] == 3
    assert cal["prompt_set_sha256"] == written.sha256 == summary["prompt_set_sha256"]
    assert cal["reference_model"] == {"id": "./tiny-gemma4", "revision": tiny_model.digest}
    assert any(line.startswith("perplexity (references)") for line in lines)

    # Seeded per prompt: the same model writes the same references again.
    again = tmp_path / "again.jsonl"
    run_references(demo_challenge, src, again, model_id="./tiny-gemma4",
                   revision=tiny_model.digest, max_tokens=24, temperature=1.0,
                   calibration=tmp_path / "again-ppl.json", model_cache=None,
                   progress=lambda _: None, serve=external(tiny_server))
    assert load_prompt_file(again).sha256 == written.sha256

    private = load_private_dir(out.parent)
    assert private.reference_ppl == pytest.approx(summary["ppl"])
    record = run_bench(BenchPlan(submission(demo_challenge), demo_challenge, [private]),
                       serve=external(tiny_server))
    doc = validate_result(record.result)
    check = next(c for c in doc["checks"] if c["name"] == "ppl_cap")
    assert check["status"] == "pass", check
    assert check["figures"]["private_reference"] == pytest.approx(summary["ppl"])
    # The same model through the same scoring path: the same perplexity.
    assert doc["ppl"]["sets"]["private"]["value"] == pytest.approx(summary["ppl"], rel=1e-6)
    assert list(doc["tps"]) == ["private"]


def test_references_command_line_usage_errors(tmp_path: Path) -> None:
    def refs(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "arena", "references", *args,
                               "--challenge", str(REPO / "demo" / "challenge.yaml")],
                              capture_output=True, text=True, cwd=REPO)

    p = refs(str(REPO / "demo" / "prompts" / "public.jsonl"), "--out", str(tmp_path / "o.jsonl"),
             "--model", "./tiny-gemma4")
    assert p.returncode == 2 and "--model and --revision together" in p.stderr
    no_refs = tmp_path / "q.jsonl"
    no_refs.write_text(json.dumps({"id": "a", "messages": [{"role": "user",
                                                            "content": "Hi"}]}) + "\n")
    p = refs(str(no_refs), "--out", str(tmp_path / "o.jsonl"))
    assert p.returncode == 2 and "the field 'reference' is missing" in p.stderr
    assert not (tmp_path / "o.jsonl").exists()
