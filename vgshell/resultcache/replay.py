"""Replaying a recorded result: the captured writes back into the project, then stdout, stderr and the status.

All or nothing, decided before anything is written: every change's path must still hold what the recorded
run found there (its `base`), or already hold what the run left (an earlier replay or run of the same
result); and every directory the run wrote into must still list, for each name the run saw there before or
left there after, that name as it was then or as the run left it (a package directory removed from
node_modules since is a miss: the run's few writes there rested on the rest). Names added since are
ignored. Any other state is a conflict and the whole replay is a miss. The writing itself is the change
set's rules (`writer`: links never followed, a link out of the project refused, a file that exists replaced
atomically), straight from the store's blobs, every blob's digest checked on the way.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TextIO

from vgshell.changes.applying import APPLIED_MODE_BITS
from vgshell.changes.model import BaseState, Change, ChangeSet, state_at
from vgshell.resultcache.store import Entry, Store


@dataclass(frozen=True)
class Plan:
    """What a replay of an entry will do: the changes still to apply (the rest are already in place)."""

    pending: ChangeSet
    stdout: bytes
    stderr: bytes
    present: frozenset[str] = frozenset()  # pending paths where something exists now


def plan(entry: Entry, store: Store, project: str) -> Plan | str:
    """The replay of `entry` into `project`, or why it cannot be replayed (a conflict; CacheError when the
    entry's blobs are missing or corrupt)."""
    pending: list[Change] = []
    present: set[str] = set()
    absent_dirs: set[str] = set()  # new directories not there yet: what they hold is not there either
    for c in entry.writes:
        if os.path.dirname(c.path) in absent_dirs:
            current = None
        else:
            deep = c.base is not None and c.base.type == "dir" and c.base.sha256 is not None
            current = state_at(os.path.join(project, c.path), deep=deep)
        if _as_after(c, current):
            continue
        if not _as_before(c, current):
            return f"{c.path} changed since the recorded run"
        pending.append(c)
        if current is not None:
            present.add(c.path)
        if current is None and c.digest is None and c.kind in ("added", "opaque"):
            absent_dirs.add(c.path)
    for rel, before, after in entry.dirs:
        if not listing_allows(listing(os.path.join(project, rel)), before, after):
            return f"{rel or '.'} lists other entries than when the run was recorded"
    return Plan(tuple(pending), _output(store, entry.stdout), _output(store, entry.stderr), frozenset(present))


def listing(path: str) -> tuple[str, ...] | None:
    """A directory's entries as type letter + name (`dnode_modules`, `fREADME.md`, `lbin`), sorted; links
    not followed; None when it is not a directory."""
    try:
        with os.scandir(path) as it:
            return tuple(sorted(_kind(e) + e.name for e in it))
    except (FileNotFoundError, NotADirectoryError):
        return None


def _kind(e: os.DirEntry[str]) -> str:
    if e.is_symlink():
        return "l"
    return "d" if e.is_dir(follow_symlinks=False) else "f"


def listing_allows(now: tuple[str, ...] | None, before: tuple[str, ...], after: tuple[str, ...]) -> bool:
    """Each name the run saw or left is now as it was before the run or as the run left it."""
    if now is None:
        return False
    kinds = {n[1:]: n[0] for n in now}
    was = {n[1:]: n[0] for n in before}
    left = {n[1:]: n[0] for n in after}
    return all(kinds.get(name) in (was.get(name), left.get(name)) for name in was.keys() | left.keys())


def written_dirs(changes: ChangeSet) -> tuple[str, ...]:
    """The directories a change set writes into that it does not create itself ("" is the project root)."""
    made = {c.path for c in changes if c.digest is None and c.kind in ("added", "opaque")}
    return tuple(sorted({os.path.dirname(c.path) for c in changes} - made))


def _output(store: Store, digest: str) -> bytes:
    return store.read_blob(digest) if digest else b""


def _as_before(c: Change, current: BaseState | None) -> bool:
    """The path holds what the recorded run found there (a new directory may meet one made since)."""
    if c.base is None:
        return current is None or (c.kind == "added" and c.digest is None and current.type == "dir")
    return current == c.base


def _as_after(c: Change, current: BaseState | None) -> bool:
    """The path already holds what the recorded run left there."""
    if c.kind == "deleted":
        return current is None
    if current is None:
        return False
    mode = None if c.mode is None else c.mode & APPLIED_MODE_BITS
    if c.kind == "symlink":
        return current.type == "symlink" and current.sha256 == c.digest
    if c.kind in ("added", "changed") and c.digest is not None:
        return current.type == "file" and current.sha256 == c.digest and current.mode == mode
    if c.kind == "mode":
        return current.mode == mode and (c.base is None or current.type == c.base.type)
    return c.kind == "added" and current.type == "dir" and current.mode == mode  # opaque: unknowable


def apply(p: Plan, store: Store, project: str) -> None:
    """Write the plan's changes into `project` (`writer.write`); CacheError at a path it cannot write."""
    from vgshell.resultcache.writer import write

    if p.pending:
        write(p.pending, p.present, store, project)


def write_output(p: Plan, entry: Entry, stdout: TextIO, stderr: TextIO) -> None:
    for data, stream in ((p.stdout, stdout), (p.stderr, stderr)):
        if not data:
            continue
        if entry.tty:  # a terminal's line discipline turned \n into \r\n; ours (or a pipe) gets plain \n
            data = data.replace(b"\r\n", b"\n")
        stream.flush()
        buffer = getattr(stream, "buffer", None)
        if buffer is not None:
            buffer.write(data)
            buffer.flush()
        else:
            stream.write(data.decode("utf-8", "replace"))
            stream.flush()


def ago(seconds: float) -> str:
    """`3 min ago`, the replay notice's wording."""
    for unit, size in (("day", 86400), ("h", 3600), ("min", 60)):
        n = int(seconds // size)
        if n >= 1:
            return f"{n} {unit}{'s' if unit == 'day' and n > 1 else ''} ago"
    return f"{max(int(seconds), 0)} s ago"


def notice(entry: Entry, now: float) -> str:
    return f"♻ Replayed from result cache (recorded {ago(now - entry.created)})"
