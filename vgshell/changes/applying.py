"""Write a change set into the real tree: each file atomically, refusing what moved underneath.

Every path is reached from the project root one directory at a time with O_NOFOLLOW, so neither a link in
the real tree's parent path nor one in the upper directory leads out of the project; a captured link whose
target leaves the project is refused. A file is written to a temporary file in its own directory, checked
against the digest read at capture, given its mode and renamed over the old one: a reader sees the old file
or the new one, never half of it. setuid and setgid bits are never applied.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import stat
from pathlib import Path
from types import TracebackType

from vgshell.changes.model import ApplyResult, BaseState, Change, ChangeSet, Refusal, state_at

APPLIED_MODE_BITS = 0o1777  # permission bits and sticky; never setuid or setgid
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_MOVED = "changed in the project since the run"


class _Unsafe(Exception):
    """The path cannot be reached safely: the reason says why."""


class Tree:
    """A directory tree reached only through real directories (no links), with its directories' fds kept."""

    def __init__(self, root: Path) -> None:
        self.root = os.path.realpath(root)
        self._fds: dict[str, int] = {"": os.open(self.root, _DIR_FLAGS)}

    def __enter__(self) -> Tree:
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()

    def dir(self, rel: str) -> int:
        """An fd of the directory `rel` ("" for the root); _Unsafe when a component is a link or not a
        directory, or is gone."""
        if rel in self._fds:
            return self._fds[rel]
        parent, _, name = rel.rpartition("/")
        pfd = self.dir(parent)
        try:
            fd = os.open(name, _DIR_FLAGS, dir_fd=pfd)
        except FileNotFoundError:
            raise _Unsafe(f"its directory {rel} no longer exists") from None
        except OSError:
            raise _Unsafe(f"{rel} is a symbolic link or not a directory: not followed") from None
        self._fds[rel] = fd
        return fd

    def forget(self, rel: str) -> None:
        """`rel` was removed or replaced: its fd and those below it are stale."""
        for key in [k for k in self._fds if k == rel or k.startswith(rel + "/")]:
            os.close(self._fds.pop(key))

    def open_file(self, rel: str) -> int:
        parent, _, name = rel.rpartition("/")
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=self.dir(parent))
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise _Unsafe("its captured content is not a regular file")
        return fd


def apply(changes: ChangeSet, upper: Path, project: Path) -> ApplyResult:
    """Apply `changes` (read from `upper`) to the real tree at `project`, parents before children. A change
    whose path no longer holds its `base` is refused and named; the others still apply, except what lies
    under a refused directory."""
    applied: list[str] = []
    refused: list[Refusal] = []
    blocked: list[str] = []
    with Tree(project) as real, Tree(upper) as up:
        for c in changes:
            under = next((b for b in blocked if c.path.startswith(b + "/")), None)
            if under is not None:
                refused.append(Refusal(c.path, f"its directory {under} was refused"))
                continue
            reason = _apply_one(c, real, up)
            if reason is None:
                applied.append(c.path)
                continue
            refused.append(Refusal(c.path, reason))
            if c.kind in ("added", "opaque") and c.digest is None:
                blocked.append(c.path)
    return ApplyResult(tuple(applied), tuple(refused))


def _apply_one(c: Change, real: Tree, up: Tree) -> str | None:
    parent, _, name = c.path.rpartition("/")
    try:
        pfd = real.dir(parent)
        deep = c.base is not None and c.base.type == "dir" and c.base.sha256 is not None
        current = state_at(name, pfd, deep=deep)
        if not _matches(c, current):
            return _MOVED
        if c.kind == "symlink":
            return _link(c, name, pfd, real, current)
        if c.kind == "deleted":
            _remove(name, pfd, current, real, c.path)
        elif c.kind == "mode":
            os.chmod(name, (c.mode or 0) & APPLIED_MODE_BITS, dir_fd=pfd)
        elif c.digest is None:  # a directory: added, or replacing the real one whole
            _directory(c, name, pfd, current, real)
        else:
            return _file(c, name, pfd, current, real, up)
    except _Unsafe as e:
        return str(e)
    except OSError as e:
        return f"could not be written ({e.strerror or e})"
    return None


def _matches(c: Change, current: BaseState | None) -> bool:
    """The real tree still holds what the change was read against (a new directory may meet one made
    since: they merge)."""
    if c.base is None:
        return current is None or (c.kind == "added" and c.digest is None and current.type == "dir")
    return current == c.base


def _remove(name: str, pfd: int, current: BaseState | None, real: Tree, rel: str) -> None:
    if current is None:
        return
    if current.type == "dir":
        real.forget(rel)
        shutil.rmtree(name, dir_fd=pfd)  # fd-based: never follows a link inside
    else:
        os.unlink(name, dir_fd=pfd)


def _directory(c: Change, name: str, pfd: int, current: BaseState | None, real: Tree) -> None:
    if current is not None and current.type == "dir":
        if c.kind == "opaque":
            fd = real.dir(c.path)
            for entry in os.listdir(fd):
                _remove(entry, fd, state_at(entry, fd), real, f"{c.path}/{entry}")
    else:
        _remove(name, pfd, current, real, c.path)
        os.mkdir(name, 0o700, dir_fd=pfd)
    os.chmod(name, (c.mode or 0o755) & APPLIED_MODE_BITS, dir_fd=pfd)  # exactly, whatever the umask


def _file(c: Change, name: str, pfd: int, current: BaseState | None, real: Tree, up: Tree) -> str | None:
    import hashlib

    tmp = f".{name[:200]}.vg-{secrets.token_hex(4)}"
    src = up.open_file(c.path)
    try:
        dst = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=pfd)
        try:
            h = hashlib.sha256()
            while chunk := os.read(src, 1 << 20):
                h.update(chunk)
                _write_all(dst, chunk)
            os.fchmod(dst, (c.mode or 0o644) & APPLIED_MODE_BITS)
            st = os.fstat(src)  # the time the command wrote it, as a build tool's later run will compare it
            os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns))
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(tmp, dir_fd=pfd)
            raise
        finally:
            os.close(dst)
    finally:
        os.close(src)
    if h.hexdigest() != c.digest:
        os.unlink(tmp, dir_fd=pfd)
        return "its captured content changed since it was read; not applied"
    if current is not None and current.type == "dir":
        _remove(name, pfd, current, real, c.path)
    os.replace(tmp, name, src_dir_fd=pfd, dst_dir_fd=pfd)
    return None


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _link(c: Change, name: str, pfd: int, real: Tree, current: BaseState | None) -> str | None:
    target = c.target or ""
    here = os.path.join(real.root, os.path.dirname(c.path))
    lexical = os.path.normpath(os.path.join(here, target))
    if not (_inside(lexical, real.root) and _inside(os.path.realpath(os.path.join(here, target)), real.root)):
        return f"a symbolic link to {target!r}, outside the project: refused"
    tmp = f".{name[:200]}.vg-{secrets.token_hex(4)}"
    os.symlink(target, tmp, dir_fd=pfd)
    if current is not None and current.type == "dir":
        _remove(name, pfd, current, real, c.path)
    try:
        os.replace(tmp, name, src_dir_fd=pfd, dst_dir_fd=pfd)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp, dir_fd=pfd)
        raise
    return None


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")
