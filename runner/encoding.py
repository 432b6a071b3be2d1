"""Prompts to token IDs, on the client, with the base model's tokenizer and chat template.

Every submission is sent the same token IDs: the engine never tokenizes a prompt, so a
checkpoint that ships a different tokenizer or chat template cannot change what is measured.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner.prompts import Prompt, PromptSet


@dataclass(frozen=True)
class EncodedSet:
    """A prompt set as the engine receives it."""

    set: PromptSet
    prompt_ids: tuple[tuple[int, ...], ...]  # chat template applied, generation prompt added
    # (context, target) per prompt for teacher-forced PPL; empty when the set has no references
    references: tuple[tuple[tuple[int, ...], tuple[int, ...]], ...]

    @property
    def name(self) -> str:
        return self.set.name


class ChatEncoder:
    """The base model's tokenizer and chat template (loaded from a local folder, offline)."""

    def __init__(self, tokenizer_dir: Path):
        from transformers import AutoTokenizer

        # A local folder; trust_remote_code stays off, so no code from the model runs here.
        self._tok: Any = AutoTokenizer.from_pretrained(str(tokenizer_dir), local_files_only=True)
        if not getattr(self._tok, "chat_template", None):
            raise ValueError(f"the tokenizer in {tokenizer_dir} has no chat template.")

    def prompt_ids(self, prompt: Prompt) -> list[int]:
        text = self._tok.apply_chat_template(prompt.chat(), add_generation_prompt=True,
                                             tokenize=False)
        # The template writes the special tokens itself (BOS, turn markers): add none.
        return list(self._tok(text, add_special_tokens=False)["input_ids"])

    def target_ids(self, text: str) -> list[int]:
        return list(self._tok(text, add_special_tokens=False)["input_ids"])

    def decode(self, ids: list[int]) -> str:
        return self._tok.decode(ids, skip_special_tokens=True)

    def encode_set(self, prompt_set: PromptSet) -> EncodedSet:
        prompts = tuple(tuple(self.prompt_ids(p)) for p in prompt_set.prompts)
        refs: tuple[tuple[tuple[int, ...], tuple[int, ...]], ...] = ()
        if all(p.reference is not None for p in prompt_set.prompts):
            refs = tuple((ctx, tuple(self.target_ids(p.reference or "")))
                         for ctx, p in zip(prompts, prompt_set.prompts))
        return EncodedSet(prompt_set, prompts, refs)
