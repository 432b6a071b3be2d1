"""Fixtures for the leaderboard tests: schema-valid results made by hand, real verdict records
written through the results store, and whole challenge folders for site builds."""

from __future__ import annotations

import datetime as dt
import zlib
from pathlib import Path
from typing import Any, Callable

import pytest

from arena.store import ResultsStore
from tests.support import sample

UTC = dt.timezone.utc


def at(day: int, hour: int = 10, minute: int = 0) -> dt.datetime:
    """A time in November 2026: tests read `at(3)` as 'day three'."""
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=UTC)


def own_config(sid: str) -> dict[str, Any]:
    """A configuration no other submission id has (in practice)."""
    return sample.config(args={"max_model_len": 1024 + zlib.crc32(sid.encode()) % 100_000})


@pytest.fixture
def run() -> Callable[..., dict[str, Any]]:
    """run("alice/x", 200, day=3) -> a verified result whose private median is 200 TPS, with a
    zero-width confidence interval unless `spread` is given. Each submission has its own
    configuration unless `cfg` is given (runs of one configuration are repeated measurements
    of one thing: the tie rule pools their spread)."""

    def make(sid: str, tps: float | None = 200.0, *, day: int = 1, hour: int = 10,
             spread: float = 0.0, public: float | None = None, only_public: bool = False,
             **kw: Any) -> dict[str, Any]:
        kw.setdefault("cfg", own_config(sid))
        if tps is None:
            kw.setdefault("private", None)
            kw.setdefault("public", None)
        elif only_public:
            kw.setdefault("private", None)
            kw.setdefault("public", (tps - spread, tps, tps + spread))
        else:
            kw.setdefault("private", (tps - spread, tps, tps + spread))
            pub = public if public is not None else tps
            kw.setdefault("public", (pub, pub, pub))
        return sample.make_result(sid, started_at=at(day, hour), **kw)

    return make


@pytest.fixture
def store(tmp_path: Path) -> ResultsStore:
    return ResultsStore(tmp_path / "store")


@pytest.fixture
def verdict(store: ResultsStore) -> Callable[..., dict[str, Any]]:
    """verdict("alice/x", "invalidate", day=4, run_id=...) -> a real record from the store."""

    def make(submission: str, action: str, *, day: int = 20, hour: int = 10,
             run_id: str | None = None, reason: str = "maintainer decision",
             by: str = "arena-maintainers") -> dict[str, Any]:
        return store.append_verdict(submission=submission, action=action, reason=reason, by=by,
                                    run_id=run_id, at=at(day, hour))

    return make


# A payload that does something visible if any part of it runs: it sets window.__pwned, opens a
# dialog, or navigates away. Every untrusted field of the hostile challenge carries it.
HOSTILE = ('<script>window.__pwned="script";alert("script")</script>'
           '<img src="x" onerror="window.__pwned=\'img\';alert(\'img\')">'
           '<a href="javascript:window.__pwned=\'link\'" id="evil-link">click</a>'
           '<svg onload="window.__pwned=\'svg\'"></svg>'
           '"><iframe src="javascript:window.top.__pwned=\'iframe\'"></iframe>'
           "' onmouseover='window.__pwned=1' x='"
           '</textarea></pre></code>'
           '<meta http-equiv="refresh" content="0;url=https://evil.invalid/">')
BIDI = "price \u202etxt.exe\u202c \x1b[31mred\x1b[0m"


def make_hostile_challenge(root: Path) -> tuple[Path, Path]:
    """A challenge whose every untrusted field is hostile: descriptions, YAML comments, run
    reasons, check messages and figures, fingerprints, log tails, configurations of runs
    whose file is gone, maintainers' reasons, a javascript: workflow-run URL.
    Returns (challenge file, store root)."""
    path = sample.challenge_folder(root)
    store = ResultsStore(root / "store")
    w = lambda login, name, **kw: sample.write_submission(root, login, name, **kw)  # noqa: E731
    w("arena-maintainers", "bf16-baseline", description="The reference point.",
      tags=["baseline"], args={"dtype": "bfloat16"})
    w("mallory", "xss-desc", description="Faster. " + HOSTILE, parent="arena-maintainers/"
      "bf16-baseline", tags=["quantization"], comment=HOSTILE,
      args={"quantization": "fp8", "dtype": "bfloat16"})
    w("mallory", "xss-invalid", description=HOSTILE, parent="mallory/xss-desc")
    w("mallory", "xss-verdict", description="looks fine", parent="mallory/xss-desc")
    w("mallory", "waiting", description=HOSTILE, parent="mallory/xss-invalid")
    store.append_result(sample.make_result("arena-maintainers/bf16-baseline",
                                           started_at=at(1), private=(100.0, 101.0, 102.0)))
    store.append_result(sample.make_result(
        "mallory/xss-desc", started_at=at(2), private=(150.0, 151.0, 152.0),
        accelerator=HOSTILE[:200], speculative={"method": HOSTILE[:200], "acceptance_rate": 0.5},
        checks=[{"name": "greedy_fidelity", "status": "pass", "message": HOSTILE,
                 "figures": {HOSTILE[:100]: HOSTILE[:400], "list": [HOSTILE[:100], 1, None]}}],
        provenance={"pr": 7, "head_sha": "b" * 40, "run_url": "javascript:window.__pwned='run'",
                    "requested_by": "mallory"}))
    store.append_result(sample.make_result(
        "mallory/xss-invalid", started_at=at(3), verdict="invalid",
        reasons=[("greedy_fidelity", HOSTILE), ("public_private_gap", BIDI)],
        checks=[{"name": "greedy_fidelity", "status": "fail", "message": HOSTILE + BIDI,
                 "figures": {"first_divergence": BIDI}}]))
    store.append_result(sample.make_result(
        "mallory/xss-invalid", started_at=at(4), verdict="error", private=None, public=None,
        ppl=None, reasons=[("engine", "crashed: " + HOSTILE)], log_tail=HOSTILE * 3 + BIDI))
    verdict_run = sample.make_result("mallory/xss-verdict", started_at=at(5),
                                     private=(400.0, 401.0, 402.0))
    store.append_result(verdict_run)
    store.append_verdict(submission="mallory/xss-verdict", run_id=verdict_run["run_id"],
                         action="invalidate", reason=HOSTILE, by="arena-maintainers",
                         at=at(6))
    store.append_result(sample.make_result(
        "eve/file-gone", started_at=at(7), private=(120.0, 121.0, 122.0),
        cfg={"model": {"id": HOSTILE, "revision": "x"}, "engine": {
            "name": "vllm", "version": "0.32.0", "args": {HOSTILE[:60]: HOSTILE}}}))
    # A run whose recorded configuration has odd types (its file is gone too).
    store.append_result(sample.make_result(
        "eve/odd-config", started_at=at(8), verdict="error", private=None, public=None,
        ppl=None, reasons=[("engine", "x")],
        cfg={"model": {"id": 7, "revision": 12345678901234567890}, "engine": {
            "name": "vllm", "version": "0.32.0", "args": {"nested": {"deep": [1, {"x": None}]}}}}))
    return path, root / "store"


def plain_and_child(tmp_path: Path, candidate: Callable[[str, dict], dict]
                    ) -> tuple[Path, Path, dict, dict]:
    """A challenge folder with arena-maintainers/plain and its child alice/ngram-k4 (a longer
    max_model_len), plain's run, and `candidate(hardware, plain's run)` as the child's run:
    (challenge.yaml, the store, plain's run, the child's)."""
    from arena.challenge import load_challenge

    root = tmp_path / "ch"
    ch = sample.challenge_folder(root)
    store = ResultsStore(root / "store")
    sample.write_submission(root, "arena-maintainers", "plain", description="plain")
    sample.write_submission(root, "alice", "ngram-k4", description="ngram k=4",
                            parent="arena-maintainers/plain", args={"max_model_len": 4097})
    hw = load_challenge(ch).hardware
    plain = sample.make_result("arena-maintainers/plain", started_at=at(1), hardware=hw,
                               private=(200.0, 201.0, 202.0), ppl=2.31)
    cand = candidate(hw, plain)
    store.append_result(plain)
    store.append_result(cand)
    return ch, root / "store", plain, cand
