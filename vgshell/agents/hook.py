"""`vg hook AGENT`: the agent's payload on stdin → its answer on stdout, under one deadline, failing closed.

Every way this can go wrong — garbage, a missing field, a payload over the size bound, an analyzer that
does not answer in time, a bug — ends the same way: exit 2 with the reason on stderr, which every supported
agent treats as "do not run the tool" (an exit status other than 0 and 2 lets the tool run, so nothing here
may escape as a traceback). Imports stay light: json, socket and the one adapter; the analyzer's modules are
loaded only when no running analyzer can answer.
"""

from __future__ import annotations

import importlib
import os
import signal
import sys
from collections.abc import Sequence
from types import ModuleType

from vgshell.agents import ADAPTERS
from vgshell.agents.judge import Call, HookError, Judgement, Reply, judge, read_payload, record

DENY = 2  # the exit status every supported agent reads as "block this tool call"
DEFAULT_TIMEOUT = 10.0  # seconds for the whole hook; agents' own hook timeouts are longer (30-60 s)


class _Late(Exception):
    pass


def main(argv: Sequence[str]) -> int:
    if len(argv) != 1 or argv[0] not in ADAPTERS:
        sys.stderr.write(f"vg: hook: usage: vg hook {{{','.join(ADAPTERS)}}} (payload on stdin)\n")
        return DENY
    agent = argv[0]
    timeout = _timeout()
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    call: Call | None = None
    j: Judgement | None = None
    try:
        adapter = importlib.import_module(ADAPTERS[agent])
        payload = read_payload(sys.stdin.buffer)
        call = adapter.parse(payload)
        if call is None:  # not a shell command (another tool): no opinion
            reply = adapter.no_opinion()
        else:
            j = judge(call, os.environ, max(0.5, timeout - 1.0))
            reply = adapter.reply(call, j, payload)
        assert isinstance(reply, Reply)
    except _Late:
        reply = _deny(agent, f"no decision within {timeout:g}s (VG_HOOK_TIMEOUT); not running it")
    except HookError as e:
        reply = _deny(agent, str(e))
    except Exception as e:  # a bug must not let the command through
        reply = _deny(agent, f"internal error: {type(e).__name__}: {e}")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    _write(reply)
    if call is not None:
        _record_detached(call, j, reply)
    return int(reply.status)


def _record_detached(call: Call, j: Judgement | None, reply: Reply) -> None:
    """Record the decision in a child that has let go of stdout and stderr, so the agent — which waits for
    this process to exit — never waits for SQLite."""
    try:
        pid = os.fork()
    except OSError:
        record(call, j, reply, os.environ)
        return
    if pid:
        return
    try:
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        record(call, j, reply, os.environ)
    finally:
        os._exit(0)


def _on_alarm(_sig: int, _frame: object) -> None:
    raise _Late()


def _timeout() -> float:
    try:
        value = float(os.environ.get("VG_HOOK_TIMEOUT", DEFAULT_TIMEOUT))
    except ValueError:
        return DEFAULT_TIMEOUT
    return value if value > 0 else DEFAULT_TIMEOUT


def _deny(agent: str, why: str) -> Reply:
    """Fail closed in the agent's voice: its adapter's deny (exit 2, reason on stderr)."""
    adapter: ModuleType | None
    try:
        adapter = importlib.import_module(ADAPTERS[agent])
    except Exception:
        adapter = None
    text = f"vg: hook: {why}"
    if adapter is None:
        return Reply("", DENY, text + "\n", outcome="blocked")
    reply: Reply = adapter.deny(text)
    return reply


def _write(reply: Reply) -> None:
    try:
        if reply.stdout:
            sys.stdout.write(reply.stdout + "\n")
        sys.stdout.flush()
        if reply.stderr:
            sys.stderr.write(reply.stderr if reply.stderr.endswith("\n") else reply.stderr + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):  # the agent closed its end: the exit status still speaks
        pass
