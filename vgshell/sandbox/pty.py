"""Run a sandbox process on a real PTY (when stdin is a terminal) or on plain pipes; the only termios user.

With a terminal: the child gets a new PTY of the same size (resized on SIGWINCH), our terminal goes raw so
every key — Ctrl-C included — reaches the sandboxed program, and the terminal is restored whatever
happens. Without one: stdin, stdout and stderr are the child's own, separate and unbuffered.
Either way the exit status is the child's (128+N when killed by signal N) and a timeout kills it with 124.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import select
import signal
import subprocess
import sys
import termios
import threading
import time
import tty
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vgshell.sandbox.tee import Tee

TIMEOUT_STATUS = 124


class Timeout(Exception):
    """The command ran past its limit and was killed."""


def _window_size(fd: int) -> bytes | None:
    try:
        return fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8)
    except OSError:
        return None


def status_of(wait_status: int) -> int:
    if os.WIFSIGNALED(wait_status):
        return 128 + os.WTERMSIG(wait_status)
    return os.WEXITSTATUS(wait_status)


def run(argv: Sequence[str], env: dict[str, str], timeout: float | None,
        in_child: Callable[[], None] | None = None, on_kill: Callable[[], None] | None = None,
        tee: Tee | None = None) -> int:
    """Run argv to completion; raise Timeout after `timeout` seconds (the process is killed first). `tee`
    receives a copy of the output (for the result cache); then stdout and stderr reach us through pipes."""
    if sys.stdin.isatty() and sys.stdout.isatty():
        return _run_pty(argv, env, timeout, in_child, on_kill, tee)
    return _run_pipes(argv, env, timeout, in_child, on_kill, tee)


def _run_pipes(argv: Sequence[str], env: dict[str, str], timeout: float | None,
               in_child: Callable[[], None] | None, on_kill: Callable[[], None] | None,
               tee: Tee | None = None) -> int:
    piped = subprocess.PIPE if tee is not None else None
    proc = subprocess.Popen(list(argv), env=env, preexec_fn=in_child, start_new_session=True, stdout=piped,
                            stderr=piped)
    pumps = [] if tee is None else _pumps(proc, tee)
    forwarded = _forward_signals(proc.pid)
    expired = threading.Event()

    def expire() -> None:
        expired.set()
        _kill(proc.pid, on_kill)

    # A timer, not Popen.wait(timeout=…): that polls with growing sleeps and adds milliseconds to every run.
    timer = threading.Timer(timeout, expire) if timeout is not None else None
    if timer is not None:
        timer.daemon = True
        timer.start()
    try:
        status = status_of_returncode(proc.wait())
        for pump in pumps:
            pump.join()
        if expired.is_set():
            raise Timeout
        return status
    finally:
        if timer is not None:
            timer.cancel()
        _restore_signals(forwarded)
        if proc.poll() is None:
            _kill(proc.pid, on_kill)
            proc.wait()


def _pumps(proc: subprocess.Popen[bytes], tee: Tee) -> list[threading.Thread]:
    """Copy the child's stdout and stderr to ours as they come, and into `tee`."""
    def pump(src: object, fd: int, stream: int) -> None:
        read = src.read1 if hasattr(src, "read1") else src.read  # type: ignore[attr-defined]
        while data := read(65536):
            tee.add(stream, data)
            with contextlib.suppress(OSError):
                _write_all(fd, data)

    threads = [threading.Thread(target=pump, args=(proc.stdout, sys.stdout.fileno(), 1), daemon=True),
               threading.Thread(target=pump, args=(proc.stderr, sys.stderr.fileno(), 2), daemon=True)]
    sys.stdout.flush()
    sys.stderr.flush()
    for t in threads:
        t.start()
    return threads


def status_of_returncode(code: int) -> int:
    return 128 - code if code < 0 else code


def _kill(pid: int, on_kill: Callable[[], None] | None) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    if on_kill is not None:
        on_kill()


def _forward_signals(pid: int) -> dict[int, object]:
    """SIGINT/SIGTERM/SIGHUP sent to vg go to the sandboxed process group instead of killing vg first."""
    old: dict[int, object] = {}

    def forward(signum: int, _frame: object) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signum)

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        old[sig] = signal.signal(sig, forward)
    return old


def _restore_signals(old: dict[int, object]) -> None:
    for sig, handler in old.items():
        signal.signal(sig, handler)  # type: ignore[arg-type]


def _run_pty(argv: Sequence[str], env: dict[str, str], timeout: float | None,
             in_child: Callable[[], None] | None, on_kill: Callable[[], None] | None, tee: Tee | None = None) -> int:
    stdin, stdout = sys.stdin.fileno(), sys.stdout.fileno()
    size = _window_size(stdin)
    pid, master = os.forkpty()
    if pid == 0:  # child: the PTY's slave is our stdin/stdout/stderr and controlling terminal
        try:
            if size:
                fcntl.ioctl(0, termios.TIOCSWINSZ, size)
            if in_child is not None:
                in_child()
            os.execvpe(argv[0], list(argv), env)
        finally:
            os._exit(127)
    saved = termios.tcgetattr(stdin)
    old_winch = signal.signal(signal.SIGWINCH, lambda *_: _copy_size(stdin, master))
    try:
        tty.setraw(stdin)
        if tee is not None:
            tee.tty = True
        return _relay(pid, master, stdin, stdout, timeout, on_kill, tee)
    finally:
        termios.tcsetattr(stdin, termios.TCSAFLUSH, saved)
        signal.signal(signal.SIGWINCH, old_winch)
        os.close(master)


def _copy_size(src: int, master: int) -> None:
    size = _window_size(src)
    if size:
        with contextlib.suppress(OSError):
            fcntl.ioctl(master, termios.TIOCSWINSZ, size)


def _relay(pid: int, master: int, stdin: int, stdout: int, timeout: float | None,
           on_kill: Callable[[], None] | None, tee: Tee | None = None) -> int:
    deadline = None if timeout is None else time.monotonic() + timeout
    inputs = [master, stdin]
    while True:
        wait = None if deadline is None else max(0.0, deadline - time.monotonic())
        if deadline is not None and wait == 0:
            _kill(pid, on_kill)
            os.waitpid(pid, 0)
            raise Timeout
        try:
            ready, _, _ = select.select(inputs, [], [], wait)
        except InterruptedError:
            continue
        if master in ready:
            try:
                data = os.read(master, 65536)
            except OSError as e:
                if e.errno != errno.EIO:
                    raise
                data = b""
            if not data:
                return status_of(os.waitpid(pid, 0)[1])
            _write_all(stdout, data)
            if tee is not None:
                tee.add(1, data)
        if stdin in ready:
            data = os.read(stdin, 65536)
            if data:
                if tee is not None:
                    tee.typed = True
                _write_all(master, data)
            else:
                inputs.remove(stdin)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            n = os.write(fd, view)
        except InterruptedError:
            continue
        view = view[n:]


