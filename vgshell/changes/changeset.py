"""What a command wrote behind the overlay: read an upper directory against the real tree, apply it, show it.

The stable interface (the review of `sandbox.project_writes: review` and the result cache both build on it):

    read_upper(upper, lower, dot_wh=False) -> ChangeSet     # what the upper directory changes in `lower`
    apply(changes, upper, project, only=None) -> ApplyResult  # write them into the real tree, file by file
    summary(changes) -> str                                   # one line per change, counts first
    diff(change, upper, project) -> str                       # unified diff (text) or sizes (binary)
    Change, ChangeSet (a tuple of Change), BaseState, ApplyResult, Refusal, ChangeSetError

An upper directory follows overlayfs's conventions, which fuse-overlayfs shares: a character device 0/0 is a
whiteout (the path is deleted); a directory whose `trusted.overlay.opaque`, `user.overlay.opaque` (kernel
overlay mounted with `userxattr`, as in a user namespace) or `user.fuseoverlayfs.opaque` xattr is "y"
replaces the real directory whole. fuse-overlayfs also leaves `.wh..wh..opq` (and a `.wh..opq`
whiteout) in an opaque directory: those two names are never changes. Without the right to make device nodes
it writes `.wh.NAME` files as whiteouts: read those only with `dot_wh=True` (the kernel overlay treats such
names as ordinary files). Upper directories written with `redirect_dir` or `metacopy` (renamed directories,
metadata-only copies) are refused: vgshell mounts its overlays without them.

Only what differs is a change: a file copied up but left as it was (opened for writing, touched) is not one.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from vgshell.changes.applying import apply
from vgshell.changes.display import diff, render, summary
from vgshell.changes.model import (
    ApplyResult,
    BaseState,
    Change,
    ChangeSet,
    ChangeSetError,
    Refusal,
    file_digest,
    link_digest,
    open_nofollow,
    state_at,
)

OPAQUE_XATTRS = ("trusted.overlay.opaque", "user.overlay.opaque", "user.fuseoverlayfs.opaque")
# Written by overlayfs features whose upper directories need the lower layers to be read: not supported.
UNSUPPORTED_XATTRS = ("trusted.overlay.redirect", "user.overlay.redirect", "trusted.overlay.metacopy",
                      "user.overlay.metacopy")
WH_PREFIX = ".wh."
# fuse-overlayfs marks an opaque directory with these besides the xattr (no project names its files so)
WH_MARKERS = (".wh..wh..opq", ".wh..opq")

__all__ = ["ApplyResult", "BaseState", "Change", "ChangeSet", "ChangeSetError", "Refusal", "apply", "diff",
           "read_upper", "render", "summary"]


def read_upper(upper: Path, lower: Path, dot_wh: bool = False) -> ChangeSet:
    """The changes the upper directory makes to `lower` (the real project tree), parents before children.

    Each change carries the real tree's state at that path now (`base`): read it right after the command
    ends, so it is the state the command saw.
    """
    out: list[Change] = []
    try:
        _walk(str(upper), str(lower), "", out, dot_wh)
    except OSError as e:  # a directory the command made unreadable, a file gone: never half a change set
        where = f" ({e.filename})" if e.filename else ""
        raise ChangeSetError(f"could not read what the command wrote{where}: {e.strerror or e}") from None
    return tuple(sorted(out, key=lambda c: c.path.split("/")))


def _walk(udir: str, ldir: str | None, rel: str, out: list[Change], dot_wh: bool) -> None:
    with os.scandir(udir) as it:
        entries = sorted(it, key=lambda e: e.name)
    for e in entries:
        path = f"{rel}{e.name}"
        if e.name in WH_MARKERS:
            continue
        if dot_wh and e.name.startswith(WH_PREFIX):
            _whiteout(f"{rel}{e.name[len(WH_PREFIX):]}", ldir, e.name[len(WH_PREFIX):], out)
            continue
        st = e.stat(follow_symlinks=False)
        lower = None if ldir is None else os.path.join(ldir, e.name)
        if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
            _whiteout(path, ldir, e.name, out)
        elif stat.S_ISDIR(st.st_mode):
            _directory(e.path, lower, path, stat.S_IMODE(st.st_mode), out, dot_wh)
        elif stat.S_ISREG(st.st_mode):
            _file(e.path, lower, path, stat.S_IMODE(st.st_mode), out)
        elif stat.S_ISLNK(st.st_mode):
            _symlink(e.path, lower, path, out)
        # fifos and sockets a command left behind carry no content to apply: not changes


def _whiteout(path: str, ldir: str | None, name: str, out: list[Change]) -> None:
    base = None if ldir is None else state_at(os.path.join(ldir, name), deep=True)
    if base is not None:  # a whiteout over nothing hides nothing
        out.append(Change(path, "deleted", None, None, None, base))


def _directory(upath: str, lower: str | None, path: str, mode: int, out: list[Change], dot_wh: bool) -> None:
    _check_xattrs(upath, path)
    base = None if lower is None else state_at(lower)
    if base is None or base.type != "dir":  # new, or where the real tree has a file (already fingerprinted)
        out.append(Change(path, "added", mode, None, None, base))
        _walk(upath, None, path + "/", out, dot_wh)
    elif _is_opaque(upath, dot_wh):  # what the real directory held is gone: fingerprint it whole
        out.append(Change(path, "opaque", mode, None, None, state_at(lower, deep=True) if lower else base))
        _walk(upath, None, path + "/", out, dot_wh)
    else:
        if mode != base.mode:
            out.append(Change(path, "mode", mode, None, None, base))
        _walk(upath, lower, path + "/", out, dot_wh)


def _file(upath: str, lower: str | None, path: str, mode: int, out: list[Change]) -> None:
    _check_xattrs(upath, path)
    fd = open_nofollow(upath)
    try:
        digest, size = file_digest(fd)
    finally:
        os.close(fd)
    base = None if lower is None else state_at(lower, deep=True)
    if base is not None and base.type == "file" and base.sha256 == digest:
        if base.mode != mode:
            out.append(Change(path, "mode", mode, size, digest, base))
        return  # copied up, left as it was
    out.append(Change(path, "added" if base is None else "changed", mode, size, digest, base))


def _symlink(upath: str, lower: str | None, path: str, out: list[Change]) -> None:
    target = os.readlink(upath)
    base = None if lower is None else state_at(lower, deep=True)
    if base is not None and base.type == "symlink" and base.sha256 == link_digest(target):
        return
    out.append(Change(path, "symlink", None, len(target), link_digest(target), base, target))


def _is_opaque(upath: str, dot_wh: bool) -> bool:
    for name in OPAQUE_XATTRS:
        try:
            if os.getxattr(upath, name, follow_symlinks=False) == b"y":
                return True
        except OSError:  # absent, or a trusted.* xattr this process may not read
            continue
    return dot_wh and os.path.lexists(os.path.join(upath, WH_MARKERS[0]))


def _check_xattrs(upath: str, path: str) -> None:
    try:
        names = os.listxattr(upath, follow_symlinks=False)
    except OSError:
        return
    found = [n for n in names if n in UNSUPPORTED_XATTRS]
    if found:
        raise ChangeSetError(f"{path or '.'}: the upper directory carries {found[0]} (an overlay mounted with "
                             f"redirect_dir or metacopy), which vgshell cannot read safely")
