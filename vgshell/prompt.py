"""The approval prompt (SPEC §6), asked only when a human is at the terminal (stdin and stderr are terminals).

    command: git reset --hard
    risk:    high
    - git reset --hard throws away uncommitted changes (git.reset-hard)
    y  yes, run once / r  yes, and remember / n  no (default) >

`y` runs once, `r` runs and remembers (the trust store), anything else — an empty line, garbage, EOF,
Ctrl-C, or no answer within `prompt.timeout` seconds — means no.
"""

from __future__ import annotations

import select
from typing import Literal, TextIO

from vgshell.analyzer import Verdict
from vgshell.context import Environment

Answer = Literal["y", "r", "n"]
CHOICES = "  y  yes, run once / r  yes, and remember / n  no (default) > "
MAX_FINDINGS = 5


def parse(text: str | None) -> Answer:
    word = (text or "").strip().lower()
    if word in ("y", "yes"):
        return "y"
    if word in ("r", "remember"):
        return "r"
    return "n"


def ask(env: Environment, verdict: Verdict, timeout: int | None = None) -> Answer:
    """The human's answer; always "n" without a human present."""
    if not env.human_present:
        return "n"
    err = env.stderr
    err.write(details(verdict) + CHOICES)
    err.flush()
    try:
        line = _read_line(env.stdin, timeout)
    except (KeyboardInterrupt, EOFError):
        line = None
    except TimeoutError:
        line = None
        err.write(f"\n  (no answer within {timeout}s)")
    if line is None:
        err.write("\n")
        err.flush()
    return parse(line)


def details(verdict: Verdict) -> str:
    a = verdict.assessment
    lines = [f"  command: {a.command}", f"  risk:    {a.risk}"]
    lines += [f"  - {f.reason} ({f.rule})" for f in a.findings[:MAX_FINDINGS]]
    if len(a.findings) > MAX_FINDINGS:
        lines.append(f"  … and {len(a.findings) - MAX_FINDINGS} more (vg explain)")
    where = verdict.decision.where
    lines.append(f"  y or r runs it {'on the host' if where == 'host' else f'in the sandbox ({where})'}")
    return "\n".join(lines) + "\n"


def _read_line(stream: TextIO, timeout: int | None) -> str | None:
    """One line, None on EOF; TimeoutError when `timeout` seconds pass first."""
    if timeout is not None:
        ready, _, _ = select.select([stream], [], [], timeout)
        if not ready:
            raise TimeoutError
    line = stream.readline()
    return line if line else None
