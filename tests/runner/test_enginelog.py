"""Engine logs are for maintainers only: sealed to the maintainers' key (only the private key
opens them), or kept on the runner host; and the organizer's noise calibration from honest
runs' results."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from runner import enginelog
from runner.calibrate import calibrate, Calibration
from tests.conftest import REPO

SECRET = "the private prompt that an engine printed"


def arena(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "arena", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=120)


def test_sealed_logs_open_with_the_private_key_only(tmp_path: Path) -> None:
    public, private = enginelog.keygen()
    logs = {"submission": tmp_path / "submission.log", "referee": tmp_path / "referee.log"}
    logs["submission"].write_text(f"INFO serving\n{SECRET}\n")
    logs["referee"].write_text("INFO referee\n")
    sealed = enginelog.seal_logs(logs, public, tmp_path / "out" / "engine-logs.sealed.json", "r1")
    text = sealed.read_text()
    assert SECRET not in text and "serving" not in text  # nothing readable travels
    opened = enginelog.open_logs(sealed, private)
    assert opened["submission"].decode().endswith(f"{SECRET}\n")
    _, other = enginelog.keygen()
    try:
        enginelog.open_logs(sealed, other)
        raise AssertionError("another key opened the logs")
    except Exception as exc:  # cryptography's InvalidTag
        assert type(exc).__name__ == "InvalidTag"


def test_the_logs_command_makes_keys_and_opens_logs(tmp_path: Path) -> None:
    key = tmp_path / "maintainers.key"
    p = arena("logs", "keygen", "--private-out", str(key))
    assert p.returncode == 0, p.stderr
    assert key.stat().st_mode & 0o777 == 0o600
    public = p.stdout.split('maintainers_key: "')[1].split('"')[0]
    log = tmp_path / "submission.log"
    log.write_text(SECRET)
    sealed = enginelog.seal_logs({"submission": log}, public, tmp_path / "s.json", "r1")
    p = arena("logs", "open", str(sealed), "--key", str(key), "--out", str(tmp_path / "open"))
    assert p.returncode == 0 and (tmp_path / "open" / "submission.log").read_text() == SECRET
    other = tmp_path / "other.key"
    arena("logs", "keygen", "--private-out", str(other))
    p = arena("logs", "open", str(sealed), "--key", str(other), "--out", str(tmp_path / "x"))
    assert p.returncode == 1 and "does not open with this key" in p.stderr
    assert "Traceback" not in p.stderr
    p = arena("logs", "open", str(tmp_path / "missing.json"), "--key", str(key), "--out",
              str(tmp_path / "y"))
    assert p.returncode == 2 and "cannot open" in p.stderr and "Traceback" not in p.stderr


def result_with(tokens: int, non_top1: int, lead: float, rank: int) -> dict:
    return {"checks": [{"name": "near_ties", "status": "pass", "message": "",
                        "figures": {"tokens": tokens, "non_top1": non_top1,
                                    "largest_lead": lead, "largest_rank": rank}}]}


def test_calibration_pools_honest_runs_and_keeps_a_margin() -> None:
    cal = calibrate([result_with(4608, 1, 0.0019, 2), result_with(6912, 2, 0.0039, 2),
                     {"checks": [{"name": "near_ties", "status": "skip", "figures": {}}]}])
    assert cal == Calibration(runs=2, tokens=11520, non_top1=3, largest_lead=0.0039,
                              largest_rank=2)
    block = cal.noise_block(margin=0.05, source="two runs")
    assert block["rate"] == round(3 / 11520, 8) and block["tokens"] == 11520
    assert block["max_lead"] == 0.01  # twice the largest seen, at least the floor
    assert calibrate([result_with(1000, 5, 0.2, 3)]).noise_block(0.05, "x")["max_lead"] == 0.05


def test_the_calibrate_command_prints_the_noise_block(tmp_path: Path) -> None:
    import yaml

    from arena.result import validate_result
    from tests.support import sample

    doc = sample.make_result("arena-maintainers/plain", private=(400.0, 401.0, 402.0))
    validate_result(doc)
    path = tmp_path / "result.json"
    path.write_text(json.dumps(doc))
    p = arena("calibrate", str(path), "--challenge", str(REPO / "demo" / "challenge.yaml"))
    assert p.returncode == 0, p.stderr
    noise = yaml.safe_load(p.stdout)["integrity"]["noise"]
    assert set(noise) == {"rate", "max_lead", "max_rank", "tokens", "source"}
    p = arena("calibrate", str(tmp_path / "nothing.json"))
    assert p.returncode == 2 and "not a result document" in p.stderr
