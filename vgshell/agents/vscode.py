"""VS Code (GitHub Copilot agent mode): a `PreToolUse` hook in a hook file (`.github/hooks/*.json`,
`~/.copilot/hooks`).

Follows the VS Code agent hooks documentation (code.visualstudio.com/docs/agent-customization/hooks,
"PreToolUse"): stdin carries the common fields `timestamp`, `cwd`, `sessionId`, `hookEventName`,
`transcript_path` plus `tool_name`, `tool_input`, `tool_use_id`; the answer is Claude-style
`hookSpecificOutput` {`permissionDecision`: allow | deny | ask, `permissionDecisionReason`, `updatedInput`};
exit 2 blocks. VS Code ignores matchers, so the hook sees every tool: only the terminal tool
(`run_in_terminal`; `runTerminalCommand` in the documentation's example) is judged, the rest get no opinion.

host → no opinion (VS Code's own terminal auto-approval settings stay in charge; a hook "allow" would
auto-approve every command vgshell lets through). sandbox → allow with the rewritten `command`, other
fields kept. ask → ask. block → exit 2.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vgshell.agents import claude
from vgshell.agents.judge import Call, Judgement, Reply

NAME = "vscode"
SHELL_TOOLS = ("run_in_terminal", "runTerminalCommand")


def parse(payload: Mapping[str, Any]) -> Call | None:
    return claude.parse_pretooluse(payload, NAME, SHELL_TOOLS, "sessionId", "session_id")


def reply(call: Call, j: Judgement, payload: Mapping[str, Any]) -> Reply:
    return claude.reply_pretooluse(call, j, payload, host_allows=False)


no_opinion = claude.no_opinion
deny = claude.deny
