"""The result of one benchmark run: its versioned JSON Schema, validation, and atomic writing.

One run of one submission produces one result JSON. It is append-only evidence: never
rewritten, never deleted. The runner writes it; the publish job validates it (it came from a
machine that ran an untrusted configuration) before anything else reads it; the bot, the site
and the JSON API read nothing else. Only aggregates are in it: never a prompt, never an output.
"""

from __future__ import annotations

import json
from dataclasses import FrozenInstanceError, dataclass, field
from pathlib import Path
from typing import Any, Mapping, NamedTuple

import fastjsonschema
import jsonschema

from arena.files import write_bytes_atomic

RESULT_SCHEMA_VERSION = 1
VERDICTS = ("verified", "invalid", "error")
CHECK_STATUSES = ("pass", "fail", "warn", "skip")
PROMPT_SETS = ("public", "private")

_HEX64 = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
_TIME = {"type": "string", "format": "date-time",
         "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$"}
_NUM = {"type": "number"}
_NONNEG = {"type": "number", "minimum": 0}
_SHORT = {"type": "string", "maxLength": 200}
_TEXT = {"type": "string", "maxLength": 4000}
_FIGURE = {"type": ["number", "string", "boolean", "null", "array"], "maxLength": 500,
           "maxItems": 200, "items": {"type": ["number", "string", "boolean", "null"]}}

_TPS_SET = {
    "type": "object",
    "additionalProperties": False,
    "required": ["prompts", "output_tokens", "passes", "median", "mean", "stdev", "ci95"],
    "properties": {
        "prompts": {"type": "integer", "minimum": 1},
        "output_tokens": {"type": "integer", "minimum": 1},
        "passes": {
            "type": "array", "minItems": 1, "maxItems": 100,
            "items": {
                "type": "object", "additionalProperties": False,
                "required": ["tokens", "seconds", "tps"],
                "properties": {"tokens": {"type": "integer", "minimum": 0},
                               "seconds": _NONNEG, "tps": _NONNEG},
            },
        },
        "median": _NONNEG,
        "mean": _NONNEG,
        "stdev": _NONNEG,
        "ci95": {"type": "array", "items": _NUM, "minItems": 2, "maxItems": 2,
                 "description": "95% confidence interval of the mean TPS (Student's t)."},
    },
}
_PPL_SET = {
    "type": "object", "additionalProperties": False,
    "required": ["value", "tokens", "prompts"],
    "properties": {"value": _NONNEG, "tokens": {"type": "integer", "minimum": 1},
                   "prompts": {"type": "integer", "minimum": 1}},
}

# GPU throttle reasons (runner.telemetry, NVML's names) that mean the GPU ran slower than it
# could for the work; idle, an application clock setting and sync boost do not.
THROTTLING_REASONS = frozenset({"sw_power_cap", "hw_slowdown", "sw_thermal_slowdown",
                                "hw_thermal_slowdown", "hw_power_brake_slowdown"})

RESULT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "arena run result",
    "description": "One benchmark run of one submission. Aggregates only.",
    "type": "object",
    "additionalProperties": False,
    "required": ["schema_version", "run_id", "submission", "challenge", "started_at",
                 "finished_at", "verdict", "reasons", "tps", "ppl", "checks", "speculative",
                 "timings", "fingerprint"],
    "properties": {
        "schema_version": {"const": RESULT_SCHEMA_VERSION},
        "run_id": {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"},
        "submission": {
            "type": "object", "additionalProperties": False,
            "required": ["id", "path", "commit", "config", "config_sha256"],
            "properties": {
                "id": {"type": "string", "pattern": r"^[A-Za-z0-9-]{1,39}/[a-z0-9][a-z0-9-]{0,62}$"},
                "path": {"type": "string", "maxLength": 300},
                "commit": {"type": ["string", "null"], "pattern": "^[0-9a-f]{40}$",
                           "description": "Commit of the submission file that was measured."},
                "config": {"type": "object",
                           "description": "The normalized configuration measured: model and engine."},
                "config_sha256": _HEX64,
            },
        },
        "challenge": {
            "type": "object", "additionalProperties": False, "required": ["id", "hardware"],
            "properties": {"id": _SHORT, "hardware": _SHORT,
                           "track": {"type": "string", "pattern": r"^[a-z0-9][a-z0-9-]{0,39}$",
                                     "description": "The hardware track measured on; absent "
                                                    "in a one-track challenge's older results "
                                                    "(then the challenge's only track)."}},
        },
        "provenance": {
            "type": "object", "additionalProperties": False,
            "description": "Where the run came from; filled by the publishing side, not the runner.",
            "properties": {
                "pr": {"type": ["integer", "null"], "minimum": 1},
                "head_sha": {"type": ["string", "null"], "pattern": "^[0-9a-f]{40}$"},
                "run_url": {"type": ["string", "null"], "maxLength": 500},
                "requested_by": {"type": ["string", "null"], "maxLength": 39},
                "author_id": {"type": ["integer", "null"], "minimum": 1,
                              "description": "Numeric GitHub id of the pull request's author."},
                "requested_by_id": {"type": ["integer", "null"], "minimum": 1,
                                    "description": "Numeric GitHub id of requested_by."},
                "control": {"type": "boolean",
                            "description": "A control run of the reference submission "
                                           "(arena.controls), stored under controls/."},
            },
        },
        "started_at": _TIME,
        "finished_at": _TIME,
        "verdict": {"enum": list(VERDICTS)},
        "reasons": {
            "type": "array", "maxItems": 50,
            "items": {"type": "object", "additionalProperties": False,
                      "required": ["check", "message"],
                      "properties": {"check": _SHORT, "message": _TEXT}},
        },
        "tps": {"type": "object", "additionalProperties": False,
                "properties": {s: _TPS_SET for s in PROMPT_SETS}},
        "ppl": {
            "type": "object", "additionalProperties": False,
            "required": ["reference", "cap", "sets"],
            "properties": {
                "reference": _NONNEG, "cap": _NONNEG,
                "sets": {"type": "object", "additionalProperties": False,
                         "properties": {s: _PPL_SET for s in PROMPT_SETS}},
            },
        },
        "checks": {
            "type": "array", "maxItems": 100,
            "items": {
                "type": "object", "additionalProperties": False,
                "required": ["name", "status", "message", "figures"],
                "properties": {
                    "name": {"type": "string", "pattern": r"^[a-z0-9][a-z0-9_.-]{0,63}$"},
                    "status": {"enum": list(CHECK_STATUSES)},
                    "message": _TEXT,
                    "figures": {"type": "object", "maxProperties": 50,
                                "additionalProperties": _FIGURE},
                },
            },
        },
        "speculative": {
            "type": ["object", "null"], "additionalProperties": False,
            "properties": {
                "method": _SHORT,
                "num_speculative_tokens": {"type": ["integer", "null"]},
                "drafts": {"type": ["integer", "null"], "minimum": 0},
                "draft_tokens": {"type": ["integer", "null"], "minimum": 0},
                "accepted_tokens": {"type": ["integer", "null"], "minimum": 0},
                "acceptance_rate": {"type": ["number", "null"], "minimum": 0, "maximum": 1},
                "mean_accepted_length": {"type": ["number", "null"], "minimum": 0},
            },
        },
        "timings": {
            "type": "object", "additionalProperties": _NONNEG,
            "required": ["total_s"],
            "properties": {"startup_s": _NONNEG, "warmup_s": _NONNEG, "timed_s": _NONNEG,
                           "ppl_s": _NONNEG, "checks_s": _NONNEG, "total_s": _NONNEG},
        },
        "fingerprint": {
            "type": "object", "additionalProperties": False,
            "required": ["hardware", "accelerator", "engine", "engine_version",
                         "harness_version", "prompt_sets", "submission_sha256"],
            "properties": {
                "hardware": _SHORT,
                "accelerator": _SHORT,
                "driver": {"type": ["string", "null"], "maxLength": 100},
                "cuda": {"type": ["string", "null"], "maxLength": 100},
                "cpu": {"type": ["string", "null"], "maxLength": 200},
                "engine": _SHORT,
                "engine_version": _SHORT,
                "harness_version": _SHORT,
                "python": {"type": ["string", "null"], "maxLength": 50},
                "torch": {"type": ["string", "null"], "maxLength": 50},
                "prompt_sets": {"type": "object", "additionalProperties": False,
                                "properties": {s: _HEX64 for s in PROMPT_SETS}},
                "submission_sha256": _HEX64,
                "referee": {
                    "type": "object", "additionalProperties": False,
                    "description": "The trusted engine every quality figure came from: stock "
                                   "vLLM of the same version on the same checkpoint.",
                    "required": ["engine", "engine_version", "stock"],
                    "properties": {"engine": _SHORT,
                                   "engine_version": {"type": ["string", "null"],
                                                      "maxLength": 200},
                                   "stock": {"type": "boolean"},
                                   "speculative_decoding": {"type": "boolean"}},
                },
                "sandbox": {
                    "type": "object", "additionalProperties": False,
                    "description": "The sandbox every engine ran in.",
                    "required": ["kind"],
                    "properties": {"kind": _SHORT,
                                   "version": {"type": ["string", "null"], "maxLength": 100},
                                   "network": _SHORT, "user": _SHORT,
                                   "scratch_mib": {"type": "integer", "minimum": 0}},
                },
                "patch": {
                    "type": ["object", "null"], "additionalProperties": False,
                    "description": "The engine patch served (submission's engine only).",
                    "required": ["sha256", "overlay_sha256"],
                    "properties": {"sha256": _HEX64, "overlay_sha256": _HEX64,
                                   "files": {"type": "integer", "minimum": 0}},
                },
            },
        },
        "telemetry": {
            "type": ["object", "null"], "additionalProperties": False,
            "description": "The GPU sampled during the timed passes (runner.telemetry).",
            "required": ["source", "samples", "throttled"],
            "properties": {
                "source": {"enum": ["nvml", "nvidia-smi"]},
                "gpu": {"type": ["string", "null"], "maxLength": 200},
                "samples": {"type": "integer", "minimum": 0},
                "interval_s": _NONNEG,
                "duration_s": _NONNEG,
                "metrics": {
                    "type": "object", "maxProperties": 20,
                    "propertyNames": {"pattern": r"^[a-z][a-z0-9_]{0,39}$"},
                    "additionalProperties": {
                        "type": "object", "additionalProperties": False,
                        "required": ["min", "median", "max"],
                        "properties": {"min": {"type": "number"}, "median": {"type": "number"},
                                       "max": {"type": "number"}}},
                },
                "throttle_reasons": {
                    "type": "object", "maxProperties": 30,
                    "propertyNames": {"pattern": r"^[a-z][a-z0-9_]{0,39}$"},
                    "additionalProperties": {"type": "integer", "minimum": 0},
                    "description": "Samples in which each throttle reason was active."},
                "throttled": {"type": "boolean",
                              "description": "A power, thermal or hardware slowdown was "
                                             "active in at least one sample."},
            },
        },
        "per_prompt": {
            "type": "array", "maxItems": 2000,
            "description": "Public set only: each prompt's decode TPS (median over passes) and, "
                           "under speculative decoding, its acceptance rate and mean accepted "
                           "length. Never written for the private set.",
            "items": {
                "type": "object", "additionalProperties": False, "required": ["id", "tps"],
                "properties": {
                    "id": {"type": "string", "maxLength": 100},
                    "tps": _NONNEG,
                    "acceptance_rate": {"type": ["number", "null"], "minimum": 0, "maximum": 1},
                    "mean_accepted_length": {"type": ["number", "null"], "minimum": 0},
                },
            },
        },
        "per_category": {
            "type": "object", "maxProperties": 100,
            "description": "Private set only, aggregates: per prompt category, how many prompts "
                           "and their median decode TPS. Nothing that names a private prompt.",
            "propertyNames": {"type": "string", "maxLength": 64},
            "additionalProperties": {
                "type": "object", "additionalProperties": False, "required": ["prompts", "tps"],
                "properties": {"prompts": {"type": "integer", "minimum": 1}, "tps": _NONNEG},
            },
        },
        "paired": {
            "type": "object", "additionalProperties": False,
            "description": "A paired run (/bench vs): the candidate (this result) and another "
                           "submission measured in one job on one runner, interleaved; the "
                           "difference and its interval come from the pairs.",
            "required": ["against", "order", "pairs", "tps", "verdict"],
            "properties": {
                "against": {
                    "type": "object", "additionalProperties": False,
                    "required": ["id", "config_sha256"],
                    "properties": {
                        "id": {"type": "string",
                               "pattern": r"^[A-Za-z0-9-]{1,39}/[a-z0-9][a-z0-9-]{0,62}$"},
                        "commit": {"type": ["string", "null"], "pattern": "^[0-9a-f]{40}$"},
                        "config_sha256": _HEX64,
                    },
                },
                "order": {"enum": ["pass", "request"],
                          "description": "Interleaved pass by pass, or request by request."},
                "pairs": {"type": "integer", "minimum": 1},
                "set": {"enum": list(PROMPT_SETS)},
                "tps": {
                    "type": "object", "additionalProperties": False,
                    "required": ["candidate", "other", "diff", "ci", "confidence"],
                    "properties": {
                        "candidate": _NONNEG, "other": _NONNEG, "diff": _NUM,
                        "ci": {"type": "array", "items": _NUM, "minItems": 2, "maxItems": 2},
                        "confidence": {"type": "number", "exclusiveMinimum": 0,
                                       "exclusiveMaximum": 1},
                        "unpaired_ci": {"type": "array", "items": _NUM, "minItems": 2,
                                        "maxItems": 2,
                                        "description": "The same data read as two separate "
                                                       "runs (Welch), for comparison."},
                    },
                },
                "verdict": {"enum": ["better", "worse", "tie"]},
            },
        },
        "stage": {"enum": ["prepare", "time", "stop", "referee", "verdict"],
                  "description": "The phase the run reached: verdict for a run that finished; "
                                 "otherwise where it stopped."},
        "log_tail": {"type": ["string", "null"], "maxLength": 20000,
                     "description": "Old results only (no longer written): nothing an engine "
                                    "wrote is published."},
    },
}

_VALIDATOR = jsonschema.Draft202012Validator(
    RESULT_SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


class ResultError(Exception):
    """A result document does not match the schema. `errors` lists each mismatch."""

    def __init__(self, errors: list[str]):
        self.errors = errors
        super().__init__("; ".join(errors[:10]))


# Compiled to Python code once: about 20 times faster than jsonschema, which matters when a site
# build reads tens of thousands of results. jsonschema still explains a failure in detail.
_FAST_CHECK = fastjsonschema.compile(RESULT_SCHEMA)


def result_errors(doc: Any) -> list[str]:
    """Every way `doc` differs from the result schema, as '<json path>: <message>' lines."""
    try:
        _FAST_CHECK(doc)
        return []
    except fastjsonschema.JsonSchemaException:
        pass
    out = []
    for err in sorted(_VALIDATOR.iter_errors(doc), key=lambda e: list(e.absolute_path)):
        where = "/".join(str(p) for p in err.absolute_path) or "(root)"
        out.append(f"{where}: {err.message[:300]}")
    return out


def validate_result(doc: Any) -> dict[str, Any]:
    errors = result_errors(doc)
    if errors:
        raise ResultError(errors)
    return doc


def write_json_atomic(path: Path, doc: Any) -> None:
    """Write JSON so that readers see the old file or the whole new one, never a part."""
    write_bytes_atomic(path, (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode())


# -- The typed result ----------------------------------------------------------------------------
# Frozen dataclasses over the versioned JSON: `Result.from_json(doc)` is the one way the runner's
# summary, the bot, the site, the digest and the command line read a result. Optional fields the
# schema allows (and old results lack) read as None, an empty tuple or an empty mapping.


def _tuple2(x: Any) -> tuple[float, float]:
    return (float(x[0]), float(x[1]))


# The parts every build reads of every run of a board (some 30,000 runs at 10,000 submissions,
# 100,000 passes) are named tuples: made five times faster than frozen dataclasses, as read-only.
class Pass(NamedTuple):
    tokens: int
    seconds: float
    tps: float


class TpsSet(NamedTuple):
    """Decode speed on one prompt set: each timed pass and their summary."""
    name: str  # "public" or "private"
    prompts: int
    output_tokens: int
    passes: tuple[Pass, ...]
    median: float
    mean: float
    stdev: float
    ci95: tuple[float, float]

    @classmethod
    def from_json(cls, name: str, d: Mapping[str, Any]) -> "TpsSet":
        return cls(name, int(d["prompts"]), int(d["output_tokens"]),
                   tuple([Pass(int(p["tokens"]), float(p["seconds"]), float(p["tps"]))
                          for p in d["passes"]]),
                   float(d["median"]), float(d["mean"]), float(d["stdev"]), _tuple2(d["ci95"]))

    @property
    def pass_tps(self) -> tuple[float, ...]:
        return tuple(p.tps for p in self.passes)


class PplSet(NamedTuple):
    name: str
    value: float
    tokens: int
    prompts: int


class Ppl(NamedTuple):
    reference: float
    cap: float
    sets: Mapping[str, PplSet]

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "Ppl":
        return cls(float(d["reference"]), float(d["cap"]),
                   {s: PplSet(s, float(v["value"]), int(v["tokens"]), int(v["prompts"]))
                    for s, v in d["sets"].items()})


@dataclass(frozen=True)
class Reason:
    check: str
    message: str


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # one of CHECK_STATUSES
    message: str
    figures: Mapping[str, Any]


@dataclass(frozen=True)
class Speculative:
    method: str | None
    num_speculative_tokens: int | None
    drafts: int | None
    draft_tokens: int | None
    accepted_tokens: int | None
    acceptance_rate: float | None
    mean_accepted_length: float | None


class SubmissionRef(NamedTuple):
    id: str  # login/name
    path: str
    commit: str | None
    config: Mapping[str, Any]
    config_sha256: str

    @property
    def login(self) -> str:
        return self.id.split("/", 1)[0]

    @property
    def name(self) -> str:
        return self.id.split("/", 1)[1]


class ChallengeRef(NamedTuple):
    id: str
    hardware: str
    track: str | None  # None: the challenge's first (in older results, only) track


class Provenance(NamedTuple):
    pr: int | None = None
    head_sha: str | None = None
    run_url: str | None = None
    requested_by: str | None = None
    author_id: int | None = None
    requested_by_id: int | None = None
    control: bool = False


class Referee(NamedTuple):
    engine: str
    engine_version: str | None
    stock: bool
    speculative_decoding: bool | None


class Sandbox(NamedTuple):
    kind: str
    version: str | None
    network: str | None
    user: str | None
    scratch_mib: int | None


class PatchServed(NamedTuple):
    sha256: str
    overlay_sha256: str
    files: int | None


class Fingerprint(NamedTuple):
    hardware: str
    accelerator: str
    engine: str
    engine_version: str
    harness_version: str
    prompt_sets: Mapping[str, str]
    submission_sha256: str
    driver: str | None = None
    cuda: str | None = None
    cpu: str | None = None
    python: str | None = None
    torch: str | None = None
    referee: Referee | None = None
    sandbox: Sandbox | None = None
    patch: PatchServed | None = None

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "Fingerprint":
        ref, box, patch = d.get("referee"), d.get("sandbox"), d.get("patch")
        return cls(
            d["hardware"], d["accelerator"], d["engine"], d["engine_version"],
            d["harness_version"], dict(d["prompt_sets"]), d["submission_sha256"],
            d.get("driver"), d.get("cuda"), d.get("cpu"), d.get("python"), d.get("torch"),
            Referee(ref["engine"], ref.get("engine_version"), bool(ref["stock"]),
                    ref.get("speculative_decoding")) if ref else None,
            Sandbox(box["kind"], box.get("version"), box.get("network"), box.get("user"),
                    box.get("scratch_mib")) if box else None,
            PatchServed(patch["sha256"], patch["overlay_sha256"], patch.get("files"))
            if patch else None)


@dataclass(frozen=True)
class Metric:
    min: float
    median: float
    max: float


@dataclass(frozen=True)
class Telemetry:
    source: str
    samples: int
    throttled: bool
    gpu: str | None = None
    interval_s: float | None = None
    duration_s: float | None = None
    metrics: Mapping[str, Metric] = field(default_factory=dict)
    throttle_reasons: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "Telemetry":
        return cls(d["source"], int(d["samples"]), bool(d["throttled"]), d.get("gpu"),
                   d.get("interval_s"), d.get("duration_s"),
                   {k: Metric(float(m["min"]), float(m["median"]), float(m["max"]))
                    for k, m in (d.get("metrics") or {}).items()},
                   dict(d.get("throttle_reasons") or {}))

    @property
    def throttling(self) -> dict[str, int]:
        """The throttle reasons that slowed the work (THROTTLING_REASONS), by name."""
        return {k: v for k, v in sorted(self.throttle_reasons.items())
                if k in THROTTLING_REASONS}


@dataclass(frozen=True)
class PromptTps:
    id: str
    tps: float
    acceptance_rate: float | None = None
    mean_accepted_length: float | None = None


@dataclass(frozen=True)
class CategoryTps:
    name: str
    prompts: int
    tps: float


@dataclass(frozen=True)
class PairedAgainst:
    id: str
    config_sha256: str
    commit: str | None = None


@dataclass(frozen=True)
class PairedTps:
    candidate: float
    other: float
    diff: float
    ci: tuple[float, float]
    confidence: float
    unpaired_ci: tuple[float, float] | None = None


@dataclass(frozen=True)
class Paired:
    """A paired run (/bench vs): this result's submission and another, measured together."""
    against: PairedAgainst
    order: str  # "pass" or "request"
    pairs: int
    tps: PairedTps
    verdict: str  # "better", "worse" or "tie"
    set: str | None = None

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "Paired":
        a, t = d["against"], d["tps"]
        return cls(PairedAgainst(a["id"], a["config_sha256"], a.get("commit")), d["order"],
                   int(d["pairs"]),
                   PairedTps(float(t["candidate"]), float(t["other"]), float(t["diff"]),
                             _tuple2(t["ci"]), float(t["confidence"]),
                             _tuple2(t["unpaired_ci"]) if t.get("unpaired_ci") else None),
                   d["verdict"], d.get("set"))


class _part:
    """A part of a Result, read from its document the first time it is asked for and kept in
    the instance: functools.cached_property without its lock (the board's readers ask for
    hundreds of thousands of parts; two threads racing would read a part twice, alike)."""

    def __init__(self, read: Any):
        self.read = read
        self.__doc__ = read.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, cls: type | None = None) -> Any:
        if obj is None:
            return self
        value = obj.__dict__[self.name] = self.read(obj)
        return value


class Result:
    """One run of one submission, read from its versioned JSON (`Result.from_json`).

    Read lazily: each part of the document becomes its dataclass the first time it is asked for
    and stays, so the readers that walk every run of a board on every site build (the ranking,
    the run lists, the JSON API) pay only for the parts they read. Frozen like the dataclasses it
    hands out; two readings of equal documents are equal results."""

    __slots__ = ("doc", "__dict__")  # __dict__: where each part read is kept (_part)

    def __init__(self, doc: Mapping[str, Any]):
        # The document it was read from, for those that publish it whole (the JSON API, the
        # bot's "full result" block).
        object.__setattr__(self, "doc", doc)

    @classmethod
    def from_json(cls, doc: Any, *, check: bool = True) -> "Result":
        """Read a result document. It is checked against the schema first (ResultError says
        every mismatch) unless `check=False` for a document the caller has just validated."""
        if check:
            validate_result(doc)
        return cls(doc)

    def __setattr__(self, name: str, value: Any) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Result) and self.doc == other.doc

    __hash__ = None  # type: ignore[assignment]  # as the dataclass it replaces: a mapping inside

    def __repr__(self) -> str:
        return f"Result(run_id={self.run_id!r}, submission={self.submission.id!r}, " \
               f"verdict={self.verdict!r})"

    # -- its parts, each read from the document once, when first asked for -----------------

    @_part
    def run_id(self) -> str:
        return self.doc["run_id"]

    @_part
    def started_at(self) -> str:
        return self.doc["started_at"]

    @_part
    def finished_at(self) -> str:
        return self.doc["finished_at"]

    @_part
    def verdict(self) -> str:  # one of VERDICTS
        return self.doc["verdict"]

    @_part
    def stage(self) -> str | None:
        return self.doc.get("stage")

    @_part
    def schema_version(self) -> int:
        return self.doc["schema_version"]

    @_part
    def submission(self) -> SubmissionRef:
        sub = self.doc["submission"]
        return SubmissionRef(sub["id"], sub["path"], sub.get("commit"), sub["config"],
                             sub["config_sha256"])

    @_part
    def challenge(self) -> ChallengeRef:
        ch = self.doc["challenge"]
        return ChallengeRef(ch["id"], ch["hardware"], ch.get("track"))

    @_part
    def reasons(self) -> tuple[Reason, ...]:
        return tuple(Reason(r["check"], r["message"]) for r in self.doc["reasons"])

    @_part
    def tps(self) -> Mapping[str, TpsSet]:
        """Decode speed by prompt set, public first."""
        tps = self.doc["tps"]
        return {s: TpsSet.from_json(s, tps[s]) for s in PROMPT_SETS if s in tps}

    @_part
    def ppl(self) -> Ppl:
        return Ppl.from_json(self.doc["ppl"])

    @_part
    def checks(self) -> tuple[Check, ...]:
        return tuple(Check(c["name"], c["status"], c["message"], c["figures"])
                     for c in self.doc["checks"])

    @_part
    def speculative(self) -> Speculative | None:
        spec = self.doc.get("speculative")
        return Speculative(spec.get("method"), spec.get("num_speculative_tokens"),
                           spec.get("drafts"), spec.get("draft_tokens"),
                           spec.get("accepted_tokens"), spec.get("acceptance_rate"),
                           spec.get("mean_accepted_length")) if spec else None

    @_part
    def timings(self) -> Mapping[str, float]:
        return {k: float(v) for k, v in self.doc["timings"].items()}

    @_part
    def fingerprint(self) -> Fingerprint:
        return Fingerprint.from_json(self.doc["fingerprint"])

    @_part
    def provenance(self) -> Provenance:
        prov = self.doc.get("provenance") or {}
        return Provenance(prov.get("pr"), prov.get("head_sha"), prov.get("run_url"),
                          prov.get("requested_by"), prov.get("author_id"),
                          prov.get("requested_by_id"), bool(prov.get("control")))

    @_part
    def telemetry(self) -> Telemetry | None:
        tel = self.doc.get("telemetry")
        return Telemetry.from_json(tel) if tel else None

    @_part
    def per_prompt(self) -> tuple[PromptTps, ...]:
        return tuple(PromptTps(p["id"], float(p["tps"]), p.get("acceptance_rate"),
                               p.get("mean_accepted_length"))
                     for p in self.doc.get("per_prompt") or ())

    @_part
    def per_category(self) -> Mapping[str, CategoryTps]:
        return {k: CategoryTps(k, int(v["prompts"]), float(v["tps"]))
                for k, v in (self.doc.get("per_category") or {}).items()}

    @_part
    def paired(self) -> Paired | None:
        paired = self.doc.get("paired")
        return Paired.from_json(paired) if paired else None

    @_part
    def score_set(self) -> str | None:
        """The prompt set the result is ranked on: private when it was measured, else public."""
        tps = self.doc["tps"]
        for s in ("private", "public"):
            if s in tps:
                return s
        return None

    @_part
    def score_tps(self) -> float | None:
        """The TPS the result is ranked on: the median of its scored set."""
        s = self.score_set
        return None if s is None else float(self.doc["tps"][s]["median"])

    def check(self, name: str) -> Check | None:
        return next((c for c in self.checks if c.name == name), None)


def as_result(result: Any) -> Result:
    """A result typed: itself when it is one, else its document (validated already) read as
    one. For readers that accept either."""
    return result if isinstance(result, Result) else Result(result)


# -- One neutral description of a result ---------------------------------------------------------
# What a result says, for people, as a small tree with no markup: sections of fields (label:
# value), items, tables, paragraphs and notes, each line made of spans. A span's kind says what
# it is, not how it looks: "text" is arena's own words and figures, "value" is text taken from
# the run (a submission id, a check's message, a method name: shown verbatim, never as markup),
# "strong" a headline figure, "status" a check's status (one of CHECK_STATUSES; a badge where
# the medium has them, else its word). The renderers (arena.render: terminal, Markdown, HTML, JSON) each
# escape every span for their medium.


class Span(NamedTuple):  # a tuple: a card has dozens, made ten times faster than a dataclass
    text: str
    kind: str = "text"  # "text", "value", "strong" or "status"
    limit: int | None = None  # at most this many characters shown (value spans)


Line = tuple[Span, ...]


_span = tuple.__new__  # Span's fields in order, without the keyword handling of Span(...)


def _t(text: str) -> Span:
    return _span(Span, (text, "text", None))


def _v(text: Any, limit: int | None = None) -> Span:
    return _span(Span, (text if type(text) is str else str(text), "value", limit))


@dataclass(frozen=True)
class Fields:
    """`label: value` lines."""
    rows: tuple[tuple[str, Line], ...]


@dataclass(frozen=True)
class Items:
    """A list of lines (a run's reasons)."""
    lines: tuple[Line, ...]


@dataclass(frozen=True)
class Table:
    header: tuple[str, ...] | None
    rows: tuple[tuple[Line, ...], ...]
    align: tuple[str, ...]  # "left" or "right", per column
    details: tuple[Line | None, ...] = ()  # per row: a line shown under it (a check's figures)


@dataclass(frozen=True)
class Paragraph:
    line: Line


@dataclass(frozen=True)
class Note:
    level: str  # "info" or "warning"
    line: Line


Block = Fields | Items | Table | Paragraph | Note


@dataclass(frozen=True)
class Section:
    key: str  # stable: "verdict", "speed", "notes", "checks", "speculative", "paired", ...
    title: str | None
    blocks: tuple[Block, ...]


@dataclass(frozen=True)
class Description:
    title: Line
    verdict: str
    sections: tuple[Section, ...]

    def section(self, key: str) -> Section | None:
        return next((s for s in self.sections if s.key == key), None)


def fmt(x: float | None, digits: int = 1) -> str:
    """A figure as the descriptions show it: thousands separated, '-' when absent."""
    return "-" if x is None else f"{x:,.{digits}f}"


# The figures shown for each check (all of them are in the result JSON).
HEADLINE_FIGURES = {
    "output_length": ("requests", "tokens", "shortest", "longest", "not_finished_by_length",
                      "got"),
    "public_private_gap": ("public_tps", "private_tps", "gap", "tolerance"),
    "scoring_consistency": ("outputs", "tokens", "top1_rate", "near_ties", "violations",
                            "nll_per_token"),
    "near_ties": ("tokens", "non_top1", "allowed", "largest_lead", "largest_rank"),
    "cache_probe": ("speedup", "max_speedup", "timed_public_repeat_speedup",
                    "timed_private_repeat_speedup"),
    "greedy_fidelity": ("outputs", "tokens_compared", "match_rate", "near_ties", "violations",
                        "first_divergence"),
}


def _figure(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return str(value).lower() if value is not None else "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        shown = ", ".join(_figure(v) for v in value[:8])
        return f"[{shown}{', ...' if len(value) > 8 else ''}]"
    return str(value)


def figures_text(name: str, figures: Mapping[str, Any]) -> str:
    """A check's headline figures as `key value` pairs (all of them are in the result)."""
    keys = HEADLINE_FIGURES.get(name)
    if keys is None:
        keys = tuple(k for k, v in figures.items() if not isinstance(v, list))[:6]
    return ", ".join(f"{k} {_figure(figures[k])}" for k in keys if k in figures)


def throttle_text(telemetry: Telemetry | None) -> str | None:
    """One sentence for people when a run throttled, else None."""
    if telemetry is None or not telemetry.throttled:
        return None
    seen = [f"{k} ({v} of {telemetry.samples} samples)" for k, v in telemetry.throttling.items()]
    return ("The GPU throttled during the timed passes: " + ", ".join(seen) + ". The figure "
            "may be lower than this configuration reaches on a GPU running at full clocks; a "
            "maintainer can `/rerun`.")


TIMING_KEYS = ("prepare_s", "startup_s", "warmup_s", "timed_s", "submission_checks_s", "stop_s",
               "referee_startup_s", "ppl_s", "referee_s", "checks_s", "total_s")


def _verdict_section(r: Result) -> Section | None:
    head: list[Block] = [Fields((("verdict", (_t(r.verdict.upper()),)),))]
    if r.reasons:
        head.append(Items(tuple((_v(x.check), _t(": "), _v(x.message, 600)) for x in r.reasons)))
    return Section("verdict", None, tuple(head))


def _speed_section(r: Result) -> Section | None:
    sets = sorted(set(r.tps) | set(r.ppl.sets), key=lambda s: (s != "public", s))
    if not sets:
        return None
    rows = []
    for s in sets:
        t, p = r.tps.get(s), r.ppl.sets.get(s)
        rows.append(tuple((c,) for c in (
            _t(s),
            _t(str(t.prompts) if t else "-"),
            _t(" ".join(fmt(x) for x in t.pass_tps) if t else "-"),
            Span(fmt(t.median), "strong") if t else _t("-"),
            _t(fmt(t.stdev, 2) if t else "-"),
            _t(f"[{fmt(t.ci95[0])}, {fmt(t.ci95[1])}]" if t else "-"),
            _t(fmt(p.value, 4) if p else "-"))))
    first = next(iter(r.tps.values()), None)
    out = first.output_tokens if first else "-"
    return Section("speed", None, (
        Table(("set", "prompts", "tokens/s per pass", "median", "stdev", "95% CI", "PPL"),
              tuple(rows), ("left", "right", "left", "right", "right", "right", "right")),
        Paragraph((_t(f"output: {out} tokens per request, batch 1, greedy; PPL reference "
                      f"{fmt(r.ppl.reference, 4)}, cap {fmt(r.ppl.cap, 4)}"),))))


def _notes_section(r: Result) -> Section | None:
    notes: list[Block] = []
    throttled = throttle_text(r.telemetry)
    if throttled:
        notes.append(Note("warning", (_t(throttled),)))
    if r.provenance.control:
        notes.append(Note("info", (_t("A control run of the reference submission."),)))
    return Section("notes", None, tuple(notes)) if notes else None


def _paired_section(r: Result) -> Section | None:
    p = r.paired
    if not p:
        return None
    return Section("paired", None, (Fields((
        ("paired with", (_v(p.against.id), _t(
            f", {p.pairs} pairs interleaved by {p.order}"
            + (f" on the {p.set} set" if p.set else "")))),
        ("difference", (Span(f"{p.tps.diff:+,.1f}", "strong"), _t(
            f" tokens/s ({fmt(p.tps.candidate)} against {fmt(p.tps.other)}), "
            f"{p.tps.confidence:.0%} interval [{fmt(p.tps.ci[0])}, {fmt(p.tps.ci[1])}]"
            + (f", unpaired [{fmt(p.tps.unpaired_ci[0])}, {fmt(p.tps.unpaired_ci[1])}]"
               if p.tps.unpaired_ci else "")
            + f"; verdict {p.verdict}"))),
    )),))


def _checks_section(r: Result) -> Section | None:
    if not r.checks:
        return None
    return Section("checks", "checks", (Table(
        None,
        tuple(((Span(c.status, "status"),), (_v(c.name),), (_v(c.message, 700),))
              for c in r.checks),
        ("left", "left", "left"),
        tuple(((_v(shown, 300),) if (shown := figures_text(c.name, c.figures)) else None)
              for c in r.checks)),))


def _speculative_section(r: Result) -> Section | None:
    spec = r.speculative
    if not spec:
        return None
    rate = spec.acceptance_rate
    return Section("speculative", None, (Fields((("speculative decoding", (
        _v(str(spec.method)),
        _t(f", {spec.num_speculative_tokens} tokens per draft; acceptance "
           f"{'-' if rate is None else f'{rate:.1%}'}, mean accepted length "
           f"{fmt(spec.mean_accepted_length, 2)}"))),)),))


def _machine_section(r: Result) -> Section | None:
    t = r.timings
    referee_s = t.get("referee_s", 0.0) + t.get("referee_startup_s", 0.0)
    share = (f" (the referee {referee_s / t['total_s']:.0%} of the run)"
             if referee_s and t.get("total_s") else "")
    if t.get("checks_s") and t.get("total_s"):  # results from before the referee
        share += f" (checks {t['checks_s'] / t['total_s']:.0%} of the run)"
    fp = r.fingerprint
    machine: list[tuple[str, Line]] = [
        ("timings", (_t(", ".join(f"{k[:-2].replace('_', '-')} {t[k]:.1f} s"
                                  for k in TIMING_KEYS if k in t) + share),)),
        ("measured on", (_v(fp.accelerator),)
         + ((_t(" (driver "), _v(fp.driver), _t(", CUDA "), _v(fp.cuda), _t(")"))
            if fp.driver else ())
         + (_t(", "), _v(fp.cpu or "?"), _t("; "), _v(fp.engine), _t(" "),
            _v(fp.engine_version), _t("; harness "), _v(fp.harness_version))),
    ]
    if fp.referee or fp.sandbox:
        judged: Line = ((_t("the referee, stock "), _v(fp.referee.engine), _t(" "),
                         _v(str(fp.referee.engine_version))) if fp.referee else (_t("-"),))
        if fp.sandbox:
            judged += (_t("; every engine in a "), _v(fp.sandbox.kind), _t(" sandbox ("),
                       _v(str(fp.sandbox.network)), _t(")"))
        machine.append(("judged by", judged))
    return Section("machine", None, (Fields(tuple(machine)),))


# Each section of a description, in the order people read them ("files" is describe's own).
SECTIONS = {"verdict": _verdict_section, "speed": _speed_section, "notes": _notes_section,
            "paired": _paired_section, "checks": _checks_section,
            "speculative": _speculative_section, "machine": _machine_section}


def _title(r: Result) -> Line:
    track = r.challenge.track
    return (_v(r.submission.id), _t(" on "), _v(r.challenge.id), _t(" ("),
            _v(r.challenge.hardware)) + (
        (_t(", track "), _v(track)) if track and track != r.challenge.hardware else ()) + (
        _t("), run "), _v(r.run_id))


def describe(result: Result, *, result_path: str | None = None,
             only: tuple[str, ...] | None = None) -> Description:
    """What one result says, for people, in the order they read it. With `only` (section
    keys), just those sections are described, in the usual order: a front end that shows a
    part (the site's run card) pays for no more."""
    r = result
    sections = [s for key, make in SECTIONS.items()
                if (only is None or key in only) and (s := make(r)) is not None]
    if result_path and (only is None or "files" in only):
        sections.append(Section("files", None, (Fields((("result", (_v(result_path),)),)),)))
    return Description(_title(r), r.verdict, tuple(sections))
