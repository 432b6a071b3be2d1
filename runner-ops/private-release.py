#!/usr/bin/env python3
"""Hands the private prompt set to the bench job, and to nothing else (docs/runner.md).

No job container has the private set mounted. This service runs on the GPU host (systemd unit
runner-ops/systemd/arena-private-release.service) and listens on a Unix socket that the launcher
binds into each job container. The bench job's step "Receive the private prompts" runs
`private-release.py receive`: it asks GitHub for the job's OIDC token and presents it here. The
service checks the token's RS256 signature against GitHub's published keys (JWKS), its issuer,
audience and lifetime, and its claims: the repository, `job_workflow_ref` and `workflow_ref`
(<repo>/.github/workflows/bench.yml@refs/heads/<default branch>), `ref`, `event_name`
(workflow_dispatch), `runner_environment` (self-hosted), and no pull request refs. Only then does
it answer with the private files; every decision is logged (never the files) to stderr.

    private-release.py serve --socket PATH --private-dir DIR --repository OWNER/REPO
                             [--branch main] [--repository-id N] [--audience A] [--jwks FILE]
    private-release.py receive [--socket PATH] [--to DIR] [--audience A]

Standard library only: it runs on the host's python3 as well as in the runner image.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import http.client
import http.server
import json
import os
import socket
import socketserver
import stat
import sys
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ISSUER = "https://token.actions.githubusercontent.com"
JWKS_URL = ISSUER + "/.well-known/jwks"
AUDIENCE = "arena-private-prompts"
WORKFLOW_PATH = ".github/workflows/bench.yml"
SOCKET = "/run/arena-release/private.sock"
PATH = "/v1/private"
LEEWAY_S = 60          # clock skew allowed on exp, nbf and iat
MAX_AGE_S = 15 * 60    # a token issued longer ago than this is refused, whatever its exp says
MAX_RELEASE_BYTES = 256 * 1024 * 1024
JWKS_REFRESH_S = 300   # an unknown key id refetches the key set at most this often

# DER prefix of DigestInfo for SHA-256 (RFC 8017, section 9.2, note 1).
_SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")


class Refused(Exception):
    """The token does not prove the request comes from the bench job; the message says why."""


def _b64url(text: str) -> bytes:
    if not isinstance(text, str) or not all(c.isalnum() or c in "-_" for c in text):
        raise Refused("the token is not base64url-encoded")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def verify_rs256(signing_input: bytes, signature: bytes, jwk: dict[str, Any]) -> bool:
    """RSASSA-PKCS1-v1_5 with SHA-256 (RFC 8017, 8.2.2): the whole encoded message is rebuilt
    and compared, never parsed, so no malformed padding can pass."""
    try:
        n = int.from_bytes(_b64url(jwk["n"]), "big")
        e = int.from_bytes(_b64url(jwk["e"]), "big")
    except (KeyError, Refused, ValueError):
        return False
    k = (n.bit_length() + 7) // 8
    if n.bit_length() < 2048 or e < 3 or len(signature) != k:
        return False
    s = int.from_bytes(signature, "big")
    if s >= n:
        return False
    encoded = pow(s, e, n).to_bytes(k, "big")
    t = _SHA256_DIGEST_INFO + hashlib.sha256(signing_input).digest()
    expected = b"\x00\x01" + b"\xff" * (k - len(t) - 3) + b"\x00" + t
    return hmac.compare_digest(encoded, expected)


class KeySet:
    """GitHub's signing keys: pinned from a file, or fetched from the JWKS URL and cached (an
    unknown key id refetches, at most once per JWKS_REFRESH_S)."""

    def __init__(self, *, path: Path | None = None, url: str = JWKS_URL) -> None:
        self.path, self.url = path, url
        self.keys: dict[str, dict[str, Any]] = {}
        self.fetched = 0.0
        self.lock = threading.Lock()
        if path is not None:
            self.keys = self._parse(json.loads(path.read_text()))

    @staticmethod
    def _parse(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
        return {k["kid"]: k for k in doc.get("keys", [])
                if isinstance(k, dict) and k.get("kty") == "RSA" and isinstance(k.get("kid"), str)
                and k.get("use", "sig") == "sig"}

    def get(self, kid: str) -> dict[str, Any] | None:
        with self.lock:
            if kid not in self.keys and self.path is None and time.time() - self.fetched > JWKS_REFRESH_S:
                self.fetched = time.time()
                try:
                    with urllib.request.urlopen(self.url, timeout=10) as answer:  # noqa: S310 - fixed https URL
                        self.keys = self._parse(json.load(answer))
                except (OSError, ValueError) as exc:
                    log(f"could not fetch {self.url}: {exc}; trying again in 30 s")
                    self.fetched = time.time() - JWKS_REFRESH_S + 30
            return self.keys.get(kid)


@dataclass(frozen=True)
class Policy:
    repository: str
    branch: str = "main"
    repository_id: str | None = None
    audience: str = AUDIENCE
    issuer: str = ISSUER

    @property
    def ref(self) -> str:
        return f"refs/heads/{self.branch}"

    @property
    def workflow_ref(self) -> str:
        return f"{self.repository}/{WORKFLOW_PATH}@{self.ref}"


def _same_workflow(claimed: Any, want: str, repository: str) -> bool:
    """Owner and repository names are case-insensitive on GitHub; the path and the ref are not."""
    if not isinstance(claimed, str) or len(claimed) != len(want):
        return False
    n = len(repository)
    return claimed[:n].lower() == want[:n].lower() and claimed[n:] == want[n:]


def check_token(token: str, keys: KeySet, policy: Policy, *, now: float | None = None,
                seen: set[str] | None = None) -> dict[str, Any]:
    """The token's claims if it is GitHub's OIDC token of the bench job; Refused otherwise."""
    now = time.time() if now is None else now
    parts = token.split(".") if isinstance(token, str) else []
    if len(parts) != 3:
        raise Refused("not a JSON Web Token")
    try:
        header = json.loads(_b64url(parts[0]))
        claims = json.loads(_b64url(parts[1]))
        signature = _b64url(parts[2])
    except (ValueError, UnicodeDecodeError) as exc:
        raise Refused(f"the token does not decode: {exc}") from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise Refused("the token's header or claims are not JSON objects")
    if header.get("alg") != "RS256":
        raise Refused(f"the token is signed with {header.get('alg')!r}; GitHub signs with RS256")
    key = keys.get(str(header.get("kid")))
    if key is None:
        raise Refused(f"the token is signed with key {header.get('kid')!r}, not one of GitHub's")
    if not verify_rs256(f"{parts[0]}.{parts[1]}".encode(), signature, key):
        raise Refused("the token's signature does not verify against GitHub's key")

    if claims.get("iss") != policy.issuer:
        raise Refused(f"issuer {claims.get('iss')!r} is not {policy.issuer}")
    aud = claims.get("aud")
    if aud != policy.audience and aud != [policy.audience]:
        raise Refused(f"audience {aud!r} is not {policy.audience!r}")
    for name in ("exp", "iat"):
        if not isinstance(claims.get(name), (int, float)):
            raise Refused(f"the token has no {name}")
    if claims["exp"] < now - LEEWAY_S:
        raise Refused("the token has expired")
    if claims.get("nbf", claims["iat"]) > now + LEEWAY_S or claims["iat"] > now + LEEWAY_S:
        raise Refused("the token is not valid yet")
    if now - claims["iat"] > MAX_AGE_S:
        raise Refused(f"the token was issued more than {MAX_AGE_S // 60} minutes ago")

    wants = [
        ("repository", claims.get("repository", "").lower() == policy.repository.lower()
         if isinstance(claims.get("repository"), str) else False, policy.repository),
        ("event_name", claims.get("event_name") == "workflow_dispatch", "workflow_dispatch"),
        ("ref", claims.get("ref") == policy.ref, policy.ref),
        ("ref_type", claims.get("ref_type") == "branch", "branch"),
        ("workflow_ref", _same_workflow(claims.get("workflow_ref"), policy.workflow_ref,
                                        policy.repository), policy.workflow_ref),
        ("job_workflow_ref", _same_workflow(claims.get("job_workflow_ref"), policy.workflow_ref,
                                            policy.repository), policy.workflow_ref),
        ("runner_environment", claims.get("runner_environment") == "self-hosted", "self-hosted"),
        ("head_ref", not claims.get("head_ref"), "empty"),
        ("base_ref", not claims.get("base_ref"), "empty"),
    ]
    if policy.repository_id is not None:
        wants.append(("repository_id", str(claims.get("repository_id")) == policy.repository_id,
                      policy.repository_id))
    for name, ok, want in wants:
        if not ok:
            raise Refused(f"{name} is {claims.get(name)!r}, not {want!r}: only the bench job of "
                          f"{policy.workflow_ref}, dispatched, receives the private prompts")
    if seen is not None:
        jti = claims.get("jti")
        if not isinstance(jti, str) or not jti:
            raise Refused("the token has no jti")
        if jti in seen:
            raise Refused("this token was used already; each release takes a fresh one")
        seen.add(jti)
    return claims


def private_files(folder: Path) -> dict[str, str]:
    """The private set: the folder's regular files (no links, no subfolders), as UTF-8 text."""
    files, total = {}, 0
    for path in sorted(folder.iterdir()):
        info = path.lstat()
        if not stat.S_ISREG(info.st_mode):
            continue
        total += info.st_size
        if total > MAX_RELEASE_BYTES:
            raise OSError(f"the private set in {folder} is larger than {MAX_RELEASE_BYTES} bytes")
        files[path.name] = path.read_text(encoding="utf-8")
    if not files:
        raise OSError(f"the private set folder {folder} holds no files")
    return files


def log(message: str) -> None:
    print(f"private-release: {message}", file=sys.stderr, flush=True)


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    keys: KeySet
    policy: Policy
    folder: Path
    seen: set[str]
    seen_lock: threading.Lock


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def address_string(self) -> str:
        return "unix"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass  # decisions are logged by do_POST

    def _answer(self, code: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._answer(405, {"error": f"POST {PATH} with Authorization: Bearer <the job's OIDC token>"})

    def do_POST(self) -> None:  # noqa: N802
        if self.path != PATH:
            self._answer(404, {"error": f"no such path; POST {PATH}"})
            return
        auth = self.headers.get("Authorization", "")
        scheme, _, token = auth.partition(" ")
        try:
            if scheme.lower() != "bearer" or not token:
                raise Refused("no bearer token")
            with self.server.seen_lock:
                claims = check_token(token.strip(), self.server.keys, self.server.policy,
                                     seen=self.server.seen)
        except Refused as exc:
            log(f"refused: {exc}")
            self._answer(403, {"error": str(exc)})
            return
        try:
            files = private_files(self.server.folder)
        except (OSError, UnicodeDecodeError) as exc:
            log(f"cannot release: {exc}")
            self._answer(500, {"error": "the private set cannot be read on the host; see its journal"})
            return
        log(f"released {len(files)} file(s) to run {claims.get('run_id')} attempt "
            f"{claims.get('run_attempt')} of {claims.get('workflow_ref')} (jti {claims.get('jti')})")
        self._answer(200, {"files": files})


def serve(args: argparse.Namespace) -> int:
    folder = Path(args.private_dir)
    if not folder.is_dir():
        print(f"private-release.py: --private-dir {folder} is not a folder", file=sys.stderr)
        return 2
    keys = KeySet(path=Path(args.jwks)) if args.jwks else KeySet()
    keys.get("")  # fetch GitHub's keys now, so the first job does not wait for them
    log(f"{len(keys.keys)} signing key(s) from {args.jwks or keys.url}")
    policy = Policy(repository=args.repository, branch=args.branch, repository_id=args.repository_id,
                    audience=args.audience)
    sock = Path(args.socket)
    sock.parent.mkdir(parents=True, exist_ok=True)
    if sock.exists() or sock.is_symlink():
        sock.unlink()
    server = _Server(str(sock), _Handler)
    server.keys, server.policy, server.folder = keys, policy, folder
    server.seen, server.seen_lock = set(), threading.Lock()
    # The job user (uid 1001 in the container) connects; the token, not the socket, is the key.
    sock.chmod(0o666)
    log(f"serving {folder} on {sock} to the bench job of {policy.workflow_ref} "
        f"(audience {policy.audience!r})")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float = 60) -> None:
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


def _error(message: str) -> int:
    # A workflow command, so the reason shows on the run's page.
    print(f"::error title=private prompts::{message}")
    return 1


def receive(args: argparse.Namespace) -> int:
    url = os.environ.get("ACTIONS_ID_TOKEN_REQUEST_URL")
    request_token = os.environ.get("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
    if not url or not request_token:
        return _error("this job cannot ask for an OIDC token: the bench job needs "
                      "`permissions: id-token: write` (bench.yml)")
    target = Path(args.to)
    if not target.is_dir() or any(target.iterdir()):
        return _error(f"{target} must be an empty folder (the launcher's private tmpfs)")
    sep = "&" if "?" in url else "?"
    request = urllib.request.Request(f"{url}{sep}audience={urllib.parse.quote(args.audience)}",
                                     headers={"Authorization": f"bearer {request_token}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 - GitHub's URL
            token = json.load(answer)["value"]
    except (OSError, ValueError, KeyError) as exc:
        return _error(f"GitHub gave no OIDC token: {exc}")
    try:
        conn = _UnixConnection(args.socket)
        conn.request("POST", PATH, headers={"Authorization": f"Bearer {token}", "Content-Length": "0"})
        response = conn.getresponse()
        body = json.loads(response.read() or b"{}")
        conn.close()
    except (OSError, ValueError) as exc:
        return _error(f"the release service at {args.socket} did not answer: {exc}")
    if response.status != 200 or not isinstance(body.get("files"), dict):
        return _error(f"the release service refused ({response.status}): {body.get('error', body)}")
    for name, text in body["files"].items():
        if not isinstance(name, str) or not isinstance(text, str) or "/" in name or name in ("", ".", ".."):
            return _error(f"the release service sent a file named {name!r}")
        path = target / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o400)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
    print(f"received {len(body['files'])} private file(s) into {target}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="private-release.py", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="the host service")
    s.add_argument("--socket", default=SOCKET)
    s.add_argument("--private-dir", required=True)
    s.add_argument("--repository", required=True, help="OWNER/REPO")
    s.add_argument("--branch", default="main", help="the default branch")
    s.add_argument("--repository-id", default=None, help="the repository's numeric id (optional pin)")
    s.add_argument("--audience", default=AUDIENCE)
    s.add_argument("--jwks", default=None, help="a pinned JWKS file instead of GitHub's URL")
    r = sub.add_parser("receive", help="the bench job's side")
    r.add_argument("--socket", default=os.environ.get("ARENA_PRIVATE_RELEASE", SOCKET))
    r.add_argument("--to", default=os.environ.get("ARENA_PRIVATE_PROMPTS", "/srv/arena/private"))
    r.add_argument("--audience", default=AUDIENCE)
    args = parser.parse_args(argv)
    if args.command == "serve":
        import re
        args.repository_id = args.repository_id or None  # runner.env may leave it empty
        if not re.fullmatch(r"[A-Za-z0-9-]+/[A-Za-z0-9._-]+", args.repository):
            parser.error("--repository must be OWNER/REPO")
        if not re.fullmatch(r"[A-Za-z0-9._/-]+", args.branch):
            parser.error("--branch must be a branch name")
        if args.repository_id is not None and not args.repository_id.isdigit():
            parser.error("--repository-id must be a number")
        return serve(args)
    return receive(args)


if __name__ == "__main__":
    sys.exit(main())
