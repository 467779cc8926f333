"""The approval prompt, asked only when a human is at the terminal (stdin and stderr are terminals)."""

from __future__ import annotations

from vgshell.analyzer import Verdict
from vgshell.context import Environment


def ask(env: Environment, verdict: Verdict) -> bool:
    """True only for an explicit yes; anything else, EOF or Ctrl-C means no."""
    if not env.human_present:
        return False
    a = verdict.assessment
    err = env.stderr
    err.write(f"  command: {a.command}\n  risk:    {a.risk}\n")
    for f in a.findings[:5]:
        err.write(f"  - {f.reason} ({f.rule})\n")
    err.write("  y  yes, run once / n  no (default) > ")
    err.flush()
    try:
        answer = env.stdin.readline()
    except (KeyboardInterrupt, EOFError):
        err.write("\n")
        return False
    return answer.strip().lower() in ("y", "yes")
