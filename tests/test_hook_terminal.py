"""What the terminal of a hooked shell shows and keeps: real bash and zsh in tmux and on a pexpect PTY.

The screen and scrollback show each line as it was typed, never the hook's own commands (`__vg_sandbox`,
`__vg_refuse`, `__vg_approve`, `__vg_do`), and so do `history` and the arrow keys. Lines typed ahead or
pasted behind a sandboxed one all run, in order — proven by the files each writes in the project directory
(which the sandbox can write), not by what the screen says.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_hooks import DONE, SHELLS, Shell

HOST_NS = os.readlink("/proc/self/ns/mnt")
PROMPTS = {
    "plain": {"bash": "", "zsh": ""},
    "coloured-two-line": {  # the way prompt themes write them
        "bash": r"PS1='\[\e[32m\]\u@host\[\e[0m\]\n\[\e[1m\]>>\[\e[0m\] '",
        "zsh": "PS1=$'%F{green}%n@host%f\\n%B>>%b '",
    },
    "starship-style": {  # a timer started from PS0 / preexec, a prompt built by a precmd, the window title set
        "bash": ("__t_pre() { __t0=$EPOCHREALTIME; printf '\\e]0;%s\\a' \"$1\" >&2; }\n"
                 "__t_cmd() { PS1='\\[\\e[35m\\]took '${__t0:+1}'\\[\\e[0m\\] >> '; }\n"
                 "PS0='$(__t_pre x)'\nPROMPT_COMMAND=(\"$PROMPT_COMMAND\" __t_cmd)"),
        "zsh": ("autoload -Uz add-zsh-hook\n__t_pre() { __t0=$EPOCHREALTIME; print -n $'\\e]0;'\"$1\"$'\\a' }\n"
                "__t_cmd() { PS1=\"%F{magenta}took ${__t0:+1}%f >> \" }\n"
                "add-zsh-hook preexec __t_pre\nadd-zsh-hook precmd __t_cmd"),
    },
}


class TmuxShell(Shell):
    """The same hooked shell, in a tmux pane: the screen and scrollback are what a terminal keeps."""

    def start(self) -> None:
        self.sock = str(self.home.parent / "tmux.sock")
        env = [f"{k}={v}" for k, v in self.env.items()]
        subprocess.run(["tmux", "-S", self.sock, "-f", "/dev/null", "new-session", "-d", "-x", "120", "-y", "50",
                        "-c", str(self.project), "env", "-i", *env, *self.argv], check=True)
        self.wait(1)

    def tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-S", self.sock, *args], capture_output=True, text=True, check=True).stdout

    def scrollback(self) -> str:
        return self.tmux("capture-pane", "-p", "-J", "-S", "-")

    def wait(self, markers: int, timeout: float = 30) -> str:
        """Wait until the prompt hook has printed `markers` @@DONE lines in all; the scrollback."""
        deadline = time.monotonic() + timeout
        while (text := self.scrollback()).count("@@DONE") < markers:
            assert time.monotonic() < deadline, text
            time.sleep(0.1)
        return text

    def type(self, text: str) -> None:
        self.tmux("send-keys", "-l", text)

    def close(self) -> None:
        subprocess.run(["tmux", "-S", self.sock, "kill-server"], capture_output=True, check=False)
        subprocess.run([self.env["PATH"].split(":")[0] + "/vg", "analyzer", "stop"], env=self.env,
                       capture_output=True, check=False)


@pytest.fixture(params=SHELLS)
def tmux_shell(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TmuxShell]:
    sh = TmuxShell(request.param, tmp_path)
    yield sh
    sh.close()


SHOWN = [  # (what is typed, the key answering a prompt or "")
    ("curl -s https://example.invalid/x; echo fetched", ""),                 # sandbox
    ("echo start; rm -rf ~", ""),                                               # block
    ("git reset --hard 2>/dev/null; echo reset", "n"),                           # ask, refused
    ("git reset --hard 2>/dev/null; echo reset-again", "y"),                     # ask, run in the sandbox
    ("curl -s https://example.invalid/" + "a" * 150 + "; echo long", ""),       # wraps on the screen
]


@pytest.mark.parametrize("prompt", list(PROMPTS))
@pytest.mark.parametrize("kind", SHELLS)
def test_the_screen_scrollback_and_history_show_lines_as_typed(kind: str, prompt: str, tmp_path: Path) -> None:
    rc = PROMPTS[prompt][kind]
    sh = TmuxShell(kind, tmp_path, after_rc=rc)
    try:
        done, asked = sh.scrollback().count("@@DONE"), 0
        for line, key in SHOWN:
            sh.type(line + "\r")
            if key:
                asked += 1
                deadline = time.monotonic() + 20
                while sh.scrollback().count("yes, and remember") < asked:
                    assert time.monotonic() < deadline
                    time.sleep(0.1)
                sh.type(key + "\r")
            done += 1
            sh.wait(done)
        sh.type("history 10\r" if kind == "bash" else "fc -l -10\r")
        done += 1
        sh.wait(done)
        sh.tmux("send-keys", "Up")  # the last line of ours recalled: what was typed, not the hook's command
        time.sleep(0.5)
        sh.tmux("send-keys", "Up")
        time.sleep(0.5)
        text = sh.scrollback()
        assert "__vg_" not in text, text
        prompt_end = ">> " if prompt != "plain" else "$ "
        for line, _ in SHOWN:
            assert prompt_end + line in text, (line, text)
        history = text.split("history 10" if kind == "bash" else "fc -l -10", 1)[1]
        for line, _ in SHOWN:
            assert line in history, (line, history)
        assert text.rstrip().endswith(prompt_end + SHOWN[-1][0]), text[-300:]  # Up Up: the last line typed
        assert "\nfetched\n" in text and "\nreset-again\n" in text and "\nlong\n" in text
        assert "\nstart\n" not in text and "\nreset\n" not in text
    finally:
        sh.close()


def test_zsh_a_builtin_accept_shows_the_line_as_typed(tmp_path: Path) -> None:
    """`.accept-line` named through execute-named-cmd (judged in zle-line-finish) shows the typed line too."""
    sh = TmuxShell("zsh", tmp_path)
    try:
        sh.type("echo start; rm -rf ~")
        sh.tmux("send-keys", "M-x")
        sh.type(".accept-line\r")
        text = sh.wait(2)
        assert "$ echo start; rm -rf ~" in text and "Blocked" in text and "__vg_" not in text
        assert "\nstart\n" not in text
    finally:
        sh.close()


TYPED_AHEAD = {  # the lines sent in one write; which of them the sandbox runs is the row's point
    "sandboxed-first": ["curl -s https://example.invalid/x; echo 1 >> order", "echo 2 >> order", "echo 3 >> order"],
    "sandboxed-middle": ["echo 1 >> order", "curl -s https://example.invalid/x; echo 2 >> order", "echo 3 >> order"],
    "all-sandboxed": [f"curl -s https://example.invalid/x; echo {n} >> order" for n in (1, 2, 3)],
    "blocked-between": ["curl -s https://example.invalid/x; echo 1 >> order", "echo no >> order; rm -rf ~",
                        "echo 3 >> order"],
    "reads-stdin-last": ["curl -s https://example.invalid/x; echo 1 >> order", "echo 2 >> order",
                         "curl -s https://example.invalid/x; read -r v; echo \"3$v\" >> order"],
}
EXPECTED = {"blocked-between": "1\n3\n", "reads-stdin-last": "1\n2\n3typed\n"}


# bash's readline keeps what it read ahead for the next prompt, so a `read` in a typed-ahead line waits for the
# terminal in a plain bash too (no hook); zsh hands it to the program, and so must the sandbox.
AHEAD_ROWS = [(kind, row) for kind in SHELLS for row in TYPED_AHEAD if (kind, row) != ("bash", "reads-stdin-last")]


@pytest.mark.parametrize(("kind", "row"), AHEAD_ROWS)
def test_lines_typed_ahead_of_a_sandboxed_one_all_run_in_order(kind: str, row: str, tmp_path: Path) -> None:
    sh = Shell(kind, tmp_path)
    try:
        lines = TYPED_AHEAD[row]
        tail = "typed\r" if row == "reads-stdin-last" else ""
        sh.child.send("".join(line + "\r" for line in lines) + tail)  # one write: a paste or type-ahead
        for _ in lines:
            sh.child.expect(DONE, timeout=30)
        assert (sh.project / "order").read_text() == EXPECTED.get(row, "1\n2\n3\n")
        assert sh.run("echo after")[0] == 0  # and the shell goes on
    finally:
        sh.close()


@pytest.mark.parametrize("kind", SHELLS)
def test_a_bracketed_paste_of_three_lines_is_judged_and_run_as_one(kind: str, tmp_path: Path) -> None:
    """A terminal's real paste (bracketed): the three lines are one buffer, judged whole, run in order."""
    sh = Shell(kind, tmp_path)
    try:
        lines = ["echo 1 >> order", "curl -s https://example.invalid/x; echo 2 >> order",
                 "readlink /proc/self/ns/mnt > ns; echo 3 >> order"]
        sh.child.send("\x1b[200~" + "\n".join(lines) + "\x1b[201~")
        time.sleep(0.5)
        sh.run("")
        assert (sh.project / "order").read_text() == "1\n2\n3\n"
        assert (sh.project / "ns").read_text().strip() != HOST_NS  # the whole paste ran in the sandbox
    finally:
        sh.close()
