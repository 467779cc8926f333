"""The change store: one directory per captured run under `<state dir>/changes/<id>/`.

    meta.json     {version, id, command, cwd, project, runtime, created, status, exit_status, pid, layout}
    changes.json  the ChangeSet read right after the run (with each path's base state), version 1
    upper/        the overlay's upper directory: the written files, whiteouts, opaque directories
    work/         the overlay's work directory (removed once the run ends)

`status`: running → pending → applied | discarded (a discarded or applied change's directory is removed; its
meta stays in the records). The directory is 0700: the captured files are the user's.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import stat
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from vgshell.changes.model import BaseState, Change, ChangeSet, ChangeSetError

VERSION = 1


@dataclass(frozen=True)
class Meta:
    id: str
    command: str
    cwd: str
    project: str
    runtime: str
    created: float
    status: str = "running"
    exit_status: int | None = None
    pid: int = 0
    layout: str = "kernel"  # how the upper directory was written: kernel, or fuse (`.wh.` names are whiteouts)


@dataclass(frozen=True)
class Entry:
    directory: Path
    meta: Meta

    @property
    def upper(self) -> Path:
        return self.directory / "upper"

    @property
    def work(self) -> Path:
        return self.directory / "work"

    @property
    def id(self) -> str:
        return self.meta.id


def root(state_dir: Path) -> Path:
    return state_dir / "changes"


def create(state_dir: Path, command: str, cwd: str, project: str, runtime: str) -> Entry:
    """A new entry with empty upper and work directories, status `running`."""
    base = root(state_dir)
    base.mkdir(parents=True, exist_ok=True, mode=0o700)
    now = time.time()
    ident = time.strftime("%Y%m%d-%H%M%S", time.localtime(now)) + "-" + secrets.token_hex(2)
    directory = base / ident
    directory.mkdir(mode=0o700)
    (directory / "upper").mkdir()
    (directory / "work").mkdir()
    entry = Entry(directory, Meta(ident, command, cwd, project, runtime, now, pid=os.getpid()))
    write_meta(entry)
    return entry


def write_meta(entry: Entry) -> None:
    _write_json(entry.directory / "meta.json", {"version": VERSION, **asdict(entry.meta)})


def update(entry: Entry, **fields: object) -> Entry:
    new = Entry(entry.directory, replace(entry.meta, **fields))  # type: ignore[arg-type]
    write_meta(new)
    return new


def save_changes(entry: Entry, changes: ChangeSet) -> None:
    _write_json(entry.directory / "changes.json", {"version": VERSION, "changes": [asdict(c) for c in changes]})


def load_changes(entry: Entry) -> ChangeSet:
    data = _read_json(entry.directory / "changes.json")
    out = []
    for c in data.get("changes", []):
        base = c.get("base")
        out.append(Change(**{**c, "base": BaseState(**base) if base else None}))
    return tuple(out)


def entries(state_dir: Path) -> list[Entry]:
    """Every stored change, oldest first; unreadable ones are left out."""
    out = []
    base = root(state_dir)
    for d in sorted(base.iterdir()) if base.is_dir() else ():
        with contextlib.suppress(ChangeSetError):
            out.append(load(d))
    return out


def load(directory: Path) -> Entry:
    data = _read_json(directory / "meta.json")
    data.pop("version", None)
    try:
        return Entry(directory, Meta(**data))
    except TypeError as e:
        raise ChangeSetError(f"{directory / 'meta.json'}: not a change record ({e})") from None


def find(state_dir: Path, ident: str) -> Entry:
    """The entry whose id is `ident` or starts with it (unambiguously)."""
    found = [e for e in entries(state_dir) if e.id == ident] or \
            [e for e in entries(state_dir) if e.id.startswith(ident)]
    if not found:
        raise ChangeSetError(f"no captured change {ident!r} (vg changes list shows them)")
    if len(found) > 1:
        raise ChangeSetError(f"{ident!r} names {len(found)} changes ({', '.join(e.id for e in found)}); give more "
                             f"of the id")
    return found[0]


def remove(entry: Entry) -> None:
    remove_tree(entry.directory)


def remove_tree(path: Path) -> None:
    """Remove a directory an overlay wrote: its work directory holds a mode-0 directory, which a non-root
    user must make removable first (tried only when a plain removal fails: the common case stays cheap)."""
    try:
        shutil.rmtree(path)
        return
    except FileNotFoundError:
        return
    except OSError:
        pass
    for dirpath, dirnames, _ in os.walk(path):
        for d in dirnames:
            p = os.path.join(dirpath, d)
            if not os.path.islink(p):
                with contextlib.suppress(OSError):
                    os.chmod(p, stat.S_IRWXU)
    shutil.rmtree(path, ignore_errors=True)


def _write_json(path: Path, data: object) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(data, f, ensure_ascii=False)
    os.replace(tmp, path)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ChangeSetError(f"{path}: unreadable ({e})") from None
    if not isinstance(data, dict) or data.get("version") != VERSION:
        raise ChangeSetError(f"{path}: not a version-{VERSION} change record")
    return data
