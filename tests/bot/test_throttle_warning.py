"""A run whose GPU throttled gets a warning in the bot's result comment; one that did not, none."""

from __future__ import annotations

import json

import pytest
from conftest import submission_yaml

from arena import exitcodes
from arena.result import validate_result
from arena.submission import validate_file
from bot.publish import publish
from bot.validation import base_index
from helpers import make_result, rendered

PATH = "submissions/alice/fast.yaml"
THROTTLED = {"source": "nvml", "gpu": "NVIDIA A10G", "samples": 240, "interval_s": 1.0,
             "duration_s": 240.0,
             "metrics": {"sm_clock_mhz": {"min": 1395.0, "median": 1710.0, "max": 1710.0}},
             "throttle_reasons": {"gpu_idle": 2, "sw_thermal_slowdown": 31},
             "throttled": True}


@pytest.fixture
def queued(fake, bot, comment_event, validate):
    pr = fake.open_pull("alice", {PATH: submission_yaml()})
    from bot.commands import on_issue_comment
    validate(bot, pr.number)  # /bench approves the head the validation named
    on_issue_comment(bot, comment_event(pr.number, "/bench", "arena-maintainers"))
    bot.run_id = str(fake.runs[-1].id)
    return pr


@pytest.mark.parametrize("throttled", [True, False])
def test_the_result_comment_warns_when_the_gpu_throttled(fake, bot, queued, challenge,
                                                         tmp_path, throttled):
    cfg = validate_file(submission_yaml(), path_in_repo=PATH, challenge=challenge,
                        index=base_index(challenge)).submission.config_sha256()
    doc = make_result("alice/fast", path=PATH, commit=None, config_sha256=cfg)
    doc["telemetry"] = dict(THROTTLED, throttled=throttled,
                            throttle_reasons={"gpu_idle": 2} if not throttled else
                            THROTTLED["throttle_reasons"])
    validate_result(doc)
    f = tmp_path / "result.json"
    f.write_text(json.dumps(doc))
    assert publish(bot, pr=queued.number, sha=queued.head_sha, path=PATH, result_file=f,
                   bench_outcome="success") == exitcodes.OK
    body = fake.bot_comments(queued.number)[-1].body
    if throttled:
        assert "The GPU throttled during the timed passes: sw_thermal_slowdown (31 of 240 " \
               "samples)" in body
        assert "gpu_idle" not in body.split("<details>")[0]
        assert "<blockquote>" in rendered(body)
    else:
        assert "throttled during" not in body
