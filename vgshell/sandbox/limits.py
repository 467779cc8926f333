"""Memory, CPU and process limits for sandboxes that have no engine to enforce them (bubblewrap).

As root with a writable cgroup hierarchy (v1 or v2) each sandbox gets its own cgroup: limits are real
and every process in it is killed at the end. Otherwise (an unprivileged user without delegation) the
limits fall back to rlimits — address space for memory, RLIMIT_NPROC for processes — and say so.
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
PERIOD_US = 100_000


@dataclass
class Limits:
    memory: int
    cpus: float
    pids: int | None
    dirs: list[Path] = field(default_factory=list)
    note: str | None = None

    def __enter__(self) -> Limits:
        try:
            self.dirs = _create(self.memory, self.cpus, self.pids)
        except OSError:
            self.dirs = []
            self.note = "cgroups unavailable: memory and process limits are rlimits, CPU is not limited"
        return self

    def in_child(self) -> None:
        """Runs in the forked child before exec: join the cgroups, or set rlimits."""
        if self.dirs:
            for d in self.dirs:
                (d / "cgroup.procs").write_text(str(os.getpid()))
            return
        resource.setrlimit(resource.RLIMIT_AS, (self.memory, self.memory))
        if self.pids is not None and os.getuid() != 0:
            resource.setrlimit(resource.RLIMIT_NPROC, (self.pids, self.pids))

    def kill_all(self) -> None:
        _kill(self.dirs)

    def __exit__(self, *exc: object) -> None:
        _kill(self.dirs)
        left = _remove(self.dirs, time.monotonic() + 1.0)
        if left:  # a task the kernel has not reaped yet: finish in the background rather than leave it
            _remove_later(left)
        if self.dirs:
            sweep_stale()


def _kill(dirs: list[Path]) -> None:
    for d in dirs:
        for pid in _pids(d):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _remove(dirs: list[Path], deadline: float) -> list[Path]:
    """rmdir each cgroup, retrying while it is busy (until the kernel has reaped its last task)."""
    left = list(dirs)
    pause = 0.0005
    while left:
        for d in list(left):
            try:
                d.rmdir()
                left.remove(d)
            except FileNotFoundError:
                left.remove(d)
            except OSError:
                pass
        if not left or time.monotonic() > deadline:
            break
        _kill(left)
        time.sleep(pause)
        pause = min(pause * 2, 0.02)
    return left


def _remove_later(dirs: list[Path]) -> None:
    """A detached grandchild keeps trying for a minute, so vg returns at once and nothing is left."""
    pid = os.fork()
    if pid:
        os.waitpid(pid, 0)
        return
    try:
        os.setsid()
        if os.fork() == 0:
            _remove(dirs, time.monotonic() + 60)
    finally:
        os._exit(0)


def sweep_stale(max_age: float = 300.0) -> None:
    """Remove empty vgshell cgroups that an earlier, killed vg could not (a busy one refuses rmdir): at once
    when the vg named in it is gone, else after `max_age` (a name without a pid, or a reused pid)."""
    now = time.time()
    for d in (*ROOT.glob("vgshell-*"), *ROOT.glob("*/vgshell-*")):
        pid = d.name.split("-")[1]
        with contextlib.suppress(OSError):
            if (pid.isdigit() and not os.path.exists(f"/proc/{pid}")) or now - d.stat().st_mtime > max_age:
                d.rmdir()


def _pids(d: Path) -> list[int]:
    try:
        return [int(p) for p in (d / "cgroup.procs").read_text().split()]
    except OSError:
        return []


def _create(memory: int, cpus: float, pids: int | None) -> list[Path]:
    if os.geteuid() != 0:
        raise PermissionError("cgroups need root or delegation")
    name = f"vgshell-{os.getpid()}-{uuid.uuid4().hex[:8]}"  # whose it was, for `ps`-like reading and tests
    if (ROOT / "cgroup.controllers").exists():
        return [_v2(ROOT / name, memory, cpus, pids)]
    made: list[Path] = []
    try:
        made.append(_v1("memory", name, {"memory.limit_in_bytes": memory, "memory.memsw.limit_in_bytes": memory}))
        quota = int(cpus * PERIOD_US)
        made.append(_v1("cpu", name, {"cpu.cfs_period_us": PERIOD_US, "cpu.cfs_quota_us": quota}))
        if pids is not None:
            made.append(_v1("pids", name, {"pids.max": pids}))
    except OSError:
        for d in made:
            with contextlib.suppress(OSError):
                d.rmdir()
        raise
    return made


def _v1(controller: str, name: str, values: dict[str, int]) -> Path:
    d = ROOT / controller / name
    d.mkdir()
    for key, value in values.items():
        path = d / key
        if path.exists():
            path.write_text(str(value))
    return d


def _v2(d: Path, memory: int, cpus: float, pids: int | None) -> Path:
    d.mkdir()
    (d / "memory.max").write_text(str(memory))
    with contextlib.suppress(OSError):
        (d / "memory.swap.max").write_text("0")
    (d / "cpu.max").write_text(f"{int(cpus * PERIOD_US)} {PERIOD_US}")
    if pids is not None:
        (d / "pids.max").write_text(str(pids))
    return d
