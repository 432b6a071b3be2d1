"""The results store: one JSON file per run, plus maintainers' verdict overrides. Append-only.

Layout (a plain folder locally; the `results` branch on GitHub):

    results/<login>/<name>/<run-id>.json     one run's result (see arena.result)
    verdicts/<timestamp>-<id>.json           one verdict override (see VERDICT_SCHEMA)

Nothing here rewrites or deletes a file: evidence stays, and a later verdict record supersedes
an earlier one. The bot, the site and the JSON API read the store through this module only.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import jsonschema

from arena.result import Result, ResultError, result_errors, write_json_atomic

VERDICT_SCHEMA_VERSION = 1
VERDICT_ACTIONS = ("invalidate", "reinstate", "disqualify", "withdraw")

VERDICT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "arena verdict override",
    "type": "object",
    "additionalProperties": False,
    "required": ["schema_version", "id", "submission", "run_id", "action", "reason", "by", "at"],
    "properties": {
        "schema_version": {"const": VERDICT_SCHEMA_VERSION},
        "id": {"type": "string", "pattern": r"^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{8}$"},
        "submission": {"type": "string", "pattern": r"^[A-Za-z0-9-]{1,39}/[a-z0-9][a-z0-9-]{0,62}$"},
        "run_id": {"type": ["string", "null"], "pattern": r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$",
                   "description": "One run, or null for every run of the submission."},
        "action": {"enum": list(VERDICT_ACTIONS)},
        "reason": {"type": "string", "minLength": 1, "maxLength": 2000},
        "by": {"type": "string", "maxLength": 39},
        "by_id": {"type": "integer", "minimum": 1,
                  "description": "The numeric GitHub account id of `by` (logins can be reused)."},
        "at": {"type": "string"},
    },
}
_VERDICT_VALIDATOR = jsonschema.Draft202012Validator(VERDICT_SCHEMA)


class StoreError(Exception):
    pass


@dataclass(frozen=True)
class StoredResult:
    path: Path
    doc: dict[str, Any]

    @functools.cached_property
    def result(self) -> Result:
        """The document as a typed result (it was validated when the store read it)."""
        return Result.from_json(self.doc, check=False)


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def iso(t: dt.datetime) -> str:
    return t.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class ResultsStore:
    """A results store rooted at a folder."""

    def __init__(self, root: Path):
        self.root = Path(root)

    @property
    def results_dir(self) -> Path:
        return self.root / "results"

    @property
    def verdicts_dir(self) -> Path:
        return self.root / "verdicts"

    def result_path(self, submission_id: str, run_id: str) -> Path:
        login, name = submission_id.split("/", 1)
        return self.results_dir / login / name / f"{run_id}.json"

    def append_result(self, doc: dict[str, Any]) -> Path:
        """Add a validated result. Refuses an invalid document and a run id already stored."""
        errors = result_errors(doc)
        if errors:
            raise ResultError(errors)
        path = self.result_path(doc["submission"]["id"], doc["run_id"])
        if path.exists():
            raise StoreError(f"run {doc['run_id']} of {doc['submission']['id']} is already "
                             "stored; results are never rewritten.")
        write_json_atomic(path, doc)
        return path

    def append_verdict(self, *, submission: str, action: str, reason: str, by: str,
                       run_id: str | None = None, at: dt.datetime | None = None) -> dict[str, Any]:
        record = new_verdict_record(submission=submission, action=action, reason=reason, by=by,
                                    run_id=run_id, at=at)
        write_json_atomic(self.verdict_path(record), record)
        return record

    def verdict_path(self, record: dict[str, Any]) -> Path:
        return self.verdicts_dir / f"{record['id']}.json"

    def results(self) -> Iterator[StoredResult]:
        """Every stored result that matches the schema, in path order. Files that do not
        parse or validate are skipped (they could only come from outside this module)."""
        if not self.results_dir.is_dir():
            return
        for f in sorted(self.results_dir.glob("*/*/*.json")):
            try:
                doc = json.loads(f.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if not result_errors(doc):
                yield StoredResult(f, doc)

    def verdicts(self) -> list[dict[str, Any]]:
        """Every valid verdict record, oldest first."""
        out = []
        if self.verdicts_dir.is_dir():
            for f in sorted(self.verdicts_dir.glob("*.json")):
                try:
                    doc = json.loads(f.read_text(encoding="utf-8"))
                except (OSError, ValueError):
                    continue
                if not list(_VERDICT_VALIDATOR.iter_errors(doc)):
                    out.append(doc)
        return sorted(out, key=lambda r: (r["at"], r["id"]))


def new_verdict_record(*, submission: str, action: str, reason: str, by: str,
                       run_id: str | None = None, at: dt.datetime | None = None,
                       by_id: int | None = None) -> dict[str, Any]:
    """A verdict record (VERDICT_SCHEMA), checked, not yet stored. The bot stores it on the
    results branch; ResultsStore.append_verdict stores it in a folder."""
    when = at or utc_now()
    record = {
        "schema_version": VERDICT_SCHEMA_VERSION,
        "id": f"{when.strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(4)}",
        "submission": submission,
        "run_id": run_id,
        "action": action,
        "reason": reason,
        "by": by,
        # To the microsecond when the clock has it: records are applied in time order, and two
        # made in the same second (an invalidate, then a reinstate) must not trade places.
        "at": iso(when) if not when.microsecond else
        when.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    }
    if by_id is not None:
        record["by_id"] = by_id
    errors = verdict_errors(record)
    if errors:
        raise StoreError("; ".join(errors))
    return record


def verdict_errors(record: Any) -> list[str]:
    """Every way a verdict record differs from VERDICT_SCHEMA."""
    return [e.message for e in _VERDICT_VALIDATOR.iter_errors(record)]


def verdict_relpath(record: dict[str, Any]) -> str:
    """Where a verdict record lives in a store (a folder or the results branch)."""
    return f"verdicts/{record['id']}.json"


def result_relpath(submission_id: str, run_id: str) -> str:
    """Where a run's result lives in a store (a folder or the results branch)."""
    login, name = submission_id.split("/", 1)
    return f"results/{login}/{name}/{run_id}.json"


def new_run_id(now: dt.datetime | None = None) -> str:
    """A sortable, unique run id: 20261122T101500Z-1a2b3c4d."""
    t = now or utc_now()
    return f"{t.strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(4)}"
