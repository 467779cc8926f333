"""Claude Code: a `PreToolUse` command hook with matcher `Bash`.

Follows the Claude Code hooks reference (code.claude.com/docs/en/hooks, "PreToolUse"): stdin carries
`session_id`, `transcript_path`, `cwd`, `permission_mode`, `hook_event_name`, `tool_name`, `tool_use_id` and
`tool_input` {`command`, `description`, `timeout`, `run_in_background`}; the answer is
`hookSpecificOutput` {`hookEventName`: "PreToolUse", `permissionDecision`: allow | deny | ask,
`permissionDecisionReason`, `updatedInput`}; `updatedInput` replaces the whole tool input, so every other
field is echoed back; exit 2 blocks, with stderr shown to Claude.

host → allow (vgshell judged it safe to run as is; Claude's own deny and ask rules still apply).
sandbox → allow with `updatedInput.command` = the `vg exec --sandbox` line (other fields kept).
ask → ask (with the rewrite when approval means the sandbox). block → exit 2.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from vgshell.agents.judge import Call, HookError, Judgement, Reply, describe, text_field, tool_input

NAME = "claude-code"
SHELL_TOOLS = ("Bash",)
NO_HUMAN_MODES = ("bypassPermissions", "dontAsk")  # an ask would not reach a person


def parse(payload: Mapping[str, Any]) -> Call | None:
    return parse_pretooluse(payload, NAME, SHELL_TOOLS, "session_id")


def parse_pretooluse(payload: Mapping[str, Any], agent: str, shell_tools: tuple[str, ...],
                     *session_keys: str) -> Call | None:
    event = payload.get("hook_event_name", payload.get("hookEventName", "PreToolUse"))
    if event != "PreToolUse":
        raise HookError(f"expected a PreToolUse payload, got hook_event_name {event!r}")
    tool = text_field(payload, "tool_name")
    if tool not in shell_tools:
        return None
    command = text_field(tool_input(payload), "command")
    mode = payload.get("permission_mode")
    return Call(agent, command, text_field(payload, "cwd"), text_field(payload, *session_keys),
                human=mode not in NO_HUMAN_MODES)


def reply(call: Call, j: Judgement, payload: Mapping[str, Any]) -> Reply:
    return reply_pretooluse(call, j, payload, host_allows=True)


def reply_pretooluse(call: Call, j: Judgement, payload: Mapping[str, Any], host_allows: bool) -> Reply:
    original = tool_input(payload)
    why = describe(j)
    if j.action == "host":
        return Reply(_out("allow", why) if host_allows else "", ran=call.command, outcome="host")
    if j.action == "block":
        return deny(f"vg: blocked: {j.reason}")
    rewritten = {**original, "command": j.sandboxed} if j.sandboxed else None
    if j.action == "sandbox":
        note = f"{why} — runs in the sandbox: {j.sandboxed}"
        return Reply(_out("allow", note, rewritten), ran=j.sandboxed, outcome="sandbox")
    ran = j.sandboxed or call.command
    return Reply(_out("ask", f"{why} (approve to run {'in the sandbox' if rewritten else 'it'})", rewritten),
                 ran=ran, outcome=None)


def _out(decision: str, reason: str, updated: dict[str, Any] | None = None) -> str:
    specific: dict[str, Any] = {"hookEventName": "PreToolUse", "permissionDecision": decision,
                                "permissionDecisionReason": reason}
    if updated is not None:
        specific["updatedInput"] = updated
    return json.dumps({"hookSpecificOutput": specific}, ensure_ascii=False)


def no_opinion() -> Reply:
    return Reply("")


def deny(reason: str) -> Reply:
    """Exit 2: Claude blocks the call and shows stderr to the model (JSON on stdout would be ignored)."""
    return Reply("", 2, reason, outcome="blocked")
