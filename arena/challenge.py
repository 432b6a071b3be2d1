"""challenge.yaml: the one source of truth for a challenge, loaded and checked.

Everything a run, the validator, the bot and the site need to know about a challenge lives in
one file: the base model, the hardware label, the prompt sets, how to measure, the quality cap,
integrity tolerances, quotas, timeouts, the engines and engine arguments allowed, the tag
vocabulary and the maintainers. A broken challenge file is reported like a broken submission:
every problem at once, each at its line.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping

from packaging.version import InvalidVersion, Version

from arena import yamlstrict
from arena.patch import PatchRules
from arena.problems import Problem, show
from arena.shape import Checker
from arena.text import has_unsafe_characters

CHALLENGE_SCHEMA_VERSION = 1
MAX_CHALLENGE_BYTES = 256 * 1024

# A full commit SHA: what pins a model, a drafter, a base model.
REVISION_RE = r"[0-9a-f]{40}"
# Hugging Face Hub repo ids: owner/name, no "--" or "..", no leading/trailing separators.
_HUB_PART = r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?"
HUB_ID_RE = rf"(?!.*(--|\.\.)){_HUB_PART}/{_HUB_PART}"
# A local model, where a challenge allows them: ./name or ./dir/name under the challenge's models dir.
LOCAL_ID_RE = r"\./(?!.*\.\.)[A-Za-z0-9][A-Za-z0-9._-]{0,62}(/[A-Za-z0-9][A-Za-z0-9._-]{0,62}){0,3}"
# GitHub logins: alphanumerics and single hyphens, at most 39 characters.
LOGIN_RE = r"[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}"
TAG_RE = r"[a-z0-9][a-z0-9-]{0,39}"
HARDWARE_RE = r"[a-z0-9][a-z0-9._-]{0,39}"
# A hardware track's name (results carry it as challenge.track): lowercase, digits, hyphens.
TRACK_NAME_RE = r"[a-z0-9][a-z0-9-]{0,39}"
MAX_TRACKS = 16

# Engine arguments no challenge may allow, with the reason a participant is told. They run code,
# change what is loaded or scored, or are the harness's to decide.
FORBIDDEN_ARGS: dict[str, str] = {
    "trust_remote_code": "it runs code from the model repository on the runner",
    "load_format": "it changes how weights are loaded; the harness loads safetensors only",
    "hf_overrides": "it rewrites the model's configuration, so the served model is not the checkpoint",
    "model_loader_extra_config": "it passes options to custom loaders, which can run code",
    "worker_cls": "it replaces vLLM's worker with arbitrary code",
    "worker_extension_cls": "it injects arbitrary code into vLLM's worker",
    "logits_processors": "it loads arbitrary code that can change the model's outputs",
    "logits_processor_pattern": "it lets requests load arbitrary logits processors",
    "tokenizer": "the harness tokenizes with the base model's tokenizer",
    "tokenizer_revision": "the harness tokenizes with the base model's tokenizer",
    "tokenizer_mode": "the harness tokenizes with the base model's tokenizer",
    "download_dir": "the harness decides where models are stored",
    "generation_config": "it changes decoding defaults; the harness sets decoding per request",
    "override_generation_config": "it changes decoding defaults; the harness sets decoding per request",
    "kv_transfer_config": "it moves the KV cache to external connectors, outside what is measured",
    "kv_events_config": "it publishes cache events to external endpoints",
    "enable_prefix_caching": "the harness turns prefix caching off for every run (cached prompts would inflate TPS)",
    "language_model_only": "the challenge forbids dropping modalities: the full model must be served",
    "limit_mm_per_prompt": "the challenge forbids disabling modalities: the full model must be served",
    "model": "the model is given by the submission's model.id and model.revision",
    "revision": "the revision is given by the submission's model.revision",
    "code_revision": "it selects remote code, which the harness never runs",
    "served_model_name": "the harness names the served model",
    "host": "the harness decides where the server listens",
    "port": "the harness decides where the server listens",
    "api_key": "the harness talks to the server itself",
    "chat_template": "the harness applies the base model's chat template client-side",
    "allowed_local_media_path": "it grants the server access to the runner's files",
    "seed": "the harness fixes the seed",
    "disable_log_stats": "the harness reads the engine's statistics",
    "plugins": "engine plugins are disabled on the runner",
}
FORBIDDEN_SPECULATIVE_METHODS: dict[str, str] = {
    "custom_class": "it loads an arbitrary proposer class, which runs code",
    "suffix": "suffix decoding caches earlier requests' outputs, so repeated prompts get faster; "
              "that is caching answers across requests",
}
FORBIDDEN_SPECULATIVE_FIELDS: dict[str, str] = {
    "rejection_sample_method": "only standard (exact) verification is allowed; relaxed or "
                               "synthetic acceptance changes the output",
    "synthetic_acceptance_rates": "synthetic acceptance skips verification and changes the output",
    "synthetic_acceptance_length": "synthetic acceptance skips verification and changes the output",
    "enable_adaptive_verification": "only exact verification of every drafted token is allowed",
    "code_revision": "it selects remote code, which the harness never runs",
    "draft_load_config": "the harness loads the drafter's safetensors itself",
    "draft_sample_method": "the harness decodes greedily; drafting is not configurable",
}

ARG_TYPES = ("bool", "int", "float", "enum", "int_list", "object", "speculative")


class ChallengeError(Exception):
    """challenge.yaml could not be loaded; `problems` says where and why."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(p.format() for p in problems))


@dataclass(frozen=True)
class ModelRef:
    id: str
    revision: str


@dataclass(frozen=True)
class ArgSpec:
    """The type and allowed values of one engine argument, from challenge.yaml."""

    type: str
    min: float | None = None
    max: float | None = None
    values: tuple[Any, ...] = ()
    max_items: int = 64
    fields: Mapping[str, "ArgSpec"] = field(default_factory=dict)
    # speculative only
    methods: tuple[str, ...] = ()
    drafter_methods: tuple[str, ...] = ()
    num_speculative_tokens: tuple[int, int] = (1, 16)
    prompt_lookup: tuple[int, int] = (1, 16)
    description: str = ""


@dataclass(frozen=True)
class Release:
    """An upstream release that patches are made against: its tag and, where pinned, the full
    commit SHA the tag names."""

    version: str
    tag: str
    commit: str | None = None


@dataclass(frozen=True)
class EngineRule:
    name: str
    min_version: Version
    max_version: Version | None
    patches: PatchRules = PatchRules()
    # Per allowed version: the release a patch must be made against. A version without an
    # entry takes no patch.
    releases: Mapping[str, Release] = field(default_factory=dict)

    def allows(self, version: str) -> bool:
        try:
            v = Version(version)
        except InvalidVersion:
            return False
        return v >= self.min_version and (self.max_version is None or v <= self.max_version)

    def describe(self) -> str:
        if self.max_version is None:
            return f"{self.min_version} or later"
        return f"{self.min_version} to {self.max_version}"


@dataclass(frozen=True)
class NoiseCalibration:
    """What honest numerical noise does to served greedy tokens, judged by the referee: how
    often a served token is not the referee's top-1 (`rate`, over `tokens` judged), the largest
    lead of the top-1 over such a token, and its largest rank. Measured by the organizer
    (`arena calibrate`) from honest runs; `source` says which."""

    rate: float = 0.0
    max_lead: float = 0.0
    max_rank: int = 2
    tokens: int = 0  # 0: not calibrated (only near_tie_margin bounds a near-tie)
    source: str = "not calibrated"


@dataclass(frozen=True)
class Sandbox:
    scratch_mib: int = 4096  # the engine's writable scratch (tmpfs), /tmp and /dev/shm each
    log_mib: int = 64  # the engine log kept for maintainers


@dataclass(frozen=True)
class Integrity:
    fidelity_prompts: int
    fidelity_output_tokens: int
    near_tie_margin: float
    public_private_tolerance: float
    public_private_action: str  # "invalid" | "warn"
    cache_probe_repeats: int
    cache_probe_max_speedup: float
    pass_speedup_max: float = 1.5
    noise: NoiseCalibration = NoiseCalibration()


@dataclass(frozen=True)
class Noise:
    """Run-to-run noise of the score on the challenge's hardware (its `ranking` section): how
    far one configuration's median TPS moves when it is measured again in a fresh run. The
    ranking's ties rest on it (leaderboard.ranking.TieRule)."""

    sigma: float  # tokens/s, or a fraction of the score when `relative`
    relative: bool
    degrees_of_freedom: int  # its weight against the board's own repeated runs
    source: str  # where the figure comes from, in words
    confidence: float  # a gap is a tie unless it is this unlikely between two runs of one config
    unstable_factor: float  # a run whose passes scatter more than this times sigma is flagged

    def sigma_at(self, tps: float) -> float:
        """The calibrated noise, in tokens/s, at a score of `tps`."""
        return self.sigma * tps if self.relative else self.sigma


DEFAULT_COMMANDS_PER_HOUR = 20


@dataclass(frozen=True)
class Track:
    """One hardware track: the runners it is measured on (`runs-on: [self-hosted,
    <runner_label>]`), its own daily quota and its own run-to-run noise, so it is ranked on its
    own board. A challenge written with `hardware: <label>` has one track named after the label."""

    name: str
    runner_label: str
    accelerator: str | None  # words for people, e.g. "NVIDIA A10G"; None: not given
    runs_per_author_per_day: int
    noise: Noise


@dataclass(frozen=True)
class Controls:
    """Control runs (arena.controls): `submission` is a file on the default branch,
    `tolerance` the largest relative move of a control's TPS from its reference value, and the
    reference is the median of the first `baseline_runs` controls (since the last clear)."""

    submission: str
    tolerance: float = 0.03
    baseline_runs: int = 3


@dataclass(frozen=True)
class Challenge:
    path: Path
    id: str
    title: str
    summary: str
    base_model: ModelRef
    hardware: str
    allow_local_models: bool
    local_models_dir: Path | None
    submissions_dir: Path
    public_prompts: Path
    private_prompts_env: str
    output_tokens: int
    warmup_requests: int
    repeats: int
    concurrency: int
    seed: int
    ppl_reference: float
    ppl_max_increase: float
    integrity: Integrity
    noise: Noise
    quota_runs_per_day: int
    authors_may_bench: bool
    startup_timeout_s: float
    request_timeout_s: float
    run_timeout_s: float
    engines: Mapping[str, EngineRule]
    engine_args: Mapping[str, ArgSpec]
    engine_defaults: Mapping[str, Any]
    engine_env: Mapping[str, str]
    tags: tuple[str, ...]
    maintainers: tuple[str, ...]
    max_submission_bytes: int
    raw: Mapping[str, Any] = field(repr=False, default_factory=dict)
    sandbox: Sandbox = Sandbox()  # the sandbox every engine runs in
    # The maintainers' public key (X25519, base64) the engine logs are sealed to; without it
    # the logs stay on the runner host.
    logs_key: str | None = None
    # A checkpoint may be at most this many times the base model's size (its weight files, from
    # the Hub's file metadata, checked before anything big is downloaded); a drafter this many.
    max_size_factor: float = 1.5
    drafter_size_factor: float = 0.5
    # Slash commands one participant may send per rolling hour (maintainers: no limit).
    commands_per_hour: int = 20
    # The reference submission the control workflow re-measures on each track (None: no
    # control runs), and how far a control may move before its runner counts as drifted.
    controls: Controls | None = None
    # The hardware tracks, in the file's order (never empty once loaded; a challenge written
    # with `hardware:` has one). `hardware` above is the first track's runner label.
    tracks: tuple[Track, ...] = ()
    # Where the tracks are declared (line, column), for messages about an unknown track.
    tracks_at: tuple[int, int] = field(default=(1, 1), repr=False, compare=False)
    # The referee's environment on top of engine_env (challenge.yaml `referee_env`): settings
    # for the trusted stock engine only, never a submission's.
    referee_env: Mapping[str, str] = field(default_factory=dict)

    @property
    def root(self) -> Path:
        return self.path.parent

    @property
    def track_names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.tracks)

    def track(self, name: str | None = None) -> Track:
        """The track called `name`; None: the first. An unknown name raises ChallengeError
        naming the tracks there are."""
        if name is None:
            return self.tracks[0]
        for t in self.tracks:
            if t.name == name:
                return t
        line, column = self.tracks_at
        raise ChallengeError([Problem(
            str(self.path), line, column, "tracks" if "tracks" in self.raw else "hardware",
            f"{show(name)} is not a track of this challenge. Its tracks: "
            f"{', '.join(self.track_names)}. Name one of them.")])

    @property
    def referee_engine_env(self) -> dict[str, str]:
        """The referee's whole environment: engine_env, then referee_env over it."""
        return {**self.engine_env, **self.referee_env}

    @property
    def ppl_cap(self) -> float:
        return self.ppl_reference * (1.0 + self.ppl_max_increase)


def result_track(result: Any, challenge: Challenge) -> str:
    """The track a result was measured on: its `challenge.track`; absent, the challenge's first
    track (results from before tracks, and every result of a one-track challenge). `result` is
    a result document (a mapping) or a typed result with `.challenge.track`."""
    if isinstance(result, Mapping):
        ch = result.get("challenge")
        name = ch.get("track") if isinstance(ch, Mapping) else None
    else:
        name = getattr(getattr(result, "challenge", None), "track", None)
    if isinstance(name, str) and name:
        return name
    return challenge.tracks[0].name


CHALLENGE_FILE = "challenge.yaml"


def find_challenge(start: str | os.PathLike[str] | None = None) -> Path | None:
    """The nearest challenge.yaml in `start` (default: the current directory) or a folder
    above it: a participant runs `arena validate` from anywhere inside their checkout, and the
    package may be installed far from it (`pip install .` copies it into site-packages)."""
    here = Path(start if start is not None else os.getcwd()).absolute()
    for folder in (here, *here.parents):
        candidate = folder / CHALLENGE_FILE
        if candidate.is_file():
            return candidate
    return None


def default_challenge_path() -> Path:
    """$ARENA_CHALLENGE; else the nearest challenge.yaml from the current directory upwards;
    else the one beside the package's source (a source checkout run from elsewhere)."""
    env = os.environ.get("ARENA_CHALLENGE")
    if env:
        return Path(env)
    found = find_challenge()
    if found is not None:
        return found
    return Path(__file__).resolve().parent.parent / CHALLENGE_FILE


def load_challenge(path: str | os.PathLike[str] | None = None) -> Challenge:
    """Load and check a challenge file. Raises ChallengeError listing every problem."""
    p = Path(path) if path is not None else default_challenge_path()
    name = str(p)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        hint = "Check the path."
        if path is None and not os.environ.get("ARENA_CHALLENGE"):
            hint = (f"No {CHALLENGE_FILE} in the current directory or any folder above it: run "
                    f"the command from inside the challenge's checkout, or name the file with "
                    f"--challenge.")
        raise ChallengeError([Problem(name, 1, 1, "", f"cannot read the challenge file: "
                                                        f"{exc.strerror}. {hint}")])
    try:
        doc = yamlstrict.load(raw, max_bytes=MAX_CHALLENGE_BYTES)
    except yamlstrict.YamlError as exc:
        raise ChallengeError([Problem(name, exc.line, exc.column, "", exc.message)])
    c = Checker(doc, name)
    challenge = _parse(c, doc.data, p.resolve())
    if c.problems or challenge is None:
        raise ChallengeError(sorted(c.problems, key=lambda p: (p.line, p.column)))
    return challenge


_TOP = {
    "required": ["schema_version", "id", "title", "base_model", "prompts",
                 "measurement", "ppl", "integrity", "ranking", "quotas", "timeouts", "engines",
                 "engine_args", "tags", "maintainers"],
    # One of hardware (one track) and tracks (several) is required: _parse_tracks checks it.
    "optional": ["hardware", "tracks", "summary", "models", "submissions_dir",
                 "engine_defaults", "engine_env", "referee_env", "limits", "sandbox", "logs", "controls"],
}


# -- challenge.yaml, section by section: one dataclass and one parser each ----------------------
# Each parser reads its section of the document, reports its problems on the Checker, and
# returns its section (None when it cannot be built); _parse assembles the Challenge.

@dataclass(frozen=True)
class Identity:
    """schema_version, id, title and summary."""

    id: str
    title: str
    summary: str


@dataclass(frozen=True)
class Models:
    """The models section: local models and the size caps of checkpoints and drafters."""

    allow_local: bool = False
    local_dir: Path | None = None
    max_size_factor: float = 1.5
    drafter_size_factor: float = 0.5


@dataclass(frozen=True)
class Prompts:
    public: Path
    private_env: str


@dataclass(frozen=True)
class Measurement:
    output_tokens: int
    warmup_requests: int
    repeats: int
    concurrency: int
    seed: int


@dataclass(frozen=True)
class Ppl:
    reference: float
    max_increase: float


@dataclass(frozen=True)
class Quotas:
    runs_per_author_per_day: int
    authors_may_bench: bool = False
    commands_per_sender_per_hour: int = DEFAULT_COMMANDS_PER_HOUR


@dataclass(frozen=True)
class Timeouts:
    startup_s: float
    request_s: float
    run_s: float


@dataclass(frozen=True)
class EngineSetup:
    """engines, engine_args, engine_defaults, engine_env and referee_env: what may run, and
    how."""

    engines: Mapping[str, EngineRule]
    args: Mapping[str, ArgSpec]
    defaults: Mapping[str, Any]
    env: Mapping[str, str]
    referee_env: Mapping[str, str]


@dataclass(frozen=True)
class People:
    """The tag vocabulary and the maintainers' contact logins."""

    tags: tuple[str, ...]
    maintainers: tuple[str, ...]


@dataclass(frozen=True)
class Limits:
    submission_bytes: int = 64 * 1024  # the largest submission file


@dataclass(frozen=True)
class Logs:
    maintainers_key: str | None = None  # the public key engine logs are sealed to


def _parse(c: Checker, d: Any, path: Path) -> Challenge | None:
    if not c.mapping((), d, **_TOP):
        return None
    ok_before = len(c.problems)
    root = path.parent
    ident = _parse_identity(c, d)
    base = _parse_base_model(c, d.get("base_model"))
    models = _parse_models(c, d.get("models", {}), root)
    if base is not None and base.id.startswith("./") and not models.allow_local:
        c.problem(("base_model", "id"), "is a local path, but models.allow_local is false.")
    sub_dir = c.string(("submissions_dir",), d.get("submissions_dir", "submissions"), max_len=500)
    prompts = _parse_prompts(c, d.get("prompts"), root)
    meas = _parse_measurement(c, d.get("measurement"))
    ppl = _parse_ppl(c, d.get("ppl"))
    integrity = _parse_integrity(c, d.get("integrity"))
    noise = _parse_ranking(c, d.get("ranking"))
    quotas = _parse_quotas(c, d.get("quotas"))
    tracks = _parse_tracks(c, d, noise, quotas.runs_per_author_per_day if quotas else None)
    timeouts = _parse_timeouts(c, d.get("timeouts"))
    setup = _parse_engine_setup(c, d)
    people = _parse_people(c, d)
    limits = _parse_limits(c, d.get("limits", {}))
    sandbox = _parse_sandbox(c, d.get("sandbox", {}))
    logs = _parse_logs(c, d.get("logs", {}))
    controls = _parse_controls(c, d.get("controls"))

    if len(c.problems) > ok_before:
        return None
    assert ident and base and tracks and prompts and sub_dir and meas and ppl and integrity \
        and noise and quotas and timeouts
    return Challenge(
        path=path, id=ident.id, title=ident.title, summary=ident.summary, base_model=base,
        hardware=tracks[0].runner_label,
        allow_local_models=models.allow_local, local_models_dir=models.local_dir,
        submissions_dir=_resolve(root, sub_dir), public_prompts=prompts.public,
        private_prompts_env=prompts.private_env,
        output_tokens=meas.output_tokens, warmup_requests=meas.warmup_requests,
        repeats=meas.repeats, concurrency=meas.concurrency, seed=meas.seed,
        ppl_reference=ppl.reference, ppl_max_increase=ppl.max_increase,
        integrity=integrity, noise=noise,
        quota_runs_per_day=quotas.runs_per_author_per_day,
        authors_may_bench=quotas.authors_may_bench,
        startup_timeout_s=timeouts.startup_s, request_timeout_s=timeouts.request_s,
        run_timeout_s=timeouts.run_s,
        engines=setup.engines, engine_args=setup.args, engine_defaults=setup.defaults,
        engine_env=setup.env, referee_env=setup.referee_env,
        tags=people.tags, maintainers=people.maintainers,
        max_submission_bytes=limits.submission_bytes, raw=d,
        sandbox=sandbox or Sandbox(), logs_key=logs.maintainers_key,
        max_size_factor=models.max_size_factor,
        drafter_size_factor=models.drafter_size_factor,
        commands_per_hour=quotas.commands_per_sender_per_hour,
        controls=controls, tracks=tracks,
        tracks_at=_mark(c, ("tracks",) if "tracks" in d else ("hardware",)),
    )


def _parse_identity(c: Checker, d: Mapping[str, Any]) -> Identity | None:
    if d.get("schema_version") != CHALLENGE_SCHEMA_VERSION:
        c.problem(("schema_version",), f"must be {CHALLENGE_SCHEMA_VERSION} (this harness "
                                       f"reads version {CHALLENGE_SCHEMA_VERSION}).")
    cid = c.string(("id",), d.get("id"), pattern=r"[a-z0-9][a-z0-9-]{0,62}",
                   hint="Use lowercase letters, digits and hyphens.")
    title = c.string(("title",), d.get("title"), max_len=120)
    summary = c.string(("summary",), d.get("summary", ""), min_len=0, max_len=2000) or ""
    return Identity(cid, title, summary) if cid and title else None


def _parse_base_model(c: Checker, bm: Any) -> ModelRef | None:
    if not c.mapping(("base_model",), bm, required=["id", "revision"]):
        return None
    bid = c.string(("base_model", "id"), bm.get("id"), pattern=HUB_ID_RE + "|" + LOCAL_ID_RE,
                   hint="Use a Hub id (owner/name) or ./local-path.")
    brev = c.string(("base_model", "revision"), bm.get("revision"), pattern=REVISION_RE,
                    hint="Use the full 40-character commit SHA.")
    return ModelRef(bid, brev) if bid and brev else None


def _parse_models(c: Checker, models: Any, root: Path) -> Models:
    """The models section; its defaults where it is absent or broken (the problem is reported)."""
    d = Models()
    if not c.mapping(("models",), models, optional=["allow_local", "local_dir",
                                                    "max_size_factor", "drafter_size_factor"]):
        return d
    allow_local = bool(c.boolean(("models", "allow_local"), models.get("allow_local", False)))
    size_factor = c.number(("models", "max_size_factor"), models.get("max_size_factor", 1.5),
                           minimum=0.01, maximum=100) or d.max_size_factor
    drafter_factor = c.number(("models", "drafter_size_factor"),
                              models.get("drafter_size_factor", 0.5), minimum=0.001,
                              maximum=100) or d.drafter_size_factor
    local_dir = None
    if allow_local:
        ld = c.string(("models", "local_dir"), models.get("local_dir"), max_len=500)
        if ld:
            local_dir = _resolve(root, ld)
    elif "local_dir" in models:
        c.problem(("models", "local_dir"), "is only used with allow_local: true.")
    return Models(allow_local, local_dir, size_factor, drafter_factor)


def _parse_prompts(c: Checker, pr: Any, root: Path) -> Prompts | None:
    if not c.mapping(("prompts",), pr, required=["public"], optional=["private_env"]):
        return None
    public = None
    pub = c.string(("prompts", "public"), pr.get("public"), max_len=500)
    if pub:
        public = _resolve(root, pub)
        if not public.is_file():
            c.problem(("prompts", "public"), f"the prompt set {show(pub)} does not exist "
                                              "(paths are relative to the challenge file).")
    default_env = "ARENA_PRIVATE_PROMPTS"
    private_env = c.string(("prompts", "private_env"), pr.get("private_env", default_env),
                           pattern=r"[A-Z][A-Z0-9_]{0,63}",
                           hint="Name an environment variable.") or default_env
    return Prompts(public, private_env) if public is not None else None


def _parse_measurement(c: Checker, m: Any) -> Measurement | None:
    if not c.mapping(("measurement",), m, required=["output_tokens", "warmup_requests",
                                                     "repeats", "concurrency"],
                     optional=["seed"]):
        return None
    at = ("measurement",)
    vals = dict(
        output_tokens=c.integer(at + ("output_tokens",), m.get("output_tokens"), minimum=1,
                                maximum=32768),
        warmup_requests=c.integer(at + ("warmup_requests",), m.get("warmup_requests"),
                                  minimum=0, maximum=64),
        repeats=c.integer(at + ("repeats",), m.get("repeats"), minimum=1, maximum=20),
        concurrency=c.integer(at + ("concurrency",), m.get("concurrency"), minimum=1,
                              maximum=1),
        seed=c.integer(at + ("seed",), m.get("seed", 1), minimum=0, maximum=2**31 - 1),
    )
    if any(v is None for v in vals.values()):
        return None
    return Measurement(**vals)  # type: ignore[arg-type]


def _parse_ppl(c: Checker, ppl: Any) -> Ppl | None:
    if not c.mapping(("ppl",), ppl, required=["reference", "max_increase"]):
        return None
    ref = c.number(("ppl", "reference"), ppl.get("reference"), positive=True)
    inc = c.number(("ppl", "max_increase"), ppl.get("max_increase"), minimum=0, maximum=10)
    return Ppl(ref, inc) if ref is not None and inc is not None else None


def _parse_integrity(c: Checker, integ: Any) -> Integrity | None:
    if not c.mapping(("integrity",), integ, required=[
        "fidelity_prompts", "fidelity_output_tokens", "near_tie_margin",
        "public_private_tolerance", "public_private_action", "cache_probe_repeats",
            "cache_probe_max_speedup"], optional=["pass_speedup_max", "noise"]):
        return None
    at = ("integrity",)
    vals = dict(
        fidelity_prompts=c.integer(at + ("fidelity_prompts",), integ.get("fidelity_prompts"),
                                   minimum=0, maximum=1024),
        fidelity_output_tokens=c.integer(at + ("fidelity_output_tokens",),
                                         integ.get("fidelity_output_tokens"), minimum=1,
                                         maximum=32768),
        near_tie_margin=c.number(at + ("near_tie_margin",), integ.get("near_tie_margin"),
                                 minimum=0, maximum=10),
        public_private_tolerance=c.number(at + ("public_private_tolerance",),
                                          integ.get("public_private_tolerance"), minimum=0,
                                          maximum=1),
        public_private_action=c.string(at + ("public_private_action",),
                                       integ.get("public_private_action"),
                                       pattern="invalid|warn", hint="Use invalid or warn."),
        cache_probe_repeats=c.integer(at + ("cache_probe_repeats",),
                                      integ.get("cache_probe_repeats"), minimum=0, maximum=64),
        cache_probe_max_speedup=c.number(at + ("cache_probe_max_speedup",),
                                         integ.get("cache_probe_max_speedup"), minimum=1,
                                         maximum=100),
    )
    vals["pass_speedup_max"] = c.number(at + ("pass_speedup_max",),
                                        integ.get("pass_speedup_max", 1.5), minimum=1,
                                        maximum=100)
    noise = _parse_noise(c, integ.get("noise"))
    if any(v is None for v in vals.values()) or noise is None:
        return None
    return Integrity(**vals, noise=noise)  # type: ignore[arg-type]


def _parse_quotas(c: Checker, q: Any) -> Quotas | None:
    if not c.mapping(("quotas",), q, required=["runs_per_author_per_day"],
                     optional=["authors_may_bench", "commands_per_sender_per_hour"]):
        return None
    runs_per_day = c.integer(("quotas", "runs_per_author_per_day"),
                             q.get("runs_per_author_per_day"), minimum=0, maximum=1000)
    authors_may_bench = bool(c.boolean(("quotas", "authors_may_bench"),
                                       q.get("authors_may_bench", False)))
    commands_per_hour = DEFAULT_COMMANDS_PER_HOUR
    if "commands_per_sender_per_hour" in q:
        commands_per_hour = c.integer(("quotas", "commands_per_sender_per_hour"),
                                      q.get("commands_per_sender_per_hour"), minimum=1,
                                      maximum=1000) or DEFAULT_COMMANDS_PER_HOUR
    if runs_per_day is None:
        return None
    return Quotas(runs_per_day, authors_may_bench, commands_per_hour)


def _parse_timeouts(c: Checker, t: Any) -> Timeouts | None:
    if not c.mapping(("timeouts",), t, required=["startup_s", "request_s", "run_s"]):
        return None
    vals = {k: c.number(("timeouts", k), t.get(k), minimum=1, maximum=86400)
            for k in ("startup_s", "request_s", "run_s")}
    if any(v is None for v in vals.values()):
        return None
    return Timeouts(**vals)  # type: ignore[arg-type]


def _parse_engine_setup(c: Checker, d: Mapping[str, Any]) -> EngineSetup:
    engines = _parse_engines(c, d.get("engines"))
    engine_args = _parse_engine_args(c, d.get("engine_args"))
    engine_defaults = d.get("engine_defaults", {})
    if c.mapping(("engine_defaults",), engine_defaults, closed=False):
        for k in engine_defaults:
            if k not in engine_args:
                c.problem(("engine_defaults", k), "must be one of the allowed engine_args.",
                          at_key=True)
    defaults = dict(engine_defaults) if isinstance(engine_defaults, dict) else {}
    return EngineSetup(engines, engine_args, defaults, _parse_env(c, d, "engine_env"),
                       _parse_env(c, d, "referee_env"))


def _parse_env(c: Checker, d: Mapping[str, Any], section: str) -> dict[str, str]:
    """engine_env (every engine's environment) or referee_env (the referee's, on top)."""
    env = d.get(section, {})
    if not c.mapping((section,), env, closed=False):
        return {}
    for k, v in env.items():
        if not re.fullmatch(r"[A-Z][A-Z0-9_]*", str(k)):
            c.problem((section, k), "must be an environment variable name.", at_key=True)
        elif str(k) in ("VLLM_PLUGINS", "HF_HUB_OFFLINE", "VLLM_CACHE_ROOT"):
            c.problem((section, k), "is set by the harness.", at_key=True)
        else:
            c.string((section, k), v, min_len=0, max_len=500)
    return {k: str(v) for k, v in env.items()}


def _parse_people(c: Checker, d: Mapping[str, Any]) -> People:
    tags = c.string_list(("tags",), d.get("tags"), max_items=100)
    for i, tg in enumerate(tags):
        if not re.fullmatch(TAG_RE, tg):
            c.problem(("tags", i), f"{show(tg)} is not a valid tag. Use lowercase letters, "
                                   "digits and hyphens.")
    maintainers = c.string_list(("maintainers",), d.get("maintainers"), max_items=100)
    for i, login in enumerate(maintainers):
        if not re.fullmatch(LOGIN_RE, login):
            c.problem(("maintainers", i), f"{show(login)} is not a GitHub login.")
    return People(tuple(tags), tuple(maintainers))


def _parse_limits(c: Checker, lim: Any) -> Limits:
    max_bytes = Limits().submission_bytes
    if c.mapping(("limits",), lim, optional=["submission_bytes"]):
        max_bytes = c.integer(("limits", "submission_bytes"), lim.get("submission_bytes", max_bytes),
                              minimum=1024, maximum=1024 * 1024) or max_bytes
    return Limits(max_bytes)


def _parse_logs(c: Checker, logs: Any) -> Logs:
    if c.mapping(("logs",), logs, optional=["maintainers_key"]) and "maintainers_key" in logs:
        return Logs(c.string(("logs", "maintainers_key"), logs.get("maintainers_key"),
                             pattern=r"[A-Za-z0-9+/]{43}=",
                             hint="Use `arena logs keygen` and paste its public key."))
    return Logs()


def _parse_controls(c: Checker, ct: Any) -> Controls | None:
    if ct is None or not c.mapping(("controls",), ct, required=["submission"],
                                   optional=["tolerance", "baseline_runs"]):
        return None
    csub = c.string(("controls", "submission"), ct.get("submission"),
                    pattern=r"submissions/[A-Za-z0-9][A-Za-z0-9-]{0,38}/[a-z0-9][a-z0-9-]{0,62}\.yaml",
                    hint="Name a submission file, submissions/<login>/<name>.yaml.")
    ctol = c.number(("controls", "tolerance"), ct.get("tolerance", 0.03), minimum=0.001,
                    maximum=0.5)
    cbase = c.integer(("controls", "baseline_runs"), ct.get("baseline_runs", 3), minimum=1,
                      maximum=30)
    if csub and ctol is not None and cbase is not None:
        return Controls(csub, float(ctol), int(cbase))
    return None


def _mark(c: Checker, path: tuple[Any, ...]) -> tuple[int, int]:
    m = c.doc.mark(path, key=True)
    return (m.line, m.column)


def _parse_noise(c: Checker, n: Any) -> NoiseCalibration | None:
    """integrity.noise: the organizer's calibration of honest numerical noise."""
    if n is None:
        return NoiseCalibration()
    if not c.mapping(("integrity", "noise"), n, required=["rate", "max_lead", "tokens",
                                                          "source"], optional=["max_rank"]):
        return None
    at = ("integrity", "noise")
    vals = dict(
        rate=c.number(at + ("rate",), n.get("rate"), minimum=0, maximum=1),
        max_lead=c.number(at + ("max_lead",), n.get("max_lead"), minimum=0, maximum=100),
        max_rank=c.integer(at + ("max_rank",), n.get("max_rank", 2), minimum=1, maximum=20),
        tokens=c.integer(at + ("tokens",), n.get("tokens"), minimum=0, maximum=10**12),
        source=c.string(at + ("source",), n.get("source"), max_len=500),
    )
    if any(v is None for v in vals.values()):
        return None
    return NoiseCalibration(**vals)  # type: ignore[arg-type]


def _parse_sandbox(c: Checker, sb: Any) -> Sandbox | None:
    if not c.mapping(("sandbox",), sb, optional=["scratch_mib", "log_mib"]):
        return None
    scratch = c.integer(("sandbox", "scratch_mib"), sb.get("scratch_mib", 4096), minimum=16,
                        maximum=1 << 20)
    log = c.integer(("sandbox", "log_mib"), sb.get("log_mib", 64), minimum=1, maximum=4096)
    if scratch is None or log is None:
        return None
    return Sandbox(scratch, log)


_RANKING_HELP = ("Give the run-to-run noise of the score: noise: {sigma_tps: S (or "
                 "sigma_relative: a fraction of the score), degrees_of_freedom: N, source: "
                 "\"where S comes from\"}, and confidence: 0.99 (see challenge.yaml).")


def _parse_ranking(c: Checker, rk: Any) -> Noise | None:
    """The ranking section: the calibrated run-to-run noise and the confidence of a tie.

    `tie_tps` (a fixed threshold, with overlapping confidence intervals as ties too) is no
    longer read; a file that still has it is told what replaces it."""
    path = ("ranking",)
    if isinstance(rk, dict) and "tie_tps" in rk:
        old = rk["tie_tps"]
        hint = ""
        if isinstance(old, (int, float)) and not isinstance(old, bool) and old > 0:
            from arena.stats import two_sided_quantile  # here: a hint for an old file only
            # The old threshold read as a two-sided 95% margin on the difference of two runs.
            hint = (f" Your tie_tps: {show(old)} matches sigma_tps of about "
                    f"{old / (two_sided_quantile(0.95) * math.sqrt(2)):.2g} at confidence "
                    "0.95.")
        c.problem(path + ("tie_tps",), "is no longer read: ties now rest on the run-to-run "
                  "noise of the score, not a fixed threshold or overlapping confidence "
                  "intervals. Replace it. " + _RANKING_HELP + hint, at_key=True)
        if "noise" not in rk:
            return None
        rk = {k: v for k, v in rk.items() if k != "tie_tps"}
    if not c.mapping(path, rk, required=["noise", "confidence"], optional=["unstable_factor"]):
        return None
    confidence = c.number(path + ("confidence",), rk.get("confidence"), minimum=0.5,
                          maximum=0.9999)
    unstable = c.number(path + ("unstable_factor",), rk.get("unstable_factor", 3.0),
                        minimum=1, maximum=100)
    figure = _parse_noise_figure(c, path + ("noise",), rk.get("noise"))
    if figure is None or confidence is None or unstable is None:
        return None
    sigma, relative, df, source = figure
    return Noise(sigma=sigma, relative=relative, degrees_of_freedom=df, source=source,
                 confidence=confidence, unstable_factor=unstable)


def _parse_noise_figure(c: Checker, npath: tuple[Any, ...],
                        nz: Any) -> tuple[float, bool, int, str] | None:
    """A noise mapping ({sigma_tps | sigma_relative, degrees_of_freedom, source}), as in
    ranking.noise and a track's own noise: (sigma, relative, degrees of freedom, source)."""
    if not c.mapping(npath, nz, required=["degrees_of_freedom", "source"],
                     optional=["sigma_tps", "sigma_relative"]):
        return None
    has = [k for k in ("sigma_tps", "sigma_relative") if k in nz]
    sigma = None
    if len(has) != 1:
        c.problem(npath, "needs exactly one of sigma_tps (tokens/s) and sigma_relative (a "
                  "fraction of the score), " + ("not both." if has else "and has neither."))
    elif has[0] == "sigma_tps":
        sigma = c.number(npath + ("sigma_tps",), nz["sigma_tps"], positive=True, maximum=10000)
    else:
        sigma = c.number(npath + ("sigma_relative",), nz["sigma_relative"], positive=True,
                         maximum=1)
    df = c.integer(npath + ("degrees_of_freedom",), nz.get("degrees_of_freedom"), minimum=1,
                   maximum=100000)
    source = c.string(npath + ("source",), nz.get("source"), min_len=10, max_len=1000)
    if sigma is None or df is None or source is None:
        return None
    return sigma, has[0] == "sigma_relative", df, " ".join(source.split())


_TRACK_HELP = ("Write either hardware: <runner label> (one track), or tracks: {<name>: "
               "{runner_label: <label>}, ...} for several hardware tracks ranked separately.")


def _parse_tracks(c: Checker, d: Mapping[str, Any], noise: Noise | None,
                  runs_per_day: int | None) -> tuple[Track, ...]:
    """`hardware:` (one track named after its label) or `tracks:` (several, in order). A
    track's quota and noise default to quotas.runs_per_author_per_day and ranking.noise."""
    quota = runs_per_day if runs_per_day is not None else 0
    if "hardware" in d and "tracks" in d:
        c.problem(("tracks",), "is given beside hardware; give one of them, not both. "
                  + _TRACK_HELP, at_key=True)
        return ()
    if "tracks" not in d:
        if "hardware" not in d:
            c.problem((), "the required field 'hardware' is missing. Add it. " + _TRACK_HELP)
            return ()
        hardware = c.string(("hardware",), d.get("hardware"), pattern=HARDWARE_RE,
                            hint="Use a short lowercase label such as a10g.")
        if hardware is None or noise is None:
            return ()
        return (Track(hardware, hardware, None, quota, noise),)
    tr = d["tracks"]
    if not c.mapping(("tracks",), tr, closed=False, what=" of track names to tracks"):
        return ()
    if not tr:
        c.problem(("tracks",), "names no track. Name at least one: tracks: {a10g: "
                  "{runner_label: a10g}}, or write hardware: <label> instead.")
        return ()
    if len(tr) > MAX_TRACKS:
        c.problem(("tracks",), f"has {len(tr)} tracks; at most {MAX_TRACKS} are allowed.")
        return ()
    out: list[Track] = []
    labels: dict[str, str] = {}
    for name, spec in tr.items():
        track = _parse_track(c, name, spec, noise, quota)
        if track is None:
            continue
        if track.runner_label in labels:
            c.problem(("tracks", name, "runner_label"),
                      f"{show(track.runner_label)} is also track "
                      f"{show(labels[track.runner_label])}'s runner label; two tracks would be "
                      "measured on the same runners. Give each track its own label, or merge "
                      "the two tracks.")
            continue
        labels[track.runner_label] = name
        out.append(track)
    return tuple(out) if len(out) == len(tr) else ()


def _parse_track(c: Checker, name: Any, spec: Any, noise: Noise | None,
                 quota: int) -> Track | None:
    path = ("tracks", name)
    if not isinstance(name, str) or not re.fullmatch(TRACK_NAME_RE, name):
        c.problem(path, f"{show(name)} is not a valid track name. Use 1-40 lowercase letters, "
                        "digits and hyphens, starting with a letter or digit, such as a10g.",
                  at_key=True)
        return None
    if not c.mapping(path, spec, required=["runner_label"],
                     optional=["accelerator", "runs_per_author_per_day", "noise"]):
        return None
    label = c.string(path + ("runner_label",), spec.get("runner_label"), pattern=HARDWARE_RE,
                     hint="Use the runners' label (runs-on: [self-hosted, <label>]): lowercase "
                          "letters, digits, dots, hyphens and underscores, such as a10g.")
    accelerator = None
    if "accelerator" in spec:
        accelerator = c.string(path + ("accelerator",), spec.get("accelerator"), max_len=80)
        if accelerator is not None and has_unsafe_characters(accelerator):
            c.problem(path + ("accelerator",), "contains control characters or invisible "
                                               "direction marks. Remove them.")
            accelerator = None
    runs = quota
    if "runs_per_author_per_day" in spec:
        runs = c.integer(path + ("runs_per_author_per_day",),
                         spec.get("runs_per_author_per_day"), minimum=0, maximum=1000)
    track_noise = noise
    if "noise" in spec:
        figure = _parse_noise_figure(c, path + ("noise",), spec.get("noise"))
        track_noise = None
        if figure is not None and noise is not None:
            sigma, relative, df, source = figure
            track_noise = replace(noise, sigma=sigma, relative=relative,
                                  degrees_of_freedom=df, source=source)
    if label is None or runs is None or track_noise is None or \
            ("accelerator" in spec and accelerator is None):
        return None
    return Track(name, label, accelerator, runs, track_noise)


def _resolve(root: Path, rel: str) -> Path:
    p = Path(rel)
    return p if p.is_absolute() else (root / p).resolve()


def _parse_engines(c: Checker, e: Any) -> dict[str, EngineRule]:
    out: dict[str, EngineRule] = {}
    if not c.mapping(("engines",), e, closed=False):
        return out
    if not e:
        c.problem(("engines",), "must allow at least one engine.")
    for name, rule in e.items():
        path = ("engines", name)
        if name != "vllm":
            c.problem(path, f"{show(name)} is not an engine this harness can run (vllm).",
                      at_key=True)
            continue
        if not c.mapping(path, rule, required=["min_version"],
                         optional=["max_version", "patches", "releases"]):
            continue
        versions = []
        for k in ("min_version", "max_version"):
            raw = rule.get(k)
            if raw is None:
                versions.append(None)
                continue
            s = c.string(path + (k,), raw)
            try:
                versions.append(Version(s) if s else None)
            except InvalidVersion:
                c.problem(path + (k,), f"{show(s)} is not a version number such as 0.32.0.")
                versions.append(None)
        patches = _parse_patch_rules(c, path + ("patches",), rule.get("patches", {}))
        releases = _parse_releases(c, path + ("releases",), rule.get("releases", {}))
        if versions[0] is not None:
            er = EngineRule(name, versions[0], versions[1], patches, releases)
            for v in releases:
                if not er.allows(v):
                    c.problem(path + ("releases", v), f"{show(v)} is not an allowed version "
                                                      f"({er.describe()}).", at_key=True)
            if patches.allowed and not releases:
                c.problem(path + ("patches", "allowed"), "patches are allowed, but no release "
                          "is pinned to make them against. Add releases: {\"<version>\": "
                          "{tag: v<version>, commit: <full SHA>}}.")
            out[name] = er
    return out


def _parse_patch_rules(c: Checker, path: tuple[Any, ...], p: Any) -> PatchRules:
    keys = ["allowed", "max_bytes", "max_files", "max_file_lines", "max_file_bytes"]
    if not c.mapping(path, p, optional=keys):
        return PatchRules()
    d = PatchRules()
    allowed = c.boolean(path + ("allowed",), p.get("allowed", False))
    caps = {}
    for k, hi in (("max_bytes", 4 * 1024 * 1024), ("max_files", 1000),
                  ("max_file_lines", 100_000), ("max_file_bytes", 4 * 1024 * 1024)):
        caps[k] = c.integer(path + (k,), p.get(k, getattr(d, k)), minimum=1, maximum=hi) \
            or getattr(d, k)
    return PatchRules(allowed=bool(allowed), **caps)


def _parse_releases(c: Checker, path: tuple[Any, ...], r: Any) -> dict[str, Release]:
    out: dict[str, Release] = {}
    if not c.mapping(path, r, closed=False):
        return out
    for version, spec in r.items():
        at = path + (version,)
        if not isinstance(version, str):
            c.problem(at, "a release is named by its version in quotes, such as \"0.32.0\".",
                      at_key=True)
            continue
        try:
            Version(version)
        except InvalidVersion:
            c.problem(at, f"{show(version)} is not a version number such as 0.32.0.",
                      at_key=True)
            continue
        if not c.mapping(at, spec, required=["tag"], optional=["commit"]):
            continue
        tag = c.string(at + ("tag",), spec.get("tag"), pattern=r"v?[0-9][A-Za-z0-9.+-]{0,39}",
                       hint="Write the release's git tag, such as v0.32.0.")
        commit = None
        if "commit" in spec:
            commit = c.string(at + ("commit",), spec.get("commit"), pattern=REVISION_RE,
                              hint="Write the full 40-character commit SHA the tag names.")
        if tag:
            out[version] = Release(version, tag, commit)
    return out


def _parse_engine_args(c: Checker, a: Any) -> dict[str, ArgSpec]:
    out: dict[str, ArgSpec] = {}
    if not c.mapping(("engine_args",), a, closed=False):
        return out
    for name, spec in a.items():
        path = ("engine_args", name)
        if name in FORBIDDEN_ARGS:
            c.problem(path, f"{show(name)} can never be allowed: {FORBIDDEN_ARGS[name]}.",
                      at_key=True)
            continue
        parsed = _parse_arg_spec(c, path, spec)
        if parsed is not None:
            out[name] = parsed
    return out


def _parse_arg_spec(c: Checker, path: tuple[Any, ...], spec: Any) -> ArgSpec | None:
    if not isinstance(spec, dict) or "type" not in spec:
        c.problem(path, "must be a mapping with a 'type' (one of " + ", ".join(ARG_TYPES) + ").")
        return None
    kind = spec.get("type")
    common = ["type", "description"]
    desc = c.string(path + ("description",), spec.get("description", ""), min_len=0,
                    max_len=500) or ""
    if kind == "bool":
        c.mapping(path, spec, required=common[:1], optional=common[1:])
        return ArgSpec("bool", description=desc)
    if kind in ("int", "float", "int_list"):
        extra = ["max_items"] if kind == "int_list" else []
        c.mapping(path, spec, required=["type", "min", "max"], optional=common[1:] + extra)
        num = c.integer if kind in ("int", "int_list") else c.number
        lo = num(path + ("min",), spec.get("min"))
        hi = num(path + ("max",), spec.get("max"))
        if lo is not None and hi is not None and lo > hi:
            c.problem(path + ("min",), "must not be greater than max.")
        max_items = 64
        if kind == "int_list":
            max_items = c.integer(path + ("max_items",), spec.get("max_items", 64), minimum=1,
                                  maximum=1024) or 64
        return ArgSpec(kind, min=lo, max=hi, max_items=max_items, description=desc)
    if kind == "enum":
        c.mapping(path, spec, required=["type", "values"], optional=common[1:])
        vals = spec.get("values")
        if not isinstance(vals, list) or not vals or not all(
                isinstance(v, (str, int)) and not isinstance(v, bool) for v in vals):
            c.problem(path + ("values",), "must be a non-empty list of strings or integers.")
            return None
        return ArgSpec("enum", values=tuple(vals), description=desc)
    if kind == "object":
        c.mapping(path, spec, required=["type", "fields"], optional=common[1:])
        fields_raw = spec.get("fields")
        if not c.mapping(path + ("fields",), fields_raw, closed=False):
            return None
        fields = {}
        for fname, fspec in fields_raw.items():
            sub = _parse_arg_spec(c, path + ("fields", fname), fspec)
            if sub is not None:
                fields[fname] = sub
        return ArgSpec("object", fields=fields, description=desc)
    if kind == "speculative":
        c.mapping(path, spec, required=["type", "methods", "num_speculative_tokens"],
                  optional=["drafter_methods", "prompt_lookup", "description"])
        methods = tuple(c.string_list(path + ("methods",), spec.get("methods")))
        for i, meth in enumerate(methods):
            if meth in FORBIDDEN_SPECULATIVE_METHODS:
                c.problem(path + ("methods", i), f"{show(meth)} can never be allowed: "
                                                 f"{FORBIDDEN_SPECULATIVE_METHODS[meth]}.")
        drafters = tuple(c.string_list(path + ("drafter_methods",),
                                       spec.get("drafter_methods", [])))
        for i, meth in enumerate(drafters):
            if meth not in methods:
                c.problem(path + ("drafter_methods", i), f"{show(meth)} is not in methods.")
        rng = []
        for k in ("num_speculative_tokens", "prompt_lookup"):
            r = spec.get(k, {"min": 1, "max": 16})
            if c.mapping(path + (k,), r, required=["min", "max"]):
                lo = c.integer(path + (k, "min"), r.get("min"), minimum=1, maximum=64)
                hi = c.integer(path + (k, "max"), r.get("max"), minimum=1, maximum=64)
                rng.append((lo or 1, hi or 16))
            else:
                rng.append((1, 16))
        return ArgSpec("speculative", methods=methods, drafter_methods=drafters,
                       num_speculative_tokens=rng[0], prompt_lookup=rng[1], description=desc)
    c.problem(path + ("type",), f"{show(kind)} is not an argument type. Use one of "
                                + ", ".join(ARG_TYPES) + ".")
    return None
