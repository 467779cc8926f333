"""The values of a captured change set, and how a path's state on disk is fingerprinted.

A `Change` says what one path became in the overlay's upper directory and what the real tree held there when
it was read (`base`), so applying later can tell whether the real tree moved underneath. Fingerprints never
follow a symbolic link: a link is its target text, a directory the sorted list of what it holds.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from typing import Literal

from vgshell.errors import VgError

Kind = Literal["added", "changed", "deleted", "opaque", "mode", "symlink"]
KINDS: tuple[Kind, ...] = ("added", "changed", "deleted", "opaque", "mode", "symlink")
_CHUNK = 1 << 20


class ChangeSetError(VgError):
    topic = "changes"


@dataclass(frozen=True)
class BaseState:
    """A path in the real tree as it was when the change set was read.

    `type`: "file", "dir", "symlink" or "other" (a fifo, socket or device). `mode`: the permission bits.
    `size`: bytes of a file, length of a link's target, None for the rest. `sha256`: of a file's content, of
    a link's target text, or of a directory's whole content (`tree_digest`) where a change replaces or
    deletes the directory — None for a directory that a change only passes through or re-modes.
    """

    type: str
    mode: int
    size: int | None
    sha256: str | None


@dataclass(frozen=True)
class Change:
    """One path the command changed, relative to the project root (posix, no leading `./`).

    kind: `added` (a file or directory where the real tree had none — or had another type, see `base`),
    `changed` (a file with new content), `deleted` (a whiteout), `opaque` (a directory that replaces the real
    one whole: what it held is gone, its new content follows as `added` changes), `mode` (same content, new
    permission bits), `symlink` (a new or retargeted link; `target` says where to).
    mode: the new permission bits (files, directories); size and digest (sha256): the new content of a file.
    base: the real tree's state at that path when read, None where nothing was there.
    """

    path: str
    kind: Kind
    mode: int | None
    size: int | None
    digest: str | None
    base: BaseState | None
    target: str | None = None


ChangeSet = tuple[Change, ...]


@dataclass(frozen=True)
class Refusal:
    path: str
    reason: str


@dataclass(frozen=True)
class ApplyResult:
    """What `apply` did: the paths written, and the ones it refused with why (the real tree kept those)."""

    applied: tuple[str, ...]
    refused: tuple[Refusal, ...]

    @property
    def ok(self) -> bool:
        return not self.refused


def file_digest(fd: int) -> tuple[str, int]:
    """sha256 and size of an open file, read from its start."""
    h = hashlib.sha256()
    size = 0
    os.lseek(fd, 0, os.SEEK_SET)
    while chunk := os.read(fd, _CHUNK):
        h.update(chunk)
        size += len(chunk)
    return h.hexdigest(), size


def open_nofollow(name: str, dir_fd: int | None = None) -> int:
    return os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)


def type_of(mode: int) -> str:
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISLNK(mode):
        return "symlink"
    return "other"


def state_at(name: str, dir_fd: int | None = None, deep: bool = False) -> BaseState | None:
    """The state of `name` (relative to `dir_fd`), None when nothing is there. `deep`: fingerprint a
    directory's whole content too (costly: only where a change replaces or deletes it)."""
    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None
    kind = type_of(st.st_mode)
    mode = stat.S_IMODE(st.st_mode)
    if kind == "file":
        fd = open_nofollow(name, dir_fd)
        try:
            digest, size = file_digest(fd)
        finally:
            os.close(fd)
        return BaseState("file", mode, size, digest)
    if kind == "symlink":
        target = os.readlink(name, dir_fd=dir_fd)
        return BaseState("symlink", mode, len(target), _text_digest(target))
    if kind == "dir" and deep:
        return BaseState("dir", mode, None, tree_digest(name, dir_fd))
    return BaseState(kind, mode, None, None)


def tree_digest(name: str, dir_fd: int | None = None) -> str:
    """sha256 over every entry under a directory (relative path, type, mode, content), links not followed."""
    h = hashlib.sha256()
    fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
    try:
        _hash_tree(fd, "", h)
    finally:
        os.close(fd)
    return h.hexdigest()


def _hash_tree(fd: int, prefix: str, h: hashlib._Hash) -> None:
    for entry in sorted(os.listdir(fd)):
        s = state_at(entry, fd)
        if s is None:
            continue
        h.update(f"{prefix}{entry}\0{s.type}\0{s.mode:o}\0{s.size}\0{s.sha256}\n".encode("utf-8", "surrogateescape"))
        if s.type == "dir":
            sub = os.open(entry, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
            try:
                _hash_tree(sub, f"{prefix}{entry}/", h)
            finally:
                os.close(sub)


def _text_digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


def link_digest(target: str) -> str:
    return _text_digest(target)
