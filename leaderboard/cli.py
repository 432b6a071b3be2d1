"""`arena site`: build the static leaderboard site, and preview it on localhost; `arena compare`:
two runs compared the way the board compares them."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from arena import exitcodes
from arena.commands import add_challenge_option
from arena.text import for_terminal

BUILD_FORMAT = "arena.site-build/1"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "site", help="build the leaderboard site (HTML, JSON API, feed) from the results store",
        description="Build the static leaderboard site from the submissions folder, a results "
                    "store and its verdict records. Exit 0: built; 2: bad arguments or an "
                    "output folder that is not a site; 3: the disk failed.")
    add_challenge_option(p)
    p.add_argument("--store", type=Path, default=Path(".arena/store"),
                   help="results store folder: results/ and verdicts/ (default: .arena/store)")
    p.add_argument("--out", type=Path, default=Path(".arena/site"),
                   help="output folder, replaced as a whole; a site built there before lends "
                        "the pages whose inputs did not change (default: .arena/site)")
    p.add_argument("--repo-url", default=None, metavar="URL",
                   help="the repository's web address, for links to pull requests and files "
                        "(default: from GITHUB_SERVER_URL and GITHUB_REPOSITORY; none: no "
                        "such links)")
    p.add_argument("--results-ref", default="results", metavar="BRANCH",
                   help="the branch that holds the results store (default: results)")
    p.add_argument("--cache", type=Path, default=Path(".arena/cache/site-inputs.bin"),
                   metavar="FILE",
                   help="remembers what valid files hold, so a rebuild validates and parses only "
                        "new files (default: .arena/cache/site-inputs.bin)")
    p.add_argument("--no-cache", action="store_true", help="validate every file")
    p.add_argument("--jobs", type=int, default=None, metavar="N",
                   help="worker processes for validation and pages (default: one per core)")
    p.add_argument("--serve", action="store_true",
                   help="after building, serve the site on 127.0.0.1 until interrupted")
    p.add_argument("--port", type=int, default=8000,
                   help="port for --serve (default: 8000; 0 picks a free one)")
    p.add_argument("--json", action="store_true",
                   help=f"print the build report as one JSON document ({BUILD_FORMAT})")
    p.set_defaults(func=cmd_site)
    register_compare(sub)


def register_compare(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "compare", help="compare two runs: TPS and PPL difference, interval, verdict",
        description="Compare run A with run B the way the board does: the difference in "
                    "tokens/s and in perplexity, the 95% interval of the TPS difference from "
                    "the two runs' passes, and the verdict (better, worse, tie) of the "
                    "ranking's tie rule. A and B are result files, or submission ids "
                    "(login/name, optionally login/name@run-id) looked up in --store. Exit 0: "
                    "compared; 2: bad arguments or inputs.")
    p.add_argument("a", metavar="A", help="the candidate: a result file or a submission id")
    p.add_argument("b", metavar="B", help="the baseline: a result file or a submission id")
    p.add_argument("--store", type=Path, default=None, metavar="DIR",
                   help="results store to look ids up in; its repeated runs also widen the tie "
                        "margin exactly as on the board")
    add_challenge_option(p)
    p.add_argument("--track", default=None, metavar="NAME",
                   help="the hardware track whose board and tie rule to use (default: the "
                        "challenge's first track)")
    p.add_argument("--json", action="store_true",
                   help="print one JSON document (arena.compare/1)")
    p.set_defaults(func=_cmd_compare)


def _cmd_compare(args: argparse.Namespace) -> int:
    from leaderboard.compare import cmd_compare
    return cmd_compare(args)


def cmd_site(args: argparse.Namespace) -> int:
    from arena.commands import load_challenge_or_exit
    from leaderboard.site import SiteError, build_site, check_repo_url, repo_url_from_env

    challenge = load_challenge_or_exit(args.challenge)
    try:
        repo = (check_repo_url(args.repo_url) if args.repo_url
                else repo_url_from_env(os.environ))
    except SiteError as exc:
        print(f"arena site: {for_terminal(str(exc))}", file=sys.stderr)
        return exitcodes.USAGE
    if not args.store.is_dir():
        print(f"arena site: no results store at {for_terminal(str(args.store))}; building a "
              "site with no runs (pass --store DIR to read one).", file=sys.stderr)
    say = (lambda m: print(m, file=sys.stderr)) if args.json else print
    try:
        report = build_site(
            challenge, args.store, args.out, repo_url=repo, results_ref=args.results_ref,
            cache_path=None if args.no_cache else args.cache, jobs=args.jobs,
            progress=lambda m: say(f"arena site: {for_terminal(m)}"),
            warn=lambda m: print(f"arena site: warning: {for_terminal(m)}", file=sys.stderr))
    except SiteError as exc:
        print(f"arena site: {for_terminal(str(exc))}", file=sys.stderr)
        return exitcodes.USAGE
    except OSError as exc:
        print(f"arena site: cannot write the site: {for_terminal(str(exc))}", file=sys.stderr)
        return exitcodes.INFRA
    if args.json:
        json.dump({"format": BUILD_FORMAT, "out": str(report.out), "pages": report.pages,
                   "files": report.files, "rendered": report.rendered,
                   "seconds": round(report.seconds, 3),
                   "home_bytes": report.home_bytes, "counts": report.counts,
                   "warnings": report.warnings,
                   "phases": {k: round(v, 3) for k, v in report.phases.items()}},
                  sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(f"arena site: built {for_terminal(str(report.out / 'index.html'))}")
    if args.serve:
        return serve(report.out, args.port)
    return exitcodes.OK


def serve(folder: Path, port: int) -> int:
    """Serve `folder` on 127.0.0.1 until interrupted: a preview, not a production server."""
    import functools
    import http.server

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, fmt: str, *a: object) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(folder))
    try:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    except OSError as exc:
        print(f"arena site: cannot listen on 127.0.0.1:{port}: {exc.strerror}. Try --port 0.",
              file=sys.stderr)
        return exitcodes.USAGE
    print(f"arena site: serving http://127.0.0.1:{server.server_address[1]}/ "
          "(Ctrl-C stops)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return exitcodes.OK
