#!/usr/bin/env python3
"""Screenshots of the leaderboard site in headless Chromium: home, tree and a submission page,
at 375 px (a phone) and 1440 px (a desktop), full page, light and dark.

    scripts/screenshots.py [--site DIR] [--out DIR] [--submissions N] [--dark]

Without --site it builds a site from a synthetic challenge history (N submissions, default 60)
in a temporary folder. Prints each file written, and fails (exit 1) if a page logged a console
error, raised, opened a dialog, or made a request that left localhost.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from arena.challenge import load_challenge  # noqa: E402
from tests.support import preview, sample  # noqa: E402
from leaderboard.site import build_site, page_path  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--site", type=Path, help="an already built site (default: build one)")
    ap.add_argument("--out", type=Path, default=Path(".arena/screenshots"))
    ap.add_argument("--submissions", type=int, default=60)
    ap.add_argument("--dark", action="store_true", help="also take dark-mode screenshots")
    ap.add_argument("--submission", help="the submission page to shoot, as <login>/<name>")
    args = ap.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="arena-shots-") as tmp:
        site = args.site
        sub = args.submission
        if site is None:
            root = Path(tmp) / "challenge"
            print(f"building a site of {args.submissions} synthetic submissions", flush=True)
            challenge = load_challenge(sample.synthetic_history(root,
                                                                submissions=args.submissions))
            site = Path(tmp) / "site"
            build_site(challenge, root / "store", site,
                       repo_url="https://github.com/example/arena")
        if sub is None:
            import json
            board = json.loads((site / "api" / "leaderboard.json").read_text())
            subs = json.loads((site / "api" / "submissions.json").read_text())["submissions"]
            # The page with the most to show: the leader, else any submission.
            sub = board["entries"][0]["submission"] if board["entries"] else (
                subs[0]["id"] if subs else None)
        bad = 0
        with preview.serve_folder(site) as base, preview.browser() as b:
            for scheme in (["light", "dark"] if args.dark else ["light"]):
                out = args.out if scheme == "light" else args.out / "dark"
                shots = preview.screenshots(b, base, out,
                                            page_path(sub) if sub else "index.html",
                                            scheme=scheme)
                for path, watch in shots:
                    outside = [u for u in watch.requests if not u.startswith(base)]
                    problems = watch.console_errors + watch.page_errors + watch.dialogs + outside
                    print(f"{path}{'  PROBLEMS: ' + '; '.join(problems) if problems else ''}")
                    bad += bool(problems)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
