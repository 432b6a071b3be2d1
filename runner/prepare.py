"""Phase 1, prepare: the checkpoint (and any drafter) on the runner, pinned and identified, and
the prompts as token IDs.

Nothing big is fetched before it is known to be worth fetching. For a Hub checkpoint: the Hub's
file metadata at the pinned commit (every file's size), then its config.json alone, which must
be the base model's (only the weights' storage may differ); then the size cap (the base
model's weight files times `models.max_size_factor`); only then the weights, held to the run's
deadline. A drafter the same way, its configuration checked against what its method needs,
capped at `models.drafter_size_factor`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Sequence

from arena.challenge import ModelRef
from runner import checks as C
from runner.context import Invalid, Run
from runner.encoding import ChatEncoder, EncodedSet
from runner.models import (
    TOKENIZER_FILES,
    WEIGHT_FILES,
    ModelError,
    PreparedModel,
    check_size,
    download_by,
    drafter_problems,
    fetch_config,
    folder_bytes,
    hub_files,
    identity_differences,
    is_local,
    prepare_model,
    read_config,
    weight_bytes,
)
from runner.prompts import PromptSet, warmup_prompts


def prepare(run: Run) -> None:
    sub, ch = run.plan.submission, run.plan.challenge
    tp = time.monotonic()
    cache = run.plan.model_cache
    if is_local(ch.base_model.id):
        base = prepare_model(ch.base_model, challenge=ch, cache_dir=cache,
                             files=TOKENIZER_FILES, what="base model")
    else:  # its configuration and tokenizer only, held to the run's deadline
        base = PreparedModel(ch.base_model, download_by(run.deadline, ch.base_model, cache,
                                                        TOKENIZER_FILES, "base model"), "hub")
    base_cfg = read_config(base.path)
    base_size = (folder_bytes(base.path) if is_local(ch.base_model.id)
                 else weight_bytes(hub_files(ch.base_model, "base model")))
    run.base_config, run.base_bytes = base_cfg, base_size
    run.model = checked_model(run, sub.model, base_cfg, base_size * ch.max_size_factor,
                              ch.max_size_factor)
    run.progress(f"model: {sub.model.id}@{sub.model.revision[:12]} ready ({run.model.source})")
    spec_config = sub.engine_args.get("speculative_config")
    if isinstance(spec_config, dict) and "model" in spec_config:
        ref = ModelRef(spec_config["model"], spec_config["revision"])
        run.drafter = checked_model(run, ref, base_cfg, base_size * ch.drafter_size_factor,
                                    ch.drafter_size_factor, what="drafter",
                                    method=str(spec_config.get("method", "")))
        run.progress(f"drafter: {spec_config['model']}@{spec_config['revision'][:12]} ready")
    if sub.patch is not None:
        run.overlay = overlay_for(run)
    run.encoded, run.warm_ids = encode_all(base.path, run.plan.sets, ch.warmup_requests)
    run.timings["prepare_s"] = time.monotonic() - tp


def overlay_for(run: Run):  # type: ignore[no-untyped-def]
    """The submission's engine patch on a per-run, read-only copy of the installed vLLM."""
    import hashlib

    from arena.patch import PatchError, parse_patch
    from runner.overlay import OverlayError, build_overlay

    sub = run.plan.submission
    text = run.plan.patch_text
    if text is None:
        raise ModelError("error", "engine_patch", f"the submission names the engine patch "
                                                  f"{sub.patch.path}, but the runner was not "
                                                  "given its file")
    if hashlib.sha256(text).hexdigest() != sub.patch.sha256:
        raise ModelError("error", "engine_patch", "the engine patch given to the runner is not "
                                                  "the one that was validated (its SHA-256 "
                                                  "differs)")
    try:
        parsed = parse_patch(text, path=sub.patch.path)
        overlay = build_overlay(text.decode("utf-8"), parsed, run.work / "engine-overlay")
    except PatchError as exc:
        raise Invalid("engine_patch", f"the engine patch {sub.patch.path} is not acceptable: "
                      + "; ".join(p.message for p in exc.problems[:3])) from None
    except OverlayError as exc:
        if exc.verdict == "invalid":
            raise Invalid("engine_patch", exc.message) from None
        raise ModelError("error", "engine_patch", exc.message) from None
    run.progress(f"engine patch: {len(parsed.files)} files applied to a read-only copy of the "
                 f"installed vLLM (patch {overlay.patch_sha256[:12]}, overlay "
                 f"{overlay.digest[:12]}); the referee serves the installed release")
    return overlay


def checked_model(run: Run, ref: ModelRef, base_cfg: dict, cap: float, factor: float, *,
                  what: str = "model", method: str = "") -> PreparedModel:
    """A checkpoint (or drafter) identified from its configuration, and within its size cap,
    before its weights are downloaded."""
    ch = run.plan.challenge
    if is_local(ref.id):
        model = prepare_model(ref, challenge=ch, cache_dir=run.plan.model_cache, what=what)
        _identify(run, read_config(model.path), base_cfg, ref, what, method)
        check_size(folder_bytes(model.path), cap, what=what, ref=ref, factor=factor)
        return model
    files = hub_files(ref, what)
    _identify(run, fetch_config(ref, run.plan.model_cache, what), base_cfg, ref, what, method)
    check_size(weight_bytes(files), cap, what=what, ref=ref, factor=factor)
    run.progress(f"{what}: {ref.id}@{ref.revision[:12]} identified and within its size cap; "
                 "downloading")
    path = download_by(run.deadline, ref, run.plan.model_cache, WEIGHT_FILES, what)
    return PreparedModel(ref, path, "hub")


def _identify(run: Run, cfg: dict, base_cfg: dict, ref: ModelRef, what: str,
              method: str) -> None:
    ch = run.plan.challenge
    if what == "drafter":
        problems = drafter_problems(cfg, base_cfg, method)
        if problems:
            raise ModelError("invalid", "drafter_identity", (
                f"the drafter {ref.id} cannot serve {method or 'its method'} for "
                f"{ch.base_model.id}: " + "; ".join(problems) + ". Nothing was downloaded."))
        return
    diffs = identity_differences(base_cfg, cfg)
    run.checks.append(C.model_identity(diffs, model=ref.id, base=ch.base_model.id))
    if diffs:
        raise Invalid("model_identity", run.checks[-1].message)


def encode_all(tokenizer_dir: Path, sets: Sequence[PromptSet],
               warmups: int) -> tuple[dict[str, EncodedSet], list[list[int]]]:
    enc = ChatEncoder(tokenizer_dir)
    encoded = {s.name: enc.encode_set(s) for s in sets}
    warm = [enc.prompt_ids(p) for p in warmup_prompts(warmups)]
    return encoded, warm
