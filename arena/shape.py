"""Checking the shape of loaded YAML data, collecting every problem with its position.

Both challenge.yaml and submissions are checked with these helpers, so that a file's problems
are all reported at once, each at its line and column, each saying what to do.
"""

from __future__ import annotations

import difflib
import math
import re
from typing import Any, Iterable

from arena.problems import Problem, dotted, show, type_name
from arena.yamlstrict import Document, Path


class Checker:
    """Collects problems for one loaded document."""

    def __init__(self, doc: Document, file: str):
        self.doc = doc
        self.file = file
        self.problems: list[Problem] = []

    def problem(self, path: Path, message: str, *, at_key: bool = False) -> None:
        mark = self.doc.mark(path, key=at_key)
        self.problems.append(Problem(self.file, mark.line, mark.column, dotted(path), message))

    # -- containers -------------------------------------------------------------------------

    def mapping(
        self,
        path: Path,
        value: Any,
        *,
        required: Iterable[str] = (),
        optional: Iterable[str] = (),
        what: str = "",
        unknown_hint: str = "",
        closed: bool = True,
    ) -> bool:
        """Check that `value` is a mapping with the required keys and, when `closed`, no others."""
        required, optional = list(required), list(optional)
        if not isinstance(value, dict):
            self.problem(path, f"must be a mapping{what}, not {type_name(value)}.")
            return False
        for key in required:
            if key not in value:
                self.problem(path, f"the required field '{key}' is missing. Add it.")
        known = set(required) | set(optional)
        for key in value if closed else ():
            if key not in known:
                self.problem(
                    path + (key,),
                    f"unknown field {show(key)}.{suggest(key, known)}{unknown_hint}",
                    at_key=True,
                )
        return True

    def string_list(
        self,
        path: Path,
        value: Any,
        *,
        allowed: Iterable[str] | None = None,
        max_items: int = 64,
        unique: bool = True,
    ) -> list[str]:
        if not isinstance(value, list):
            self.problem(path, f"must be a list, not {type_name(value)}. Write [a, b].")
            return []
        if len(value) > max_items:
            self.problem(path, f"has {len(value)} items; at most {max_items} are allowed.")
        allowed_set = set(allowed) if allowed is not None else None
        seen: set[str] = set()
        out = []
        for i, item in enumerate(value):
            if not isinstance(item, str):
                self.problem(path + (i,), f"must be a string, not {type_name(item)}.")
                continue
            if allowed_set is not None and item not in allowed_set:
                self.problem(
                    path + (i,),
                    f"{show(item)} is not one of the allowed values.{suggest(item, allowed_set)} "
                    f"Allowed: {', '.join(sorted(allowed_set))}.",
                )
                continue
            if unique and item in seen:
                self.problem(path + (i,), f"{show(item)} is listed twice. List it once.")
                continue
            seen.add(item)
            out.append(item)
        return out

    # -- scalars ----------------------------------------------------------------------------

    def string(
        self,
        path: Path,
        value: Any,
        *,
        pattern: str | None = None,
        min_len: int = 1,
        max_len: int = 200,
        hint: str = "",
        quote_hint: bool = True,
    ) -> str | None:
        if not isinstance(value, str):
            extra = ""
            if quote_hint and (isinstance(value, (int, float, bool)) or value is None):
                extra = " Put the value in quotes."
            self.problem(path, f"must be a string, not {type_name(value)}.{extra}")
            return None
        if len(value) < min_len:
            self.problem(path, "must not be empty." if min_len == 1 else
                         f"must be at least {min_len} characters.")
            return None
        if len(value) > max_len:
            self.problem(path, f"is {len(value)} characters; at most {max_len} are allowed.")
            return None
        if pattern is not None and not re.fullmatch(pattern, value):
            self.problem(path, f"{show(value)} is not valid. {hint}".rstrip())
            return None
        return value

    def integer(self, path: Path, value: Any, *, minimum: int | None = None,
                maximum: int | None = None) -> int | None:
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem(path, f"must be a whole number, not {type_name(value)} ({show(value)}).")
            return None
        return value if self._in_range(path, value, minimum, maximum) else None

    def number(self, path: Path, value: Any, *, minimum: float | None = None,
               maximum: float | None = None, positive: bool = False) -> float | None:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.problem(path, f"must be a number, not {type_name(value)} ({show(value)}).")
            return None
        if not math.isfinite(value):
            self.problem(path, f"must be a finite number, not {show(value)}.")
            return None
        if positive and value <= 0:
            self.problem(path, f"must be greater than 0, not {show(value)}.")
            return None
        return float(value) if self._in_range(path, value, minimum, maximum) else None

    def boolean(self, path: Path, value: Any) -> bool | None:
        if not isinstance(value, bool):
            self.problem(path, f"must be true or false, not {type_name(value)} ({show(value)}).")
            return None
        return value

    def _in_range(self, path: Path, value: float, lo: float | None, hi: float | None) -> bool:
        if lo is not None and value < lo or hi is not None and value > hi:
            self.problem(path, f"{show(value)} is out of range. Use a value from "
                               f"{_fmt(lo)} to {_fmt(hi)}.")
            return False
        return True


def _fmt(x: float | None) -> str:
    if x is None:
        return "any"
    return str(int(x)) if float(x).is_integer() else str(x)


def suggest(word: str, candidates: Iterable[str]) -> str:
    """' Did you mean 'x'?' for a near miss (also for dashes written for underscores)."""
    if not isinstance(word, str):
        return ""
    cands = list(candidates)
    normalized = word.replace("-", "_").lower()
    if normalized in cands and normalized != word:
        return f" Did you mean '{normalized}'?"
    close = difflib.get_close_matches(normalized, cands, n=1, cutoff=0.75)
    return f" Did you mean '{close[0]}'?" if close else ""
