"""Carry out the analyzer's answer for one line: on the host (bash), in the sandbox it prepared, through the
in-process sandbox runner, after a human's yes, or not at all.

Used by `vgshell -c`, `vgshell SCRIPT` and commands on stdin (one process, one judged text), and by the REPL
for the lines it sends to the sandbox. A line the analyzer sent to the sandbox never runs on the host.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Mapping, Sequence
from typing import TextIO

from vgshell.shell.guard import Guard, Reply

BLOCKED = 126  # as the hooks and `vg exec`: "found but cannot be executed"
TIMED_OUT = 124
CHOICES = "  y  yes, run once / r  yes, and remember / n  no (default) > "
MAX_ARG = 120 * 1024  # below the kernel's limit on one argument (128 KiB)


def bash() -> str:
    """bash on PATH (shutil.which without importing shutil: `vgshell -c` runs this for every command)."""
    for d in os.environ.get("PATH", os.defpath).split(os.pathsep):
        path = os.path.join(d or ".", "bash")
        if os.access(path, os.X_OK) and not os.path.isdir(path):
            return path
    return "/bin/bash"


def host_argv(text: str, args: Sequence[str], options: Sequence[str] = ()) -> list[str]:
    """bash running exactly the judged text, `args` as $0 $1 … (a script's name first)."""
    return [bash(), *options, "-c", text, *args]


def exec_host(text: str, args: Sequence[str], options: Sequence[str], err: TextIO) -> int:
    """Become bash: its status, signals and terminal are the command's own. Returns only if exec fails."""
    err.flush()
    argv = host_argv(text, args, options)
    if len(text.encode("utf-8", "surrogateescape")) > MAX_ARG:
        argv = _via_memfd(text, args, options)
    try:
        os.execv(argv[0], argv)
    except OSError as e:
        err.write(f"vgshell: cannot run bash: {e.strerror}\n")
    return 127


def _via_memfd(text: str, args: Sequence[str], options: Sequence[str]) -> list[str]:
    """A text too long for one argument: bash reads the judged copy from memory (never the file again)."""
    fd = os.memfd_create("vgshell-script", 0)
    os.write(fd, text.encode("utf-8", "surrogateescape"))
    os.lseek(fd, 0, os.SEEK_SET)
    os.set_inheritable(fd, True)
    return [bash(), *options, f"/dev/fd/{fd}", *args[1:]]


def carry_out(guard: Guard, reply: Reply, text: str, cwd: str, args: Sequence[str] = (),
              options: Sequence[str] = (), err: TextIO | None = None, host: bool = True) -> int:
    """Run `text` as the answer says. With `host`, a host line execs bash (this process becomes it)."""
    import sys

    err = err or sys.stderr
    if reply.action in ("incomplete", "sandbox", "exec", "ask") and _nothing_runs(text, options):
        reply = Reply("host")  # one line bash cannot parse: nothing of it runs, bash says why (status 2)
    elif reply.action == "incomplete":  # bash runs the lines before the error, or an open heredoc
        reply = guard.judge_whole(text, cwd)
    if reply.notice:
        err.write(reply.notice + "\n")
        err.flush()
    if reply.action == "host":
        return exec_host(text, args, options, err) if host else 0
    if reply.action == "block":
        return reply.code or BLOCKED
    if reply.action == "sandbox":
        return run_prepared(guard, reply, text, args, err)
    if reply.action == "exec":
        token = decision_token(reply)
        if token is None or args:
            return run_in_sandbox(guard, text, cwd, args, err)
        return run_decided(guard, reply, token, err)
    if reply.action == "ask":
        return _ask(guard, reply, text, cwd, args, options, err, host)
    err.write(f"vgshell: the analyzer gave an answer this shell does not know ({reply.action}); not run\n")
    return BLOCKED


def _nothing_runs(text: str, options: Sequence[str]) -> bool:
    """One line (no heredoc) that bash refuses to parse: bash parses a whole line before running any of it."""
    if "\n" in text.strip() or "<<" in text:
        return False
    import subprocess

    r = subprocess.run([bash(), *options, "-n", "-c", text], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=False)
    return r.returncode == 2


def _ask(guard: Guard, reply: Reply, text: str, cwd: str, args: Sequence[str], options: Sequence[str],
         err: TextIO, host: bool) -> int:
    answer, approved = ask(reply, err)
    if approved is None:
        guard.done(reply, -1, 0, answer)
        return BLOCKED
    if answer == "r" and not guard.trust(text):
        err.write("vg: could not remember the approval\n")
    if approved.action == "host":
        guard.done(reply, 0, 0, answer)  # recorded now: bash takes this process's place
        return exec_host(text, args, options, err) if host else 0
    return carry_out(guard, approved._replace(notice=""), text, cwd, args, options, err, host)


def ask(reply: Reply, err: TextIO) -> tuple[str, Reply | None]:
    """Show the prompt (the analyzer's lines), read y / r / n from the terminal; the answer word (y, r, n,
    timeout, eof) and, on a yes, the answer to carry out where the prompt said (`then=`)."""
    fields = dict(p.split("=", 1) for p in reply.prep if "=" in p and not p.startswith("  "))
    lines = [p for p in reply.prep if p.startswith("  ")]
    prep = tuple(p for p in reply.prep if not p.startswith(("  ", "then=", "timeout=")))
    err.write("".join(x + "\n" for x in lines) + CHOICES)
    err.flush()
    timeout = int(fields.get("timeout", "0") or 0)
    word = read_answer(timeout or None)
    if word in ("timeout", "eof"):
        err.write(f"\n  (no answer within {timeout}s)\n" if word == "timeout" else "\n")
    answer = {"y": "y", "yes": "y", "r": "r", "remember": "r"}.get(word, "n" if word not in ("timeout", "eof")
                                                                   else word)
    if answer not in ("y", "r"):
        err.write("vg: not run\n")
        return answer, None
    return answer, reply._replace(action=fields.get("then", "exec"), prep=prep)


def read_answer(timeout: float | None) -> str:
    """One line from the terminal (not from a script's stdin): the word, "eof", or "timeout"."""
    import select

    try:
        fd = os.open("/dev/tty", os.O_RDONLY)
    except OSError:
        return "eof"
    try:
        data = b""
        while not data.endswith(b"\n"):
            ready, _, _ = select.select([fd], [], [], timeout)
            if not ready:
                return "timeout"
            chunk = os.read(fd, 1)
            if not chunk:
                return "eof"
            data += chunk
        return data.decode(errors="replace").strip().lower()
    except KeyboardInterrupt:
        return "eof"
    finally:
        os.close(fd)


def _with_args(argv: list[str], text: str, args: Sequence[str]) -> list[str] | None:
    """The prepared argv made to pass `args` as $0 $1 …: it ends in `bash -c TEXT` or the line's words."""
    from vgshell.sandbox.bubblewrap import SHELL

    if argv[-2:] == ["-c", text]:
        return [*argv, *args]
    words = text.split()
    if len(argv) > len(words) and argv[-len(words) - 1:] == ["--", *words]:
        return [*argv[:-len(words)], SHELL, "-c", text, *args]
    return None


def with_env(argv: Sequence[str], env: Mapping[str, str], cwd: str, config_env: Mapping[str, str],
             always: bool = False) -> list[str]:
    """The prepared bubblewrap argv with `sandbox.env_whitelist` applied to `env` — the environment the line
    was typed in (a session's exports, `vgshell -c`'s own) — instead of the analyzer's, which may have been
    started from another shell. Variables the sandbox spec sets itself (proxy, CA, HOME …) are left as they
    are. Without `always`, the config is only read when a whitelisted value the analyzer passed differs."""
    argv = list(argv)
    if "--clearenv" not in argv:
        return argv
    from vgshell.sandbox.spec import EGRESS_ENV, NETWORK_OFF_ENV, PROXY_VARS

    owned = {"HOME", "VG_SANDBOX", *PROXY_VARS, *EGRESS_ENV, *NETWORK_OFF_ENV}  # the spec's own, whatever the shell
    given = {argv[i + 1]: argv[i + 2] for i in range(len(argv) - 2) if argv[i] == "--setenv"}
    if not always and all(env.get(k, v) == v for k, v in given.items() if k not in owned):
        return argv
    from vgshell.config import load_config
    from vgshell.context import Environment

    try:
        names = set(load_config(Environment(env=dict(config_env), cwd=cwd), None).sandbox.env_whitelist)
    except Exception:  # the analyzer's choice stands
        return argv
    names -= owned
    out: list[str] = []
    i = 0
    while i < len(argv):
        if argv[i] == "--setenv" and i + 2 < len(argv) and argv[i + 1] in names:
            i += 3
            continue
        out.append(argv[i])
        if argv[i] == "--clearenv":
            for name in sorted(names & env.keys()):
                out += ["--setenv", name, env[name]]
        i += 1
    return out


def run_prepared(guard: Guard, reply: Reply, text: str, args: Sequence[str], err: TextIO) -> int:
    """bubblewrap's argv prepared by the analyzer, on this terminal: cgroup or rlimits and the TIOCSTI filter
    first (as the hooks do), then the outcome reported back (records, cgroup removal)."""
    argv = with_env(reply.argv, os.environ, os.getcwd(), guard.env)
    if args:
        with_args = _with_args(argv, text, args)
        if with_args is None:
            return run_in_sandbox(guard, text, os.getcwd(), args, err)
        argv = with_args
    started = time.monotonic()
    status = spawn(argv, reply.prep)
    _say(guard.done(reply, status, int((time.monotonic() - started) * 1000)), err)
    if status == TIMED_OUT:
        err.write("vg: the sandboxed command timed out and was killed\n")
    return status


def spawn(argv: Sequence[str], prep: Sequence[str]) -> int:
    """Fork, apply `prep` (cg=FILE, as=KiB, nproc=N, filter=FILE on fd 9) in the child, exec, wait."""
    import resource

    filt = next((p.removeprefix("filter=") for p in prep if p.startswith("filter=")), None)
    pid = os.fork()
    if pid == 0:  # the child: only async-signal-safe work until exec
        try:
            for p in prep:
                key, _, value = p.partition("=")
                if key == "cg":
                    with open(value, "w") as f:
                        f.write(str(os.getpid()))
                elif key == "as":
                    resource.setrlimit(resource.RLIMIT_AS, (int(value) * 1024,) * 2)
                elif key == "nproc":
                    resource.setrlimit(resource.RLIMIT_NPROC, (int(value),) * 2)
            fd = os.open(filt or os.devnull, os.O_RDONLY)
            if fd != 9:
                os.dup2(fd, 9)
                os.close(fd)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            signal.signal(signal.SIGQUIT, signal.SIG_DFL)
            os.execvp(argv[0], list(argv))
        except BaseException:
            os._exit(BLOCKED)
    return wait(pid)


def wait(pid: int) -> int:
    """The child's status as a shell reports it; Ctrl-C and Ctrl-\\ are the child's, this process only waits."""
    previous = {s: signal.signal(s, lambda *_: None) for s in (signal.SIGINT, signal.SIGQUIT)}
    try:
        while True:
            try:
                _, status = os.waitpid(pid, 0)
                break
            except InterruptedError:
                continue
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)


def decision_token(reply: Reply) -> str | None:
    """The analyzer's token for a docker/podman run it decided (`vg exec --decision`), if it gave one."""
    return next((p.removeprefix("decision=") for p in reply.prep if p.startswith("decision=")), None)


def run_decided(guard: Guard, reply: Reply, token: str, err: TextIO) -> int:
    """The docker or podman run the analyzer decided, carried out here as decided (nothing judged again)."""
    from vgshell.context import Environment
    from vgshell.errors import VgError
    from vgshell.execute import run_decided as run

    started = time.monotonic()
    try:
        status = run(token, Environment(env=dict(guard.env)))
    except VgError as e:
        err.write(e.render() + "\n")
        status = BLOCKED
    _say(guard.done(reply, status, int((time.monotonic() - started) * 1000)), err)
    return status


def _say(note: str, err: TextIO) -> None:
    if note:
        err.write(note + "\n")


def run_in_sandbox(guard: Guard, text: str, cwd: str, args: Sequence[str], err: TextIO) -> int:
    """A sandbox the analyzer cannot prepare (docker, podman, restricted network): judged here and run by the
    sandbox runner of `vg exec`, in the sandbox whatever this process's view of the config says."""
    import shlex
    from dataclasses import replace

    from vgshell.analyzer import Analyzer
    from vgshell.config import load_config, with_overrides
    from vgshell.context import Environment
    from vgshell.errors import VgError
    from vgshell.execute import _Record, choose_runtime, run_sandboxed

    env = Environment(env=dict(guard.env), cwd=cwd)
    try:
        cfg = load_config(env, None)
        if guard.mode:
            cfg = with_overrides(cfg, {"sandbox.mode": guard.mode}, "this shell (vg mode)")
        analyzer = Analyzer(env, cfg)
        verdict = analyzer.check(text, facts=replace(analyzer.facts, human_present=guard.human,
                                                     guard_off=guard.off))
        d = verdict.decision
        if d.action == "block":
            from vgshell.output import notice

            err.write((notice(verdict) or "🛑 Blocked") + "\n")
            return BLOCKED
        if d.action != "sandbox" or d.runtime in (None, "host", "none"):
            runtime, _note = choose_runtime(cfg, env, None)
            verdict = replace(verdict, decision=replace(d, action="sandbox", runtime=runtime))
        if args:
            command = shlex.join(["bash", "-c", text, *args])
            verdict = replace(verdict, assessment=replace(verdict.assessment, command=command))
        rec = _Record(env, cfg, verdict)
        rec.begin()
        used: dict[str, object] = {}
        status = run_sandboxed(verdict, env, cfg, quiet=True, announce=False, used=used)
        replayed = used.get("replayed_ms")  # the result cache replayed it (SPEC §8)
        ms = replayed if isinstance(replayed, float) else None
        return rec.done("sandbox", exit_status=status, runtime=str(used.get("runtime") or verdict.decision.runtime),
                        cached=ms is not None, replayed_ms=ms)
    except VgError as e:
        err.write(e.render() + "; not run\n")
        return BLOCKED
