"""The digest (pure document, the issue) and the `arena bot` entry point."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from conftest import ROOT, submission_yaml

from arena import exitcodes
from arena.cli import main
from arena.store import ResultsStore
from bot import labels
from bot.digest import FORMAT, build_digest, digest_for, update_digest
from bot.quota import RUN_NAME, RUN_NAME_RE, compute_quota, run_name
from fakegithub import BENCH_RUN_NAME, BENCH_RUN_NAME_OPTIONAL
from helpers import HOSTILE, assert_neutralized, make_result


@pytest.fixture
def store(tmp_path):
    s = ResultsStore(tmp_path / "store")
    s.append_result(make_result("bob/x", path="submissions/bob/x.yaml", commit=None,
                                config_sha256="2" * 64, tps=200.0, run_id="r1"))
    s.append_result(make_result("alice/fast", path="submissions/alice/fast.yaml", commit=None,
                                config_sha256="3" * 64, tps=150.0, run_id="r2"))
    s.append_verdict(submission="alice/fast", action="withdraw", reason=HOSTILE, by="alice")
    return s


def test_digest_document(challenge, store):
    doc = build_digest(challenge, [r.doc for r in store.results()], store.verdicts(),
                       now=dt.datetime(2026, 11, 22, tzinfo=dt.timezone.utc))
    assert doc["format"] == FORMAT
    assert [e["submission"] for e in doc["ranking"]] == ["bob/x"]  # alice withdrew
    assert doc["withdrawn_or_disqualified"][0]["submission"] == "alice/fast"
    assert {r["run_id"] for r in doc["recent_results"]} == {"r1", "r2"}
    assert doc["open_submissions"] is None and doc["quota"] is None
    json.dumps(doc)


def test_arena_digest_json_offline(store, checkout, capsys, monkeypatch):
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    rc = main(["digest", "--json", "--store", str(store.root), "--challenge",
               str(checkout / "challenge.yaml")])
    assert rc == exitcodes.OK
    doc = json.loads(capsys.readouterr().out)
    assert doc["format"] == FORMAT and doc["ranking"][0]["submission"] == "bob/x"
    assert "GITHUB_TOKEN" in doc["unavailable"]["open_submissions"]


def test_digest_issue_is_created_once_then_edited(fake, bot, store):
    pr = fake.open_pull("carol", {"submissions/carol/y.yaml": submission_yaml("y")},
                        title=HOSTILE, labels=[labels.VALIDATION["valid"]])
    doc = digest_for(bot, bot.challenge, store, login="alice", now=bot.now())
    assert doc["open_submissions"][0]["pr"] == pr.number
    assert doc["quota"]["used"] == 0
    assert update_digest(bot, doc) == exitcodes.OK
    assert update_digest(bot, doc) == exitcodes.OK  # unchanged: no edit
    [(n, issue)] = fake.issues.items()
    assert labels.DIGEST in issue["labels"] and issue["author"] == fake.bot_login
    assert len(fake.calls_to("issues/create")) == 1 and fake.calls_to("issues/update") == []
    assert_neutralized(issue["body"])
    store.append_result(make_result("dan/z", path="submissions/dan/z.yaml", commit=None,
                                    config_sha256="4" * 64, tps=300.0, run_id="r3"))
    update_digest(bot, digest_for(bot, bot.challenge, store, login=None, now=bot.now()))
    assert len(fake.calls_to("issues/update")) == 1 and "dan/z" in fake.issues[n]["body"]


def test_a_digest_issue_by_someone_else_is_not_taken_over(fake, bot, store):
    n = fake.open_issue("mallory", "Digest", "<!-- arena-bot kind=digest -->\nfake news")
    fake.issues[n]["labels"].append(labels.DIGEST)
    update_digest(bot, digest_for(bot, bot.challenge, store, login=None, now=bot.now()))
    assert fake.issues[n]["body"].endswith("fake news")
    assert len(fake.issues) == 2


def test_run_name_contract():
    name = run_name(12, "submissions/alice/fast.yaml", "a" * 40, "carol")
    m = RUN_NAME_RE.match(name)
    assert m and m["pr"] == "12" and m["requested_by"] == "carol" and m["author"] == "alice"
    expanded = re.sub(r"\$\{\{ inputs\.([a-z_]+) \}\}", lambda x: "{" + x.group(1) + "}",
                      BENCH_RUN_NAME)
    assert expanded == RUN_NAME
    workflow = ROOT / ".github" / "workflows" / "bench.yml"
    if workflow.exists():  # once the workflows land, their run-name must be this one
        import yaml
        # Deliberately extended for tracks and paired runs: the optional inputs follow.
        assert (yaml.safe_load(workflow.read_text())["run-name"]
                == BENCH_RUN_NAME + BENCH_RUN_NAME_OPTIONAL)


def test_quota_arithmetic():
    from bot.quota import BenchRun
    now = dt.datetime(2026, 11, 22, 12, tzinfo=dt.timezone.utc)
    runs = [BenchRun(i, 1, "submissions/alice/a.yaml", "a" * 40, "x",
                     now - dt.timedelta(hours=h), "completed", "success", "u")
            for i, h in enumerate([1, 5, 23, 25])]
    q = compute_quota("Alice", 2, runs, now)
    assert (q.used, q.left) == (3, 0)
    assert q.next_at == now - dt.timedelta(hours=5) + dt.timedelta(hours=24)
    assert compute_quota("alice", 5, runs, now).next_at is None


def test_arena_bot_event_end_to_end(fake, pr_event, checkout, tmp_path, monkeypatch, capsys):
    pr = fake.open_pull("alice", {"submissions/alice/fast.yaml": submission_yaml()})
    event = tmp_path / "event.json"
    event.write_text(json.dumps(pr_event(pr.number)))
    for k, v in {"GITHUB_EVENT_NAME": "pull_request_target", "GITHUB_EVENT_PATH": str(event),
                 "GITHUB_REPOSITORY": fake.full_name, "GITHUB_TOKEN": "write-token",
                 "GITHUB_API_URL": fake.url, "GITHUB_RUN_ID": "42",
                 "ARENA_GITHUB_WRITE_INTERVAL": "0",
                 "GITHUB_STEP_SUMMARY": str(tmp_path / "s.md")}.items():
        monkeypatch.setenv(k, v)
    assert main(["bot", "event", "--challenge", str(checkout / "challenge.yaml")]) == 0
    assert fake.labels_of(pr.number) == [labels.VALIDATION["valid"]]
    assert "/actions/runs/42" in fake.bot_comments(pr.number)[0].body


def test_arena_bot_without_the_actions_environment_says_what_is_missing(monkeypatch, capsys):
    for k in ("GITHUB_TOKEN", "GITHUB_REPOSITORY", "GITHUB_EVENT_NAME", "GITHUB_EVENT_PATH"):
        monkeypatch.delenv(k, raising=False)
    assert main(["bot", "event"]) == exitcodes.USAGE
    assert "GITHUB_EVENT_NAME" in capsys.readouterr().err
    assert main(["bot", "fetch-submission", "--pr", "1", "--sha", "a" * 40, "--path", "x",
                 "--out", "y"]) == exitcodes.USAGE
    assert "GITHUB_TOKEN" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["bot", "publish", "--pr", "1", "--sha", "short", "--path", "x",
              "--bench-outcome", "success"])
    assert exc.value.code == exitcodes.USAGE
