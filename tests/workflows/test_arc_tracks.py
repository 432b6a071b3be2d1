"""The scale-out values: each track file layered on the A10G values (as `helm -f base -f track`
merges them: maps key by key, everything else replaced) keeps every security setting of the
base and changes only what makes a track: its scale set, label, nodes and size."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from .conftest import REPO

ARC = REPO / "runner-ops" / "arc"
TRACKS = sorted(p.name for p in ARC.glob("track-*.yaml"))
# What a track file may set (paths in the values).
ALLOWED = {("runnerScaleSetName",), ("scaleSetLabels",), ("maxRunners",), ("minRunners",),
           ("template", "spec", "nodeSelector", "nvidia.com/gpu.product")}


def helm_merge(base: Any, over: Any) -> Any:
    """Helm's coalescing of values files: maps merge recursively, anything else replaces."""
    if isinstance(base, dict) and isinstance(over, dict):
        out = copy.deepcopy(base)
        for k, v in over.items():
            out[k] = helm_merge(base.get(k), v) if k in base else copy.deepcopy(v)
        return out
    return copy.deepcopy(over)


def leaves(d: Any, prefix: tuple = ()) -> list[tuple]:
    if isinstance(d, dict):
        return [p for k, v in d.items() for p in leaves(v, prefix + (k,))]
    return [prefix]


def load(name: str) -> dict:
    return yaml.safe_load((ARC / name).read_text())


def test_there_are_several_tracks_and_a_larger_fleet():
    assert "track-l4.yaml" in TRACKS and "track-a10g-fleet.yaml" in TRACKS


@pytest.mark.parametrize("name", TRACKS)
def test_a_track_file_sets_only_what_makes_a_track(name):
    assert set(leaves(load(name))) <= ALLOWED, name


@pytest.mark.parametrize("name", TRACKS)
def test_a_layered_track_keeps_every_security_setting_of_the_base(name):
    base = load("values-a10g.yaml")
    merged = helm_merge(base, load(name))
    for key in ("githubConfigSecret", "runnerGroup"):
        assert merged[key] == base[key]
    spec, bspec = merged["template"]["spec"], base["template"]["spec"]
    for key in ("containers", "initContainers", "volumes", "securityContext", "hostUsers",
                "automountServiceAccountToken", "tolerations"):
        assert spec[key] == bspec[key], key
    assert merged["template"]["metadata"] == base["template"]["metadata"]
    [runner] = spec["containers"]
    assert runner["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert merged["minRunners"] >= 0 and merged["maxRunners"] >= 1
    label = merged["scaleSetLabels"]
    assert label[0] == "self-hosted" and len(label) == 2


def test_each_track_has_its_own_scale_set_label_and_nodes():
    sets = {"values-a10g.yaml": load("values-a10g.yaml")}
    sets.update({n: helm_merge(sets["values-a10g.yaml"], load(n)) for n in TRACKS})
    by_label: dict[str, set] = {}
    for name, v in sets.items():
        by_label.setdefault(v["scaleSetLabels"][1], set()).add(
            (v["runnerScaleSetName"], v["template"]["spec"]["nodeSelector"][
                "nvidia.com/gpu.product"]))
    # one scale set and one GPU model per label: a label never mixes GPUs
    assert by_label == {"a10g": {("arena-a10g", "NVIDIA-A10G")},
                        "l4": {("arena-l4", "NVIDIA-L4")}}


def test_the_docs_say_how_to_layer_each_track_file():
    docs = (REPO / "docs" / "runner.md").read_text()
    for name in TRACKS:
        assert f"runner-ops/arc/{name}" in docs, name


def test_each_track_of_a_multi_track_challenge_has_a_scale_set():
    """The two-track test challenge (a10g and l4) lines up with the scale sets: every track's
    runner label is served by exactly one scale set, layered on the base as the docs say."""
    from arena.challenge import load_challenge

    ch = load_challenge(REPO / "tests" / "tracks" / "challenge.yaml")
    base = load("values-a10g.yaml")
    labels = {base["scaleSetLabels"][1]} | {
        helm_merge(base, load(n))["scaleSetLabels"][1] for n in TRACKS}
    assert {t.runner_label for t in ch.tracks} <= labels
    assert len(ch.tracks) >= 2
