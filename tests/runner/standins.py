"""Stand-ins at the engine boundary, for tests that need an engine to misbehave.

- `RewritingProxy`: a real HTTP proxy in front of a real engine (the shared vLLM server) that
  can rewrite each completion answer and records what passed through. Cheats that a
  participant could build (short outputs, different decoding when logprobs are asked, cached
  answers) are written as rewrite functions on top of it.
- `standin_server.py` (run as a process through `runner.server.ManagedServer`): an engine that
  hangs, ignores SIGTERM, leaves an escaped child behind, or (in the engine's sandbox) tries
  to get out.
"""

from __future__ import annotations

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable

from runner import sandbox as sbx
from runner.server import ExternalServer, ManagedServer, free_port, http_client

STANDIN = Path(__file__).resolve().parent / "standin_server.py"

# (path, request body, answer document) -> answer document
Rewrite = Callable[[str, dict[str, Any], dict[str, Any]], dict[str, Any]]


class UpstreamError(Exception):
    """The engine behind a proxy answered with an error: passed on as it is."""

    def __init__(self, status: int, content: bytes):
        self.status, self.content = status, content
        super().__init__(f"upstream answered HTTP {status}")


class RewritingProxy:
    """A real HTTP server in front of `upstream` (a server, or its URL). GET requests are passed through; each POST is
    answered by `answer`, which forwards it and puts completion answers through `rewrite`.
    `exchanges` records (request body, answer as sent) for every POST; `calls` counts them."""

    def __init__(self, upstream: Any, rewrite: Rewrite | None = None):
        # A server (with its Unix socket, as the runner's engines listen) or a URL.
        self.upstream = ExternalServer(upstream) if isinstance(upstream, str) else upstream
        self.rewrite = rewrite
        self.exchanges: list[tuple[dict[str, Any], dict[str, Any]]] = []
        self._lock = threading.Lock()
        self._session = threading.local()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a: object) -> None:
                pass

            def _reply(self, code: int, body: bytes, ctype: str) -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                with http_client(proxy.upstream, 60) as c:
                    r = c.get(self.path)
                self._reply(r.status_code, r.content,
                            r.headers.get("Content-Type", "application/json"))

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                try:
                    doc = proxy.answer(self.path, body)
                except UpstreamError as exc:
                    self._reply(exc.status, exc.content, "application/json")
                    return
                with proxy._lock:
                    proxy.exchanges.append((body, doc))
                self._reply(200, json.dumps(doc).encode(), "application/json")

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    @property
    def calls(self) -> int:
        return len(self.exchanges)

    def __enter__(self) -> "RewritingProxy":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=10)

    def forward(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """The upstream engine's answer (one HTTP session per proxy thread)."""
        session = getattr(self._session, "s", None)
        if session is None:
            session = self._session.s = http_client(self.upstream, 300)
        r = session.post(path, json=body)
        if r.status_code != 200:
            raise UpstreamError(r.status_code, r.content)
        return r.json()

    def answer(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        doc = self.forward(path, body)
        return self.rewrite(path, body, doc) if self.rewrite is not None else doc


def standin(tmp: Path, *args: str, sandboxed: bool = False) -> ManagedServer:
    """A stand-in engine process (not started), with its log in `tmp`; with `sandboxed`, in
    the engine's sandbox exactly as vLLM would be, listening on the sandbox's Unix socket."""
    if sandboxed:
        argv = [sbx.python(), "/standin/standin_server.py", "--uds", sbx.SOCKET, *args]
        return ManagedServer(argv, log_path=tmp / "standin.log", env={},
                             sandbox=sbx.SandboxSpec(argv, [sbx.Bind(STANDIN.parent,
                                                                     "/standin")],
                                                     {}, 64 << 20))
    port = free_port()
    return ManagedServer([sys.executable, str(STANDIN), "--port", str(port), *args],
                         port=port, log_path=tmp / "standin.log")
