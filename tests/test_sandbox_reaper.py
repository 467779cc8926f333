"""Nothing left behind (SPEC §4): a sandbox ends with the `vg` that started it, SIGKILL included, and at
`sandbox.timeout` even when `vg` cannot act (frozen or killed).

The sandboxed command writes a heartbeat into the project; that it stops proves the command really died,
not only that the engine forgot a container. Leftovers are counted by this test's own session label.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from tests.test_sandbox import RUNTIMES, Sandbox
from vgshell.sandbox import reaper

CONTAINERS = [r for r in RUNTIMES if r != "bubblewrap"]
HEARTBEAT = "while :; do date +%s > beat; sleep 0.2; done"


def containers(runtime: str, session: str) -> list[str]:
    if runtime == "docker":
        from vgshell.sandbox import docker

        return docker.leftovers(f"{reaper.SESSION_LABEL}={session}")
    from vgshell.sandbox import podman

    return podman.leftovers(f"{reaper.SESSION_LABEL}={session}")


def bwraps(sb: Sandbox) -> list[str]:
    out = subprocess.run(["pgrep", "-a", "-f", "bwrap --die-with-parent"], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if str(sb.project) in line]


def left(runtime: str, sb: Sandbox, session: str) -> list[str]:
    return bwraps(sb) if runtime == "bubblewrap" else containers(runtime, session)


def start(sb: Sandbox, command: str, session: str) -> subprocess.Popen[str]:
    proc = sb.start(command, extra_env={"VG_SESSION": session}, stdin=subprocess.DEVNULL)
    beat = sb.project / "beat"
    deadline = time.monotonic() + 60
    while not beat.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the sandboxed command never started"
        time.sleep(0.05)
    return proc


def until_gone(runtime: str, sb: Sandbox, session: str, limit: float) -> float:
    """Seconds until nothing of the run is left; fails past `limit`."""
    began = time.monotonic()
    while left(runtime, sb, session):
        assert time.monotonic() - began < limit, f"still there after {limit}s: {left(runtime, sb, session)}"
        time.sleep(0.2)
    return time.monotonic() - began


def assert_no_heartbeat(sb: Sandbox) -> None:
    beat = sb.project / "beat"
    before = beat.read_text()
    time.sleep(1.5)
    assert beat.read_text() == before, "the sandboxed command still runs"


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_sigkill_of_vg_leaves_nothing_after_10s(runtime: str, tmp_path: Path) -> None:
    sb, session = Sandbox(tmp_path, runtime), f"vgtest-{uuid.uuid4().hex[:12]}"
    proc = start(sb, HEARTBEAT, session)  # sandbox.timeout is the default 300 s
    assert left(runtime, sb, session)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    until_gone(runtime, sb, session, 10)
    assert_no_heartbeat(sb)
    if runtime == "bubblewrap":  # the killed vg's cgroup (empty now) goes with the next run
        sb.run("true")
        assert not list(Path("/sys/fs/cgroup").glob(f"*/vgshell-{proc.pid}-*"))


@pytest.mark.parametrize("runtime", CONTAINERS)
@pytest.mark.parametrize("vg", ["killed", "frozen"])
def test_the_timeout_holds_without_vg(runtime: str, vg: str, tmp_path: Path) -> None:
    """Frozen (SIGSTOP), vg holds the lifeline open and its own timer cannot fire: the container's deadline
    ends it. Killed, the lifeline ends it at once."""
    sb, session = Sandbox(tmp_path, runtime), f"vgtest-{uuid.uuid4().hex[:12]}"
    sb.config("sandbox:\n  timeout: 5\n")
    proc = start(sb, HEARTBEAT, session)
    started = time.monotonic()
    proc.send_signal(signal.SIGKILL if vg == "killed" else signal.SIGSTOP)
    try:
        until_gone(runtime, sb, session, 10 - (time.monotonic() - started))
        assert_no_heartbeat(sb)
    finally:
        proc.kill()
        proc.communicate()


@pytest.mark.parametrize("runtime", CONTAINERS)
def test_a_live_vg_still_reports_the_timeout_first(runtime: str, tmp_path: Path) -> None:
    """The container's own deadline waits a grace period, so a live vg's message and 124 come first."""
    sb = Sandbox(tmp_path, runtime)
    sb.config("sandbox:\n  timeout: 2\n")
    r = sb.run("sleep 30")
    assert r.returncode == 124 and "timed out after 2s" in r.stderr


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


@pytest.mark.parametrize("value, gone", [
    (reaper.parent_id(os.getpid()), False),  # alive
    (reaper.parent_id(os.getpid()).rsplit(":", 1)[0] + ":1", True),  # this pid, but started at another time
    (None, True),  # a process that has exited
    ("another-boot:" + reaper.parent_id(os.getpid()).split(":", 1)[1], False),  # cannot tell: kept
    ("garbage", False),
    ("", False),  # no label (an older vg): kept
], ids=["alive", "pid-reused", "exited", "another-boot", "garbage", "no-label"])
def test_parent_gone_only_when_sure(value: str | None, gone: bool) -> None:
    if value is None:
        value = reaper.parent_id(os.getpid()).rsplit(":", 2)[0] + f":{dead_pid()}:123"
    assert reaper.parent_gone(value) is gone


@pytest.mark.parametrize("runtime", CONTAINERS)
def test_sweep_removes_what_a_dead_vg_left_and_nothing_else(runtime: str) -> None:
    """A container created but never started (vg killed in between): no watchdog runs in it."""
    session = f"vgtest-{uuid.uuid4().hex[:12]}"
    dead = reaper.parent_id(os.getpid()).rsplit(":", 2)[0] + f":{dead_pid()}:123"
    parents = {"orphan": dead, "alive": reaper.parent_id(os.getpid()),
               "elsewhere": "another-boot:" + reaper.parent_id(os.getpid()).split(":", 1)[1]}
    ids = {}
    for name, parent in parents.items():
        labels = {reaper.LABEL: "1", reaper.PARENT_LABEL: parent, reaper.SESSION_LABEL: session}
        ids[name] = create(runtime, labels)
    try:
        if runtime == "docker":
            from vgshell.sandbox import docker

            removed = reaper.sweep_docker(docker.client().api)
        else:
            removed = reaper.sweep_podman("podman")
        remaining = containers(runtime, session)
        assert any(r.startswith(ids["orphan"][:12]) or ids["orphan"].startswith(r) for r in removed)
        assert not any(ids["orphan"].startswith(r) or r.startswith(ids["orphan"][:12]) for r in remaining)
        assert len(remaining) == 2
    finally:
        for cid in containers(runtime, session):
            subprocess.run([runtime, "rm", "-f", cid], capture_output=True)


def create(runtime: str, labels: dict[str, str]) -> str:
    args = [runtime, "create"]
    for key, value in labels.items():
        args += ["--label", f"{key}={value}"]
    out = subprocess.run([*args, "vgshell-test/busybox:latest", "true"], capture_output=True, text=True, check=True)
    return out.stdout.strip().splitlines()[-1]


def test_lifelines_of_dead_vgs_are_swept(tmp_path: Path) -> None:
    dead = dead_pid()
    stale = [tmp_path / f"vgshell-life-{dead}-123-abc", tmp_path / f"vgshell-life-{dead}-123-abc.empty"]
    mine = tmp_path / f"vgshell-life-{os.getpid()}-{reaper.parent_id(os.getpid()).rsplit(':', 1)[1]}-abc"
    other = tmp_path / "vgshell-egress-x"
    os.mkfifo(stale[0])
    for d in (stale[1], mine, other):
        d.mkdir()
    reaper.sweep_files(str(tmp_path))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([mine.name, other.name])


@pytest.mark.parametrize("runtime", CONTAINERS)
def test_a_run_leaves_no_lifeline(runtime: str, tmp_path: Path) -> None:
    sb = Sandbox(tmp_path, runtime)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    r = sb.run("echo ran; ls -A /etc/ssl/private | wc -l", extra_env={"TMPDIR": str(tmp)}, cwd=Path("/etc"))
    assert r.stdout.split() == ["ran", "0"], r.stderr  # a directory masked (podman: the empty directory)
    assert list(tmp.iterdir()) == []
