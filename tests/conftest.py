"""Session-wide fixtures every test area may use: the tiny model and a shared vLLM server.

Starting vLLM costs about a minute on a 2-core machine, so tests share one plain server of the
tiny model per session instead of starting their own. Reuse them like this:

    @pytest.mark.vllm
    def test_something(tiny_server, tiny_encoder, demo_challenge):
        client = EngineClient(tiny_server, request_timeout=60)
        ids = tiny_encoder.prompt_ids(prompt)
        client.generate(ids, 16)

- `demo_challenge`: demo/challenge.yaml, loaded (a `Challenge`).
- `tiny_model`: the tiny Gemma-4 model, built once into .arena/models/tiny-gemma4 (git-ignored;
  the same place `arena demo` uses) and checked against the digest the demo challenge pins.
- `tiny_encoder`: a `ChatEncoder` (the tiny model's tokenizer and chat template).
- `tiny_server`: a `VllmServer` serving the tiny model plainly, with the demo challenge's
  engine defaults and environment, as `arena bench` would start it: in its sandbox, on its Unix
  socket (ready; stopped at the end of the session). It is also the referee of runs whose
  submission seat holds a proxy. Do not stop or kill it; start your own to test failures.
- `engine_processes(under)`: live processes of engines whose run folder lies under a folder
  (and their descendants), for checking that nothing was left behind.

Tests that start vLLM are marked `@pytest.mark.vllm`.

`PYTEST_WORKERS=2 make test` runs the suite on two pytest-xdist workers. The test modules that
start or use vLLM (marked `vllm`, or naming `tiny_server` or `ngram_server`) are one unit of
work, run by one worker one after the other, so each shared server starts once; every other
module is a unit of its own, so a module's fixtures are built once. The vLLM unit is collected
first and handed out first: it is the longest. (xdist's own `--dist loadgroup` no longer groups
under pytest 9, which ignores the node id xdist rewrites; `pytest_xdist_make_scheduler` below
groups by module path instead.) A plain `python -m pytest FILE` runs serially, as before.
"""

from __future__ import annotations

import fcntl
import os
import re
from pathlib import Path
from typing import Any, Iterator

import pytest

from arena.challenge import Challenge, load_challenge

REPO = Path(__file__).resolve().parents[1]
DEMO_CHALLENGE = REPO / "demo" / "challenge.yaml"

REGENERATE = ("The tiny-model builder no longer makes the model demo/challenge.yaml pins (a torch, "
              "transformers or tokenizers upgrade changes its bytes). Run `arena tiny-model "
              "--print-digest` and put the new digest in demo/challenge.yaml (base_model."
              "revision) and in demo/submissions/*/*.yaml (model.revision).")


# Fixtures that start a shared vLLM server: a test using one runs where that server is.
SHARED_SERVERS = {"tiny_server", "ngram_server"}
VLLM_GROUP = "vllm"
_USES_VLLM = re.compile(r"mark\.vllm|\b(?:" + "|".join(sorted(SHARED_SERVERS)) + r")\b")


def _vllm_modules() -> frozenset[str]:
    """The test modules that start or use vLLM, as node id paths. Told by their text: xdist's
    controller, which hands out the work, collects nothing."""
    return frozenset(p.relative_to(REPO).as_posix()
                     for p in sorted((REPO / "tests").rglob("test_*.py"))
                     if _USES_VLLM.search(p.read_text(encoding="utf-8")))


VLLM_MODULES = _vllm_modules()


def _uses_vllm(item: pytest.Item) -> bool:
    return (item.get_closest_marker("vllm") is not None
            or bool(SHARED_SERVERS & set(getattr(item, "fixturenames", ()))))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The vLLM modules first, in their order (the longest unit of work starts at once); a
    test that uses vLLM from a module the text scan missed is a usage error, since it would
    run beside the vLLM unit and start its own servers."""
    missed = sorted({i.nodeid.split("::", 1)[0] for i in items
                     if _uses_vllm(i) and i.nodeid.split("::", 1)[0] not in VLLM_MODULES})
    if missed:
        raise pytest.UsageError(
            f"{', '.join(missed)} use vLLM but do not say so in their text: mark them "
            "`pytestmark = pytest.mark.vllm` (tests/conftest.py groups modules by their text).")
    items[:] = sorted(items, key=lambda i: i.nodeid.split("::", 1)[0] not in VLLM_MODULES)


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Units of work by module, the vLLM modules together in one, handed out in collection
    order (see the module's docstring)."""
    from xdist.scheduler import LoadScopeScheduling

    class ByModule(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return VLLM_GROUP if module in VLLM_MODULES else module

    config.option.loadscopereorder = False
    return ByModule(config, log)


@pytest.fixture(scope="session")
def demo_challenge() -> Challenge:
    return load_challenge(DEMO_CHALLENGE)


@pytest.fixture(scope="session")
def tiny_model(demo_challenge: Challenge):  # -> runner.tinymodel.TinyModel
    from runner import tinymodel
    from runner.models import local_model_path

    path = local_model_path(demo_challenge.base_model.id, demo_challenge)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Two xdist workers may both need it first in a fresh clone: one builds, the other waits.
    with open(path.parent / f".{path.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        model = tinymodel.ensure(path, demo_challenge.base_model.revision)
    if model.digest != demo_challenge.base_model.revision:
        pytest.fail(f"{REGENERATE} (built {model.digest}, pinned "
                    f"{demo_challenge.base_model.revision})")
    return model


@pytest.fixture(scope="session")
def tiny_encoder(tiny_model):  # -> runner.encoding.ChatEncoder
    from runner.encoding import ChatEncoder

    return ChatEncoder(tiny_model.path)


@pytest.fixture(scope="session")
def tiny_server(tiny_model, demo_challenge: Challenge,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    yield from shared_server("the shared tiny vLLM server", tiny_model.path,
                             dict(demo_challenge.engine_defaults), demo_challenge,
                             tmp_path_factory.mktemp("tiny-server"))


def shared_server(what: str, model_path: Path, engine_args: dict, challenge: Challenge,
                  work: Path) -> Iterator:
    """The body of a session fixture serving `model_path` with vLLM as `arena bench` starts
    it: yields the ready server, then stops it and checks that nothing was left behind."""
    from runner.server import VllmServer

    # The referee's environment too: most tests put this server in the referee's seat.
    server = VllmServer.build(model_path, engine_args, workdir=work, seed=challenge.seed,
                              engine_env=challenge.referee_engine_env)
    server.start()
    try:
        server.wait_ready(challenge.startup_timeout_s)
    except Exception as exc:
        server.stop()
        pytest.fail(f"{what} did not start: {exc}\n{getattr(exc, 'log_tail', '')}")
    yield server
    server.stop()
    assert server.leftovers() == [], f"{what} left processes behind"
    assert engine_processes(work) == []


def engine_processes(under: Path) -> list:
    """Live (non-zombie) processes of engines whose run folder is under `under`, and all their
    descendants. A sandboxed engine's bubblewrap names the run folder on its command line
    (its generated /etc lives there); everything in the sandbox descends from it. vLLM's engine
    core and workers rename themselves (setproctitle), so a name or an environment variable
    alone does not find them."""
    import psutil

    under_s = str(Path(under).resolve())
    found: dict[int, psutil.Process] = {}
    for p in psutil.process_iter():
        try:
            if p.pid == os.getpid() or p.status() == psutil.STATUS_ZOMBIE:
                continue
            if any(under_s in arg for arg in p.cmdline()) or p.cwd().startswith(under_s):
                found[p.pid] = p
        except (psutil.Error, OSError):
            continue
    for p in list(found.values()):
        try:
            for c in p.children(recursive=True):
                if c.status() != psutil.STATUS_ZOMBIE:
                    found[c.pid] = c
        except psutil.Error:
            continue
    return list(found.values())
