"""The result cache on disk, under `<state dir>/result-cache/` (0700; every file 0600):

    blobs/ab/abcdef…      content by sha256: what commands wrote, their stdout and stderr (immutable)
    entries/KEY.json      one recorded result: the entry and a checksum over it
    entries/KEY.used      its last use (mtime), for LRU eviction
    hits, misses          one line per lookup (the project), for `vg cache stats`

Safe against concurrent shells and crashes: blobs and entries are written to a temp file and renamed into
place, so a reader sees a whole file or none; an entry is written last, after every blob it names, so a
killed run leaves at most unreferenced blobs (removed by the next eviction or prune). Two identical runs
finishing together each rename a whole entry over the key: one consistent entry remains. An entry whose
checksum does not match, or whose blob is missing or altered, is skipped with a warning and removed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TextIO

from vgshell.changes.model import BaseState, Change, ChangeSet
from vgshell.errors import VgError

FORMAT_VERSION = 1
DIR_NAME = "result-cache"
GRACE = 600.0  # seconds an unreferenced blob is kept: a run may still be writing the entry that names it
CHUNK = 1 << 20


class CacheError(VgError):
    topic = "cache"


@dataclass(frozen=True)
class Entry:
    """One recorded result. stdout/stderr: blob digests ("" when empty); tty: the output came from a terminal
    as one stream (all of it is in stdout); inputs: the key's files and their digests, for `vg cache stats`.
    dirs: each directory the run wrote into that existed before it, with what it listed before and after the
    run (`replay.listing`): what the run found there besides its own writes is part of its result."""

    key: str
    command: str
    cwd: str
    project: str
    runtime: str
    image: str
    strategy: str
    created: float
    duration_ms: float
    exit_status: int
    stdout: str = ""
    stderr: str = ""
    tty: bool = False
    inputs: tuple[tuple[str, str], ...] = ()
    writes: ChangeSet = ()
    image_id: str = ""
    dirs: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = ()

    def blobs(self) -> set[str]:
        named = {c.digest for c in self.writes if c.digest and has_content(c)}
        return {d for d in (self.stdout, self.stderr, *named) if d}


def has_content(c: Change) -> bool:
    """The change writes a file's content (kept as a blob): an added or changed regular file."""
    return c.kind in ("added", "changed") and c.digest is not None


def entry_to_json(entry: Entry) -> dict[str, Any]:
    return asdict(entry)


def entry_from_json(d: dict[str, Any]) -> Entry:
    writes = tuple(Change(**{**c, "base": None if c["base"] is None else BaseState(**c["base"])})
                   for c in d["writes"])
    inputs = tuple((str(p), str(h)) for p, h in d["inputs"])
    dirs = tuple((str(p), tuple(before), tuple(after)) for p, before, after in d.get("dirs", ()))
    return Entry(**{**d, "writes": writes, "inputs": inputs, "dirs": dirs})


def _checksum(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


class Store:
    """The result cache under `root` (`<state dir>/result-cache`). `warn` receives one line per problem."""

    def __init__(self, root: Path, warn: TextIO | None = None, clock: Callable[[], float] = time.time) -> None:
        self.root, self.warn, self.clock = root, warn, clock
        self.blob_dir, self.entry_dir = root / "blobs", root / "entries"

    @classmethod
    def at(cls, state_dir: Path, warn: TextIO | None = None, clock: Callable[[], float] = time.time) -> Store:
        return cls(state_dir / DIR_NAME, warn, clock)

    # --- reading -------------------------------------------------------------------------------------------

    def entry_path(self, key: str) -> Path:
        return self.entry_dir / f"{key}.json"

    def blob_path(self, digest: str) -> Path:
        return self.blob_dir / digest[:2] / digest

    def get(self, key: str) -> Entry | None:
        """The entry recorded under `key`, or None (absent, or corrupt: then warned about and removed)."""
        try:
            raw = self.entry_path(key).read_bytes()
        except OSError:
            return None
        entry = self._parse(raw, key)
        if entry is None:
            self._say(f"vg: cache: entry {key[:12]} is corrupt (checksum mismatch); skipped and removed")
            self.remove(key)
        return entry

    def _parse(self, raw: bytes, key: str) -> Entry | None:
        try:
            doc = json.loads(raw)
            body = doc["entry"]
            if doc.get("version") != FORMAT_VERSION or doc.get("checksum") != _checksum(body):
                return None
            entry = entry_from_json(body)
        except (ValueError, KeyError, TypeError):
            return None
        return entry if entry.key == key else None

    def entries(self) -> Iterator[Entry]:
        """Every readable entry (corrupt ones are warned about and removed)."""
        with contextlib.suppress(FileNotFoundError):
            for name in sorted(os.listdir(self.entry_dir)):
                if name.endswith(".json") and not name.startswith("."):
                    entry = self.get(name[:-5])
                    if entry is not None:
                        yield entry

    def read_blob(self, digest: str) -> bytes:
        """A blob's bytes, verified; CacheError when it is missing or altered."""
        try:
            data = self.blob_path(digest).read_bytes()
        except OSError as e:
            raise CacheError(f"blob {digest[:12]} is missing ({e.strerror})") from None
        if hashlib.sha256(data).hexdigest() != digest:
            raise CacheError(f"blob {digest[:12]} is corrupt (checksum mismatch)")
        return data

    def last_used(self, key: str) -> float:
        for path in (self.entry_dir / f"{key}.used", self.entry_path(key)):
            with contextlib.suppress(OSError):
                return path.stat().st_mtime
        return 0.0

    def _say(self, line: str) -> None:
        if self.warn is not None:
            self.warn.write(line + "\n")
            self.warn.flush()

    # --- writing -------------------------------------------------------------------------------------------

    def _mkdirs(self, path: Path) -> None:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)

    def put_bytes(self, data: bytes) -> str:
        """Store `data` as a blob; its digest ("" for nothing)."""
        if not data:
            return ""
        digest = hashlib.sha256(data).hexdigest()
        if not self._have(digest):
            self._place(digest, lambda fd: os.write(fd, data))
        return digest

    def put_file(self, path: str) -> tuple[str, int]:
        """Store the file at `path` as a blob, hashing while copying; (digest, size)."""
        h = hashlib.sha256()
        size = 0
        self._mkdirs(self.blob_dir)
        tmp = self.blob_dir / f".tmp-{os.getpid()}-{time.monotonic_ns()}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with open(path, "rb") as src:
                while chunk := src.read(CHUNK):
                    h.update(chunk)
                    size += len(chunk)
                    os.write(fd, chunk)
        except BaseException:
            os.close(fd)
            tmp.unlink(missing_ok=True)
            raise
        os.close(fd)
        digest = h.hexdigest()
        if self._have(digest):
            tmp.unlink()
        else:
            self._mkdirs(self.blob_path(digest).parent)
            os.replace(tmp, self.blob_path(digest))
        return digest, size

    def adopt(self, path: str, digest: str) -> bool:
        """Take the file at `path`, which nothing will write again (a finished run's overlay upper directory,
        on the same file system), as the blob `digest` by a hard link instead of a copy. Its content is
        hashed first; False (nothing stored) when it does not match. Falls back to a copy across file
        systems."""
        if self._have(digest):
            return True
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            h = hashlib.sha256()
            while chunk := os.read(fd, CHUNK):
                h.update(chunk)
            if h.hexdigest() != digest:
                return False
            final = self.blob_path(digest)
            self._mkdirs(final.parent)
            tmp = final.with_name(f".tmp-{os.getpid()}-{time.monotonic_ns()}")
            try:
                os.link(path, tmp, follow_symlinks=False)
                os.chmod(tmp, 0o600)
            except OSError:
                return self.put_file(path)[0] == digest
            os.replace(tmp, final)
        finally:
            os.close(fd)
        return True

    def _have(self, digest: str) -> bool:
        """True when the blob exists (its mtime renewed, so an eviction racing this run keeps it)."""
        try:
            os.utime(self.blob_path(digest))
        except OSError:
            return False
        return True

    def _place(self, digest: str, write: Callable[[int], object]) -> None:
        final = self.blob_path(digest)
        self._mkdirs(final.parent)
        tmp = final.with_name(f".tmp-{os.getpid()}-{time.monotonic_ns()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            write(fd)
        finally:
            os.close(fd)
        os.replace(tmp, final)

    def commit(self, entry: Entry, max_bytes: int | None = None) -> None:
        """Write `entry` (every blob it names is already stored), then evict down to `max_bytes`."""
        missing = [d for d in entry.blobs() if not self.blob_path(d).exists()]
        if missing:
            raise CacheError(f"entry {entry.key[:12]} names {len(missing)} blobs that were not stored")
        body = entry_to_json(entry)
        doc = {"version": FORMAT_VERSION, "checksum": _checksum(body), "entry": body}
        self._mkdirs(self.entry_dir)
        from vgshell.statefile import write_atomic

        write_atomic(self.entry_path(entry.key), json.dumps(doc, separators=(",", ":")).encode())
        self.touch(entry.key)
        if max_bytes is not None:
            self.evict(max_bytes)

    def touch(self, key: str) -> None:
        """Mark `key` used now (LRU)."""
        path = self.entry_dir / f"{key}.used"
        with contextlib.suppress(OSError):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
            os.close(fd)
            now = self.clock()
            os.utime(path, (now, now))

    def count(self, what: str, project: str) -> None:
        """Append one line to the `hits` or `misses` log (one small O_APPEND write: safe across processes)."""
        with contextlib.suppress(OSError):
            self._mkdirs(self.root)
            fd = os.open(self.root / what, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                os.write(fd, (project.replace("\n", " ") + "\n").encode())
            finally:
                os.close(fd)

    def counts(self, what: str, project: str | None = None) -> int:
        try:
            lines = (self.root / what).read_text(errors="replace").splitlines()
        except OSError:
            return 0
        return len(lines) if project is None else sum(1 for line in lines if line == project)

    # --- removing ------------------------------------------------------------------------------------------

    def remove(self, key: str) -> None:
        for path in (self.entry_path(key), self.entry_dir / f"{key}.used"):
            path.unlink(missing_ok=True)

    def lock(self) -> contextlib.AbstractContextManager[None]:
        from vgshell.statefile import locked

        return locked(self.root / "store", CacheError)

    def evict(self, max_bytes: int) -> int:
        """Remove least recently used entries until the store holds at most `max_bytes`; entries removed."""
        with self.lock():
            entries = sorted(self.entries(), key=lambda e: self.last_used(e.key))
            sizes = self._blob_sizes()
            total = self._total(entries, sizes)
            removed = 0
            while entries and total > max_bytes:
                self.remove(entries.pop(0).key)
                removed += 1
                total = self._total(entries, sizes)
            self._collect(entries, sizes)
        return removed

    def prune(self, keep: Callable[[Entry], bool]) -> int:
        """Remove every entry `keep` refuses, then unreferenced blobs; entries removed."""
        with self.lock():
            kept: list[Entry] = []
            removed = 0
            for entry in list(self.entries()):
                if keep(entry):
                    kept.append(entry)
                else:
                    self.remove(entry.key)
                    removed += 1
            self._collect(kept, self._blob_sizes())
        return removed

    def _blob_sizes(self) -> dict[str, tuple[int, float]]:
        sizes: dict[str, tuple[int, float]] = {}
        with contextlib.suppress(FileNotFoundError):
            for sub in os.scandir(self.blob_dir):
                if not sub.is_dir():
                    continue
                for f in os.scandir(sub.path):
                    with contextlib.suppress(FileNotFoundError):
                        st = f.stat()
                        sizes[f.name] = (st.st_size, st.st_mtime)
        return sizes

    @staticmethod
    def _total(entries: list[Entry], sizes: dict[str, tuple[int, float]]) -> int:
        named = set().union(*(e.blobs() for e in entries)) if entries else set()
        return sum(sizes[d][0] for d in named if d in sizes)

    def _collect(self, kept: list[Entry], sizes: dict[str, tuple[int, float]]) -> None:
        """Remove blobs no kept entry names (older than GRACE: a run may be about to name them) and stale temps."""
        named = set().union(*(e.blobs() for e in kept)) if kept else set()
        old = self.clock() - GRACE
        for digest, (_, mtime) in sizes.items():
            if digest not in named and mtime < old:
                self.blob_path(digest).unlink(missing_ok=True)
        for d in (self.blob_dir, self.entry_dir, *(p for p in self.blob_dir.glob("??") if p.is_dir())):
            with contextlib.suppress(FileNotFoundError):
                for f in os.scandir(d):
                    if f.name.startswith(".") and f.stat().st_mtime < old:
                        Path(f.path).unlink(missing_ok=True)

    def size(self, entry: Entry) -> int:
        total = 0
        for d in entry.blobs():
            with contextlib.suppress(OSError):
                total += self.blob_path(d).stat().st_size
        return total

    def clear_logs(self) -> None:
        for what in ("hits", "misses"):
            (self.root / what).unlink(missing_ok=True)

    def wipe(self) -> None:
        """Remove the whole store (`vg cache clear` without a filter)."""
        with self.lock():
            for d in (self.entry_dir, self.blob_dir):
                shutil.rmtree(d, ignore_errors=True)
            self.clear_logs()
