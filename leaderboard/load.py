"""Reading the site's inputs: the submission files (each checked by `validate_file`) and the
results store (each result checked against its schema), fast enough for thousands of files.

Validation is what costs (a millisecond or so per file, in the shared validators), so:
- Submission files are validated once each. The parent checks are the only part of
  `validate_file` that depends on other files; every file is first validated against an index
  that lists every submission without parents (the existence check is then exact), and a file
  whose parent chain would loop is validated again against the real index, for its exact
  problem. The outcome is the same as validating each file against `SubmissionIndex.scan`.
- A `ValidationCache` remembers what valid file contents hold (the parsed result, the
  submission), keyed by the SHA-256 of the bytes (and of the path and challenge file, for
  submissions) and of the validators' own source and schema, so a rebuild validates and
  parses only what changed. Invalid outcomes are never cached.
- Cache misses are validated in worker processes when there are many (fork, Linux only).

Without a cache, results are read through `ResultsStore.results()` itself.
"""

from __future__ import annotations

import hashlib
import json
import marshal
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable

from arena import result as result_module
from arena import submission as submission_module
from arena.challenge import Challenge, ModelRef
from arena.files import write_bytes_atomic
from arena.result import result_errors
from arena.store import ResultsStore
from arena.submission import (
    PatchInfo,
    Source,
    Submission,
    SubmissionIndex,
    disk_patch_reader,
    validate_file,
)
from leaderboard.model import SubmissionFile
from leaderboard.parallel import WORK, pool_map, worker_count

CACHE_FORMAT = "arena.site-cache/2"

Warn = Callable[[str], None]


def _validator_fingerprint() -> str:
    """Changes whenever the code or schema that decides validity changes."""
    h = hashlib.sha256()
    arena_dir = Path(submission_module.__file__).resolve().parent
    for name in ("submission.py", "yamlstrict.py", "shape.py", "challenge.py", "problems.py",
                 "text.py", "result.py", "patch.py"):
        h.update((arena_dir / name).read_bytes())
    h.update(json.dumps(result_module.RESULT_SCHEMA, sort_keys=True).encode())
    h.update(f"{sys.version_info[:2]} marshal {marshal.version}".encode())
    return h.hexdigest()


class ValidationCache:
    """What is known about file contents seen before: the parsed document of each result that
    validated, and the submission each valid submission file holds. Kept in one file in
    `marshal` format, which holds plain data only (loading it cannot run code, unlike pickle)
    and loads several times faster than parsing the JSON again. Entries not used by a build
    are dropped when it saves."""

    def __init__(self, path: Path | None):
        self.path = path
        self.fingerprint = _validator_fingerprint()
        self.results: dict[str, dict[str, Any]] = {}
        self.submissions: dict[str, dict[str, Any]] = {}
        self.hits = 0
        self.misses = 0
        self._used: set[str] = set()
        if path is not None and path.is_file():
            try:
                doc = marshal.loads(path.read_bytes())
            except (OSError, EOFError, ValueError, TypeError):  # truncated or foreign: afresh
                doc = {}
            if (isinstance(doc, dict) and doc.get("format") == CACHE_FORMAT
                    and doc.get("fingerprint") == self.fingerprint):
                self.results = doc.get("results") or {}
                self.submissions = doc.get("submissions") or {}

    def use(self, key: str) -> None:
        self._used.add(key)

    def save(self) -> None:
        if self.path is None:
            return
        doc = {"format": CACHE_FORMAT, "fingerprint": self.fingerprint,
               "results": {k: v for k, v in self.results.items() if k in self._used},
               "submissions": {k: v for k, v in self.submissions.items() if k in self._used}}
        write_bytes_atomic(self.path, marshal.dumps(doc), fsync=False)  # a cache: no fsync


# --- submission files -------------------------------------------------------------------------

def _submission_key(fingerprint: str, challenge_sha: str, rel: str, raw: bytes) -> str:
    h = hashlib.sha256()
    for part in (fingerprint.encode(), challenge_sha.encode(), rel.encode(), b"\0", raw):
        h.update(part)
    return h.hexdigest()


def _to_cache(sub: Submission) -> dict[str, Any]:
    d = asdict(sub)
    d["tags"] = list(sub.tags)
    return d


def _from_cache(d: dict[str, Any]) -> Submission:
    patch = d.get("patch")
    source = d.get("source")
    return Submission(**{**d, "model": ModelRef(**d["model"]), "tags": tuple(d["tags"]),
                         "patch": PatchInfo(**{**patch, "paths": tuple(patch["paths"])})
                         if patch else None,
                         "source": Source(**source) if source else None})


def _patch_reader(challenge: Challenge, rel: str) -> Any:
    """Reads the patch a submission file names, beside it in the checkout."""
    return disk_patch_reader((challenge.root / rel).parent)


def _patch_bytes(path: Path) -> bytes:
    """The patch beside a submission file, for the cache key (b"" when there is none)."""
    p = path.with_suffix(".patch")
    try:
        return p.read_bytes() if p.is_file() and not p.is_symlink() else b""
    except OSError:
        return b""


def _validate_one(i: int) -> tuple[int, Submission | None, str | None]:
    w = WORK
    rel, raw = w["items"][i]
    report = validate_file(raw, path_in_repo=rel, challenge=w["challenge"], index=w["index"],
                           read_patch=_patch_reader(w["challenge"], rel))
    if report.valid and report.submission is not None:
        return i, report.submission, None
    first = report.problems[0].format() if report.problems else "invalid"
    return i, None, f"{len(report.problems)} problem(s); first: {first}"


def load_submission_files(challenge: Challenge, warn: Warn, *,
                          cache: ValidationCache | None = None,
                          jobs: int | None = None) -> dict[str, SubmissionFile]:
    """Every valid submission file under the challenge's submissions folder, by id. Invalid
    files are shown nowhere (the bot reports them on their pull request); each is named in a
    warning."""
    root = challenge.submissions_dir
    if not root.is_dir():
        return {}
    items: list[tuple[str, bytes]] = []
    ids: list[str] = []
    patch_bytes: list[bytes] = []
    try:
        prefix = root.resolve().relative_to(challenge.root.resolve()).as_posix() + "/"
    except ValueError:  # a submissions folder outside the challenge's: named as it is
        prefix = root.name + "/"
    for f in sorted(root.glob("*/*.yaml")):
        rel = f"{prefix}{f.parent.name}/{f.name}"
        if f.is_symlink() or not f.is_file():
            warn(f"{rel}: skipped: not a regular file")
            continue
        items.append((rel, f.read_bytes()))
        ids.append(f"{f.parent.name}/{f.stem}")
        patch_bytes.append(_patch_bytes(f))
    # Every file exists as far as parents go; loops are checked below with the real parents.
    ids_only = SubmissionIndex({sid: None for sid in ids})

    fp = cache.fingerprint if cache else ""
    ch_sha = hashlib.sha256(challenge.path.read_bytes()).hexdigest() if cache else ""
    outcome: list[Submission | None] = [None] * len(items)
    problems: dict[int, str] = {}
    todo = []
    keys: list[str] = []
    for i, (rel, raw) in enumerate(items):
        # The patch beside it is part of what is validated, so of the key.
        key = _submission_key(fp, ch_sha, rel, raw + b"\0patch\0" + patch_bytes[i]) \
            if cache else ""
        keys.append(key)
        if cache:
            cache.use(key)
        hit = cache.submissions.get(key) if cache else None
        if hit is not None and (hit["parent"] is None or hit["parent"] in ids_only):
            # Valid before, and its parent still exists; loops are checked below.
            outcome[i] = _from_cache(hit)
            cache.hits += 1
        else:
            todo.append(i)
    if cache:
        cache.misses += len(todo)
    for i, sub, prob in pool_map(_validate_one, todo, worker_count(len(todo), jobs), items=items,
                                  challenge=challenge, index=ids_only):
        outcome[i] = sub
        if prob:
            problems[i] = prob
        elif cache and sub is not None:
            cache.submissions[keys[i]] = _to_cache(sub)

    # The real parents: of valid files from their submission, of the others as scan reads them.
    parents: dict[str, str | None] = {}
    for i, sid in enumerate(ids):
        sub = outcome[i]
        parents[sid] = sub.parent if sub is not None else _scan_parent(items[i][1], challenge)
    index = SubmissionIndex(parents)
    looped = on_cycles(parents)
    out: dict[str, SubmissionFile] = {}
    for i, (rel, raw) in enumerate(items):
        sub = outcome[i]
        if sub is not None and sub.id in looped:
            report = validate_file(raw, path_in_repo=rel, challenge=challenge, index=index,
                                   read_patch=_patch_reader(challenge, rel))
            sub = report.submission if report.valid else None
            if sub is None:
                first = report.problems[0].format() if report.problems else "invalid"
                problems[i] = f"{len(report.problems)} problem(s); first: {first}"
        if sub is None:
            warn(f"{rel}: skipped, not a valid submission ({problems.get(i, 'invalid')})")
            continue
        out[sub.id] = SubmissionFile(sub, raw.decode("utf-8", "replace"), rel)
    return out


def on_cycles(parents: dict[str, str | None]) -> set[str]:
    """The ids whose chain of parents comes back to them: exactly those for which
    `SubmissionIndex(parents).ancestry_reaches(parent, id)` holds, found in one pass instead
    of one walk up the lineage per file."""
    state: dict[str, int] = {}  # 1: on the path being walked, 2: done
    out: set[str] = set()
    for start in parents:
        path: list[str] = []
        cur: str | None = start
        while cur is not None and cur in parents and state.get(cur) is None:
            state[cur] = 1
            path.append(cur)
            cur = parents[cur]
        if cur is not None and state.get(cur) == 1:
            out.update(path[path.index(cur):])
        for node in path:
            state[node] = 2
    return out


def _scan_parent(raw: bytes, challenge: Challenge) -> str | None:
    """The parent `SubmissionIndex.scan` would read from a file that did not validate."""
    from arena import yamlstrict
    try:
        data = yamlstrict.load(raw, max_bytes=challenge.max_submission_bytes).data
    except yamlstrict.YamlError:
        return None
    if isinstance(data, dict) and isinstance(data.get("parent"), str):
        return data["parent"]
    return None


# --- the results store ------------------------------------------------------------------------

def _read_result(i: int) -> tuple[int, dict[str, Any] | None]:
    try:
        doc = json.loads(WORK["raws"][i])
    except ValueError:
        return i, None
    return i, (doc if not result_errors(doc) else None)


def load_store(store: ResultsStore, *, cache: ValidationCache | None = None,
               jobs: int | None = None,
               ) -> tuple[list[tuple[str, dict[str, Any]]], list[dict[str, Any]]]:
    """(results as (path relative to the store, document), verdict records). Files that do not
    parse or validate are skipped, as `ResultsStore.results()` skips them."""
    if cache is None:
        results = []
        for stored in store.results():
            results.append((_relative(stored.path, store.root), stored.doc))
        return results, store.verdicts()

    results_dir = store.results_dir
    paths = sorted(results_dir.glob("*/*/*.json")) if results_dir.is_dir() else []
    docs: list[dict[str, Any] | None] = [None] * len(paths)
    keys: list[str] = []
    raws: list[bytes] = []
    todo = []
    for i, p in enumerate(paths):
        try:
            raw = p.read_bytes()
        except OSError:
            keys.append("")
            raws.append(b"")
            continue
        raws.append(raw)
        key = hashlib.sha256(cache.fingerprint.encode() + raw).hexdigest()
        keys.append(key)
        cache.use(key)
        known = cache.results.get(key)
        if known is not None:
            docs[i] = known
            cache.hits += 1
        else:
            todo.append(i)
    cache.misses += len(todo)
    for i, doc in pool_map(_read_result, todo, worker_count(len(todo), jobs), raws=raws):
        docs[i] = doc
        if doc is not None:
            cache.results[keys[i]] = doc
    results = [(_relative(p, store.root), d) for p, d in zip(paths, docs) if d is not None]
    return results, store.verdicts()


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()
