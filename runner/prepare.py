"""Phase 1, prepare: the checkpoint (and any drafter) on the runner, pinned and identified, and
the prompts as token IDs.

The checkpoint's configuration must be the base model's (only the weights' storage may differ)
before anything is served; a drafter is prepared only after that.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Sequence

from arena.challenge import ModelRef
from runner import checks as C
from runner.context import Invalid, Run
from runner.encoding import ChatEncoder, EncodedSet
from runner.models import TOKENIZER_FILES, identity_differences, prepare_model, read_config
from runner.prompts import PromptSet, warmup_prompts


def prepare(run: Run) -> None:
    sub, ch = run.plan.submission, run.plan.challenge
    tp = time.monotonic()
    base = prepare_model(ch.base_model, challenge=ch, cache_dir=run.plan.model_cache,
                         files=TOKENIZER_FILES, what="base model")
    run.model = prepare_model(sub.model, challenge=ch, cache_dir=run.plan.model_cache)
    run.progress(f"model: {sub.model.id}@{sub.model.revision[:12]} ready ({run.model.source})")
    diffs = identity_differences(read_config(base.path), read_config(run.model.path))
    run.checks.append(C.model_identity(diffs, model=sub.model.id, base=ch.base_model.id))
    if diffs:
        raise Invalid("model_identity", run.checks[-1].message)
    spec_config = sub.engine_args.get("speculative_config")
    if isinstance(spec_config, dict) and "model" in spec_config:
        run.drafter = prepare_model(ModelRef(spec_config["model"], spec_config["revision"]),
                                    challenge=ch, cache_dir=run.plan.model_cache, what="drafter")
        run.progress(f"drafter: {spec_config['model']}@{spec_config['revision'][:12]} ready")
    run.encoded, run.warm_ids = encode_all(base.path, run.plan.sets, ch.warmup_requests)
    run.timings["prepare_s"] = time.monotonic() - tp


def encode_all(tokenizer_dir: Path, sets: Sequence[PromptSet],
               warmups: int) -> tuple[dict[str, EncodedSet], list[list[int]]]:
    enc = ChatEncoder(tokenizer_dir)
    encoded = {s.name: enc.encode_set(s) for s in sets}
    warm = [enc.prompt_ids(p) for p in warmup_prompts(warmups)]
    return encoded, warm
