"""GitHub's official REST description (npm package @octokit/openapi, api.github.com), loaded
once, and a checker for requests and responses against it (openapi-core).

The description's server is https://api.github.com; requests to the local fake are checked as if
they went there (same path, query, headers and body)."""

from __future__ import annotations

import copy
import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openapi_core import Config, OpenAPI
from openapi_core.exceptions import OpenAPIError
from openapi_core.templating.paths.exceptions import OperationNotFound, PathNotFound
from openapi_core.testing import MockRequest, MockResponse

ROOT = Path(__file__).resolve().parents[2]
DESCRIPTION = ROOT / "node_modules" / "@octokit" / "openapi" / "generated" / "api.github.com.json"
WEBHOOK_EXAMPLES = ROOT / "node_modules" / "@octokit" / "webhooks-examples" / "api.github.com" / \
    "index.json"
SERVER = "https://api.github.com"

MISSING = ("GitHub's REST description is not installed. Run scripts/setup-test-tools.sh (it runs "
           "`npm ci` for package.json) before the bot tests.")


@dataclass(frozen=True)
class Operation:
    operation_id: str
    method: str
    path: str  # template, e.g. /repos/{owner}/{repo}/pulls/{pull_number}
    spec: dict[str, Any]


class Description:
    """The description, indexed by operationId, and the openapi-core validator over it."""

    def __init__(self, path: Path = DESCRIPTION):
        if not path.exists():
            raise RuntimeError(MISSING)
        self.doc = json.loads(path.read_text(encoding="utf-8"))
        self.nullable_enums = _allow_null_in_nullable_enums(self.doc)
        self.error_unions = _error_oneof_to_anyof(self.doc)
        self.version = self.doc["info"]["version"]
        self.ops: dict[str, Operation] = {}
        for p, item in self.doc["paths"].items():
            for method, op in item.items():
                if isinstance(op, dict) and "operationId" in op:
                    self.ops[op["operationId"]] = Operation(op["operationId"], method.upper(), p, op)
        self.openapi = OpenAPI.from_dict(self.doc, config=Config(spec_validator_cls=None))
        self._lock = threading.Lock()  # openapi-core's lazy $ref resolution is not thread-safe

    def resolve(self, node: Any) -> Any:
        while isinstance(node, dict) and "$ref" in node:
            ref = node["$ref"]
            assert ref.startswith("#/")
            node = self.doc
            for part in ref[2:].split("/"):
                node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    def example(self, operation_id: str, status: str = "200", name: str = "default") -> Any:
        """A deep copy of the official example response of an operation."""
        resp = self.resolve(self.ops[operation_id].spec["responses"][status])
        content = resp["content"].get("application/json") or next(iter(resp["content"].values()))
        examples = content["examples"]
        ex = examples.get(name) or next(iter(examples.values()))
        return copy.deepcopy(self.resolve(ex)["value"])

    def documents_status(self, operation_id: str, status: int) -> bool:
        responses = self.ops[operation_id].spec["responses"]
        return str(status) in responses or "default" in responses

    @staticmethod
    def _mock_request(method: str, path: str, query: dict[str, list[str]] | dict[str, str],
                      headers: dict[str, str], body: bytes | None) -> MockRequest:
        ctype = headers.get("Content-Type") or headers.get("content-type") or "application/json"
        args = {k: (v[0] if isinstance(v, list) else v) for k, v in query.items()}
        return MockRequest(SERVER, method.lower(), path, args=args,
                           headers={k.lower(): v for k, v in headers.items()},
                           data=body or None, content_type=ctype.split(";")[0] if body else None)

    def check_request(self, method: str, path: str, query: dict[str, Any],
                      headers: dict[str, str], body: bytes | None) -> list[str]:
        req = self._mock_request(method, path, query, headers, body)
        # validate (not unmarshal): the same checks, ten times faster on GitHub's large schemas
        with self._lock:
            try:
                self.openapi.validate_request(req)
            except (PathNotFound, OperationNotFound) as exc:
                return [f"{method} {path}: not in GitHub's REST description ({exc})"]
            except OpenAPIError as exc:
                return [f"{method} {path}: request does not match the description: "
                        f"{_explain(exc)}"]
        return []

    def check_response(self, method: str, path: str, query: dict[str, Any],
                       headers: dict[str, str], body: bytes | None, status: int,
                       response_body: bytes, content_type: str | None) -> list[str]:
        req = self._mock_request(method, path, query, headers, body)
        resp = MockResponse(response_body, status_code=status,
                            content_type=content_type or "application/json")
        with self._lock:
            try:
                self.openapi.validate_response(req, resp)
            except OpenAPIError as exc:
                return [f"{method} {path} -> {status}: response does not match the "
                        f"description: {_explain(exc)}"]
        return []


def _allow_null_in_nullable_enums(node: Any) -> int:
    """GitHub's description marks fields like check-run `conclusion` as `nullable: true` with an
    `enum` that lacks null, and GitHub sends null there (a queued check run has no conclusion).
    OpenAPI 3.0.3 lets `enum` win, so a strict validator rejects GitHub's own answers. The one
    normalization made here: such an enum also admits null. Returns how many were changed."""
    changed = 0
    if isinstance(node, dict):
        if node.get("nullable") is True and isinstance(node.get("enum"), list) \
                and None not in node["enum"]:
            node["enum"].append(None)
            changed += 1
        for v in node.values():
            changed += _allow_null_in_nullable_enums(v)
    elif isinstance(node, list):
        for v in node:
            changed += _allow_null_in_nullable_enums(v)
    return changed


def _error_oneof_to_anyof(node: Any) -> int:
    """Some error responses are `oneOf: [basic-error, repository-rule-violation-error]`, two
    schemas with only optional fields, so every error body GitHub sends matches both and `oneOf`
    can never hold. Such unions of *-error schemas are read as `anyOf`. Returns how many."""
    changed = 0
    if isinstance(node, dict):
        alts = node.get("oneOf")
        if isinstance(alts, list) and len(alts) > 1 and all(
                isinstance(a, dict) and str(a.get("$ref", "")).endswith("-error") for a in alts):
            node["anyOf"] = node.pop("oneOf")
            changed += 1
        for v in node.values():
            changed += _error_oneof_to_anyof(v)
    elif isinstance(node, list):
        for v in node:
            changed += _error_oneof_to_anyof(v)
    return changed


def _explain(exc: BaseException) -> str:
    parts = [f"{type(exc).__name__}: {exc}"]
    cause = exc.__cause__
    for err in getattr(cause, "schema_errors", None) or []:
        where = "/".join(str(p) for p in err.absolute_path)
        parts.append(f"  at {where or '(root)'}: {err.message[:300]}")
    if cause is not None and not getattr(cause, "schema_errors", None):
        parts.append(f"  {type(cause).__name__}: {str(cause)[:300]}")
    return "\n".join(parts[:12])


_DESCRIPTION: Description | None = None


def description() -> Description:
    """The one Description of the test session (loading it takes a fraction of a second)."""
    global _DESCRIPTION
    if _DESCRIPTION is None:
        _DESCRIPTION = Description()
    return _DESCRIPTION


def webhook_examples() -> dict[str, list[dict[str, Any]]]:
    """Real webhook payloads from @octokit/webhooks-examples, by event name."""
    if not WEBHOOK_EXAMPLES.exists():
        raise RuntimeError(MISSING)
    data = json.loads(WEBHOOK_EXAMPLES.read_text(encoding="utf-8"))
    return {e["name"]: e["examples"] for e in data}
