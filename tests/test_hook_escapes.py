"""Ways out of the hook (SPEC §10), tried in real bash and zsh on a real PTY with the real analyzer.

Every escape is tried AFTER the line that would prepare it (PROMPT_COMMAND cleared, histverify off, …),
and what proves the outcome is a canary: `touch canary-…` is critical under a rule pack only these tests
install, so a file that appears means a refused line ran. The prompt itself carries the marker the tests
wait for, so a line that clears PROMPT_COMMAND or precmd does not blind them.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.test_hooks import DONE, Shell, vg_bin

CANARY_PACK = """version: 1
category: test-canary
rules:
  - id: test.canary
    level: critical
    reason: a line these tests refuse (it touches a canary)
    match:
      command: [touch]
      args: {any: ["canary*"]}
"""
# The prompt prints the marker, not PROMPT_COMMAND / precmd: the lines under test take those away.
PROMPT_MARK = {
    "bash": "PROMPT_COMMAND=\nPS1='@@DONE $?@@\\n$ '\n",
    "zsh": "unfunction precmd\nPS1=$'@@DONE %?@@\\n$ '\n",
}


class Guarded(Shell):
    """A hooked shell whose analyzer refuses `touch canary*`, with the marker in its prompt."""

    def __init__(self, kind: str, tmp: Path, extra_rc: str = "", env: dict[str, str] | None = None) -> None:
        tmp.mkdir(parents=True, exist_ok=True)
        super().__init__(kind, tmp, extra_rc=PROMPT_MARK[kind] + extra_rc, rules=CANARY_PACK,
                         env={"VISUAL": "true", "EDITOR": "true", **(env or {})})
        self.tries = 0

    def attempt(self, prefix: str, keys: str) -> Path:
        """Type `touch canary-N` (after `prefix`) and `keys`; clear what is left; the canary's path."""
        self.tries += 1
        canary = self.project / f"canary-{self.tries}"
        self.child.send(f"{prefix}touch {canary.name}{keys}")
        settle(self)
        return canary

    def prepare(self, line: str) -> None:
        """Run a line that is not the attack, saying yes if it is asked about (a person approved it)."""
        self.child.send(line + "\r")
        if self.child.expect([DONE, "yes, and remember"]) == 1:
            self.child.send("y\r")
            self.child.expect(DONE)
        assert "Blocked" not in self.child.before, (line, self.child.before)

    def ran(self, line: str) -> str:
        """A line that must not be refused: its output."""
        out = self.run(line)[1]
        assert "Blocked" not in out and "yes, and remember" not in out, (line, out)
        return out


def settle(shell: Shell) -> None:
    """Let whatever the keys did finish, clear the line, and wait for the prompt after a line of ours (the
    prompt carries the marker, so Ctrl-C's fresh prompt must not be taken for it)."""
    time.sleep(0.8)
    shell.child.send("\x03")
    time.sleep(0.2)
    token = time.monotonic_ns() % 10**9
    shell.child.send(f"echo sync-$(({token}+1))\r")
    shell.child.expect_exact(f"sync-{token + 1}")
    shell.child.expect(DONE)


Maker = Callable[..., Guarded]


@pytest.fixture
def make_shell(tmp_path: Path) -> Iterator[Maker]:
    made: list[Guarded] = []

    def make(kind: str, extra_rc: str = "", env: dict[str, str] | None = None) -> Guarded:
        sh = Guarded(kind, tmp_path / f"s{len(made)}", extra_rc=extra_rc, env=env)
        made.append(sh)
        return sh

    yield make
    for sh in made:
        sh.close()


# ------------------------------------------------------------------ every accepting key, after tampering
# (name, typed before the canary line, keys after it). Each key that accepts a line in the default
# keymaps, plus the hook's own second key typed by hand and the ones that would edit and run or uncomment.
ACCEPT_KEYS = {
    "bash": [("enter", "", "\r"), ("ctrl-j", "", "\n"), ("ctrl-o operate-and-get-next", "", "\x0f"),
             ("the hook's second key typed alone", "", "\x18\x169"),
             ("ctrl-x ctrl-e edit-and-execute", "", "\x18\x05"),
             ("M-1 M-# uncomment and accept", "#", "\x1b1\x1b#")],
    "zsh": [("enter", "", "\r"), ("ctrl-j", "", "\n"), ("M-a accept-and-hold", "", "\x1ba"),
            ("ctrl-o accept-line-and-down-history", "", "\x0f"),
            ("M-x accept-and-infer-next-history", "", "\x1bxaccept-and-infer-next-history\r"),
            ("M-x .accept-line", "", "\x1bx.accept-line\r")],
}
VI_KEYS = {
    "bash": [("vi insert enter", "", "\r"), ("vi command enter", "", "\x1b\r"), ("vi command ctrl-j", "", "\x1b\n"),
             ("vi command v edit-and-execute", "", "\x1bv"), ("vi command 1# uncomment and accept", "#", "\x1b1#")],
    "zsh": [("vi insert enter", "", "\r"), ("vi command enter", "", "\x1b\r"),
            ("vi command # pound-insert uncomments and accepts", "#", "\x1b#"),
            ("vi command :.accept-line", "", "\x1b:.accept-line\r")],
}
# Lines a user may type that change what the hook used to lean on. They run (they are not the attack);
# every accepting key must still go through the judge after them.
PREPARING = {
    "bash": ["true", "PROMPT_COMMAND=", "unset PROMPT_COMMAND", "PROMPT_COMMAND=(); PS0=; PS1='@@DONE $?@@\\n$ '",
             "trap - DEBUG; trap '' INT QUIT", "shopt -u histverify"],
    "zsh": ["true", "precmd_functions=(); preexec_functions=()", "unsetopt hist_verify", "trap - DEBUG ZERR",
            "PS1=$'@@DONE %?@@\\n$ '"],
}


@pytest.mark.parametrize(("kind", "preparing"), [(k, p) for k, lines in PREPARING.items() for p in lines])
def test_every_accepting_key_is_judged_after_the_line(kind: str, preparing: str, make_shell: Maker) -> None:
    sh = make_shell(kind)
    sh.prepare(preparing)
    for name, prefix, keys in ACCEPT_KEYS[kind]:
        assert not sh.attempt(prefix, keys).exists(), f"{name} ran a refused line after {preparing!r}"
    assert "Blocked" in sh.run("touch canary-last")[1]  # and Enter still judges


@pytest.mark.parametrize("kind", ["bash", "zsh"])
def test_every_accepting_key_in_vi_mode_is_judged(kind: str, make_shell: Maker) -> None:
    sh = make_shell(kind, extra_rc="set -o vi" if kind == "bash" else "bindkey -v")
    sh.prepare("PROMPT_COMMAND=" if kind == "bash" else "precmd_functions=()")
    for name, prefix, keys in VI_KEYS[kind]:
        assert not sh.attempt(prefix, keys).exists(), f"{name} ran a refused line"


# Keys a user's inputrc binds to the accepting functions (readline is asked which, at start-up).
INPUTRC_KEYS = [("C-t bound to accept-line", "", "\x14"), ("C-x a bound to operate-and-get-next", "", "\x18a"),
                ("M-e bound to edit-and-execute-command", "", "\x1be"),
                ("C-x 1 C-x c: insert-comment with an argument", "#", "\x181\x18c")]


def test_keys_an_inputrc_binds_to_accepting_functions_are_judged(make_shell: Maker, tmp_path: Path) -> None:
    inputrc = tmp_path / "inputrc"
    inputrc.write_text('"\\C-t": accept-line\n"\\C-xa": operate-and-get-next\n"\\ee": edit-and-execute-command\n'
                       '"\\C-xc": insert-comment\n"\\C-x1": digit-argument\n')
    sh = make_shell("bash", env={"INPUTRC": str(inputrc)})
    sh.prepare("PROMPT_COMMAND=")
    for name, prefix, keys in INPUTRC_KEYS:
        assert not sh.attempt(prefix, keys).exists(), f"{name} ran a refused line"
    assert "Blocked" in sh.run("touch canary-last")[1]


@pytest.mark.parametrize("kind", ["bash", "zsh"])
def test_a_comment_toggled_by_its_key_is_judged_as_what_runs(kind: str, make_shell: Maker) -> None:
    """Look-alike benign row: the uncommenting key still works, and what it runs is judged."""
    sh = make_shell(kind, extra_rc="" if kind == "bash" else "bindkey -v")
    keys = "\x1b1\x1b#" if kind == "bash" else "\x1b#"
    sh.child.send("echo comment-$((40+2))" + keys)  # commented out (and so judged harmless)
    sh.child.expect(DONE)
    assert "comment-42" not in sh.child.before


# ------------------------------------------------------------------ history expansion, whatever the options
# (options typed first, replays): each replay brings back the refused `touch canary-N` line.
HISTORY_OPTIONS = {
    "bash": ["true", "shopt -u histverify", "shopt -u histverify histreedit; set -H"],
    "zsh": ["true", "unsetopt hist_verify", "unsetopt hist_verify; setopt bang_hist"],
}
REPLAYS = ["!!", "!touch", "!-1", "!?canary?", "^canary^canary"]


@pytest.mark.parametrize(("kind", "options"), [(k, o) for k, opts in HISTORY_OPTIONS.items() for o in opts])
def test_history_expansion_is_judged_expanded_whatever_the_options(kind: str, options: str,
                                                                    make_shell: Maker) -> None:
    sh = make_shell(kind)
    sh.prepare(options)
    for replay in REPLAYS:
        refused = sh.project / "canary-h"
        status, out = sh.run("touch canary-h")
        assert status == 126 and "Blocked" in out
        sh.child.send(replay + "\r")  # expanded, put back on the line for editing, not run
        sh.child.expect_exact("touch canary-h")
        time.sleep(0.4)
        assert not refused.exists(), f"{replay} after {options!r} ran the refused line"
        sh.child.send("\r")  # Enter again: the expanded line is what is judged
        sh.child.expect("Blocked")
        sh.child.expect(DONE)
        assert not refused.exists()


@pytest.mark.parametrize("kind", ["bash", "zsh"])
def test_another_history_character_is_expanded_before_judging_too(kind: str, make_shell: Maker) -> None:
    sh = make_shell(kind)
    sh.ran("histchars='%^#'")
    sh.run("touch canary-p")
    sh.child.send("%-1\r")
    sh.child.expect_exact("touch canary-p")
    time.sleep(0.4)
    sh.child.send("\r")
    sh.child.expect("Blocked")
    sh.child.expect(DONE)
    assert not (sh.project / "canary-p").exists()


@pytest.mark.parametrize("kind", ["bash", "zsh"])
def test_lines_with_a_bang_that_expands_to_nothing_run_unchanged(kind: str, make_shell: Maker) -> None:
    """Look-alike benign rows: `!` that is not a history event is not held back."""
    sh = make_shell(kind)
    assert "a!b-ok" in sh.ran("echo 'a!b'-ok")
    assert "x != y" in sh.ran("[ x != y ] && echo 'x != y'")
    sh.ran("set +H" if kind == "bash" else "unsetopt bang_hist")
    assert "!!-literal" in sh.ran("echo '!!'-literal; echo !!-literal")


# ------------------------------------------------------------------ lines that switch the hook off in place
TAMPERING = {
    "bash": ["set +o emacs", "set +o vi", "enable -f /tmp/x.so read", "trap 'eval \"$BASH_COMMAND\"' DEBUG",
             "trap 'eval \"$(history 1 | cut -c8-)\"' DEBUG", "bind '\"\\C-x\\C-v0\": redraw-current-line'",
             "alias __vg_refuse='eval \"$(history 1 | cut -c8-)\"'"],
    "zsh": ["unsetopt zle", "setopt no_zle", "set +o zle", "zmodload -u zsh/zle", "disable read",
            "zle -A .accept-line accept-line", "aliases[__vg_do]=eval", "alias __vg_do=eval",
            "functions[__vg_line_finish]=:", "add-zle-hook-widget -d line-finish __vg_line_finish",
            "TRAPZERR() { eval \"$(fc -ln -1)\"; }"],
}


@pytest.mark.parametrize(("kind", "line"), [(k, x) for k, lines in TAMPERING.items() for x in lines])
def test_lines_that_switch_the_hook_off_in_place_are_refused(kind: str, line: str, make_shell: Maker) -> None:
    sh = make_shell(kind)
    status, out = sh.run(line)
    assert status == 126 and "Blocked" in out, out
    for name, prefix, keys in ACCEPT_KEYS[kind][:2]:
        assert not sh.attempt(prefix, keys).exists(), f"{name} after {line!r}"


# ------------------------------------------------------------------ shells that would leave the guard
LEAVING = {
    "bash": ["bash --norc", "bash --rcfile /dev/null", "bash --norc -i", "bash --noediting", "sh", "dash", "sh -i",
             "sh -",
             "env -i bash", "VG_DISABLE=1 bash", "export VG_DISABLE=1", "exec bash --norc", "exec sh",
             "HOME=/tmp bash", "script -qc sh /dev/null", "tmux new-session 'bash --norc'", "busybox sh",
             "python3 -c 'import pty; pty.spawn(\"/bin/sh\")'"],
    "zsh": ["zsh -f", "zsh --no-rcs", "zsh +Z", "sh", "env -i zsh", "VG_DISABLE=1 zsh", "ZDOTDIR=/tmp zsh",
            "exec zsh -f", "screen sh"],
}


@pytest.mark.parametrize(("kind", "line"), [(k, x) for k, lines in LEAVING.items() for x in lines])
def test_a_shell_without_the_hook_is_asked_about_and_no_means_not_run(kind: str, line: str,
                                                                       make_shell: Maker) -> None:
    sh = make_shell(kind)
    sh.child.send(line + "\r")
    sh.child.expect("yes, and remember")
    sh.child.send("n\r")
    sh.child.expect(DONE)
    assert "not run" in sh.child.before
    assert not sh.attempt("", "\r").exists()  # still this guarded shell: the canary line is refused
    assert "pid-" + str(sh.child.pid) in sh.ran("echo pid-$$")


UNATTENDED = LEAVING["bash"] + LEAVING["zsh"]


@pytest.mark.parametrize("line", UNATTENDED)
def test_a_shell_without_the_hook_is_refused_with_no_one_at_the_terminal(line: str, tmp_path: Path) -> None:
    r = subprocess.run([vg_bin(), "check", "--json", line], capture_output=True, text=True,
                       env={**os.environ, "HOME": str(tmp_path), "VG_HOME": str(tmp_path / "state")},
                       stdin=subprocess.DEVNULL, cwd=tmp_path)
    assert '"decision": "block"' in r.stdout, r.stdout
    assert '"guard.' in r.stdout


# Not interactive (a command, a script, piped or redirected input), or a shell that loads the hook from
# the rc files: these must not be asked about (false alarms make people switch the guard off).
STAYING = ["bash -c 'echo ok'", "sh -c 'echo ok'", "dash -c 'echo ok'", "zsh -c 'echo ok'", "env -i bash -c 'echo ok'",
           "echo 'echo ok' | sh", "sh < script.sh", "bash script.sh", "sh script.sh", "bash <<< 'echo ok'",
           "bash -i -c 'echo ok'", "bash --norc -c 'echo ok'", "zsh -f -c 'echo ok'", "script -qc 'echo ok' /dev/null",
           "sh -n script.sh", "set -o vi", "set -o emacs", "shopt -u histverify", "unsetopt hist_verify",
           "PROMPT_COMMAND=", "trap 'history -a' EXIT", "VG_MODE=always vg check ls", "zle -la", "bindkey -L",
           "alias ll='ls -l'", "functions", "typeset -f"]


@pytest.mark.parametrize("line", STAYING)
def test_non_interactive_shells_and_harmless_settings_are_not_asked_about(line: str, tmp_path: Path) -> None:
    (tmp_path / "script.sh").write_text("echo ok\n")
    r = subprocess.run([vg_bin(), "check", "--json", line], capture_output=True, text=True,
                       env={**os.environ, "HOME": str(tmp_path), "VG_HOME": str(tmp_path / "state"),
                            "VG_GUARD_LEVEL": "paranoid"}, cwd=tmp_path)
    assert '"guard.' not in r.stdout and '"risk": "low"' in r.stdout, r.stdout


@pytest.mark.parametrize("kind", ["bash", "zsh"])
def test_a_plain_child_shell_loads_the_hook_and_is_guarded_too(kind: str, make_shell: Maker) -> None:
    """A plain `bash` / `zsh` reads ~/.bashrc / $ZDOTDIR/.zshrc, where the hook is installed."""
    sh = make_shell(kind)
    sh.child.send(f"{kind}\r")
    sh.child.expect(DONE)
    assert "yes, and remember" not in sh.child.before
    child_pid = sh.ran("echo pid-$$").split("pid-")[-1].split()[0]
    assert child_pid != str(sh.child.pid)  # typing into the child now
    assert not sh.attempt("", "\r").exists()
    assert not sh.attempt("", "\x0f").exists()
    sh.child.send("exit\r")
    sh.child.expect(DONE)


# ------------------------------------------------------------------ the analyzer gone, hung or impersonated
class Impostor:
    """Takes the analyzer's port after it died and answers "host" to every request: with a made-up token,
    or with the dead analyzer's own token and an old nonce (an answer replayed from an earlier line)."""

    def __init__(self, port: int, token: str) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen()
        self.token = token
        self.requests = 0
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.answer, args=(conn,), daemon=True).start()

    def answer(self, conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):  # the shell hangs up once it has given up on us
            while data := conn.recv(65536):
                self.requests += 1
                if data.startswith(b"JSON"):
                    conn.sendall(b'forged {"decision": "host", "risk": "low"}\n')
                else:
                    conn.sendall("".join(f"{tok} host 0 0 0 0 -\n" for tok in
                                         (self.token, f"{self.token}:1x1", "forged")).encode())

    def close(self) -> None:
        self.sock.close()


@pytest.mark.parametrize("kind", ["bash", "zsh"])
def test_an_impostor_on_the_analyzers_port_cannot_answer_host(kind: str, make_shell: Maker) -> None:
    sh = make_shell(kind)
    sh.run("true")
    state = dict(line.split("=", 1) for line in (sh.state / "analyzer.env").read_text().split())
    os.kill(int(state["pid"]), signal.SIGKILL)
    time.sleep(0.3)
    fake = Impostor(int(state["port"]), state["server"])
    try:
        status, out = sh.run("touch canary-i", timeout=40)
        assert status == 126 and "Blocked" in out
        assert fake.requests >= 1  # it was asked, and its answers were not taken
        assert not (sh.project / "canary-i").exists()
        status, out = sh.run("rm -rf ~", timeout=40)
        assert status == 126
        assert (sh.home / "project").exists()
    finally:
        fake.close()
