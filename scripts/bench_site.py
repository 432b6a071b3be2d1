#!/usr/bin/env python3
"""Benchmark the site build at scale: N synthetic submissions with R runs each (default 10,000
and 3), in a temporary folder; build the site; report the build time by phase and the home
page's size. Targets: a warm build under 10 s, home page under 500 KB.

    scripts/bench_site.py [--submissions N] [--runs R] [--keep DIR] [--json]

Generation is not timed. The build is what `arena site` does: read and validate every
submission file and every result, rank, render every page, write the JSON API and the feed.
Three builds are timed: cold (every file validated, every page rendered), warm (a rebuild into
the first one's site with the validation cache it filled: nothing changed but the build's time,
so only the board-wide pages are rendered again) and new-run (one more result in the store, and
a rebuild: the pages it changes are rendered again).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from arena.challenge import load_challenge  # noqa: E402
from tests.support import sample  # noqa: E402
from leaderboard.site import build_site  # noqa: E402

TARGET_S = 10.0
TARGET_HOME = 500 * 1024


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--submissions", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=3, help="runs per submission")
    ap.add_argument("--keep", type=Path,
                    help="generate into this folder and keep it; a history already there is "
                         "reused (generating 10,000 submissions takes minutes)")
    ap.add_argument("--work", type=Path, default=None,
                    help="where the temporary folder goes (e.g. /dev/shm to leave the disk "
                         "out of the figures; default: the system's temporary folder)")
    ap.add_argument("--jobs", type=int, default=None,
                    help="worker processes (default: one per core)")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = ap.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="arena-bench-site-", dir=args.work) as tmp:
        root = args.keep or Path(tmp)
        t = time.perf_counter()
        challenge_path = root / "challenge" / "challenge.yaml"
        if args.keep and challenge_path.is_file():
            print(f"reusing the history in {root}", file=sys.stderr, flush=True)
        else:
            print(f"generating {args.submissions} submissions x {args.runs} runs in {root}",
                  file=sys.stderr, flush=True)
            challenge_path = sample.synthetic_history(root / "challenge",
                                                      submissions=args.submissions,
                                                      runs_per_submission=args.runs)
        gen_s = time.perf_counter() - t
        for old in (root / "site", root / "cache.bin"):  # every run starts cold
            if old.is_dir():
                shutil.rmtree(old)
            elif old.exists():
                old.unlink()
        challenge = load_challenge(challenge_path)
        out = root / "site"
        cache = root / "cache.bin"
        builds = {}
        cpu: dict[str, float] = {}
        load = {"before": os.getloadavg()[0]}
        added = None
        for kind in ("cold", "warm", "new-run"):
            # cold: nothing known, every file validated, every page rendered; warm: a rebuild
            # after the first, the validation cache filled and the previous site there (what
            # the site workflow sees with both cached); new-run: one more result first.
            print(f"{kind} build", file=sys.stderr, flush=True)
            if kind == "new-run":
                added = _add_a_run(root / "challenge" / "store")
            t0 = os.times()
            builds[kind] = build_site(
                challenge, root / "challenge" / "store", out, cache_path=cache,
                jobs=args.jobs, repo_url="https://github.com/example/arena",
                progress=lambda m: print(f"  {m}", file=sys.stderr, flush=True))
            t1 = os.times()
            # This process and its workers, user and system: what the build cost in CPU,
            # which other load on the machine does not inflate the way it does wall time.
            cpu[kind] = sum(b - a for a, b in zip(t0[:4], t1[:4]))
        load["after"] = os.getloadavg()[0]
        if added is not None and args.keep:
            added.unlink()  # a kept history stays as generated
        report = builds["warm"]
        # What was tried: its pages, and the already-tried check of a new file against every
        # file of the board (what the validation job does for a pull request).
        tried_files = [f for f in out.rglob("*.html") if f.relative_to(out).as_posix()
                       .startswith("tried")]
        tried_sizes = sorted(((f.stat().st_size, f.relative_to(out).as_posix())
                              for f in tried_files), reverse=True)
        check_s = _already_tried_check(challenge)
        size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
        figures = {
            "format": "arena.bench-site/1",
            "submissions": args.submissions,
            "runs_per_submission": args.runs,
            "results": report.counts["runs"],
            "generate_s": round(gen_s, 2),
            "cores": os.cpu_count(),
            "build_s": {k: round(b.seconds, 2) for k, b in builds.items()},
            "rendered": {k: getattr(b, "rendered", b.files) for k, b in builds.items()},
            "build_cpu_s": {k: round(v, 2) for k, v in cpu.items()},
            "load_average": load,
            "phases_s": {k: {p: round(v, 2) for p, v in b.phases.items()}
                         for k, b in builds.items()},
            "pages": report.pages,
            "files": report.files,
            "site_bytes": size,
            "home_bytes": report.home_bytes,
            "largest": sorted(((f.stat().st_size, f.relative_to(out).as_posix())
                               for f in out.rglob("*") if f.is_file()), reverse=True)[:5],
            "targets": {"build_s": TARGET_S, "home_bytes": TARGET_HOME},
            "tried": {"pages": len(tried_sizes), "bytes": sum(b for b, _ in tried_sizes),
                      "largest": tried_sizes[:3], "already_tried_check_s": round(check_s, 3)},
        }
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print(f"{args.submissions} submissions, {report.counts['runs']} results, "
              f"{os.cpu_count()} cores, load average {load['before']:.1f} before and "
              f"{load['after']:.1f} after")
        for kind, b in builds.items():
            ok_t = "ok" if b.seconds < TARGET_S else "OVER TARGET"
            print(f"{kind:>7} build: {b.seconds:6.2f} s wall, {cpu[kind]:6.2f} s CPU, "
                  f"{figures['rendered'][kind]} files rendered (target < "
                  f"{TARGET_S:.0f} s: {ok_t})  " +
                  ", ".join(f"{k} {v:.2f}" for k, v in b.phases.items()))
        ok_h = "ok" if report.home_bytes < TARGET_HOME else "OVER TARGET"
        print(f"home page:  {report.home_bytes / 1024:6.1f} KB (target < "
              f"{TARGET_HOME // 1024} KB: {ok_h})")
        print(f"site:       {report.pages} pages, {report.files} files, {size / 2**20:.1f} MB")
        print("largest:    " + ", ".join(f"{p} {b / 2**20:.1f} MB" for b, p in
                                        figures["largest"][:3]))
        t = figures["tried"]
        print(f"tried:      {t['pages']} pages, {t['bytes'] / 2**20:.1f} MB, largest "
              f"{t['largest'][0][1]} {t['largest'][0][0] / 1024:.0f} KB (page target < "
              f"{TARGET_HOME // 1024} KB: "
              f"{'ok' if t['largest'][0][0] < TARGET_HOME else 'OVER TARGET'}); "
              f"already-tried check of a new file: {t['already_tried_check_s']:.2f} s")
    return 0


def _add_a_run(store_root: Path) -> Path:
    """The first run of a new submission, in the middle of the board (what most new results
    are); returns its file."""
    from arena.store import ResultsStore
    return ResultsStore(store_root).append_result(sample.make_result(
        "newcomer/fresh-idea", started_at="2026-11-15T10:00:00Z", private=(199.0, 200.0, 201.0)))


def _already_tried_check(challenge) -> float:
    """Seconds for bot.tried.same_configuration: a copy of the board's last file, as a new
    submission, against every file."""
    from arena.submission import SubmissionIndex, validate_file
    from bot.tried import same_configuration
    files = sorted(challenge.submissions_dir.glob("*/*.yaml"))
    index = SubmissionIndex.scan(challenge.submissions_dir)
    raw = files[-1].read_bytes()
    name = files[-1].stem
    raw = raw.replace(f"name: {name}".encode(), b"name: copy")
    report = validate_file(raw, path_in_repo="submissions/newcomer/copy.yaml",
                           challenge=challenge, index=index)
    if report.submission is None:
        return float("nan")
    t = time.perf_counter()
    same_configuration(challenge, [report.submission])
    return time.perf_counter() - t


if __name__ == "__main__":
    sys.exit(main())
