"""The interactive vgshell: a prompt_toolkit prompt in front of the session's bash (vgshell.shell.session).

Each accepted buffer is judged by the analyzer when Enter is pressed: "incomplete" (open quote, trailing
`\\`, `if` without `fi`, heredoc) keeps the buffer open for another line; anything else is carried out —
host lines run in the session's bash, sandboxed lines run in the sandbox from the session's directory,
blocked lines set `$?` to 126 and run nothing. `vg status|off|on|mode M` act on this shell only.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import time
from typing import TYPE_CHECKING

from vgshell.shell.guard import Guard, Reply
from vgshell.shell.run import BLOCKED, TIMED_OUT, ask, decision_token, run_in_sandbox, with_env
from vgshell.shell.session import DATA_FD, REPORT_FD, Session, quoted

if TYPE_CHECKING:
    from vgshell.shell.main import Invocation

CONTROL = re.compile(r"\s*vg\s+(on|off|status|mode(?:\s+(\S*))?)\s*")
INTERNAL = "__vgs"


def history_path(env: dict[str, str]) -> str:
    from vgshell.client import state_dir

    d = state_dir(env)
    os.makedirs(d, mode=0o700, exist_ok=True)
    path = os.path.join(d, "history")
    if not os.path.exists(path):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    return path


class Repl:
    def __init__(self, inv: Invocation, guard: Guard) -> None:
        self.inv = inv
        self.guard = guard
        self.env = dict(guard.env)
        self.home = self.env.get("HOME", "")
        guard.warm()
        self.session = Session(self.env, login=inv.login, rcfile=inv.rcfile, options=inv.bash_options)
        self.pending: Reply | None = None

    # -- the prompt ---------------------------------------------------------------------------------------

    def guard_state(self) -> str:
        if self.guard.off:
            return "vg:off"
        return f"vg:{self.guard.mode}" if self.guard.mode else ""

    def build_prompt(self) -> object:
        from prompt_toolkit import PromptSession
        from prompt_toolkit.filters import is_searching
        from prompt_toolkit.history import FileHistory
        from prompt_toolkit.key_binding import KeyBindings
        from prompt_toolkit.search import accept_search
        from prompt_toolkit.styles import Style

        from vgshell.shell.view import SYNTAX_STYLE, LateLexer, ShellCompleter, prompt_text

        kb = KeyBindings()

        @kb.add("enter")
        def _enter(event: object) -> None:
            self.accept(event)

        @kb.add("enter", filter=is_searching)
        def _found(event: object) -> None:  # as in bash: Enter in a Ctrl-R search runs the line found
            accept_search()
            self.accept(event)

        style = Style.from_dict({"cwd": "ansiblue bold", "branch": "ansimagenta", "status": "ansired bold",
                                 "guard": "ansiyellow", **SYNTAX_STYLE})
        completer = ShellCompleter(lambda: [n for n in self.session.names if not n.startswith(INTERNAL)])
        return PromptSession(
            message=lambda: prompt_text(self.session.cwd, self.home, self.session.status, self.guard_state()),
            history=FileHistory(history_path(self.env)), completer=completer, complete_while_typing=False,
            key_bindings=kb, multiline=True, prompt_continuation=lambda *_: "> ", style=style,
            enable_suspend=False, include_default_pygments_style=False, lexer=LateLexer().dynamic)

    def accept(self, event: object) -> None:
        """Enter: judge the buffer now; an incomplete one gets a new line, anything else is accepted with its
        answer kept for the loop (judged once)."""
        buf = event.app.current_buffer  # type: ignore[attr-defined]
        text = buf.text
        self.pending = None
        if text.strip() and not CONTROL.fullmatch(text):
            reply = self.guard.judge(text, self.session.cwd, self.session.pid)
            if reply.action == "incomplete":
                buf.insert_text("\n")
                return
            self.pending = reply
        buf.validate_and_handle()

    # -- the loop -------------------------------------------------------------------------------------------

    def run(self) -> int:
        prompt = self.build_prompt()
        if not self.session.wait_ready():
            sys.stderr.write("vgshell: bash did not start\n")
            return self.session.close()
        self.session.take_terminal()
        self._follow()
        while True:
            try:
                text = prompt.prompt()  # type: ignore[attr-defined]
            except KeyboardInterrupt:
                if self.session.set_status(130) is None:
                    break
                continue
            except EOFError:  # Ctrl-D on an empty line: bash's `exit`, with the last status
                if self.session.run("exit") is None:
                    break
                continue
            if not text.strip():
                continue
            if self.line(text, self.pending) is None:
                break
            self._follow()
        self.guard.close()
        return self.session.close()

    def _follow(self) -> None:
        """This process follows the session's directory (paths complete from there)."""
        with contextlib.suppress(OSError):
            os.chdir(self.session.cwd)

    def line(self, text: str, reply: Reply | None) -> int | None:
        m = CONTROL.fullmatch(text)
        if m:
            return self.control(m.group(1).split()[0], m.group(2))
        if reply is None:
            reply = self.guard.judge(text, self.session.cwd, self.session.pid)
        if reply.action == "incomplete":
            reply = self.guard.judge_whole(text, self.session.cwd)
        return self.carry_out(text, reply)

    def carry_out(self, text: str, reply: Reply, answer: str | None = None) -> int | None:
        """The answer, carried out in the session: host lines and prepared sandboxes as the bash's own
        foreground jobs (so Ctrl-C, Ctrl-Z and resizes are theirs), blocked lines as `$?` = 126."""
        err = sys.stderr
        if reply.notice:
            err.write(reply.notice + "\n")
            err.flush()
        if reply.action == "host":
            status = self.session.run(text)
            if answer:
                self.guard.done(reply, status or 0, 0, answer)
            return status
        if reply.action == "block":
            return self.session.set_status(reply.code or BLOCKED)
        if reply.action == "sandbox" or (reply.action == "exec" and decision_token(reply)):
            started = time.monotonic()
            if reply.action == "sandbox":  # the whitelist applied to the session's own exports
                reply = reply._replace(argv=tuple(with_env(reply.argv, self.session.exported(), self.session.cwd,
                                                           self.guard.env, always=True)))
            status = self.session.run(sandbox_line(reply))
            note = self.guard.done(reply, -1 if status is None else status,
                                   int((time.monotonic() - started) * 1000), answer)
            if note:
                err.write(note + "\n")
            if status == TIMED_OUT and reply.action == "sandbox":
                err.write("vg: the sandboxed command timed out and was killed\n")
            return status
        if reply.action == "exec":  # judged in this process (no analyzer): the sandbox runner of `vg exec`
            return self.session.set_status(run_in_sandbox(self.guard, text, self.session.cwd, (), err))
        if reply.action == "ask":
            word, approved = ask(reply, err)
            if approved is None:
                self.guard.done(reply, -1, 0, word)
                return self.session.set_status(BLOCKED)
            if word == "r" and not self.guard.trust(text):
                err.write("vg: could not remember the approval\n")
            return self.carry_out(text, approved._replace(notice=""), word)
        err.write(f"vgshell: the analyzer gave an answer this shell does not know ({reply.action}); not run\n")
        return self.session.set_status(BLOCKED)

    def control(self, word: str, mode: str | None) -> int | None:
        """`vg on|off|status|mode M`: this shell's guard, as the hooks' `vg` function does."""
        err = sys.stderr
        status = 0
        if word == "off":
            self.guard.off = True
            err.write('vgshell: off in this shell (critical commands stay blocked); "vg on" turns it back on\n')
        elif word == "on":
            self.guard.off = False
            err.write("vgshell: on in this shell\n")
        elif word == "mode":
            if mode in ("auto", "always", "risky", "never", None, ""):
                self.guard.mode = mode or ""
            else:
                err.write(f"vgshell: mode must be one of auto, always, risky, never (got {mode})\n")
                status = 2
        else:
            from vgshell.client import state_dir

            pid = _analyzer_pid(state_dir(self.env))
            state = f"running (pid {pid})" if pid else "stopped"
            err.write(f"vgshell: {'off' if self.guard.off else 'on'} in this shell, mode "
                      f"{self.guard.mode or 'from config'}, analyzer {state}, session {self.guard.session}\n")
        return self.session.set_status(status)


def sandbox_line(reply: Reply) -> str:
    """The sandbox the analyzer decided, as a line for the session's bash: a foreground job on this terminal
    (Ctrl-C, Ctrl-Z and resizes are its own) with the session's private pipes closed. bubblewrap: the
    prepared argv, cgroup or rlimits first, the TIOCSTI filter on fd 9; docker/podman: `vg exec --decision`."""
    closed = f"{DATA_FD}<&- {REPORT_FD}>&-"
    token = decision_token(reply)
    if reply.action == "exec" and token is not None:
        vg = [sys.executable, "-m", "vgshell.cli", "--quiet", "exec", "--decision", token]
        return f"{quoted(vg)} {closed}"
    steps: list[str] = []
    filt = "/dev/null"
    for p in reply.prep:
        key, _, value = p.partition("=")
        if key == "cg":
            steps.append(f'printf %s "$BASHPID" > {quoted([value])} || exit 126')
        elif key == "as":
            steps.append(f"ulimit -v {int(value)}")
        elif key == "nproc":
            steps.append(f"ulimit -u {int(value)}")
        elif key == "filter":
            filt = value
    steps.append(f"exec {quoted(reply.argv)} 9<{quoted([filt])} {closed}")
    return "( " + "; ".join(steps) + " )"


def _analyzer_pid(state: str) -> int | None:
    try:
        with open(os.path.join(state, "analyzer.env")) as f:
            pid = int(dict(x.strip().split("=", 1) for x in f if "=" in x).get("pid", "0"))
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def run_repl(inv: Invocation) -> int:
    from vgshell.shell.main import make_guard

    guard = make_guard()
    os.environ.setdefault("VG_SESSION", guard.session)
    guard.env = dict(os.environ)
    repl = Repl(inv, guard)
    return repl.run()
