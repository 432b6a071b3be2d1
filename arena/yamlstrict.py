"""Strict, position-aware YAML loading for files that outsiders write.

Submissions arrive from strangers, so this loader accepts a deliberately small subset of YAML:
UTF-8 text under a size cap, one document, plain mappings, sequences and scalars. It rejects
duplicate keys, anchors, aliases, merge keys, explicit tags and deep nesting, and it never builds
Python objects from tags. Every value comes back with the line and column where it was written,
so that each problem can be reported at its place in the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.events import AliasEvent, CollectionStartEvent, ScalarEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.resolver import Resolver

MAX_DEPTH = 16

Path = tuple[Any, ...]

_SCALAR_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
}
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
_MERGE_TAG = "tag:yaml.org,2002:merge"


class YamlError(Exception):
    """The text is not a YAML document this loader accepts. Carries a 1-based position."""

    def __init__(self, message: str, line: int = 1, column: int = 1):
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column


@dataclass(frozen=True)
class Mark:
    line: int  # 1-based
    column: int  # 1-based


@dataclass
class Document:
    """Plain data plus where each part of it was written.

    `marks[path]` is the position of the value at `path`; `key_marks[path]` the position of the
    key that names it (for mapping entries). The empty path is the whole document.
    """

    data: Any
    marks: dict[Path, Mark]
    key_marks: dict[Path, Mark]

    def mark(self, path: Path, *, key: bool = False) -> Mark:
        """The best position for a problem at `path`: the value's, else its nearest ancestor's."""
        table = self.key_marks if key else self.marks
        probe = tuple(path)
        while True:
            if probe in table:
                return table[probe]
            if key and probe in self.marks:
                return self.marks[probe]
            if not probe:
                return Mark(1, 1)
            probe = probe[:-1]


def _mark(node_or_event: Any) -> Mark:
    m = node_or_event.start_mark
    return Mark(m.line + 1, m.column + 1)


try:  # libyaml's event parser when PyYAML was built with it: the same events, ~7x faster
    from yaml._yaml import CParser as _EventParser

    def _init_parser(loader: Any, stream: str) -> None:
        _EventParser.__init__(loader, stream)

    _PARSER_BASES: tuple[type, ...] = (_EventParser,)
except ImportError:  # pragma: no cover - pure-Python PyYAML
    from yaml.parser import Parser as _PyParser
    from yaml.reader import Reader as _PyReader
    from yaml.scanner import Scanner as _PyScanner

    def _init_parser(loader: Any, stream: str) -> None:
        _PyReader.__init__(loader, stream)
        _PyScanner.__init__(loader)
        _PyParser.__init__(loader)

    _PARSER_BASES = (_PyReader, _PyScanner, _PyParser)


class _StrictLoader(*_PARSER_BASES, Composer, SafeConstructor, Resolver):  # type: ignore[misc]
    """Parser events in, our own composer on top: it refuses aliases, anchors, explicit tags and
    deep nesting, which it sees on the events before any node is built."""

    get_single_node = Composer.get_single_node
    compose_document = Composer.compose_document

    def __init__(self, stream: str):
        _init_parser(self, stream)
        Composer.__init__(self)
        SafeConstructor.__init__(self)
        Resolver.__init__(self)
        self._depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node:  # type: ignore[override]
        event = self.peek_event()
        if isinstance(event, AliasEvent):
            raise YamlError(
                "aliases (*name) are not allowed. Write the value out in full.", *_pos(event)
            )
        if isinstance(event, (ScalarEvent, CollectionStartEvent)):
            if event.anchor is not None:
                raise YamlError(
                    f"anchors (&{event.anchor}) are not allowed. Write each value out in full.",
                    *_pos(event),
                )
            if event.tag is not None:
                raise YamlError(
                    f"tags ({event.tag}) are not allowed. Remove the tag; quote the value if it "
                    "must be a string.",
                    *_pos(event),
                )
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise YamlError(
                    f"nesting is deeper than {MAX_DEPTH} levels. Flatten the structure.",
                    *_pos(event),
                )
            return Composer.compose_node(self, parent, index)
        finally:
            self._depth -= 1


def _pos(event: Any) -> tuple[int, int]:
    m = _mark(event)
    return m.line, m.column


def decode_utf8(raw: bytes) -> str:
    """Decode strict UTF-8, reporting the line and column of the first bad byte."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        column = len(before) - (before.rfind(b"\n") + 1) + 1
        raise YamlError(
            f"the file is not valid UTF-8 (byte 0x{raw[exc.start]:02x}). Save it as UTF-8.",
            line,
            column,
        ) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    return text


def load(raw: bytes | str, *, max_bytes: int) -> Document:
    """Parse one strict YAML document. Raises YamlError with a position on any refusal."""
    if isinstance(raw, str):
        raw = raw.encode("utf-8")
    if len(raw) > max_bytes:
        raise YamlError(
            f"the file is {len(raw)} bytes; the limit is {max_bytes}. Shorten it "
            "(the description is the usual culprit)."
        )
    text = decode_utf8(raw)
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise YamlError("the file contains a NUL character. Save it as plain text.", line, 1)
    try:
        loader = _StrictLoader(text)
    except yaml.reader.ReaderError as exc:
        raise _from_reader(exc, text) from None
    try:
        node = loader.get_single_node()
    except YamlError:
        raise
    except yaml.composer.ComposerError as exc:
        if "another document" in str(exc.problem or exc):
            mark = exc.problem_mark or exc.context_mark
            line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
            raise YamlError(
                "the file holds more than one YAML document. Keep exactly one (no second '---').",
                line,
                col,
            ) from None
        raise _from_marked(exc) from None
    except yaml.MarkedYAMLError as exc:
        raise _from_marked(exc) from None
    except yaml.reader.ReaderError as exc:
        raise _from_reader(exc, text) from None
    except yaml.YAMLError as exc:
        raise YamlError(f"not valid YAML: {exc}. Check the file's syntax.") from None
    except (RecursionError, MemoryError, ValueError, TypeError, OverflowError) as exc:
        # Total: no input ever escapes as another exception (a file on main that crashed the
        # loader would break every validation and the site build).
        raise YamlError(f"the file cannot be read ({type(exc).__name__}). Simplify it.") from None
    finally:
        if hasattr(loader, "dispose"):
            loader.dispose()
    if node is None:
        raise YamlError("the file is empty. Write the submission's fields (see the schema).")
    marks: dict[Path, Mark] = {}
    key_marks: dict[Path, Mark] = {}
    try:
        data = _build(node, (), marks, key_marks, loader)
    except (RecursionError, MemoryError, ValueError, TypeError, OverflowError) as exc:
        raise YamlError(f"the file cannot be read ({type(exc).__name__}). Simplify it.") from None
    return Document(data, marks, key_marks)


def _from_reader(exc: yaml.reader.ReaderError, text: str) -> YamlError:
    before = text[: exc.position]
    line = before.count("\n") + 1
    column = exc.position - (before.rfind("\n") + 1) + 1
    return YamlError(f"the file contains a control character (U+{exc.character:04X}) that YAML "
                     "does not allow. Remove it.", line, column)


def _from_marked(exc: yaml.MarkedYAMLError) -> YamlError:
    mark = exc.problem_mark or exc.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    problem = exc.problem or exc.context or "syntax error"
    return YamlError(f"not valid YAML: {problem}. Check indentation, colons and quoting.", line, col)


def _build(
    node: Node,
    path: Path,
    marks: dict[Path, Mark],
    key_marks: dict[Path, Mark],
    loader: Any,
) -> Any:
    marks[path] = _mark(node)
    if isinstance(node, ScalarNode):
        if node.tag == _TIMESTAMP_TAG:
            return node.value  # a date stays the text that was written
        if node.tag not in _SCALAR_TAGS:
            raise YamlError(f"unsupported value type {node.tag}.", *_pos(node))
        return _construct(node, loader)
    if isinstance(node, SequenceNode):
        return [
            _build(child, path + (i,), marks, key_marks, loader)
            for i, child in enumerate(node.value)
        ]
    if isinstance(node, MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                raise YamlError(
                    "merge keys (<<) are not allowed. Write the keys out in full.", *_pos(key_node)
                )
            if not isinstance(key_node, ScalarNode):
                raise YamlError("keys must be plain names, not lists or mappings.", *_pos(key_node))
            key = _construct(key_node, loader)
            if not isinstance(key, str):
                key = key_node.value  # `1: x` or `true: x` -> keep the text as written
            if key in out:
                first = key_marks[path + (key,)]
                raise YamlError(
                    f"duplicate key '{_short(key)}' (first written on line {first.line}). "
                    "Keep one of them.",
                    *_pos(key_node),
                )
            key_marks[path + (key,)] = _mark(key_node)
            out[key] = _build(value_node, path + (key,), marks, key_marks, loader)
        return out
    raise YamlError("unsupported YAML node.", *_pos(node))  # pragma: no cover - composer yields 3 kinds


MAX_NUMBER_DIGITS = 100


def _construct(node: ScalarNode, loader: Any) -> Any:
    """A scalar's value. Numbers longer than anyone means (Python refuses to convert integers
    over 4300 digits, and such a value only serves to crash a reader) are refused here."""
    if node.tag in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float") \
            and len(node.value) > MAX_NUMBER_DIGITS:
        raise YamlError(f"the number is {len(node.value)} characters long; write at most "
                        f"{MAX_NUMBER_DIGITS}.", *_pos(node))
    try:
        return loader.construct_object(node, deep=True)
    except (ValueError, TypeError, OverflowError, ArithmeticError) as exc:
        raise YamlError(f"the value {_short(node.value)!s} cannot be read ({type(exc).__name__})."
                        " Quote it to make it a string.", *_pos(node)) from None


def _short(text: str, limit: int = 40) -> str:
    from arena.text import for_terminal

    return for_terminal(text, limit)
