"""Fixtures for the leak test: a private prompt set of canaries with the token IDs the engine
sees, and one journey of two pull requests through the whole pipeline (validation, /bench, the
bench job on real vLLM, publishing, the site, the digest), run once for the module.

The journey's two runs, one after the other, each with its own engine:
- alice's run measures the public and the private set normally;
- bob's run loses its engine core (SIGKILL) as its first private pass begins, so the error path
  (the reason, the engine's log tail, the failed job's messages) is covered too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.workflows.canary import (
    Canary,
    CanaryScanner,
    canaries_from_prompt_rows,
    make_canary_rows,
)

from .pipeline import (
    MAINTAINER,
    Actions,
    BenchJob,
    Outbox,
    RecordingGitHub,
    build_site,
    comment_created,
    description,
    download_artifact,
    kill_engine_core,
    make_checkout,
    publish,
    processes_of,
    pull_request_opened,
    results_branch_checkout,
    submission_bytes,
    zip_artifact,
)

PRIVATE_PROMPTS = 16
CANARY_SEED = 20261122


@dataclass
class PrivateSet:
    folder: Path  # on the runner, outside the checkout
    rows: list[dict[str, Any]]
    sha256: str
    canaries: list[Canary]

    def canary(self, label: str) -> Canary:
        return next(c for c in self.canaries if c.label == label)


@dataclass
class PullRequest:
    number: int
    author: str
    path: str
    sha: str
    run_id: int = 0


@dataclass
class Journey:
    private: PrivateSet
    outbox: Outbox
    checkout: Path  # the GitHub-hosted jobs' checkout of the default branch
    fake: RecordingGitHub
    prs: dict[str, PullRequest]
    jobs: dict[str, BenchJob]
    exit_codes: dict[str, int]
    results: dict[str, dict[str, Any]]
    artifacts: dict[str, Path]
    store: Path
    site: Path
    digest: dict[str, Any]
    leftovers: list[Any] = field(default_factory=list)  # processes the runs left behind


@pytest.fixture(scope="module")
def private_set(tmp_path_factory, tiny_encoder, tiny_server, demo_challenge) -> PrivateSet:
    """Canary prompts as the runner's private set, each with the token IDs the engine is sent
    (the runner's own encoding: the base model's chat template and tokenizer), and each
    prompt's greedy output, text and IDs, as the challenge's engine produces it."""
    from runner.client import EngineClient
    from runner.prompts import load_private_dir

    folder = tmp_path_factory.mktemp("runner-private")
    rows = make_canary_rows(PRIVATE_PROMPTS, seed=CANARY_SEED)
    (folder / "prompts.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows),
                                          encoding="utf-8")
    prompt_set = load_private_dir(folder)
    encoded = tiny_encoder.encode_set(prompt_set)
    ids_of: dict[str, tuple[int, ...]] = {}
    for prompt, ids, (_, target) in zip(prompt_set.prompts, encoded.prompt_ids,
                                        encoded.references):
        ids_of[prompt.messages[-1][1]] = ids
        ids_of[prompt.reference or ""] = target
    canaries = canaries_from_prompt_rows(rows, lambda text: ids_of[text])

    client = EngineClient(tiny_server, request_timeout=60)
    try:
        for row, ids in zip(rows, encoded.prompt_ids):
            out = client.generate(ids, demo_challenge.output_tokens).token_ids
            canaries.append(Canary(f"{row['id']}.output", tiny_encoder.decode(out), tuple(out)))
    finally:
        client.close()
    return PrivateSet(folder, rows, prompt_set.sha256, canaries)


@pytest.fixture(scope="module")
def scanner(private_set: PrivateSet) -> CanaryScanner:
    return CanaryScanner(private_set.canaries)


@pytest.fixture(scope="module")
def journey(tmp_path_factory, tiny_model, tiny_server,
            private_set: PrivateSet) -> Iterator[Journey]:
    work = tmp_path_factory.mktemp("canary-journey")
    outbox = Outbox()
    # The GitHub-hosted jobs' checkout, and the runner's (where the fetched file lands).
    checkout = make_checkout(work / "checkout", tiny_model.path.parent)
    runner_checkout = make_checkout(work / "runner-checkout", tiny_model.path.parent)
    fake = RecordingGitHub(description())
    fake.start()
    actions = Actions(checkout, work, fake, outbox)
    jobs: dict[str, BenchJob] = {}
    try:
        # Two pull requests, each validated and then approved with /bench by a maintainer.
        prs: dict[str, PullRequest] = {}
        for author, name in (("alice", "canary-run"), ("bob", "canary-crash")):
            path = f"submissions/{author}/{name}.yaml"
            pr = fake.open_pull(author, {path: submission_bytes(
                name, f"The tiny model as the demo serves it ({name}).")})
            prs[author] = PullRequest(pr.number, author, path, pr.head_sha)
            actions.event(f"arena bot event (validate #{pr.number})", "pull_request_target",
                          pull_request_opened(fake, pr.number))
            actions.event(f"arena bot event (/bench on #{pr.number})", "issue_comment",
                          comment_created(fake, pr.number, MAINTAINER, "/bench"))
            run = fake.runs[-1]
            assert run.workflow == "bench.yml" and run.inputs["sha"] == pr.head_sha, run
            prs[author].run_id = run.id

        # The bench job of each run: fetch the approved file, measure, upload the artifact.
        for author, pr in prs.items():
            actions.arena(f"arena bot fetch-submission #{pr.number}",
                          ["bot", "fetch-submission", "--pr", str(pr.number), "--sha", pr.sha,
                           "--path", pr.path, "--out", pr.path],
                          actions.github_env("read-token", pr.run_id), cwd=runner_checkout)
        # Alice's run is judged by the shared plain server, given as a running referee (as the
        # demo shares one): the referee's own start-up would add a minute here, and the channels
        # a result leaves by are the same.
        jobs["alice"] = BenchJob("alice", prs["alice"].path, work / "runner-alice",
                                 work / "runner-alice" / "result", referee_socket=tiny_server.uds)
        jobs["bob"] = BenchJob(
            "bob", prs["bob"].path, work / "runner-bob", work / "runner-bob" / "result",
            fault_when=lambda line: "timed pass 1/" in line and "(public)" in line,
            fault=kill_engine_core)
        # One after the other, as one runner takes one job at a time (two engines pinned to
        # the same core of this machine starve a killed one's exit for minutes).
        codes = {}
        for name, job in jobs.items():
            job.start(actions, runner_checkout, private_set.folder)
            codes[name] = job.wait()
        leftovers = processes_of([*(job.tmp for job in jobs.values()), runner_checkout])
        artifacts, results = {}, {}
        for name, job in jobs.items():
            outbox.add(f"log of `arena bench` ({name}'s run, stdout)", job.stdout)
            outbox.add(f"log of `arena bench` ({name}'s run, stderr)", job.stderr)
            (work / "artifacts").mkdir(exist_ok=True)
            artifacts[name] = zip_artifact(job.out, work / "artifacts" / f"{name}-bench-result.zip")
            outbox.add(f"artifact bench-result of {name}'s run", artifacts[name])

        # The publish job: the artifact downloaded, the bot told how the bench job ended.
        for name, pr in prs.items():
            result = download_artifact(artifacts[name], work / "downloads" / name)
            results[name] = json.loads(result.read_text(encoding="utf-8"))
            publish(actions, pr=pr.number, sha=pr.sha, path=pr.path, run_id=pr.run_id,
                    result=result, outcome="success" if codes[name] == 0 else "failure")

        # The site workflow: build from the results branch, update the digest issue.
        store = results_branch_checkout(fake, work / "results-branch")
        site = work / "site"
        build_site(actions, store, site)
        actions.arena("arena bot update-digest", ["bot", "update-digest", "--store", str(store)],
                      actions.github_env("write-token", 8000))
        digest = actions.arena("arena digest --json",
                               ["digest", "--json", "--store", str(store), "--login", "alice"],
                               actions.github_env("read-token", 8001))
        fake.hand_over(outbox)
        yield Journey(private_set, outbox, checkout, fake, prs, jobs, codes, results, artifacts, store,
                      site, json.loads(digest.stdout), leftovers)
    finally:
        for job in jobs.values():
            job.stop()
        fake.stop()
