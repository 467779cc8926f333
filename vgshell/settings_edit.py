"""Edit other tools' settings files in place, keeping everything their owner wrote.

JSON settings (Claude Code, Cursor, Gemini CLI, VS Code) often carry comments and trailing commas (JSONC), so
they are never loaded and dumped: a small JSONC parser finds where each value sits in the text, and an edit
inserts or removes exactly the bytes vgshell adds — comments, key order, spacing and trailing commas stay.
TOML (Codex) goes through tomlkit, which keeps comments and layout. Every write makes a timestamped backup
first and replaces the file atomically; `undo` restores the backup byte for byte when the file is still what
the edit made of it. A file that does not parse is reported with line and column and left untouched.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vgshell.errors import VgError

BACKUP_MARK = ".vg-backup-"


class SettingsError(VgError):
    topic = "settings"


# --- JSONC: values with their places in the text ---------------------------------------------------------


@dataclass
class Node:
    """A JSON value and the span [start, end) of its text; objects keep (key, value) pairs in order."""

    start: int
    end: int
    value: Any
    members: list[tuple[str, Node]] = field(default_factory=list)
    keys_at: list[int] = field(default_factory=list)  # where each member's quoted key starts
    items: list[Node] = field(default_factory=list)
    kind: str = "scalar"  # object | array | scalar


class _Parser:
    def __init__(self, text: str, name: str) -> None:
        self.text, self.name, self.pos = text, name, 0

    def fail(self, message: str, at: int | None = None) -> SettingsError:
        at = self.pos if at is None else at
        line = self.text.count("\n", 0, at) + 1
        col = at - (self.text.rfind("\n", 0, at) + 1) + 1
        return SettingsError(f"cannot parse {self.name}: {message}; the file was left untouched "
                             f"[{self.name}:{line}:{col}]")

    def skip(self) -> None:
        """Whitespace and // or /* */ comments."""
        t = self.text
        while self.pos < len(t):
            c = t[self.pos]
            if c in " \t\r\n\ufeff":
                self.pos += 1
            elif t.startswith("//", self.pos):
                nl = t.find("\n", self.pos)
                self.pos = len(t) if nl < 0 else nl
            elif t.startswith("/*", self.pos):
                close = t.find("*/", self.pos + 2)
                if close < 0:
                    raise self.fail("unterminated /* comment")
                self.pos = close + 2
            else:
                return

    def document(self) -> Node:
        self.skip()
        node = self.value()
        self.skip()
        if self.pos != len(self.text):
            raise self.fail("unexpected text after the top-level value")
        return node

    def value(self) -> Node:
        if self.pos >= len(self.text):
            raise self.fail("unexpected end of file")
        c = self.text[self.pos]
        if c == "{":
            return self.container("}", True)
        if c == "[":
            return self.container("]", False)
        if c == '"':
            start = self.pos
            return Node(start, self.string_end(), json.loads(self.text[start:self.pos]))
        return self.scalar()

    def string_end(self) -> int:
        t, i = self.text, self.pos + 1
        while i < len(t):
            if t[i] == "\\":
                i += 2
                continue
            if t[i] == '"':
                self.pos = i + 1
                return self.pos
            if t[i] == "\n":
                break
            i += 1
        raise self.fail("unterminated string")

    def scalar(self) -> Node:
        start = self.pos
        t = self.text
        while self.pos < len(t) and t[self.pos] not in ",]}/ \t\r\n":
            self.pos += 1
        word = t[start:self.pos]
        try:
            return Node(start, self.pos, json.loads(word))
        except ValueError:
            raise self.fail(f"unexpected {word[:20] or t[start:start + 1]!r}", start) from None

    def container(self, close: str, is_object: bool) -> Node:
        node = Node(self.pos, self.pos, {} if is_object else [], kind="object" if is_object else "array")
        self.pos += 1
        while True:
            self.skip()
            if self.pos >= len(self.text):
                raise self.fail(f"expected '{close}' before the end of file")
            if self.text[self.pos] == close:
                self.pos += 1
                node.end = self.pos
                return node
            if is_object:
                if self.text[self.pos] != '"':
                    raise self.fail("expected a quoted key")
                key_start = self.pos
                self.string_end()
                key = json.loads(self.text[key_start:self.pos])
                self.skip()
                if self.text[self.pos:self.pos + 1] != ":":
                    raise self.fail("expected ':' after the key")
                self.pos += 1
                self.skip()
                child = self.value()
                node.members.append((key, child))
                node.keys_at.append(key_start)
                node.value[key] = child.value
            else:
                child = self.value()
                node.items.append(child)
                node.value.append(child.value)
            self.skip()
            if self.text[self.pos:self.pos + 1] == ",":
                self.pos += 1
            elif self.text[self.pos:self.pos + 1] != close:
                raise self.fail(f"expected ',' or '{close}'")


def parse_jsonc(text: str, name: str = "<settings>") -> Node:
    """The document's value tree with spans; SettingsError names `name:line:col` on bad input."""
    return _Parser(text, name).document()


# --- JSONC edits: pure text → text ------------------------------------------------------------------------


def _indent_unit(text: str) -> str:
    for line in text.splitlines():
        stripped = line.lstrip(" \t")
        if stripped and len(stripped) < len(line):
            return line[:len(line) - len(stripped)]
    return "  "


def _line_indent(text: str, at: int) -> str:
    start = text.rfind("\n", 0, at) + 1
    end = start
    while end < len(text) and text[end] in " \t":
        end += 1
    return text[start:end]


def _insert(text: str, container: Node, piece: str, unit: str) -> str:
    """Add `piece` (a member `"k": v` or an item, rendered for its indent) as the last entry of `container`."""
    entries = [v for _, v in container.members] if container.kind == "object" else container.items
    outer = _line_indent(text, container.start)
    if entries:
        key_at = container.keys_at[0] if container.kind == "object" else entries[0].start
        own_line = text[text.rfind("\n", 0, key_at) + 1:key_at].strip() == ""
        indent = _line_indent(text, key_at) if own_line else outer + unit
        rendered = piece.replace("\n", "\n" + indent)
        return text[:entries[-1].end] + f",\n{indent}{rendered}" + text[entries[-1].end:]
    indent = outer + unit
    rendered = piece.replace("\n", "\n" + indent)
    at = container.start + 1
    return text[:at] + f"\n{indent}{rendered}\n{outer}" + text[at:]


def _member(node: Node, key: str) -> Node | None:
    for k, v in node.members:
        if k == key:
            return v
    return None


def _walk(text: str, root: Node, keys: tuple[str, ...], name: str) -> tuple[Node, int]:
    """The deepest existing node along `keys` and how many keys it consumed."""
    node, depth = root, 0
    for key in keys:
        if node.kind != "object":
            raise SettingsError(f"{name}: {'.'.join(keys[:depth]) or 'the top level'} is not a JSON object; "
                                f"fix it by hand (the file was left untouched)")
        child = _member(node, key)
        if child is None:
            break
        node, depth = child, depth + 1
    return node, depth


def add_item(text: str, keys: tuple[str, ...], item: Any, is_ours: Callable[[Any], bool],
             name: str = "<settings>", template: dict[str, Any] | None = None) -> str:
    """`item` appended to the array at `keys` (created with its parents when missing), unless an item for which
    `is_ours` holds is already there (then the text is returned unchanged). `template` is the document for an
    empty file."""
    if not text.strip():
        doc = dict(template or {})
        target: Any = doc
        for key in keys[:-1]:
            target = target.setdefault(key, {})
        target.setdefault(keys[-1], []).append(item)
        return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    root = parse_jsonc(text, name)
    node, depth = _walk(text, root, keys, name)
    unit = _indent_unit(text)
    if depth == len(keys):
        if node.kind != "array":
            raise SettingsError(f"{name}: {'.'.join(keys)} is not a JSON array; fix it by hand (the file was "
                                f"left untouched)")
        if any(is_ours(x) for x in node.value):
            return text
        return _insert(text, node, json.dumps(item, indent=unit, ensure_ascii=False), unit)
    if node.kind != "object":
        raise SettingsError(f"{name}: {'.'.join(keys[:depth]) or 'the top level'} is not a JSON object; fix it "
                            f"by hand (the file was left untouched)")
    value: Any = [item]
    for key in reversed(keys[depth + 1:]):
        value = {key: value}
    piece = json.dumps({keys[depth]: value}, indent=unit, ensure_ascii=False)
    member = "\n".join(line[len(unit):] for line in piece.splitlines()[1:-1])
    return _insert(text, node, member, unit)


def set_member(text: str, keys: tuple[str, ...], value: Any, name: str = "<settings>") -> str:
    """The member at `keys` set to `value` (created with its parents when missing; replaced when different)."""
    if not text.strip():
        doc: dict[str, Any] = {}
        target = doc
        for key in keys[:-1]:
            target = target.setdefault(key, {})
        target[keys[-1]] = value
        return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    root = parse_jsonc(text, name)
    node, depth = _walk(text, root, keys, name)
    unit = _indent_unit(text)
    if depth == len(keys):
        if node.value == value:
            return text
        indent = _line_indent(text, node.start)
        return text[:node.start] + json.dumps(value, indent=unit, ensure_ascii=False).replace(
            "\n", "\n" + indent) + text[node.end:]
    if node.kind != "object":
        raise SettingsError(f"{name}: {'.'.join(keys[:depth]) or 'the top level'} is not a JSON object; fix it "
                            f"by hand (the file was left untouched)")
    nested: Any = value
    for key in reversed(keys[depth + 1:]):
        nested = {key: nested}
    piece = json.dumps({keys[depth]: nested}, indent=unit, ensure_ascii=False)
    member = "\n".join(line[len(unit):] for line in piece.splitlines()[1:-1])
    return _insert(text, node, member, unit)


def remove_items(text: str, keys: tuple[str, ...], is_ours: Callable[[Any], bool], name: str = "<settings>") -> str:
    """Every item of the array at `keys` for which `is_ours` holds, removed with its separating comma."""
    if not text.strip():
        return text
    node, depth = _walk(text, parse_jsonc(text, name), keys, name)
    if depth != len(keys) or node.kind != "array":
        return text
    for i in reversed(range(len(node.items))):
        item = node.items[i]
        if not is_ours(item.value):
            continue
        if i > 0:
            start, end = node.items[i - 1].end, item.end
        elif len(node.items) > 1:
            start, end = item.start, node.items[1].start
        else:
            start, end = node.start + 1, item.end
        text = text[:start] + text[end:]
        return remove_items(text, keys, is_ours, name)  # spans moved: parse again
    return text


def remove_member(text: str, keys: tuple[str, ...], name: str = "<settings>") -> str:
    """The member at `keys` removed with its separating comma (the text unchanged when it is absent)."""
    if not text.strip():
        return text
    parent, depth = _walk(text, parse_jsonc(text, name), keys[:-1], name)
    if depth != len(keys) - 1 or parent.kind != "object":
        return text
    pairs = parent.members
    for i, (key, value) in enumerate(pairs):
        if key != keys[-1]:
            continue
        if i > 0:
            start, end = pairs[i - 1][1].end, value.end
        elif len(pairs) > 1:
            start, end = parent.keys_at[0], parent.keys_at[1]
        else:
            start, end = parent.start + 1, value.end
        return text[:start] + text[end:]
    return text


# --- TOML -------------------------------------------------------------------------------------------------


def parse_toml(text: str, name: str) -> Any:
    import tomlkit
    from tomlkit.exceptions import ParseError

    try:
        return tomlkit.parse(text)
    except ParseError as e:
        raise SettingsError(f"cannot parse {name}: {e}; the file was left untouched "
                            f"[{name}:{e.line}:{e.col}]") from None


# --- files: backup, atomic write, exact undo --------------------------------------------------------------


def keeping_newlines(edit: Callable[[str], str]) -> Callable[[str], str]:
    """`edit` on a CRLF file: done on LF text, the CRLF put back (the edits themselves write LF)."""
    def crlf(text: str) -> str:
        if "\r\n" not in text:
            return edit(text)
        return edit(text.replace("\r\n", "\n")).replace("\n", "\r\n")
    return crlf


def read(path: Path) -> str | None:
    """The file's text, line endings as they are, or None when it does not exist."""
    try:
        with open(path, encoding="utf-8", newline="") as f:
            return f.read()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as e:
        raise SettingsError(f"cannot read {path}: {e}") from None


def backups(path: Path) -> list[Path]:
    """This file's backups, newest first."""
    if not path.parent.is_dir():
        return []
    found = [p for p in path.parent.iterdir() if p.name.startswith(path.name + BACKUP_MARK)]
    return sorted(found, key=lambda p: p.name, reverse=True)


def backup(path: Path) -> Path | None:
    """Copy the file aside (`NAME.vg-backup-YYYYmmddTHHMMSSffffffZ`) before it is changed."""
    if not path.exists():
        return None
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + f"{time.time() % 1:.6f}"[2:] + "Z"
    dest = path.with_name(path.name + BACKUP_MARK + stamp)
    dest.write_bytes(path.read_bytes())
    os.chmod(dest, path.stat().st_mode & 0o777)
    return dest


def write(path: Path, text: str) -> None:
    """Atomically, keeping the file's permissions (0600 for a new one: settings can hold secrets)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o600
    tmp = path.with_name(f".{path.name}.vg-{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
        f.write(text)
    os.replace(tmp, path)


@dataclass(frozen=True)
class Before:
    """What a file was before an edit: its text, or None when the edit created it."""

    text: str | None


def undo(path: Path, current: str | None, edit: Callable[[str], str]) -> Before | None:
    """What the file was before `edit` made it `current`: the newest backup B with edit(B) == current, or
    absent when no backup exists and the edit of nothing gives `current`; None when nothing explains it."""
    if current is None:
        return None
    found = backups(path)
    for b in found:
        try:
            with open(b, encoding="utf-8", newline="") as f:
                before = f.read()
            if edit(before) == current:
                return Before(before)
        except (OSError, UnicodeDecodeError, SettingsError):
            continue
    try:
        return Before(None) if not found and edit("") == current else None
    except SettingsError:
        return None
