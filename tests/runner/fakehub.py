"""A local stand-in for the Hugging Face Hub, at the network boundary: a real HTTP server that
answers the requests huggingface_hub's client makes (repository info with file sizes, and
file downloads by revision), so the runner's real download code runs against it.

    with FakeHub() as hub:
        hub.add("owner/name", files={"config.json": b"{...}"}, sizes={"model.safetensors": 7e11})
        monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", hub.url)

A file can be declared by size only (`sizes`): its metadata says it is that big, and a download
of it is refused by the test (the point of those tests is that nothing downloads it).
`downloads` records every file whose bytes were sent.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlparse


class FakeHub:
    def __init__(self) -> None:
        self.repos: dict[str, dict[str, Any]] = {}
        self.downloads: list[tuple[str, str]] = []
        self.slow: dict[str, float] = {}  # repo -> seconds each weight file's download takes
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a: object) -> None:
                pass

            def _send(self, code: int, body: bytes = b"", headers: dict[str, str] | None = None,
                      head: bool = False) -> None:
                self.send_response(code)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)) if not head or code != 200
                                 else (headers or {}).get("X-Linked-Size", str(len(body))))
                self.end_headers()
                if not head:
                    self.wfile.write(body)

            def _route(self, head: bool) -> None:
                path = unquote(urlparse(self.path).path)
                if path.startswith("/api/models/") and "/tree/" in path:
                    repo, _, rev = path[len("/api/models/"):].partition("/tree/")
                    info = hub.info(repo, rev.strip("/"))
                    if info is None:
                        self._send(404, b"{}", {"X-Error-Code": "RevisionNotFound"})
                        return
                    tree = [{"type": "file", "path": s["rfilename"], "size": s["size"],
                             "oid": hashlib.sha1(s["rfilename"].encode()).hexdigest()}
                            for s in info["siblings"]]
                    self._send(200, json.dumps(tree).encode(),
                               {"Content-Type": "application/json"}, head)
                    return
                if path.startswith("/api/models/"):
                    rest = path[len("/api/models/"):]
                    repo, _, rev = rest.partition("/revision/")
                    info = hub.info(repo, rev)
                    if info is None:
                        self._send(404, json.dumps({"error": "not found"}).encode(),
                                   {"Content-Type": "application/json",
                                    "X-Error-Code": "RepoNotFound" if repo not in hub.repos
                                    else "RevisionNotFound"})
                        return
                    self._send(200, json.dumps(info).encode(),
                               {"Content-Type": "application/json"}, head)
                    return
                parts = path.strip("/").split("/")
                if len(parts) >= 5 and parts[2] == "resolve":
                    repo, rev, name = "/".join(parts[:2]), parts[3], "/".join(parts[4:])
                    r = hub.repos.get(repo)
                    if r is None or rev != r["sha"] or (name not in r["files"]):
                        self._send(404, b"", {"X-Error-Code": "EntryNotFound"})
                        return
                    data = r["files"][name]
                    etag = hashlib.sha256(data).hexdigest()
                    headers = {"X-Repo-Commit": r["sha"], "ETag": f'"{etag}"',
                               "Content-Type": "application/octet-stream"}
                    if not head:
                        hub.downloads.append((repo, name))
                        if hub.slow.get(repo) and name.endswith(".safetensors"):
                            time.sleep(hub.slow[repo])
                    self._send(200, data, headers, head)
                    return
                self._send(404)

            def do_HEAD(self) -> None:
                self._route(head=True)

            def do_GET(self) -> None:
                self._route(head=False)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def add(self, repo: str, *, sha: str, files: dict[str, bytes],
            sizes: dict[str, int] | None = None) -> None:
        """A repository at one commit: files with their bytes, and files known by size only."""
        self.repos[repo] = {"sha": sha, "files": dict(files), "sizes": dict(sizes or {})}

    def info(self, repo: str, rev: str) -> dict[str, Any] | None:
        r = self.repos.get(repo)
        if r is None or rev != r["sha"]:
            return None
        siblings = [{"rfilename": n, "size": len(b)} for n, b in sorted(r["files"].items())]
        siblings += [{"rfilename": n, "size": int(s)} for n, s in sorted(r["sizes"].items())]
        return {"id": repo, "modelId": repo, "sha": r["sha"], "private": False,
                "siblings": siblings}

    def __enter__(self) -> "FakeHub":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
