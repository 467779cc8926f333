"""Writing a replay's changes into the project, fast: one pass, content straight from the store's blobs.

The same rules as applying reviewed changes (`vgshell.changes.applying`): every directory is reached from
the project root one component at a time with O_NOFOLLOW, so no link leads the writes out of the project; a
link whose target leaves the project is refused; a file that exists is replaced by a temp file renamed over
it; setuid and setgid bits are never set. Two differences make a replay of thousands of files cost what
copying them does: no upper directory is read (the content comes from the blobs, its sha256 checked while
it is written), and a file where nothing was is created in place (the plan made sure nothing was there; a
replay cut short leaves a file that differs from the entry, which the next lookup sees as a conflict).
Written in one thread: on the machines measured, threads only queued on the file system's journal.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import shutil
import stat
from types import TracebackType

from vgshell.changes.applying import APPLIED_MODE_BITS
from vgshell.changes.model import Change, ChangeSet
from vgshell.resultcache.store import CacheError, Store, has_content

_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_NEW = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


class _Dirs:
    """Directory fds of the project, opened without following links, kept for the whole replay."""

    def __init__(self, root: str) -> None:
        self.root = os.path.realpath(root)
        self.fds: dict[str, int] = {"": os.open(self.root, _DIR)}

    def __enter__(self) -> _Dirs:
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        for fd in self.fds.values():
            os.close(fd)

    def get(self, rel: str) -> int:
        if rel in self.fds:
            return self.fds[rel]
        parent, _, name = rel.rpartition("/")
        pfd = self.get(parent)
        try:
            fd = os.open(name, _DIR, dir_fd=pfd)
        except OSError:
            raise CacheError(f"replay stopped at {rel}: missing, a link or not a directory (not followed)") from None
        self.fds[rel] = fd
        return fd

    def forget(self, rel: str) -> None:
        for key in [k for k in self.fds if k == rel or k.startswith(rel + "/")]:
            os.close(self.fds.pop(key))


def write(changes: ChangeSet, present: frozenset[str], store: Store, project: str) -> None:
    """Write `changes` (parents first) into `project`; `present`: their paths that exist now (replaced by
    rename) — the others are created. CacheError at the first path that cannot be written."""
    with _Dirs(project) as dirs:
        for c in changes:
            parent, _, name = c.path.rpartition("/")
            pfd = dirs.get(parent)
            try:
                if has_content(c):
                    _file(c, pfd, store, c.path in present)
                else:
                    _other(c, name, pfd, dirs, c.path in present)
            except OSError as e:
                raise CacheError(f"replay stopped at {c.path}: {e.strerror or e}") from None


def _other(c: Change, name: str, pfd: int, dirs: _Dirs, present: bool) -> None:
    if c.kind == "deleted":
        _remove(name, pfd, dirs, c.path)
    elif c.kind == "mode":
        os.chmod(name, (c.mode or 0) & APPLIED_MODE_BITS, dir_fd=pfd)
    elif c.kind == "symlink":
        _link(c, name, pfd, dirs)
    else:  # a directory, added or replacing the one there whole (opaque)
        st = _lstat(name, pfd) if present else None
        if st is not None and stat.S_ISDIR(st.st_mode):
            if c.kind == "opaque":
                fd = dirs.get(c.path)
                for entry in os.listdir(fd):
                    _remove(entry, fd, dirs, f"{c.path}/{entry}")
        else:
            if st is not None:
                _remove(name, pfd, dirs, c.path)
            os.mkdir(name, 0o700, dir_fd=pfd)
        os.chmod(name, (c.mode or 0o755) & APPLIED_MODE_BITS, dir_fd=pfd)


def _lstat(name: str, pfd: int) -> os.stat_result | None:
    try:
        return os.stat(name, dir_fd=pfd, follow_symlinks=False)
    except FileNotFoundError:
        return None


def _remove(name: str, pfd: int, dirs: _Dirs, rel: str) -> None:
    st = _lstat(name, pfd)
    if st is None:
        return
    if stat.S_ISDIR(st.st_mode):
        dirs.forget(rel)
        shutil.rmtree(name, dir_fd=pfd)  # fd-based: never follows a link inside
    else:
        os.unlink(name, dir_fd=pfd)


def _link(c: Change, name: str, pfd: int, dirs: _Dirs) -> None:
    target = c.target or ""
    here = os.path.join(dirs.root, os.path.dirname(c.path))
    for where in (os.path.normpath(os.path.join(here, target)), os.path.realpath(os.path.join(here, target))):
        if not (where == dirs.root or where.startswith(dirs.root.rstrip("/") + "/")):
            raise CacheError(f"replay stopped at {c.path}: a symbolic link to {target!r}, outside the project")
    tmp = f".{name[:200]}.vg-{secrets.token_hex(4)}"
    os.symlink(target, tmp, dir_fd=pfd)
    st = _lstat(name, pfd)
    if st is not None and stat.S_ISDIR(st.st_mode):
        _remove(name, pfd, dirs, c.path)
    os.replace(tmp, name, src_dir_fd=pfd, dst_dir_fd=pfd)


def _file(c: Change, pfd: int, store: Store, present: bool) -> None:
    name = c.path.rpartition("/")[2]
    try:
        data = store.blob_path(str(c.digest)).read_bytes()
    except OSError:
        raise CacheError(f"replay stopped at {c.path}: blob {str(c.digest)[:12]} is missing") from None
    if hashlib.sha256(data).hexdigest() != c.digest:
        raise CacheError(f"replay stopped at {c.path}: blob {str(c.digest)[:12]} is corrupt (checksum mismatch)")
    mode = (c.mode or 0o644) & APPLIED_MODE_BITS
    target = f".{name[:200]}.vg-{secrets.token_hex(4)}" if present else name
    try:
        fd = os.open(target, _NEW, 0o600, dir_fd=pfd)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fchmod(fd, mode)  # exactly, whatever the umask
        finally:
            os.close(fd)
        if present:
            st = _lstat(name, pfd)
            if st is not None and stat.S_ISDIR(st.st_mode):
                shutil.rmtree(name, dir_fd=pfd)
            os.replace(target, name, src_dir_fd=pfd, dst_dir_fd=pfd)
    except OSError as e:
        if present:
            with contextlib.suppress(OSError):
                os.unlink(target, dir_fd=pfd)
        raise CacheError(f"replay stopped at {c.path}: {e.strerror or e}") from None
