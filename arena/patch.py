"""Engine patches: a submission's change to vLLM's Python code, read and checked as data.

A patch is the output of `git diff --full-index <release tag> -- vllm/` in a vLLM clone. This
module reads it the way the runner will apply it, line by line, and refuses anything the runner
could not apply to a copy of the installed `vllm` package as plain text: paths outside `vllm/`,
files that are not `.py`, binary hunks, symbolic links, mode changes, renames and copies, `..`,
absolute or quoted paths, the version file, abbreviated blob hashes, hunks whose line counts do
not match their headers, CR or NUL bytes, and the size caps of challenge.yaml.

The text is hostile. Nothing here runs git on it or touches the filesystem with a path from it;
`parse_patch` and `check_patch` are total: any input gives a Patch or a list of Problems, never
an exception. The validator (`arena validate`), the bot and the runner call the same code.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from arena.problems import Problem, show

# Blob ids of git's SHA-1 object format: 40 lowercase hex digits; all zeros names "no file".
BLOB_RE = re.compile(r"[0-9a-f]{40}")
NULL_BLOB = "0" * 40
EMPTY_BLOB = "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"  # git hash-object of an empty file
PATH_CHARS_RE = re.compile(r"[A-Za-z0-9_./-]+")
REGULAR_MODE = "100644"
# The files that say which release is installed: a patch to them would disguise the base.
VERSION_FILES = frozenset({"vllm/_version.py", "vllm/version.py"})
PATCH_DIR = "vllm/"
MAX_PROBLEMS = 50
MAX_PATH = 300

# In added lines: characters that make code read differently from what runs ("Trojan Source":
# bidirectional overrides, zero-width characters) and control characters other than tab and
# form feed. The maintainer who approves a patch must see the code that runs.
_HIDDEN_RE = re.compile("[\x01-\x08\x0b\x0e-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e"
                        "\u2060-\u2064\u2066-\u2069\ufeff]")
_HUNK_RE = re.compile(r"@@ -(\d{1,9})(?:,(\d{1,9}))? \+(\d{1,9})(?:,(\d{1,9}))? @@(?: .*)?")
_INDEX_RE = re.compile(r"index ([0-9A-Za-z]+)\.\.([0-9A-Za-z]+)(?: ([0-7]{6}))?")
MAKE_PATCH = ("Make the patch in a vLLM clone with `git diff --full-index v<version> -- vllm/` "
              "and commit its output unedited.")


@dataclass(frozen=True)
class PatchRules:
    """What a challenge allows (challenge.yaml, engines.<name>.patches)."""

    allowed: bool = False
    max_bytes: int = 262144
    max_files: int = 40
    max_file_lines: int = 5000  # lines one file's hunks add
    max_file_bytes: int = 131072  # bytes of the lines one file's hunks add


@dataclass(frozen=True)
class Hunk:
    line: int  # the diff line of its @@ header
    old_start: int
    old_count: int
    new_start: int
    new_count: int
    # The hunk's body as it is in the diff: each line starts with ' ', '-', '+' or '\'
    # ("\ No newline at end of file", which applies to the line before it).
    lines: tuple[str, ...]


@dataclass(frozen=True)
class FilePatch:
    path: str  # relative, under vllm/, checked: [A-Za-z0-9_./-], no '..', ends in .py
    old_blob: str  # 40-hex git blob SHA-1 of the release's file; NULL_BLOB for a new file
    new_blob: str  # of the patched file; NULL_BLOB for a deleted file
    added: int
    removed: int
    new_file: bool
    deleted: bool
    line: int  # the diff line of its `diff --git` header
    hunks: tuple[Hunk, ...] = ()
    added_bytes: int = 0


@dataclass(frozen=True)
class Patch:
    files: tuple[FilePatch, ...]
    sha256: str  # of the exact bytes
    size: int  # bytes

    @property
    def added(self) -> int:
        return sum(f.added for f in self.files)

    @property
    def removed(self) -> int:
        return sum(f.removed for f in self.files)

    def summary(self) -> dict[str, object]:
        """What the bot, the site and a result show: counts and paths, never the code."""
        return {"sha256": self.sha256, "bytes": self.size, "files": len(self.files),
                "added": self.added, "removed": self.removed,
                "paths": [f.path for f in self.files]}


class PatchError(Exception):
    """The patch is not acceptable; `problems` says where and why."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(p.format() for p in problems))


def parse_patch(text: str | bytes, *, path: str) -> Patch:
    """The patch, or PatchError listing every problem (each at its diff line). Checks the shape
    and the fixed rules; the challenge's caps are `check_patch`'s."""
    patch, problems = _parse(text, path)
    if problems or patch is None:
        raise PatchError(problems or [Problem(path, 1, 1, "", "is not a patch. " + MAKE_PATCH)])
    return patch


def check_patch(text: str | bytes, rules: PatchRules, *, path: str) -> list[Problem]:
    """Every problem of the patch under `rules`; an empty list means it is acceptable."""
    problems, _ = check(text, rules, path=path)
    return problems


def check(text: str | bytes, rules: PatchRules, *, path: str) -> tuple[list[Problem], Patch | None]:
    """(problems, the patch when there are none)."""
    if not rules.allowed:
        return [Problem(path, 1, 1, "", "this challenge does not allow engine patches. Remove "
                                        "the patch file and engine.patch.")], None
    size = len(text.encode("utf-8", "surrogatepass")) if isinstance(text, str) else len(text)
    if size > rules.max_bytes:
        # Not parsed at all: the cap is what keeps a hostile patch cheap to look at.
        return [Problem(path, 1, 1, "", f"is {size} bytes; a patch may be at most "
                                        f"{rules.max_bytes} bytes. Make it smaller.")], None
    patch, problems = _parse(text, path)
    if patch is None:
        return problems or [Problem(path, 1, 1, "", "is not a patch. " + MAKE_PATCH)], None
    if len(patch.files) > rules.max_files:
        problems.append(Problem(path, patch.files[rules.max_files].line, 1, "", (
            f"changes {len(patch.files)} files; a patch may change at most {rules.max_files}. "
            "Change fewer files.")))
    for f in patch.files:
        if f.added > rules.max_file_lines:
            problems.append(Problem(path, f.line, 1, "", (
                f"adds {f.added} lines to {show(f.path)}; a patch may add at most "
                f"{rules.max_file_lines} lines to one file. Make the change smaller.")))
        if f.added_bytes > rules.max_file_bytes:
            problems.append(Problem(path, f.line, 1, "", (
                f"adds {f.added_bytes} bytes to {show(f.path)}; a patch may add at most "
                f"{rules.max_file_bytes} bytes to one file. Make the change smaller.")))
    return problems, (None if problems else patch)


# -- the parser ----------------------------------------------------------------------------------

class _Stop(Exception):
    pass


class _Parser:
    def __init__(self, path: str):
        self.path = path
        self.problems: list[Problem] = []

    def problem(self, line: int, message: str) -> None:
        if len(self.problems) >= MAX_PROBLEMS:
            self.problems.append(Problem(self.path, line, 1, "", (
                f"more than {MAX_PROBLEMS} problems; the rest are not listed. Regenerate the "
                "patch. " + MAKE_PATCH)))
            raise _Stop
        self.problems.append(Problem(self.path, line, 1, "", message))


def _decode(text: str | bytes, p: _Parser) -> tuple[str | None, bytes]:
    if isinstance(text, bytes):
        raw = text
        try:
            return raw.decode("utf-8"), raw
        except UnicodeDecodeError as exc:
            line = raw.count(b"\n", 0, exc.start) + 1
            p.problem(line, "is not UTF-8 text (a binary file or another encoding). A patch "
                            "carries Python source only; save it as UTF-8.")
            return None, raw
    try:
        raw = text.encode("utf-8")
    except UnicodeEncodeError as exc:
        line = text.count("\n", 0, exc.start) + 1
        p.problem(line, "holds characters that are not valid UTF-8 (lone surrogates). Save the "
                        "patch as UTF-8.")
        return None, text.encode("utf-8", "surrogatepass")
    return text, raw


def _parse(text: str | bytes, path: str) -> tuple[Patch | None, list[Problem]]:
    p = _Parser(path)
    try:
        patch = _parse_into(text, p)
    except _Stop:
        patch = None
    return (patch if not p.problems else None), p.problems


def _parse_into(text: str | bytes, p: _Parser) -> Patch | None:
    if not isinstance(text, (str, bytes)):
        p.problem(1, "is not text.")
        return None
    decoded, raw = _decode(text, p)
    if decoded is None:
        return None
    if not decoded.strip():
        p.problem(1, "is empty. A patch changes at least one file; remove the patch file and "
                     "engine.patch if the submission needs none.")
        return None
    bad = False
    for ch, what in (("\r", "a carriage return (CR): Windows line endings"),
                     ("\x00", "a NUL byte")):
        at = decoded.find(ch)
        if at >= 0:
            p.problem(decoded.count("\n", 0, at) + 1,
                      f"holds {what}. A patch is plain text with LF line endings; regenerate it "
                      "(git config core.autocrlf false).")
            bad = True
    if bad:
        return None
    lines = decoded.split("\n")
    if lines[-1] == "":
        lines.pop()
    else:
        p.problem(len(lines), "does not end with a newline; the last line may have been cut "
                              "off. Regenerate the patch and commit it unedited.")
    files: list[FilePatch] = []
    seen: dict[str, int] = {}
    i = 0
    n = len(lines)
    while i < n and not lines[i].startswith("diff --git "):
        i += 1
    if i > 0:
        p.problem(1, "starts with text that is not part of a diff (an e-mail header or a "
                     "description?). The patch must start with 'diff --git'. " + MAKE_PATCH)
    if i == n:
        p.problem(1, "holds no 'diff --git' section, so it changes nothing. " + MAKE_PATCH)
        return None
    while i < n:
        fp, i = _parse_file(lines, i, p)
        if fp is None:
            continue
        if fp.path in seen:
            p.problem(fp.line, f"changes {show(fp.path)} a second time (first at line "
                               f"{seen[fp.path]}). git diff writes each file once; regenerate "
                               "the patch.")
            continue
        seen[fp.path] = fp.line
        files.append(fp)
    if p.problems:
        return None
    return Patch(tuple(files), hashlib.sha256(raw).hexdigest(), len(raw))


def _parse_file(lines: list[str], i: int, p: _Parser) -> tuple[FilePatch | None, int]:
    """One `diff --git` section starting at lines[i]; returns it and the index after it."""
    start = i + 1  # 1-based diff line of the header
    header = lines[i]
    path = _header_path(header, start, p)
    i += 1
    new_file = deleted = False
    old_blob = new_blob = None
    ok = path is not None
    modes: list[tuple[int, str]] = []
    minus = plus = None
    moved = False
    # Extended header lines, up to the first hunk or the next file.
    while i < len(lines) and not lines[i].startswith(("diff --git ", "@@")):
        ln, num = lines[i], i + 1
        i += 1
        if ln.startswith(("new file mode ", "deleted file mode ")):
            if new_file or deleted:
                p.problem(num, "a second 'new file mode' or 'deleted file mode' line for one "
                               "file. Regenerate the patch.")
                ok = False
            new_file, deleted = new_file or ln[0] == "n", deleted or ln[0] == "d"
            modes.append((num, ln.split(" ", 3)[3]))
        elif ln.startswith("index "):
            if old_blob is not None:
                p.problem(num, "a second 'index' line for one file. Regenerate the patch.")
                ok = False
                continue
            blobs = _index_line(ln, num, p)
            if blobs is None:
                ok = False
                old_blob = new_blob = ""
                continue
            old_blob, new_blob, mode = blobs
            if mode is not None:
                modes.append((num, mode))
        elif ln.startswith("old mode ") or ln.startswith("new mode "):
            p.problem(num, "changes a file's mode (permissions). A patch may only change the "
                           "text of regular files; undo the mode change (git diff shows it as "
                           "'old mode'/'new mode').")
            ok = False
        elif ln.startswith(("similarity index ", "dissimilarity index ", "rename from ",
                            "rename to ", "rename old ", "rename new ", "copy from ",
                            "copy to ")):
            # Said once per file, at the first of these lines: any one of them alone would make
            # `git apply` write another path than the one the 'diff --git' line names.
            if not moved:
                what = ("copies a file. A patch may not copy files: add the new file with its "
                        "whole content" if ln.startswith("copy ") or "copy " in "".join(
                            lines[i:i + 3]) else
                        "renames a file. A patch may not rename or move files: change the file "
                        "in place, or add a new file and delete the old one")
                p.problem(num, f"{what} (git diff --no-renames).")
            moved = True
            ok = False
        elif ln.startswith("GIT binary patch") or (ln.startswith("Binary files ")
                                                   and ln.endswith(" differ")):
            p.problem(num, "is a binary change. A patch may only change Python source (.py "
                           "text files).")
            ok = False
        elif ln.startswith(("--- ", "+++ ")):
            if (minus if ln[0] == "-" else plus) is not None:
                p.problem(num, f"a second {show(ln[:3])} line for one file. Regenerate the "
                               "patch.")
                ok = False
            elif ln[0] == "-":
                minus = (num, ln[4:])
            else:
                plus = (num, ln[4:])
        elif ln.startswith(("literal ", "delta ")):
            p.problem(num, "is part of a binary change. A patch may only change Python source.")
            ok = False
        else:
            p.problem(num, f"unexpected line {show(ln, 60)} in a file's header (between "
                           "'diff --git' and the first '@@'). " + MAKE_PATCH)
            ok = False
    for num, mode in modes:
        if mode == "120000":
            p.problem(num, "is a symbolic link (mode 120000). A patch may only change regular "
                           "Python files.")
            ok = False
        elif mode == "160000":
            p.problem(num, "is a submodule (mode 160000). A patch may only change regular "
                           "Python files.")
            ok = False
        elif mode != REGULAR_MODE:
            p.problem(num, f"has mode {show(mode, 10)}; a patch may only change regular, "
                           f"non-executable files (mode {REGULAR_MODE}). Undo the mode change "
                           "(chmod 644).")
            ok = False
    if new_file and deleted:
        p.problem(start, "is both a new and a deleted file. Regenerate the patch.")
        ok = False
    if old_blob is None:
        if ok:
            p.problem(start, "has no 'index <old>..<new>' line, so the file's base cannot be "
                             "checked. " + MAKE_PATCH)
        ok = False
    elif ok and old_blob:
        if new_file and old_blob != NULL_BLOB:
            p.problem(start, "is a new file, but its index line names an old blob. Regenerate "
                             "the patch.")
            ok = False
        if deleted and new_blob != NULL_BLOB:
            p.problem(start, "is a deleted file, but its index line names a new blob. "
                             "Regenerate the patch.")
            ok = False
        if not new_file and old_blob == NULL_BLOB or not deleted and new_blob == NULL_BLOB:
            p.problem(start, "has an all-zero blob on its index line without 'new file mode' "
                             "or 'deleted file mode'. Regenerate the patch.")
            ok = False
        if old_blob == new_blob:
            p.problem(start, "names the same blob before and after: the file does not change. "
                             "Regenerate the patch.")
            ok = False
    if path is not None:
        ok = _check_markers(path, minus, plus, new_file, deleted, p) and ok
    # Hunks.
    hunks: list[Hunk] = []
    added = removed = added_bytes = 0
    last_old_end = 0
    while i < len(lines) and lines[i].startswith("@@"):
        hunk, i = _parse_hunk(lines, i, p)
        if hunk is None:
            ok = False
            continue
        # "-5,0" inserts after line 5: its range starts at line 6.
        first = hunk.old_start if hunk.old_count else hunk.old_start + 1
        if first < last_old_end:
            p.problem(hunk.line, "this hunk starts before the previous one ends. git diff "
                                 "writes hunks in order; regenerate the patch.")
            ok = False
        last_old_end = first + hunk.old_count
        if new_file and (hunk.old_start, hunk.old_count) != (0, 0):
            p.problem(hunk.line, "a new file's hunk must start '@@ -0,0'. Regenerate the patch.")
            ok = False
        if deleted and (hunk.new_start, hunk.new_count) != (0, 0):
            p.problem(hunk.line, "a deleted file's hunk must end '+0,0 @@'. Regenerate the "
                                 "patch.")
            ok = False
        for body in hunk.lines:
            if body[0] == "+":
                added += 1
                added_bytes += len(body.encode("utf-8"))  # its text and newline, less the '+'
            elif body[0] == "-":
                removed += 1
        hunks.append(hunk)
    if (new_file or deleted) and len(hunks) > 1:
        p.problem(start, "a new or deleted file has exactly one hunk. Regenerate the patch.")
        ok = False
    if not hunks and ok:
        empty = (new_file and new_blob == EMPTY_BLOB) or (deleted and old_blob == EMPTY_BLOB)
        if not empty:
            p.problem(start, "changes no lines (no '@@' hunk). Remove this file from the "
                             "patch, or regenerate it.")
            ok = False
    if i < len(lines) and not lines[i].startswith("diff --git "):
        p.problem(i + 1, f"unexpected line {show(lines[i], 60)} after a hunk: the hunk's "
                         "header counts fewer lines than follow it, or the patch was edited by "
                         "hand. Regenerate the patch.")
        ok = False
        while i < len(lines) and not lines[i].startswith("diff --git "):
            i += 1
    if not ok or path is None or old_blob is None or new_blob is None:
        return None, i
    return FilePatch(path=path, old_blob=old_blob, new_blob=new_blob, added=added,
                     removed=removed, new_file=new_file, deleted=deleted, line=start,
                     hunks=tuple(hunks), added_bytes=added_bytes), i


def _header_path(header: str, num: int, p: _Parser) -> str | None:
    rest = header[len("diff --git "):]
    if rest.startswith('"') or ' "' in rest:
        p.problem(num, "names a quoted path: git quotes paths with unusual characters, and a "
                       "patch's paths may only use letters, digits, '_', '.', '/' and '-'. "
                       "Rename the file.")
        return None
    parts = rest.split(" ")
    if len(parts) != 2:
        p.problem(num, "names a path with spaces or other unusual characters (or is not a "
                       "'diff --git a/<path> b/<path>' line). A patch's paths may only use "
                       "letters, digits, '_', '.', '/' and '-'.")
        return None
    a, b = parts
    if not a.startswith("a/") or not b.startswith("b/"):
        p.problem(num, "must read 'diff --git a/<path> b/<path>' (git's default prefixes). "
                       "Do not use --no-prefix or --src-prefix. " + MAKE_PATCH)
        return None
    a, b = a[2:], b[2:]
    if a != b:
        p.problem(num, f"names two paths ({show(a, 80)} and {show(b, 80)}): a rename or copy. "
                       "A patch may only change files in place (git diff --no-renames).")
        return None
    return _check_path(a, num, p)


def _check_path(path: str, num: int, p: _Parser) -> str | None:
    if len(path) > MAX_PATH:
        p.problem(num, f"names a path of {len(path)} characters; at most {MAX_PATH} are "
                       "allowed.")
        return None
    if not PATH_CHARS_RE.fullmatch(path):
        p.problem(num, f"the path {show(path, 80)} has characters other than letters, digits, "
                       "'_', '.', '/' and '-'. Rename the file.")
        return None
    if path.startswith("/"):
        p.problem(num, f"the path {show(path, 80)} is absolute. Paths in a patch are relative "
                       "to the vLLM repository's root (vllm/...).")
        return None
    parts = path.split("/")
    if ".." in parts:
        p.problem(num, f"the path {show(path, 80)} has a '..' component. Paths in a patch stay "
                       "inside vllm/.")
        return None
    if "" in parts or "." in parts:
        p.problem(num, f"the path {show(path, 80)} is not normalized (an empty or '.' "
                       "component). " + MAKE_PATCH)
        return None
    if not path.startswith(PATCH_DIR):
        p.problem(num, f"{show(path, 80)} is outside vllm/. A patch may only change vLLM's "
                       "Python package: make it with `git diff --full-index v<version> -- "
                       "vllm/`.")
        return None
    if not path.endswith(".py") or parts[-1] == ".py":
        p.problem(num, f"{show(path, 80)} is not a Python file (.py). A patch may only change "
                       "vLLM's Python code: no compiled extensions, data or build files.")
        return None
    if path.lower() in VERSION_FILES:
        p.problem(num, f"{show(path, 80)} is the version file, which says which release is "
                       "installed. Leave it unchanged.")
        return None
    return path


def _index_line(ln: str, num: int, p: _Parser) -> tuple[str, str, str | None] | None:
    m = _INDEX_RE.fullmatch(ln)
    if not m:
        p.problem(num, f"{show(ln, 60)} is not an index line ('index <old>..<new> <mode>'). "
                       + MAKE_PATCH)
        return None
    old, new, mode = m.group(1), m.group(2), m.group(3)
    for blob in (old, new):
        if not BLOB_RE.fullmatch(blob):
            if re.fullmatch(r"[0-9a-fA-F]{4,39}", blob):
                p.problem(num, f"{show(blob, 40)} is an abbreviated blob hash; the runner "
                               "checks each file's base by its full hash (--full-index). "
                               + MAKE_PATCH)
            elif re.fullmatch(r"[0-9a-fA-F]{41,}", blob) or re.fullmatch(r"[0-9A-F]{40}", blob):
                p.problem(num, f"{show(blob, 70)} is not a 40-digit lowercase SHA-1 blob hash "
                               "(a SHA-256 repository?). Make the patch in a clone of the "
                               "upstream repository.")
            else:
                p.problem(num, f"{show(blob, 40)} is not a blob hash. " + MAKE_PATCH)
            return None
    return old, new, mode


def _check_markers(path: str, minus: tuple[int, str] | None, plus: tuple[int, str] | None,
                   new_file: bool, deleted: bool, p: _Parser) -> bool:
    """The '--- a/<path>' and '+++ b/<path>' lines: present together, naming the same path."""
    if minus is None and plus is None:
        return True  # no hunks follow; checked there
    if minus is None or plus is None:
        num = (minus or plus)[0]  # type: ignore[index]
        p.problem(num, "a '---' line needs its '+++' line (and the other way round). "
                       "Regenerate the patch.")
        return False
    ok = True
    want_minus = "/dev/null" if new_file else f"a/{path}"
    want_plus = "/dev/null" if deleted else f"b/{path}"
    for (num, got), want, sign in ((minus, want_minus, "---"), (plus, want_plus, "+++")):
        if got != want:
            if got.startswith('"'):
                why = "a quoted path; paths may only use letters, digits, '_', '.', '/' and '-'"
            else:
                why = f"it must be {show(sign + ' ' + want, 90)}, as in the 'diff --git' line"
            p.problem(num, f"{show(sign + ' ' + got, 90)} does not match the file: {why}. "
                           "Regenerate the patch.")
            ok = False
    return ok


def _parse_hunk(lines: list[str], i: int, p: _Parser) -> tuple[Hunk | None, int]:
    num = i + 1
    m = _HUNK_RE.fullmatch(lines[i])
    i += 1
    if not m:
        p.problem(num, f"{show(lines[i - 1], 60)} is not a hunk header ('@@ -<start>,<count> "
                       "+<start>,<count> @@'). Regenerate the patch.")
        while i < len(lines) and not lines[i].startswith(("@@", "diff --git ")):
            i += 1
        return None, i
    old_start, new_start = int(m.group(1)), int(m.group(3))
    old_count = int(m.group(2)) if m.group(2) is not None else 1
    new_count = int(m.group(4)) if m.group(4) is not None else 1
    if old_start == 0 and old_count != 0 or new_start == 0 and new_count != 0:
        p.problem(num, "a hunk that starts at line 0 must count 0 lines. Regenerate the patch.")
        while i < len(lines) and not lines[i].startswith(("@@", "diff --git ")):
            i += 1
        return None, i
    body: list[str] = []
    olds = news = 0
    prev_marker_ok = False
    while i < len(lines) and (olds < old_count or news < new_count):
        ln = lines[i]
        tag = ln[:1]
        if tag == " ":
            olds += 1
            news += 1
        elif tag == "-":
            olds += 1
        elif tag == "+":
            news += 1
        elif tag == "\\" and prev_marker_ok:
            body.append(ln)
            i += 1
            prev_marker_ok = False
            continue
        elif ln == "":
            p.problem(i + 1, "an empty line inside a hunk: context lines start with a space, "
                             "which an editor may have stripped. Regenerate the patch and do "
                             "not edit it.")
            return None, _skip_hunk(lines, i)
        else:
            break
        body.append(ln)
        prev_marker_ok = True
        i += 1
    if olds != old_count or news != new_count:
        where = i + 1 if i < len(lines) else len(lines)
        p.problem(num, f"this hunk's header says {old_count} old and {new_count} new lines, but "
                       f"{olds} old and {news} new follow (up to line {where}). The patch was "
                       "cut or edited by hand; regenerate it.")
        return None, _skip_hunk(lines, i)
    # "\ No newline at end of file" after the hunk's last line.
    if i < len(lines) and lines[i].startswith("\\") and body:
        if lines[i] != "\\ No newline at end of file":
            p.problem(i + 1, f"{show(lines[i], 60)}: the only '\\' line git writes is "
                             "'\\ No newline at end of file'. Regenerate the patch.")
            return None, _skip_hunk(lines, i + 1)
        body.append(lines[i])
        i += 1
    for k, ln in enumerate(body):
        if ln.startswith("\\") and ln != "\\ No newline at end of file":
            p.problem(num + 1 + k, f"{show(ln, 60)}: the only '\\' line git writes is "
                                   "'\\ No newline at end of file'. Regenerate the patch.")
            return None, i
    for k, ln in enumerate(body):
        hidden = _HIDDEN_RE.search(ln) if ln[0] == "+" else None
        if hidden:
            p.problem(num + 1 + k, f"adds a line with an invisible or reordering character "
                                   f"(U+{ord(hidden.group()):04X}), which can make code read "
                                   "differently from what runs. Remove it (write it as an "
                                   "escape in a string literal if the code needs it).")
            return None, i
    if not any(ln[0] in "+-" for ln in body):
        p.problem(num, "this hunk changes no line (context only). Regenerate the patch.")
        return None, i
    return Hunk(num, old_start, old_count, new_start, new_count, tuple(body)), i


def _skip_hunk(lines: list[str], i: int) -> int:
    while i < len(lines) and not lines[i].startswith(("@@", "diff --git ")):
        i += 1
    return i
