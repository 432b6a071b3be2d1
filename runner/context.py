"""What the phases of a run share: the plan, what to serve, and what has been measured so far.

A run is a sequence of phases (`runner.bench`): prepare, time the submission's engine, stop it,
referee, verdict. Each phase reads and adds to one `Run`; checks that need a live engine get a
`RunContext` for it. This module imports no phase, so the phases and the integrity checks
import it and not each other.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from arena.challenge import Challenge
from arena.submission import Submission
from runner import checks as C
from runner.measure import LengthAudit, PplResult, TpsSet

if TYPE_CHECKING:
    from runner.client import EngineClient
    from runner.encoding import EncodedSet
    from runner.models import PreparedModel
    from runner.server import Server

Progress = Callable[[str], None]

# The roles a serve function is asked for.
SUBMISSION = "submission"  # the submission's engine: timed, its token IDs checked
REFEREE = "referee"  # stock vLLM of the same version on the same checkpoint: every quality figure

# The phases of a run, in order (also written to OUT/stage.json as the run goes).
PHASES = ("prepare", "time", "stop", "referee", "verdict")


@dataclass(frozen=True)
class ServeSpec:
    """What to serve: everything an engine launcher needs, nothing about GitHub."""

    model_path: Path
    engine_name: str
    engine_version: str
    engine_args: Mapping[str, Any]  # validated, challenge defaults merged, drafter made local
    engine_env: Mapping[str, str]
    seed: int
    workdir: Path
    startup_timeout: float
    scrub_secrets: Sequence[str]
    progress: Progress
    role: str = SUBMISSION
    drafter_path: Path | None = None  # served inside the sandbox as runner.sandbox.DRAFTER_DIR
    overlay: Path | None = None  # a patched copy of the engine package (runner.overlay)
    scratch_bytes: int = 4 << 30

    def for_referee(self, startup_timeout: float,
                    env: Mapping[str, str] | None = None) -> "ServeSpec":
        """The referee's spec: the same checkpoint and arguments, stock engine (no patch), no
        speculative decoding, its own folder; `env` (the challenge's referee_env) on top of the
        engine environment."""
        args = {k: v for k, v in self.engine_args.items() if k != "speculative_config"}
        return dataclasses.replace(self, engine_args=args, role=REFEREE, drafter_path=None,
                                   overlay=None, workdir=self.workdir.parent / REFEREE,
                                   startup_timeout=startup_timeout,
                                   engine_env={**self.engine_env, **(env or {})})


ServeFn = Callable[[ServeSpec], "Server"]


@dataclass
class BenchPlan:
    submission: Submission
    challenge: Challenge
    sets: list[Any]  # runner.prompts.PromptSet, measured in this order (public first)
    commit: str | None = None
    model_cache: Path | None = None
    patch_text: bytes | None = None  # the engine patch the submission names (arena.patch)
    track: str | None = None  # the hardware track measured on (None: the challenge's first)
    vs: "OtherPlan | None" = None  # a paired run (arena bench --vs): the other submission

    @property
    def hardware(self) -> str:
        """The runner label of the track measured on."""
        return self.challenge.track(self.track).runner_label

    def challenge_block(self) -> dict[str, str]:
        """The result's `challenge` block: its id, the track's runner label and, where the
        challenge has several tracks, the track's name (a one-track result reads as before)."""
        t = self.challenge.track(self.track)
        out = {"id": self.challenge.id, "hardware": t.runner_label}
        if len(self.challenge.tracks) > 1:
            out["track"] = t.name
        return out


@dataclass
class OtherPlan:
    """The other submission of a paired run (runner.paired): measured beside the candidate in
    the same job, never refereed, its figures only in the candidate's `paired` block."""

    submission: Submission
    commit: str | None = None
    patch_text: bytes | None = None
    order: str = "pass"  # interleaved pass by pass, or "request" by request (runner.paired)


@dataclass
class RunContext:
    """What a check that needs a live engine sees: that engine (the submission's, or the
    referee's for quality checks) and everything measured so far. The generated token IDs
    and the prompts actually sent are here, in memory, never in the result."""

    plan: BenchPlan
    spec: ServeSpec
    server: "Server"
    client: "EngineClient"
    encoded: Mapping[str, "EncodedSet"]
    tps: Mapping[str, TpsSet]
    ppl: Mapping[str, PplResult]
    progress: Progress
    role: str = SUBMISSION


# A check that needs an engine. It returns named checks; raising ServerError/EngineRejected
# ends the run like any engine failure.
RunCheck = Callable[[RunContext], Sequence[C.Check]]


class Invalid(Exception):
    """The submission's fault, found by a phase: the run ends `invalid` with this check."""

    def __init__(self, check: str, message: str):
        self.check, self.message = check, message
        super().__init__(message)


@dataclass
class Run:
    """One run in progress: the phases fill it in, `runner.verdict` turns it into a result."""

    plan: BenchPlan
    run_id: str
    work: Path
    progress: Progress
    serve: ServeFn
    started: dt.datetime
    t0: float
    deadline: float
    on_stage: Callable[[str], None] = lambda _: None
    timings: dict[str, float] = field(default_factory=dict)
    checks: list[C.Check] = field(default_factory=list)
    reasons: list[dict[str, str]] = field(default_factory=list)
    verdict: str = "verified"
    stage: str = "prepare"
    tps: dict[str, TpsSet] = field(default_factory=dict)
    ppl: dict[str, PplResult] = field(default_factory=dict)
    encoded: dict[str, "EncodedSet"] = field(default_factory=dict)
    warm_ids: list[list[int]] = field(default_factory=list)
    speculative: dict[str, Any] | None = None
    telemetry: dict[str, Any] | None = None  # the GPU during the timed passes (runner.telemetry)
    engine_version: str = ""
    referee_version: str | None = None
    audit: LengthAudit | None = None
    model: "PreparedModel | None" = None
    drafter: "PreparedModel | None" = None
    spec: ServeSpec | None = None
    overlay: Any = None  # runner.overlay.Overlay when the submission carries a patch
    servers: list["Server"] = field(default_factory=list)  # every engine started, to stop
    engine_logs: dict[str, Path] = field(default_factory=dict)  # role -> its log (maintainers)
    base_config: dict[str, Any] | None = None  # the base model's config.json (prepare)
    base_bytes: int = 0  # the base model's weight bytes, that size caps multiply (prepare)
    other: "Run | None" = None  # a paired run: the other submission's own view (runner.paired)
    paired: dict[str, Any] | None = None  # the result's paired block, once the pairs are timed

    def fail(self, kind: str, check: str, message: str) -> None:
        if kind == "error" or self.verdict == "verified":
            self.verdict = kind
        self.reasons.append({"check": check, "message": message[:4000]})
        self.progress(f"{'ERROR' if kind == 'error' else 'INVALID'}: {message} (phase: "
                      f"{self.stage})")

    def enter(self, stage: str) -> None:
        self.stage = stage
        self.on_stage(stage)

    def left(self) -> float:
        """Seconds left before the run's deadline (at least 1)."""
        return max(1.0, self.deadline - time.monotonic())

    def check(self, name: str) -> C.Check | None:
        return next((c for c in self.checks if c.name == name), None)
