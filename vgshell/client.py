"""Ask the running analyzer (vgshell.server) from a `vg` process: `vg check` without loading the rules.

Deliberately light (no yaml, bashlex or rules imported): it is the fast path of `vg check`. It is used only
when the analyzer would judge exactly as this process would — same VG_* environment, no `--config` — and
any failure (no analyzer, a stale one, a timeout) returns None so the caller judges in-process.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from typing import Any


def env_key(env: Mapping[str, str]) -> str:
    """A fingerprint of what can change a decision from the environment: every VG_* variable and CI (not
    VG_SESSION or VG_HOOK_TIMEOUT, which change no decision)."""
    import hashlib
    import json

    items = sorted((k, v) for k, v in env.items()
                   if (k.startswith("VG_") and k not in ("VG_SESSION", "VG_HOOK_TIMEOUT")) or k == "CI")
    return hashlib.sha256(json.dumps(items).encode()).hexdigest()[:16]


def state_dir(env: Mapping[str, str]) -> str:
    return env.get("VG_HOME") or os.path.join(env.get("HOME") or os.path.expanduser("~"), ".vectra-guard")


def _analyzer_state(env: Mapping[str, str]) -> dict[str, str]:
    with open(os.path.join(state_dir(env), "analyzer.env")) as f:
        return dict(x.rstrip("\n").split("=", 1) for x in f if "=" in x)


def _ask(st: Mapping[str, str], request: bytes, timeout: float) -> str | None:
    """Send one request; the payload of its one-line answer when it carries the server's token."""
    with socket.create_connection(("127.0.0.1", int(st["port"])), timeout=timeout) as s:
        s.sendall(request)
        data = b""
        while not data.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                return None
            data += chunk
    token, _, payload = data.decode("utf-8", "surrogateescape").partition(" ")
    return payload if token == st["server"] else None


def take(decision: str, env: Mapping[str, str], timeout: float = 5.0) -> dict[str, Any] | None:
    """The sandbox run the analyzer decided (`vg exec --decision`): runtime and spec, or None when the token
    is unknown, used or expired, or no analyzer answers. Any analyzer, whatever its VG_* environment: the
    decision was made there and is only carried out here."""
    if not decision.isalnum():
        return None
    import json

    try:
        st = _analyzer_state(env)
        payload = _ask(st, f"TAKE {st['client']} {decision}\n".encode(), timeout)
        result = json.loads(payload) if payload else None
    except (OSError, KeyError, ValueError):
        return None
    return result if isinstance(result, dict) else None


def check(line: str, cwd: str, env: Mapping[str, str], human: bool, timeout: float = 2.0) -> dict[str, Any] | None:
    """The analyzer's verdict as `vg check --json` prints it, or None when it cannot answer for us."""
    try:
        st = _analyzer_state(env)
        if st.get("envkey") != env_key(env):
            return None
        body = cwd.encode("utf-8", "surrogateescape"), line.encode("utf-8", "surrogateescape")
        flags = "shell=bash,tty" if human else "shell=bash"
        session = env.get("VG_SESSION") or _parent_session()
        head = f"JSON {st['client']} {session} {flags} {len(body[0])} {len(body[1])}\n"
        payload = _ask(st, head.encode() + body[0] + body[1], timeout)
        if payload is None:
            return None
        import json

        result: dict[str, Any] = json.loads(payload)
        return result
    except (OSError, KeyError, ValueError):
        return None


def _parent_session() -> str:
    from vgshell.records import parent_session

    return parent_session()
