"""The small files in the state directory that hold trust (the trust store, config approvals): one lock per
file, atomic 0600 writes, and a bad file moved aside (never deleted) so it trusts nothing and loses nothing.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

LOCK_TIMEOUT = 10.0  # seconds; a lock held longer than this is a stuck process, not a busy one


@contextmanager
def locked(path: Path, error: Callable[[str], Exception]) -> Iterator[None]:
    """Hold `path`.lock (0600, the directory made 0700); a lock stuck past LOCK_TIMEOUT raises `error(msg)`."""
    from filelock import FileLock, Timeout

    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    lock = FileLock(str(path) + ".lock", timeout=LOCK_TIMEOUT, mode=0o600, poll_interval=0.005)
    try:
        lock.acquire()
    except Timeout:
        raise error(f"{path}.lock is held by another process for over {LOCK_TIMEOUT:.0f}s; try again") from None
    try:
        yield
    finally:
        lock.release()


def write_atomic(path: Path, data: bytes) -> None:
    """Replace `path` with `data` (0600): a reader sees the old file or the new one, never half of one."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    dfd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def move_aside(path: Path) -> Path | None:
    """Rename a bad file to `NAME.bad-<UTC time>[-N]` (0600) and return the new path; None when it is gone."""
    if not path.exists():
        return None
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    backup = path.with_name(f"{path.name}.bad-{stamp}")
    n = 1
    while backup.exists():
        n += 1
        backup = path.with_name(f"{path.name}.bad-{stamp}-{n}")
    os.replace(path, backup)
    os.chmod(backup, 0o600)
    return backup
