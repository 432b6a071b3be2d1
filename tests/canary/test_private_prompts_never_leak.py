"""Private prompts never leak: two pull requests go through validation, /bench, the bench job on
real vLLM with a private set made of canaries (one run normal, one whose engine dies in a
private pass), publishing, the site and the digest; nothing that left the runner or the bot
holds a canary's text, its token IDs, or its output. A leak planted in a result shows that the
scan reaches every channel the bot and the site copy a result into."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from arena.result import validate_result
from tests.workflows.canary import Canary, CanaryScanner

from .conftest import Journey
from .pipeline import (
    Actions,
    Outbox,
    RecordingGitHub,
    build_site,
    description,
    download_artifact,
    publish,
    results_branch_checkout,
    submission_bytes,
    zip_artifact,
)

pytestmark = pytest.mark.vllm


def test_the_journey_went_through_every_channel(journey: Journey) -> None:
    """The scan below means something only if the private set was really measured, the error
    path was really taken, and the bot and the site really published both runs."""
    fake, prs, results = journey.fake, journey.prs, journey.results
    assert fake.violations == []
    assert journey.leftovers == []

    alice = validate_result(results["alice"])
    assert journey.exit_codes["alice"] == {"verified": 0, "invalid": 1}[alice["verdict"]]
    assert alice["fingerprint"]["prompt_sets"]["private"] == journey.private.sha256
    assert set(alice["tps"]) == {"public", "private"}
    assert alice["ppl"]["sets"]["private"]["prompts"] == len(journey.private.rows)

    bob = validate_result(results["bob"])
    assert journey.jobs["bob"].faults == ["killed 1 engine core process(es)"], \
        journey.jobs["bob"].faults
    assert journey.exit_codes["bob"] == 3 and bob["verdict"] == "error"
    [reason] = bob["reasons"]
    assert reason["check"] == "engine" and "(private)" in reason["message"], reason
    # What the engine wrote stays on the runner: not in the result, not in the artifact.
    assert "log_tail" not in bob and bob["stage"] == "time"
    assert sorted(p.name for p in journey.jobs["bob"].out.iterdir()) == \
        ["result.json", "stage.json"]
    assert bob["fingerprint"]["prompt_sets"]["private"] == journey.private.sha256

    stored = sorted(p for p in fake.branch_files["results"] if p.startswith("results/"))
    assert stored == sorted(f"results/{r['submission']['id']}/{r['run_id']}.json"
                            for r in results.values())
    for name, pr in prs.items():
        bodies = [c.body for c in fake.bot_comments(pr.number)]
        assert any("<details>" in b and results[name]["run_id"] in b for b in bodies), bodies
        assert any("finished (" in b for b in bodies)  # the /bench comment, edited
    benchmark_checks = [c for c in fake.check_runs.values() if c["name"] == "arena/benchmark"]
    assert sorted(c["conclusion"] for c in benchmark_checks) == sorted(
        ["success" if alice["verdict"] == "verified" else "failure", "failure"])
    assert [d["workflow"] for d in fake.dispatches].count("site.yml") == 2
    site_text = "".join(p.read_text(encoding="utf-8", errors="replace")
                        for p in journey.site.rglob("*") if p.suffix in (".html", ".json"))
    assert "alice/canary-run" in site_text and "bob/canary-crash" in site_text
    assert journey.digest["format"] == "arena.digest/1"
    assert any(i["title"].startswith("Digest:") for i in fake.issues.values())
    # Every request body the bot sent is in the outbox, not only what GitHub kept.
    assert sum(1 for w in journey.outbox.wheres() if w.startswith("GitHub request")) >= \
        2 * len(fake.requests) - len([r for r in fake.requests if not r[2]])


def test_nothing_that_left_the_runner_or_the_bot_holds_a_canary(
        journey: Journey, scanner: CanaryScanner) -> None:
    leaks = journey.outbox.leaks(scanner)
    assert leaks == [], f"{len(leaks)} private-prompt canary leak(s):\n" + \
        "\n".join(map(str, leaks[:50]))


def test_the_canaries_are_what_the_runner_reads(journey: Journey, scanner: CanaryScanner) -> None:
    """The scanner recognizes the private set itself: every prompt and reference by its text
    and by its token IDs, so a clean scan is not a scanner looking for the wrong thing."""
    private = journey.private
    found = {leak.canary for leak in scanner.scan_path(private.folder)}
    texts = {c.label for c in private.canaries if not c.label.endswith(".output")}
    assert found == texts
    for c in private.canaries:
        assert len(c.token_ids) >= 8, c.label
        ids_only = CanaryScanner([Canary(c.label, token_ids=c.token_ids)])
        assert {leak.canary for leak in ids_only.scan_json({"ids": list(c.token_ids)})} == \
            {c.label}


def test_a_leak_at_the_runner_is_found_wherever_it_is_published(
        journey: Journey, scanner: CanaryScanner, tmp_path: Path) -> None:
    """The control: bob's error result as if its reason had quoted a private prompt and
    another one's token IDs. Published and built into the site through the same steps, the
    scan finds both, in the artifact, the comment, the check run, the results branch and the
    site."""
    private = journey.private
    prompt = private.canary(f"{private.rows[3]['id']}.messages[0]")
    ids = private.canary(f"{private.rows[5]['id']}.reference")
    doc = json.loads(json.dumps(journey.results["bob"]))
    doc["reasons"][0]["message"] += f" (request 4 failed: {prompt.text})"
    doc["reasons"][0]["message"] += " (prompt ids " + " ".join(map(str, ids.token_ids)) + ")"
    validate_result(doc)

    out = tmp_path / "result"
    out.mkdir()
    (out / "result.json").write_text(json.dumps(doc, indent=2), encoding="utf-8")
    outbox = Outbox()
    artifact = zip_artifact(out, tmp_path / "bench-result.zip")
    outbox.add("artifact", artifact)
    fake = RecordingGitHub(description())
    fake.start()
    try:
        actions = Actions(journey.checkout, tmp_path, fake, outbox)
        pr = journey.prs["bob"]
        opened = fake.open_pull("bob", {pr.path: submission_bytes(
            "canary-crash", "The tiny model as the demo serves it (canary-crash).")})
        publish(actions, pr=opened.number, sha=opened.head_sha, path=pr.path, run_id=4242,
                result=download_artifact(artifact, tmp_path / "download"), outcome="failure")
        build_site(actions, results_branch_checkout(fake, tmp_path / "store"), tmp_path / "site")
        fake.hand_over(outbox)
        assert fake.violations == []
    finally:
        fake.stop()

    leaks = outbox.leaks(scanner)
    planted = {prompt.label, ids.label}
    # A reference repeats its prompt's marker, so its IDs hold a run of that prompt's IDs too.
    same_marker = {f"{private.rows[5]['id']}.messages[0]"}
    assert planted <= {leak.canary for leak in leaks} <= planted | same_marker, leaks
    for label, how in ((prompt.label, "text"), (ids.label, "token IDs")):
        where = " | ".join(leak.where for leak in leaks if leak.canary == label)
        for channel in ("artifact", "GitHub comment", "GitHub check run",
                        "GitHub branch results: results/", "GitHub request", "the site"):
            assert channel in where, f"{label} ({how}) was not found in {channel}: {where}"
