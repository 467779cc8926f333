"""The judge every agent adapter shares: a shell command an agent wants to run → one Judgement.

It asks the running analyzer (vgshell.server, over vgshell.client: rules and config already loaded), starts
one when none answers, and judges in-process only when the running one cannot answer for this environment.
The whole hook runs under one deadline (hook.py), so no path here can hang the agent: a late answer is a
deny. A sandbox decision comes back with the exact command line that runs the command in the sandbox —
`vg exec --sandbox RUNTIME`, which executes the decision made here and never runs anything on the host.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from typing import Any, BinaryIO, NamedTuple

MAX_PAYLOAD = 1 << 20  # bytes of hook payload read; a command line longer than the analyzer's limit is refused anyway
RUNTIMES = ("bubblewrap", "docker", "podman")


class HookError(Exception):
    """Anything that stops a hook from judging: the agent gets a deny (exit 2) with this one-line reason."""


# NamedTuples rather than dataclasses: immutable all the same, and `dataclasses` (with `inspect`) would cost
# every agent command ~7 ms of imports.


class Call(NamedTuple):
    """The shell command an agent is about to run, taken from its payload."""

    agent: str
    command: str
    cwd: str
    session: str
    human: bool = True  # a person is in the agent's loop (not a bypass mode): the policy may ask for approval


class Judgement(NamedTuple):
    """What the analyzer decided. `on_approve` is where an `ask` runs once approved (host or sandbox);
    `sandboxed` is the command line that runs the command in the sandbox (empty when it never goes there)."""

    action: str
    risk: str
    reason: str
    runtime: str
    on_approve: str | None
    sandboxed: str
    findings: tuple[dict[str, Any], ...] = ()
    record: bool = True  # metrics.enabled where it was judged


class Reply(NamedTuple):
    """An adapter's answer: what goes to stdout and stderr, the exit status, and for the records the command
    the agent will run (`ran`) and the outcome (host, sandbox, blocked, or None while the agent asks)."""

    stdout: str
    status: int = 0
    stderr: str = ""
    ran: str = ""
    outcome: str | None = None


def read_payload(stream: BinaryIO, limit: int = MAX_PAYLOAD) -> dict[str, Any]:
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise HookError(f"the hook payload is over {limit // 1024} KiB; refusing to judge a truncated command")
    if not data.strip():
        raise HookError("empty hook payload on stdin (is the hook configured for a tool-use event?)")
    try:
        payload = json.loads(data)
    except (ValueError, UnicodeDecodeError) as e:
        raise HookError(f"the hook payload is not JSON ({e})") from None
    if not isinstance(payload, dict):
        raise HookError(f"the hook payload is a JSON {type(payload).__name__}, not an object")
    return payload


def text_field(obj: Mapping[str, Any], *names: str) -> str:
    """The first of `names` present in `obj`, which must be a string; HookError when none is."""
    for name in names:
        if name in obj:
            value = obj[name]
            if not isinstance(value, str):
                raise HookError(f"payload field {name!r} is a {type(value).__name__}, not a string")
            return value
    raise HookError(f"payload field {names[0]!r} is missing")


def run_dir(cwd: str, args: Mapping[str, Any], name: str) -> str:
    """The directory the agent's tool will really run the command in: `args[name]` when given (relative to
    `cwd`), else `cwd`. Judging in any other directory lets `./evil.sh` be read against the wrong files."""
    given = text_field(args, name) if name in args else ""
    return os.path.normpath(os.path.join(cwd, given)) if given else cwd


def tool_input(payload: Mapping[str, Any], name: str = "tool_input") -> dict[str, Any]:
    value = payload.get(name)
    if not isinstance(value, dict):
        raise HookError(f"payload field {name!r} is missing or not an object")
    return value


def judge(call: Call, env: Mapping[str, str], timeout: float) -> Judgement:
    if not call.command.strip():
        raise HookError("the command to judge is empty")
    data = _from_analyzer(call, env, timeout)
    if data is None:
        data = _in_process(call, env)
    return _judgement(call, data)


class _NotRunning(Exception):
    pass


def _from_analyzer(call: Call, env: Mapping[str, str], timeout: float) -> dict[str, Any] | None:
    """The running analyzer's verdict, starting one when none runs. None when it cannot answer for this
    environment (other VG_* settings) or could not judge, so the caller judges in-process. An analyzer that
    takes the request and then does not answer in time, or answers garbage, is a HookError: deny."""
    try:
        return _ask(call, env, timeout)
    except _NotRunning:
        if not _start_analyzer(env):
            return None
    try:
        return _ask(call, env, timeout)
    except _NotRunning:
        return None


def _ask(call: Call, env: Mapping[str, str], timeout: float) -> dict[str, Any] | None:
    """One `JSON` request (see vgshell.server), flagged `norecord`: this hook records the decision itself."""
    import socket

    from vgshell import client

    try:
        with open(os.path.join(client.state_dir(env), "analyzer.env")) as f:
            st = dict(x.rstrip("\n").split("=", 1) for x in f if "=" in x)
        port = int(st["port"])
    except (OSError, KeyError, ValueError):
        raise _NotRunning() from None
    if st.get("envkey") != client.env_key(env):
        return None
    cwd, line = (x.encode("utf-8", "surrogateescape") for x in (call.cwd, call.command))
    flags = "shell=bash,norecord,handoff,tty" if call.human else "shell=bash,norecord,handoff"
    session = call.session.replace(" ", "_")[:64] or "agent"
    head = f"JSON {st.get('client', '-')} {session} {flags} {len(cwd)} {len(line)}\n".encode()
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect((b"127.0.0.1", port))  # bytes: a str host would load the idna codec (~5 ms) on every command
    except OSError:
        s.close()
        raise _NotRunning() from None
    data = b""
    try:
        with s:
            s.sendall(head + cwd + line)
            while not data.endswith(b"\n"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
    except OSError as e:
        raise HookError(f"the analyzer did not answer ({e}); not running it") from None
    token, _, payload = data.decode("utf-8", "surrogateescape").partition(" ")
    if not data.endswith(b"\n"):
        raise HookError("the analyzer closed the connection without an answer; not running it")
    if token != st.get("server"):
        raise HookError("the answer did not come from this user's analyzer (wrong token); not running it")
    try:
        result = json.loads(payload)
    except ValueError:
        raise HookError("the analyzer answered garbage; not running it") from None
    if result is None:  # it could not judge (it says so): judge here
        return None
    if not isinstance(result, dict):
        raise HookError("the analyzer answered garbage; not running it")
    return result


def _start_analyzer(env: Mapping[str, str]) -> bool:
    """Start the analyzer when none is running (True when one was started). Quietly: a failure only means
    the in-process judge answers this time."""
    from vgshell import server
    from vgshell.context import Environment

    context = Environment(env=dict(env))
    if server.alive(context) is not None:
        return False
    try:
        server.start(context)
    except Exception:  # the in-process judge still answers
        return False
    return True


def _in_process(call: Call, env: Mapping[str, str]) -> dict[str, Any]:
    from dataclasses import replace

    from vgshell.analyzer import Analyzer
    from vgshell.config import load_config
    from vgshell.context import Environment

    context = Environment(env=dict(env), cwd=call.cwd)
    analyzer = Analyzer(context, load_config(context, None))
    facts = replace(analyzer.facts, human_present=call.human)
    result: dict[str, Any] = analyzer.check(call.command, cwd=call.cwd, facts=facts).to_json()
    result["record"] = analyzer.cfg.metrics.enabled
    return result


def _judgement(call: Call, data: Mapping[str, Any]) -> Judgement:
    action = data.get("decision")
    if action not in ("host", "sandbox", "ask", "block"):
        raise HookError(f"the analyzer answered an unknown decision {action!r}")
    where = str(data.get("runtime") or "none")
    on_approve = None
    if action == "ask":
        on_approve = "host" if where == "host" else "sandbox" if where in RUNTIMES else None
    goes_to_sandbox = action == "sandbox" or on_approve == "sandbox"
    if goes_to_sandbox and data.get("handoff_error"):
        raise HookError(str(data["handoff_error"]))
    token = data.get("decision_token")
    sandboxed = sandbox_command(call, where, token if isinstance(token, str) else None) if goes_to_sandbox else ""
    return Judgement(str(action), str(data.get("risk", "")), str(data.get("reason", "")), where, on_approve,
                     sandboxed, tuple(data.get("findings") or ()), data.get("record") is not False)


def sandbox_command(call: Call, runtime: str, token: str | None = None) -> str:
    """The command line that runs `call.command` in the sandbox, the decision travelling with it: the
    analyzer's decision token when it handed one out (`vg exec --decision`: the decided spec runs, nothing is
    judged again; the command shown is only checked against it), else `vg exec --sandbox RUNTIME` (judged
    in-process here: the sandbox is forced, a critical command still refused). Neither runs on the host."""
    import shlex

    how = f"--decision {token}" if token and token.isalnum() else \
        f"--sandbox {runtime if runtime in RUNTIMES else 'auto'}"
    return (f"VG_SESSION={shlex.quote(call.session or 'agent')} {shlex.quote(vg_binary())} exec {how} "
            f"--agent {call.agent} {shlex.quote(call.command)}")


def vg_binary() -> str:
    """This vg, by absolute path: the agent's shell may have another PATH."""
    import shutil

    argv0 = sys.argv[0] if sys.argv else ""
    if os.path.basename(argv0) == "vg" and os.path.isfile(argv0):
        return os.path.abspath(argv0)
    return shutil.which("vg") or "vg"


def describe(j: Judgement) -> str:
    """The one line an agent and its user read: what vgshell decided and why."""
    return f"vgshell: {j.action} ({j.risk}): {j.reason}"


def record(call: Call, j: Judgement | None, reply: Reply, env: Mapping[str, str]) -> None:
    """The decision into the records (kind `agent`), after the answer is out. Never raises."""
    try:
        import time

        from vgshell import client, records

        if j is not None and not j.record:  # metrics.enabled: false
            return
        if j is None:
            risk, decision, why, runtime, findings = "critical", "block", reply.stderr.strip(), None, "[]"
        else:
            risk, decision, why = j.risk, j.action, j.reason
            runtime = "host" if reply.outcome == "host" else j.runtime if reply.outcome == "sandbox" else None
            findings = json.dumps([{"rule": f.get("rule"), "level": f.get("level"), "reason": f.get("reason")}
                                   for f in j.findings], ensure_ascii=False)
        from pathlib import Path

        state = Path(client.state_dir(env))
        records.record_values(state, (time.time(), call.session or "agent", "agent", call.cwd, call.command, risk,
                                      findings, decision, None, reply.outcome, runtime, 0, None, None, why, None,
                                      call.agent, reply.ran or None))
    except Exception:  # recording must never change the answer
        return
