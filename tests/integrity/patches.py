"""Cheats written as real vLLM patches: `git diff --full-index` of edited copies of the
installed release's files, made here so that they always apply to the release the runner has
(the runner proves each pre-image against it, as it does for any submission's patch).

- `LOSSY_AND_LYING`: the sampler takes the runner-up wherever it is close to the top choice
  (lossy decoding), and every prompt log-probability is reported as certain (logprob 0, rank 1:
  perplexity 1.0 for free, three changed lines).
- `ESCAPE`: at start-up the API server tries to get out: reach an outside address and the
  runner's loopback, read the private prompts and the runner's environment, write outside its
  scratch, write to the installed vLLM and to its own patched copy. It prints what happened
  (one JSON line, to its log) and then serves honestly.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from runner.overlay import installed_package

ESCAPE_PORT = 39217  # the "runner's loopback service" the escape tries (the test listens on it)
ESCAPE_PRIVATE = "/tmp/arena-escape-private"  # where the test puts a private set on the host
ESCAPE_WRITE = "/tmp/arena-escape-written"  # a host path the escape tries to create
ESCAPE_MARKER = "arena-escape-report:"

LOSSY_AND_LYING = {
    "vllm/v1/sample/sampler.py": [(
        "        if current_platform.is_cpu():\n"
        "            return torch.ops._C.greedy_argmax(logits)\n"
        "        return logits.argmax(dim=-1).view(-1)\n",
        "        top = logits.topk(2, dim=-1)\n"
        "        close = (top.values[:, 0] - top.values[:, 1]) < 0.05\n"
        "        return torch.where(close, top.indices[:, 1], top.indices[:, 0]).view(-1)\n")],
    "vllm/v1/engine/logprobs.py": [(
        "        prompt_token_ranks = ranks.tolist()\n"
        "        prompt_logprobs = logprobs.tolist()\n",
        "        prompt_token_ranks = [[1] * len(r) for r in ranks.tolist()]\n"
        "        prompt_logprobs = [[0.0] * len(r) for r in logprobs.tolist()]\n")],
}

_ESCAPE_CODE = f'''
def _arena_escape():
    import json, os, socket, sys
    seen = {{}}
    def attempt(name, fn):
        try:
            fn()
            seen[name] = "allowed"
        except Exception as exc:
            seen[name] = type(exc).__name__ + ": " + str(exc)[:120]
    def outside():
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM).connect(("192.0.2.1", 9))
    def loopback():
        socket.create_connection(("127.0.0.1", {ESCAPE_PORT}), timeout=2).close()
    def private():
        for n in os.listdir({ESCAPE_PRIVATE!r}):
            open(os.path.join({ESCAPE_PRIVATE!r}, n)).read()
    def write_outside():
        open({ESCAPE_WRITE!r}, "w").write("x")
        if os.path.realpath({ESCAPE_WRITE!r}).startswith("/tmp/"):
            raise PermissionError("/tmp is the sandbox's own tmpfs, not the runner's")
    def write_installed():
        import vllm
        for root in sys.path:
            p = os.path.join(root, "vllm", "__init__.py")
            if os.path.isfile(p) and not root.startswith("/engine"):
                open(p, "a").write("# owned")
                return
        raise FileNotFoundError("no installed vllm on sys.path")
    def write_overlay():
        open(os.path.join(os.path.dirname(__file__), "owned.py"), "w").write("x")
    attempt("outside_address", outside)
    attempt("runner_loopback", loopback)
    attempt("read_private", private)
    attempt("write_outside_scratch", write_outside)
    attempt("write_installed_vllm", write_installed)
    attempt("write_own_engine", write_overlay)
    seen["environment"] = sorted(os.environ)
    print({ESCAPE_MARKER!r}, json.dumps(seen), flush=True)


_arena_escape()
'''

ESCAPE = {
    "vllm/entrypoints/openai/api_server.py": [(
        "import warnings\n\n",
        "import warnings\n" + _ESCAPE_CODE + "\n")],
}


def make_patch(edits: dict[str, list[tuple[str, str]]], tmp: Path) -> str:
    """A real `git diff --full-index` that makes `edits` to the installed release's files."""
    installed = installed_package()
    repo = tmp / "vllm-fork"
    env = dict(os.environ, GIT_AUTHOR_NAME="cheat", GIT_AUTHOR_EMAIL="c@x",
               GIT_COMMITTER_NAME="cheat", GIT_COMMITTER_EMAIL="c@x",
               GIT_CONFIG_NOSYSTEM="1", HOME=str(tmp))

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=repo, env=env, check=True,
                              capture_output=True, text=True).stdout

    repo.mkdir(parents=True)
    git("init", "-q")
    for rel in edits:
        dst = repo / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_bytes((installed.parent / rel).read_bytes())
    git("add", "-A")
    git("commit", "-q", "-m", "the release")
    for rel, changes in edits.items():
        text = (repo / rel).read_text()
        for old, new in changes:
            assert old in text, f"{rel} no longer holds the cheat's anchor"
            text = text.replace(old, new, 1)
        (repo / rel).write_text(text)
    git("add", "-A")
    return git("diff", "--cached", "--full-index")
