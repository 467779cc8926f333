"""What a change set looks like to the person deciding: counts, one line per path, diffs for text files."""

from __future__ import annotations

import difflib
import os
from pathlib import Path

from vgshell.changes.model import Change, ChangeSet

DIFF_LIMIT = 512 * 1024  # larger files are shown by size
_MARK = {"added": "+", "changed": "~", "deleted": "-", "opaque": "!", "mode": "m", "symlink": "@"}
_NOUN = {"added": "added", "changed": "changed", "deleted": "deleted", "opaque": "replaced whole",
         "mode": "mode changes", "symlink": "links"}


def counts(changes: ChangeSet) -> str:
    """"3 added, 1 changed, 2 deleted" (kinds with none left out); "no changes" for an empty set."""
    n: dict[str, int] = {}
    for c in changes:
        n[c.kind] = n.get(c.kind, 0) + 1
    parts = [f"{n[k]} {_NOUN[k]}" for k in _NOUN if k in n]
    return ", ".join(parts) if parts else "no changes"


def summary(changes: ChangeSet) -> str:
    """The counts, then one line per change: `+ src/new.py (1.2 KB)`, `- build/ (directory)`,
    `m run.sh 644 → 755`, `@ latest -> v2`, `! dist/ (replaced whole)`."""
    return "\n".join([counts(changes), *(f"  {_MARK[c.kind]} {_describe(c)}" for c in changes)])


def _describe(c: Change) -> str:
    base = c.base
    if c.kind == "symlink":
        return f"{c.path} -> {c.target}"
    if c.kind == "deleted":
        what = "directory" if base and base.type == "dir" else size(base.size) if base and base.size is not None else ""
        return f"{c.path}{'/' if base and base.type == 'dir' else ''} ({what})" if what else c.path
    if c.kind == "opaque":
        return f"{c.path}/ (replaced whole)"
    if c.kind == "mode":
        old = f"{base.mode:o}" if base else "?"
        return f"{c.path}{'/' if c.digest is None else ''} {old} → {(c.mode or 0):o}"
    if c.digest is None:
        return f"{c.path}/"
    if c.kind == "changed" and base is not None and base.size is not None:
        return f"{c.path} ({size(base.size)} → {size(c.size or 0)})"
    return f"{c.path} ({size(c.size or 0)})"


def size(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    for unit in ("KB", "MB", "GB"):
        n_f = n / 1024
        if n_f < 1024 or unit == "GB":
            return f"{n_f:.1f} {unit}"
        n = int(n_f)
    return f"{n} B"


def diff(change: Change, upper: Path, project: Path) -> str:
    """A unified diff of a text file's change (new or deleted files against nothing); sizes for a binary or
    large file; "" for what has no content (directories, links, mode changes)."""
    if change.kind not in ("added", "changed", "deleted") or (change.digest is None and change.kind != "deleted"):
        return ""
    base = change.base
    if change.kind == "deleted" and (base is None or base.type != "file"):
        return ""
    old = _read(project / change.path) if base is not None and base.type == "file" else b""
    new = b"" if change.kind == "deleted" else _read(upper / change.path)
    a = None if old is None else _text(old)
    b = None if new is None else _text(new)
    if a is None or b is None:
        old_size = base.size if base is not None and base.type == "file" else None
        new_size = None if change.kind == "deleted" else change.size
        return f"{change.path}: binary or large, {_len(old_size)} → {_len(new_size)}\n"
    return "".join(difflib.unified_diff(a, b, f"a/{change.path}" if base is not None else "/dev/null",
                                        "/dev/null" if change.kind == "deleted" else f"b/{change.path}"))


def render(changes: ChangeSet, upper: Path, project: Path) -> str:
    """The whole review: the summary, then every text diff."""
    diffs = [d for d in (diff(c, upper, project) for c in changes) if d]
    return summary(changes) + ("\n\n" + "\n".join(d.rstrip("\n") for d in diffs) if diffs else "") + "\n"


def _read(path: Path) -> bytes | None:
    """A regular file's content (links not followed), None when it is too large to diff or unreadable."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        if os.fstat(fd).st_size > DIFF_LIMIT:
            return None
        return os.read(fd, DIFF_LIMIT + 1)
    finally:
        os.close(fd)


def _text(data: bytes) -> list[str] | None:
    if b"\0" in data[:8192]:
        return None
    try:
        lines = data.decode("utf-8").splitlines(keepends=True)
    except UnicodeDecodeError:
        return None
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n\\ No newline at end of file\n"
    return lines


def _len(n: int | None) -> str:
    return "nothing" if n is None else size(n)
