"""The analysis's read-only view of the file system (an edge: the pure core is handed one).

Two things need it: the scripts a line runs (`bash FILE`, `source FILE`, `./FILE`, a Makefile's recipes),
read whole up to 256 KiB, and program names written as globs (`/???/r?`), expanded as bash would. Both are
bounded: a read stops at the size limit, a glob at a budget of directory entries looked at.
"""

from __future__ import annotations

import os
import re
import stat
from fnmatch import fnmatchcase

from vgshell.unwrap.model import SYSTEM_BIN, FileText

MAX_SCRIPT_BYTES = 256 * 1024
MAX_GLOB_ENTRIES = 4096  # directory entries looked at for one pattern
MAX_GLOB_MATCHES = 32
_GLOB = re.compile(r"[*?\[]")
MAX_IDENTIFIED_BYTES = 8 * 1024 * 1024
# programs a renamed copy is compared with (only those of the same size are read): what deletes, overwrites,
# changes permissions or runs code
IDENTIFIED = ("rm", "dd", "shred", "truncate", "mv", "cp", "chmod", "chown", "find", "mkfs", "wipefs",
              "bash", "dash", "sh", "zsh", "python3", "perl", "curl", "wget", "nc", "busybox")


def _same_bytes(a: str, b: str) -> bool:
    try:
        with open(a, "rb") as fa, open(b, "rb") as fb:
            return fa.read(MAX_IDENTIFIED_BYTES) == fb.read(MAX_IDENTIFIED_BYTES)
    except OSError:
        return False


class HostFiles:
    """Files read from this machine, as the user running `vg` sees them."""

    def read(self, path: str) -> FileText:
        # opened without blocking and checked after opening: a FIFO or device swapped in for the file
        # between a check and the open can neither hang the analysis nor feed it endless input
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
        except FileNotFoundError:
            return FileText(None, missing=True)
        except IsADirectoryError:
            return FileText(None, missing=True)
        except OSError as e:
            return FileText(None, f"cannot be read ({e.strerror or e})")
        try:
            info = os.fstat(fd)
            if stat.S_ISDIR(info.st_mode):
                return FileText(None, missing=True)  # bash refuses to run a directory
            if not stat.S_ISREG(info.st_mode):  # a pipe or device: what comes out is known only then
                return FileText("") if os.path.realpath(path) == "/dev/null" else \
                    FileText(None, "is a pipe or device: what it holds is known only when it runs")
            if info.st_size > MAX_SCRIPT_BYTES:
                return FileText(None, f"over {MAX_SCRIPT_BYTES // 1024} KiB, too large to analyse")
            data = os.read(fd, MAX_SCRIPT_BYTES + 1)
        except OSError as e:
            return FileText(None, f"cannot be read ({e.strerror or e})")
        finally:
            os.close(fd)
        if len(data) > MAX_SCRIPT_BYTES:
            return FileText(None, f"over {MAX_SCRIPT_BYTES // 1024} KiB, too large to analyse")
        if b"\x00" in data[:4096]:
            return FileText(None, missing=True)  # a compiled program, not a script
        return FileText(data.decode("utf-8", "surrogateescape"))

    def identity(self, path: str) -> str | None:
        """The system program `path` really is, when its name hides it: a symlink to one (`./ls` → /bin/rm),
        or a byte-identical copy of one of the programs that delete, overwrite or run code. None otherwise."""
        try:
            real = os.path.realpath(path)
            info = os.stat(real)
        except (OSError, ValueError):
            return None
        if os.path.basename(real) != os.path.basename(path):
            return real if os.path.dirname(real) in SYSTEM_BIN else None
        if not stat.S_ISREG(info.st_mode) or not info.st_size or info.st_size > MAX_IDENTIFIED_BYTES:
            return None
        for name in IDENTIFIED:
            candidate = os.path.join("/usr/bin", name)
            try:
                known = os.stat(candidate)
            except OSError:
                continue
            if known.st_size != info.st_size or candidate == real:
                continue
            if (known.st_dev, known.st_ino) == (info.st_dev, info.st_ino) or _same_bytes(candidate, real):
                return candidate
        return None

    def glob(self, pattern: str) -> tuple[str, ...]:
        """Pathname expansion of an absolute `pattern` as bash does it (sorted; `*` skips dot files)."""
        if not pattern.startswith("/"):
            return ()
        found = ["/"]
        budget = MAX_GLOB_ENTRIES
        for part in pattern.strip("/").split("/"):
            if not part:
                continue
            nxt: list[str] = []
            for base in found:
                if not _GLOB.search(part):
                    candidate = os.path.join(base, part)
                    if os.path.lexists(candidate):
                        nxt.append(candidate)
                    continue
                try:
                    names = os.listdir(base)
                except OSError:
                    continue
                budget -= len(names)
                if budget < 0:
                    return ()
                nxt.extend(os.path.join(base, n) for n in sorted(names)
                           if fnmatchcase(n, part) and (part.startswith(".") or not n.startswith(".")))
            found = nxt[:MAX_GLOB_MATCHES]
            if not found:
                return ()
        return tuple(found)
