"""runner-ops/private-release.py hands the private prompt set to the bench job's OIDC token only.

The service runs for real (a subprocess on a Unix socket, as on the GPU host), with a pinned key
set of our own: an RSA key generated here stands in for GitHub's OIDC signing key, and tokens are
signed with it exactly as GitHub signs them (RS256, with GitHub's claims). The job side
(`receive`) runs for real too, against a local HTTP server in the place of the runner's OIDC
token endpoint (ACTIONS_ID_TOKEN_REQUEST_URL), the one boundary that is faked.
"""

from __future__ import annotations

import base64
import http.server
import importlib.util
import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest

from .conftest import REPO

rsa = pytest.importorskip("cryptography.hazmat.primitives.asymmetric.rsa")
from cryptography.hazmat.primitives import hashes  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import padding  # noqa: E402

SCRIPT = REPO / "runner-ops" / "private-release.py"
REPOSITORY = "octo-org/arena"
WORKFLOW_REF = f"{REPOSITORY}/.github/workflows/bench.yml@refs/heads/main"
PRIVATE = '{"id": "p1", "messages": [{"role": "user", "content": "the secret prompt"}]}\n'


def _module() -> Any:
    spec = importlib.util.spec_from_file_location("private_release", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["private_release"] = module
    spec.loader.exec_module(module)
    return module


release = _module()


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _int(n: int) -> str:
    return b64(n.to_bytes((n.bit_length() + 7) // 8, "big"))


@pytest.fixture(scope="module")
def keys() -> dict[str, Any]:
    github = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    numbers = github.public_key().public_numbers()
    jwks = {"keys": [{"kty": "RSA", "alg": "RS256", "use": "sig", "kid": "github-key-1",
                      "n": _int(numbers.n), "e": _int(numbers.e)}]}
    return {"github": github, "other": other, "jwks": jwks}


def bench_claims(**changes: Any) -> dict[str, Any]:
    """The claims of GitHub's OIDC token for bench.yml's bench job (docs: OIDC token claims)."""
    now = int(time.time())
    claims = {
        "iss": "https://token.actions.githubusercontent.com", "aud": "arena-private-prompts",
        "sub": f"repo:{REPOSITORY}:ref:refs/heads/main", "jti": str(uuid.uuid4()),
        "iat": now - 5, "nbf": now - 5, "exp": now + 300,
        "repository": REPOSITORY, "repository_id": "4242", "repository_owner": "octo-org",
        "repository_visibility": "public", "ref": "refs/heads/main", "ref_type": "branch",
        "sha": "0123456789abcdef0123456789abcdef01234567", "workflow": "bench",
        "workflow_ref": WORKFLOW_REF, "job_workflow_ref": WORKFLOW_REF,
        "event_name": "workflow_dispatch", "runner_environment": "self-hosted",
        "run_id": "987654321", "run_attempt": "1", "actor": "maint-bob",
        "head_ref": "", "base_ref": "",
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def sign(claims: dict[str, Any], key: Any, *, kid: str = "github-key-1", alg: str = "RS256") -> str:
    header = b64(json.dumps({"alg": alg, "kid": kid, "typ": "JWT"}).encode())
    payload = b64(json.dumps(claims).encode())
    signature = key.sign(f"{header}.{payload}".encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{header}.{payload}.{b64(signature)}"


@pytest.fixture(scope="module")
def service(keys) -> Iterator[dict[str, Any]]:
    work = Path(tempfile.mkdtemp(prefix="arena-rel-", dir="/tmp"))  # a short socket path
    private = work / "private"
    private.mkdir()
    (private / "private.jsonl").write_text(PRIVATE)
    (private / "link.jsonl").symlink_to(private / "private.jsonl")  # never followed
    (work / "jwks.json").write_text(json.dumps(keys["jwks"]))
    sock = work / "run" / "private.sock"
    log = (work / "log").open("w")
    proc = subprocess.Popen(
        [sys.executable, str(SCRIPT), "serve", "--socket", str(sock), "--private-dir", str(private),
         "--repository", REPOSITORY, "--branch", "main", "--repository-id", "4242",
         "--jwks", str(work / "jwks.json")], stderr=log, env={"PATH": os.environ["PATH"]})
    try:
        deadline = time.monotonic() + 15
        while not sock.exists():
            assert proc.poll() is None, (work / "log").read_text()
            assert time.monotonic() < deadline, "the service did not start"
            time.sleep(0.05)
        yield {"socket": sock, "work": work, "log": work / "log"}
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()
        shutil.rmtree(work, ignore_errors=True)


def ask(sock: Path, token: str | None, path: str = "/v1/private") -> tuple[int, dict[str, Any]]:
    conn = release._UnixConnection(str(sock), timeout=10)
    headers = {"Content-Length": "0"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    conn.request("POST", path, headers=headers)
    answer = conn.getresponse()
    body = json.loads(answer.read())
    conn.close()
    return answer.status, body


def test_the_bench_jobs_token_receives_the_private_set(service, keys) -> None:
    status, body = ask(service["socket"], sign(bench_claims(), keys["github"]))
    assert status == 200, body
    assert body == {"files": {"private.jsonl": PRIVATE}}
    assert stat.S_IMODE(service["socket"].stat().st_mode) == 0o666
    log = service["log"].read_text()
    assert f"released 1 file(s) to run 987654321 attempt 1 of {WORKFLOW_REF}" in log
    assert "the secret prompt" not in log


PR_REF = "refs/pull/7/merge"
REFUSED = [
    pytest.param(dict(event_name="pull_request", ref=PR_REF, head_ref="add-gpu-job", base_ref="main",
                      workflow_ref=f"{REPOSITORY}/.github/workflows/x.yml@{PR_REF}",
                      job_workflow_ref=f"{REPOSITORY}/.github/workflows/x.yml@{PR_REF}"),
                 "event_name is 'pull_request'", id="a pull request's own workflow"),
    pytest.param(dict(event_name="pull_request", ref=PR_REF, head_ref="x", base_ref="main",
                      workflow_ref=f"{REPOSITORY}/.github/workflows/bench.yml@{PR_REF}",
                      job_workflow_ref=f"{REPOSITORY}/.github/workflows/bench.yml@{PR_REF}"),
                 "event_name is 'pull_request'", id="bench.yml as changed by a pull request"),
    pytest.param(dict(workflow_ref=f"{REPOSITORY}/.github/workflows/x.yml@refs/heads/main",
                      job_workflow_ref=f"{REPOSITORY}/.github/workflows/x.yml@refs/heads/main"),
                 "workflow_ref is", id="another workflow file"),
    pytest.param(dict(job_workflow_ref="mallory/tools/.github/workflows/bench.yml@refs/heads/main"),
                 "job_workflow_ref is", id="a reusable workflow of another repository"),
    pytest.param(dict(ref="refs/heads/evil",
                      workflow_ref=f"{REPOSITORY}/.github/workflows/bench.yml@refs/heads/evil",
                      job_workflow_ref=f"{REPOSITORY}/.github/workflows/bench.yml@refs/heads/evil"),
                 "ref is 'refs/heads/evil'", id="another ref"),
    pytest.param(dict(ref="refs/tags/main", ref_type="tag"), "ref is 'refs/tags/main'",
                 id="a tag named like the branch"),
    pytest.param(dict(event_name="push"), "event_name is 'push'", id="another event"),
    pytest.param(dict(head_ref="feature"), "head_ref is 'feature'", id="pull request refs"),
    pytest.param(dict(runner_environment="github-hosted"), "runner_environment", id="a GitHub-hosted job"),
    pytest.param(dict(repository="mallory/arena", repository_id="666"), "repository is 'mallory/arena'",
                 id="another repository"),
    pytest.param(dict(repository_id="666"), "repository_id is '666'", id="a recreated repository"),
    pytest.param(dict(exp=int(time.time()) - 600, iat=int(time.time()) - 900,
                      nbf=int(time.time()) - 900), "expired", id="an expired token"),
    # (times are taken when the module is collected: exp leaves a day's margin for a long suite)
    pytest.param(dict(iat=int(time.time()) - 3600, nbf=int(time.time()) - 3600,
                      exp=int(time.time()) + 86400), "issued more than 15 minutes ago",
                 id="an old token"),
    pytest.param(dict(nbf=int(time.time()) + 3600), "not valid yet", id="a token from the future"),
    pytest.param(dict(aud="https://github.com/octo-org"), "audience", id="the default audience"),
    pytest.param(dict(aud="sts.amazonaws.com"), "audience", id="a wrong audience"),
    pytest.param(dict(iss="https://token.actions.example.com"), "issuer", id="a wrong issuer"),
    pytest.param(dict(exp=None), "has no exp", id="no expiry"),
]


@pytest.mark.parametrize(("changes", "why"), REFUSED)
def test_every_other_token_is_refused_with_the_reason(service, keys, changes, why) -> None:
    status, body = ask(service["socket"], sign(bench_claims(**changes), keys["github"]))
    assert status == 403 and why in body["error"], body
    assert "files" not in body and "secret" not in json.dumps(body)


def _tamper(token: str) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["event_name"] = "workflow_dispatch"
    return ".".join([header, b64(json.dumps(claims).encode()), signature])


FORGED = [
    pytest.param(lambda k: sign(bench_claims(), k["other"]), "signature does not verify",
                 id="signed with another key under GitHub's key id"),
    pytest.param(lambda k: sign(bench_claims(), k["other"], kid="attacker-key"), "not one of GitHub's",
                 id="signed with an unknown key"),
    pytest.param(lambda k: _tamper(sign(bench_claims(event_name="pull_request"), k["github"])),
                 "signature does not verify", id="claims edited after signing"),
    pytest.param(lambda k: ".".join([b64(b'{"alg":"none","kid":"github-key-1"}'),
                                     b64(json.dumps(bench_claims()).encode()), ""]),
                 "signed with 'none'", id="alg none"),
    pytest.param(lambda k: sign(bench_claims(), k["github"], alg="HS256"), "signed with 'HS256'",
                 id="another algorithm"),
    pytest.param(lambda k: "not-a-token", "not a JSON Web Token", id="garbage"),
    pytest.param(lambda k: "e30.b!.c", "not base64url", id="bad encoding"),
]


@pytest.mark.parametrize(("make", "why"), FORGED)
def test_a_forged_token_is_refused(service, keys, make, why) -> None:
    status, body = ask(service["socket"], make(keys))
    assert status == 403 and why in body["error"], body


def test_a_token_is_good_for_one_release_only(service, keys) -> None:
    token = sign(bench_claims(), keys["github"])
    assert ask(service["socket"], token)[0] == 200
    status, body = ask(service["socket"], token)
    assert status == 403 and "used already" in body["error"]


def test_no_token_or_another_path_gets_nothing(service) -> None:
    assert ask(service["socket"], None) == (403, {"error": "no bearer token"})
    status, body = ask(service["socket"], "x", path="/v1/private/../etc")
    assert status == 404 and "files" not in body


def test_the_signature_check_rebuilds_the_whole_padding(keys) -> None:
    """A signature whose decoded block only ends with the right digest does not pass."""
    numbers = keys["github"].private_numbers()
    n, d = numbers.public_numbers.n, numbers.d
    message = b"header.payload"
    import hashlib
    digest_info = release._SHA256_DIGEST_INFO + hashlib.sha256(message).digest()
    k = (n.bit_length() + 7) // 8
    # Short padding with garbage in front: a lax parser that searches for the digest accepts it.
    block = b"\x00\x01\xff\xff\x00" + b"\x41" * (k - 5 - len(digest_info)) + digest_info
    forged = pow(int.from_bytes(block, "big"), d, n).to_bytes(k, "big")
    assert not release.verify_rs256(message, forged, keys["jwks"]["keys"][0])
    good = keys["github"].sign(message, padding.PKCS1v15(), hashes.SHA256())
    assert release.verify_rs256(message, good, keys["jwks"]["keys"][0])


# The job's side: `private-release.py receive`, as bench.yml runs it.

class _TokenEndpoint(http.server.BaseHTTPRequestHandler):
    token = ""
    seen: list[tuple[str, str]] = []

    def do_GET(self) -> None:  # noqa: N802
        type(self).seen.append((self.path, self.headers.get("Authorization", "")))
        data = json.dumps({"value": type(self).token}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def token_endpoint() -> Iterator[tuple[str, type[_TokenEndpoint]]]:
    handler = type("Endpoint", (_TokenEndpoint,), {"seen": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/idtoken?api-version=2.0", handler
    finally:
        server.shutdown()
        server.server_close()


def receive(service, url: str | None, to: Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ["PATH"], "ARENA_PRIVATE_RELEASE": str(service["socket"]),
           "ARENA_PRIVATE_PROMPTS": str(to)}
    if url:
        env |= {"ACTIONS_ID_TOKEN_REQUEST_URL": url, "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "runner-secret"}
    return subprocess.run([sys.executable, str(SCRIPT), "receive"], env=env, capture_output=True,
                          text=True, timeout=60, check=False)


def test_the_bench_job_receives_the_private_set_into_its_empty_folder(
        service, keys, token_endpoint, tmp_path) -> None:
    url, endpoint = token_endpoint
    endpoint.token = sign(bench_claims(), keys["github"])
    to = tmp_path / "private"
    to.mkdir(mode=0o700)
    done = receive(service, url, to)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (to / "private.jsonl").read_text() == PRIVATE
    assert stat.S_IMODE((to / "private.jsonl").stat().st_mode) == 0o400
    assert [p.name for p in to.iterdir()] == ["private.jsonl"]
    [(path, auth)] = endpoint.seen
    assert path == "/idtoken?api-version=2.0&audience=arena-private-prompts"
    assert auth == "bearer runner-secret"
    assert endpoint.token not in done.stdout + done.stderr


def test_a_job_whose_token_is_refused_receives_nothing_and_says_why(
        service, keys, token_endpoint, tmp_path) -> None:
    url, endpoint = token_endpoint
    endpoint.token = sign(bench_claims(event_name="pull_request", ref=PR_REF, head_ref="x",
                                       base_ref="main"), keys["github"])
    to = tmp_path / "private"
    to.mkdir()
    done = receive(service, url, to)
    assert done.returncode == 1
    assert "::error title=private prompts::the release service refused (403): event_name" in done.stdout
    assert list(to.iterdir()) == []


def test_a_job_without_id_token_permission_is_told_what_to_grant(service, tmp_path) -> None:
    to = tmp_path / "private"
    to.mkdir()
    done = receive(service, None, to)
    assert done.returncode == 1 and "permissions: id-token: write" in done.stdout


def test_the_release_service_is_standard_library_only() -> None:
    # It runs on the GPU host's own python3, outside any virtual environment.
    text = SCRIPT.read_text()
    imports = {line.split()[1].split(".")[0] for line in text.splitlines()
               if line.startswith(("import ", "from ")) and not line.startswith("from __future__")}
    assert imports <= set(sys.stdlib_module_names), imports - set(sys.stdlib_module_names)


def test_a_unix_socket_path_fits(service) -> None:
    assert len(str(service["socket"])) < 100
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(str(service["socket"]))


def test_the_bench_job_receives_the_private_prompts_right_before_measuring(workflows) -> None:
    bench = workflows["bench.yml"]["jobs"]["bench"]
    runs = [str(step.get("run", "")) for step in bench["steps"]]
    receive = runs.index("python /opt/arena/private-release.py receive")
    measure = next(i for i, r in enumerate(runs) if r.startswith("arena bench"))
    assert receive == measure - 1
    assert bench["permissions"]["id-token"] == "write"
    # The image puts the script where the step runs it.
    dockerfile = (REPO / "runner-ops" / "image" / "Dockerfile").read_text()
    assert "COPY --chmod=0755 runner-ops/private-release.py /opt/arena/private-release.py" in dockerfile
    assert "!runner-ops/private-release.py" in (REPO / "runner-ops" / "image" / "Dockerfile.dockerignore").read_text()


def test_githubs_keys_are_fetched_cached_and_refetched_for_a_new_key_id(keys, monkeypatch) -> None:
    served = {"doc": keys["jwks"], "hits": 0}

    class Jwks(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            served["hits"] += 1
            data = json.dumps(served["doc"]).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Jwks)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        keyset = release.KeySet(url=f"http://127.0.0.1:{server.server_address[1]}/jwks")
        policy = release.Policy(repository=REPOSITORY)
        assert release.check_token(sign(bench_claims(), keys["github"]), keyset, policy)["event_name"]
        assert release.check_token(sign(bench_claims(), keys["github"]), keyset, policy)
        assert served["hits"] == 1, "cached"
        # GitHub rotates its key: a token under the new key id fetches the set again, once.
        rotated = {**keys["jwks"]["keys"][0], "kid": "github-key-2"}
        served["doc"] = {"keys": [rotated]}
        monkeypatch.setattr(release, "JWKS_REFRESH_S", 0)
        assert release.check_token(sign(bench_claims(), keys["github"], kid="github-key-2"), keyset, policy)
        assert served["hits"] == 2
        with pytest.raises(release.Refused, match="not one of GitHub's"):
            release.check_token(sign(bench_claims(), keys["github"], kid="github-key-1"), keyset, policy)
    finally:
        server.shutdown()
        server.server_close()
