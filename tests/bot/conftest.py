"""Fixtures for the bot tests: GitHub's REST description (loaded once), a fresh local fake GitHub
per test that fails the test on any request or response the description rejects, a challenge in
a temporary checkout, real webhook payloads with derived variants, and a bot pointed at the fake.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import shutil
import sys
import time
import urllib.parse
from pathlib import Path
from typing import Any, Callable

import pytest
import requests.adapters

sys.path.insert(0, str(Path(__file__).parent))

from openapi_check import description as load_description, webhook_examples  # noqa: E402
from fakegithub import FakeGitHub  # noqa: E402

from arena.challenge import load_challenge  # noqa: E402
from bot.client import ClientSettings, make_github  # noqa: E402
from bot.context import Bot  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SHA0 = "ee0ef6023621cff504d758262d4e04895a5af4a2"

# Test client: short backoffs so that fault injection stays fast. The timeout is longer than
# production's: it only ends a hang, and a 2-core CI machine starting vLLM servers on its other
# worker has stalled every request of a test for more than 5 s. A `timeout` fault does not
# wait for it: the client gives up on the one request the fake answers late after
# FAULT_TIMEOUT_S (see `fake`).
TEST_SETTINGS = dict(timeout_s=60, retries=2, backoff_s=0.01, max_wait_s=3.0,
                     write_interval_s=0.0)
FAULT_TIMEOUT_S = 1.0


def submission_yaml(name: str = "fast", *, description: str = "int4 weights, MTP drafter",
                    parent: str | None = None, extra_args: str = "") -> bytes:
    lines = [f"name: {name}", f"description: {json.dumps(description)}"]
    if parent:
        lines.append(f"parent: {parent}")
    lines += ["tags: [quantization]", "model:", "  id: google/gemma-4-E4B-it",
              f"  revision: {SHA0}", "engine:", "  name: vllm", '  version: "0.32.0"',
              "  args:", "    dtype: bfloat16", "    max_model_len: 4096"]
    if extra_args:
        lines.append(extra_args)
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture(scope="session")
def gh_description():
    return load_description()


@pytest.fixture(scope="session")
def webhooks():
    return webhook_examples()


def serve_checked(f):
    """Run a fake GitHub for one test; fail it if GitHub's description rejected an exchange."""
    f.start()
    yield f
    f.stop()
    if f.violations:
        pytest.fail("GitHub's REST description rejects what was exchanged with the fake:\n" +
                    "\n".join(f.violations[:10]))


@pytest.fixture
def fake(gh_description, monkeypatch):
    f = FakeGitHub(gh_description, timeout_delay=FAULT_TIMEOUT_S + 0.5)
    give_up_early_on_late_answers(monkeypatch, f)
    yield from serve_checked(f)


def give_up_early_on_late_answers(monkeypatch, f: FakeGitHub) -> None:
    """A real read timeout where the fake answers late on purpose, and only there: a request
    that a `timeout` fault is about to delay is read with FAULT_TIMEOUT_S; every other keeps
    the client's own timeout, so that a loaded machine cannot turn it into a second fault the
    test did not inject."""
    send = requests.adapters.HTTPAdapter.send

    def send_with_fault_timeout(self, request, **kwargs):
        path = urllib.parse.urlsplit(request.url).path
        if f.server is not None and request.url.startswith(f.url) and \
                f.will_time_out(request.method, path):
            kwargs["timeout"] = (TEST_SETTINGS["timeout_s"], FAULT_TIMEOUT_S)
        return send(self, request, **kwargs)

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", send_with_fault_timeout)


@pytest.fixture
def checkout(tmp_path):
    """A trusted base checkout: challenge.yaml, the public prompts and submissions/."""
    root = tmp_path / "checkout"
    (root / "prompts").mkdir(parents=True)
    shutil.copy(ROOT / "prompts" / "public.jsonl", root / "prompts" / "public.jsonl")
    shutil.copytree(ROOT / "submissions", root / "submissions")
    shutil.copy(ROOT / "challenge.yaml", root / "challenge.yaml")
    return root


@pytest.fixture
def make_challenge(checkout):
    def make(*, authors_may_bench: bool = False, runs_per_day: int = 5):
        text = (ROOT / "challenge.yaml").read_text(encoding="utf-8")
        text = text.replace("runs_per_author_per_day: 5",
                            f"runs_per_author_per_day: {runs_per_day}")
        text = text.replace("authors_may_bench: false",
                            f"authors_may_bench: {'true' if authors_may_bench else 'false'}")
        (checkout / "challenge.yaml").write_text(text, encoding="utf-8")
        return load_challenge(checkout / "challenge.yaml")
    return make


@pytest.fixture
def challenge(make_challenge):
    return make_challenge()


@pytest.fixture
def make_tracks_challenge(checkout):
    """tests/tracks/challenge.yaml in the checkout: two hardware tracks (a10g, l4)."""
    def make(*, authors_may_bench: bool = False):
        text = (ROOT / "tests" / "tracks" / "challenge.yaml").read_text(encoding="utf-8")
        text = text.replace("../../prompts/public.jsonl", "prompts/public.jsonl")
        if authors_may_bench:
            text = text.replace("authors_may_bench: false", "authors_may_bench: true")
        (checkout / "challenge.yaml").write_text(text, encoding="utf-8")
        return load_challenge(checkout / "challenge.yaml")
    return make


@pytest.fixture
def make_bot(fake, tmp_path):
    def make(challenge, *, token: str = "write-token", run_id: str | None = "777",
             **settings: Any) -> Bot:
        cs = ClientSettings(api_url=fake.url, **{**TEST_SETTINGS, **settings})
        out: list[str] = []
        bot = Bot(gh=make_github(token, cs), repo_full_name=fake.full_name, challenge=challenge,
                  login=fake.bot_login, run_id=run_id, max_wait_s=cs.max_wait_s,
                  step_summary=tmp_path / "summary.md",
                  sleep=lambda s: time.sleep(min(s, 0.05)), out=out.append)
        bot.log = out  # type: ignore[attr-defined]
        return bot
    return make


@pytest.fixture
def bot(make_bot, challenge):
    return make_bot(challenge)


# -- events from real payloads ------------------------------------------------------------------

@pytest.fixture
def pr_event(webhooks, fake) -> Callable[..., dict[str, Any]]:
    """A pull_request event from @octokit/webhooks-examples, pointed at a PR of the fake."""
    def make(number: int, action: str = "opened") -> dict[str, Any]:
        base = next(e for e in webhooks["pull_request"] if e["action"] == action)
        ev = copy.deepcopy(base)
        pr = fake.pulls[number]
        p = ev["pull_request"]
        p["number"] = ev["number"] = pr.number
        p["title"], p["body"] = pr.title, pr.body
        p["user"]["login"] = pr.author
        p["user"]["id"] = fake.uid(pr.author)
        p["head"]["sha"] = pr.head_sha
        p["head"]["repo"]["full_name"] = pr.head_repo
        p["head"]["repo"]["fork"] = pr.head_repo != fake.full_name
        p["base"]["repo"]["full_name"] = fake.full_name
        p["labels"] = [{"name": n, "id": i, "color": "ededed", "default": False}
                       for i, n in enumerate(pr.labels)]
        ev["repository"]["full_name"] = fake.full_name
        ev["repository"]["default_branch"] = "main"
        return ev
    return make


@pytest.fixture
def comment_event(webhooks, fake) -> Callable[..., dict[str, Any]]:
    """An issue_comment.created event from @octokit/webhooks-examples; on a PR it gets the
    `issue.pull_request` object GitHub adds there. The comment is also stored in the fake."""
    def make(number: int, body: str, login: str = "alice", user_type: str = "User"
             ) -> dict[str, Any]:
        base = next(e for e in webhooks["issue_comment"] if e["action"] == "created")
        ev = copy.deepcopy(base)
        stored = fake.add_comment(number, login, body, user_type)
        ev["comment"].update(id=stored.id, body=body, created_at=stored.created_at,
                             updated_at=stored.updated_at)
        ev["comment"]["user"].update(login=login, type=user_type, id=fake.uid(login))
        issue = ev["issue"]
        issue["number"] = number
        if number in fake.pulls:
            pr = fake.pulls[number]
            issue["user"]["login"], issue["state"] = pr.author, pr.state
            issue["pull_request"] = {
                "url": f"https://api.github.com/repos/{fake.full_name}/pulls/{number}",
                "html_url": f"https://github.com/{fake.full_name}/pull/{number}",
                "diff_url": f"https://github.com/{fake.full_name}/pull/{number}.diff",
                "patch_url": f"https://github.com/{fake.full_name}/pull/{number}.patch"}
        else:
            issue["user"]["login"] = fake.issues[number]["author"]
            issue.pop("pull_request", None)
        ev["repository"]["full_name"] = fake.full_name
        return ev
    return make


def utc(**kw: Any) -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc) - dt.timedelta(**kw)


@pytest.fixture
def validate(pr_event) -> Callable[..., int]:
    """Run the pull request's validation (as the validate workflow does on every push): /bench
    without a SHA approves the head that this last checked before the comment."""
    def run(bot: Bot, number: int) -> int:
        from bot.validation import on_pull_request
        return on_pull_request(bot, pr_event(number, "opened"))
    return run
