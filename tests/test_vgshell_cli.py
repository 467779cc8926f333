"""`vgshell` run the ways agents and scripts run a shell: `-c`, a script, commands on stdin, `$SHELL -c`.

Every row runs the real `vgshell` console script with the real analyzer and real bubblewrap, in a throw-away
HOME holding a canary file; what ran is proven by files, namespaces and statuses, never by a notice.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

VGSHELL = str(Path(sys.executable).with_name("vgshell"))
VG = str(Path(sys.executable).with_name("vg"))
BWRAP_CONFIG = "sandbox:\n  mode: always\n  network_mode: none\n  runtime: bubblewrap\n"


class Box:
    """A HOME with a canary, a project directory in it, and a private VG_HOME."""

    def __init__(self, tmp: Path) -> None:
        self.home = tmp / "home"
        self.project = self.home / "project"
        self.project.mkdir(parents=True)
        self.canary = self.home / "canary"
        self.canary.write_text("alive")
        self.state = tmp / "state"
        self.env = {"PATH": f"{Path(VGSHELL).parent}:{os.environ['PATH']}", "HOME": str(self.home),
                    "VG_HOME": str(self.state), "LANG": "C.UTF-8"}

    def run(self, *argv: str, stdin: str | None = None, cwd: Path | None = None,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=60,
                              cwd=cwd or self.project, env={**self.env, **(env or {})},
                              stdin=None if stdin is not None else subprocess.DEVNULL)

    def sh(self, *args: str, **kw: object) -> subprocess.CompletedProcess[str]:
        return self.run(VGSHELL, *args, **kw)  # type: ignore[arg-type]

    def alive(self) -> bool:
        return self.canary.read_text() == "alive"

    def stop(self) -> None:
        subprocess.run([VG, "analyzer", "stop"], env=self.env, capture_output=True, check=False)


@pytest.fixture
def box(tmp_path: Path) -> Iterator[Box]:
    b = Box(tmp_path)
    yield b
    b.stop()


def wait_for_analyzer(box: Box) -> None:
    for _ in range(200):
        if (box.state / "analyzer.env").exists():
            return
        time.sleep(0.05)
    raise AssertionError("the analyzer did not start")


@pytest.mark.parametrize(("args", "status", "out"), [
    (["-c", "exit 3"], 3, ""),
    (["-c", "echo hi"], 0, "hi\n"),
    (["-c", 'echo "$0|$1|$2"', "zero", "one", "two"], 0, "zero|one|two\n"),
    (["-c", "false"], 1, ""),
    (["-c", "kill -TERM $$"], -15, ""),
    (["-ec", "false; echo not-reached"], 1, ""),
    (["-o", "errexit", "-c", "false; echo not-reached"], 1, ""),
])
def test_dash_c_runs_like_bash(box: Box, args: list[str], status: int, out: str) -> None:
    r = box.sh(*args)
    assert r.returncode == status, r.stderr
    if out:
        assert r.stdout == out


@pytest.mark.parametrize("line", ["echo 'unterminated", "if true; then echo x", "echo )"])
def test_a_line_bash_cannot_parse_gets_bashs_error_and_status_2(box: Box, line: str) -> None:
    r = box.sh("-c", line)
    assert r.returncode == 2
    assert r.stderr.startswith("bash: -c: line ") and "Traceback" not in r.stderr
    assert r.stderr == subprocess.run(["bash", "-c", line], capture_output=True, text=True).stderr


@pytest.mark.parametrize("line", ["rm -rf ~", "rm -rf $HOME", "echo ok; rm -rf ~/", "bash -c 'rm -rf ~'",
                                  "echo 'rm -rf ~' | sh"])
def test_critical_lines_are_blocked_with_126_and_run_nothing(box: Box, line: str) -> None:
    r = box.sh("-c", line)
    assert r.returncode == 126
    assert "Blocked" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert box.alive()
    assert r.stdout == ""


@pytest.mark.parametrize(("line", "out"), [("echo rm -rf '~'", "rm -rf ~"),
                                           ("echo 'rm -rf ~' > note.txt; cat note.txt", "rm -rf ~"),
                                           ('echo "a<<b"', "a<<b"),  # `<<` in quotes opens no heredoc
                                           ("cat <<EOF\nheredoc\nEOF", "heredoc")])
def test_look_alike_benign_lines_run_on_the_host(box: Box, line: str, out: str) -> None:
    r = box.sh("-c", line)
    assert r.returncode == 0 and r.stdout.strip() == out, r.stderr


def test_shell_equals_vgshell_guards_a_program_that_runs_dollar_shell_dash_c(box: Box) -> None:
    program = ("import os, subprocess, sys\n"
               "r = subprocess.run([os.environ['SHELL'], '-c', 'rm -rf ~'])\n"
               "sys.exit(r.returncode)\n")
    r = box.run(sys.executable, "-c", program, env={"SHELL": VGSHELL})
    assert r.returncode == 126
    assert box.alive()
    ok = box.run(sys.executable, "-c", "import os; os.execv(os.environ['SHELL'], ['sh', '-c', 'echo fine'])",
                 env={"SHELL": VGSHELL})
    assert ok.stdout == "fine\n"


def test_commands_on_stdin_run_like_bash_s(box: Box) -> None:
    r = box.sh(stdin="echo hi\nx=5\necho $((x + 1))\n")
    assert (r.returncode, r.stdout) == (0, "hi\n6\n")
    r = box.sh(stdin="echo before\nexit 4\necho after\n")
    assert (r.returncode, r.stdout) == (4, "before\n")
    r = box.sh(stdin="echo 'no newline at the end'")
    assert r.stdout == "no newline at the end\n"
    r = box.sh("-s", "a", "b", stdin='echo "$1 $2"\n')
    assert r.stdout == "a b\n"


def test_a_critical_command_on_stdin_is_blocked_where_it_stands_and_the_stream_goes_on(box: Box) -> None:
    """As under `bash -s`, each command runs as it is read: what came before ran, the blocked one did not."""
    r = box.sh(stdin="touch first\nrm -rf ~\necho status=$?\nif true; then\n  rm -rf ~\nfi\necho end\n")
    assert r.stdout == "status=126\nend\n"
    assert r.stderr.count("Blocked") == 2
    assert box.alive() and (box.project / "first").exists()


def test_a_program_can_keep_the_shell_open_on_a_pipe_and_feed_it_commands(box: Box) -> None:
    """The persistent-shell pattern of agents: one command at a time, output read before the next."""
    p = subprocess.Popen([VGSHELL], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         cwd=box.project, env=box.env, text=True, bufsize=1)
    assert p.stdin is not None and p.stdout is not None
    p.stdin.write("cd /tmp; X=kept\necho ready $PWD\n")
    assert p.stdout.readline() == "ready /tmp\n"
    p.stdin.write("echo $X\n")
    assert p.stdout.readline() == "kept\n"
    p.stdin.write("rm -rf ~\necho after=$?\n")
    assert p.stdout.readline() == "after=126\n"
    p.stdin.write("read line\nthis is data, not a command\necho \"got: $line\"\nexit 5\n")
    assert p.stdout.readline() == "got: this is data, not a command\n"
    assert p.wait(timeout=30) == 5
    assert box.alive()


def test_a_script_sees_its_arguments_and_is_judged_whole(box: Box) -> None:
    script = box.project / "script.sh"
    script.write_text('#!/bin/bash\necho "$0 $1 $2"\nexit 7\n')
    r = box.sh(str(script), "a", "b")
    assert (r.returncode, r.stdout) == (7, f"{script} a b\n")
    bad = box.project / "bad.sh"
    bad.write_text("echo start > started\n\n\nrm -rf ~\n")
    r = box.sh(str(bad))
    assert r.returncode == 126 and box.alive()
    assert not (box.project / "started").exists()  # judged as a whole: not one line of it ran
    r = box.sh(str(box.project / "missing.sh"))
    assert r.returncode == 127 and "missing.sh" in r.stderr


def test_a_script_runs_the_text_that_was_judged_not_what_it_writes_into_itself(box: Box) -> None:
    """bash reads a script as it goes: an append to $0 would run unjudged; vgshell runs the judged copy."""
    script = box.project / "grow.sh"
    script.write_text("printf 'touch %s\\n' \"$HOME/grown\" >> \"$0\"\necho done\n")
    r = box.sh(str(script))
    assert r.stdout == "done\n"
    assert not (box.home / "grown").exists()
    subprocess.run(["bash", str(script)], env=box.env, check=True, capture_output=True)
    assert (box.home / "grown").exists()  # what plain bash does, for contrast


def test_a_login_shell_reads_the_profile(box: Box) -> None:
    (box.home / ".bash_profile").write_text("export FROM_PROFILE=yes\n")
    assert box.sh("-lc", "echo ${FROM_PROFILE:-no}").stdout == "yes\n"
    assert box.sh("-c", "echo ${FROM_PROFILE:-no}").stdout == "no\n"
    assert box.sh("--login", "-c", "echo ${FROM_PROFILE:-no}").stdout == "yes\n"


def _mnt() -> str:
    return os.readlink("/proc/self/ns/mnt")


def test_a_sandboxed_line_runs_in_the_sandbox_in_the_working_directory(box: Box) -> None:
    (box.project / "vectra-guard.yaml").write_text(BWRAP_CONFIG)
    sub = box.project / "sub"
    sub.mkdir()
    line = 'readlink /proc/self/ns/mnt; pwd; echo "$1"; touch here; echo gone > "$HOME/canary"'
    r = box.sh("-c", line, "zero", "one", cwd=sub)
    mnt, cwd, arg = r.stdout.splitlines()
    assert mnt != _mnt()
    assert (cwd, arg) == (str(sub), "one")
    assert (sub / "here").exists()  # the working directory is the host's
    assert box.alive()  # the rest of HOME is not
    assert "sandbox" in r.stderr


def test_a_sandboxed_line_under_the_default_level_runs_in_the_sandbox(box: Box) -> None:
    (box.project / "vectra-guard.yaml").write_text("sandbox:\n  mode: always\n")
    r = box.sh("-c", "readlink /proc/self/ns/mnt; exit 5")
    assert r.returncode == 5
    assert r.stdout.strip() != _mnt()


def test_without_an_analyzer_the_line_is_judged_here_and_one_is_started(box: Box) -> None:
    r = box.sh("-c", "rm -rf ~")
    assert r.returncode == 126 and box.alive()
    wait_for_analyzer(box)
    assert box.sh("-c", "echo again").stdout == "again\n"


def test_a_dead_analyzer_is_restarted_with_a_notice_and_critical_stays_blocked(box: Box) -> None:
    box.sh("-c", "true")
    wait_for_analyzer(box)
    box.stop()
    with socket.socket() as s:  # a state file that points at a port nobody answers on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    box.state.mkdir(parents=True, exist_ok=True)
    text = (box.state / "analyzer.env").read_text() if (box.state / "analyzer.env").exists() else ""
    envkey = next((x for x in text.splitlines() if x.startswith("envkey=")), "")
    if not envkey:
        from vgshell.client import env_key

        envkey = f"envkey={env_key(box.env)}"
    (box.state / "analyzer.env").write_text(f"port={port}\nclient=x\nserver=y\npid=1\n{envkey}\n")
    r = box.sh("-c", "rm -rf ~")
    assert r.returncode == 126 and box.alive()
    assert "restarting" in r.stderr


def test_dash_c_loads_neither_the_repl_nor_the_analysis_when_the_analyzer_runs(box: Box) -> None:
    box.sh("-c", "true")
    wait_for_analyzer(box)
    r = box.sh("-c", "true", env={"PYTHONPROFILEIMPORTTIME": "1"})
    assert r.returncode == 0
    loaded = r.stderr
    assert "vgshell.shell.guard" in loaded  # the measurement worked
    for heavy in ("prompt_toolkit", "bashlex", "yaml", "vgshell.analyzer", "vgshell.shell.repl"):
        assert heavy not in loaded, heavy


def test_a_sandboxed_dash_c_gets_its_own_whitelisted_environment(box: Box) -> None:
    (box.project / "vectra-guard.yaml").write_text(BWRAP_CONFIG)
    box.sh("-c", "true")
    wait_for_analyzer(box)  # started with box.env: its PATH is not the one below
    path = f"/opt/agent-venv/bin:{box.env['PATH']}"
    r = box.sh("-c", 'echo "${PATH%%:*}" "${NOT_WHITELISTED-unset}"', env={"PATH": path, "NOT_WHITELISTED": "x"})
    assert r.stdout == "/opt/agent-venv/bin unset\n", r.stderr


@pytest.mark.parametrize(("key", "status", "ran"), [("n", 126, False), ("y", 0, True)])
def test_dash_c_at_a_terminal_asks_and_runs_only_on_yes(box: Box, key: str, status: int, ran: bool) -> None:
    import pexpect

    (box.project / "vectra-guard.yaml").write_text("sandbox:\n  mode: never\n")
    child = pexpect.spawn(VGSHELL, ["-c", "alias rr=rm; touch asked-and-ran"], env=box.env, cwd=str(box.project),
                          encoding="utf-8", timeout=30)
    child.expect("yes, and remember")
    child.send(key + "\r")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == status
    assert (box.project / "asked-and-ran").exists() is ran
