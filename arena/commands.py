"""`arena validate` and `arena schema`: the submission contract on the command line."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from arena import exitcodes, yamlstrict
from arena.challenge import Challenge, ChallengeError, default_challenge_path, load_challenge
from arena.submission import (
    FileReport,
    SubmissionIndex,
    disk_patch_reader,
    iter_submission_files,
    location,
    schema_path,
    schema_text,
    validate_file,
)
from arena.problems import Problem
from arena.text import for_terminal

VALIDATE_FORMAT = "arena.validate/1"


CHALLENGE_HELP = ("challenge file (default: the nearest challenge.yaml from the current "
                  "directory upwards)")


def add_challenge_option(p: argparse.ArgumentParser, *, default: Path | None = None,
                         help: str = CHALLENGE_HELP) -> None:
    """`--challenge FILE`, read by `load_challenge_or_exit`: every command finds the challenge
    file the same way, so each says so in the same words."""
    p.add_argument("--challenge", type=Path, default=default, metavar="FILE", help=help)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "validate", help="check submission files against the challenge's rules",
        description="Check submission YAML files (and the engine patch each names, beside it). "
                    "Exit 0: all valid; 1: some invalid; "
                    "2: usage error. The bot runs exactly this check on pull requests.")
    p.add_argument("paths", nargs="*", type=Path, metavar="PATH",
                   help="submission files or folders (default: the challenge's submissions/)")
    add_challenge_option(p)
    p.add_argument("--json", action="store_true",
                   help=f"print one JSON document ({VALIDATE_FORMAT}) instead of text")
    p.set_defaults(func=cmd_validate)

    s = sub.add_parser("schema", help="write (or --check) submissions/schema.json",
                       description="Generate the published JSON Schema of submissions from the "
                                   "code and challenge.yaml.")
    add_challenge_option(s)
    s.add_argument("--check", action="store_true",
                   help="exit 1 if the published file differs from what the code generates")
    s.set_defaults(func=cmd_schema)

    t = sub.add_parser("track", help="print one hardware track of the challenge as JSON",
                       description="Print a track of challenge.yaml (default: the first) as one "
                                   "JSON object: name, runner_label, accelerator, "
                                   "runs_per_author_per_day. The bench workflow resolves its "
                                   "runner label with it. Exit 0: printed; 2: no such track "
                                   "(the message names the tracks) or an invalid challenge.")
    t.add_argument("name", nargs="?", default=None, metavar="NAME",
                   help="the track's name (default, or an empty string: the first track)")
    t.add_argument("--all", action="store_true", help="print every track, a JSON list")
    t.add_argument("--out", type=Path, default=None, metavar="FILE",
                   help="write the JSON to FILE instead of printing it")
    add_challenge_option(t)
    t.set_defaults(func=cmd_track)


def load_challenge_or_exit(path: Path | None) -> Challenge:
    try:
        return load_challenge(path)
    except ChallengeError as exc:
        where = path or default_challenge_path()
        print(f"arena: the challenge file {for_terminal(str(where))} is invalid:", file=sys.stderr)
        for prob in exc.problems:
            print("  " + prob.format(), file=sys.stderr)
        raise SystemExit(exitcodes.USAGE)


def repo_relative(path: Path, challenge: Challenge) -> str:
    """The path as it is written in the repository (relative to the challenge's folder)."""
    try:
        return path.resolve().relative_to(challenge.root.resolve()).as_posix()
    except ValueError:
        return path.name


def validate_paths(paths: list[Path], challenge: Challenge) -> list[FileReport]:
    """Validate files (folders expanded), each parsed once, with parents resolved against the
    submissions folder and against each other (a PR may add a parent and its child together)."""
    files = iter_submission_files(paths)
    loaded: dict[Path, tuple[bytes, yamlstrict.Document | yamlstrict.YamlError] | Problem] = {}
    overlay: dict[str, str | None] = {}
    for f in files:
        shown = str(f)
        if f.name.endswith(".patch"):
            loaded[f] = Problem(shown, 1, 1, "", (
                f"is an engine patch; it is checked with the submission that names it. Run "
                f"`arena validate` on {f.name[: -len('.patch')]}.yaml beside it."))
            continue
        if f.is_symlink():
            loaded[f] = Problem(shown, 1, 1, "", "is a symbolic link. Commit the file itself.")
            continue
        try:
            raw = f.read_bytes()
        except OSError as exc:
            loaded[f] = Problem(shown, 1, 1, "", f"cannot be read: {exc.strerror}.")
            continue
        try:
            parsed: yamlstrict.Document | yamlstrict.YamlError = yamlstrict.load(
                raw, max_bytes=challenge.max_submission_bytes)
        except yamlstrict.YamlError as exc:
            parsed = exc
        loaded[f] = (raw, parsed)
        login, stem = location(repo_relative(f, challenge), challenge)
        if login and stem:
            data = parsed.data if isinstance(parsed, yamlstrict.Document) else None
            parent = data.get("parent") if isinstance(data, dict) else None
            overlay[f"{login}/{stem}"] = parent if isinstance(parent, str) else None
    index = SubmissionIndex.scan(
        challenge.submissions_dir, max_bytes=challenge.max_submission_bytes,
        skip=frozenset(f.resolve() for f, v in loaded.items() if not isinstance(v, Problem)),
    ).with_overlay(overlay)
    reports = []
    for f in files:
        entry = loaded[f]
        if isinstance(entry, Problem):
            reports.append(FileReport(str(f), None, [entry]))
            continue
        raw, parsed = entry
        reports.append(validate_file(raw, path_in_repo=repo_relative(f, challenge),
                                     challenge=challenge, index=index, display_path=str(f),
                                     parsed=parsed, read_patch=disk_patch_reader(f.parent)))
    return reports


def cmd_validate(args: argparse.Namespace) -> int:
    challenge = load_challenge_or_exit(args.challenge)
    paths = args.paths or [challenge.submissions_dir]
    missing = [p for p in paths if not p.exists() and not p.is_symlink()]
    if missing:
        for p in missing:
            print(f"arena validate: {for_terminal(str(p))}: no such file or folder",
                  file=sys.stderr)
        return exitcodes.USAGE
    reports = validate_paths(paths, challenge)
    if not reports:
        print("arena validate: no .yaml files found in " +
              ", ".join(for_terminal(str(p)) for p in paths), file=sys.stderr)
        return exitcodes.USAGE
    valid = all(r.valid for r in reports)
    notes = tried_notes(challenge, reports)
    if args.json:
        doc: dict[str, Any] = {"format": VALIDATE_FORMAT, "challenge": challenge.id,
                               "valid": valid, "files": [r.to_json() for r in reports],
                               "notes": notes}
        json.dump(doc, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        for r in reports:
            if r.valid:
                assert r.submission is not None
                print(f"{for_terminal(r.path)}: valid ({r.submission.id})")
            else:
                for prob in r.problems:
                    print(prob.format())
        n_bad = sum(not r.valid for r in reports)
        print(f"{len(reports)} file{'s' if len(reports) != 1 else ''}: "
              f"{len(reports) - n_bad} valid, {n_bad} invalid")
        for n in notes:
            print(f"note: {for_terminal(n['file'])} has the same configuration (config "
                  f"SHA-256) as " + ", ".join(for_terminal(f"{x['submission']} ({x['path']})")
                                               for x in n["same_configuration_as"]) +
                  ": already tried (see the leaderboard's Tried page). Not a problem.")
    return exitcodes.OK if valid else exitcodes.INVALID


MAX_NOTED_FILES = 20  # a participant's files, not the whole folder (that would be N x N)


def tried_notes(challenge: Challenge, reports: list[FileReport]) -> list[dict[str, Any]]:
    """Valid files whose configuration a file of the submissions folder already has."""
    from arena.tried import same_configuration
    subs = {r.submission.id: r for r in reports if r.submission is not None}
    if not subs or len(subs) > MAX_NOTED_FILES:
        return []
    found = same_configuration(challenge, [r.submission for r in subs.values()
                                           if r.submission is not None])
    return [{"file": subs[sid].path,
             "same_configuration_as": [{"submission": x, "path": p} for x, p, _ in hits]}
            for sid, hits in found.items() if hits]


def track_json(track: Any) -> dict[str, Any]:
    return {"name": track.name, "runner_label": track.runner_label,
            "accelerator": track.accelerator,
            "runs_per_author_per_day": track.runs_per_author_per_day}


def cmd_track(args: argparse.Namespace) -> int:
    challenge = load_challenge_or_exit(args.challenge)
    if args.all:
        doc: Any = [track_json(t) for t in challenge.tracks]
    else:
        try:
            doc = track_json(challenge.track(args.name or None))
        except ChallengeError as exc:
            print(f"arena track: {for_terminal(exc.problems[0].message)}", file=sys.stderr)
            return exitcodes.USAGE
    text = json.dumps(doc) + "\n"
    if args.out is not None:
        args.out.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return exitcodes.OK


def cmd_schema(args: argparse.Namespace) -> int:
    challenge = load_challenge_or_exit(args.challenge)
    target = schema_path(challenge)
    text = schema_text(challenge)
    if args.check:
        current = target.read_text(encoding="utf-8") if target.exists() else None
        if current != text:
            print(f"{for_terminal(str(target))} is stale. Run `arena schema` and commit it.",
                  file=sys.stderr)
            return exitcodes.INVALID
        print(f"{for_terminal(str(target))} is up to date.")
        return exitcodes.OK
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    print(f"wrote {for_terminal(str(target))}")
    return exitcodes.OK
