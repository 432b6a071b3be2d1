"""A tiny Gemma-4 text model, made locally in seconds, byte for byte the same every time.

The demo challenge and the end-to-end tests serve it with vLLM's CPU build, so the whole runner
path (start-up, timed decoding, prompt logprobs, speculative decoding) runs for real without a
GPU or a download. Its weights are random (a fixed seed); its tokenizer is a byte-level BPE
trained on a frozen copy of the demo prompts' text (runner/data/tiny-corpus.txt), with a
Gemma-style chat template. The numbers it produces mean nothing about Gemma; the path they take
is the real one.

Because the build is deterministic, the folder's content digest (runner.models.folder_digest)
is a constant: demo/challenge.yaml and the demo submissions pin it as the model's revision.
An upgrade of torch, transformers or tokenizers that changes the bytes changes the digest; the
test suite then fails and says to run `arena tiny-model --print-digest` and update the pins.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from runner.models import folder_digest

NAME = "tiny-gemma4"
SEED = 20261122
VOCAB_SIZE = 1024
SPECIAL_TOKENS = ("<pad>", "<eos>", "<bos>", "<unk>", "<start_of_turn>", "<end_of_turn>")
CORPUS = Path(__file__).resolve().parent / "data" / "tiny-corpus.txt"

# Gemma's turn format. The system role is kept as its own turn (the model is random anyway).
CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "<start_of_turn>{{ 'model' if message['role'] == 'assistant' else message['role'] }}\n"
    "{{ message['content'] | trim }}<end_of_turn>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
)

# The dimensions. head_dim 32 (the CPU attention kernel rejects 16), one sliding-window and one
# full-attention layer as in Gemma 4, a small per-layer-embedding table.
DIMENSIONS = dict(
    vocab_size=VOCAB_SIZE,
    hidden_size=64,
    intermediate_size=128,
    num_hidden_layers=2,
    num_attention_heads=2,
    num_key_value_heads=1,
    head_dim=32,
    global_head_dim=32,
    max_position_embeddings=2048,
    sliding_window=128,
    layer_types=["sliding_attention", "full_attention"],
    vocab_size_per_layer_input=VOCAB_SIZE,
    hidden_size_per_layer_input=16,
)


@dataclass(frozen=True)
class TinyModel:
    path: Path
    digest: str


def build(out: Path) -> TinyModel:
    """Build the tiny model into `out` (replaced atomically if it exists) and return its digest."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import Gemma4ForCausalLM, Gemma4TextConfig, PreTrainedTokenizerFast
    from transformers.utils import logging as hf_logging

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        bpe = Tokenizer(models.BPE())
        bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        bpe.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=VOCAB_SIZE, min_frequency=1, special_tokens=list(SPECIAL_TOKENS),
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
        bpe.train_from_iterator([CORPUS.read_text(encoding="utf-8")], trainer=trainer)
        if bpe.get_vocab_size() != VOCAB_SIZE:
            raise RuntimeError(f"the tokenizer reached {bpe.get_vocab_size()} tokens, not "
                               f"{VOCAB_SIZE}: the corpus {CORPUS} is too small.")
        tok = PreTrainedTokenizerFast(
            tokenizer_object=bpe, bos_token="<bos>", eos_token="<eos>", pad_token="<pad>",
            unk_token="<unk>", chat_template=CHAT_TEMPLATE)
        tok.save_pretrained(tmp)

        ids = {t: bpe.token_to_id(t) for t in SPECIAL_TOKENS}
        config = Gemma4TextConfig(
            **DIMENSIONS, pad_token_id=ids["<pad>"], bos_token_id=ids["<bos>"],
            eos_token_id=[ids["<eos>"], ids["<end_of_turn>"]],
            architectures=["Gemma4ForCausalLM"])
        bars = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()  # a progress bar for a 360 KB file is noise
        try:
            torch.manual_seed(SEED)
            model = Gemma4ForCausalLM(config).to(torch.bfloat16)
            model.save_pretrained(tmp)
        finally:
            if bars:
                hf_logging.enable_progress_bar()
        os.chmod(tmp, 0o755)
        if out.exists():
            old = out.with_name(f".{out.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(out, old)
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return TinyModel(out, folder_digest(out))


def ensure(out: Path, expected_digest: str | None = None) -> TinyModel:
    """The tiny model at `out`: built when missing or when its digest is not `expected_digest`."""
    out = Path(out)
    if out.is_dir():
        digest = folder_digest(out)
        if expected_digest is None or digest == expected_digest:
            return TinyModel(out, digest)
    return build(out)
