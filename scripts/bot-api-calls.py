#!/usr/bin/env python3
"""How many GitHub API requests the bot makes for common work, measured against the local fake
GitHub of the tests (every request checked against GitHub's REST description). Prints one JSON
document. Needs `npm ci` (scripts/setup-test-tools.sh) and the test dependencies.

    .venv/bin/python scripts/bot-api-calls.py
"""

from __future__ import annotations

import collections
import json
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "bot")]

from arena.challenge import load_challenge  # noqa: E402
from bot.client import ClientSettings, make_github  # noqa: E402
from bot.context import Bot  # noqa: E402
from bot.validation import on_pull_request  # noqa: E402
from conftest import submission_yaml  # noqa: E402
from fakegithub import FakeGitHub  # noqa: E402
from openapi_check import description, webhook_examples  # noqa: E402


def main() -> int:
    tmp = Path(tempfile.mkdtemp())
    try:
        shutil.copytree(ROOT / "submissions", tmp / "submissions")
        (tmp / "prompts").mkdir()
        shutil.copy(ROOT / "prompts" / "public.jsonl", tmp / "prompts")
        shutil.copy(ROOT / "challenge.yaml", tmp / "challenge.yaml")
        challenge = load_challenge(tmp / "challenge.yaml")
        fake = FakeGitHub(description())
        fake.start()
        try:
            bot = Bot(gh=make_github("write-token", ClientSettings(api_url=fake.url,
                                                                   write_interval_s=0)),
                      repo_full_name=fake.full_name, challenge=challenge, login=fake.bot_login,
                      out=lambda line: None)
            figures = {}
            for label, author, files in [
                ("one-file PR, first validation", "alice",
                 {"submissions/alice/fast.yaml": submission_yaml()}),
                ("one-file invalid PR, first validation", "bob",
                 {"submissions/bob/x.yaml": submission_yaml("x", extra_args="    nope: 1")}),
            ]:
                pr = fake.open_pull(author, files)
                ev = json.loads(json.dumps(next(e for e in webhook_examples()["pull_request"]
                                                if e["action"] == "opened")))
                ev["pull_request"].update(number=pr.number, labels=[])
                ev["pull_request"]["head"]["sha"] = pr.head_sha
                ev["pull_request"]["user"]["login"] = author
                fake.reset_calls()
                on_pull_request(bot, ev)
                ops = collections.Counter(c.op for c in fake.calls)
                figures[label] = {"requests": len(fake.calls), "by_operation": dict(ops)}
            print(json.dumps({"format": "arena.bot-api-calls/1", "target": 8,
                              "figures": figures, "violations": fake.violations}, indent=2))
            return 0 if not fake.violations else 1
        finally:
            fake.stop()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
