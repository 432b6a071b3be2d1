"""Prompt sets: the public set in the repository and the private set on the runner.

A prompt set is JSON Lines, one prompt per line:

    {"id": "maths-01", "category": "maths",
     "messages": [{"role": "user", "content": "..."}],
     "reference": "a continuation written by the reference model"}

The public set is one file. The private set is a folder on the runner holding one or more
`*.jsonl` files in the same format (read in name order); it is never copied, printed or written
anywhere: only its SHA-256 and aggregate figures leave the runner. Problems in a private set are
reported by file and line only, never with the prompt's text or id.

A set's SHA-256 is taken over its normalized rows (canonical JSON, one per line), so it names the
prompts themselves, not the whitespace of the file that holds them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

ROLES = ("system", "user", "assistant")
FIELDS_REQUIRED = ("id", "messages")
FIELDS_OPTIONAL = ("category", "reference")
MAX_ID = 100
MAX_PROMPTS = 10_000


class PromptSetError(Exception):
    """A prompt set cannot be used; `problems` lists each one as 'file:line: message'."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass(frozen=True)
class Prompt:
    id: str
    category: str
    messages: tuple[tuple[str, str], ...]  # (role, content)
    reference: str | None

    def chat(self) -> list[dict[str, str]]:
        """The messages as a chat-template input."""
        return [{"role": r, "content": c} for r, c in self.messages]

    def row(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "category": self.category,
                               "messages": self.chat()}
        if self.reference is not None:
            out["reference"] = self.reference
        return out


@dataclass(frozen=True)
class PromptSet:
    name: str  # "public" | "private" | a label for other sets
    prompts: tuple[Prompt, ...]
    sha256: str
    private: bool
    # The base model's perplexity on this set's references, when calibrated for it (a private
    # folder's reference-ppl.json). The public set's reference is in challenge.yaml.
    reference_ppl: float | None = None

    def __len__(self) -> int:
        return len(self.prompts)

    def label(self, index: int) -> str:
        """How messages refer to one prompt: its id when public, its position when private."""
        if self.private:
            return f"private prompt #{index + 1}"
        return f"prompt {self.prompts[index].id!r}"

    def categories(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for p in self.prompts:
            out[p.category] = out.get(p.category, 0) + 1
        return out


def set_sha256(prompts: Iterable[Prompt]) -> str:
    h = hashlib.sha256()
    for p in prompts:
        h.update(json.dumps(p.row(), sort_keys=True, separators=(",", ":"),
                            ensure_ascii=False).encode("utf-8"))
        h.update(b"\n")
    return h.hexdigest()


def load_prompt_file(path: Path, *, name: str = "public", require_reference: bool = True,
                     private: bool = False) -> PromptSet:
    """Load one JSONL prompt set. Raises PromptSetError with every problem found."""
    prompts = _read_rows([path], require_reference=require_reference, private=private)
    return PromptSet(name, tuple(prompts), set_sha256(prompts), private)


def load_private_dir(folder: Path, *, require_reference: bool = True) -> PromptSet:
    """Load the private set: every *.jsonl file in `folder`, in name order."""
    if not folder.is_dir():
        raise PromptSetError([f"{folder}: the private prompt folder does not exist or is not a "
                              "folder. Point --private (or the challenge's private_env "
                              "variable) at the folder that holds the private *.jsonl files."])
    files = sorted(f for f in folder.glob("*.jsonl") if f.is_file())
    if not files:
        raise PromptSetError([f"{folder}: holds no *.jsonl files. Put the private prompt set "
                              "there as one or more JSON Lines files."])
    prompts = _read_rows(files, require_reference=require_reference, private=True)
    digest = set_sha256(prompts)
    return PromptSet("private", tuple(prompts), digest, True,
                     read_calibration(folder / CALIBRATION_FILE, digest))


CALIBRATION_FILE = "reference-ppl.json"
CALIBRATION_FORMAT = "arena.reference-ppl/1"


def read_calibration(path: Path, set_digest: str) -> float | None:
    """The reference perplexity stored beside a private set by `arena references`, or None.
    A calibration made for other prompts (a different set SHA-256) is an error, not ignored."""
    if not path.exists():
        return None
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PromptSetError([f"{path}: cannot be read as JSON ({exc})."]) from None
    if not isinstance(doc, dict) or doc.get("format") != CALIBRATION_FORMAT:
        raise PromptSetError([f"{path}: is not an {CALIBRATION_FORMAT} document."])
    if doc.get("prompt_set_sha256") != set_digest:
        raise PromptSetError([f"{path}: was calibrated on other prompts (its prompt_set_sha256 "
                              "differs from this set's). Run `arena references` again."])
    ppl = doc.get("ppl")
    if not isinstance(ppl, (int, float)) or isinstance(ppl, bool) or not ppl > 0:
        raise PromptSetError([f"{path}: ppl must be a positive number."])
    return float(ppl)


def write_prompt_file(path: Path, prompts: Iterable[Prompt]) -> None:
    """Write a prompt set as JSONL, atomically (readers see the old file or the new one)."""
    from arena.files import write_bytes_atomic

    write_bytes_atomic(path, "".join(json.dumps(p.row(), ensure_ascii=False) + "\n"
                                     for p in prompts).encode("utf-8"))


def _read_rows(files: list[Path], *, require_reference: bool, private: bool) -> list[Prompt]:
    problems: list[str] = []
    prompts: list[Prompt] = []
    seen: dict[str, str] = {}
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "it is not UTF-8 text"
            problems.append(f"{path}: cannot be read: {reason}.")
            continue
        for lineno, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            where = f"{path.name if private else path}:{lineno}"
            try:
                row = json.loads(line)
            except ValueError as exc:
                problems.append(f"{where}: is not valid JSON ({exc.msg} at column {exc.colno}). "
                                "Each line must be one JSON object.")
                continue
            prompt = _parse_row(row, where, problems, require_reference=require_reference,
                                private=private)
            if prompt is None:
                continue
            if prompt.id in seen:
                shown = "this id" if private else f"the id {prompt.id!r}"
                problems.append(f"{where}: {shown} is already used at {seen[prompt.id]}. "
                                "Give every prompt its own id.")
                continue
            seen[prompt.id] = where
            prompts.append(prompt)
    if not prompts and not problems:
        problems.append(f"{', '.join(map(str, files))}: holds no prompts.")
    if len(prompts) > MAX_PROMPTS:
        problems.append(f"{files[0]}: holds {len(prompts)} prompts; at most {MAX_PROMPTS} "
                        "are allowed.")
    if problems:
        raise PromptSetError(problems)
    return prompts


def _parse_row(row: Any, where: str, problems: list[str], *, require_reference: bool,
               private: bool) -> Prompt | None:
    n = len(problems)
    if not isinstance(row, dict):
        problems.append(f"{where}: must be a JSON object with id, category, messages and "
                        "reference.")
        return None
    for key in row:
        if key not in FIELDS_REQUIRED + FIELDS_OPTIONAL:
            problems.append(f"{where}: unknown field {key!r}. Allowed: "
                            f"{', '.join(FIELDS_REQUIRED + FIELDS_OPTIONAL)}.")
    for key in FIELDS_REQUIRED + (("reference",) if require_reference else ()):
        if key not in row:
            problems.append(f"{where}: the field {key!r} is missing.")
    pid = row.get("id")
    if "id" in row and (not isinstance(pid, str) or not pid.strip() or len(pid) > MAX_ID):
        problems.append(f"{where}: id must be a non-empty string of at most {MAX_ID} "
                        "characters.")
    category = row.get("category", "")
    if not isinstance(category, str) or len(category) > 40:
        problems.append(f"{where}: category must be a string of at most 40 characters.")
    messages = row.get("messages")
    parsed: list[tuple[str, str]] = []
    if "messages" in row:
        if not isinstance(messages, list) or not messages:
            problems.append(f"{where}: messages must be a non-empty list of "
                            '{"role": ..., "content": ...} objects.')
        else:
            for i, m in enumerate(messages):
                if (not isinstance(m, dict) or set(m) != {"role", "content"}
                        or m.get("role") not in ROLES or not isinstance(m.get("content"), str)
                        or not m["content"].strip()):
                    problems.append(f"{where}: messages[{i}] must be an object with exactly "
                                    f"a role ({', '.join(ROLES)}) and a non-empty content "
                                    "string.")
                    continue
                parsed.append((m["role"], m["content"]))
            if parsed and parsed[-1][0] != "user":
                problems.append(f"{where}: the last message must come from the user (the "
                                "model continues after it).")
    reference = row.get("reference")
    if "reference" in row and (not isinstance(reference, str) or not reference.strip()):
        problems.append(f"{where}: reference must be a non-empty string (the continuation "
                        "the perplexity is measured on).")
    if len(problems) > n:
        return None
    return Prompt(str(pid), category or "", tuple(parsed),
                  reference if isinstance(reference, str) else None)


# Warm-up requests are never drawn from a timed set (a warm-up must not pre-fill anything a
# timed prompt could reuse). These are the runner's own, the same for every challenge.
WARMUP_MESSAGES = (
    "Describe the water cycle in a few sentences.",
    "Write a short poem about a lighthouse keeper.",
    "List five uses of a paperclip other than holding paper.",
    "Explain what a hash table is to a new programmer.",
    "What should a traveller pack for a week of hiking in the rain?",
    "Summarize the rules of chess in one paragraph.",
    "Give three tips for writing a clear email.",
    "How does compound interest work? Use an example.",
)


def warmup_prompts(count: int) -> list[Prompt]:
    out = []
    for i in range(count):
        text = WARMUP_MESSAGES[i % len(WARMUP_MESSAGES)]
        if i >= len(WARMUP_MESSAGES):
            text = f"{text} (Variation {i // len(WARMUP_MESSAGES) + 1}.)"
        out.append(Prompt(f"warmup-{i + 1}", "warmup", (("user", text),), None))
    return out
