"""`arena references`: an organizer's tool to make a challenge's quality bar.

1. With a reference model: serve it exactly as a submission is served, and let it write a
   continuation for every prompt (sampled at a fixed seed per prompt, up to --max-tokens, ending
   at its end-of-turn). The prompt set is written again with these references.
2. Serve the base model and measure its teacher-forced perplexity on the references, through
   the same code path `arena bench` uses. That figure is the reference: for the public set it
   goes into challenge.yaml (ppl.reference); for a private set it is written beside the set as
   reference-ppl.json, which `arena bench` then uses to judge the private perplexity.
"""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

from arena import exitcodes
from arena.challenge import Challenge, ModelRef
from arena.result import write_json_atomic
from runner.bench import ServeFn, ServeSpec, serve_with_vllm
from runner.client import EngineClient, EngineRejected
from runner.encoding import ChatEncoder
from runner.fingerprint import harness_version
from runner.measure import teacher_forced_ppl
from runner.models import WEIGHT_FILES, ModelError, PreparedModel, prepare_model
from runner.prompts import (
    CALIBRATION_FILE,
    CALIBRATION_FORMAT,
    PromptSetError,
    load_prompt_file,
    set_sha256,
    write_prompt_file,
)
from runner.server import Server, ServerError


class ReferencesError(Exception):
    def __init__(self, message: str, exit_code: int = exitcodes.INFRA):
        self.exit_code = exit_code
        super().__init__(message)


def run_references(challenge: Challenge, prompts: Path, out: Path, *, model_id: str | None,
                   revision: str | None, max_tokens: int, temperature: float,
                   calibration: Path | None, model_cache: Path | None,
                   progress: Callable[[str], None],
                   serve: ServeFn = serve_with_vllm) -> dict[str, Any]:
    try:
        pset = load_prompt_file(prompts, name="references", require_reference=model_id is None)
    except PromptSetError as exc:
        raise ReferencesError("the prompt set cannot be used:\n  " + "\n  ".join(exc.problems),
                              exitcodes.USAGE) from None
    ch = challenge
    try:
        base = prepare_model(ch.base_model, challenge=ch, cache_dir=model_cache,
                             files=WEIGHT_FILES, what="base model")
        ref_model = None
        if model_id is not None:
            assert revision is not None
            ref_model = prepare_model(ModelRef(model_id, revision), challenge=ch,
                                      cache_dir=model_cache, what="reference model")
    except ModelError as exc:
        raise ReferencesError(exc.message, exitcodes.INVALID if exc.verdict == "invalid"
                              else exitcodes.INFRA) from None
    encoder = ChatEncoder(base.path)

    with tempfile.TemporaryDirectory(prefix="arena-references-") as work:
        servers: dict[Path, Server] = {}

        def server_for(model: PreparedModel) -> Server:
            if model.path not in servers:
                spec = ServeSpec(model.path, "vllm", _installed_or_any(),
                                 dict(ch.engine_defaults),
                                 ch.referee_engine_env, ch.seed,
                                 Path(work) / str(len(servers)), ch.startup_timeout_s, (),
                                 progress)
                servers[model.path] = serve(spec)
            return servers[model.path]

        try:
            if ref_model is not None:
                client = EngineClient(server_for(ref_model), request_timeout=ch.request_timeout_s)
                rows = []
                for i, p in enumerate(pset.prompts):
                    client.context = f"reference for prompt {p.id!r}"
                    g = client.generate(encoder.prompt_ids(p), max_tokens,
                                        temperature=temperature, ignore_eos=False,
                                        seed=ch.seed + i)
                    text = encoder.decode(g.token_ids).strip()
                    if not text:
                        raise ReferencesError(f"the reference model wrote an empty continuation "
                                              f"for prompt {p.id!r}; raise --max-tokens or "
                                              "change the prompt.", exitcodes.INVALID)
                    rows.append(replace(p, reference=text))
                    progress(f"reference {i + 1}/{len(pset)} ({p.id}): {len(g.token_ids)} tokens")
                client.close()
                pset = replace(pset, prompts=tuple(rows), sha256=set_sha256(rows))
            write_prompt_file(out, pset.prompts)
            # Re-read what was written: the calibration names exactly the file's prompts.
            written = load_prompt_file(out, name="references")
            client = EngineClient(server_for(base), request_timeout=ch.request_timeout_s)
            engine_version = client.version()
            ppl = teacher_forced_ppl(client, encoder.encode_set(written), progress)
            client.close()
        except (ServerError, EngineRejected) as exc:
            tail = getattr(exc, "log_tail", None)
            raise ReferencesError(str(exc) + (f"\nengine log (tail):\n{tail}" if tail else ""),
                                  exitcodes.INFRA) from None
        finally:
            for s in servers.values():
                s.stop()

    cal_path = calibration or out.parent / CALIBRATION_FILE
    doc = {
        "format": CALIBRATION_FORMAT,
        "ppl": ppl.value,
        "tokens": ppl.tokens,
        "prompts": ppl.prompts,
        "prompt_set_sha256": written.sha256,
        "base_model": {"id": ch.base_model.id, "revision": ch.base_model.revision},
        "reference_model": ({"id": model_id, "revision": revision} if model_id else None),
        "max_tokens": max_tokens if model_id else None,
        "temperature": temperature if model_id else None,
        "engine_version": engine_version,
        "harness_version": harness_version(),
    }
    write_json_atomic(cal_path, doc)
    return {**doc, "format": "arena.references/1", "calibration": str(cal_path),
            "out": str(out)}


def _installed_or_any() -> str:
    from runner.fingerprint import installed_engine_version

    return installed_engine_version() or "unknown"
