"""What every handler receives: the GitHub client, the repository and the challenge, as values.

The entry point (bot.cli) builds one `Bot` from the environment; nothing below it reads the
environment.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from arena.challenge import Challenge


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@dataclass
class Bot:
    gh: Any  # github.Github (lazy)
    repo_full_name: str
    challenge: Challenge
    login: str  # the bot's own login: what GitHub shows as the author of its comments
    server_url: str = "https://github.com"
    run_id: str | None = None  # the workflow run this process is part of, for links
    bench_workflow: str = "bench.yml"
    site_workflow: str = "site.yml"
    results_branch: str = "results"
    default_branch: str = "main"
    max_wait_s: float = 60.0
    step_summary: Path | None = None
    now: Callable[[], dt.datetime] = utc_now
    sleep: Callable[[float], None] = time.sleep
    out: Callable[[str], None] = field(default=lambda line: print(line, file=sys.stderr,
                                                                  flush=True))
    permission_cache: dict[str, str] = field(default_factory=dict)
    _repo: Any = None

    @property
    def repo(self) -> Any:
        """The lazy Repository: no request until an attribute not in its URL is read."""
        if self._repo is None:
            self._repo = self.gh.get_repo(self.repo_full_name)
        return self._repo

    @property
    def repo_url(self) -> str:
        return f"{self.server_url.rstrip('/')}/{self.repo_full_name}"

    def run_url(self, run_id: int | str | None = None) -> str | None:
        rid = run_id if run_id is not None else self.run_id
        return f"{self.repo_url}/actions/runs/{rid}" if rid else None

    def pr_url(self, number: int) -> str:
        return f"{self.repo_url}/pull/{number}"

    def commit_url(self, sha: str) -> str:
        return f"{self.repo_url}/commit/{sha}"

    def say(self, line: str) -> None:
        """A progress line in the Actions log."""
        self.out(f"arena bot: {line}")

    def summarize(self, markdown: str) -> None:
        """Append to the job summary: the message of last resort when GitHub refuses comments."""
        if self.step_summary is None:
            return
        try:
            with open(self.step_summary, "a", encoding="utf-8") as f:
                f.write(markdown.rstrip() + "\n\n")
        except OSError:
            pass
