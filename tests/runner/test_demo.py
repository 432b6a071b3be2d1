"""`arena demo`, the README's first command, end to end: three real `arena bench` runs on vLLM
(CPU build), every engine sandboxed, all judged by one shared referee, one of them serving an
engine patch; results stored and ranked, private prompts kept private."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from arena.result import validate_result
from arena.store import ResultsStore
from runner.prompts import load_private_dir
from tests.conftest import REPO


# A guard against a hang, not a timing check: the demo takes about 5 minutes on this 2-core
# machine, three times that on a slow day (the README has both figures).
@pytest.mark.vllm
@pytest.mark.timeout(2400)
def test_demo_benches_the_samples_and_ranks_them(tiny_model, demo_challenge,
                                                 tmp_path: Path) -> None:
    work = tmp_path / "demo"
    proc = subprocess.run([sys.executable, "-m", "arena", "demo", "--dir", str(work)],
                          capture_output=True, text=True, cwd=REPO, timeout=2380)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout

    # Each sample went through the real `arena bench` command, plain (the baseline) first.
    assert out.index("arena bench demo/submissions/arena-maintainers/plain.yaml") < \
        out.index("arena bench demo/submissions/arena-maintainers/ngram-k4.yaml")
    assert proc.stderr.count("start-up: the submission's engine is ready") == 3
    # ngram-k4 was benched paired with its parent (`--vs`), in one run: plain's engine beside
    # it, pass by pass; the two others alone.
    assert "ngram-k4.yaml --challenge demo/challenge.yaml" in out
    assert "--vs demo/submissions/arena-maintainers/plain.yaml" in out
    assert proc.stderr.count("start-up: the other engine (arena-maintainers/plain) is ready") \
        == 1
    assert proc.stderr.count("timed pass 3/3 (private)") == 2
    assert proc.stderr.count("timed pair 3/3") == 1
    # One referee, started once by the demo, judged all three runs.
    assert out.count("starting the referee") == 1
    assert proc.stderr.count("referee: the running referee given by --referee-socket") == 3

    store = ResultsStore(work / "store")
    results = {r.doc["submission"]["id"]: validate_result(r.doc) for r in store.results()}
    assert set(results) == {"arena-maintainers/plain", "arena-maintainers/ngram-k4",
                            "arena-maintainers/attention-log"}
    private = load_private_dir(work / "private")
    n_public = 24
    for sid, doc in results.items():
        assert doc["verdict"] == "verified", (sid, doc["reasons"])
        assert set(doc["tps"]) == {"public", "private"}
        assert doc["fingerprint"]["prompt_sets"]["private"] == private.sha256
        assert doc["tps"]["private"]["prompts"] == len(private)
        length = next(c for c in doc["checks"] if c["name"] == "output_length")["figures"]
        timed = demo_challenge.repeats * (n_public + len(private))
        assert length["requests"] == demo_challenge.warmup_requests + timed
        assert length["shortest"] == length["longest"] == demo_challenge.output_tokens
        for s in ("public", "private"):
            for p in doc["tps"][s]["passes"]:
                assert p["tokens"] == doc["tps"][s]["prompts"] * demo_challenge.output_tokens
        stored = json.loads((work / "runs" / sid.split("/")[1] / "result.json").read_text())
        assert stored == doc
    # Every integrity check ran and passed on the three honest samples, each judged by the
    # referee (stock vLLM, speculative decoding off, no patch).
    from runner.integrity import CHECK_ORDER

    for sid, doc in results.items():
        assert {c["name"]: c["status"] for c in doc["checks"]} == \
            dict.fromkeys(CHECK_ORDER, "pass"), (sid, doc["checks"])
        fidelity = next(c for c in doc["checks"] if c["name"] == "greedy_fidelity")["figures"]
        assert fidelity["violations"] == 0 and fidelity["outputs"] > 0
        assert fidelity["reference"].startswith("the referee")
        assert doc["timings"]["referee_s"] > 0 and doc["stage"] == "verdict"
        assert doc["fingerprint"]["sandbox"]["kind"] == "bubblewrap"
        assert "log_tail" not in doc
    assert proc.stderr.count("no process left") >= 3

    # The patched sample served its patch from a copy in its sandbox; the referee did not.
    patched = results["arena-maintainers/attention-log"]
    assert patched["fingerprint"]["patch"]["files"] == 1
    assert results["arena-maintainers/plain"]["fingerprint"]["patch"] is None
    kept = work / "engine-logs" / "attention-log" / "submission.log"
    assert "attention backend CPUAttentionBackend for head size" in kept.read_text()
    assert "attention backend" not in (work / "referee" / "engine.log").read_text()

    spec = results["arena-maintainers/ngram-k4"]["speculative"]
    assert spec["method"] == "ngram" and spec["num_speculative_tokens"] == 4
    assert spec["drafts"] > 0 and spec["draft_tokens"] >= spec["drafts"]
    assert 0 <= spec["acceptance_rate"] <= 1 and spec["mean_accepted_length"] >= 1
    assert results["arena-maintainers/plain"]["speculative"] is None

    # The paired run's result: the difference and both intervals from its 3 pairs; the
    # candidate's own figures are its timed passes, as in any run.
    paired = results["arena-maintainers/ngram-k4"]["paired"]
    assert paired["against"]["id"] == "arena-maintainers/plain"
    assert paired["against"]["config_sha256"] == \
        results["arena-maintainers/plain"]["submission"]["config_sha256"]
    assert paired["pairs"] == demo_challenge.repeats and paired["set"] == "private"
    ci, welch = paired["tps"]["ci"], paired["tps"]["unpaired_ci"]
    assert ci[0] <= paired["tps"]["diff"] <= ci[1] and welch[0] <= paired["tps"]["diff"] <= welch[1]
    assert all("paired" not in d for s, d in results.items() if s != "arena-maintainers/ngram-k4")

    # The ranking printed is the leaderboard's, over what was stored.
    ranking = out[out.index("== 5/6 ranking"):out.index("== 6/6 site")]
    assert "arena-maintainers/plain" in ranking and "arena-maintainers/ngram-k4" in ranking
    # ngram-k4 against its parent, from the pairs: the difference, its interval, and the
    # interval the same passes would give as two separate runs (leaderboard.compare's words).
    [line] = [ln for ln in ranking.splitlines() if "arena-maintainers/ngram-k4 vs parent" in ln]
    assert "(paired, 3 pairs in run" in line and "from the pairs; as two separate runs" in line
    assert f"{ci[0]:+.1f} to {ci[1]:+.1f}" in line and f"{welch[0]:+.1f} to {welch[1]:+.1f}" in line
    assert "where things are:" in out and str(work / "store") in out

    # The site was built from the same store: both submissions ranked, one page each.
    board = json.loads((work / "site" / "api" / "leaderboard.json").read_text())
    ranked_ids = {e["submission"] for e in board["entries"]}
    assert ranked_ids == {"arena-maintainers/plain", "arena-maintainers/ngram-k4",
                          "arena-maintainers/attention-log"}
    home = (work / "site" / "index.html").read_text()
    assert "ngram-k4" in home and "plain" in home
    # ngram-k4's page says its comparison with plain is paired.
    page = (work / "site" / "submissions" / "arena-maintainers" / "ngram-k4.html").read_text()
    assert "paired, 3 pairs" in page and "as two separate runs" in page

    # The job log (each run's progress, public while the run goes) carries stages, counts and
    # times, never a figure: no tokens/s, no perplexity, no check figures before the verdict.
    import re

    for line in proc.stderr.splitlines():
        assert not re.search(r"tokens/s|perplexity [\d,.]+|\d\.\d+x|acceptance rate", line), line
    def shows(figure: str) -> bool:
        # The figure as a number of its own: not inside a longer one ("170.4s" holds 70.4) and
        # not a time ("[  70.4s]", "(70.4 s)"), which the log prints at every step.
        return re.search(rf"(?<![\d.,]){re.escape(figure)}(?!\d|\s?s\b)", proc.stderr) is not None

    for doc in results.values():
        ppl = doc["ppl"]["sets"]["public"]["value"]
        assert not shows(f"{ppl:.2f}") and not shows(f"{ppl:,.2f}")
        assert not shows(f"{doc['tps']['private']['median']:.1f}")

    # The private prompts never left: not in the output, not in a result.
    published = proc.stdout + proc.stderr + "".join(
        p.read_text() for p in work.glob("**/*.json"))
    for p in private.prompts:
        assert p.messages[0][1] not in published
        assert (p.reference or "") not in published
