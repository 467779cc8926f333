"""Commands on stdin (not a terminal): `bash -s`, with every command judged before bash reads it.

vgshell reads stdin a line at a time, gathers lines until they make a complete command (the analyzer says
"incomplete" until then), judges that text and only then writes it to the stdin of a `bash -s` that lives
as long as the stream. So a program can keep the shell open on a pipe and feed it commands one by one, as
it would bash, and state (cd, variables, functions) lasts from one command to the next. What is not run on
the host reaches bash as a replacement in the same place of the stream, so order and output stay bash's:
a blocked command becomes its notice and `$?` = 126; a sandboxed one becomes the prepared sandbox, whose
status bash reports back on a private pipe so the analyzer can close the run.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator, Sequence

from vgshell.shell.guard import Guard, Reply
from vgshell.shell.session import REPORT_FD, quoted

SETUP = "__vgs_rc() { return \"$1\"; }\n"


class _BashGone(Exception):
    """bash has exited (`exit N`): stop reading stdin, even though the writer keeps it open."""


class Stream:
    def __init__(self, guard: Guard, args: Sequence[str], options: Sequence[str]) -> None:
        from vgshell.shell.run import bash

        self.guard = guard
        self._report, report_w = os.pipe()
        cmd_r, self._cmd = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:
            try:
                os.dup2(cmd_r, 0)
                os.dup2(report_w, REPORT_FD)
                for fd in (cmd_r, report_w, self._report, self._cmd):
                    if fd not in (0, REPORT_FD):
                        os.close(fd)
                signal.signal(signal.SIGPIPE, signal.SIG_DFL)
                argv = [bash(), *options, "-s", *args]
                os.execv(argv[0], argv)
            finally:
                os._exit(127)
        os.close(cmd_r)
        os.close(report_w)
        self._runs: dict[int, tuple[Reply, float, Guard]] = {}
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read_reports, daemon=True)
        self._reader.start()
        self._send(SETUP)

    def _send(self, text: str) -> bool:
        data = text.encode("utf-8", "surrogateescape")
        try:
            while data:
                data = data[os.write(self._cmd, data):]
            return True
        except OSError:  # bash has exited (`exit`, or it died): nothing more is read
            return False

    def feed(self, text: str, reply: Reply) -> bool:
        """Hand bash the judged command, or what stands in for it; False once bash is gone."""
        from vgshell.shell.run import decision_token

        body = text if text.endswith("\n") else text + "\n"
        notice = f"printf '%s\\n' {quoted([reply.notice])} >&2; " if reply.notice else ""
        if reply.action == "host":
            return self._send(notice.replace("; ", "\n") + body if notice else body)
        if reply.action == "sandbox" or (reply.action == "exec" and decision_token(reply)):
            from vgshell.shell.repl import sandbox_line

            with self._lock:
                self._runs[reply.run_id] = (reply, time.monotonic(), self.guard.detach())
            line = (f"{notice}{sandbox_line(reply)}; __vgs_s=$?; "
                    f"printf '%s %s\\n' {reply.run_id} \"$__vgs_s\" >&{REPORT_FD}; __vgs_rc \"$__vgs_s\"\n")
            return self._send(line)
        if reply.action == "exec":  # judged in this process: the sandbox runner of `vg exec`, in order
            vg = [sys.executable, "-m", "vgshell.cli", "--quiet", "exec", body.rstrip("\n")]
            return self._send(f"{notice}VG_MODE=always {quoted(vg)}\n")
        code = reply.code or 126
        if reply.action == "ask":  # no human on a stream: nothing is asked, nothing runs
            notice = notice or "printf '%s\\n' 'vg: needs approval and no one is at a terminal; not run' >&2; "
        return self._send(f"{notice}__vgs_rc {int(code)}\n")

    def _read_reports(self) -> None:
        buf = b""
        while True:
            try:
                chunk = os.read(self._report, 4096)
            except OSError:
                chunk = b""
            if not chunk:  # bash (and whatever it left running) has closed the report pipe: it is gone
                os.kill(os.getpid(), signal.SIGUSR1)
                return
            buf += chunk
            while b"\n" in buf:
                line, _, buf = buf.partition(b"\n")
                run_id, _, status = line.decode().partition(" ")
                with self._lock:
                    found = self._runs.pop(int(run_id), None)
                if found is not None:
                    reply, started, runner = found
                    note = runner.done(reply, int(status), int((time.monotonic() - started) * 1000))
                    runner._drop()
                    if note:
                        sys.stderr.write(note + "\n")

    def close(self) -> int:
        """No more input: bash finishes what it has and exits; its status."""
        from vgshell.shell.run import wait

        with contextlib.suppress(OSError):
            os.close(self._cmd)
        status = wait(self.pid)
        self._reader.join(timeout=5)
        with contextlib.suppress(OSError):
            os.close(self._report)
        return status


def run_stream(guard: Guard, args: Sequence[str], options: Sequence[str]) -> int:
    """Read stdin line by line, judge each complete command, feed it to the stream's bash."""
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    signal.signal(signal.SIGUSR1, _gone)
    stream = Stream(guard, args, options)
    pending = ""
    alive = True
    try:
        for line in _lines():
            pending += line
            if not pending.strip():
                pending = ""
                alive = stream._send(line)
            else:
                reply = guard.judge(pending, _cwd(stream.pid), stream.pid)
                if reply.action == "incomplete":
                    continue
                alive = stream.feed(pending, reply)
                pending = ""
            if not alive:
                break
    except _BashGone:
        alive = False
    signal.signal(signal.SIGUSR1, signal.SIG_IGN)
    if alive and pending:  # the input ended inside a command: bash gets what it would have read, judged
        stream.feed(pending, guard.judge_whole(pending, _cwd(stream.pid)))
    status = stream.close()
    guard.close()
    return status


def _lines() -> Iterator[str]:
    """stdin a line at a time, each as soon as it arrives (a program may feed commands one by one). Reading
    ahead is harmless: bash's stdin is what vgshell forwards, so a command reading stdin reads the judged
    lines that follow it, as under `bash -s`."""
    for raw in sys.stdin.buffer:
        yield raw.decode("utf-8", "surrogateescape")


def _gone(_sig: int, _frame: object) -> None:
    raise _BashGone


def _cwd(pid: int) -> str:
    try:
        return os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        return os.getcwd()
