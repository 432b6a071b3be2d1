"""How a run reads in a terminal: progress lines as it goes, a summary at the end (the result's
description, arena.result.describe, rendered by arena.render.to_terminal).

Everything that came from a submission is made terminal-safe (arena.text); nothing here prints a
prompt, an output, or anything an engine wrote (an old result's log tail included).
"""

from __future__ import annotations

import sys
import time
from typing import Any, Mapping, TextIO

from arena.render import to_terminal
from arena.result import Result, describe
from arena.text import for_terminal


class ProgressPrinter:
    """Prints `[  12.3s] message` lines to a stream (stderr by default), flushed at once."""

    def __init__(self, stream: TextIO | None = None, prefix: str = ""):
        self.stream = stream or sys.stderr
        self.prefix = prefix
        self.t0 = time.monotonic()

    def __call__(self, message: str) -> None:
        elapsed = time.monotonic() - self.t0
        print(f"{self.prefix}[{elapsed:7.1f}s] {for_terminal(message)}", file=self.stream,
              flush=True)


def summary_table(result: Mapping[str, Any], result_path: str | None = None) -> str:
    """A readable summary of one result document: its description (arena.result.describe)
    rendered for a terminal."""
    return to_terminal(describe(Result.from_json(result, check=False), result_path=result_path))
