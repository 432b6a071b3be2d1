"""Finds private-prompt canaries in whatever leaves the runner or the bot.

A canary is a private prompt (or its reference answer) planted in a test's private prompt set,
with its token IDs. The end-to-end leak test runs the runner, the bot and the site on a private
set made of canaries, then hands everything that left them (comments, check runs, result JSON,
artifacts, logs, the built site) to `CanaryScanner`, which must find nothing.

What counts as a leak:
- the canary's text, or any piece of it at least `min_fragment` characters long (a prompt cut
  short in a log tail is still a leak), after undoing what a channel may do to text on the way
  out: HTML entities and tags, JSON and backslash escapes, Markdown escapes, URL encoding,
  base64, zero-width characters, Unicode compatibility forms, case, and all whitespace (line
  wrapping, reflowed Markdown);
- a run of at least `min_token_run` of its token IDs, in order, in any sequence of integers: a
  JSON array, the integer keys of a logprobs object, numbers in a log line; consecutive IDs may
  be up to `max_token_gap` positions apart, to see through interleaved fields (ranks, logprobs).

It scans strings, bytes, JSON values, files and folders, and the archives inside them (zip, tar,
gzip: artifacts are zips). A report names the canary by its label and says where and how it was
found, and never contains the canary's text: canaries stand in for private prompts, and the
scanner's own output goes to CI logs.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import html
import io
import json
import random
import re
import tarfile
import unicodedata
import urllib.parse
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

_ZERO_WIDTH = re.compile("[\u00ad\u200b-\u200f\u2060\ufeff]")
_WHITESPACE = re.compile(r"\s+")
_TAG = re.compile(r"<[^<>]{0,2000}>")
_JSON_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})|\\([\\\"/bfnrt])")
_MARKDOWN_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")
_URL_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")
_BASE64_RUN = re.compile(r"[A-Za-z0-9+/_-]{32,}={0,2}")
# An integer standing alone: not part of a word, a decimal or a negative number.
_INTEGER = re.compile(r"(?<![\w.\-])\d{1,9}(?![\w.])")
_SIMPLE_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
_MAX_DEPTH = 4
_MAX_MEMBER_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class Canary:
    """One planted secret: a label for reports, its text and/or its token IDs."""
    label: str
    text: str = ""
    token_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class Leak:
    canary: str  # the canary's label, never its text
    where: str
    how: str

    def __str__(self) -> str:
        return f"{self.where}: canary {self.canary!r} found ({self.how})"


def _unescape_json(text: str) -> str:
    def one(m: re.Match[str]) -> str:
        if m.group(1):
            return chr(int(m.group(1), 16))
        c = m.group(2)
        return _SIMPLE_ESCAPES.get(c, c)
    return _JSON_ESCAPE.sub(one, text)


def _squash(text: str) -> str:
    """The comparison form: compatibility-normalized, case-folded, without any whitespace."""
    text = unicodedata.normalize("NFKC", _ZERO_WIDTH.sub("", text)).casefold()
    return _WHITESPACE.sub("", text)


def _views(text: str) -> list[str]:
    """The text as a reader of each channel would see it, in comparison form."""
    decoded = text
    for _ in range(3):  # double escaping happens (HTML inside JSON inside HTML)
        before = decoded
        decoded = html.unescape(_unescape_json(decoded))
        if _URL_ESCAPE.search(decoded):
            decoded = urllib.parse.unquote(decoded)
        if decoded == before:
            break
    unescaped = _MARKDOWN_ESCAPE.sub(r"\1", decoded)
    views = {_squash(text), _squash(unescaped), _squash(_TAG.sub("", unescaped))}
    return [v for v in views if v]


class CanaryScanner:
    def __init__(self, canaries: Iterable[Canary], *, min_fragment: int = 24,
                 min_token_run: int = 8, max_token_gap: int = 3) -> None:
        self.canaries = list(canaries)
        if not self.canaries:
            raise ValueError("a scanner needs at least one canary")
        if min_fragment < 8 or min_token_run < 3 or max_token_gap < 1:
            raise ValueError("thresholds this low would report ordinary text as leaks")
        self.min_fragment = min_fragment
        self.min_token_run = min_token_run
        self.max_token_gap = max_token_gap
        # Each canary's text, squashed, and overlapping pieces of it: any leaked stretch of at
        # least 1.5 * min_fragment characters contains one whole piece.
        self._pieces: list[tuple[Canary, str, list[str]]] = []
        for c in self.canaries:
            whole = _squash(c.text)
            if not whole:
                continue
            k, step = min_fragment, max(1, min_fragment // 2)
            pieces = [whole] if len(whole) <= k else sorted(
                {whole[i:i + k] for i in range(0, len(whole) - k + 1, step)} | {whole[-k:]})
            self._pieces.append((c, whole, pieces))
        self._tokens = [(c, tuple(c.token_ids)) for c in self.canaries if c.token_ids]

    # Text

    def scan_text(self, text: str, where: str = "<text>", _depth: int = 0) -> list[Leak]:
        leaks: list[Leak] = []
        views = _views(text)
        for canary, whole, pieces in self._pieces:
            if any(whole in v for v in views):
                leaks.append(Leak(canary.label, where, "its whole text"))
            elif any(p in v for v in views for p in pieces):
                leaks.append(Leak(canary.label, where,
                                  f"a piece of its text of {self.min_fragment}+ characters"))
        if self._tokens:
            for v in {text, *_views_for_integers(text)}:
                leaks += self._scan_integers([int(m.group()) for m in _INTEGER.finditer(v)], where)
        if _depth < _MAX_DEPTH:
            for m in _BASE64_RUN.finditer(text):
                blob = _b64(m.group())
                if blob is not None:
                    leaks += self.scan_bytes(blob, f"{where} (base64 at offset {m.start()})", _depth + 1)
        return _unique(leaks)

    # Token IDs

    def _scan_integers(self, stream: Sequence[int], where: str,
                       describe: Callable[[int], str] | None = None) -> list[Leak]:
        leaks = []
        for canary, ids in self._tokens:
            hit = _ordered_run(ids, stream, min(self.min_token_run, len(ids)), self.max_token_gap)
            if hit is not None:
                start, length = hit
                place = describe(start) if describe else f"integer #{start}"
                leaks.append(Leak(canary.label, where,
                                  f"{length} of its token IDs in order, from {place}"))
        return leaks

    # JSON

    def scan_json(self, value: Any, where: str = "<json>", _depth: int = 0) -> list[Leak]:
        leaks: list[Leak] = []
        integers: list[tuple[int, str]] = []
        for path, item, is_key in _walk(value, "$"):
            if isinstance(item, bool):
                continue
            if isinstance(item, int):
                integers.append((item, path))
            elif isinstance(item, str):
                if is_key and item.isdigit() and len(item) < 10:
                    integers.append((int(item), path))
                leaks += self.scan_text(item, f"{where} {path}", _depth)
        if integers:
            stream = [i for i, _ in integers]
            leaks += self._scan_integers(stream, where, lambda k: integers[k][1])
        # Text split across neighbouring strings (a prompt stored as a list of lines).
        joined = " ".join(s for _, s, _ in _walk(value, "$") if isinstance(s, str))
        if joined:
            for leak in self.scan_text(joined, f"{where} (its strings joined)", _MAX_DEPTH):
                if not any(l.canary == leak.canary for l in leaks):
                    leaks.append(leak)
        return _unique(leaks)

    # Bytes, files, folders, archives

    def scan_bytes(self, data: bytes, where: str, _depth: int = 0) -> list[Leak]:
        if _depth <= _MAX_DEPTH:
            members = _archive_members(data)
            if members is not None:
                leaks: list[Leak] = []
                for name, content in members:
                    leaks += self.scan_bytes(content, f"{where}!{name}", _depth + 1)
                return _unique(leaks)
        text = _decode(data)
        leaks = self.scan_text(text, where, _depth)
        stripped = text.lstrip()
        if stripped[:1] in ("{", "["):
            try:
                leaks += self.scan_json(json.loads(text), where, _depth)
            except ValueError:
                # JSON Lines (logs, prompt files): one value per line.
                for n, line in enumerate(text.splitlines(), 1):
                    if line.strip()[:1] in ("{", "["):
                        try:
                            leaks += self.scan_json(json.loads(line), f"{where}:{n}", _depth)
                        except ValueError:
                            pass
        return _unique(leaks)

    def scan_path(self, path: Path) -> list[Leak]:
        path = Path(path)
        if path.is_symlink():
            return []
        if path.is_dir():
            leaks: list[Leak] = []
            for child in sorted(path.rglob("*")):
                if child.is_file() and not child.is_symlink():
                    leaks += self.scan_bytes(child.read_bytes(), str(child))
            return leaks
        return self.scan_bytes(path.read_bytes(), str(path))

    def scan(self, target: Any, where: str | None = None) -> list[Leak]:
        """Any of: a path, a string, bytes, or a JSON value (dict, list, number)."""
        if isinstance(target, Path):
            return self.scan_path(target)
        if isinstance(target, str):
            return self.scan_text(target, where or "<text>")
        if isinstance(target, (bytes, bytearray)):
            return self.scan_bytes(bytes(target), where or "<bytes>")
        return self.scan_json(target, where or "<json>")

    def assert_clean(self, *targets: Any) -> None:
        leaks = [leak for t in targets for leak in self.scan(t)]
        if leaks:
            raise AssertionError(f"{len(leaks)} canary leak(s):\n" + "\n".join(map(str, leaks)))


def _views_for_integers(text: str) -> list[str]:
    decoded = html.unescape(_unescape_json(text))
    return [decoded] if decoded != text else []


def _ordered_run(ids: Sequence[int], stream: Sequence[int], need: int,
                 max_gap: int) -> tuple[int, int] | None:
    """Where a run of `need` consecutive canary IDs appears in `stream` in order, each at most
    `max_gap` positions after the previous: (its start in the stream, its length), or None."""
    if need <= 0 or len(stream) < need:
        return None
    where_in_ids: dict[int, list[int]] = {}
    for j, token in enumerate(ids):
        where_in_ids.setdefault(token, []).append(j)
    best: dict[tuple[int, int], int] = {}  # (stream position, canary index) -> chain length
    found: tuple[int, int] | None = None
    for p in range(len(stream) - 1, -1, -1):
        for j in where_in_ids.get(stream[p], ()):
            length = 1
            if j + 1 < len(ids):
                for q in range(p + 1, min(p + max_gap, len(stream) - 1) + 1):
                    if stream[q] == ids[j + 1]:
                        length = max(length, 1 + best.get((q, j + 1), 0))
            best[(p, j)] = length
            if length >= need:
                found = (p, length)
    return found


def _walk(value: Any, path: str) -> Iterator[tuple[str, Any, bool]]:
    if isinstance(value, dict):
        for k, v in value.items():
            child = f"{path}.{k}" if isinstance(k, str) and k.isidentifier() else f"{path}[{k!r}]"
            yield child, k, True
            yield from _walk(v, child)
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            yield from _walk(v, f"{path}[{i}]")
    else:
        yield path, value, False


def _b64(run: str) -> bytes | None:
    try:
        padded = run + "=" * (-len(run) % 4)
        data = base64.b64decode(padded, altchars=b"-_" if ("-" in run or "_" in run) else None,
                                validate=True)
    except (binascii.Error, ValueError):
        return None
    return data if len(data) >= 16 else None


def _decode(data: bytes) -> str:
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return data.decode("utf-16", errors="replace")
    return data.decode("utf-8", errors="replace")


def _archive_members(data: bytes) -> list[tuple[str, bytes]] | None:
    if data[:4] == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                return [(i.filename, z.read(i)) for i in z.infolist()
                        if not i.is_dir() and i.file_size <= _MAX_MEMBER_BYTES]
        except zipfile.BadZipFile:
            return None
    if data[:2] == b"\x1f\x8b":
        try:
            inner = gzip.decompress(data)
        except (OSError, EOFError):
            return None
        return _tar_members(inner) or [("(gunzipped)", inner)]
    return _tar_members(data)


def _tar_members(data: bytes) -> list[tuple[str, bytes]] | None:
    if len(data) < 512 or data[257:262] != b"ustar":
        return None
    try:
        with tarfile.open(fileobj=io.BytesIO(data)) as t:
            out = []
            for m in t.getmembers():
                if m.isfile() and m.size <= _MAX_MEMBER_BYTES:
                    f = t.extractfile(m)
                    if f is not None:
                        out.append((m.name, f.read()))
            return out
    except tarfile.TarError:
        return None


def _unique(leaks: list[Leak]) -> list[Leak]:
    return list(dict.fromkeys(leaks))


# Making canaries

def _pseudo_word(rng: random.Random) -> str:
    return "".join(rng.choice("bdfgklmnprstvz") + rng.choice("aeiou") for _ in range(3))


def make_canary_rows(count: int, seed: int = 0) -> list[dict[str, Any]]:
    """Private prompt rows in the format of prompts/public.jsonl, each prompt and reference made
    of random words and a random marker. No fixed wording longer than a few characters sits
    between the random parts, so every stretch the scanner looks for belongs to one canary."""
    rng = random.Random(seed)
    rows = []
    for i in range(count):
        marker = f"{rng.getrandbits(48):012x}"
        w = [_pseudo_word(rng) for _ in range(11)]
        rows.append({
            "id": f"canary-{i:02d}",
            "category": "canary",
            "messages": [{"role": "user", "content":
                          f"Canary {marker}: {w[0]} {w[1]} {w[2]} {w[3]}, then {w[4]} {w[5]} {w[6]}?"}],
            "reference": f"{w[7].capitalize()} {w[8]} {marker} {w[9]} {w[10]}.",
        })
    return rows


def canaries_from_prompt_rows(rows: Iterable[dict[str, Any]],
                              tokenize: Callable[[str], Sequence[int]] | None = None) -> list[Canary]:
    """One canary per message and per reference of each row; with `tokenize` (the served
    model's tokenizer), each also carries its token IDs."""
    out = []
    for row in rows:
        texts = [(f"{row['id']}.messages[{i}]", m["content"]) for i, m in enumerate(row.get("messages", []))]
        if row.get("reference"):
            texts.append((f"{row['id']}.reference", row["reference"]))
        for label, text in texts:
            ids = tuple(tokenize(text)) if tokenize else ()
            out.append(Canary(label=label, text=text, token_ids=ids))
    return out
