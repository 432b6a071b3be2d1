"""The comparison and the breakdown in the bot's result comment.

The comparison is leaderboard.compare's (its verdict is the ranking's tie rule); this module only
writes it as Markdown. The breakdown is what the runner reports when it reports it: per-category
figures of the private set (aggregates only) and per-prompt figures of the public set, folded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from arena.result import Result
from arena.store import ResultsStore
from bot.render import code
from leaderboard.compare import Comparison, comparisons
from leaderboard.ranking import rank, scored_tps, tie_rule

MAX_CATEGORIES = 50
MAX_PROMPTS = 100


def _signed(x: float | None, digits: int = 1) -> str:
    return "–" if x is None else f"{x:+.{digits}f}"


def board(store_dir: Path, doc: Mapping[str, Any]) -> tuple[list[Result], list[Any]]:
    """The store's results with this run in place of any stored copy of it, and the
    verdicts."""
    store = ResultsStore(store_dir)
    this = Result.from_json(doc, check=False)
    key = (this.submission.id, this.run_id)
    results = [r.result for r in store.results() if _key(r.result) != key]
    return results + [this], store.verdicts()


def _key(result: Result) -> tuple[str, str]:
    return result.submission.id, result.run_id


def compared_lines(store_dir: Path | None, doc: Mapping[str, Any], *, parent: str | None,
                   hardware: str, noise: Any, challenge_id: str | None = None) -> list[str]:
    """The run against its parent's ranked run and the leader, as a Markdown table, with
    what the interval means. Empty when the run has no verified score."""
    this = Result.from_json(doc, check=False)
    if store_dir is None or this.verdict != "verified" or scored_tps(this) is None:
        return []
    results, verdicts = board(store_dir, doc)
    entries = rank(results, verdicts, hardware=hardware, noise=noise, challenge_id=challenge_id)
    rule = tie_rule(results, verdicts, hardware=hardware, noise=noise, challenge_id=challenge_id)
    found = comparisons(this, parent, entries, rule)
    lines = ["**Compared** (this run minus the other; the verdict is the ranking's tie rule):",
             "", "| Against | Δ tokens/s | 95% CI of Δ | Δ perplexity | Verdict |",
             "|---|---|---|---|---|"]
    for key, c in found.items():
        if not isinstance(c, Comparison):
            lines.append(f"| {key} | {code(c, 200)} | | | |")
            continue
        who = f"{c.against} {code(c.baseline.submission_id, 104)} (run " \
              f"{code(c.baseline.run_id, 100)})"
        if c.verdict is None:
            lines.append(f"| {who} | {code(c.note or 'not comparable', 200)} | | | |")
            continue
        assert c.diff_tps is not None and c.diff_pct is not None and c.margin is not None
        ci = (f"{_signed(c.diff_ci95[0])} to {_signed(c.diff_ci95[1])}" if c.diff_ci95
              else "–")
        if c.paired:  # the words are compare.py's, as on the site
            ci += f" ({c.how()})"
        lines.append(f"| {who} | **{_signed(c.diff_tps)}** ({c.diff_pct:+.1%}) | {ci} | "
                     f"{_signed(c.diff_ppl, 3)} | **{c.verdict}** (margin {c.margin:.1f}) |")
    lines += ["", "The interval is the 95% interval of the difference of the two runs' mean "
                  "pass TPS (Welch): how precisely these two runs pin the gap down, blind to "
                  "drift between runners and hours. A gap under the margin (run-to-run noise) "
                  "is a tie, whatever the interval says."]
    for c in found.values():
        if isinstance(c, Comparison) and c.paired and c.verdict is not None:
            # A paired row's interval is another one: compare.py's words say which.
            welch = (f" The same passes read as two separate runs: "
                     f"{_signed(c.unpaired_ci95[0])} to {_signed(c.unpaired_ci95[1])}."
                     if c.unpaired_ci95 else "")
            lines += ["", f"Against {code(c.baseline.submission_id, 104)} ({c.how()}): the "
                          f"interval is the {c.interval_words()}, so drift between runners and "
                          f"hours cancels out.{welch}"]
    return lines


def breakdown_lines(doc: Mapping[str, Any]) -> list[str]:
    """Per-category (private set) and per-prompt (public set) figures, folded; nothing when
    the result does not carry them."""
    r = Result.from_json(doc, check=False)  # schema-valid: publish checked it
    out: list[str] = []
    cats = r.per_category
    if cats:
        rows = sorted(cats.values(), key=lambda c: c.name)[:MAX_CATEGORIES]
        out += ["", "<details><summary>Where the time goes: private set by category "
                    f"({len(cats)} categories)</summary>", "",
                "| Category | Prompts | tokens/s (median) |", "|---|---|---|"]
        for c in rows:
            out.append(f"| {code(c.name, 64)} | {c.prompts} | {c.tps:.1f} |")
        out += ["", "</details>"]
    per = r.per_prompt
    if per:
        out += ["", f"<details><summary>Public set by prompt ({len(per)} prompts)</summary>", "",
                "| Prompt | tokens/s | Acceptance rate | Mean accepted length |",
                "|---|---|---|---|"]
        for p in per[:MAX_PROMPTS]:
            acc, mal = p.acceptance_rate, p.mean_accepted_length
            out.append(f"| {code(p.id, 64)} | {p.tps:.1f} | "
                       f"{'–' if acc is None else f'{acc:.3f}'} | "
                       f"{'–' if mal is None else f'{mal:.2f}'} |")
        if len(per) > MAX_PROMPTS:
            out.append(f"\n{len(per) - MAX_PROMPTS} more in the full result below.")
        out += ["", "</details>"]
    return out
