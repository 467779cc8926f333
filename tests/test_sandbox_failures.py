"""Failures get one clear line naming what failed and what to do, and a sandboxed command never runs on
the host instead (the sentinel file proves nothing ran)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.test_sandbox import Sandbox

WRITE = "touch ran.txt"


def nothing_ran(sb: Sandbox) -> bool:
    return not (sb.project / "ran.txt").exists()


def test_no_working_runtime_refuses_and_names_each(tmp_path: Path) -> None:
    sb = Sandbox(tmp_path, "auto")
    empty = tmp_path / "bin"
    empty.mkdir()
    (empty / "python3").symlink_to(os.path.realpath(os.sys.executable))
    r = sb.run(WRITE, extra_env={"PATH": str(empty), "DOCKER_HOST": "unix:///nonexistent.sock"}, quiet=False)
    assert r.returncode == 126 and nothing_ran(sb)
    assert r.stderr.strip() == ("🛑 Blocked: low risk; no sandbox runtime is available (install bubblewrap, docker "
                                "or podman)")


def test_dead_docker_daemon_falls_back_with_a_notice(tmp_path: Path) -> None:
    sb = Sandbox(tmp_path, "docker")
    r = sb.run("echo ok", extra_env={"DOCKER_HOST": "unix:///nonexistent.sock"}, quiet=False)
    assert r.returncode == 0, r.stderr
    assert "[docker is unavailable, using bubblewrap]" in r.stderr


@pytest.mark.parametrize("runtime", ["docker", "podman"])
def test_missing_image_is_a_clear_error(runtime: str, tmp_path: Path) -> None:
    sb = Sandbox(tmp_path, runtime)
    r = sb.run(WRITE, extra_env={"VG_IMAGE": "vgshell-test/missing:1"})
    assert r.returncode != 0 and nothing_ran(sb)
    assert "image 'vgshell-test/missing:1' is not available locally and could not be pulled" in r.stderr
    assert f"{runtime} pull vgshell-test/missing:1" in r.stderr


def test_unwritable_cache_dir_is_a_clear_error(tmp_path: Path) -> None:
    sb = Sandbox(tmp_path, "bubblewrap")
    (sb.home / ".npm").write_text("a file where the cache directory should be")
    (sb.home / ".npm").chmod(0o400)
    r = sb.run("npm install --offline left-pad; " + WRITE, extra_env={"VG_MODE": "auto"})
    assert r.returncode != 0 and nothing_ran(sb)
    assert "cannot create the npm_config_cache cache directory" in r.stderr or "npm_config_cache" in r.stderr


def test_bind_mount_of_a_missing_path_is_refused(tmp_path: Path) -> None:
    sb = Sandbox(tmp_path, "docker")
    sb.config("sandbox:\n  bind_mounts:\n    - {host_path: /nonexistent/data, container_path: /data}\n")
    r = sb.run(WRITE)
    assert r.returncode != 0 and nothing_ran(sb)
    assert "bind mount source '/nonexistent/data' does not exist" in r.stderr
    assert not Path("/nonexistent/data").exists()


def test_explicit_bind_makes_a_secret_visible(tmp_path: Path) -> None:
    sb = Sandbox(tmp_path, "bubblewrap")
    (sb.home / ".ssh").mkdir()
    (sb.home / ".ssh" / "config").write_text("Host x\n")
    sb.config(f"sandbox:\n  bind_mounts:\n    - {{host_path: {sb.home}/.ssh, container_path: {sb.home}/.ssh, "
              "read_only: true}\n")
    r = sb.run(f"cat {sb.home}/.ssh/config")
    assert r.stdout == "Host x\n", r.stderr


def test_a_pip_install_through_a_pyenv_shim_keeps_its_status(tmp_path: Path) -> None:
    """pyenv's pip hook rehashes after a successful install: in a sandbox its shims are read-only, and the
    failed rehash must not turn the install's success into status 1."""
    sb = Sandbox(tmp_path, "bubblewrap")
    pyenv = sb.home / ".pyenv"
    (pyenv / "pyenv.d" / "exec").mkdir(parents=True)
    (pyenv / "shims").mkdir()
    hook = pyenv / "pyenv.d" / "exec" / "pip-rehash"  # as pyenv ships it: a wrapper that rehashes after pip
    hook.mkdir()
    (hook / "pip").write_text(f"#!/usr/bin/env bash\nset -e\necho installed\ntouch {pyenv}/shims/.pyenv-shim\n")
    # (the host runs `pip` too, to find its cache: there the rehash can write)
    (hook / "pip").chmod(0o755)
    pip = pyenv / "shims" / "pip"  # the shim: pyenv-exec runs the hook's wrapper when there is one
    pip.write_text(f"#!/usr/bin/env bash\nset -e\nif [ -x {hook}/pip ]; then exec {hook}/pip \"$@\"; fi\n"
                   "echo installed\n")
    pip.chmod(0o755)
    r = sb.run("pip install x", extra_env={"PATH": f"{pyenv}/shims:{os.environ['PATH']}"})
    assert "installed" in r.stdout
    assert r.returncode == 0, r.stderr
