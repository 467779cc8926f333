"""The `vg` program's first module: `vg hook AGENT` — what an AI agent pays on every command — goes straight
to its adapter without the CLI's parser; everything else goes to vgshell.cli."""

from __future__ import annotations

import sys


def main() -> int:
    if sys.argv[1:2] == ["hook"]:
        from vgshell.agents.hook import main as hook_main

        return hook_main(sys.argv[2:])
    from vgshell.cli import main as cli_main

    return cli_main()
