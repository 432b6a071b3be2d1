"""Control runs: a recorded control series with a step change flags the runs measured after it
on that runner, and a flat one flags none; a clear record lifts the flags; the site draws each
track's series and flags the runs on their pages."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest

from arena.cli import main
from arena.challenge import load_challenge
from arena.controls import (analyse, control_relpath, flagged, load_clears, load_controls,
                            new_clear_record)
from arena.result import validate_result, write_json_atomic
from arena.store import ResultsStore
from tests.support import sample

UTC = dt.timezone.utc
CONTROL = "arena-maintainers/bf16-baseline"
CHECKS = [{"name": "greedy_fidelity", "status": "pass", "message": "16/16 identical",
           "figures": {"prompts": 16}}]


def day(n: int, hour: int = 4) -> dt.datetime:
    return dt.datetime(2026, 11, 1, hour, 17, tzinfo=UTC) + dt.timedelta(days=n)


def control(n: int, tps: float, *, driver: str = "550.54.15", verdict: str = "verified"
            ) -> dict:
    doc = sample.make_result(CONTROL, started_at=day(n), verdict=verdict,
                             private=(tps - 0.5, tps, tps + 0.5) if verdict != "error" else None,
                             public=None if verdict == "error" else (tps, tps, tps),
                             reasons=[("engine", "crashed")] if verdict == "error" else (),
                             checks=CHECKS,
                             provenance={"pr": None, "head_sha": "c" * 40, "run_url": None,
                                         "requested_by": "arena-control", "control": True})
    doc["fingerprint"]["driver"] = driver
    return validate_result(doc)


def run(sid: str, n: int, hour: int, *, driver: str = "550.54.15", tps: float = 250.0) -> dict:
    doc = sample.make_result(sid, started_at=day(n, hour), private=(tps, tps, tps),
                             checks=CHECKS)
    doc["fingerprint"]["driver"] = driver
    return validate_result(doc)


FLAT = [300.0, 300.6, 299.4, 300.2, 299.8, 300.5, 299.6, 300.1, 300.3, 299.9]
STEP = FLAT[:5] + [281.0, 280.4, 281.3, 280.8, 280.9]  # -6.4% from day 5 on


def results_around_the_step() -> list[dict]:
    return [run("alice/a", 1, 12), run("bob/b", 3, 12),  # before: measured on a good runner
            run("alice/a", 4, 12),  # after the last good control (day 4), before the step
            run("carol/c", 5, 12), run("bob/b", 8, 12),  # after the step
            run("dave/d", 6, 12, driver="560.35.03")]  # another runner of the track


def test_a_step_change_flags_the_runs_after_it_on_that_runner():
    tracks = analyse([control(i, v) for i, v in enumerate(STEP)], [], tolerance=0.03)
    t = tracks["a10g"]
    assert t.reference == pytest.approx(300.0)
    [d] = t.drifts
    assert d.runner == ("NVIDIA A10G", "550.54.15", "12.4")
    assert d.detected_at.startswith("2026-11-06") and d.tps == 281.0
    assert d.since.startswith("2026-11-05")  # the last control within tolerance
    assert [p.state for p in t.points] == ["baseline"] * 3 + ["ok"] * 2 + ["drift"] * 5
    docs = results_around_the_step()
    flags = flagged(docs, tracks)
    assert {docs[i]["run_id"] for i in (2, 3, 4)} == set(flags)
    assert "-6.3%" in flags[docs[3]["run_id"]].message()


def test_a_flat_series_flags_none():
    tracks = analyse([control(i, v) for i, v in enumerate(FLAT)], [], tolerance=0.03)
    assert tracks["a10g"].drifts == []
    assert {p.state for p in tracks["a10g"].points} <= {"baseline", "ok"}
    assert flagged(results_around_the_step(), tracks) == {}


def test_a_failed_control_neither_drifts_nor_sets_the_reference():
    docs = [control(0, 300.0), control(1, 0, verdict="error"), control(2, 300.4),
            control(3, 299.8), control(4, 300.2)]
    t = analyse(docs, [], tolerance=0.03)["a10g"]
    assert t.drifts == [] and t.points[1].state == "failed"
    assert t.reference == pytest.approx(300.0)


def test_a_drift_right_after_the_first_control_is_not_averaged_into_the_reference():
    t = analyse([control(0, 300.0), control(1, 270.0), control(2, 271.0)], [],
                tolerance=0.03)["a10g"]
    assert t.reference == 300.0 and [d.tps for d in t.drifts] == [270.0]


def test_a_new_runner_that_drifts_at_once_flags_every_run_it_measured():
    docs = [control(i, v) for i, v in enumerate(FLAT[:4])] + [
        control(4, 280.0, driver="560.35.03")]
    tracks = analyse(docs, [], tolerance=0.03)
    [d] = tracks["a10g"].drifts
    assert d.since is None and d.runner[1] == "560.35.03"
    res = results_around_the_step()
    assert set(flagged(res, tracks)) == {res[5]["run_id"]}  # only the new runner's run


def test_a_clear_lifts_the_flags_and_the_next_controls_set_a_new_reference():
    docs = [control(i, v) for i, v in enumerate(STEP)]
    clear = new_clear_record(track="a10g", by="maint-bob", reason="new driver accepted",
                             at=day(7, 12))
    tracks = analyse(docs, [clear], tolerance=0.03)
    t = tracks["a10g"]
    assert t.drifts == [] and t.reference == pytest.approx(280.85)  # days 8 and 9
    assert flagged(results_around_the_step(), tracks) == {}
    assert [p.state for p in t.points][:8] == ["before-clear"] * 8


def test_controls_are_stored_apart_and_read_back(tmp_path):
    root = tmp_path / "store"
    for i, v in enumerate(STEP):
        doc = control(i, v)
        write_json_atomic(root / control_relpath("a10g", doc["run_id"]), doc)
    # a file under controls/ that is not a control, or in the wrong track, is not one
    stray = run("alice/a", 2, 12)
    write_json_atomic(root / control_relpath("a10g", stray["run_id"]), stray)
    wrong = control(11, 100.0)
    write_json_atomic(root / control_relpath("l4", wrong["run_id"]), wrong)
    (root / "drift").mkdir()
    (root / "drift" / "bad.json").write_text(json.dumps({"track": "a10g", "action": "clear"}))
    assert len(load_controls(root)) == len(STEP)
    assert load_clears(root) == []
    assert not list(ResultsStore(root).results())  # the ranking never sees a control


def write_store(root: Path, controls: list[dict], results: list[dict]) -> None:
    store = ResultsStore(root)
    for c in controls:
        write_json_atomic(root / control_relpath("a10g", c["run_id"]), c)
    for r in results:
        store.append_result(r)


def test_controls_status_and_clear_on_the_command_line(tmp_path, capsys):
    root = tmp_path / "store"
    res = results_around_the_step()
    write_store(root, [control(i, v) for i, v in enumerate(STEP)], res)
    assert main(["controls", "status", "--store", str(root), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["format"] == "arena.controls/1"
    assert doc["flagged_runs"] == sorted(res[i]["run_id"] for i in (2, 3, 4))
    assert main(["controls", "clear", "--store", str(root), "--track", "a10g", "--by",
                 "maint-bob", "--reason", "runner re-seated"]) == 0
    capsys.readouterr()
    assert main(["controls", "status", "--store", str(root), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["flagged_runs"] == []
    assert main(["controls", "clear", "--store", str(root), "--track", "A10G\x1b[2J", "--by",
                 "maint-bob", "--reason", "x"]) == 2
    assert "\x1b" not in capsys.readouterr().err


@pytest.mark.parametrize("series", ["step", "flat"])
def test_the_site_draws_the_series_and_flags_the_runs_on_their_pages(tmp_path, series):
    from leaderboard.site import build_site

    folder = tmp_path / "challenge"
    path = sample.challenge_folder(folder)
    for login, name in (("alice", "a"), ("bob", "b"), ("carol", "c"), ("dave", "d")):
        sample.write_submission(folder, login, name, description=f"{login} tries {name}")
    res = results_around_the_step()
    values = STEP if series == "step" else FLAT
    write_store(tmp_path / "store", [control(i, v) for i, v in enumerate(values)], res)
    out = tmp_path / "site"
    build_site(load_challenge(path), tmp_path / "store", out, jobs=1)
    page = (out / "controls.html").read_text()
    assert "<svg" in page and "<script" not in page.split("</head>")[1]
    assert page.count('class="ctl-') >= len(values)
    carol = (out / "submissions" / "carol" / "c.html").read_text()
    alice = (out / "submissions" / "alice" / "a.html").read_text()
    if series == "step":
        assert page.count('class="ctl-drift"') == 5
        assert "Drifted runners on a10g" in page
        assert "Flagged: measured on a runner whose control drifted" in carol
        assert alice.count("Flagged:") == 1  # its day-4 run, not its day-1 run
    else:
        assert 'class="ctl-drift"' not in page and "Drifted runners" not in page
        assert "Flagged:" not in carol + alice
    assert re.search(r'href="controls.html"', (out / "index.html").read_text())
    api = {r["run_id"]: r for r in json.loads((out / "api" / "runs.json").read_text())["runs"]}
    flagged_ids = {rid for rid, r in api.items() if r["flagged"]}
    assert flagged_ids == ({res[i]["run_id"] for i in (2, 3, 4)} if series == "step" else set())


def test_a_throttled_run_is_warned_about_on_its_card(tmp_path):
    from leaderboard.site import build_site

    folder = tmp_path / "challenge"
    path = sample.challenge_folder(folder)
    sample.write_submission(folder, "alice", "a", description="alice tries a")
    sample.write_submission(folder, "bob", "b", description="bob tries b")
    hot = run("alice/a", 1, 12)
    hot["telemetry"] = {"source": "nvidia-smi", "gpu": "NVIDIA A10G", "samples": 50,
                        "interval_s": 1.0, "duration_s": 50.0, "metrics": {},
                        "throttle_reasons": {"gpu_idle": 3, "hw_slowdown": 7},
                        "throttled": True}
    cool = run("bob/b", 1, 13)
    cool["telemetry"] = dict(hot["telemetry"], throttle_reasons={}, throttled=False)
    write_store(tmp_path / "store", [], [validate_result(hot), validate_result(cool)])
    out = tmp_path / "site"
    build_site(load_challenge(path), tmp_path / "store", out, jobs=1)
    alice = (out / "submissions" / "alice" / "a.html").read_text()
    bob = (out / "submissions" / "bob" / "b.html").read_text()
    assert "GPU throttled during the timed passes: hw_slowdown (7)." in alice  # not gpu_idle
    assert "GPU throttled" not in bob
    assert "No control runs recorded yet." in (out / "controls.html").read_text()
