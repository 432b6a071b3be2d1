"""The canary scanner finds a private prompt however a channel reshaped it, finds its token IDs
in any list of integers, looks inside archives and encodings, stays quiet on clean output, and
never prints the canary itself."""

from __future__ import annotations

import base64
import gzip
import io
import json
import tarfile
import textwrap
import urllib.parse
import zipfile
from pathlib import Path

import pytest

from arena.text import for_html, for_terminal, md_block, md_inline

from .canary import Canary, CanaryScanner, canaries_from_prompt_rows, make_canary_rows
from .conftest import REPO

SECRET = ("Private canary 5e1f0a9c77d2: describe the <quartz> & *heron* | `tundra` "
          "@marlin in two sentences, café 日本 \"quoted\" 'single'.")
IDS = (51234, 8812, 90017, 313, 44410, 7, 120345, 9981, 60606, 2718, 31415, 16180)
CANARY = Canary("private-07.messages[0]", SECRET, IDS)


@pytest.fixture
def scanner() -> CanaryScanner:
    return CanaryScanner([CANARY])


def labels(leaks) -> set[str]:
    return {leak.canary for leak in leaks}


@pytest.mark.parametrize("shape", [
    pytest.param(lambda s: s, id="verbatim"),
    pytest.param(lambda s: f"<td>{for_html(s)}</td>", id="arena.text.for_html"),
    pytest.param(lambda s: f"| x | {md_inline(s, limit=None)} |", id="arena.text.md_inline"),
    pytest.param(lambda s: md_block("server log\n" + s), id="arena.text.md_block"),
    pytest.param(lambda s: "engine said: " + for_terminal(s), id="arena.text.for_terminal"),
    pytest.param(lambda s: json.dumps({"message": s}), id="json-ascii-escaped"),
    pytest.param(lambda s: json.dumps(json.dumps({"body": s})), id="json-inside-json"),
    pytest.param(lambda s: "\n".join(textwrap.wrap(s, 30)), id="wrapped-lines"),
    pytest.param(lambda s: s.upper(), id="upper-case"),
    pytest.param(lambda s: "https://example.com/?q=" + urllib.parse.quote(s), id="url-encoded"),
    pytest.param(lambda s: s.replace("canary", "ca\u200bnary"), id="zero-width-space"),
    pytest.param(lambda s: "payload " + base64.b64encode(s.encode()).decode(), id="base64"),
    pytest.param(lambda s: for_html(json.dumps({"title": s})), id="json-then-html"),
])
def test_a_prompt_is_found_through_any_channels_escaping(scanner, shape) -> None:
    leaks = scanner.scan_text(shape(SECRET), "comment")
    assert labels(leaks) == {CANARY.label}
    assert any(leak.how == "its whole text" or "base64" in leak.where for leak in leaks)


def test_a_piece_of_a_prompt_is_a_leak_and_a_short_coincidence_is_not(scanner) -> None:
    # A log tail that kept 40 characters from the middle of the prompt.
    piece = SECRET[20:60]
    [leak] = scanner.scan_text(f"...\nERROR request failed: {piece}\n", "server.log")
    assert leak.how.startswith("a piece of its text")
    assert scanner.scan_text(f"we mention {SECRET[30:40]} in passing", "x") == []


def test_md_inline_truncation_still_leaks(scanner) -> None:
    # md_inline cuts at 120 characters: what remains is still the prompt.
    leaks = scanner.scan_text(md_inline(SECRET), "comment")
    assert labels(leaks) == {CANARY.label}


def test_ordinary_output_is_clean(scanner) -> None:
    result = {"run_id": "r1", "tps": {"private": {"median": 88.4, "passes": [
        {"tokens": 512, "seconds": 5.8, "tps": 88.3}]}},
        "fingerprint": {"prompts_sha256": {"private": "ab" * 32}}, "reasons": []}
    assert scanner.scan_json(result) == []
    assert scanner.scan_text("| rank | tps |\n| 1 | 88.4 |\nprivate prompts: 16 rows, sha256 " + "cd" * 32) == []


@pytest.mark.parametrize("shape", [
    pytest.param(lambda ids: {"prompt_token_ids": list(ids)}, id="json-array"),
    pytest.param(lambda ids: {"prompt_token_ids": [1, 2, *ids[2:10], 3]}, id="middle-run"),
    pytest.param(lambda ids: {"prompt_logprobs": [None] + [{str(t): {"logprob": -0.25, "rank": 1}}
                                                         for t in ids]}, id="logprob-keys"),
    pytest.param(lambda ids: {"tokens": [x for t in ids for x in (t, 0)]}, id="interleaved"),
])
def test_token_ids_are_found_in_json(scanner, shape) -> None:
    leaks = scanner.scan_json(shape(IDS), "result.json")
    assert labels(leaks) == {CANARY.label}
    assert any("token IDs in order" in leak.how for leak in leaks)


def test_token_ids_are_found_in_log_lines(scanner) -> None:
    log = "DEBUG prompt ids: " + ", ".join(map(str, IDS[:9])) + " (truncated)\n"
    [leak] = scanner.scan_text(log, "engine.log")
    assert "9 of its token IDs in order" in leak.how


@pytest.mark.parametrize("stream", [
    pytest.param(list(IDS[:7]), id="too-short"),
    pytest.param(list(reversed(IDS)), id="reversed"),
    pytest.param([x for t in IDS for x in (t, 0, 0, 0, 0)], id="too-far-apart"),
    pytest.param([IDS[0]] * 20, id="one-id-repeated"),
    pytest.param(list(range(1000)), id="counting"),
])
def test_integers_that_are_not_a_run_of_the_canary_are_clean(scanner, stream) -> None:
    assert scanner.scan_json({"values": stream}) == []


def test_decimals_and_negative_numbers_are_not_token_ids(scanner) -> None:
    text = " ".join(f"-{t} 0.{t}" for t in IDS)
    assert scanner.scan_text(text) == []


def test_archives_are_opened(scanner, tmp_path: Path) -> None:
    inner = json.dumps({"verdict": "error", "reasons": [f"engine log: {SECRET}"]}).encode()
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("result.json", inner)
    (tmp_path / "bench-result.zip").write_bytes(zipped.getvalue())
    tarred = io.BytesIO()
    with tarfile.open(fileobj=tarred, mode="w:gz") as t:
        info = tarfile.TarInfo("site/index.html")
        data = f"<p>{for_html(SECRET)}</p>".encode()
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
    (tmp_path / "site.tar.gz").write_bytes(tarred.getvalue())
    (tmp_path / "log.gz").write_bytes(gzip.compress(("ids " + " ".join(map(str, IDS))).encode()))
    leaks = scanner.scan_path(tmp_path)
    where = {leak.where.split(" ")[0] for leak in leaks}
    assert f"{tmp_path / 'bench-result.zip'}!result.json" in where
    assert f"{tmp_path / 'site.tar.gz'}!site/index.html" in where
    assert f"{tmp_path / 'log.gz'}!(gunzipped)" in where


def test_a_folder_scan_names_every_leaking_file_and_only_those(scanner, tmp_path: Path) -> None:
    (tmp_path / "site" / "api").mkdir(parents=True)
    (tmp_path / "site" / "index.html").write_text("<h1>Leaderboard</h1>")
    (tmp_path / "site" / "api" / "runs.json").write_text(json.dumps({"note": SECRET}))
    (tmp_path / "comments").mkdir()
    (tmp_path / "comments" / "1.md").write_text(md_inline(SECRET))
    (tmp_path / "comments" / "2.md").write_text("All good.")
    files = {leak.where.split(" ")[0] for leak in scanner.scan_path(tmp_path)}
    assert files == {str(tmp_path / "site" / "api" / "runs.json"), str(tmp_path / "comments" / "1.md")}


def test_json_lines_are_scanned_line_by_line(scanner) -> None:
    lines = "\n".join(json.dumps({"n": n, "ids": list(IDS) if n == 3 else [n]}) for n in range(5))
    leaks = scanner.scan_bytes(lines.encode(), "events.jsonl")
    assert any(leak.where.startswith("events.jsonl:4") for leak in leaks)


def test_a_prompt_split_across_json_strings_is_found(scanner) -> None:
    half = len(SECRET) // 2
    leaks = scanner.scan_json({"lines": [SECRET[:half], SECRET[half:]]}, "comment.json")
    assert labels(leaks) == {CANARY.label}


def test_reports_never_contain_the_canary(scanner, tmp_path: Path) -> None:
    (tmp_path / "leak.txt").write_text(SECRET + " " + " ".join(map(str, IDS)))
    with pytest.raises(AssertionError) as caught:
        scanner.assert_clean(tmp_path, SECRET, {"ids": list(IDS)})
    message = str(caught.value)
    assert "canary leak(s)" in message and CANARY.label in message
    squashed = "".join(message.split()).casefold()
    for i in range(0, len(SECRET) - 12):
        assert "".join(SECRET[i:i + 12].split()).casefold() not in squashed
    assert ", ".join(map(str, IDS[:3])) not in message


def test_assert_clean_passes_clean_targets(scanner, tmp_path: Path) -> None:
    (tmp_path / "ok.json").write_text(json.dumps({"tps": 90.1}))
    scanner.assert_clean(tmp_path, "nothing here", {"a": [1, 2, 3]}, b"bytes")


def test_several_canaries_are_told_apart() -> None:
    rows = make_canary_rows(3, seed=4)
    scanner = CanaryScanner(canaries_from_prompt_rows(rows))
    leaks = scanner.scan_text("retrying: " + rows[1]["reference"])
    assert labels(leaks) == {"canary-01.reference"}


def test_canary_rows_look_like_prompt_rows_and_are_unique() -> None:
    rows = make_canary_rows(16, seed=1)
    public = json.loads((REPO / "prompts" / "public.jsonl").read_text().splitlines()[0])
    assert all(set(r) == set(public) for r in rows)
    assert all(r["messages"][0]["role"] == "user" for r in rows)
    contents = [r["messages"][0]["content"] for r in rows]
    assert len(set(contents)) == 16
    # Every prompt is its own canary: none contains a piece of another.
    scanner = CanaryScanner(canaries_from_prompt_rows(rows[1:]))
    assert scanner.scan_text(contents[0]) == []


def test_canaries_carry_the_tokenizers_ids() -> None:
    rows = make_canary_rows(1)
    vocab: dict[str, int] = {}
    tokenize = lambda text: [vocab.setdefault(w, 1000 + len(vocab)) for w in text.split()]  # noqa: E731
    [prompt, reference] = canaries_from_prompt_rows(rows, tokenize)
    assert prompt.label == "canary-00.messages[0]" and reference.label == "canary-00.reference"
    assert prompt.token_ids == tuple(tokenize(rows[0]["messages"][0]["content"]))
    scanner = CanaryScanner([Canary(prompt.label, "", prompt.token_ids)])
    assert labels(scanner.scan_json({"ids": list(prompt.token_ids)})) == {prompt.label}


def test_thresholds_too_low_to_be_meaningful_are_refused() -> None:
    with pytest.raises(ValueError):
        CanaryScanner([CANARY], min_fragment=4)
    with pytest.raises(ValueError):
        CanaryScanner([])
