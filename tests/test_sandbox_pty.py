"""`vg exec` at a real terminal (pexpect): the sandboxed program gets a PTY of the outer size, reads typed
input, and Ctrl-C stops it — not vg — whose exit status is then the program's."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pexpect
import pytest

from tests.test_sandbox import RUNTIMES

DEBIAN = "vgshell-test/debian:latest"


def spawn(tmp: Path, runtime: str, command: str, image: str = "vgshell-test/busybox:latest",
          size: tuple[int, int] = (24, 80)) -> pexpect.spawn:
    home = tmp / "home"
    (home / "project").mkdir(parents=True, exist_ok=True)
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "VG_HOME": str(tmp / "state"), "VG_MODE": "always",
           "VG_RUNTIME": runtime, "VG_SECURITY_LEVEL": "permissive", "VG_NETWORK_MODE": "none",
           "VG_IMAGE": image, "TERM": "xterm"}
    return pexpect.spawn(sys.executable, ["-m", "vgshell.cli", "--quiet", "exec", command], cwd=str(home / "project"),
                         env=env, dimensions=size, timeout=60, encoding="utf-8")


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_pty_size_matches_the_outer_terminal(runtime: str, tmp_path: Path) -> None:
    child = spawn(tmp_path, runtime, "stty size; test -t 0 && echo stdin-is-a-tty", size=(37, 91))
    child.expect(r"37 91")
    child.expect("stdin-is-a-tty")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_ctrl_c_reaches_the_sandboxed_process(runtime: str, tmp_path: Path) -> None:
    child = spawn(tmp_path, runtime, "echo ready; sleep 30; echo not-interrupted")
    child.expect("ready")
    child.sendintr()
    child.expect(pexpect.EOF, timeout=20)
    child.close()
    assert "not-interrupted" not in (child.before or "")
    assert child.exitstatus == 130 or (child.signalstatus is None and child.exitstatus not in (0, None))


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_interactive_python_answers_typed_input(runtime: str, tmp_path: Path) -> None:
    child = spawn(tmp_path, runtime, "python3 -q", image=DEBIAN)
    child.expect(">>> ")
    child.sendline("print(6 * 7)")
    child.expect("42")
    child.sendline("import sys; sys.exit(5)")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 5


def test_terminal_is_restored_after_the_sandbox(tmp_path: Path) -> None:
    """Raw mode is undone: a line typed after vg exits is echoed and cooked as usual."""
    child = pexpect.spawn("bash", ["--norc", "--noprofile"], env={**os.environ, "PS1": "$ "}, encoding="utf-8",
                          timeout=60, cwd=str(tmp_path))
    child.expect_exact("$ ")
    home = tmp_path / "h"
    (home / "p").mkdir(parents=True)
    child.sendline(f"cd {home}/p && HOME={home} VG_HOME={tmp_path}/s VG_MODE=always VG_RUNTIME=bubblewrap "
                   f"VG_SECURITY_LEVEL=permissive VG_NETWORK_MODE=none {sys.executable} -m vgshell.cli -q exec "
                   "'stty -a | head -1; exit 3'; echo status=$?")
    child.expect("status=3")
    child.sendline("stty -a | grep -o -- ' icanon'; echo typed-back")
    child.expect(" icanon")
    child.expect("typed-back")
    child.sendline("exit")
    child.expect(pexpect.EOF)
