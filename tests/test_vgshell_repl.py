"""The interactive vgshell in a real PTY (pexpect; pyte where the screen's layout matters), with the real
analyzer, the session's real bash and real bubblewrap. Lines are typed as a user types them; what ran is
proven by files, namespaces, statuses and the screen, never by a notice.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pyte
import pytest

VGSHELL = str(Path(sys.executable).with_name("vgshell"))
VG = str(Path(sys.executable).with_name("vg"))
PROMPT = r"\$ ?(\x1b\[[0-9;?]*[a-zA-Z])*\x1b\[\?25h"
MORE = r">\x08?(\x1b\[[0-9;?]*[a-zA-Z])*\x1b\[\?25h"  # the continuation prompt
PRIVATE_SGR = re.compile(r"\x1b\[[?>][0-9;]*m")
ANSI = re.compile(r"\x1b\[[?0-9;]*[a-zA-Z]|\x1b\][^\x07]*\x07|\x08|\r")
BWRAP_CONFIG = "sandbox:\n  mode: auto\n  network_mode: none\n  runtime: bubblewrap\n"
ROWS, COLS = 30, 120


class Repl:
    """vgshell on a PTY in a throw-away HOME (with a canary) whose project is a git repository."""

    def __init__(self, tmp: Path, args: tuple[str, ...] = (), config: str = BWRAP_CONFIG) -> None:
        self.home = tmp / "home"
        self.project = self.home / "project"
        self.project.mkdir(parents=True)
        (self.project / "vectra-guard.yaml").write_text(config)
        self.canary = self.home / "canary"
        self.canary.write_text("alive")
        self.state = tmp / "state"
        self.env = {"PATH": f"{Path(VGSHELL).parent}:{os.environ['PATH']}", "HOME": str(self.home),
                    "VG_HOME": str(self.state), "TERM": "xterm", "LANG": "C.UTF-8",
                    "PROMPT_TOOLKIT_NO_CPR": "1"}  # pexpect does not answer cursor-position requests
        subprocess.run(["git", "init", "-q", "-b", "feature-x", str(self.project)], check=True)
        self.screen = pyte.Screen(COLS, ROWS)
        self.stream = pyte.Stream(self.screen)
        self.child = pexpect.spawn(VGSHELL, list(args), env=self.env, cwd=str(self.project), encoding="utf-8",
                                   timeout=30, dimensions=(ROWS, COLS))
        self.child.expect(PROMPT)
        self.feed()

    def feed(self) -> None:
        """What the terminal received, into the pyte screen (less the private SGR pyte cannot take)."""
        self.stream.feed(PRIVATE_SGR.sub("", self.child.before + self.child.after))

    def run(self, line: str, timeout: float = 30) -> str:
        """Type a line and Enter; what the terminal showed until the next prompt (escapes removed)."""
        self.child.send(line + "\r")
        self.child.expect(PROMPT, timeout=timeout)
        self.feed()
        return ANSI.sub("", self.child.before)

    def status(self) -> int:
        out = self.run("echo status=$?")
        return int(re.findall(r"status=(\d+)", out)[-1])

    def output(self, line: str) -> list[str]:
        """The lines a command printed (the echo of the typed line left out)."""
        out = self.run(line).split("\n")
        return [x for x in out[1:] if x.strip()][:-1] if len(out) > 1 else []

    def alive(self) -> bool:
        return self.canary.read_text() == "alive"

    def close(self) -> None:
        if self.child.isalive():
            self.child.sendcontrol("d")
            with contextlib.suppress(pexpect.TIMEOUT):
                self.child.expect(pexpect.EOF, timeout=5)
        self.child.close(force=True)
        subprocess.run([VG, "analyzer", "stop"], env=self.env, capture_output=True, check=False)


@pytest.fixture
def repl(tmp_path: Path) -> Iterator[Repl]:
    r = Repl(tmp_path)
    yield r
    r.close()


def test_bash_state_persists_across_lines(repl: Repl) -> None:
    (repl.project / "sub").mkdir()
    (repl.project / "vars.sh").write_text("FROM_SOURCE=sourced\n")
    repl.run("cd sub")
    assert repl.output("pwd") == [str(repl.project / "sub")]
    repl.run("cd ..")
    repl.run("export GREETING=hello")
    assert repl.output("bash -c 'echo $GREETING'") == ["hello"]
    repl.run("alias hi='echo hi-from-alias'")
    assert repl.output("hi") == ["hi-from-alias"]
    repl.run("twice() { echo \"$1$1\"; }")
    assert repl.output("twice ab") == ["abab"]
    repl.run("source vars.sh")
    assert repl.output("echo $FROM_SOURCE") == ["sourced"]
    repl.run("false")
    assert repl.status() == 1
    repl.run("pushd /tmp >/dev/null")
    repl.run("popd >/dev/null")
    assert repl.output("pwd") == [str(repl.project)]
    repl.run("shopt -s nullglob; set -o noclobber")
    assert repl.output("echo nothing*; shopt -q nullglob && echo on") == ["on"]


def test_a_critical_line_is_blocked_and_the_session_goes_on(repl: Repl) -> None:
    out = repl.run("rm -rf ~")
    assert "Blocked" in out
    assert repl.alive()
    assert repl.status() == 126
    assert repl.output("echo still-here") == ["still-here"]


def test_vg_off_keeps_critical_blocked_and_vg_mode_sends_lines_to_the_sandbox(repl: Repl) -> None:
    host = os.readlink("/proc/self/ns/mnt")
    repl.run("vg off")
    repl.run("rm -rf ~")
    assert repl.alive()
    repl.run("vg on")
    repl.run("vg mode always")
    assert "vg:always" in repl.screen.display[repl.screen.cursor.y]
    assert repl.output("readlink /proc/self/ns/mnt") != [host]
    repl.run("vg mode")
    assert repl.output("readlink /proc/self/ns/mnt") == [host]
    assert "mode from config" in repl.run("vg status")


def test_a_sandboxed_line_runs_in_the_sandbox_in_the_sessions_directory(repl: Repl) -> None:
    (repl.project / "sub").mkdir()
    repl.run("cd sub")
    repl.run("vg mode always")
    repl.run("readlink /proc/self/ns/mnt > ns.txt; echo gone > ~/canary")
    assert (repl.project / "sub" / "ns.txt").read_text().strip() != os.readlink("/proc/self/ns/mnt")
    assert repl.alive()  # outside the project nothing was written
    repl.run("(exit 4)")
    assert "[4] vg:always $" in repl.screen.display[repl.screen.cursor.y]  # the sandbox's status is the line's


def test_vim_opens_takes_keys_quits_and_the_screen_is_restored(tmp_path: Path) -> None:
    """In tmux (a terminal with an alternate screen, which pyte lacks): what was on the screen before vim is
    on it again after vim quits, and vim wrote what was typed into it."""
    r = Repl(tmp_path)  # for its HOME, project and config; the shell under test runs in tmux
    r.close()
    sock = str(tmp_path / "tmux.sock")
    env = {**r.env, "TERM": "xterm-256color"}
    tmux = ["tmux", "-S", sock]
    subprocess.run([*tmux, "-f", "/dev/null", "new-session", "-d", "-x", "100", "-y", "30", "-c", str(r.project),
                    VGSHELL], env=env, check=True)

    def screen() -> str:
        return subprocess.run([*tmux, "capture-pane", "-p"], capture_output=True, text=True, check=True).stdout

    def wait_for(text: str) -> None:
        deadline = time.monotonic() + 30
        while text not in screen():
            assert time.monotonic() < deadline, screen()
            time.sleep(0.1)

    try:
        wait_for("$")
        subprocess.run([*tmux, "send-keys", "echo before-vim", "Enter"], check=True)
        wait_for("before-vim\n")
        subprocess.run([*tmux, "send-keys", "vim -u NONE -N notes.txt", "Enter"], check=True)
        wait_for('"notes.txt" [New')
        assert "before-vim" not in screen()  # vim has the whole screen
        subprocess.run([*tmux, "send-keys", "i", "hello from vim", "Escape"], check=True)
        time.sleep(0.5)
        subprocess.run([*tmux, "send-keys", ":wq", "Enter"], check=True)
        deadline = time.monotonic() + 30
        while not (r.project / "notes.txt").exists():
            assert time.monotonic() < deadline
            time.sleep(0.1)
        wait_for("before-vim\n")
        assert "notes.txt" not in screen().split("before-vim", 1)[1].replace("vim -u NONE -N notes.txt", "")
        assert (r.project / "notes.txt").read_text() == "hello from vim\n"
    finally:
        subprocess.run([*tmux, "kill-server"], capture_output=True, check=False)
        subprocess.run([VG, "analyzer", "stop"], env=r.env, capture_output=True, check=False)


def test_ctrl_c_stops_the_command_not_the_shell(repl: Repl) -> None:
    repl.child.send("echo started; sleep 100\r")
    repl.child.expect("started\r\n")
    time.sleep(0.2)
    started = time.monotonic()
    repl.child.sendintr()
    repl.child.expect(PROMPT, timeout=5)
    assert time.monotonic() - started < 1.0
    assert repl.status() == 130
    assert repl.output("echo alive") == ["alive"]


def test_ctrl_z_fg_and_jobs(repl: Repl) -> None:
    repl.child.send("echo started; sleep 100\r")
    repl.child.expect("started\r\n")
    time.sleep(0.2)
    repl.child.sendcontrol("z")
    repl.child.expect(PROMPT)
    assert "Stopped" in repl.run("jobs")
    repl.child.send("fg\r")
    repl.child.expect("sleep 100")
    time.sleep(0.3)
    repl.child.sendintr()
    repl.child.expect(PROMPT)
    assert "sleep" not in repl.run("jobs").split("\n", 1)[1]  # the job is gone


def test_the_python_repl_gets_the_terminal(repl: Repl) -> None:
    repl.child.send("python3 -q\r")
    repl.child.expect(">>> ")
    repl.child.send("6 * 7\r")
    repl.child.expect("42")
    repl.child.expect(">>> ")
    repl.child.sendcontrol("d")
    repl.child.expect(PROMPT)
    assert repl.output("echo back") == ["back"]


def test_ctrl_d_exits_with_the_last_status(repl: Repl) -> None:
    repl.run("(exit 3)")
    repl.child.sendcontrol("d")
    repl.child.expect(pexpect.EOF)
    repl.child.close()
    assert repl.child.exitstatus == 3


def test_exit_n_ends_the_shell_with_n(repl: Repl) -> None:
    repl.child.send("exit 9\r")
    repl.child.expect(pexpect.EOF)
    repl.child.close()
    assert repl.child.exitstatus == 9


def test_the_prompt_shows_cwd_branch_status_and_guard(repl: Repl) -> None:
    repl.run("true")
    line = repl.screen.display[repl.screen.cursor.y]
    assert line.startswith("~/project (feature-x) $")
    repl.run("false")
    assert "~/project (feature-x) [1]" in repl.screen.display[repl.screen.cursor.y]
    repl.run("cd /")
    repl.run("vg off")
    assert repl.screen.display[repl.screen.cursor.y].startswith("/ vg:off $")


def test_multi_line_input_while_the_buffer_is_incomplete(repl: Repl) -> None:
    repl.child.send("if true; then\r")
    repl.child.expect(MORE)
    repl.child.send("echo inside\r")
    repl.child.expect(MORE)
    out = repl.run("fi")
    assert "inside" in out
    repl.child.send("cat <<EOF\r")
    repl.child.expect(MORE)
    repl.child.send("heredoc body\r")
    repl.child.expect(MORE)
    assert "heredoc body" in repl.run("EOF")
    assert "\na<<b\n" in repl.run('echo "a<<b"')  # `<<` in quotes: complete, runs at once
    repl.child.send("echo 'open\r")
    repl.child.expect(MORE)
    assert "open\nquote" in repl.run("quote'")


def test_history_is_kept_in_the_state_directory(repl: Repl) -> None:
    repl.run("echo remembered-line")
    history = (repl.state / "history").read_text()
    assert "echo remembered-line" in history
    assert (repl.state / "history").stat().st_mode & 0o777 == 0o600
    repl.child.sendcontrol("r")
    repl.child.send("remembered")
    repl.child.expect("I-search backward")
    time.sleep(0.5)
    repl.child.send("\r")
    repl.child.expect(PROMPT)
    assert "\nremembered-line\n" in ANSI.sub("", repl.child.before)  # the line found ran


def test_completion_offers_session_functions_and_vg_subcommands(repl: Repl) -> None:
    repl.run("myveryownfunc() { echo called-own; }")
    repl.child.send("myveryown\t")
    repl.child.expect("myveryownfunc")
    assert "called-own" in repl.run("")
    repl.child.send("vg sta\t")
    repl.child.expect("status")
    assert "analyzer" in repl.run("")


def test_a_dead_analyzer_is_restarted_once_and_critical_stays_blocked(repl: Repl) -> None:
    repl.run("true")
    for _ in range(200):
        if (repl.state / "analyzer.env").exists():
            break
        time.sleep(0.05)
    pid = int(re.search(r"^pid=(\d+)$", (repl.state / "analyzer.env").read_text(), re.M).group(1))  # type: ignore[union-attr]
    os.kill(pid, signal.SIGKILL)
    out = repl.run("rm -rf ~")
    assert "restarting" in out and "Blocked" in out
    assert repl.alive()
    assert repl.output("echo works") == ["works"]


def test_a_login_shell_reads_the_profile(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / ".bash_profile").write_text("export FROM_PROFILE=login\n")
    (home / ".bashrc").write_text("export FROM_RC=rc\n")
    r = Repl(tmp_path, ("-l",))
    try:
        assert r.output("echo ${FROM_PROFILE:-none} ${FROM_RC:-none}") == ["login none"]
    finally:
        r.close()


@pytest.mark.parametrize(("mode", "where", "defined"), [("never", "on the host, in this shell", True),
                                                      ("auto", "in the sandbox", False)])
def test_a_line_asked_about_runs_where_the_prompt_says_on_yes_and_not_on_no(repl: Repl, mode: str, where: str,
                                                                             defined: bool) -> None:
    repl.run(f"vg mode {mode}")
    repl.child.send("alias rr=rm\r")
    repl.child.expect("yes, and remember")
    repl.child.send("n\r")
    repl.child.expect(PROMPT)
    assert repl.status() == 126
    assert "not found" in repl.run("type rr")
    repl.child.send("alias rr=rm\r")
    repl.child.expect("yes, and remember")
    assert f"y or r runs it {where}" in ANSI.sub("", repl.child.before)
    repl.child.send("y\r")
    repl.child.expect(PROMPT)
    # on the host it ran in the session's own bash; in the sandbox it changed nothing here
    assert ("aliased to `rm'" in repl.run("type rr")) is defined


@pytest.mark.parametrize("mode", ["auto", "always"])
def test_resizes_reach_the_running_program_and_ctrl_c_stops_it(repl: Repl, mode: str) -> None:
    """On the host and in the sandbox: SIGWINCH and the new size reach the program; Ctrl-C ends it (130)."""
    repl.run(f"vg mode {mode}")
    program = ("import os, signal, time; signal.signal(signal.SIGWINCH, lambda *a: print('size', "
               "os.get_terminal_size(0).lines, os.get_terminal_size(0).columns, flush=True)); "
               "print('ready', flush=True); time.sleep(60)")
    repl.child.send(f'python3 -c "{program}"\r')
    repl.child.expect("ready\r\n")
    time.sleep(0.3)
    repl.child.setwinsize(33, 101)
    repl.child.expect("size 33 101")
    repl.child.sendintr()
    repl.child.expect(PROMPT, timeout=5)
    repl.feed()
    assert "[130]" in repl.screen.display[repl.screen.cursor.y]


def test_without_a_terminal_dash_i_reads_stdin(tmp_path: Path) -> None:
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "VG_HOME": str(tmp_path / "state")}
    r = subprocess.run([VGSHELL, "-i"], input="echo from-stdin\n", capture_output=True, text=True, env=env,
                       start_new_session=True, timeout=60)  # a new session: no controlling terminal
    assert r.returncode == 0 and r.stdout == "from-stdin\n" and "Traceback" not in r.stderr
    subprocess.run([VG, "analyzer", "stop"], env=env, capture_output=True, check=False)


def test_the_line_being_typed_is_highlighted_as_bash(repl: Repl) -> None:
    time.sleep(1)  # the lexer loads in the background after the first prompt
    repl.child.send('for f in *; do echo "$f"; done')
    time.sleep(1)
    repl.child.expect(r"\x1b\[\?25h")
    data = repl.child.before + repl.child.after
    try:
        repl.child.expect(r"\x1b\[\?25h", timeout=1)
        data += repl.child.before + repl.child.after
    except pexpect.TIMEOUT:
        pass
    repl.stream.feed(PRIVATE_SGR.sub("", data))
    row = repl.screen.buffer[repl.screen.cursor.y]
    text = "".join(row[x].data for x in range(COLS))
    start = text.index("for f in")
    colors = {text[i]: row[i].fg for i in (start, text.index("echo"), text.index('"$f"'))}
    assert colors["f"] == "blue" and colors["e"] == "cyan" and colors['"'] == "green"
    assert row[text.index(" in ") + 1].fg == "blue"


def test_a_sandboxed_line_gets_the_sessions_exports_that_the_whitelist_allows(repl: Repl) -> None:
    repl.run("export PATH=/opt/session-only/bin:$PATH LANG=C.UTF-8 NOT_WHITELISTED=secret")
    repl.run("vg mode always")
    out = repl.output('printf "%s|%s\\n" "${PATH%%:*}" "${NOT_WHITELISTED-unset}"')
    assert out[-1] == "/opt/session-only/bin|unset" and "sandbox" in out[0]


def test_the_users_bashrc_is_read_quietly_and_a_vg_hook_in_it_stays_out(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / ".bashrc").write_text("bind 'set completion-ignore-case on'\nalias ll='echo from-bashrc'\n"
                                  f'eval "$({VG} init bash)"\n')
    r = Repl(tmp_path)
    try:
        assert "warning" not in ANSI.sub("", r.child.before)
        assert r.output("ll") == ["from-bashrc"]
        assert "not found" in r.run("type __vg_judge")  # the hook did not load: vgshell judges itself
    finally:
        r.close()
