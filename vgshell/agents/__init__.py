"""AI coding agents: one small adapter per agent (its payload in → its answer out) over one shared judge.

`vg hook AGENT` (hook.py) reads the agent's hook payload, asks the running analyzer through judge.py, and
answers in the agent's own format; `vg setup AGENT` (setup.py) writes the hook into the agent's settings
files through vgshell.settings_edit. Each adapter module names the documentation its shapes follow.
"""

from __future__ import annotations

# agent name → adapter module (imported on demand: `vg hook` loads exactly one)
ADAPTERS = {
    "claude-code": "vgshell.agents.claude",
    "codex": "vgshell.agents.codex",
    "cursor": "vgshell.agents.cursor",
    "gemini": "vgshell.agents.gemini",
    "vscode": "vgshell.agents.vscode",
}
