"""Run a sandbox with the project behind an overlay, and read back what it wrote.

Per runtime (docs/sandbox.md, "The project behind an overlay"):

- bubblewrap: `unshare --user --map-root-user --mount` mounts the kernel overlay (with `userxattr`) over the
  project's own path in a private mount namespace — or fuse-overlayfs where the kernel refuses (before
  5.11) — then runs bwrap there; bwrap binds the project as usual and so binds the overlay. Works
  unprivileged; nothing is mounted on the host.
- docker: the engine binds host paths, so vg mounts the kernel overlay on the host (as root) at
  `<change>/merged`, binds that at the project's path and unmounts it after the run. A mount left by a vg
  that was killed is unmounted by the next capture.
- podman: its own overlay volume, `-v PROJECT:PROJECT:O,upperdir=…,workdir=…` (podman ≥ 4.0).

A run whose overlay cannot be made is not run (never a direct write instead): `SandboxError`.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from vgshell.changes import store
from vgshell.changes.changeset import ChangeSet, ChangeSetError, read_upper
from vgshell.sandbox.docker import SandboxError
from vgshell.sandbox.spec import Overlay, SandboxSpec, behind_overlay

MOUNTED = "mounted"  # made in the change's directory once the overlay is in place (bubblewrap)


@dataclass(frozen=True)
class Capture:
    """One captured run: its id and directory in the change store, the upper directory, the project it
    overlaid, what it changed there (read right after the run) and the command's exit status."""

    id: str
    directory: Path
    upper: Path
    project: Path
    changes: ChangeSet
    status: int
    entry: store.Entry


def run(runtime: str, spec: SandboxSpec, state_dir: Path, runner: Callable[[SandboxSpec], int]) -> Capture:
    """Run `spec` through `runner` with `spec.project` behind a fresh overlay; the entry is left `pending`
    (or removed, and the error raised, when the overlay could not be made)."""
    if spec.project is None:
        raise SandboxError("nothing in the project is writable in this sandbox, so there is nothing to capture")
    sweep(state_dir)
    entry = store.create(state_dir, spec.command, spec.workdir, spec.project, runtime)
    try:
        prepared, cleanup = prepare(runtime, replace(spec, mounts=behind_overlay(spec.mounts, spec.project)), entry)
        try:
            status = runner(prepared)
        finally:
            cleanup()
        layout = _layout(runtime, entry)
    except BaseException:
        store.remove(entry)
        raise
    try:
        changes = read_upper(entry.upper, Path(spec.project), dot_wh=layout == "fuse")
    except ChangeSetError as e:  # the run happened: keep what it wrote for a look, never apply half of it
        store.update(entry, status="unreadable", exit_status=status)
        raise ChangeSetError(f"{e}; nothing was applied, the writes are kept in {entry.upper} "
                             f"(vg changes discard {entry.id})") from None
    store.save_changes(entry, changes)
    remove_work(entry.work)
    entry = store.update(entry, status="pending", exit_status=status, layout=layout)
    return Capture(entry.id, entry.directory, entry.upper, Path(spec.project), changes, status, entry)


def _layout(runtime: str, entry: store.Entry) -> str:
    """Which overlay wrote the upper directory: bubblewrap's namespace says so in the mark; none there means
    the overlay was never mounted, and the command never ran."""
    if runtime != "bubblewrap":
        return "kernel"
    try:
        return (entry.directory / MOUNTED).read_text().strip() or "kernel"
    except OSError:
        raise SandboxError("could not put the project behind an overlay here (see the message above); the "
                           "command was not run") from None


def prepare(runtime: str, spec: SandboxSpec, entry: store.Entry) -> tuple[SandboxSpec, Callable[[], None]]:
    """The spec with its overlay, and what undoes the preparation after the run."""
    assert spec.project is not None
    overlay = Overlay(spec.project, str(entry.upper), str(entry.work))
    if runtime != "docker":
        return replace(spec, overlay=overlay), lambda: None
    merged = entry.directory / "merged"
    mount_on_host(spec.project, entry.upper, entry.work, merged)
    return replace(spec, overlay=replace(overlay, merged=str(merged))), lambda: unmount(merged)


def mount_options(lower: str, upper: str, work: str, userxattr: bool) -> str:
    """overlayfs mount options; a path's `,` `:` and `\\` escaped. No redirect_dir, index or metacopy: the
    upper directory must say everything by itself (changeset.read_upper)."""
    def esc(p: str) -> str:
        return p.replace("\\", "\\\\").replace(",", "\\,").replace(":", "\\:")

    opts = f"lowerdir={esc(lower)},upperdir={esc(upper)},workdir={esc(work)}"
    return opts + (",userxattr" if userxattr else ",redirect_dir=off,index=off,metacopy=off")


def fuse_options(lower: str, upper: str, work: str) -> str | None:
    """fuse-overlayfs's options; None for paths it cannot be given (it splits on `,` and `:`)."""
    if any(c in p for p in (lower, upper, work) for c in ",:\\"):
        return None
    return f"lowerdir={lower},upperdir={upper},workdir={work}"


def mount_on_host(lower: str, upper: Path, work: Path, merged: Path) -> None:
    """The kernel overlay in the host's mount namespace, for an engine to bind (docker). mount(2) itself:
    a `mount` process would cost a few milliseconds of every reviewed run."""
    if os.geteuid() != 0:
        raise SandboxError("sandbox.project_writes review/discard with docker needs vg to run as root here (the "
                           "engine binds only host mounts); use bubblewrap or podman, or project_writes: direct. "
                           "The command was not run")
    merged.mkdir(exist_ok=True)
    opts = mount_options(lower, str(upper), str(work), userxattr=False)
    if _libc().mount(b"overlay", os.fsencode(merged), b"overlay", 0, opts.encode()) != 0:
        import ctypes

        raise SandboxError(f"could not put the project behind an overlay ({os.strerror(ctypes.get_errno())}); "
                           f"the command was not run")


MNT_DETACH = 2


def unmount(merged: Path) -> None:
    """Unmount; still busy (an engine releasing it) → detach now, the kernel finishes later."""
    libc = _libc()
    if libc.umount2(os.fsencode(merged), 0) != 0:
        libc.umount2(os.fsencode(merged), MNT_DETACH)
    with contextlib.suppress(OSError):
        merged.rmdir()


def _libc() -> Any:
    import ctypes

    return ctypes.CDLL(None, use_errno=True)


def remove_work(work: Path) -> None:
    """The overlay's work directory once unmounted: `work/work` (mode 0, empty) and itself."""
    try:
        for d in (work / "work", work / "index", work):
            with contextlib.suppress(FileNotFoundError):
                d.rmdir()
    except OSError:
        store.remove_tree(work)


def sweep(state_dir: Path) -> None:
    """Host mounts under the change store whose vg is gone (killed before it could unmount): unmount them.
    Their entries stay, marked `running`, for `vg changes discard`."""
    base = str(store.root(state_dir)) + "/"
    try:
        with open("/proc/self/mountinfo", encoding="utf-8") as f:
            points = [line.split()[4] for line in f if base in line]
    except OSError:
        return
    for point in points:
        directory = Path(point).parent
        with contextlib.suppress(Exception):
            pid = store.load(directory).meta.pid
            if pid and _alive(pid):
                continue
        unmount(Path(point))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
