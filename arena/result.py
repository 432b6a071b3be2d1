"""The result of one benchmark run: its versioned JSON Schema, validation, and atomic writing.

One run of one submission produces one result JSON. It is append-only evidence: never
rewritten, never deleted. The runner writes it; the publish job validates it (it came from a
machine that ran an untrusted configuration) before anything else reads it; the bot, the site
and the JSON API read nothing else. Only aggregates are in it: never a prompt, never an output.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

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


def score_set(result: dict[str, Any]) -> str | None:
    """The prompt set a result is ranked on: private when it was measured, else public."""
    tps = result.get("tps") or {}
    for s in ("private", "public"):
        if s in tps:
            return s
    return None


def score_tps(result: dict[str, Any]) -> float | None:
    """The TPS a result is ranked on: the median of its scored set."""
    s = score_set(result)
    return None if s is None else float(result["tps"][s]["median"])


def write_json_atomic(path: Path, doc: Any) -> None:
    """Write JSON so that readers see the old file or the whole new one, never a part."""
    write_bytes_atomic(path, (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode())
