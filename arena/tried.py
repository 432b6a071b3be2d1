"""Which submissions already have a configuration: the normalized configuration (config
SHA-256) of new files against every file of a submissions folder. The bot's validation notes it
on the pull request (bot/tried.py) and `arena validate` prints it; a note, never a problem.

Exact and cheap: a file is parsed only when its bytes hold the model's revision and the
arguments' names, and validated and hashed only when its model, engine and argument names match
(validation normalizes values, never names): 0.6 s against 10,000 files.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from arena import yamlstrict
from arena.challenge import Challenge
from arena.submission import Submission, SubmissionIndex, validate_file

def _names(args: Any, prefix: str = "") -> frozenset[str]:
    out: set[str] = set()
    if isinstance(args, Mapping):
        for k, v in args.items():
            name = f"{prefix}.{k}" if prefix else str(k)
            out |= _names(v, name) if isinstance(v, Mapping) else {name}
    return frozenset(out)


def _shape(data: Any) -> tuple[Any, ...] | None:
    """What validation never changes: model, engine and the names of the arguments."""
    if not isinstance(data, Mapping):
        return None
    m, e = data.get("model"), data.get("engine")
    if not isinstance(m, Mapping) or not isinstance(e, Mapping):
        return None
    try:
        return (str(m.get("id")), str(m.get("revision")), str(e.get("name")),
                str(e.get("version")), _names(e.get("args") or {}))
    except (TypeError, ValueError):
        return None


def _shape_of(sub: Submission) -> tuple[Any, ...]:
    return (sub.model.id, sub.model.revision, sub.engine_name, sub.engine_version,
            _names(sub.engine_args))


def same_configuration(challenge: Challenge, subs: Sequence[Submission],
                       ) -> dict[str, list[tuple[str, str, Submission]]]:
    """For each submission id in `subs`: the base checkout's submissions (id, path, parsed)
    with the same config SHA-256, itself excluded."""
    wanted = {s.id: (_shape_of(s), s.config_sha256()) for s in subs}
    shapes = {v[0] for v in wanted.values()}
    out: dict[str, list[tuple[str, str, Submission]]] = {sid: [] for sid in wanted}
    root = challenge.submissions_dir
    if not root.is_dir() or not wanted:
        return out
    # A file can only match when its bytes hold the model's revision and every argument's
    # name: only those are parsed. Validation needs to know which submissions exist (the file
    # names say); their parents only matter for cycles, which a file of the base checkout
    # passed when it was merged.
    needles = {s.config_sha256(): [s.model.revision.encode(),
                                   *sorted({n.rsplit(".", 1)[-1].encode()
                                            for n in _names(s.engine_args)})] for s in subs}
    files = [f for f in sorted(root.glob("*/*.yaml")) if not f.is_symlink() and f.is_file()]
    index = SubmissionIndex({f"{f.parent.name}/{f.stem}": None for f in files})
    candidates = []
    for f in files:
        try:
            raw = f.read_bytes()
        except OSError:
            continue
        if not any(all(n in raw for n in ns) for ns in needles.values()):
            continue
        try:
            doc = yamlstrict.load(raw, max_bytes=challenge.max_submission_bytes)
        except yamlstrict.YamlError:
            continue
        if _shape(doc.data) in shapes:
            candidates.append((f, raw, doc))
    for f, raw, doc in candidates:
        rel = f.relative_to(challenge.root).as_posix()
        report = validate_file(raw, path_in_repo=rel, challenge=challenge, index=index,
                               parsed=doc)
        if report.submission is None:
            continue
        sha = report.submission.config_sha256()
        for sid, (_, want) in wanted.items():
            if sha == want and report.submission.id != sid:
                out[sid].append((report.submission.id, rel, report.submission))
    return out
