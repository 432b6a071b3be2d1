"""Making untrusted text safe to show: in a terminal, in GitHub Markdown, in HTML.

Names, descriptions, tags and logs come from strangers. Each output channel has its own escaping
function here, and every place that shows such text calls one of them.
"""

from __future__ import annotations

import html
import re
import unicodedata

# C0/C1 controls and the Unicode bidirectional overrides that can reorder what a reader sees.
_UNSAFE_CHARS = "\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff"
_UNSAFE = re.compile(f"[{_UNSAFE_CHARS}]")
# Everything for_html changes: the unsafe characters and the five HTML-special ones.
_HTML_CHANGES = re.compile(f"[&<>\"'{_UNSAFE_CHARS}]")


def has_unsafe_characters(text: str) -> bool:
    """True when the text holds control characters or invisible reordering marks."""
    return bool(_UNSAFE.search(text))


def needs_html_escaping(text: str) -> bool:
    """False when for_html would return the text unchanged (most names, numbers, hashes)."""
    return _HTML_CHANGES.search(text) is not None


def for_terminal(text: str, limit: int | None = None) -> str:
    """One line of text that cannot move the cursor, change colours or reorder itself."""
    out = []
    for ch in text:
        if ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif _UNSAFE.match(ch) or unicodedata.category(ch) in ("Cc", "Cf"):
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    s = "".join(out)
    if limit is not None and len(s) > limit:
        s = s[: max(0, limit - 1)] + "…"
    return s


def for_terminal_block(text: str) -> str:
    """Multi-line text (a log tail) with each line made safe, newlines kept."""
    return "\n".join(for_terminal(line) for line in text.split("\n"))


def for_html(text: str) -> str:
    """HTML-escaped text, safe in element content and in quoted attribute values."""
    return html.escape(_UNSAFE.sub("\ufffd", text), quote=True)


def _longest_backtick_run(text: str) -> int:
    return max((len(m) for m in re.findall("`+", text)), default=0)


def md_inline(text: str, limit: int | None = 120) -> str:
    """Untrusted text as a Markdown code span: it renders literally, never as a link, a mention,
    HTML or formatting, and it is safe inside a table cell."""
    s = for_terminal(text.replace("\n", " "), limit)
    fence = "`" * (_longest_backtick_run(s) + 1)
    s = s.replace("|", "\\|")
    pad = " " if s.startswith("`") or s.endswith("`") or not s.strip() else ""
    return f"{fence}{pad}{s}{pad}{fence}"


def md_block(text: str, info: str = "text") -> str:
    """Untrusted multi-line text as a fenced code block that cannot be closed from inside."""
    s = for_terminal_block(text)
    fence = "`" * max(3, _longest_backtick_run(s) + 1)
    return f"{fence}{info}\n{s}\n{fence}"


# Arena's own text for GitHub Markdown, escaped with backslashes (CommonMark allows one before
# any ASCII punctuation), on one line, and no @mention. Two policies, one escaper:
# - a label or heading (md_text): every character that could start markup is escaped;
# - a sentence (md_words): HTML, entities, links and images, table pipes and backslashes are;
#   emphasis characters and code spans stay (GitHub does not emphasise an intraword `_`, and
#   the bot's sentences use `code` on purpose), so a sentence reads as written.
# Text from a run is never shown either way: it is md_inline's.
_MD_LABEL_SPECIAL = re.compile(r"([\\`*_\[\]<>|~&!#])")
_MD_WORDS_SPECIAL = re.compile(r"([\\<>&\[\]|])")


def _md_escaped(text: str, special: re.Pattern[str]) -> str:
    s = special.sub(r"\\\1", for_terminal(text.replace("\n", " ")))
    return s.replace("@", "@\u2060")  # a word joiner: no mention, the same to a reader


def md_text(text: str) -> str:
    """Arena's label or heading as literal Markdown: every markup character escaped."""
    return _md_escaped(text, _MD_LABEL_SPECIAL)


def md_words(text: str) -> str:
    """A sentence of arena's own words (figures, check names it chose) for GitHub Markdown: one
    line, no HTML, link, image, table cell break or @mention can come from it; `_` and code
    spans stay as written."""
    return _md_escaped(text, _MD_WORDS_SPECIAL)
