"""The result cache in real sandboxes (SPEC §8): real `npm install` and `pip install` from the registries,
miss then hit, on every runtime.

A replay is proven by the project, not by the notice: each line appends to `runs.log` when it really runs,
so a replay leaves the log as the recorded run left it, and the tree after a replay is compared with the
tree the recorded run left (every entry's type, mode and content).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.test_changes import snapshot
from tests.test_sandbox import RUNTIMES, Sandbox
from vgshell.resultcache.store import Store

REPLAYED = "♻ Replayed from result cache (recorded"
NPM = "npm install --no-audit --no-fund"
PYTHON = os.path.realpath(sys.executable)  # the real interpreter: pyenv's shim would rehash on a read-only root
PIP = f"{PYTHON} -m pip install --disable-pip-version-check --no-cache-dir -r requirements.txt --target site"
SMALL = "mkdir -p out/d && echo hello > out/d/a.txt && rm -f gone.txt && echo x >>runs.log && echo done"


def vg_exec(box: Sandbox, line: str, *flags: str, network: str = "none",
            extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`vg exec` as a user runs it with nothing piped in (stdin /dev/null)."""
    env = {**box.env(network=network, extra_env=extra_env), "NO_COLOR": "1"}
    return subprocess.run([sys.executable, "-m", "vgshell.cli", "exec", *flags, line], cwd=box.project, env=env,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=600)


def runs(box: Sandbox) -> int:
    log = box.project / "runs.log"
    return len(log.read_text().splitlines()) if log.exists() else 0


def entries(box: Sandbox) -> list[object]:
    return list(Store.at(box.state, io.StringIO()).entries())


@pytest.fixture
def npm_box(tmp_path: Path) -> Sandbox:
    box = Sandbox(tmp_path, "bubblewrap")
    (box.project / ".git").mkdir()
    package = {"name": "rc", "version": "1.0.0", "dependencies": {"left-pad": "1.3.0", "is-number": "7.0.0"},
               "scripts": {"postinstall": "node -e \"require('fs').appendFileSync('runs.log', 'ran\\n')\""}}
    (box.project / "package.json").write_text(json.dumps(package, indent=2) + "\n")
    (box.project / "README.md").write_text("readme\n")
    r = vg_exec(box, NPM, "--no-cache", network="full")  # the lock file, as a project has one
    assert r.returncode == 0, r.stderr
    assert (box.project / "package-lock.json").exists() and entries(box) == []  # --no-cache records nothing
    shutil.rmtree(box.project / "node_modules")
    return box


def test_npm_install_miss_then_hit_restores_node_modules_exactly(npm_box: Sandbox) -> None:
    box = npm_box
    first = vg_exec(box, NPM, network="full")
    assert first.returncode == 0 and REPLAYED not in first.stderr, first.stderr
    assert runs(box) == 2 and (box.project / "node_modules/left-pad/index.js").exists()
    after = snapshot(box.project)
    assert len(entries(box)) == 1
    shutil.rmtree(box.project / "node_modules")
    hit = vg_exec(box, NPM, network="full")
    assert hit.returncode == 0 and REPLAYED in hit.stderr, hit.stderr
    assert runs(box) == 2  # npm did not run: its postinstall would have appended
    assert snapshot(box.project) == after
    assert hit.stdout == first.stdout and "added 2 packages" in hit.stdout
    # an unrelated file changed: still a hit under smart
    (box.project / "README.md").write_text("edited\n")
    shutil.rmtree(box.project / "node_modules")
    assert REPLAYED in vg_exec(box, NPM, network="full").stderr and runs(box) == 2
    # one byte changed in the lock file: a miss, npm runs
    lock = box.project / "package-lock.json"
    lock.write_text(lock.read_text() + " ")
    shutil.rmtree(box.project / "node_modules")
    again = vg_exec(box, NPM, network="full")
    assert again.returncode == 0 and REPLAYED not in again.stderr and runs(box) == 3


def test_replay_refused_when_a_file_it_overwrites_changed(npm_box: Sandbox) -> None:
    box = npm_box
    assert vg_exec(box, NPM, network="full").returncode == 0
    shutil.rmtree(box.project / "node_modules")
    (box.project / "runs.log").write_text("edited on the host\n")  # the run appended to it: its base moved on
    r = vg_exec(box, NPM, network="full")
    assert r.returncode == 0 and REPLAYED not in r.stderr and "runs.log changed since the recorded run" in r.stderr
    assert runs(box) == 2 and (box.project / "node_modules/left-pad/index.js").exists()


def test_pip_install_target_dir_miss_then_hit(tmp_path: Path) -> None:
    box = Sandbox(tmp_path, "bubblewrap")
    (box.project / "requirements.txt").write_text("six==1.16.0\nidna==3.7\n")
    line = f"{PIP} && echo ran >>runs.log"
    first = vg_exec(box, line, network="full", extra_env={"PIP_CONFIG_FILE": "/dev/null"})
    assert first.returncode == 0 and REPLAYED not in first.stderr, first.stderr
    assert (box.project / "site/six.py").exists() and runs(box) == 1
    after = snapshot(box.project)
    shutil.rmtree(box.project / "site")
    hit = vg_exec(box, line, network="full", extra_env={"PIP_CONFIG_FILE": "/dev/null"})
    assert hit.returncode == 0 and REPLAYED in hit.stderr, hit.stderr
    assert runs(box) == 1 and snapshot(box.project) == after and hit.stdout == first.stdout
    (box.project / "requirements.txt").write_text("six==1.16.0\nidna==3.6\n")  # one byte
    shutil.rmtree(box.project / "site")
    miss = vg_exec(box, line, network="full", extra_env={"PIP_CONFIG_FILE": "/dev/null"})
    assert miss.returncode == 0 and REPLAYED not in miss.stderr and runs(box) == 2


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_every_runtime_records_and_replays(tmp_path: Path, runtime: str) -> None:
    box = Sandbox(tmp_path, runtime)
    box.config("sandbox:\n  cache_strategy: aggressive\n")
    (box.project / "gone.txt").write_text("old\n")
    first = vg_exec(box, SMALL)
    assert first.returncode == 0 and first.stdout == "done\n" and REPLAYED not in first.stderr, first.stderr
    after = snapshot(box.project)
    assert not (box.project / "gone.txt").exists() and runs(box) == 1
    shutil.rmtree(box.project / "out")
    (box.project / "gone.txt").write_text("old\n")  # as the recorded run found it
    hit = vg_exec(box, SMALL)
    assert hit.returncode == 0 and REPLAYED in hit.stderr and hit.stdout == "done\n", hit.stderr
    assert snapshot(box.project) == after and runs(box) == 1  # the deletion replayed, the line not run


@pytest.mark.parametrize("runtime", ["docker", "podman"])
def test_a_tag_moved_to_another_image_is_a_miss(tmp_path: Path, runtime: str) -> None:
    tag = f"localhost/vgshell-rc-{os.getpid()}:{runtime}"
    source = {"docker": "vgshell-test/busybox:latest", "podman": "localhost/vgshell-test/busybox:latest"}[runtime]
    other = {"docker": "vgshell-test/debian:latest", "podman": "localhost/vgshell-test/debian:latest"}[runtime]
    subprocess.run([runtime, "tag", source, tag], check=True, capture_output=True)
    try:
        box = Sandbox(tmp_path, runtime)
        box.config("sandbox:\n  cache_strategy: aggressive\n")
        env = {"VG_IMAGE": tag}
        assert vg_exec(box, SMALL, extra_env=env).returncode == 0 and runs(box) == 1
        shutil.rmtree(box.project / "out")
        assert REPLAYED in vg_exec(box, SMALL, extra_env=env).stderr and runs(box) == 1
        subprocess.run([runtime, "tag", other, tag], check=True, capture_output=True)
        shutil.rmtree(box.project / "out")
        r = vg_exec(box, SMALL, extra_env=env)
        assert REPLAYED not in r.stderr and "another image" in r.stderr and runs(box) == 2, r.stderr
    finally:
        subprocess.run([runtime, "rmi", tag], capture_output=True)


def test_ttl_expiry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The clock is injected (Environment.clock): an entry older than cache_ttl is a miss."""
    from vgshell.config import load_config
    from vgshell.context import Environment
    from vgshell.execute import run_command

    box = Sandbox(tmp_path, "bubblewrap")
    box.config("sandbox:\n  cache_strategy: aggressive\n  cache_ttl: 60\n")
    assert vg_exec(box, SMALL).returncode == 0 and runs(box) == 1
    for var, value in box.env().items():
        monkeypatch.setenv(var, value)

    def run_at(offset: float) -> str:
        shutil.rmtree(box.project / "out")
        (box.project / "gone.txt").unlink(missing_ok=True)
        err = io.StringIO()
        with open(os.devnull) as devnull:
            env = Environment(env=dict(os.environ), cwd=str(box.project), stdin=devnull, stderr=err,
                              clock=lambda: time.time() + offset)
            assert run_command(SMALL, env, load_config(env)) == 0
        return err.getvalue()

    assert REPLAYED in run_at(59) and runs(box) == 1
    assert REPLAYED not in run_at(61) and runs(box) == 2


def test_conservative_refuses_a_writing_command_and_replays_a_reading_one(tmp_path: Path) -> None:
    box = Sandbox(tmp_path, "bubblewrap")
    box.config("sandbox:\n  cache_strategy: conservative\n")
    for n in (1, 2):
        assert vg_exec(box, SMALL).returncode == 0 and runs(box) == n
    assert entries(box) == []
    (box.project / "notes.txt").write_text("notes\n")
    reading = "cat notes.txt; date +%s%N"
    first = vg_exec(box, reading)
    hit = vg_exec(box, reading)
    assert REPLAYED in hit.stderr and hit.stdout == first.stdout  # the nanoseconds of the recorded run


def test_a_command_writing_outside_the_project_is_never_cached(tmp_path: Path) -> None:
    box = Sandbox(tmp_path, "bubblewrap")
    outside = tmp_path / "outside"
    outside.mkdir()
    box.config(f"sandbox:\n  cache_strategy: aggressive\n  bind_mounts:\n    - host_path: {outside}\n")
    line = f"echo x >>{outside}/f && echo done"
    for n in (1, 2):
        r = vg_exec(box, line)
        assert r.returncode == 0 and REPLAYED not in r.stderr, r.stderr
        assert len((outside / "f").read_text().splitlines()) == n  # it ran both times
    assert entries(box) == []


def test_a_killed_run_leaves_no_entry(tmp_path: Path) -> None:
    box = Sandbox(tmp_path, "bubblewrap")
    box.config("sandbox:\n  cache_strategy: aggressive\n")
    line = "echo x >>runs.log && echo started && sleep 30 && echo done"
    env = {**box.env(), "NO_COLOR": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "vgshell.cli", "exec", line], cwd=box.project, env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "started\n"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(10)
    assert entries(box) == [] and runs(box) == 0  # nothing recorded, nothing written to the project
    r = vg_exec(box, "echo x >>runs.log && echo done")
    assert r.returncode == 0 and REPLAYED not in r.stderr and runs(box) == 1


def test_two_concurrent_identical_runs_leave_one_consistent_entry(tmp_path: Path) -> None:
    box = Sandbox(tmp_path, "bubblewrap")
    box.config("sandbox:\n  cache_strategy: aggressive\n")
    line = "sleep 1 && mkdir -p out && echo hello > out/a.txt && echo done"
    env = {**box.env(), "NO_COLOR": "1"}
    procs = [subprocess.Popen([sys.executable, "-m", "vgshell.cli", "exec", line], cwd=box.project, env=env,
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0 and out == "done\n", err
    assert len(entries(box)) == 1
    after = snapshot(box.project)
    shutil.rmtree(box.project / "out")
    hit = vg_exec(box, line)
    assert REPLAYED in hit.stderr and snapshot(box.project) == after and hit.stdout == "done\n"


def test_writes_that_rested_on_what_a_directory_held_are_not_replayed_without_it(tmp_path: Path) -> None:
    """An install that found most of its packages in place writes only the rest: that is no result to
    replay once the directory lost what it found (nor is a run that found everything and wrote nothing)."""
    box = Sandbox(tmp_path, "bubblewrap")
    box.config("sandbox:\n  cache_strategy: aggressive\n")
    line = "mkdir -p out && for f in a b; do [ -e out/$f ] || echo $f > out/$f; done && echo x >>runs.log"
    (box.project / "out").mkdir()
    (box.project / "out/a").write_text("a\n")  # found in place: not in the change set
    assert vg_exec(box, line).returncode == 0 and len(entries(box)) == 1
    (box.project / "out/a").unlink()
    (box.project / "out/b").unlink()
    r = vg_exec(box, line)
    assert REPLAYED not in r.stderr and "out lists other entries" in r.stderr, r.stderr
    assert sorted(os.listdir(box.project / "out")) == ["a", "b"] and runs(box) == 2
    shutil.rmtree(box.project / "out")
    (box.project / "runs.log").unlink()
    box2 = Sandbox(tmp_path / "second", "bubblewrap")
    box2.config("sandbox:\n  cache_strategy: aggressive\n")
    (box2.project / "out").mkdir()
    for f in "ab":
        (box2.project / "out" / f).write_text(f"{f}\n")
    assert vg_exec(box2, "mkdir -p out && for f in a b; do [ -e out/$f ] || echo $f > out/$f; done").returncode == 0
    assert entries(box2) == []  # it wrote nothing: nothing to replay


def test_no_cache_forces_a_run(tmp_path: Path) -> None:
    box = Sandbox(tmp_path, "bubblewrap")
    box.config("sandbox:\n  cache_strategy: aggressive\n")
    assert vg_exec(box, SMALL).returncode == 0
    forced = vg_exec(box, SMALL, "--no-cache")
    assert REPLAYED not in forced.stderr and runs(box) == 2


def test_a_piped_stdin_is_never_cached(tmp_path: Path) -> None:
    box = Sandbox(tmp_path, "bubblewrap")
    box.config("sandbox:\n  cache_strategy: aggressive\n")
    for n in (1, 2):
        # stdin is a pipe: what the command reads may differ next time
        assert box.run("cat >>runs.log", stdin="x\n").returncode == 0 and runs(box) == n
    assert entries(box) == []


def test_on_a_terminal_a_run_that_read_the_keyboard_is_not_recorded(tmp_path: Path) -> None:
    """On a terminal stdout and stderr are one stream, recorded as such; a run that got typed input is
    interactive and never recorded, one that got none is (and replays its terminal output)."""
    import pexpect

    box = Sandbox(tmp_path, "bubblewrap")
    box.config("sandbox:\n  cache_strategy: aggressive\n")
    env = {**box.env(), "NO_COLOR": "1", "TERM": "xterm"}

    def on_terminal(line: str, typed: str | None = None) -> str:
        child = pexpect.spawn(sys.executable, ["-m", "vgshell.cli", "exec", line], cwd=str(box.project), env=env,
                              encoding="utf-8", timeout=60)
        if typed is not None:
            child.expect("name\\?")
            child.sendline(typed)
        child.expect(pexpect.EOF)
        child.close()
        assert child.exitstatus == 0, child.before
        return str(child.before)

    asking = "echo name?; read n; echo $n >>runs.log; echo hi $n"
    assert "hi ann" in on_terminal(asking, "ann") and "hi bob" in on_terminal(asking, "bob")
    assert runs(box) == 2 and entries(box) == []
    quiet = "echo out; echo err >&2; echo x >>runs.log"
    first = on_terminal(quiet)
    assert "out" in first and "err" in first and len(entries(box)) == 1
    again = on_terminal(quiet)
    assert "Replayed from result cache" in again and "out\r\nerr\r\n" in again and runs(box) == 3
