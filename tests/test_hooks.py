"""The bash and zsh hooks in real interactive shells on a real PTY (pexpect), with the real analyzer.

Every row types lines the way a user does and checks what ran (files, output), `$?` and history.
The marker printed by PROMPT_COMMAND / precmd after each line doubles as a stand-in for other prompt
hooks the vgshell hook must live with.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest

ROOT = Path(__file__).resolve().parents[1]
HOOKS = ROOT / "vgshell" / "hooks"
SHELLS = ["bash", "zsh"]
ANSI = re.compile(r"\x1b\[[?0-9;]*[a-zA-Z]|\x1b\][^\x07]*\x07|[\x08]")
DONE = r"@@DONE (-?\d+)@@"
SANDBOX_CONFIG = ("sandbox:\n  mode: auto\n  security_level: permissive\n  network_mode: none\n"
                  "  runtime: bubblewrap\n")


def vg_bin() -> str:
    found = Path(sys.executable).with_name("vg")
    return str(found) if found.exists() else "vg"


class Shell:
    """An interactive bash or zsh with the hook loaded, in a temporary $HOME."""

    def __init__(self, kind: str, tmp: Path, *, extra_rc: str = "", env: dict[str, str] | None = None,
                 config: str = SANDBOX_CONFIG, vg: str | None = None, rules: str = "",
                 after_rc: str = "") -> None:
        self.kind = kind
        self.home = tmp / "home"
        self.project = self.home / "project"
        self.project.mkdir(parents=True)
        self.state = tmp / "state"
        self.state.mkdir(mode=0o700)
        (self.state / "config.yaml").write_text(config)  # the user's own config: a project file only tightens
        if rules:  # a user rule pack, in place before the analyzer starts
            (self.state / "rules").mkdir(mode=0o700)
            (self.state / "rules" / "test.yaml").write_text(rules)
        self.env = {"PATH": f"{Path(vg_bin()).parent}:{os.environ['PATH']}", "HOME": str(self.home),
                    "VG_HOME": str(self.state), "TERM": "xterm", "LANG": "C.UTF-8", "INPUTRC": "/dev/null",
                    **(env or {})}
        rc = self.home / (".bashrc" if kind == "bash" else ".zshrc")
        marker = ("PROMPT_COMMAND='printf \"@@DONE %s@@\\n\" $?'" if kind == "bash"
                  else "precmd() { print \"@@DONE $?@@\" }")
        rc.write_text(f"PS1='$ '\n{marker}\nHISTSIZE=1000\n{extra_rc}\n"
                      f"VG_BIN={vg or vg_bin()}\nsource {HOOKS / ('vg.' + kind)}\n{after_rc}\n")
        self.argv = ["bash", "--rcfile", str(rc), "-i"] if kind == "bash" else ["zsh", "-i"]
        if kind == "zsh":
            self.env["ZDOTDIR"] = str(self.home)
        self.start()

    def start(self) -> None:
        self.child = pexpect.spawn(self.argv[0], self.argv[1:], env=self.env, cwd=str(self.project),
                                   encoding="utf-8", timeout=30, dimensions=(40, 200))
        self.child.expect(DONE)

    def run(self, line: str, timeout: float = 30) -> tuple[int, str]:
        """Type a line (\r between physical lines) and Enter; the status and what the terminal showed."""
        self.child.send(line + "\r")
        self.child.expect(DONE, timeout=timeout)
        status = int(self.child.match.group(1))
        return status, ANSI.sub("", self.child.before).replace("\r", "")

    def answer(self, line: str, key: str) -> int:
        """Type a line that is asked about, answer the prompt with `key`; the line's status."""
        self.child.send(line + "\r")
        self.child.expect("yes, and remember")
        self.child.send(key + "\r")
        self.child.expect(DONE)
        return int(self.child.match.group(1))

    def history(self, n: int = 5) -> str:
        return self.run(f"history {n}" if self.kind == "bash" else f"fc -l -{n}")[1]

    def analyzer_pid(self) -> int:
        text = (self.state / "analyzer.env").read_text()
        return int(re.search(r"^pid=(\d+)$", text, re.M).group(1))  # type: ignore[union-attr]

    def close(self) -> None:
        self.child.sendline("exit")
        self.child.close(force=True)
        subprocess.run([vg_bin(), "analyzer", "stop"], env=self.env, capture_output=True, check=False)


@pytest.fixture(params=SHELLS)
def shell(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Shell]:
    sh = Shell(request.param, tmp_path)
    yield sh
    sh.close()


def test_host_lines_keep_status_aliases_functions_cd_export_and_history(shell: Shell) -> None:
    assert shell.run("alias hi='echo alias-ok'")[0] == 0
    assert "alias-ok" in shell.run("hi")[1]
    shell.run("greet() { echo fn-$1; }")
    assert "fn-ok" in shell.run("greet ok")[1]
    shell.run("cd /tmp")
    assert "\n/tmp\n" in shell.run("pwd")[1]
    shell.run("export VG_TEST_VAR=exported")
    assert "exported" in shell.run("sh -c 'echo $VG_TEST_VAR'")[1]
    assert shell.run("false")[0] == 1
    assert shell.run("(exit 7)")[0] == 7
    assert "\n7\n" in shell.run("(exit 7); echo $?")[1]
    assert "greet ok" in shell.history(12)


def test_job_control_works_for_host_lines(shell: Shell) -> None:
    shell.run("sleep 30 &")
    assert "sleep 30" in shell.run("jobs")[1]
    shell.child.send("sleep 31\r")
    time.sleep(0.5)
    shell.child.send("\x1a")  # Ctrl-Z stops the foreground job and gives the prompt back
    shell.child.expect(DONE)
    assert int(shell.child.match.group(1)) in (148, 20)
    out = shell.run("jobs")[1]
    assert "sleep 31" in out and re.search(r"[Ss]topped|suspended", out)
    shell.run("kill %1 %2")
    shell.run("true")
    time.sleep(0.3)
    assert "Running" not in shell.run("jobs; true")[1]


BLOCKED = ["FOO=1 rm -rf /", "sudo rm -rf ~", ":(){ :|:& };:", "echo hi; rm -rf /", "touch ran; rm -rf ~"]


@pytest.mark.parametrize("line", BLOCKED)
def test_critical_lines_run_nothing_and_stay_in_history(shell: Shell, line: str) -> None:
    sentinel = shell.home / "sentinel"
    sentinel.write_text("keep")
    status, out = shell.run(line)
    assert status == 126
    assert "Blocked" in out
    assert "\nhi\n" not in out  # the harmless first command did not run either
    assert sentinel.read_text() == "keep"
    assert not (shell.project / "ran").exists()
    assert re.search(r"^126$", shell.run("echo $?")[1], re.M)
    assert line in shell.history(4)
    assert "__vg_" not in shell.history(4)


def test_the_repeated_line_is_judged_again(shell: Shell) -> None:
    shell.run("FOO=1 rm -rf /")
    shell.child.send("!!\r")  # history expansion is shown for editing first …
    shell.child.expect_exact("rm -rf /")
    time.sleep(0.3)
    shell.child.send("\r")  # … and judged on the next Enter
    shell.child.expect("Blocked")
    shell.child.expect(DONE)
    assert int(shell.child.match.group(1)) == 126


def test_multi_line_input_and_heredocs_are_judged_whole(shell: Shell) -> None:
    status, out = shell.run("echo 'first\rsecond'")
    assert status == 0 and "first\nsecond" in out
    status, out = shell.run("bash <<'EOF'\rtouch ran\rrm -rf /\rEOF")
    assert status == 126 and "Blocked" in out
    assert not (shell.project / "ran").exists()
    status, out = shell.run("cat <<'EOF'\rrm -rf / is only text here\rEOF")
    assert status == 0 and "rm -rf / is only text here" in out


def test_a_sandboxed_line_runs_in_the_sandbox_and_history_keeps_it(shell: Shell) -> None:
    (shell.home / "secret.txt").write_text("top-secret")
    line = "curl -s https://example.invalid/x; cat ~/secret.txt; echo inside=$VG_SANDBOX; echo made > out.txt"
    status, out = shell.run(line)
    assert "Running in sandbox (bubblewrap" in out, out
    assert "inside=1" in out and "top-secret" not in out
    assert (shell.project / "out.txt").read_text() == "made\n"
    assert (shell.project / "out.txt").stat().st_uid == os.getuid()
    assert line in shell.history(3)
    assert status != 126


def test_a_sandboxed_line_cannot_type_into_the_shell(shell: Shell) -> None:
    inject = ("curl -s https://example.invalid/x; python3 -c 'import fcntl,termios\nfor c in \"touch pwned\\n\": "
              "fcntl.ioctl(0, termios.TIOCSTI, c.encode())'")
    shell.run(inject)
    shell.run("true")
    assert not (shell.project / "pwned").exists()


def test_the_analyzer_killed_mid_session_warns_once_and_still_blocks(shell: Shell) -> None:
    shell.run("true")
    os.kill(shell.analyzer_pid(), signal.SIGKILL)
    status, out = shell.run("rm -rf ~")
    assert status == 126
    assert out.count("not answering") == 1
    status, out = shell.run("echo still-here")
    assert "still-here" in out and "not answering" not in out
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            os.kill(shell.analyzer_pid(), 0)
            break
        except (OSError, AttributeError):
            time.sleep(0.2)
    else:
        pytest.fail("the analyzer did not come back")
    assert "Blocked" in shell.run("FOO=1 rm -rf /")[1]


def test_vg_off_keeps_critical_blocked_and_vg_on_restores(shell: Shell) -> None:
    shell.run("vg off")
    assert "vgshell: off in this shell" in shell.run("vg status")[1]
    out = shell.run("curl -s https://example.invalid/x; echo host-ran=${VG_SANDBOX:-yes}")[1]
    assert "host-ran=yes" in out and "guard off" in out
    assert shell.run("rm -rf ~")[0] == 126
    shell.run("vg on")
    assert "Running in sandbox" in shell.run("curl -s https://example.invalid/x; true")[1]
    assert "on in this shell" in shell.run("vg status")[1]


def test_vg_mode_changes_this_shell_only(shell: Shell) -> None:
    shell.run("vg mode always")
    assert "inside=1" in shell.run("echo inside=$VG_SANDBOX")[1]
    shell.run("vg mode never")
    assert "inside=\n" in shell.run("curl -s https://example.invalid/x; echo inside=$VG_SANDBOX")[1]


@pytest.mark.parametrize("kind", SHELLS)
def test_vg_disable_keeps_the_hook_out(kind: str, tmp_path: Path) -> None:
    sh = Shell(kind, tmp_path, env={"VG_DISABLE": "1"})
    try:
        out = sh.run("type __vg_judge __vg_accept_line 2>&1; echo status-$?")[1]
        assert "status-1" in out
        assert not (sh.state / "analyzer.env").exists()
    finally:
        sh.close()


APPROVAL = ("guard_level:\n  level: high\nsandbox:\n  mode: never\n")
ASKED = "curl -s https://example.invalid/x; touch approved"  # medium: asked at guard level high


@pytest.mark.parametrize("kind", SHELLS)
def test_the_ask_prompt_runs_on_yes_and_refuses_on_no(kind: str, tmp_path: Path) -> None:
    sh = Shell(kind, tmp_path, config=APPROVAL)
    try:
        assert sh.answer(ASKED, "n") == 126 and not (sh.project / "approved").exists()
        assert sh.answer(ASKED, "y") == 0
        assert (sh.project / "approved").exists()
    finally:
        sh.close()


@pytest.mark.parametrize("kind", SHELLS)
def test_coexists_with_other_prompt_and_preexec_hooks(kind: str, tmp_path: Path) -> None:
    """A stand-in for bash-preexec / VS Code / Cursor shell integration: DEBUG trap or preexec, PS0, OSC 633."""
    if kind == "bash":
        rc = ("__other_preexec() { [[ $BASH_COMMAND == __vg_* || $BASH_COMMAND == *@@DONE* ]] || "
              "printf 'PREEXEC<%s>\\n' \"$BASH_COMMAND\"; }\ntrap '__other_preexec' DEBUG\n"
              "PS0='\\[\\e]633;C\\a\\]'\nPS1='\\[\\e]633;A\\a\\]$ \\[\\e]633;B\\a\\]'\n"
              "[ -f /usr/share/bash-completion/bash_completion ] && . /usr/share/bash-completion/bash_completion\n")
    else:
        rc = ("preexec() { print -r -- \"PREEXEC<$1>\" }\n"
              "source /usr/share/zsh-autosuggestions/zsh-autosuggestions.zsh\n"
              "source /usr/share/zsh-syntax-highlighting/zsh-syntax-highlighting.zsh\n")
    sh = Shell(kind, tmp_path, extra_rc=rc)
    try:
        out = sh.run("echo coexist")[1]
        assert "PREEXEC<echo coexist>" in out and "\ncoexist\n" in out
        status, out = sh.run("FOO=1 rm -rf /")
        assert status == 126 and "Blocked" in out
        assert "(exit 3)" in sh.run("(exit 3)")[1] or sh.run("(exit 3)")[0] == 3
    finally:
        sh.close()


def test_the_hook_scripts_pass_their_linters() -> None:
    if shutil.which("shellcheck") is None:
        pytest.fail("shellcheck is not installed: scripts/setup-test-host.sh installs it")
    r = subprocess.run(["shellcheck", "-x", "-s", "bash", str(HOOKS / "vg.bash")], capture_output=True, text=True,
                       cwd=HOOKS)
    assert r.returncode == 0, r.stdout
    r = subprocess.run(["zsh", "-n", str(HOOKS / "vg.zsh")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("kind", SHELLS)
def test_vg_init_prints_lines_that_load_the_hook(kind: str) -> None:
    r = subprocess.run([vg_bin(), "init", kind], capture_output=True, text=True, check=True)
    assert f"hooks/vg.{kind}" in r.stdout and "VG_BIN=" in r.stdout


@pytest.mark.parametrize("kind", SHELLS)
def test_r_is_remembered_and_the_same_line_then_runs_without_asking(kind: str, tmp_path: Path) -> None:
    sh = Shell(kind, tmp_path, config=APPROVAL)
    try:
        assert sh.answer(ASKED, "r") == 0
        assert (sh.project / "approved").exists()
        (sh.project / "approved").unlink()
        status, out = sh.run(ASKED)
        assert status == 0
        assert "yes, and remember" not in out and "trusted (approved" in out
        assert (sh.project / "approved").exists()
        time.sleep(0.5)
        listed = subprocess.run([vg_bin(), "trust", "list", "--json"], env=sh.env, capture_output=True, text=True,
                                check=True)
        assert [e["use_count"] for e in json.loads(listed.stdout)["entries"]] == [1]  # the trusted run counted
    finally:
        sh.close()


def test_hook_decisions_are_recorded_under_the_shell_session(shell: Shell) -> None:
    shell.run("echo recorded-line")
    shell.run("rm -rf ~")
    shell.run("curl -s https://example.invalid/x; true")  # sandboxed: recorded once it has finished
    time.sleep(0.5)
    r = subprocess.run([vg_bin(), "audit", "--json"], env=shell.env, capture_output=True, text=True, check=True)
    rows = {row["command"]: row for row in json.loads(r.stdout)}
    assert rows["echo recorded-line"]["outcome"] == "host"
    assert rows["rm -rf ~"]["decision"] == "block" and rows["rm -rf ~"]["exit_status"] == 126
    sandboxed = rows["curl -s https://example.invalid/x; true"]
    assert sandboxed["outcome"] == "sandbox" and sandboxed["runtime"] == "bubblewrap"
    assert sandboxed["duration_ms"] is not None
    assert {row["session"] for row in rows.values()} == {rows["rm -rf ~"]["session"]}
    assert rows["rm -rf ~"]["session"].startswith(shell.kind + "-")


CHECKED = ["ls -la", "rm -rf /", "npm install express", "curl https://x.invalid | sh", "git commit -m 'rm -rf /'"]


def test_vg_check_uses_the_running_analyzer_and_answers_the_same(tmp_path: Path) -> None:
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "VG_HOME": str(tmp_path / "state"), "LANG": "C.UTF-8"}
    argv = [sys.executable, "-X", "importtime", "-m", "vgshell.cli", "check", "--json"]
    alone = {c: subprocess.run([*argv, c], env=env, capture_output=True, text=True, cwd=tmp_path) for c in CHECKED}
    assert all("vgshell.risk.engine" in r.stderr for r in alone.values())  # judged in-process: rules loaded
    subprocess.run([vg_bin(), "analyzer", "start"], env=env, check=True, capture_output=True)
    try:
        for c in CHECKED:
            r = subprocess.run([*argv, c], env=env, capture_output=True, text=True, cwd=tmp_path)
            assert "vgshell.risk.engine" not in r.stderr, c  # the analyzer answered
            assert json.loads(r.stdout) == json.loads(alone[c].stdout)
            assert r.returncode == alone[c].returncode
        other = subprocess.run([*argv, "ls"], env={**env, "VG_MODE": "always"}, capture_output=True, text=True,
                               cwd=tmp_path)
        assert "vgshell.risk.engine" in other.stderr  # a different VG_* environment is judged in-process
    finally:
        subprocess.run([vg_bin(), "analyzer", "stop"], env=env, capture_output=True)


@pytest.mark.parametrize("kind", SHELLS)
def test_a_broken_install_leaves_a_plain_shell_that_still_refuses_the_worst(kind: str, tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "vg").symlink_to(vg_bin())
    shell = Shell(kind, tmp_path, vg=str(bin_dir / "vg"))
    try:
        _broken_install(shell, bin_dir / "vg")
    finally:
        shell.close()


def _broken_install(shell: Shell, vg: Path) -> None:
    shell.run("true")
    vg.unlink()  # vg uninstalled under a running shell
    os.kill(shell.analyzer_pid(), signal.SIGKILL)
    status, out = shell.run("rm -rf ~")
    assert status == 126 and "last-resort" in out
    assert "cannot be found; the hook is off" in out
    status, out = shell.run("echo plain-shell")
    assert status == 0 and "plain-shell" in out and "vgshell" not in out
    assert (shell.home / "project").exists()


# --------------------------------------------------------------------------------------- under attack
# Rows found by an adversarial review of the hooks: each is a way a typed line got past the judge.

def settle(shell: Shell) -> None:
    """Clear whatever is left on the line and wait for a fresh prompt."""
    time.sleep(0.8)
    shell.child.send("\x03")
    shell.run("true")


def home_survived(shell: Shell) -> bool:
    return (shell.home / "sentinel").exists()


OTHER_ACCEPT_KEYS = {
    "bash": ["\x18\x169", "\x0f", "\x18\x05"],  # the hook's own second key, operate-and-get-next, edit-and-run
    "zsh": ["\x1ba", "\x0f"],  # accept-and-hold, accept-line-and-down-history
}


@pytest.mark.parametrize(("kind", "key"), [(k, key) for k, keys in OTHER_ACCEPT_KEYS.items() for key in keys])
def test_keys_that_accept_a_line_go_through_the_judge_too(kind: str, key: str, tmp_path: Path) -> None:
    sh = Shell(kind, tmp_path, extra_rc="export VISUAL=true EDITOR=true")
    try:
        (sh.home / "sentinel").write_text("keep")
        sh.child.send("rm -rf ~" + key)
        settle(sh)
        assert home_survived(sh)
    finally:
        sh.close()


REPLAYS = [
    ["echo rm -rf ~", "!!:1-3"],
    ["echo rm -rf ~", "^echo ^"],
    ["echo rm -rf ~", "!-1:1-3"],
]


@pytest.mark.parametrize("lines", REPLAYS, ids=[r[-1] for r in REPLAYS])
def test_history_expansion_is_judged_as_what_it_expands_to(shell: Shell, lines: list[str]) -> None:
    (shell.home / "sentinel").write_text("keep")
    for line in lines[:-1]:
        shell.run(line)
    shell.child.send(lines[-1] + "\r")  # expanded and put back on the line, not run
    shell.child.expect_exact("rm -rf ~")
    time.sleep(0.3)
    shell.child.send("\r")  # Enter again: now the expanded line is judged
    shell.child.expect("Blocked")
    settle(shell)
    assert home_survived(shell)


TAMPERING = {
    "bash": ["__vg_judge() { :; }", "read() { :; }", "bind -x '\"\\C-x\\C-v1\": :'", "__vg_a_action=host",
             "VG_BIN=/bin/true", "printf 'VG1 %s s shell=bash 1 4\\n/true' \"$__vg_ctok\" >&$__vg_fd",
             "enable -n read", "fc -s rm"],
    "zsh": ["__vg_query() { __vg_a_action=host; }", "__vg_line='rm -rf ~'; __vg_a_action=host",
            "VG_BIN=/bin/true", "zle -N accept-line .accept-line", "r rm", "noglob rm -rf ~", "=rm -rf ~"],
}


@pytest.mark.parametrize(("kind", "line"), [(k, line) for k, lines in TAMPERING.items() for line in lines])
def test_lines_that_would_switch_the_judge_off_are_refused(kind: str, line: str, tmp_path: Path) -> None:
    sh = Shell(kind, tmp_path)
    try:
        (sh.home / "sentinel").write_text("keep")
        sh.run("rm -rf ~")  # a blocked line in history, for the replays
        status, out = sh.run(line)
        assert status == 126 and "Blocked" in out, out
        status, out = sh.run("rm -rf ~")
        assert status == 126
        assert home_survived(sh)
    finally:
        sh.close()


def test_an_alias_for_a_destructive_program_never_reaches_the_shell(shell: Shell) -> None:
    (shell.home / "sentinel").write_text("keep")
    assert shell.answer("alias rr=rm", "n") == 126  # high: asked about, and refused
    shell.run("rr -rf ~")
    assert home_survived(shell)


def test_a_sandboxed_line_works_in_the_real_directory_not_the_claimed_one(shell: Shell) -> None:
    shell.run("PWD=/")
    shell.run("vg mode always")
    shell.run("echo here > where.txt")
    assert (shell.project / "where.txt").read_text() == "here\n"


def test_the_analyzer_refuses_a_line_too_long_to_judge(tmp_path: Path) -> None:
    from vgshell import client

    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "VG_HOME": str(tmp_path / "state")}
    subprocess.run([vg_bin(), "analyzer", "start"], env=env, check=True, capture_output=True)
    try:
        data = client.check("echo " + "a" * 300_000 + "; rm -rf ~", str(tmp_path), env, False)
        assert data is not None and data["decision"] == "block"
    finally:
        subprocess.run([vg_bin(), "analyzer", "stop"], env=env, capture_output=True)


def test_a_hung_analyzer_costs_one_timeout_and_is_replaced(shell: Shell) -> None:
    shell.run("true")
    hung = shell.analyzer_pid()
    os.kill(hung, signal.SIGSTOP)
    try:
        status, out = shell.run("rm -rf ~")
        assert status == 126 and "not answering" in out
        start = time.monotonic()
        status, out = shell.run("echo next-line")
        assert "next-line" in out
        assert time.monotonic() - start < 4.5  # judged the slow way at once, not after another 5 s wait
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError, AttributeError):
                if shell.analyzer_pid() != hung:
                    break
            time.sleep(0.2)
        assert shell.analyzer_pid() != hung  # `vg analyzer start` replaced the one that does not answer
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(hung, signal.SIGKILL)


def test_a_config_edited_while_the_shell_runs_applies_to_the_next_line(shell: Shell) -> None:
    assert "inside=\n" in shell.run("echo inside=$VG_SANDBOX")[1]
    time.sleep(0.05)  # a new modification time
    (shell.project / "vectra-guard.yaml").write_text(SANDBOX_CONFIG.replace("mode: auto", "mode: always"))
    assert "inside=1" in shell.run("echo inside=$VG_SANDBOX")[1]
