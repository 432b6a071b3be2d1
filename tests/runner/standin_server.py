"""A stand-in for an OpenAI-compatible engine, run as its own process by fault tests.

It answers like vLLM where the runner looks (health, models, version, metrics, token-ID
completions, prompt logprobs) and misbehaves on request:

    --hang-after N      the (N+1)-th completion never gets an answer (the engine hangs)
    --ignore-sigterm    SIGTERM is ignored: stopping must escalate to SIGKILL
    --escapee FILE      start a child in its own session (outside the process group) that
                        writes its pid to FILE; stopping must still find and kill it
    --uds PATH          listen on a Unix socket (as the runner's sandboxed engines do)
    --attack JSON       try to get out at start-up (run it in the engine's sandbox): reach
                        an outside address and the runner's loopback, read the private
                        prompts, read the runner's environment, write outside scratch; the
                        outcomes are served at GET /attack. JSON names the targets:
                        {"host_port": N, "private": PATH, "write": PATH, "env": NAME}
    --burn DIR          the paired-run cheat: burn CPU in a background thread and in a child
                        process from start-up on, each writing the time (CLOCK_MONOTONIC) of
                        every block of work it gets done to DIR/<pid>.marks; served at
                        GET /burned. A frozen engine gets no work done.
    --delay S           every completion takes S seconds more (a slower engine)
    --waker             a child process that keeps sending SIGCONT to every process it can
                        see (an engine trying to thaw itself while it should be frozen)

Every completion's start and end (CLOCK_MONOTONIC) is served at GET /requests.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import socketserver
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

state: dict = {"completions": 0, "attack": None, "requests": []}
BLOCK = 20000  # iterations of busy work per mark


def burn(marks: str) -> None:
    """Busy work, forever; the time of each finished block appended to `marks`."""
    with open(marks, "a") as f:
        x = 0
        while True:
            for i in range(BLOCK):
                x = (x * 31 + i) % 1000003
            f.write(f"{time.monotonic()}\n")
            f.flush()


def burned(folder: str) -> list[float]:
    out: list[float] = []
    for name in os.listdir(folder):
        with open(os.path.join(folder, name)) as f:
            out += [float(line) for line in f if line.strip()]
    return sorted(out)


def waker() -> None:
    me = os.getpid()
    while True:
        for name in os.listdir("/proc"):
            if name.isdigit() and int(name) != me:
                try:
                    os.kill(int(name), signal.SIGCONT)
                except OSError:
                    pass


def _try(fn) -> str:  # type: ignore[no-untyped-def]
    try:
        fn()
        return "allowed"
    except Exception as exc:  # the outcome is the point: report it
        return f"{type(exc).__name__}: {exc}"[:200]


def attack(targets: dict) -> dict:
    """What an engine that wants out would try first."""
    def outside() -> None:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.connect(("192.0.2.1", 9))  # a route lookup only: UDP connect sends nothing

    def loopback() -> None:
        socket.create_connection(("127.0.0.1", int(targets["host_port"])), timeout=2).close()

    def private() -> None:
        for root, _, files in os.walk(targets["private"]):
            for f in files:
                open(os.path.join(root, f)).read()
        if not os.path.exists(targets["private"]):
            raise FileNotFoundError(targets["private"])

    def write_outside() -> None:
        with open(targets["write"], "w") as f:
            f.write("written from inside the engine's sandbox")

    def write_model() -> None:
        with open("/usr/lib/arena-was-here", "w") as f:
            f.write("x")

    env = {k: v for k, v in os.environ.items()}
    return {
        "outside_address": _try(outside),
        "runner_loopback": _try(loopback),
        "read_private": _try(private),
        "write_outside_scratch": _try(write_outside),
        "write_system": _try(write_model),
        "runner_environment": ("visible" if targets.get("env") in env else "not visible"),
        "environment_names": sorted(env),
        "write_scratch": _try(lambda: open("/scratch/mine", "w").write("x")),
    }


class UnixHTTPServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=None)
    ap.add_argument("--uds", default=None)
    ap.add_argument("--attack", default=None)
    ap.add_argument("--hang-after", type=int, default=None)
    ap.add_argument("--ignore-sigterm", action="store_true")
    ap.add_argument("--escapee", default=None)
    ap.add_argument("--burn", default=None)
    ap.add_argument("--waker", action="store_true")
    ap.add_argument("--delay", type=float, default=0.0)
    args = ap.parse_args()
    if args.burn:
        import threading

        os.makedirs(args.burn, exist_ok=True)
        if os.fork() == 0:
            burn(os.path.join(args.burn, f"{os.getpid()}.marks"))
        threading.Thread(target=burn, args=(os.path.join(args.burn, "main.marks"),),
                         daemon=True).start()
    if args.waker and os.fork() == 0:
        waker()
    if args.attack:
        state["attack"] = attack(json.loads(args.attack))
        sys.stdout.write("standin: tried to get out\n")
        sys.stdout.flush()
    if args.ignore_sigterm:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if args.escapee:
        subprocess.Popen([sys.executable, "-c",
                          "import os, signal, sys, time; signal.signal(signal.SIGTERM, "
                          "signal.SIG_IGN); open(sys.argv[1], 'w').write(str(os.getpid())); "
                          "time.sleep(3600)", args.escapee], start_new_session=True)

    class Handler(BaseHTTPRequestHandler):
        def address_string(self) -> str:
            return "client"

        def log_message(self, fmt: str, *a: object) -> None:
            sys.stdout.write("standin: " + (fmt % a) + "\n")
            sys.stdout.flush()

        def _send(self, code: int, doc: object, ctype: str = "application/json") -> None:
            body = doc.encode() if isinstance(doc, str) else json.dumps(doc).encode()
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            if self.path in ("/health",):
                self._send(200, "")
            elif self.path == "/v1/models":
                self._send(200, {"object": "list", "data": [{"id": "submission"}]})
            elif self.path == "/version":
                self._send(200, {"version": "0.32.0"})
            elif self.path == "/attack" and state["attack"] is not None:
                self._send(200, state["attack"])
            elif self.path == "/burned" and args.burn:
                self._send(200, burned(args.burn))
            elif self.path == "/requests":
                self._send(200, state["requests"])
            elif self.path == "/metrics":
                self._send(200, "# no metrics\n", "text/plain")
            else:
                self._send(404, {"error": {"message": "not found"}})

        def do_POST(self) -> None:
            t0 = time.monotonic()
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            state["completions"] += 1
            if args.hang_after is not None and state["completions"] > args.hang_after:
                sys.stdout.write("standin: hanging now\n")
                sys.stdout.flush()
                time.sleep(3600)
            prompt = body["prompt"]
            if args.delay:
                time.sleep(args.delay)
            choice = {"index": 0, "text": "", "finish_reason": "length",
                      "token_ids": [7] * int(body["max_tokens"]), "prompt_logprobs": None}
            if body.get("prompt_logprobs") is not None:
                choice["prompt_logprobs"] = [None] + [{str(t): {"logprob": -2.0}}
                                                      for t in prompt[1:]]
            # Recorded before the answer goes: once it has, the engine may be frozen at once.
            state["requests"].append([t0, time.monotonic()])
            self._send(200, {"choices": [choice],
                             "usage": {"completion_tokens": int(body["max_tokens"])}})

    if args.uds:
        UnixHTTPServer(args.uds, Handler).serve_forever()
    else:
        ThreadingHTTPServer(("127.0.0.1", args.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
