"""Hardware tracks in challenge.yaml and in submissions (issue 16): one challenge, several
tracks, each with its runner label, quota and noise; a submission may name the tracks it
targets. Every bad input is a Problem at its file, line and field, never a traceback."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from arena.challenge import ChallengeError, load_challenge, result_track
from arena.submission import SubmissionIndex, submission_tracks, validate_file

from .conftest import REPO, dump, valid_submission

TWO_TRACKS = REPO / "tests" / "tracks" / "challenge.yaml"


@pytest.fixture(scope="module")
def two():
    return load_challenge(TWO_TRACKS)


def test_a_one_track_challenge_has_one_track_named_after_its_hardware(challenge):
    (t,) = challenge.tracks
    assert (t.name, t.runner_label, t.accelerator) == ("a10g", "a10g", None)
    assert t.runs_per_author_per_day == challenge.quota_runs_per_day
    assert t.noise == challenge.noise
    assert challenge.track(None) is t and challenge.track("a10g") is t


def test_a_two_track_challenge_keeps_its_order_quotas_and_noise(two):
    assert two.track_names == ("a10g", "l4")
    a10g, l4 = two.tracks
    assert two.hardware == "a10g" and two.track() is a10g
    assert (a10g.runner_label, a10g.accelerator) == ("a10g", "NVIDIA A10G")
    # a10g takes the challenge's defaults, l4 its own quota and noise
    assert a10g.runs_per_author_per_day == two.quota_runs_per_day == 5
    assert a10g.noise == two.noise
    assert (l4.runner_label, l4.runs_per_author_per_day) == ("l4", 3)
    assert (l4.noise.sigma, l4.noise.degrees_of_freedom) == (4.0, 10)
    # confidence and the unstable factor stay the ranking section's
    assert (l4.noise.confidence, l4.noise.unstable_factor) == (two.noise.confidence,
                                                               two.noise.unstable_factor)


def test_an_unknown_track_names_the_known_ones(two):
    with pytest.raises(ChallengeError) as info:
        two.track("h100")
    (p,) = info.value.problems
    assert p.field == "tracks" and p.line > 1 and p.file.endswith("challenge.yaml")
    assert "'h100' is not a track" in p.message and "a10g, l4" in p.message


def test_a_result_without_a_track_is_on_the_first_track(two):
    assert result_track({"challenge": {"id": "x", "hardware": "a10g"}}, two) == "a10g"
    assert result_track({"challenge": {"id": "x", "hardware": "l4", "track": "l4"}}, two) == "l4"
    assert result_track({}, two) == "a10g"


def _write(tmp_path: Path, change) -> Path:
    data = yaml.safe_load(TWO_TRACKS.read_text())
    change(data)
    (tmp_path / "prompts").mkdir(exist_ok=True)
    shutil.copy(REPO / "prompts" / "public.jsonl", tmp_path / "prompts" / "public.jsonl")
    data["prompts"]["public"] = "prompts/public.jsonl"
    path = tmp_path / "challenge.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _set(key, value):
    return lambda d: d.update({key: value})


def _track(name, **fields):
    return lambda d: d["tracks"][name].update(fields)


BROKEN = [
    ("hardware and tracks", _set("hardware", "a10g"), "tracks", "not both"),
    ("neither", lambda d: d.pop("tracks"), "", "'hardware' is missing"),
    ("empty mapping", _set("tracks", {}), "tracks", "names no track"),
    ("a list", _set("tracks", ["a10g", "l4"]), "tracks", "must be a mapping"),
    ("bad name", lambda d: d["tracks"].update({"A10G!": {"runner_label": "x"}}),
     "tracks.A10G!", "not a valid track name"),
    ("no label", lambda d: d["tracks"]["l4"].pop("runner_label"), "tracks.l4",
     "'runner_label' is missing"),
    ("bad label", _track("l4", runner_label="L4 GPU"), "tracks.l4.runner_label",
     "is not valid"),
    ("label with a comma", _track("l4", runner_label="l4, self-hosted"),
     "tracks.l4.runner_label", "is not valid"),
    ("duplicate label", _track("l4", runner_label="a10g"), "tracks.l4.runner_label",
     "also track 'a10g'"),
    ("unknown track field", _track("l4", gpus=2), "tracks.l4.gpus", "unknown field"),
    ("bad quota", _track("l4", runs_per_author_per_day=-1),
     "tracks.l4.runs_per_author_per_day", "out of range"),
    ("bad noise", _track("l4", noise={"sigma_tps": 1, "degrees_of_freedom": 3}),
     "tracks.l4.noise", "'source' is missing"),
    ("two sigmas", _track("l4", noise={"sigma_tps": 1, "sigma_relative": 0.01,
                                        "degrees_of_freedom": 3, "source": "ten chars at least"}),
     "tracks.l4.noise", "exactly one of sigma_tps"),
    ("hostile accelerator", _track("l4", accelerator="L4\u202e"), "tracks.l4.accelerator",
     "control characters"),
    ("too many", _set("tracks", {f"t{i}": {"runner_label": f"t{i}"} for i in range(17)}),
     "tracks", "at most 16"),
]


@pytest.mark.parametrize("case,change,field,message", BROKEN, ids=[b[0] for b in BROKEN])
def test_bad_tracks_are_reported_at_their_field(tmp_path, case, change, field, message):
    with pytest.raises(ChallengeError) as info:
        load_challenge(_write(tmp_path, change))
    problems = info.value.problems
    assert any(p.field == field and message in p.message for p in problems), \
        "\n".join(p.format() for p in problems)
    assert all(p.line >= 1 for p in problems)


def test_a_duplicate_track_name_is_a_duplicate_key(tmp_path):
    path = _write(tmp_path, lambda d: None)
    text = path.read_text().replace("  l4:\n", "  a10g:\n", 1)
    path.write_text(text)
    with pytest.raises(ChallengeError) as info:
        load_challenge(path)
    assert any("duplicate key 'a10g'" in p.message for p in info.value.problems)


# -- submissions ---------------------------------------------------------------------------------

def _check(challenge, doc):
    return validate_file(dump(doc), path_in_repo="submissions/alice/int4-mtp.yaml",
                         challenge=challenge, index=SubmissionIndex())


def test_a_submission_targets_every_track_unless_it_names_some(two):
    doc = valid_submission()
    every = _check(two, doc)
    assert every.valid and submission_tracks(every.submission, two) == ("a10g", "l4")
    doc["tracks"] = ["l4"]
    one = _check(two, doc)
    assert one.valid and submission_tracks(one.submission, two) == ("l4",)
    # the tracks are not part of the configuration: the same config hashes the same
    assert one.submission.config_sha256() == every.submission.config_sha256()
    assert "tracks" not in every.submission.to_json()
    assert one.submission.to_json()["tracks"] == ["l4"]


BAD_SUBMISSION_TRACKS = [
    ("unknown track", ["h100"], "tracks[0]", "'h100' is not a track of this challenge"),
    ("near miss", ["l5"], "tracks[0]", "Tracks: a10g, l4"),
    ("empty list", [], "tracks", "names no track"),
    ("a string", "l4", "tracks", "must be a list of track names"),
    ("twice", ["l4", "l4"], "tracks[1]", "listed twice"),
    ("a number", [4], "tracks[0]", "must be a track name"),
    ("too many", ["l4"] * 100, "tracks", "has 100 items"),
]


@pytest.mark.parametrize("case,value,field,message", BAD_SUBMISSION_TRACKS,
                         ids=[b[0] for b in BAD_SUBMISSION_TRACKS])
def test_bad_submission_tracks_are_reported(two, case, value, field, message):
    doc = valid_submission()
    doc["tracks"] = value
    report = _check(two, doc)
    assert not report.valid
    assert any(p.field == field and message in p.message for p in report.problems), \
        "; ".join(p.format() for p in report.problems)
    assert all(p.line >= 1 and p.column >= 1 for p in report.problems)


def test_a_one_track_challenge_accepts_its_own_track_only(challenge):
    doc = valid_submission()
    doc["tracks"] = ["a10g"]
    assert _check(challenge, doc).valid
    doc["tracks"] = ["l4"]
    report = _check(challenge, doc)
    assert [p.field for p in report.problems] == ["tracks[0]"]


# -- fuzzing: whatever `tracks` holds, a clean list of problems or a challenge --------------------

from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True),
                     st.sampled_from(["a10g", "l4", "L4", "", "a" * 60, "x,y", "\u202e",
                                      "runner_label", "noise", "1e999"]), st.text(max_size=10))
_values = st.recursive(_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4),
    st.dictionaries(st.one_of(st.sampled_from(["runner_label", "accelerator", "noise",
                                               "runs_per_author_per_day", "sigma_tps",
                                               "degrees_of_freedom", "source", "a10g", "l4"]),
                              st.text(max_size=6)), inner, max_size=5)), max_leaves=25)


@settings(max_examples=150, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(tracks=_values, keep_hardware=st.booleans())
def test_any_tracks_value_loads_or_is_reported(tmp_path, tracks, keep_hardware):
    def change(d):
        d["tracks"] = tracks
        if keep_hardware:
            d["hardware"] = "a10g"
    path = _write(tmp_path, change)
    try:
        ch = load_challenge(path)
    except ChallengeError as exc:
        assert exc.problems and all(p.line >= 1 and p.message for p in exc.problems)
    else:
        assert ch.tracks and ch.hardware == ch.tracks[0].runner_label
