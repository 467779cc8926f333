"""`vg exec` in real sandboxes: bubblewrap, a real Docker engine and real Podman, parametrised.

Each test runs the real `vg` with a private HOME and VG_HOME and a project directory under tmp_path.
Container runtimes use the offline-built images of tests/images/build.sh (busybox for isolation checks).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

RUNTIMES = ["bubblewrap", "docker", "podman"]
IMAGE = "vgshell-test/busybox:latest"
# What this test run made, so that a busy host (other runs, other users) does not fail the leftover checks:
# containers carry the session as a label, cgroups the pid of the vg that made them, bwrap its project.
RUN_SESSION = f"vgtest-{uuid.uuid4().hex[:12]}"
VG_PIDS: set[int] = set()
PROJECTS: set[str] = set()


class Sandbox:
    def __init__(self, tmp: Path, runtime: str) -> None:
        self.runtime = runtime
        self.home = tmp / "home"
        self.project = self.home / "project"
        self.project.mkdir(parents=True)
        self.state = tmp / "state"
        PROJECTS.add(str(tmp))

    def config(self, text: str) -> None:
        """The user's own config (a project file may only tighten)."""
        self.state.mkdir(mode=0o700, exist_ok=True)
        (self.state / "config.yaml").write_text(text)

    def env(self, level: str = "permissive", network: str | None = "none",
            extra_env: dict[str, str] | None = None) -> dict[str, str]:
        env = {"PATH": os.environ["PATH"], "HOME": str(self.home), "VG_HOME": str(self.state),
               "VG_MODE": "always", "VG_RUNTIME": self.runtime, "VG_SECURITY_LEVEL": level,
               "VG_IMAGE": IMAGE, "LANG": "C.UTF-8", "VG_SESSION": RUN_SESSION, **(extra_env or {})}
        if network:
            env["VG_NETWORK_MODE"] = network
        return env

    def start(self, command: str, *, level: str = "permissive", network: str | None = "none",
              extra_env: dict[str, str] | None = None, quiet: bool = True, cwd: Path | None = None,
              stdin: int | None = subprocess.PIPE) -> subprocess.Popen[str]:
        flags = ["--quiet"] if quiet else []
        proc = subprocess.Popen([sys.executable, "-m", "vgshell.cli", *flags, "exec", command],
                                cwd=cwd or self.project, env=self.env(level, network, extra_env), stdin=stdin,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        VG_PIDS.add(proc.pid)
        return proc

    def run(self, command: str, *, level: str = "permissive", network: str | None = "none",
            extra_env: dict[str, str] | None = None, timeout: int = 120,
            stdin: str | None = None, quiet: bool = True, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        proc = self.start(command, level=level, network=network, extra_env=extra_env, quiet=quiet, cwd=cwd)
        try:
            out, err = proc.communicate(stdin or "", timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


@pytest.fixture(params=RUNTIMES)
def sandbox(request: pytest.FixtureRequest, tmp_path: Path) -> Sandbox:
    return Sandbox(tmp_path, request.param)


def test_project_is_writable_and_writes_persist(sandbox: Sandbox) -> None:
    r = sandbox.run("echo built > artifact.txt && mkdir -p out && echo ok > out/x")
    assert r.returncode == 0, r.stderr
    assert (sandbox.project / "artifact.txt").read_text() == "built\n"
    assert (sandbox.project / "out" / "x").stat().st_uid == os.getuid()


def test_outside_the_project_cannot_be_written(sandbox: Sandbox, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    r = sandbox.run(f"echo x > {outside}/pwned; echo y > {sandbox.home}/pwned; echo done")
    assert "done" in r.stdout
    assert not (outside / "pwned").exists()
    assert not (sandbox.home / "pwned").exists()


def test_secrets_in_home_are_not_visible(sandbox: Sandbox) -> None:
    ssh = sandbox.home / ".ssh"
    ssh.mkdir()
    (ssh / "id_rsa").write_text("PRIVATE KEY\n")
    (sandbox.home / ".aws").mkdir()
    (sandbox.home / ".aws" / "credentials").write_text("aws_secret\n")
    r = sandbox.run(f"cat {ssh}/id_rsa; cat {sandbox.home}/.aws/credentials; echo end")
    assert "PRIVATE KEY" not in r.stdout and "aws_secret" not in r.stdout
    assert "end" in r.stdout


def test_home_as_the_working_directory_is_read_only(sandbox: Sandbox) -> None:
    rc = sandbox.home / ".bashrc"
    rc.write_text("# mine\n")
    r = sandbox.run("echo evil >> .bashrc; echo done", cwd=sandbox.home, quiet=False)
    assert "done" in r.stdout and "read-only in the sandbox" in r.stderr
    assert rc.read_text() == "# mine\n"


def test_only_whitelisted_environment_passes(sandbox: Sandbox) -> None:
    r = sandbox.run('echo "tok=${MY_TOKEN:-unset} lang=$LANG sandbox=$VG_SANDBOX"',
                    extra_env={"MY_TOKEN": "s3cret"})
    assert r.stdout.strip() == "tok=unset lang=C.UTF-8 sandbox=1"


INTERFACES = "tail -n +3 /proc/net/dev | cut -d: -f1"


def test_network_none_has_no_network(sandbox: Sandbox) -> None:
    r = sandbox.run(INTERFACES)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["lo"]


def test_network_full_has_an_interface(sandbox: Sandbox) -> None:
    r = sandbox.run(INTERFACES, network="full")
    assert r.returncode == 0, r.stderr
    assert len(r.stdout.split()) >= 2


MEMORY_HOG = "awk 'BEGIN{s=\"x\"; for(i=0;i<28;i++) s=s s; print length(s)}'"  # a 256 MiB string


def test_memory_limit_kills_an_allocation_above_it(sandbox: Sandbox) -> None:
    big = sandbox.run(MEMORY_HOG, level="permissive")  # 2 GB: fits
    assert big.stdout.strip() == str(2**28), big.stderr
    small = sandbox.run(MEMORY_HOG, level="paranoid")  # 256 MB: does not
    assert small.returncode != 0
    assert small.stdout.strip() != str(2**28)


def test_pids_limit_contains_a_fork_storm(sandbox: Sandbox) -> None:
    storm = "i=0; while [ $i -lt 400 ]; do sleep 2 & i=$((i+1)); done; wait; echo finished"
    start = time.monotonic()
    r = sandbox.run(storm, level="paranoid", timeout=120)
    assert time.monotonic() - start < 60
    assert "fork" in (r.stderr + r.stdout).lower() or "resource temporarily unavailable" in r.stderr.lower()


def test_strict_root_is_read_only_with_a_writable_tmp(sandbox: Sandbox) -> None:
    r = sandbox.run("touch /usr/pwned 2>/dev/null && echo root-writable; echo t > /tmp/t && cat /tmp/t",
                    level="strict")
    assert r.stdout.split() == ["t"], r.stderr


def test_restricted_network_has_only_loopback_and_the_egress_proxy(sandbox: Sandbox) -> None:
    # balanced means restricted (tests/test_egress.py has the installs, refusals and lifecycle)
    r = sandbox.run(f"{INTERFACES}; echo $HTTPS_PROXY", level="balanced", network=None)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["lo", "http://127.0.0.1:3128"]


def test_timeout_gives_124_and_leaves_nothing_behind(sandbox: Sandbox) -> None:
    sandbox.config("sandbox:\n  timeout: 2\n")
    start = time.monotonic()
    r = sandbox.run("sleep 60 & sleep 60; echo never")
    assert r.returncode == 124
    assert time.monotonic() - start < 30
    assert "timed out after 2s" in r.stderr
    assert leftovers(sandbox.runtime) == []


def test_exit_status_and_streams_are_exact(sandbox: Sandbox) -> None:
    r = sandbox.run("echo out; echo err >&2; exit 7")
    assert (r.returncode, r.stdout, r.stderr) == (7, "out\n", "err\n")


def test_stdin_streams_through(sandbox: Sandbox) -> None:
    r = sandbox.run("tr a-z A-Z", stdin="hello sandbox\n")
    assert r.stdout == "HELLO SANDBOX\n"


def test_a_killed_command_reports_its_signal(sandbox: Sandbox) -> None:
    r = sandbox.run("kill -9 $$")
    assert r.returncode == 137


def test_user_toolchains_in_home_run_but_their_credentials_do_not_show(tmp_path: Path) -> None:
    sb = Sandbox(tmp_path, "bubblewrap")
    bin_dir = sb.home / ".mytool" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "mytool").write_text("#!/bin/sh\necho tool-ran\n")
    (bin_dir / "mytool").chmod(0o755)
    cargo = sb.home / ".cargo"
    cargo.mkdir()
    (cargo / "credentials.toml").write_text("token = 'crates-secret'\n")
    r = sb.run(f"mytool; cat {cargo}/credentials.toml; touch {bin_dir}/x 2>/dev/null || echo read-only",
               extra_env={"PATH": f"{bin_dir}:{sb.home / '.cargo' / 'bin'}:{os.environ['PATH']}"})
    assert r.stdout.split() == ["tool-ran", "read-only"], r.stderr
    assert "crates-secret" not in r.stdout


def test_nothing_is_left_behind_after_the_suite_of_runs(sandbox: Sandbox) -> None:
    sandbox.run("true")
    assert leftovers(sandbox.runtime) == []


def leftovers(runtime: str) -> list[str]:
    """What this test run's sandboxes left: containers, bwrap processes, cgroups (none from other runs)."""
    if runtime == "docker":
        from vgshell.sandbox import docker

        return docker.leftovers(f"vgshell.session={RUN_SESSION}")
    if runtime == "podman":
        from vgshell.sandbox import podman

        return podman.leftovers(f"vgshell.session={RUN_SESSION}")
    # A cgroup whose last task the kernel is still reaping is removed by a detached helper within seconds.
    deadline = time.monotonic() + 10
    while True:
        procs = subprocess.run(["pgrep", "-a", "-f", "bwrap --die-with-parent"], capture_output=True, text=True).stdout
        ours = [line.split()[0] for line in procs.splitlines() if any(p in line for p in PROJECTS)]
        groups = [p.name for c in ("memory", "pids", "cpu") for pid in VG_PIDS
                  for p in Path(f"/sys/fs/cgroup/{c}").glob(f"vgshell-{pid}-*")]
        if not ours + groups or time.monotonic() > deadline:
            return ours + groups
        time.sleep(0.1)
