"""A submission's whole way through arena, run for real on this machine, keeping everything that
leaves the runner or the bot.

Each step is the command its workflow runs (.github/workflows/validate.yml, commands.yml,
bench.yml, site.yml), as a subprocess with the environment GitHub Actions would give it, against
a local fake GitHub (tests/bot/fakegithub.py, checked against GitHub's REST description) that
also keeps every request body the bot sent. The runner measures a private prompt set made of
canaries; the test hands the `Outbox` to the canary scanner.

What leaves, and where this keeps it:
- the runner: the bench job's log (stdout and stderr of `arena bench` and of
  `arena bot fetch-submission`), the artifact (the run's output folder, zipped);
- the bot: every request it sent to GitHub (method, URL, body), what GitHub then holds
  (comments, check runs with their output and annotations, labels, the results branch, issues,
  workflow dispatches), each step's log and job summary;
- the site: the built folder, the build's log, the digest issue and `arena digest --json`.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import psutil

from tests.conftest import REPO, engine_processes
from tests.workflows.canary import CanaryScanner, Leak

sys.path.insert(0, str(REPO / "tests" / "bot"))
from fakegithub import FakeGitHub  # noqa: E402
from openapi_check import description, webhook_examples  # noqa: E402,F401 (re-exported)

MAINTAINER = "arena-maintainers"  # demo/challenge.yaml's maintainer
BENCH_TIMEOUT_S = 600
STEP_TIMEOUT_S = 180
# What a process of this test suite may carry in its environment that a workflow step would
# not have (the test may itself run inside GitHub Actions).
_FOREIGN_ENV = ("GITHUB_", "ARENA_", "RUNNER_", "ACTIONS_", "VLLM_")


# -- what left -------------------------------------------------------------------------------------

class Outbox:
    """Everything that left the runner, the bot or the site build, each under a name that says
    where it went."""

    def __init__(self) -> None:
        self.items: list[tuple[str, Any]] = []

    def add(self, where: str, content: Any) -> None:
        self.items.append((where, content))

    def wheres(self) -> list[str]:
        return [w for w, _ in self.items]

    def leaks(self, scanner: CanaryScanner) -> list[Leak]:
        found: list[Leak] = []
        for where, content in self.items:
            if isinstance(content, Path):
                found += [Leak(leak.canary, f"{where}: {leak.where}", leak.how)
                          for leak in scanner.scan_path(content)]
            else:
                found += scanner.scan(content, where)
        return found


class RecordingGitHub(FakeGitHub):
    """The fake GitHub, keeping every request as it arrived: method, path with query, body."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.requests: list[tuple[str, str, bytes]] = []

    def _handle(self, req: Any) -> Any:
        with self.lock:
            self.requests.append((req.method, req.full_path, req.get_data()))
        return super()._handle(req)

    def hand_over(self, outbox: Outbox) -> None:
        """Every request the bot sent, then what GitHub holds because of them."""
        for n, (method, path, body) in enumerate(self.requests):
            outbox.add(f"GitHub request {n} URL", f"{method} {path}")
            if body:
                outbox.add(f"GitHub request {n} body ({method} {path.split('?')[0]})", body)
        for c in self.comments:
            outbox.add(f"GitHub comment {c.id} on #{c.issue} by {c.login}", c.body)
        for cid, check in self.check_runs.items():
            outbox.add(f"GitHub check run {cid} ({check['name']})", check)
        for number, issue in self.issues.items():
            outbox.add(f"GitHub issue #{number}", issue)
        for number, pr in self.pulls.items():
            outbox.add(f"GitHub labels of #{number}", pr.labels)
        for branch, files in self.branch_files.items():
            for path, data in files.items():
                outbox.add(f"GitHub branch {branch}: {path}", data)
        outbox.add("GitHub workflow dispatches", self.dispatches)
        outbox.add("GitHub workflow run titles", [r.display_title for r in self.runs])


# -- events ----------------------------------------------------------------------------------------

_EXAMPLES: dict[str, list[dict[str, Any]]] | None = None


def _example(event: str, action: str) -> dict[str, Any]:
    global _EXAMPLES
    if _EXAMPLES is None:
        _EXAMPLES = webhook_examples()
    return json.loads(json.dumps(next(e for e in _EXAMPLES[event] if e["action"] == action)))


def pull_request_opened(fake: FakeGitHub, number: int) -> dict[str, Any]:
    """GitHub's own `pull_request.opened` example, pointed at a pull request of the fake."""
    ev = _example("pull_request", "opened")
    pr = fake.pulls[number]
    p = ev["pull_request"]
    p["number"] = ev["number"] = number
    p["title"], p["body"], p["labels"] = pr.title, pr.body, []
    p["user"]["login"] = pr.author
    p["user"]["id"] = fake.uid(pr.author)
    p["head"]["sha"] = pr.head_sha
    p["head"]["repo"]["full_name"] = pr.head_repo
    p["head"]["repo"]["fork"] = pr.head_repo != fake.full_name
    p["base"]["repo"]["full_name"] = ev["repository"]["full_name"] = fake.full_name
    ev["repository"]["default_branch"] = fake.default_branch
    return ev


def comment_created(fake: FakeGitHub, number: int, login: str, body: str) -> dict[str, Any]:
    """GitHub's own `issue_comment.created` example, for a comment now on the fake's PR."""
    ev = _example("issue_comment", "created")
    stored = fake.add_comment(number, login, body)
    ev["comment"].update(id=stored.id, body=body, created_at=stored.created_at,
                         updated_at=stored.updated_at)
    ev["comment"]["user"].update(login=login, type="User", id=fake.uid(login))
    pr = fake.pulls[number]
    issue = ev["issue"]
    issue["number"], issue["state"] = number, pr.state
    issue["user"]["login"] = pr.author
    issue["pull_request"] = {
        "url": f"https://api.github.com/repos/{fake.full_name}/pulls/{number}",
        "html_url": f"https://github.com/{fake.full_name}/pull/{number}",
        "diff_url": f"https://github.com/{fake.full_name}/pull/{number}.diff",
        "patch_url": f"https://github.com/{fake.full_name}/pull/{number}.patch"}
    ev["repository"]["full_name"] = fake.full_name
    ev["repository"]["default_branch"] = fake.default_branch
    return ev


# -- workflow steps --------------------------------------------------------------------------------

@dataclass
class Step:
    label: str
    returncode: int
    stdout: str
    stderr: str


class Actions:
    """Runs arena commands the way the workflows' steps do: `arena ...` in a checkout of the
    default branch (the GitHub-hosted jobs share one; the runner has its own), its
    challenge.yaml the challenge (ARENA_CHALLENGE: the code runs from this repository), with the Actions environment, its log (stdout, stderr) and job summary
    kept in the outbox."""

    def __init__(self, checkout: Path, work: Path, fake: RecordingGitHub, outbox: Outbox):
        self.checkout, self.work, self.fake, self.outbox = checkout, work, fake, outbox
        self.steps = 0

    def base_env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(_FOREIGN_ENV)}
        env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [env.get("PYTHONPATH")])])
        env.update(extra)
        return env

    def github_env(self, token: str, run_id: int | str, **extra: str) -> dict[str, str]:
        self.steps += 1
        summary = self.work / "summaries" / f"step-{self.steps}.md"
        summary.parent.mkdir(parents=True, exist_ok=True)
        summary.touch()
        self.outbox.add(f"job summary of step {self.steps}", summary)
        return self.base_env(
            GITHUB_TOKEN=token, GITHUB_REPOSITORY=self.fake.full_name,
            GITHUB_API_URL=self.fake.url, GITHUB_SERVER_URL="https://github.com",
            GITHUB_RUN_ID=str(run_id), GITHUB_STEP_SUMMARY=str(summary),
            ARENA_GITHUB_WRITE_INTERVAL="0", **extra)

    def arena(self, label: str, args: list[str], env: dict[str, str],
              expect: Iterable[int] = (0,), cwd: Path | None = None) -> Step:
        cwd = cwd or self.checkout
        proc = subprocess.run([sys.executable, "-m", "arena", *args], cwd=cwd,
                              env=dict(env, ARENA_CHALLENGE=str(cwd / "challenge.yaml")),
                              capture_output=True, text=True, timeout=STEP_TIMEOUT_S)
        step = Step(label, proc.returncode, proc.stdout, proc.stderr)
        self.keep(step)
        assert proc.returncode in tuple(expect), (
            f"`{label}` exited {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        return step

    def keep(self, step: Step) -> None:
        self.outbox.add(f"log of `{step.label}` (stdout)", step.stdout)
        self.outbox.add(f"log of `{step.label}` (stderr)", step.stderr)

    def event(self, label: str, name: str, payload: dict[str, Any]) -> Step:
        self.steps += 1
        path = self.work / "events" / f"event-{self.steps}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(payload), encoding="utf-8")
        env = self.github_env("write-token", 9000 + self.steps, GITHUB_EVENT_NAME=name,
                              GITHUB_EVENT_PATH=str(path))
        return self.arena(label, ["bot", "event"], env)


# -- the bench job ---------------------------------------------------------------------------------

@dataclass
class BenchJob:
    """One `arena bench` on the runner: its own temporary folder (so its engine's processes can
    be told apart), its log, and optionally a fault injected when a progress line appears."""

    name: str
    submission: str
    tmp: Path
    out: Path
    fault_when: Callable[[str], bool] | None = None
    fault: Callable[["BenchJob"], None] | None = None
    # A running referee to judge by (`arena bench --referee-socket`), as the demo shares one.
    referee_socket: str | None = None
    proc: subprocess.Popen[str] | None = None
    stderr_lines: list[str] = field(default_factory=list)
    stdout_chunks: list[str] = field(default_factory=list)
    fault_injected_at: str | None = None
    faults: list[str] = field(default_factory=list)  # what the fault did
    _readers: list[threading.Thread] = field(default_factory=list)

    def start(self, actions: Actions, checkout: Path, private: Path) -> None:
        self.tmp.mkdir(parents=True, exist_ok=True)
        # The bench step's environment: no token (bench.yml gives this step none), the private
        # set where the runner's configuration points the challenge's variable.
        env = actions.base_env(TMPDIR=str(self.tmp), ARENA_DEMO_PRIVATE_PROMPTS=str(private),
                               ARENA_CHALLENGE=str(checkout / "challenge.yaml"))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "arena", "bench", self.submission, "--prompts", "both",
             "--out", str(self.out),
             *(["--referee-socket", self.referee_socket] if self.referee_socket else [])],
            cwd=checkout, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True)
        self._readers = [threading.Thread(target=self._read, daemon=True),
                         threading.Thread(target=self._read_stdout, daemon=True)]
        for reader in self._readers:
            reader.start()

    def _read_stdout(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        self.stdout_chunks.append(self.proc.stdout.read())

    def _read(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr_lines.append(line)
            if self.fault_when and self.fault and self.fault_injected_at is None \
                    and self.fault_when(line):
                self.fault_injected_at = line.strip()
                self.fault(self)

    def wait(self) -> int:
        assert self.proc is not None
        self.proc.wait(timeout=BENCH_TIMEOUT_S)
        for reader in self._readers:  # each pipe is read to its end by its own thread
            reader.join(timeout=30)
            assert not reader.is_alive(), f"{self.name}'s log is still open after its exit"
        return self.proc.returncode

    def stop(self) -> None:
        """On the test's way out after a failure: ask the run to stop its engine, as a cancelled
        job does."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    @property
    def stdout(self) -> str:
        return "".join(self.stdout_chunks)

    @property
    def stderr(self) -> str:
        return "".join(self.stderr_lines)


def processes_of(job_folders: Iterable[Path]) -> list[psutil.Process]:
    """Live processes a bench job started: its engines' sandboxes (named by their run folder
    under the job's TMPDIR) and everything below them, and anything working in the job's
    folders (tests.conftest.engine_processes)."""
    found: dict[int, psutil.Process] = {}
    for f in job_folders:
        for p in engine_processes(Path(f)):
            found[p.pid] = p
    return list(found.values())


def kill_engine_core(job: "BenchJob") -> None:
    """The engine's core process dies (as under the OOM killer) while the run is between its
    public and its private pass; its API server is left to notice and fail the next request.
    The runner is held (SIGSTOP) from the moment its progress line is read until the core is
    gone, so that the death lands in the private pass however slow this machine is: without
    the hold, a loaded machine finished the short private pass before the kill."""
    assert job.proc is not None
    job.proc.send_signal(signal.SIGSTOP)
    try:
        core = []
        for p in processes_of([job.tmp]):
            try:
                if "EngineCore" in p.name() or "EngineCore" in " ".join(p.cmdline()):
                    core.append(p)
            except psutil.Error:
                continue
        for p in core:
            p.send_signal(signal.SIGKILL)
        alive = _outliving(core, timeout=60)
        job.faults.append(f"killed {len(core)} engine core process(es)")
        if alive:
            job.faults.append(f"{len(alive)} engine core process(es) outlived SIGKILL for 60 s")
    finally:
        job.proc.send_signal(signal.SIGCONT)


def _outliving(procs: list[psutil.Process], timeout: float) -> list[psutil.Process]:
    """The processes still running after `timeout` seconds; a zombie (dead, its parent in the
    sandbox not having reaped it yet) counts as gone."""
    deadline = time.monotonic() + timeout
    while True:
        alive = []
        for p in procs:
            try:
                if p.status() != psutil.STATUS_ZOMBIE:
                    alive.append(p)
            except psutil.NoSuchProcess:
                continue
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.05)


def zip_artifact(folder: Path, artifact: Path) -> Path:
    """The run's output folder as actions/upload-artifact stores it: a zip of its files."""
    with zipfile.ZipFile(artifact, "w", zipfile.ZIP_DEFLATED) as z:
        for f in sorted(folder.rglob("*")):
            if f.is_file():
                z.write(f, f.relative_to(folder).as_posix())
    return artifact


def download_artifact(artifact: Path, dest: Path) -> Path:
    """actions/download-artifact: the zip's files, unpacked."""
    dest.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(artifact) as z:
        z.extractall(dest)
    return dest / "result.json"


# -- the checkout and the pull requests ------------------------------------------------------------

def make_checkout(root: Path, models_dir: Path) -> Path:
    """A checkout of the default branch holding the demo challenge at its root (so that its
    submissions live at submissions/<login>/<name>.yaml, as on GitHub), the models folder
    pointed at the tiny model the session built."""
    import shutil

    root.mkdir(parents=True)
    text = (REPO / "demo" / "challenge.yaml").read_text(encoding="utf-8")
    assert "local_dir: ../.arena/models" in text, "demo/challenge.yaml moved its models folder"
    text = text.replace("local_dir: ../.arena/models", f"local_dir: {json.dumps(str(models_dir))}")
    (root / "challenge.yaml").write_text(text, encoding="utf-8")
    shutil.copytree(REPO / "demo" / "prompts", root / "prompts")
    shutil.copytree(REPO / "demo" / "submissions", root / "submissions")
    return root


def submission_bytes(name: str, text: str) -> bytes:
    """The demo's plain submission under another name: the tiny model as the challenge serves it."""
    plain = (REPO / "demo" / "submissions" / MAINTAINER / "plain.yaml").read_text(encoding="utf-8")
    head, _, rest = plain.partition("\ntags:")
    lines = [ln for ln in head.splitlines() if ln.startswith("#")]
    return ("\n".join(lines + [f"name: {name}", f"description: {json.dumps(text)}"])
            + "\ntags:" + rest).encode()


# -- the publish job and the site workflow ---------------------------------------------------------

def publish(actions: Actions, *, pr: int, sha: str, path: str, run_id: int, result: Path,
            outcome: str) -> Step:
    """bench.yml's publish job, as it calls the bot (the artifact downloaded to `result`)."""
    return actions.arena(f"arena bot publish #{pr} (bench job: {outcome})",
                         ["bot", "publish", "--pr", str(pr), "--sha", sha, "--path", path,
                          "--result", str(result), "--bench-outcome", outcome,
                          "--requested-by", MAINTAINER,
                          "--store", str(result.parent / "no-results-checkout")],
                         actions.github_env("write-token", run_id))


def results_branch_checkout(fake: FakeGitHub, dest: Path) -> Path:
    """site.yml's checkout of the results branch (data only)."""
    for rel, data in fake.branch_files.get("results", {}).items():
        f = dest / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(data)
    dest.mkdir(parents=True, exist_ok=True)
    return dest


def build_site(actions: Actions, store: Path, site: Path) -> Step:
    """site.yml's build job; the built folder is what Pages serves."""
    step = actions.arena("arena site", ["site", "--store", str(store), "--out", str(site),
                                        "--cache", str(actions.work / "site-inputs.bin")],
                         actions.base_env(GITHUB_REPOSITORY=actions.fake.full_name,
                                          GITHUB_SERVER_URL="https://github.com"))
    actions.outbox.add("the site (Pages artifact)", site)
    return step
