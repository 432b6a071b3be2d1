"""Untrusted text, shown safely: the escapers every channel uses (arena/text.py), judged on any
text at all, including the characters that attacks on each channel use."""

from __future__ import annotations

import html
import re

from hypothesis import given
from hypothesis import strategies as st

from arena.text import (
    for_html,
    for_terminal,
    for_terminal_block,
    has_unsafe_characters,
    md_block,
    md_inline,
    needs_html_escaping,
)

# Text weighted towards what breaks each channel: markup, quotes, backticks, pipes, newlines,
# terminal escapes, bidirectional overrides, zero-width characters.
NASTY = st.text(alphabet=st.one_of(
    st.sampled_from(list("<>&\"'`|\n\t\r\x1b\x07\x00\x7f\u202e\u2066\u200b\ufeff\x85 ")),
    st.characters()), max_size=80)


@given(NASTY)
def test_html_text_has_no_markup_and_no_invisible_marks(text: str) -> None:
    out = for_html(text)
    assert not re.search(r"[<>\"']", out)
    assert not re.search(r"&(?!(amp|lt|gt|quot|#x27);)", out)
    assert not has_unsafe_characters(out)
    if not has_unsafe_characters(text):
        assert html.unescape(out) == text  # nothing lost but what had to go


@given(NASTY)
def test_needs_html_escaping_is_exactly_when_for_html_changes_the_text(text: str) -> None:
    assert needs_html_escaping(text) == (for_html(text) != text)


def test_plain_values_need_no_escaping() -> None:
    for value in ("int4-mtp-k6", "315.5", "e57a85dda3a14293", "agent-0938", "2026-09-10 20:26"):
        assert not needs_html_escaping(value) and for_html(value) == value


@given(NASTY)
def test_terminal_text_is_one_line_without_controls(text: str) -> None:
    out = for_terminal(text)
    assert "\n" not in out and "\x1b" not in out and not has_unsafe_characters(out)
    block = for_terminal_block(text)
    assert block.count("\n") == text.count("\n")
    assert "\x1b" not in block and not has_unsafe_characters(block)


@given(NASTY)
def test_terminal_text_is_cut_to_its_limit(text: str) -> None:
    assert len(for_terminal(text, 20)) <= 20


@given(NASTY)
def test_markdown_code_span_cannot_be_closed_from_inside(text: str) -> None:
    out = md_inline(text, limit=None)
    fence = re.match(r"`+", out).group()
    inner = out[len(fence):-len(fence)]
    assert out.endswith(fence) and "\n" not in out
    assert not re.search(rf"(?<!`){fence}(?!`)", inner)  # no run of exactly the fence inside
    assert not re.search(r"(?<!\\)\|", inner)  # a table cell cannot be split


@given(NASTY)
def test_markdown_block_cannot_be_closed_from_inside(text: str) -> None:
    out = md_block(text)
    first, *body, last = out.split("\n")
    fence = first.removesuffix("text")
    assert len(fence) >= 3 and last == fence
    assert all(not line.startswith(fence) for line in body)
