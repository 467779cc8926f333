"""The session's bash: one real interactive bash that lives as long as the REPL and runs every judged line,
so cd, export, aliases, functions, source, $?, set -o/shopt, traps, jobs and exit are bash's own.

How it is wired (no re-implementation of bash):
- bash runs `-i` on the real terminal (stdout and stderr), with job control, but its *stdin* is a pipe from
  vgshell: for each judged line vgshell writes the line's text, NUL-ended, to a private data pipe and the
  fixed command `__vgs_run` to bash's stdin. `__vgs_run` reads the text and `eval`s it with stdin on the
  terminal, at bash's top level, so the running command owns the terminal (vim, less, python, ssh, Ctrl-C,
  Ctrl-Z). The line travels as data: nothing in it can change how it is wrapped.
- Before each prompt bash's PROMPT_COMMAND writes `$?` and `$PWD` to a private report pipe; vgshell waits for
  that report, takes the terminal back for its own prompt, and gives it to bash again with the next line.
- The session's rc file reads what an interactive (or, with -l, a login) bash reads, then sets the hooks.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import tempfile
from collections.abc import Mapping, Sequence

EXPORT = re.compile(r'^declare -x ([A-Za-z_][A-Za-z0-9_]*)(?:="((?:[^"\\]|\\.)*)")?$', re.M | re.S)
UNESCAPE = re.compile(r"\\(.)", re.S)
DATA_FD = 62
REPORT_FD = 63
RC = r"""
__vg_loaded=1  # a `vg init bash` hook in the rc files stays out: this shell judges every line itself
bind() { :; }  # key bindings are vgshell's prompt's business: an rc file's `bind` lines stay quiet
if [[ -n ${__VGS_LOGIN-} ]]; then
  [[ -r /etc/profile ]] && . /etc/profile
  for __vgs_f in ~/.bash_profile ~/.bash_login ~/.profile; do
    [[ -r $__vgs_f ]] && { . "$__vgs_f"; break; }
  done
  unset __vgs_f
elif [[ -n ${__VGS_RCFILE-} ]]; then
  [[ -r $__VGS_RCFILE ]] && . "$__VGS_RCFILE"
else
  [[ -r /etc/bash.bashrc ]] && . /etc/bash.bashrc
  [[ -r ~/.bashrc ]] && . ~/.bashrc
fi
unset __VGS_LOGIN __VGS_RCFILE __vg_loaded
unset -f bind
__vgs_st=0
__vgs_line=
__vgs_rc() { return "$1"; }
# One judged line: its text from the data pipe, run at the top level with $? as the last line left it.
__vgs_run() {
  IFS= read -r -d '' -u 62 __vgs_line
}
# $?, the directory, the names to complete, the exported variables (no process is forked: builtins only).
__vgs_report() {
  __vgs_st=$?
  printf '%s\0%s\0' "$__vgs_st" "$PWD" >&63
  { compgen -A alias -A function -A builtin -A keyword; printf '\0'; export -p; printf '\0'; } >&63
  return "$__vgs_st"
}
set +o history +H
PS1= PS2= PS0= PS4=${PS4-+ }
PROMPT_COMMAND=__vgs_report
"""
# What vgshell writes to bash's stdin for each line (the text itself goes through the data pipe).
RUN = b'__vgs_run; __vgs_rc "$__vgs_st"; eval -- "$__vgs_line" </dev/tty\n'


class Session:
    """The bash process and its two pipes. `run()` hands it a line and returns `$?` (None: bash exited)."""

    def __init__(self, env: Mapping[str, str], login: bool = False, rcfile: str | None = None,
                 options: Sequence[str] = ()) -> None:
        from vgshell.shell.run import bash

        fd, self.rc_path = tempfile.mkstemp(prefix="vgshell-rc-", suffix=".bash")
        with os.fdopen(fd, "w") as f:
            f.write(RC)
        self.tty = os.open("/dev/tty", os.O_RDWR)
        self.pgrp = os.getpgrp()
        data_r, self._data = os.pipe()
        self._report, report_w = os.pipe()
        cmd_r, self._cmd = os.pipe()
        child_env = dict(env)
        if login:
            child_env["__VGS_LOGIN"] = "1"
        if rcfile:
            child_env["__VGS_RCFILE"] = rcfile
        argv = [bash(), "--noprofile", "--noediting", "--rcfile", self.rc_path, *options, "-i"]
        self.pid = os.fork()
        if self.pid == 0:
            try:
                os.dup2(cmd_r, 0)
                os.dup2(data_r, DATA_FD)
                os.dup2(report_w, REPORT_FD)
                for fd in (cmd_r, data_r, report_w, self._data, self._report, self._cmd, self.tty):
                    if fd not in (0, DATA_FD, REPORT_FD):
                        os.close(fd)
                os.set_inheritable(DATA_FD, True)
                os.set_inheritable(REPORT_FD, True)
                for sig in (signal.SIGINT, signal.SIGQUIT, signal.SIGTSTP, signal.SIGTTOU, signal.SIGTTIN,
                            signal.SIGPIPE, signal.SIGWINCH):
                    signal.signal(sig, signal.SIG_DFL)
                os.execve(argv[0], argv, child_env)
            finally:
                os._exit(127)
        for fd in (cmd_r, data_r, report_w):
            os.close(fd)
        self.status = 0
        self.cwd = os.getcwd()
        self.exit_status: int | None = None
        self.names: list[str] = []
        self._exports = b""
        self._pending = b""

    # -- the terminal -------------------------------------------------------------------------------------

    def _give_terminal(self, pgrp: int) -> None:
        """tcsetpgrp from whatever process group holds the terminal now (SIGTTOU held off meanwhile)."""
        old = signal.signal(signal.SIGTTOU, signal.SIG_IGN)
        try:
            with contextlib.suppress(OSError):
                os.tcsetpgrp(self.tty, pgrp)
        finally:
            signal.signal(signal.SIGTTOU, old)

    def take_terminal(self) -> None:
        self._give_terminal(self.pgrp)

    # -- lines ----------------------------------------------------------------------------------------------

    def wait_ready(self) -> bool:
        """The first report, once the rc files are read; False if bash did not come up."""
        return self._read_report()

    def run(self, text: str) -> int | None:
        """Run `text` in the session (it was judged already); its `$?`, or None when bash has exited."""
        data = text.encode("utf-8", "surrogateescape").replace(b"\0", b"") + b"\0"
        try:
            os.write(self._data, data)
            bash_pgrp = os.getpgid(self.pid)
            self._give_terminal(bash_pgrp)
            os.write(self._cmd, RUN)
        except OSError:
            self.close()
            return None
        ok = self._read_report()
        self.take_terminal()
        if not ok:
            self.close()
            return None
        return self.status

    def set_status(self, status: int) -> int | None:
        """`$?` for the next line (a blocked or refused line: 126), without running anything."""
        return self.run(f"__vgs_rc {int(status)}")

    def _read_report(self) -> bool:
        while self._pending.count(b"\0") < 4:
            try:
                chunk = os.read(self._report, 65536)
            except InterruptedError:
                continue
            if not chunk:
                return False
            self._pending += chunk
        status, cwd, names, self._exports, self._pending = self._pending.split(b"\0", 4)
        self.status = int(status or b"0")
        self.cwd = cwd.decode("utf-8", "surrogateescape")
        self.names = names.decode("utf-8", "surrogateescape").split()
        return True

    def exported(self) -> dict[str, str]:
        """The session's exported variables (from bash's `export -p`, as of the last line)."""
        out: dict[str, str] = {}
        text = self._exports.decode("utf-8", "surrogateescape")
        for m in EXPORT.finditer(text):
            if m.group(2) is not None:
                out[m.group(1)] = UNESCAPE.sub(r"\1", m.group(2))
        return out

    def close(self) -> int:
        """Wait for bash to end (closing its stdin asks an idle bash to leave); its exit status."""
        if self.exit_status is None:
            for fd in (self._cmd, self._data, self._report):
                with contextlib.suppress(OSError):
                    os.close(fd)
            from vgshell.shell.run import wait

            self.exit_status = wait(self.pid)
            self.take_terminal()
            with contextlib.suppress(OSError):
                os.unlink(self.rc_path)
            with contextlib.suppress(OSError):
                os.close(self.tty)
        return self.exit_status


def quoted(argv: Sequence[str]) -> str:
    return " ".join(shlex.quote(a) for a in argv)
