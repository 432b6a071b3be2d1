"""At validation: a note when a submission's normalized configuration (config SHA-256) equals
one already in the repository, with a link and what became of it. A note only: nothing fails.

Which files match is arena/tried.py's (the same `arena validate` prints). Outcomes come from
the results store when a checkout of the results branch is at `.arena/results-store` beside
challenge.yaml (leaderboard.ranking's statuses); without one the note says where to look.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable, Sequence

from arena.challenge import Challenge
from arena.result import Result, result_errors
from arena.store import ResultsStore
from arena.submission import FileReport
from arena.tried import same_configuration
from bot.render import code
from leaderboard.ranking import on_hardware, run_status, scored_tps, submission_state

STORE = Path(".arena") / "results-store"
MAX_NOTED = 5


def outcomes(store_dir: Path | None, ids: Iterable[str], hardware: str) -> dict[str, str]:
    """What became of each submission, in words, from the results store."""
    ids = set(ids)
    if store_dir is None or not store_dir.is_dir() or not ids:
        return {}
    store = ResultsStore(store_dir)
    verdicts = store.verdicts()
    runs: dict[str, list[Result]] = {}
    # Only the folders of the submissions asked about are read.
    for sid in ids:
        login, _, name = sid.partition("/")
        for f in sorted((store.results_dir / login / name).glob("*.json")):
            try:
                doc = json.loads(f.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if result_errors(doc):
                continue
            run = Result(doc)
            if on_hardware(run, hardware):
                runs.setdefault(sid, []).append(run)
    out: dict[str, str] = {}
    for sid in ids:
        mine = [v for v in verdicts if v["submission"] == sid]
        state = submission_state(sid, mine)
        if state.state != "active":
            out[sid] = state.state
            continue
        read = sorted(runs.get(sid, []), key=lambda r: (r.started_at, r.run_id), reverse=True)
        if not read:
            out[sid] = "no run yet"
            continue
        sts = [(r, run_status(r, mine)) for r in read]
        good = [scored_tps(r) for r, st in sts if st.status == "verified"]
        good = [t for t in good if t is not None]
        if good:
            out[sid] = f"verified, best {max(good):.1f} tokens/s"
            continue
        latest, st = sts[0]
        check = next((x.check for x in latest.reasons), None)
        out[sid] = f"{st.status}" + (f" ({check})" if check else "")
    return out


def notes(challenge: Challenge, reports: Sequence[FileReport], *, repo_url: str,
          branch: str = "main", store_dir: Path | None = None) -> list[str]:
    """Markdown lines for the validation comment; empty when nothing is a duplicate."""
    subs = [r.submission for r in reports if r.submission is not None]
    if not subs:
        return []
    found = same_configuration(challenge, subs)
    # Two files of one pull request with one configuration.
    for a in subs:
        for b in subs:
            if a.id != b.id and a.config_sha256() == b.config_sha256():
                found[a.id].append((b.id, b.path, b))
    if store_dir is None:
        store_dir = challenge.root / STORE
    said = outcomes(store_dir, {x for hits in found.values() for x, _, _ in hits},
                    challenge.hardware)
    lines: list[str] = []
    for sid, hits in found.items():
        if not hits:
            continue
        listed = []
        for other, path, sub in hits[:MAX_NOTED]:
            what = ("a negative result: " + sub.tried.outcome if sub.tried else
                    said.get(other, "outcome: see the tried page of the leaderboard site"))
            listed.append(f"[{code(other, 104)}]({repo_url}/blob/{branch}/{path}) ({what})")
        more = f" and {len(hits) - MAX_NOTED} more" if len(hits) > MAX_NOTED else ""
        lines.append(f"- {code(sid, 104)} has the same normalized configuration (config "
                     f"SHA-256) as " + ", ".join(listed) + more + ".")
    if not lines:
        return []
    return ["", "**Already tried?** (a note, not a problem: nothing fails because of it)", "",
            *lines, "",
            "A run of the same configuration measures the same thing again: useful to check "
            "the noise, rarely to move up. Change something, or file what you learned as a "
            "negative result (a `tried:` block; see CONTRIBUTING.md)."]
