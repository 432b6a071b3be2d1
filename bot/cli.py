"""The bot's entry point: `arena bot event|fetch-submission|publish|update-digest` and
`arena digest`. This is the only module that reads the environment (GitHub Actions sets
GITHUB_EVENT_NAME, GITHUB_EVENT_PATH, GITHUB_REPOSITORY, GITHUB_TOKEN, GITHUB_API_URL,
GITHUB_SERVER_URL, GITHUB_RUN_ID, GITHUB_STEP_SUMMARY); it builds the client and hands values to
the feature modules. bot/README.md lists every variable and permission each command needs.

The bot's modules are imported inside the command functions: `arena` registers these
subcommands at every start, and `arena validate` must not load PyGithub. None of these imports
dodges a cycle (no bot module imports this one but bot.control)."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path
from typing import Any, Mapping

from arena import exitcodes
from arena.commands import add_challenge_option
from arena.text import for_terminal

SHA_RE = re.compile(r"[0-9a-f]{40}")
DEFAULT_STORE = Path(".arena/results-store")


def register(sub: argparse._SubParsersAction) -> None:
    bot = sub.add_parser("bot", help="the GitHub bot (runs inside GitHub Actions)",
                         description="The GitHub side of arena. Each subcommand reads the GitHub "
                                     "Actions environment; see bot/README.md.")
    bsub = bot.add_subparsers(dest="bot_command", metavar="SUBCOMMAND")

    def common(p: argparse.ArgumentParser) -> None:
        add_challenge_option(p)

    ev = bsub.add_parser("event", help="answer the current event (pull request or comment)")
    common(ev)
    ev.set_defaults(func=cmd_event)

    fe = bsub.add_parser("fetch-submission",
                         help="write the submission file at an approved commit, if still the head")
    common(fe)
    fe.add_argument("--pr", type=_positive, required=True)
    fe.add_argument("--sha", type=_sha, required=True)
    fe.add_argument("--path", required=True, help="submissions/<login>/<name>.yaml")
    fe.add_argument("--out", type=Path, required=True, help="where to write the file's bytes")
    fe.set_defaults(func=cmd_fetch)

    pu = bsub.add_parser("publish", help="validate a run's result and tell the pull request")
    common(pu)
    pu.add_argument("--pr", type=_positive, required=True)
    pu.add_argument("--sha", type=_sha, required=True)
    pu.add_argument("--path", required=True)
    pu.add_argument("--result", type=Path, default=None,
                    help="the run's result.json (missing when the bench job produced none)")
    pu.add_argument("--bench-outcome", required=True,
                    choices=("success", "failure", "cancelled", "skipped"))
    pu.add_argument("--stage", type=Path, default=None,
                    help="the run's stage.json (default: beside --result); names the phase a "
                         "run without a result had reached")
    pu.add_argument("--requested-by", required=True,
                    help="login of whoever asked for the run (mentioned in the message)")
    pu.add_argument("--store", type=Path, required=True,
                    help="a checkout of the results branch, for the rank in the message (a "
                         "missing folder only drops the rank line)")
    pu.set_defaults(func=cmd_publish)

    ud = bsub.add_parser("update-digest", help="update the digest issue")
    common(ud)
    ud.add_argument("--store", type=Path, default=None,
                    help="a checkout of the results branch")
    ud.set_defaults(func=cmd_update_digest)
    bot.set_defaults(func=lambda args: (bot.print_help(), exitcodes.USAGE)[1])

    dg = sub.add_parser("digest", help="the state of the challenge in one document",
                        description="Top of the ranking, recent runs, open submissions and a "
                                    "quota. With GITHUB_TOKEN and GITHUB_REPOSITORY set, it asks "
                                    "GitHub for open pull requests and --login's quota.")
    common(dg)
    dg.add_argument("--json", action="store_true", help="print one JSON document (arena.digest/1)")
    dg.add_argument("--store", type=Path, default=None,
                    help=f"a checkout of the results branch (default: {DEFAULT_STORE} if present)")
    dg.add_argument("--login", default=None, help="whose benchmark quota to show")
    dg.set_defaults(func=cmd_digest)


def _positive(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number")
    if n < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return n


def _sha(text: str) -> str:
    if not SHA_RE.fullmatch(text):
        raise argparse.ArgumentTypeError("must be a full 40-character lowercase commit SHA")
    return text


class SetupError(Exception):
    pass


def _float_env(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        return float(raw)  # type: ignore[arg-type]
    except ValueError:
        raise SetupError(f"{name}={raw!r} is not a number")


def client_settings(env: Mapping[str, str]) -> Any:
    from bot.client import ClientSettings
    return ClientSettings(
        api_url=env.get("GITHUB_API_URL") or "https://api.github.com",
        timeout_s=int(_float_env(env, "ARENA_GITHUB_TIMEOUT", 20)),
        retries=int(_float_env(env, "ARENA_GITHUB_RETRIES", 3)),
        backoff_s=_float_env(env, "ARENA_GITHUB_BACKOFF", 1.0),
        max_wait_s=_float_env(env, "ARENA_GITHUB_MAX_WAIT", 60.0),
        write_interval_s=_float_env(env, "ARENA_GITHUB_WRITE_INTERVAL", 1.0),
    )


def bot_from_env(env: Mapping[str, str], challenge_path: Path | None,
                 event: dict[str, Any] | None = None) -> Any:
    """The Bot for this process, from the GitHub Actions environment."""
    from arena.commands import load_challenge_or_exit
    from bot.client import make_github
    from bot.context import Bot

    missing = [v for v in ("GITHUB_TOKEN", "GITHUB_REPOSITORY") if not env.get(v)]
    if missing:
        raise SetupError(f"{', '.join(missing)} not set. These commands run inside GitHub "
                         "Actions; see bot/README.md for what each needs.")
    repo = env["GITHUB_REPOSITORY"]
    if not re.fullmatch(r"[A-Za-z0-9-]+/[A-Za-z0-9._-]+", repo):
        raise SetupError(f"GITHUB_REPOSITORY={repo!r} is not owner/name")
    settings = client_settings(env)
    challenge = load_challenge_or_exit(challenge_path)
    default_branch = (((event or {}).get("repository") or {}).get("default_branch")
                      or env.get("ARENA_DEFAULT_BRANCH") or "main")
    summary = env.get("GITHUB_STEP_SUMMARY")
    return Bot(
        gh=make_github(env["GITHUB_TOKEN"], settings),
        repo_full_name=repo,
        challenge=challenge,
        login=env.get("ARENA_BOT_LOGIN") or "github-actions[bot]",
        server_url=env.get("GITHUB_SERVER_URL") or "https://github.com",
        run_id=env.get("GITHUB_RUN_ID") or None,
        bench_workflow=env.get("ARENA_BENCH_WORKFLOW") or "bench.yml",
        site_workflow=env.get("ARENA_SITE_WORKFLOW") or "site.yml",
        results_branch=env.get("ARENA_RESULTS_BRANCH") or "results",
        default_branch=default_branch,
        max_wait_s=settings.max_wait_s,
        step_summary=Path(summary) if summary else None,
    )


def _fail(message: str, code: int = exitcodes.USAGE) -> int:
    print(f"arena bot: {for_terminal(message)}", file=sys.stderr)
    return code


def read_event(env: Mapping[str, str]) -> tuple[str, dict[str, Any]]:
    name = env.get("GITHUB_EVENT_NAME")
    path = env.get("GITHUB_EVENT_PATH")
    if not name or not path:
        raise SetupError("GITHUB_EVENT_NAME and GITHUB_EVENT_PATH must be set (GitHub Actions "
                         "sets them).")
    try:
        payload = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SetupError(f"cannot read the event payload {path}: {exc}")
    if not isinstance(payload, dict):
        raise SetupError(f"the event payload {path} is not a JSON object")
    return name, payload


def cmd_event(args: argparse.Namespace) -> int:
    from bot.events import route
    env = os.environ
    try:
        name, payload = read_event(env)
        bot = bot_from_env(env, args.challenge, payload)
    except SetupError as exc:
        return _fail(str(exc))
    return route(bot, name, payload)


def cmd_fetch(args: argparse.Namespace) -> int:
    from bot.fetch import fetch_submission
    try:
        bot = bot_from_env(os.environ, args.challenge)
    except SetupError as exc:
        return _fail(str(exc))
    return fetch_submission(bot, pr=args.pr, sha=args.sha, path=args.path, out=args.out)


def cmd_publish(args: argparse.Namespace) -> int:
    from bot.publish import publish
    try:
        bot = bot_from_env(os.environ, args.challenge)
    except SetupError as exc:
        return _fail(str(exc))
    if not bot.run_id:
        return _fail("GITHUB_RUN_ID is not set: publish runs in the bench workflow's run.")
    store = args.store if args.store is not None and args.store.is_dir() else (
        DEFAULT_STORE if DEFAULT_STORE.is_dir() else None)
    return publish(bot, pr=args.pr, sha=args.sha, path=args.path, result_file=args.result,
                   bench_outcome=args.bench_outcome, requested_by=args.requested_by,
                   store_dir=store, stage_file=args.stage)


def _store(path: Path | None) -> tuple[Any, str | None]:
    from arena.store import ResultsStore
    if path is None:
        if DEFAULT_STORE.is_dir():
            return ResultsStore(DEFAULT_STORE), None
        return None, (f"no results store: pass --store DIR (a checkout of the results branch) "
                      f"or put one at {DEFAULT_STORE}")
    if not path.is_dir():
        return None, f"{path} is not a folder"
    return ResultsStore(path), None


def cmd_update_digest(args: argparse.Namespace) -> int:
    from bot.digest import digest_for, update_digest
    try:
        bot = bot_from_env(os.environ, args.challenge)
    except SetupError as exc:
        return _fail(str(exc))
    store, reason = _store(args.store)
    if store is None:
        return _fail(reason or "no results store")
    doc = digest_for(bot, bot.challenge, store, login=None, now=bot.now())
    return update_digest(bot, doc)


def cmd_digest(args: argparse.Namespace) -> int:
    from arena.commands import load_challenge_or_exit
    from bot.context import utc_now
    from bot.digest import digest_for, render_text
    env = os.environ
    bot = None
    if env.get("GITHUB_TOKEN") and env.get("GITHUB_REPOSITORY"):
        try:
            bot = bot_from_env(env, args.challenge)
        except SetupError as exc:
            return _fail(str(exc))
    challenge = bot.challenge if bot else load_challenge_or_exit(args.challenge)
    store, reason = _store(args.store)
    if args.store is not None and store is None:
        return _fail(reason or "no results store")
    doc = digest_for(bot, challenge, store, login=args.login, now=utc_now(), store_reason=reason)
    if args.json:
        json.dump(doc, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        print(render_text(doc))
    return exitcodes.OK
