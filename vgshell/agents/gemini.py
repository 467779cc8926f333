"""Gemini CLI: a `BeforeTool` hook with matcher `run_shell_command` (`hooks` in .gemini/settings.json).

Follows the Gemini CLI hooks reference (geminicli.com/docs/hooks/reference, "BeforeTool"): stdin carries
`session_id`, `transcript_path`, `cwd`, `hook_event_name`, `timestamp`, `tool_name`, `tool_input`
(for run_shell_command: `command`, `description`, `dir_path`); the answer is `decision` allow | deny
(alias block) with `reason`, and `hookSpecificOutput.tool_input` merges into and overrides the tool's
arguments; exit 2 blocks with stderr as the reason. There is no ask.

host → `{}` (no opinion: Gemini's own confirmation applies). sandbox → allow with
`hookSpecificOutput.tool_input` carrying the rewritten `command` (other arguments echoed). ask → deny
(exit 2) with the reason and the sandboxed command. block → exit 2.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from vgshell.agents import claude
from vgshell.agents.judge import Call, HookError, Judgement, Reply, describe, run_dir, text_field, tool_input

NAME = "gemini"


def parse(payload: Mapping[str, Any]) -> Call | None:
    event = payload.get("hook_event_name", "BeforeTool")
    if event != "BeforeTool":
        raise HookError(f"expected a BeforeTool payload, got hook_event_name {event!r}")
    if text_field(payload, "tool_name") != "run_shell_command":
        return None
    args = tool_input(payload)
    # run_shell_command runs in dir_path (relative to the project), not always in cwd: judge it there
    where = run_dir(text_field(payload, "cwd"), args, "dir_path")
    return Call(NAME, text_field(args, "command"), where, text_field(payload, "session_id"))


def reply(call: Call, j: Judgement, payload: Mapping[str, Any]) -> Reply:
    if j.action == "host":
        return Reply("{}", ran=call.command, outcome="host")
    if j.action == "sandbox":
        updated = {**tool_input(payload), "command": j.sandboxed}
        out = {"decision": "allow", "reason": f"{describe(j)} — runs in the sandbox",
               "hookSpecificOutput": {"hookEventName": "BeforeTool", "tool_input": updated}}
        return Reply(json.dumps(out, ensure_ascii=False), ran=j.sandboxed, outcome="sandbox")
    if j.action == "ask":
        hint = f"; to run it in the sandbox instead: {j.sandboxed}" if j.sandboxed else ""
        return deny(f"vg: needs approval, which Gemini CLI hooks cannot ask for: {j.reason}{hint}")
    return deny(f"vg: blocked: {j.reason}")


def no_opinion() -> Reply:
    return Reply("{}")


deny = claude.deny
