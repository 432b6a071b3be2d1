"""Shared test helpers: hostile text and its check, and result documents."""

from __future__ import annotations

import copy
import re
from typing import Any

from markdown_it import MarkdownIt

from arena.result import validate_result

HOSTILE = ('<img src=x onerror=alert(1)> @everyone [click](http://evil.example) '
           '**bold** `tick` | pipe @evil-team/all <!-- x --> ![i](http://evil.example/i.png)')


def rendered(markdown: str) -> str:
    return MarkdownIt("commonmark").enable("table").render(markdown)


def assert_neutralized(markdown: str) -> None:
    """Hostile text must render as literal text: outside code there is no element, link, image
    or @mention that came from it."""
    html = rendered(markdown)
    outside_code = re.sub(r"<code[^>]*>.*?</code>", "", html, flags=re.S)
    for bad in ("<img", "<script", "onerror", 'href="http://evil', "@everyone", "@evil-team",
                "<strong>bold"):
        assert bad not in outside_code, (bad, outside_code)


def make_result(sub_id: str, *, path: str, commit: str | None, config_sha256: str,
                verdict: str = "verified", tps: float = 120.0, run_id: str = "20261122T101500Z-1a2b3c4d",
                hardware: str = "a10g", challenge: str = "fast-gemma",
                reasons: list[dict[str, str]] | None = None) -> dict[str, Any]:
    tps_set = {"prompts": 8, "output_tokens": 512,
               "passes": [{"tokens": 4096, "seconds": 4096 / tps, "tps": tps}] * 3,
               "median": tps, "mean": tps, "stdev": 0.8, "ci95": [tps - 1.5, tps + 1.5]}
    doc = {
        "schema_version": 1, "run_id": run_id,
        "submission": {"id": sub_id, "path": path, "commit": commit,
                       "config": {"model": {}, "engine": {}}, "config_sha256": config_sha256},
        "challenge": {"id": challenge, "hardware": hardware},
        "started_at": "2026-11-22T10:15:00Z", "finished_at": "2026-11-22T10:45:00Z",
        "verdict": verdict, "reasons": reasons or [],
        "tps": {"public": copy.deepcopy(tps_set), "private": copy.deepcopy(tps_set)},
        "ppl": {"reference": 2.3, "cap": 2.415,
                "sets": {"public": {"value": 2.31, "tokens": 9000, "prompts": 8},
                         "private": {"value": 2.33, "tokens": 9000, "prompts": 8}}},
        "checks": [{"name": "greedy-fidelity", "status": "pass", "message": "16/16 identical",
                    "figures": {"prompts": 16}}],
        "speculative": None,
        "timings": {"total_s": 1800.0},
        "fingerprint": {"hardware": hardware, "accelerator": "NVIDIA A10G", "engine": "vllm",
                        "engine_version": "0.32.0", "harness_version": "0.1.0",
                        "prompt_sets": {"public": "0" * 64, "private": "1" * 64},
                        "submission_sha256": config_sha256},
    }
    if verdict == "error":
        doc["tps"], doc["ppl"]["sets"] = {}, {}
    return validate_result(doc)
