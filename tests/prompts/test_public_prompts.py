"""The public prompt set: the file participants tune against and the runner measures.

The runner sends each row's `messages` through the model's chat template (speed at a fixed number
of output tokens) and scores each row's `reference` teacher-forced (perplexity). A malformed row
breaks a run on the GPU runner, a lopsided set skews the score towards one kind of text, and a
reference that is too short or too long says little or runs past the context, so the file is
checked here, row by row, with the line of every problem.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from arena.challenge import load_challenge

ROOT = Path(__file__).resolve().parents[2]

CATEGORIES = ("maths", "code", "reasoning", "writing")
MIN_ROWS = 40
MIN_PER_CATEGORY = 10
REFERENCE_WORDS = (120, 350)
KEYS = {"id", "category", "messages", "reference"}
ID_RE = re.compile(r"[a-z]+-[0-9]{2}")
FENCE_RE = re.compile(r"^\s*```", re.MULTILINE)


def _no_duplicate_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    keys = [k for k, _ in pairs]
    dup = sorted({k for k in keys if keys.count(k) > 1})
    if dup:
        raise ValueError(f"duplicate key(s) {', '.join(map(repr, dup))}")
    return dict(pairs)


def _normal(text: str) -> str:
    return " ".join(text.casefold().split())


def _check_messages(where: str, messages: object) -> list[str]:
    """Roles a chat template accepts: an optional system message first, then user and assistant
    turns alternating, starting and ending with the user."""
    if not isinstance(messages, list) or not messages:
        return [f"{where}: 'messages' must be a non-empty list"]
    problems = []
    roles = []
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or set(m) != {"role", "content"}:
            problems.append(f"{where}: messages[{i}] must have exactly the keys 'role' and 'content'")
            continue
        if not isinstance(m["content"], str) or not m["content"].strip():
            problems.append(f"{where}: messages[{i}].content must be non-empty text")
        roles.append(m["role"])
    if problems:
        return problems
    turns = roles[1:] if roles[0] == "system" else roles
    expected = ["user" if i % 2 == 0 else "assistant" for i in range(len(turns))]
    if not turns or turns != expected or turns[-1] != "user":
        problems.append(f"{where}: roles {roles} must be an optional 'system' first, then "
                        "'user' and 'assistant' alternating, starting and ending with 'user'")
    return problems


def check_prompt_set(text: str) -> tuple[list[dict], list[str]]:
    """Parse a prompt set; return its rows and every problem found, each with its line."""
    rows: list[dict] = []
    problems: list[str] = []
    if text and not text.endswith("\n"):
        problems.append("the file must end with a newline")
    first_line: dict[str, int] = {}
    seen_prompts: dict[str, int] = {}
    seen_refs: dict[str, int] = {}
    for n, line in enumerate(text.split("\n")[:-1] if text.endswith("\n") else text.split("\n"), 1):
        where = f"line {n}"
        if not line.strip():
            problems.append(f"{where}: empty line (one JSON object per line)")
            continue
        try:
            row = json.loads(line, object_pairs_hook=_no_duplicate_keys)
        except ValueError as exc:
            problems.append(f"{where}: not a JSON object: {exc}")
            continue
        if not isinstance(row, dict) or set(row) != KEYS:
            got = sorted(row) if isinstance(row, dict) else type(row).__name__
            problems.append(f"{where}: keys must be exactly {sorted(KEYS)}, got {got}")
            continue
        rows.append(row)
        rid, cat, ref = row["id"], row["category"], row["reference"]
        if not isinstance(rid, str) or not ID_RE.fullmatch(rid):
            problems.append(f"{where}: id {rid!r} must look like 'maths-01'")
        elif rid in first_line:
            problems.append(f"{where}: id {rid!r} already used on line {first_line[rid]}")
        else:
            first_line[rid] = n
        if cat not in CATEGORIES:
            problems.append(f"{where}: category {cat!r} must be one of {list(CATEGORIES)}")
        elif isinstance(rid, str) and not rid.startswith(cat + "-"):
            problems.append(f"{where}: id {rid!r} must start with its category {cat!r}")
        msg_problems = _check_messages(where, row["messages"])
        problems += msg_problems
        if not msg_problems:
            key = json.dumps([[m["role"], _normal(m["content"])] for m in row["messages"]])
            if key in seen_prompts:
                problems.append(f"{where}: same conversation as line {seen_prompts[key]}")
            seen_prompts.setdefault(key, n)
        if not isinstance(ref, str):
            problems.append(f"{where}: reference must be text")
            continue
        words = len(ref.split())
        lo, hi = REFERENCE_WORDS
        if not lo <= words <= hi:
            problems.append(f"{where}: reference has {words} words, must have {lo} to {hi}")
        if ref != ref.strip():
            # Scored teacher-forced: stray whitespace becomes tokens nobody would generate.
            problems.append(f"{where}: reference starts or ends with whitespace")
        if len(FENCE_RE.findall(ref)) % 2:
            problems.append(f"{where}: reference has an unclosed ``` code fence")
        if cat == "code" and not FENCE_RE.search(ref):
            problems.append(f"{where}: a code reference must contain its code in a ``` fence")
        if _normal(ref) in seen_refs:
            problems.append(f"{where}: same reference as line {seen_refs[_normal(ref)]}")
        seen_refs.setdefault(_normal(ref), n)
    counts = Counter(r["category"] for r in rows)
    if len(rows) < MIN_ROWS:
        problems.append(f"{len(rows)} rows, at least {MIN_ROWS} needed")
    for cat in CATEGORIES:
        if counts[cat] < MIN_PER_CATEGORY:
            problems.append(f"category {cat!r} has {counts[cat]} rows, at least "
                            f"{MIN_PER_CATEGORY} needed")
    return rows, problems


@pytest.fixture(scope="module")
def public_path() -> Path:
    # The file the challenge actually names, not a path guessed here.
    return load_challenge(ROOT / "challenge.yaml").public_prompts


def test_public_set_passes_every_check(public_path: Path) -> None:
    rows, problems = check_prompt_set(public_path.read_bytes().decode("utf-8"))
    assert not problems, f"{public_path.name}:\n" + "\n".join(problems)
    counts = Counter(r["category"] for r in rows)
    assert len(rows) >= MIN_ROWS
    assert all(counts[c] >= MIN_PER_CATEGORY for c in CATEGORIES), counts


@pytest.fixture(scope="module")
def public_rows(public_path: Path) -> list[dict]:
    return check_prompt_set(public_path.read_bytes().decode("utf-8"))[0]


def test_public_set_exercises_the_chat_template(public_rows: list[dict]) -> None:
    """System prompts and earlier turns go through the template too, so some rows must have
    them, or a submission that mishandles them would never be measured doing so."""
    with_system = [r["id"] for r in public_rows if r["messages"][0]["role"] == "system"]
    multi_turn = [r["id"] for r in public_rows
                  if any(m["role"] == "assistant" for m in r["messages"])]
    assert len(with_system) >= 3, with_system
    assert len(multi_turn) >= 3, multi_turn


# No tokenizer is loaded here (tests stay fast and offline), so token counts are estimated from
# characters with a deliberately low characters-per-token figure: Gemma's tokenizer averages
# well above it on English prose, so the estimate over-counts. The template allowance covers the
# turn markers the chat template adds around each message and the generation prompt.
CHARS_PER_TOKEN_FLOOR = 3.5
TEMPLATE_TOKENS = 16
TEMPLATE_TOKENS_PER_MESSAGE = 8


def _estimated_tokens(messages: list[dict]) -> int:
    chars = sum(len(m["content"]) for m in messages)
    return (int(chars / CHARS_PER_TOKEN_FLOOR) + 1 + TEMPLATE_TOKENS
            + TEMPLATE_TOKENS_PER_MESSAGE * len(messages))


def test_every_row_fits_the_smallest_context_a_submission_may_set(public_path: Path,
                                                                  public_rows: list[dict]) -> None:
    """A submission may serve with the smallest max_model_len the challenge allows; a prompt
    that does not fit with its timed output tokens, or with its reference when scored, would
    make that submission's run fail for a reason that is not its own."""
    challenge = load_challenge(ROOT / "challenge.yaml")
    context = int(challenge.engine_args["max_model_len"].min or 0)
    assert context, "challenge.yaml gives no minimum max_model_len"
    too_long = []
    for r in public_rows:
        prompt = _estimated_tokens(r["messages"])
        scored = prompt + int(len(r["reference"]) / CHARS_PER_TOKEN_FLOOR) + 1
        if prompt + challenge.output_tokens > context or scored > context:
            too_long.append(f"{r['id']}: about {prompt} prompt tokens + "
                            f"{challenge.output_tokens} output, {scored} when scored")
    assert not too_long, f"rows that may not fit in {context} tokens:\n" + "\n".join(too_long)


def test_public_set_is_utf8_text(public_path: Path) -> None:
    raw = public_path.read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf"), "no byte-order mark: JSON Lines is plain UTF-8"
    assert b"\r" not in raw, "lines must end with \\n only"
    raw.decode("utf-8")


# The checker itself must catch what it claims to; each bad file below is a mistake an editor
# of the set could make.

def _row(rid: str = "maths-01", category: str = "maths", messages: list | None = None,
         reference: str | None = None) -> dict:
    return {"id": rid, "category": category,
            "messages": messages or [{"role": "user", "content": f"Question {rid}?"}],
            "reference": reference or " ".join(f"w{rid}{i}" for i in range(150))}


def _full_set() -> list[dict]:
    return [_row(f"{c}-{i:02d}", c, reference=(f"```\ncode {c} {i}\n```\n" if c == "code" else "")
                 + " ".join(f"w{c}{i}x{k}" for k in range(150)))
            for c in CATEGORIES for i in range(1, MIN_PER_CATEGORY + 1)]


def _text(rows: list) -> str:
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows)


def test_checker_accepts_a_minimal_valid_set() -> None:
    rows, problems = check_prompt_set(_text(_full_set()))
    assert problems == []
    assert len(rows) == MIN_ROWS


@pytest.mark.parametrize("mutate, expected", [
    (lambda rows: rows.append(dict(rows[0])), "line 41: id 'maths-01' already used on line 1"),
    (lambda rows: rows[3].update(id="Maths-4"), "line 4: id 'Maths-4' must look like"),
    (lambda rows: rows[0].update(category="math"), "line 1: category 'math' must be one of"),
    (lambda rows: rows[0].update(id="code-77"), "line 1: id 'code-77' must start with its category"),
    (lambda rows: rows[1].update(reference="too short"), "line 2: reference has 2 words"),
    (lambda rows: rows[1].update(reference=" ".join(["word"] * 351) + " x"),
     "line 2: reference has 352 words"),
    (lambda rows: rows[2].update(reference=rows[2]["reference"] + "\n"),
     "line 3: reference starts or ends with whitespace"),
    (lambda rows: rows[11].update(reference=" ".join(["x"] * 130)),
     "line 12: a code reference must contain its code"),
    (lambda rows: rows[11].update(reference="```python\n" + " ".join(["x"] * 130)),
     "line 12: reference has an unclosed ``` code fence"),
    (lambda rows: rows[5].update(messages=[{"role": "user", "content": "Hi"},
                                           {"role": "assistant", "content": "Hello"}]),
     "line 6: roles ['user', 'assistant'] must be"),
    (lambda rows: rows[5].update(messages=[{"role": "user", "content": "a"},
                                           {"role": "user", "content": "b"}]),
     "line 6: roles ['user', 'user'] must be"),
    (lambda rows: rows[5].update(messages=[{"role": "user", "content": "a"},
                                           {"role": "system", "content": "b"},
                                           {"role": "user", "content": "c"}]),
     "line 6: roles ['user', 'system', 'user'] must be"),
    (lambda rows: rows[5].update(messages=[{"role": "user", "content": "  "}]),
     "line 6: messages[0].content must be non-empty text"),
    (lambda rows: rows[5].update(messages=[{"role": "user", "text": "a"}]),
     "line 6: messages[0] must have exactly the keys"),
    (lambda rows: rows[7].update(messages=[{"role": "user", "content": "QUESTION   maths-01?"}]),
     "line 8: same conversation as line 1"),
    (lambda rows: rows[7].update(reference=rows[0]["reference"]), "line 8: same reference as line 1"),
    (lambda rows: rows[9].update(extra=1), "line 10: keys must be exactly"),
    (lambda rows: rows.insert(2, '{"id": "maths-99",}'), "line 3: not a JSON object"),
    (lambda rows: rows.insert(2, '{"id": "a", "id": "b"}'), "line 3: not a JSON object: duplicate key"),
    (lambda rows: rows.insert(2, ""), "line 3: empty line"),
    (lambda rows: rows.pop(), "39 rows, at least 40 needed"),
    (lambda rows: rows[30].update(id="code-11", category="code",
                                  reference="```\nc\n```\n" + " ".join(["y"] * 140)),
     "category 'writing' has 9 rows"),
])
def test_checker_reports_each_mistake_with_its_line(mutate, expected: str) -> None:
    rows = _full_set()
    mutate(rows)
    _, problems = check_prompt_set(_text(rows))
    assert any(p.startswith(expected) for p in problems), problems


def test_checker_requires_a_final_newline() -> None:
    _, problems = check_prompt_set(_text(_full_set()).rstrip("\n"))
    assert problems == ["the file must end with a newline"]
