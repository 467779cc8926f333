"""`vg doctor`: each sandbox runtime really tried here, and each one broken, with the right reason and fix,
when made unavailable; the exit status follows what the configuration relies on."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

BUSYBOX = "vgshell-test/busybox"
# What bwrap prints where unprivileged user namespaces are refused (Debian's kernel without the sysctl).
USERNS_REFUSED = ("bwrap: No permissions to creating new namespace, likely because the kernel does not allow "
                  "non-privileged user namespaces. On e.g. debian this can be enabled with "
                  "'sysctl kernel.unprivileged_userns_clone=1'.")


@pytest.fixture(autouse=True)
def _home(vg_home: Path) -> None:
    """Every test runs with its own VG_HOME and HOME."""


def doctor(env: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    full = {**os.environ, "VG_IMAGE": BUSYBOX, **(env or {})}
    r = subprocess.run([sys.executable, "-m", "vgshell.cli", "doctor", "--json"], capture_output=True, text=True,
                       env=full, timeout=300)
    data = json.loads(r.stdout)
    assert data["ok"] == (r.returncode == 0), r.stderr
    return r.returncode, {c["name"]: c for c in data["checks"] if c["area"] == "runtime"}


def path_without(tmp_path: Path, *missing: str) -> str:
    """A PATH with every command of this one except `missing` (symlinks into one directory)."""
    farm = tmp_path / "bin"
    farm.mkdir(exist_ok=True)
    for d in os.environ["PATH"].split(":"):
        if not os.path.isdir(d):
            continue
        for tool in Path(d).iterdir():
            if tool.name not in missing and not (farm / tool.name).exists():
                (farm / tool.name).symlink_to(tool)
    return str(farm)


def test_every_runtime_works_here() -> None:
    status, runtimes = doctor()
    assert status == 0
    assert {name: c["ok"] for name, c in runtimes.items()} == {"bubblewrap": True, "docker": True, "podman": True,
                                                              "bubblewrap limits": os.geteuid() == 0}
    assert "(the sandbox vgshell uses here)" in runtimes["bubblewrap"]["detail"]


def test_review_checks_that_bubblewrap_can_mount_the_overlay() -> None:
    status, runtimes = doctor({"VG_PROJECT_WRITES": "review"})
    assert status == 0
    assert runtimes["overlay"]["ok"] and "behind an overlay" in runtimes["overlay"]["detail"]
    assert "overlay" not in doctor()[1]  # direct writes need none


@pytest.mark.parametrize(("broken", "how", "detail", "fix"), [
    ("bubblewrap", "path", "bwrap is not installed", "install bubblewrap"),
    ("podman", "path", "podman is not installed", "apt-get install podman"),
    ("docker", {"DOCKER_HOST": "unix:///nonexistent/docker.sock"},
     "the Docker engine does not answer at unix:///nonexistent/docker.sock", "start it"),
    ("docker", {"VG_IMAGE": "vgshell-test/not-here"}, "the image 'vgshell-test/not-here' is not here",
     "docker pull vgshell-test/not-here"),
    ("podman", {"VG_IMAGE": "vgshell-test/not-here"}, "the image 'vgshell-test/not-here' is not in podman's store",
     "podman pull vgshell-test/not-here"),
    ("bubblewrap", "userns", "cannot make a sandbox: bwrap: No permissions to creating new namespace",
     "user namespaces"),
])
def test_each_runtime_broken_with_its_reason(tmp_path: Path, broken: str, how: object, detail: str,
                                             fix: str) -> None:
    env: dict[str, str] = {}
    if how == "path":
        env["PATH"] = path_without(tmp_path, {"bubblewrap": "bwrap", "podman": "podman"}[broken])
    elif how == "userns":
        fake = tmp_path / "fake"
        fake.mkdir()
        (fake / "bwrap").write_text(f"#!/bin/sh\necho \"{USERNS_REFUSED}\" >&2\nexit 1\n")
        (fake / "bwrap").chmod(0o755)
        env["PATH"] = f"{fake}:{os.environ['PATH']}"
    else:
        assert isinstance(how, dict)
        env.update(how)
    status, runtimes = doctor(env)
    assert not runtimes[broken]["ok"]
    assert runtimes[broken]["detail"].startswith(detail) or detail in runtimes[broken]["detail"]
    assert fix in runtimes[broken]["fix"]
    assert status == 0  # runtime auto: another one works
    assert all(c["ok"] for name, c in runtimes.items() if name != broken and "VG_IMAGE" not in env)


def test_exit_status_when_the_configured_runtime_is_broken(tmp_path: Path) -> None:
    status, runtimes = doctor({"VG_RUNTIME": "bubblewrap", "PATH": path_without(tmp_path, "bwrap")})
    assert status == 1 and runtimes["bubblewrap"]["needed"] and not runtimes["bubblewrap"]["ok"]
    status, _ = doctor({"VG_RUNTIME": "docker", "PATH": path_without(tmp_path, "bwrap")})
    assert status == 0


def test_plain_text_and_config_problems(tmp_path: Path, vg_home: Path) -> None:
    vg_home.mkdir(parents=True, exist_ok=True)
    (vg_home / "config.yaml").write_text("guard_level: loud\n")
    r = subprocess.run([sys.executable, "-m", "vgshell.cli", "doctor"], capture_output=True, text=True,
                       env={**os.environ, "VG_IMAGE": BUSYBOX}, timeout=300)
    assert r.returncode == 1 and "BROKEN" in r.stdout and "config.yaml" in r.stdout
    assert r.stdout.rstrip().splitlines()[-1].startswith("broken: config files")


def test_config_layers_and_a_loosening_waiting_for_approval(tmp_path: Path) -> None:
    (tmp_path / "vectra-guard.yaml").write_text("sandbox:\n  mode: never\n")
    r = subprocess.run([sys.executable, "-m", "vgshell.cli", "doctor", "--json"], capture_output=True, text=True,
                       env={**os.environ, "VG_IMAGE": BUSYBOX}, cwd=tmp_path, timeout=300)
    assert r.returncode == 0, r.stdout  # pending approval: reported, nothing broken
    checks = {c["name"]: c for c in json.loads(r.stdout)["checks"] if c["area"] == "config"}
    assert f"project {tmp_path / 'vectra-guard.yaml'} (may only tighten)" in checks["layers"]["detail"]
    assert "would loosen sandbox.mode; waiting for approval" in checks["approval"]["detail"]
    assert checks["approval"]["fix"] == f"vg config allow {tmp_path / 'vectra-guard.yaml'}"
