"""Containers die with the `vg` that started them, and at `sandbox.timeout` whatever became of `vg` (SPEC §4).

Nothing here depends on `vg` living to clean up, so SIGKILL leaves nothing behind:
- a lifeline: `vg` makes a FIFO, holds it open for writing and binds it into the container, whose launch
  script reads it in the background. The kernel closes vg's end when vg exits, however it exits; the read
  then ends and the watchdog kills every process in the container;
- a deadline: the launch script also kills everything at the timeout (plus a grace period, so that a live
  vg's own timeout, with its message and exit 124, comes first); podman's conmon enforces it as well;
- the engine removes an exited container by itself (docker AutoRemove, podman --rm);
- every container is labelled with its parent (boot id, pid namespace, pid and start time) and, when set,
  its VG_SESSION, so `sweep` can remove what a dead vg left in a state none of the above reaches (created,
  never started) and tests can count only what their own runs made.
"""

from __future__ import annotations

import contextlib
import glob
import os
import secrets
import subprocess
import tempfile
from collections.abc import Mapping
from typing import Any

LABEL = "vgshell"
PARENT_LABEL = "vgshell.parent"
SESSION_LABEL = "vgshell.session"
ALIVE = "/.vgshell-alive"  # the lifeline FIFO inside the container: in the image's root, never in a bind
GRACE = 1  # seconds the container's own deadline waits after vg's
_PREFIX = "vgshell-life-"


def watchdog(timeout: int) -> str:
    """The launch script's first lines: kill everything when vg's lifeline closes, and at the deadline.

    `kill -9 -1` reaches every process of the container but its init (docker-init, catatonit), which then
    exits with its child. A lifeline that cannot be opened leaves the deadline alone in charge.
    """
    script = f"(exec 3<{ALIVE} || exit 0; read _ <&3; kill -9 -1) >/dev/null 2>&1 & "
    if timeout:
        script += f"(sleep {timeout + GRACE}; kill -9 -1) >/dev/null 2>&1 & "
    return script


class Lifeline:
    """The FIFO (held open for writing until exit) and, when podman needs one, an empty directory.

    Plain names in the temp directory rather than a private directory: removing a directory costs
    milliseconds on some file systems, unlinking a FIFO microseconds. mkfifo refuses an existing name.
    """

    def __init__(self) -> None:
        self.fifo = ""
        self._fd = -1
        self._empty = ""

    @property
    def empty(self) -> str:
        """An empty, read-only directory: what podman binds over a secret directory (its tmpfs mounts are
        made before the binds, so a tmpfs cannot cover what a bind shows)."""
        if not self._empty:
            os.mkdir(self.fifo + ".empty", 0o500)
            self._empty = self.fifo + ".empty"
        return self._empty

    def __enter__(self) -> Lifeline:
        base = os.path.join(tempfile.gettempdir(), f"{_PREFIX}{os.getpid()}-{_start_time(os.getpid())}-")
        while True:
            self.fifo = base + secrets.token_hex(6)
            try:
                os.mkfifo(self.fifo, 0o600)
                break
            except FileExistsError:
                continue
        # Read-write: opening does not wait for a reader, and vg's end never reads EOF itself.
        self._fd = os.open(self.fifo, os.O_RDWR | os.O_CLOEXEC)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd >= 0:
            os.close(self._fd)
        with contextlib.suppress(OSError):
            os.unlink(self.fifo)
        if self._empty:
            with contextlib.suppress(OSError):
                os.rmdir(self._empty)
        sweep_files(os.path.dirname(self.fifo))


def labels(env: Mapping[str, str]) -> dict[str, str]:
    out = {LABEL: "1", PARENT_LABEL: parent_id(os.getpid())}
    session = env.get("VG_SESSION", "").strip()
    if session:
        out[SESSION_LABEL] = session
    return out


def parent_id(pid: int) -> str:
    """boot id:pid namespace:pid:start time — a pid alone may be reused, or belong to another machine."""
    return f"{_boot_id()}:{_pid_ns()}:{pid}:{_start_time(pid)}"


def parent_gone(value: str) -> bool:
    """True only when the parent is surely dead: same boot and pid namespace, and no such process now."""
    parts = value.split(":")
    if len(parts) != 4 or parts[0] != _boot_id() or parts[1] != _pid_ns() or not parts[2].isdigit():
        return False
    return _start_time(int(parts[2])) != parts[3]


def sweep_files(tmp: str | None = None) -> None:
    """Remove the lifelines (and empty directories) that a killed vg could not."""
    for path in glob.glob(os.path.join(tmp or tempfile.gettempdir(), _PREFIX + "*")):
        pid, _, rest = os.path.basename(path)[len(_PREFIX):].partition("-")
        start = rest.rsplit("-", 1)[0]
        if pid.isdigit() and _start_time(int(pid)) != start:
            with contextlib.suppress(OSError):
                os.rmdir(path) if os.path.isdir(path) else os.unlink(path)


def sweep_docker(api: Any) -> list[str]:
    """Remove containers whose vg is gone; returns their ids."""
    gone = [c["Id"] for c in api.containers(all=True, filters={"label": LABEL})
            if parent_gone((c.get("Labels") or {}).get(PARENT_LABEL, ""))]
    for cid in gone:
        with contextlib.suppress(Exception):
            api.remove_container(cid, force=True, v=True)
    return gone


def sweep_podman(podman: str) -> list[str]:
    listed = subprocess.run([podman, "ps", "-a", "--filter", f"label={LABEL}", "--format",
                             f'{{{{.ID}}}} {{{{index .Labels "{PARENT_LABEL}"}}}}'],
                            capture_output=True, text=True, timeout=60)
    gone = [cid for cid, _, parent in (line.partition(" ") for line in listed.stdout.splitlines())
            if parent_gone(parent.strip())]
    if gone:
        subprocess.run([podman, "rm", "-f", "-t", "0", *gone], capture_output=True, timeout=60)
    return gone


def _boot_id() -> str:
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            return f.read().strip()
    except OSError:
        return "-"


def _pid_ns() -> str:
    try:
        return os.readlink("/proc/self/ns/pid").partition("[")[2].rstrip("]")
    except OSError:
        return "-"


def _start_time(pid: int) -> str:
    """The process's start time in clock ticks since boot (field 22 of /proc/PID/stat), "" when gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return ""
    fields = stat[stat.rfind(b")") + 2:].split()
    return fields[19].decode() if len(fields) > 19 else ""
