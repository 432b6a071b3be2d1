"""The typed result (arena.result.Result) and its one description, rendered by four front ends
(arena.render): what every reader of a result sees, and that text from a run never acts as
markup in any of them."""

from __future__ import annotations

import copy
import dataclasses
import json

import pytest
from markdown_it import MarkdownIt

from arena.render import md_text, to_html, to_json, to_markdown, to_terminal
from arena.result import Result, ResultError, describe, validate_result
from arena.text import md_inline
from tests.support.sample import make_result

HOSTILE = "<script>alert(1)</script> **bold** [x](https://evil.example) @maintainer \x1b[2J|"


def paired(doc: dict) -> dict:
    doc = copy.deepcopy(doc)
    doc["challenge"]["track"] = "l4"
    doc["paired"] = {
        "against": {"id": "bob/base", "config_sha256": "3" * 64},
        "order": "pass", "pairs": 6, "set": "private",
        "tps": {"candidate": 201.0, "other": 190.5, "diff": 10.5, "ci": [8.0, 13.0],
                "confidence": 0.95, "unpaired_ci": [2.0, 19.0]},
        "verdict": "better",
    }
    doc["telemetry"] = {"source": "nvml", "samples": 40, "throttled": True,
                        "throttle_reasons": {"hw_slowdown": 3, "gpu_idle": 9},
                        "metrics": {"sm_clock_mhz": {"min": 1200, "median": 1700, "max": 1710}}}
    doc["per_prompt"] = [{"id": "maths-01", "tps": 210.0, "acceptance_rate": 0.7}]
    doc["per_category"] = {"maths": {"prompts": 4, "tps": 199.0}}
    return validate_result(doc)


def test_a_result_reads_as_typed_fields():
    r = Result.from_json(paired(make_result("alice/fast", provenance={"pr": 7})))
    assert r.submission.id == "alice/fast" and r.submission.login == "alice"
    assert r.submission.name == "fast"
    assert list(r.tps) == ["public", "private"]  # public first, whatever the JSON's order
    assert r.tps["private"].pass_tps == (200.0, 201.0, 202.0)
    assert r.score_set == "private" and r.score_tps == 201.0
    assert r.ppl.sets["private"].value == 2.31 and r.ppl.cap == 2.415
    assert r.challenge.track == "l4" and r.provenance.pr == 7 and not r.provenance.control
    assert r.paired.against.id == "bob/base" and r.paired.tps.ci == (8.0, 13.0)
    assert r.paired.verdict == "better" and r.paired.set == "private"
    assert r.telemetry.throttling == {"hw_slowdown": 3}  # idle is no slowdown
    assert r.telemetry.metrics["sm_clock_mhz"].median == 1700
    assert r.per_prompt[0].acceptance_rate == 0.7 and r.per_category["maths"].prompts == 4
    assert r.check("greedy_fidelity").status == "pass" and r.check("nope") is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.verdict = "invalid"  # type: ignore[misc]


def test_an_old_result_without_the_optional_fields_reads():
    doc = make_result("alice/old", public=None, log_tail="old engines wrote logs here")
    for key in ("provenance", "telemetry", "per_prompt", "per_category", "paired", "stage"):
        assert key not in doc
    for key in ("driver", "cuda", "cpu", "python", "torch"):
        del doc["fingerprint"][key]
    r = Result.from_json(validate_result(doc))
    assert r.challenge.track is None and r.provenance.pr is None and r.telemetry is None
    assert r.per_prompt == () and r.per_category == {} and r.paired is None
    assert r.fingerprint.driver is None and r.fingerprint.referee is None
    assert list(r.tps) == ["private"] and r.doc is doc
    assert "old engines" not in to_terminal(describe(r))  # a log tail is never shown


def test_an_error_run_reads_with_no_figures():
    r = Result.from_json(make_result("alice/x", verdict="error", private=None, public=None,
                                     ppl=None, reasons=[("engine", "it crashed")]))
    assert r.tps == {} and r.score_set is None and r.score_tps is None
    d = describe(r)
    assert d.section("speed") is None and d.verdict == "error"
    assert "verdict: ERROR" in to_terminal(d) and "  - engine: it crashed" in to_terminal(d)


def test_a_document_off_the_schema_is_refused_with_where():
    doc = make_result("alice/x")
    doc["tps"]["public"]["median"] = -1
    with pytest.raises(ResultError) as e:
        Result.from_json(doc)
    assert any(err.startswith("tps/public/median") for err in e.value.errors)


def test_the_description_says_what_the_result_says():
    r = Result.from_json(paired(make_result("alice/fast")))
    d = describe(r, result_path="runs/x.json")
    assert [s.key for s in d.sections] == ["verdict", "speed", "notes", "paired", "checks",
                                          "machine", "files"]
    term = to_terminal(d)
    assert term.startswith("arena bench: alice/fast on fast-gemma (a10g, track l4), run ")
    assert "paired with: bob/base, 6 pairs interleaved by pass on the private set" in term
    assert ("difference: +10.5 tokens/s (201.0 against 190.5), 95% interval [8.0, 13.0], "
            "unpaired [2.0, 19.0]; verdict better") in term
    assert "warning: The GPU throttled during the timed passes: hw_slowdown (3 of 40 samples)" \
        in term
    assert "result: runs/x.json" in term


def hostile_result() -> Result:
    doc = make_result("alice/x", verdict="invalid", reasons=[("greedy_fidelity", HOSTILE)],
                      speculative={"method": HOSTILE, "num_speculative_tokens": 3})
    doc["checks"][0]["message"] = HOSTILE
    doc["fingerprint"]["cpu"] = HOSTILE
    return Result.from_json(validate_result(doc))


def test_text_from_the_run_never_acts_as_markup_in_html():
    page = to_html(describe(hostile_result()))
    assert "<script>" not in page and "\x1b" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert 'href=' not in page


def test_text_from_the_run_is_a_code_span_in_markdown():
    md = to_markdown(describe(hostile_result()))
    assert "\x1b" not in md
    html = MarkdownIt("commonmark").enable("table").render(md)
    assert "<script>" not in html and "<strong>bold</strong>" not in html
    assert "<a " not in html  # no link from a message
    assert md_inline(HOSTILE, 600) in md  # the reason, verbatim in a code span


def test_text_from_the_run_cannot_drive_a_terminal():
    term = to_terminal(describe(hostile_result()))
    assert "\x1b" not in term and "\\u001b[2J" in term


def test_arenas_own_words_are_escaped_in_markdown():
    assert md_text("a*b_c [d](e) <f> `g` |") == r"a\*b\_c \[d\](e) \<f\> \`g\` \|"


def test_the_json_front_end_is_a_document_of_the_same_description():
    d = describe(Result.from_json(paired(make_result("alice/fast"))))
    doc = json.loads(json.dumps(to_json(d)))
    assert doc["format"] == "arena.result-description/1" and doc["verdict"] == "verified"
    assert [s["key"] for s in doc["sections"]] == [s.key for s in d.sections]
    speed = next(s for s in doc["sections"] if s["key"] == "speed")["blocks"][0]
    assert speed["type"] == "table" and speed["header"][3] == "median"
    assert speed["rows"][1][3] == [{"text": "201.0", "kind": "strong"}]


def test_every_front_end_shows_every_section():
    d = describe(Result.from_json(paired(make_result("alice/fast"))), result_path="r.json")
    md, page, term = to_markdown(d), to_html(d), to_terminal(d)
    for needle in ("bob/base", "greedy_fidelity", "NVIDIA A10G", "201.0", "r.json"):
        assert needle in md and needle in page and needle in term, needle


def test_a_stored_result_reads_typed(tmp_path):
    from arena.store import ResultsStore

    store = ResultsStore(tmp_path)
    store.append_result(make_result("alice/fast"))
    stored = next(store.results())
    assert stored.result.submission.id == "alice/fast" and stored.result.score_tps == 201.0
    assert stored.result is stored.result  # read once


def test_arenas_own_words_in_markdown_read_as_written_and_never_act_as_markup():
    from arena.text import md_words
    words = md_words("sw_thermal_slowdown (31 of 240) <img src=x onerror=1> [x](http://evil) "
                     "![i](http://evil/i.png) @everyone a|b &amp; `/rerun`")
    html = MarkdownIt("commonmark").enable("table").render(f"| {words} |\n|---|\n| x |")
    assert "sw_thermal_slowdown (31 of 240)" in html  # an intraword _ is not escaped
    assert "<code>/rerun</code>" in html  # arena's own code spans stay code
    for bad in ("<img", "<a ", "@everyone", "<td>b"):
        assert bad not in html, bad
    assert "&amp;amp;" in html  # an entity is shown, not decoded


def test_the_bots_result_section_is_the_description_in_markdown():
    from bot.publish import COMMENT_SECTIONS, result_section
    r = hostile_result()
    md = result_section(r)
    assert md == to_markdown(describe(r), sections=COMMENT_SECTIONS)
    assert md_inline(HOSTILE, 600) in md and "\x1b" not in md
    html = MarkdownIt("commonmark").enable("table").render(md)
    assert "<script>" not in html and "<a " not in html and "<strong>bold" not in html
