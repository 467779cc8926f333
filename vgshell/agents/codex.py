"""Codex CLI: a `PreToolUse` command hook with matcher `Bash` (`[hooks]` in config.toml, or hooks.json).

Follows the Codex hooks documentation (developers.openai.com/codex/hooks) and, for 0.169.0, the schema the
CLI enforces (codex-rs/hooks `pre-tool-use.command.input/output`): stdin carries `session_id`, `turn_id`,
`transcript_path`, `cwd`, `hook_event_name`, `model`, `permission_mode`, `tool_name` ("Bash"),
`tool_use_id`, `tool_input` {`command`}. The answer is `hookSpecificOutput` with `permissionDecision`;
0.169.0 refuses `allow` without `updatedInput`, `updatedInput` without `allow`, and `ask` — and a refused
(invalid) answer counts as a failed hook, after which the tool RUNS. So every deny here is exit 2 with the
reason on stderr, which Codex always honours.

host → no output (no opinion: Codex's own approval policy and sandbox apply). sandbox → allow +
`updatedInput` {`command`: the `vg exec --sandbox` line}. ask (Codex has none) → deny with the reason and
the sandboxed command. block → exit 2.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from vgshell.agents import claude
from vgshell.agents.judge import Call, HookError, Judgement, Reply, describe, text_field, tool_input

NAME = "codex"


def parse(payload: Mapping[str, Any]) -> Call | None:
    event = payload.get("hook_event_name", "PreToolUse")
    if event != "PreToolUse":
        raise HookError(f"expected a PreToolUse payload, got hook_event_name {event!r}")
    if text_field(payload, "tool_name") != "Bash":
        return None
    command = text_field(tool_input(payload), "command")
    return Call(NAME, command, text_field(payload, "cwd"), text_field(payload, "session_id"),
                human=payload.get("permission_mode") not in claude.NO_HUMAN_MODES)


def reply(call: Call, j: Judgement, payload: Mapping[str, Any]) -> Reply:
    if j.action == "host":
        return Reply("", ran=call.command, outcome="host")
    if j.action == "sandbox":
        updated = {**tool_input(payload), "command": j.sandboxed}
        out = {"hookSpecificOutput": {"hookEventName": "PreToolUse", "permissionDecision": "allow",
                                      "permissionDecisionReason": f"{describe(j)} — runs in the sandbox",
                                      "updatedInput": updated}}
        return Reply(json.dumps(out, ensure_ascii=False), ran=j.sandboxed, outcome="sandbox")
    if j.action == "ask":
        hint = f"; to run it in the sandbox instead: {j.sandboxed}" if j.sandboxed else ""
        return deny(f"vg: needs approval, which Codex hooks cannot ask for: {j.reason}{hint}")
    return deny(f"vg: blocked: {j.reason}")


no_opinion = claude.no_opinion
deny = claude.deny
