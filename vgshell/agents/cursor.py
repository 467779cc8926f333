"""Cursor: a `beforeShellExecution` hook (`hooks.json`, user `~/.cursor` or project `.cursor`).

Follows Cursor's agent hooks documentation (cursor.com/docs/agent/hooks): `beforeShellExecution` gets
`conversation_id`, `generation_id`, `hook_event_name`, `workspace_roots`, `command`, `cwd` and answers
`permission` allow | deny | ask with `user_message` and `agent_message`; it cannot rewrite the command.
Exit 2 blocks as a deny. A `preToolUse` hook (tool `Shell`, `tool_input.command`) that answers
`updated_input` is also understood and rewritten into the sandbox; `vg setup cursor` installs
`beforeShellExecution`, the event documented for shell commands.

host → allow. sandbox → beforeShellExecution: deny (exit 2) with the exact command that runs it in the
sandbox, for the agent to run instead; preToolUse: allow + `updated_input`. ask → ask (or, when approval
means the sandbox, the same deny). block → deny, exit 2.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from vgshell.agents.judge import Call, HookError, Judgement, Reply, describe, run_dir, text_field, tool_input

NAME = "cursor"


def parse(payload: Mapping[str, Any]) -> Call | None:
    event = text_field(payload, "hook_event_name")
    session = text_field(payload, "conversation_id")
    if event == "beforeShellExecution":
        return Call(NAME, text_field(payload, "command"), _cwd(payload), session, human=True)
    if event == "preToolUse":
        if text_field(payload, "tool_name") != "Shell":
            return None
        args = tool_input(payload)
        # the Shell tool runs the command in tool_input.working_directory, not the top-level cwd: judge it there
        where = run_dir(_cwd(payload), args, "working_directory")
        return Call(NAME, text_field(args, "command"), where, session, human=True)
    raise HookError(f"expected a beforeShellExecution or preToolUse payload, got {event!r}")


def _cwd(payload: Mapping[str, Any]) -> str:
    if "cwd" in payload:
        return text_field(payload, "cwd")
    roots = payload.get("workspace_roots")
    if isinstance(roots, list) and roots and isinstance(roots[0], str):
        return roots[0]
    raise HookError("payload field 'cwd' is missing")


def reply(call: Call, j: Judgement, payload: Mapping[str, Any]) -> Reply:
    why = describe(j)
    if j.action == "host":
        return Reply(_out("allow", why), ran=call.command, outcome="host")
    if j.action == "block":
        return deny(f"vg: blocked: {j.reason}")
    rewrite = payload.get("hook_event_name") == "preToolUse"
    if j.action == "sandbox" and rewrite:
        updated = {**tool_input(payload), "command": j.sandboxed}
        return Reply(json.dumps({"permission": "allow", "user_message": f"{why} — runs in the sandbox",
                                 "agent_message": f"{why} — runs in the sandbox", "updated_input": updated}),
                     ran=j.sandboxed, outcome="sandbox")
    if j.action == "ask" and not j.sandboxed:
        return Reply(_out("ask", why), ran=call.command, outcome=None)
    return deny(f"vg: this command runs only in the sandbox ({j.reason}); run instead: {j.sandboxed}")


def _out(permission: str, message: str) -> str:
    return json.dumps({"permission": permission, "user_message": message, "agent_message": message},
                      ensure_ascii=False)


def no_opinion() -> Reply:
    return Reply("{}")  # Cursor wants JSON on every path; an empty object leaves its own flow alone


def deny(reason: str) -> Reply:
    """The documented deny JSON and exit 2: either way the command does not run."""
    return Reply(_out("deny", reason), 2, reason, outcome="blocked")
