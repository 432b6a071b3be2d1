"""Engine patches are read as data: a `git diff --full-index` of vllm/ and nothing else.

Every refusal has a bad patch here; the parser is total (Hypothesis: well-formed diffs round-trip
their counts, mutated or random ones give Problems, never an exception)."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from arena.patch import (
    EMPTY_BLOB,
    NULL_BLOB,
    PatchError,
    PatchRules,
    check_patch,
    parse_patch,
)

P = "submissions/alice/fast.patch"
RULES = PatchRules(allowed=True, max_bytes=262144, max_files=40, max_file_lines=5000,
                   max_file_bytes=131072)
OLD = "1" * 40
NEW = "2" * 40


def blob(text: str) -> str:
    """git's blob id of a file's text (what `git hash-object` prints)."""
    data = text.encode("utf-8")
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def modified(path: str = "vllm/x.py", old: str = OLD, new: str = NEW) -> str:
    return (f"diff --git a/{path} b/{path}\n"
            f"index {old}..{new} 100644\n"
            f"--- a/{path}\n"
            f"+++ b/{path}\n"
            "@@ -1,3 +1,4 @@\n"
            " a\n"
            "-b\n"
            "+B\n"
            " c\n"
            "+d\n")


GOOD = modified()


def problems(text: str | bytes, rules: PatchRules = RULES) -> list:
    return check_patch(text, rules, path=P)


def one(text: str | bytes, rules: PatchRules = RULES):
    got = problems(text, rules)
    assert got, "expected a problem"
    for p in got:
        assert p.file == P
    return got[0]


def test_a_modified_file_parses_with_its_blobs_and_counts():
    patch = parse_patch(GOOD, path=P)
    (f,) = patch.files
    assert (f.path, f.old_blob, f.new_blob, f.added, f.removed) == ("vllm/x.py", OLD, NEW, 2, 1)
    assert not f.new_file and not f.deleted
    assert (patch.added, patch.removed) == (2, 1)
    assert patch.sha256 == hashlib.sha256(GOOD.encode()).hexdigest()
    assert parse_patch(GOOD.encode(), path=P).sha256 == patch.sha256
    assert problems(GOOD) == []


def test_new_deleted_empty_and_no_newline_files_parse():
    text = (
        "diff --git a/vllm/empty.py b/vllm/empty.py\n"
        "new file mode 100644\n"
        f"index {NULL_BLOB}..{EMPTY_BLOB}\n"
        "diff --git a/vllm/n.py b/vllm/n.py\n"
        f"index {OLD}..{NEW} 100644\n"
        "--- a/vllm/n.py\n"
        "+++ b/vllm/n.py\n"
        "@@ -1 +1 @@\n"
        "-nonl\n"
        "\\ No newline at end of file\n"
        "+nonl2\n"
        "\\ No newline at end of file\n"
        "diff --git a/vllm/new.py b/vllm/new.py\n"
        "new file mode 100644\n"
        f"index {NULL_BLOB}..{NEW}\n"
        "--- /dev/null\n"
        "+++ b/vllm/new.py\n"
        "@@ -0,0 +1,2 @@\n"
        "+new\n"
        "+file\n"
        "diff --git a/vllm/gone.py b/vllm/gone.py\n"
        "deleted file mode 100644\n"
        f"index {OLD}..{NULL_BLOB}\n"
        "--- a/vllm/gone.py\n"
        "+++ /dev/null\n"
        "@@ -1,2 +0,0 @@\n"
        "-gone\n"
        "-x\n"
    )
    patch = parse_patch(text, path=P)
    got = {f.path: (f.new_file, f.deleted, f.added, f.removed) for f in patch.files}
    assert got == {"vllm/empty.py": (True, False, 0, 0), "vllm/n.py": (False, False, 1, 1),
                   "vllm/new.py": (True, False, 2, 0), "vllm/gone.py": (False, True, 0, 2)}
    assert patch.files[1].hunks[0].lines == ("-nonl", "\\ No newline at end of file", "+nonl2",
                                             "\\ No newline at end of file")


@pytest.mark.skipif(shutil.which("git") is None, reason="git makes the real diff")
def test_a_real_git_diff_full_index_parses_and_its_blobs_are_the_files(tmp_path):
    """The test's own files, committed with git: the diff git writes is what participants send."""
    def git(*args: str) -> str:
        return subprocess.run(["git", "-c", "user.email=t@t", "-c", "user.name=t",
                               "-c", "core.autocrlf=false", *args], cwd=tmp_path, check=True,
                              capture_output=True, text=True).stdout
    (tmp_path / "vllm" / "attn").mkdir(parents=True)
    before = "def f():\n    return 1\n" + "".join(f"x{i} = {i}\n" for i in range(30))
    (tmp_path / "vllm" / "attn" / "sel.py").write_text(before)
    (tmp_path / "vllm" / "old.py").write_text("old\n")
    (tmp_path / "README.md").write_text("not in the patch\n")
    git("init", "-q")
    git("add", ".")
    git("commit", "-qm", "base")
    after = before.replace("return 1", "return 2").replace("x20 = 20\n", "x20 = 21\nx20b = 0\n")
    (tmp_path / "vllm" / "attn" / "sel.py").write_text(after)
    (tmp_path / "vllm" / "added.py").write_text("print('hi')\n")
    (tmp_path / "vllm" / "old.py").unlink()
    (tmp_path / "README.md").write_text("changed, outside the pathspec\n")
    git("add", "-A")
    text = git("diff", "--cached", "--full-index", "--", "vllm/")
    patch = parse_patch(text, path=P)
    by = {f.path: f for f in patch.files}
    assert set(by) == {"vllm/attn/sel.py", "vllm/added.py", "vllm/old.py"}
    sel = by["vllm/attn/sel.py"]
    assert (sel.old_blob, sel.new_blob) == (blob(before), blob(after))
    assert (sel.added, sel.removed, len(sel.hunks)) == (3, 2, 2)
    assert by["vllm/added.py"].new_file and by["vllm/old.py"].deleted
    assert problems(text) == []
    # Without --full-index git abbreviates the blobs: refused with what to do.
    short = git("diff", "--cached", "--", "vllm/")
    p = one(short)
    assert "abbreviated" in p.message and "--full-index" in p.message


def hdr(path: str = "vllm/x.py") -> str:
    return f"diff --git a/{path} b/{path}\n"


# (id, patch text, diff line of the first problem, words the message must hold)
BAD = [
    ("empty", "", 1, "is empty"),
    ("blank lines only", "\n\n", 1, "is empty"),
    ("outside vllm", modified("tests/test_x.py"), 1, "outside vllm/"),
    ("setup.py at the root", modified("setup.py"), 1, "outside vllm/"),
    ("not python", modified("vllm/kernels/attn.cu"), 1, "not a Python file"),
    ("compiled extension", modified("vllm/_C.abi3.so"), 1, "not a Python file"),
    ("dot py alone", modified("vllm/.py"), 1, "not a Python file"),
    ("dot-dot", modified("vllm/../runner/bench.py"), 1, "'..'"),
    ("dot-dot escaping", modified("vllm/../../etc/x.py"), 1, "'..'"),
    ("absolute", "diff --git a//etc/x.py b//etc/x.py\n", 1, "absolute"),
    ("empty component", modified("vllm//x.py"), 1, "not normalized"),
    ("dot component", modified("vllm/./x.py"), 1, "not normalized"),
    ("quoted path", 'diff --git "a/vllm/\\303\\251.py" "b/vllm/\\303\\251.py"\n', 1, "quoted"),
    ("space in path", "diff --git a/vllm/a b.py b/vllm/a b.py\n", 1, "spaces"),
    ("unicode path", modified("vllm/é.py"), 1, "characters other than"),
    ("shell characters", modified("vllm/$(id).py"), 1, "characters other than"),
    ("backslash", modified("vllm\\x.py"), 1, "characters other than"),
    ("no prefix", "diff --git vllm/x.py vllm/x.py\n", 1, "a/<path> b/<path>"),
    ("a and b differ", "diff --git a/vllm/x.py b/vllm/y.py\n", 1, "rename or copy"),
    ("version file", modified("vllm/_version.py"), 1, "version file"),
    ("other version file", modified("vllm/version.py"), 1, "version file"),
    ("version file by case", modified("vllm/_VERSION.py"), 1, "version file"),
    ("abbreviated index", modified(old="de98044", new="a7bc997"), 2, "abbreviated"),
    ("uppercase index", modified(old="A" * 40), 2, "lowercase"),
    ("sha-256 index", modified(old="a" * 64), 2, "SHA-256"),
    ("no index line", hdr() + "--- a/vllm/x.py\n+++ b/vllm/x.py\n@@ -1 +1 @@\n-a\n+b\n", 1,
     "no 'index"),
    ("garbage index", hdr() + "index nothing\n", 2, "not an index line"),
    ("two index lines", hdr() + f"index {OLD}..{NEW} 100644\n" * 2, 3, "second 'index'"),
    ("same blob twice", modified(new=OLD), 1, "same blob"),
    ("mode change", hdr() + "old mode 100644\nnew mode 100755\n", 2, "mode"),
    ("executable new file", hdr("vllm/n.py") + f"new file mode 100755\nindex {NULL_BLOB}..{NEW}\n"
     "--- /dev/null\n+++ b/vllm/n.py\n@@ -0,0 +1 @@\n+x\n", 2, "mode"),
    ("symlink", hdr("vllm/l.py") + f"new file mode 120000\nindex {NULL_BLOB}..{NEW}\n"
     "--- /dev/null\n+++ b/vllm/l.py\n@@ -0,0 +1 @@\n+/etc/passwd\n\\ No newline at end of file\n",
     2, "symbolic link"),
    ("symlink modified", modified().replace(" 100644\n", " 120000\n"), 2, "symbolic link"),
    ("submodule", hdr("vllm/m.py") + f"index {OLD}..{NEW} 160000\n", 2, "submodule"),
    ("rename", "diff --git a/vllm/a.py b/vllm/b.py\nsimilarity index 100%\n"
     "rename from vllm/a.py\nrename to vllm/b.py\n", 1, "rename"),
    ("rename same name", hdr() + "similarity index 90%\nrename from vllm/x.py\n"
     "rename to vllm/x.py\n", 2, "renames"),
    ("copy", hdr() + "similarity index 90%\ncopy from vllm/y.py\ncopy to vllm/x.py\n", 2, "copies"),
    ("copy to alone", hdr() + f"copy to vllm/y.py\nindex {OLD}..{NEW} 100644\n", 2, "copies"),
    ("rename to alone", modified().replace("index ", "rename to vllm/y.py\nindex ", 1), 2,
     "renames"),
    ("rename new alone", hdr() + "rename new vllm/y.py\n", 2, "renames"),
    ("similarity alone", modified().replace("index ", "similarity index 90%\nindex ", 1), 2,
     "renames"),
    ("git binary patch", hdr() + f"index {OLD}..{NEW} 100644\nGIT binary patch\nliteral 4\n"
     "LcmZ?d00001\n", 3, "binary"),
    ("binary files differ", hdr() + f"index {OLD}..{NEW} 100644\n"
     "Binary files a/vllm/x.py and b/vllm/x.py differ\n", 3, "binary"),
    ("hunk counts too many", GOOD.replace("@@ -1,3 +1,4 @@", "@@ -1,5 +1,4 @@"), 5,
     "says 5 old"),
    ("hunk counts too few", GOOD.replace("@@ -1,3 +1,4 @@", "@@ -1,2 +1,3 @@"), 5,
     "header says 2 old and 3 new"),
    ("hunk counts too few at the end", GOOD.replace("@@ -1,3 +1,4 @@", "@@ -1,3 +1,3 @@"), 10,
     "after a hunk"),
    ("truncated hunk", GOOD[: GOOD.index(" c\n")], 5, "header says"),
    ("stripped context space", GOOD.replace(" c\n", "\n"), 9, "empty line inside a hunk"),
    ("bad hunk header", GOOD.replace("@@ -1,3 +1,4 @@", "@@ -1,3 +1,4"), 5, "not a hunk header"),
    ("context-only hunk", hdr() + f"index {OLD}..{NEW} 100644\n--- a/vllm/x.py\n+++ b/vllm/x.py\n"
     "@@ -1 +1 @@\n a\n", 5, "changes no line"),
    ("hunks out of order", GOOD + "@@ -1,1 +2,1 @@\n-a\n+z\n", 11, "before the previous"),
    ("--- names another file", GOOD.replace("--- a/vllm/x.py", "--- a/vllm/y.py"), 3,
     "does not match"),
    ("+++ names another file", GOOD.replace("+++ b/vllm/x.py", "+++ b/vllm/../x.py"), 4,
     "does not match"),
    ("+++ quoted", GOOD.replace("+++ b/vllm/x.py", '+++ "b/vllm/x.py"'), 4, "quoted"),
    ("--- without +++", GOOD.replace("+++ b/vllm/x.py\n", ""), 3, "'+++'"),
    ("new file with old blob", hdr("vllm/n.py") + f"new file mode 100644\nindex {OLD}..{NEW}\n"
     "--- /dev/null\n+++ b/vllm/n.py\n@@ -0,0 +1 @@\n+x\n", 1, "old blob"),
    ("zero blob without new file", modified(old=NULL_BLOB), 1, "all-zero"),
    ("new file hunk not at 0", hdr("vllm/n.py") + f"new file mode 100644\nindex {NULL_BLOB}..{NEW}"
     "\n--- /dev/null\n+++ b/vllm/n.py\n@@ -1 +1 @@\n-y\n+x\n", 6, "'@@ -0,0'"),
    ("no hunks", hdr() + f"index {OLD}..{NEW} 100644\n", 1, "changes no lines"),
    ("same file twice", GOOD + GOOD, 11, "a second time"),
    ("carriage return", GOOD.replace("\n", "\r\n"), 1, "carriage return"),
    ("NUL byte", GOOD.replace("+B", "+B\x00"), 8, "NUL"),
    ("trojan source bidi", GOOD.replace("+B", "+x = 1  # \u202e } \u2066"), 8, "U+202E"),
    ("zero-width space", GOOD.replace("+B", "+a\u200bb = 1"), 8, "U+200B"),
    ("escape sequence", GOOD.replace("+B", "+print('\x1b[2J')"), 8, "U+001B"),
    ("no final newline", GOOD[:-1], 10, "does not end with a newline"),
    ("leading e-mail header", "From: someone\nSubject: x\n\n" + GOOD, 1, "starts with text"),
    ("no diff at all", "hello\nworld\n", 1, ""),
    ("unknown header line", hdr() + f"index {OLD}..{NEW} 100644\nfoo bar\n", 3, "unexpected line"),
    ("trailing junk", GOOD + "junk\n", 11, "after a hunk"),
    ("bad backslash line", GOOD.replace("+d\n", "+d\n\\ something else\n"), 11, "only '\\'"),
    ("backslash first", GOOD.replace(" a\n", "\\ No newline at end of file\n a\n", 1), 5,
     "header says"),
    ("two --- lines", GOOD.replace("+++ b", "--- a/vllm/x.py\n+++ b"), 4, "second '---'"),
    ("two new file mode lines", hdr("vllm/n.py") + "new file mode 100644\n" * 2, 3, "second"),
]


@pytest.mark.parametrize("text,line,words", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_each_refusal_names_the_file_the_line_and_what_to_do(text, line, words):
    p = one(text)
    assert p.line == line, [q.format() for q in problems(text)]
    assert words in p.message
    assert p.message.rstrip().endswith((".", ")")), p.message  # a sentence that says what to do
    with pytest.raises(PatchError):
        parse_patch(text, path=P)


def test_not_utf8_bytes_are_refused_at_their_line():
    p = one(GOOD.encode().replace(b"+B", b"+\xff\xfe"))
    assert p.line == 8 and "UTF-8" in p.message


def test_lone_surrogates_in_a_str_are_refused():
    assert "UTF-8" in one(GOOD.replace("+B", "+\udcff")).message


def test_the_caps_of_challenge_yaml():
    many = "".join(modified(f"vllm/m{i}.py") for i in range(5))
    p = one(many, PatchRules(allowed=True, max_files=4))
    assert "changes 5 files" in p.message and "at most 4" in p.message and p.line == 41
    p = one(GOOD, PatchRules(allowed=True, max_file_lines=1))
    assert "adds 2 lines to 'vllm/x.py'" in p.message and p.line == 1
    p = one(GOOD, PatchRules(allowed=True, max_file_bytes=3))
    assert "adds 4 bytes" in p.message
    p = one(GOOD, PatchRules(allowed=True, max_bytes=20))
    assert f"is {len(GOOD)} bytes" in p.message and "at most 20" in p.message
    p = one(GOOD, PatchRules(allowed=False))
    assert "does not allow engine patches" in p.message


def test_a_huge_patch_is_refused_by_size_before_it_is_parsed():
    huge = GOOD + "x" * (RULES.max_bytes + 1)
    (p,) = problems(huge)
    assert "bytes; a patch may be at most" in p.message


def test_problems_are_capped_so_a_hostile_patch_cannot_flood_the_comment():
    got = problems("".join(modified(f"tests/t{i}.py") for i in range(200)))
    assert len(got) <= 51
    assert "the rest are not listed" in got[-1].message


# -- Hypothesis: structure-aware generators ----------------------------------------------------

SEG = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_", min_size=1, max_size=8)
# Code lines: any printable text (controls and invisible format characters are refused in
# added lines, see "trojan source" above), tabs included.
LINE = st.text(alphabet=st.one_of(st.characters(blacklist_categories=("Cs", "Cc", "Cf")),
                                  st.just("\t")), max_size=30)


@st.composite
def file_changes(draw, path: str):
    """One modified file: a list of hunks, each (context before, removed, added, context after),
    laid out in order with gaps between them."""
    n_hunks = draw(st.integers(1, 3))
    hunks = []
    old_line = new_line = 1
    body = []
    added = removed = 0
    for _ in range(n_hunks):
        gap = draw(st.integers(0, 5))
        old_line += gap
        new_line += gap
        before = draw(st.lists(LINE, max_size=3))
        minus = draw(st.lists(LINE, max_size=4))
        plus = draw(st.lists(LINE, max_size=4))
        assume(minus or plus)
        after = draw(st.lists(LINE, max_size=3))
        old_n = len(before) + len(minus) + len(after)
        new_n = len(before) + len(plus) + len(after)
        o_start = old_line if old_n else old_line - 1
        n_start = new_line if new_n else new_line - 1
        lines = ([" " + x for x in before] + ["-" + x for x in minus] + ["+" + x for x in plus]
                 + [" " + x for x in after])
        body.append(f"@@ -{max(o_start, 0)},{old_n} +{max(n_start, 0)},{new_n} @@\n")
        body.extend(x + "\n" for x in lines)
        hunks.append(lines)
        old_line += old_n
        new_line += new_n
        added += len(plus)
        removed += len(minus)
    old, new = draw(st.sampled_from(["a", "b", "c"])) * 40, draw(st.sampled_from(["d", "e"])) * 40
    text = (f"diff --git a/{path} b/{path}\nindex {old}..{new} 100644\n--- a/{path}\n"
            f"+++ b/{path}\n" + "".join(body))
    return text, added, removed


@st.composite
def patches(draw):
    names = draw(st.lists(st.lists(SEG, min_size=1, max_size=3), min_size=1, max_size=4,
                          unique_by=lambda parts: "/".join(parts)))
    out, counts = [], {}
    for parts in names:
        path = "vllm/" + "/".join(parts) + ".py"
        assume(path.lower() not in {"vllm/_version.py", "vllm/version.py"})
        kind = draw(st.sampled_from(["modified", "modified", "new", "deleted"]))
        if kind == "modified":
            text, a, r = draw(file_changes(path))
        else:
            body = draw(st.lists(LINE, min_size=1, max_size=6))
            sign, n = ("+", len(body)) if kind == "new" else ("-", len(body))
            a, r = (n, 0) if kind == "new" else (0, n)
            rng = f"-0,0 +1,{n}" if kind == "new" else f"-1,{n} +0,0"
            blobs = f"{NULL_BLOB}..{'e' * 40}" if kind == "new" else f"{'e' * 40}..{NULL_BLOB}"
            text = (f"diff --git a/{path} b/{path}\n{kind} file mode 100644\nindex {blobs}\n"
                    + (f"--- /dev/null\n+++ b/{path}\n" if kind == "new"
                       else f"--- a/{path}\n+++ /dev/null\n")
                    + f"@@ {rng} @@\n" + "".join(sign + x + "\n" for x in body))
        out.append(text)
        counts[path] = (a, r)
    return "".join(out), counts


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(patches())
def test_generated_diffs_round_trip_their_counts(generated):
    text, counts = generated
    assert problems(text) == [], [p.format() for p in problems(text)]
    patch = parse_patch(text, path=P)
    assert {f.path: (f.added, f.removed) for f in patch.files} == counts
    assert patch.added == sum(a for a, _ in counts.values())
    assert patch.removed == sum(r for _, r in counts.values())


MUTATIONS = ["drop line", "duplicate header line", "truncate", "flip count", "insert line",
             "bad char in path", "cr"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(patches(), st.sampled_from(MUTATIONS), st.data())
def test_mutated_diffs_give_problems_never_exceptions(generated, how, data):
    text, _ = generated
    lines = text.split("\n")[:-1]
    if how == "drop line":
        del lines[data.draw(st.integers(0, len(lines) - 1))]
        mutated = "\n".join(lines) + "\n"
    elif how == "duplicate header line":
        heads = [i for i, ln in enumerate(lines) if ln.startswith(("index ", "--- ", "+++ "))]
        i = data.draw(st.sampled_from(heads))
        lines.insert(i, lines[i])
        mutated = "\n".join(lines) + "\n"
    elif how == "truncate":
        cut = data.draw(st.integers(0, len(text) - 2))
        mutated = text[:cut]
    elif how == "flip count":
        hunks = [i for i, ln in enumerate(lines) if ln.startswith("@@")]
        i = data.draw(st.sampled_from(hunks))
        lines[i] = lines[i].replace(",", ",9", 1)
        mutated = "\n".join(lines) + "\n"
    elif how == "insert line":
        i = data.draw(st.integers(1, len(lines)))
        junk = data.draw(st.sampled_from(["", "junk", "old mode 100644", "GIT binary patch",
                                          "rename from vllm/a.py", "@@ -1 +1 @@"]))
        lines.insert(i, junk)
        mutated = "\n".join(lines) + "\n"
    elif how == "bad char in path":
        bad = data.draw(st.sampled_from([" ", '"', "..", "\\", "é", "\t", "$"]))
        mutated = text.replace("vllm/", "vllm/" + bad, 1)
    else:
        mutated = text.replace("\n", "\r\n", 1)
    got = problems(mutated)
    if mutated == text:
        return
    if how in ("truncate",) and mutated.endswith("\n"):
        # A cut at a file boundary can leave a shorter valid diff; otherwise it is refused.
        if not got:
            parse_patch(mutated, path=P)
        return
    # Every other mutation breaks a header, a hunk's count or a path rule.
    assert got, mutated
    for p in got:
        assert p.file == P and p.line >= 1 and p.message


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=400), st.binary(max_size=400)))
def test_random_text_never_raises(text):
    got = problems(text)
    assert isinstance(got, list)
    if got:
        with pytest.raises(PatchError):
            parse_patch(text, path=P)


def test_the_module_runs_nothing_and_opens_nothing(monkeypatch, tmp_path):
    """The parser reads paths as text: it never calls git or opens a path from the patch."""
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: calls.append(a))
    monkeypatch.setattr(Path, "open", lambda *a, **k: calls.append(a))
    import builtins
    real_open = builtins.open
    monkeypatch.setattr(builtins, "open", lambda *a, **k: calls.append(a) or real_open(*a, **k))
    parse_patch(GOOD, path=P)
    problems(modified("vllm/../../../etc/passwd.py"))
    assert calls == []
