"""Rendering for people: the one-line notices (SPEC §12) and `vg explain` tables.

rich is used only when stderr/stdout is a terminal and NO_COLOR is unset, and it is imported only then:
the plain path stays fast and its text is what pipes and tests see.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from vgshell.analyzer import Verdict
    from vgshell.context import Environment

ICONS = {"block": "🛑", "sandbox": "📦", "ask": "❓", "host": "✅"}


def notice(v: Verdict, cached: bool = False) -> str | None:
    """The one line printed to stderr for a decision; None for a quiet host run."""
    d = v.decision
    if d.action == "host" and v.assessment.risk == 0 and not d.why.startswith(("allowlisted", "trusted")):
        return None
    if d.action == "block":
        return f"{ICONS['block']} Blocked: {d.why}"
    if d.action == "sandbox":
        runtime = f" ({d.runtime}{', cached' if v.cache_mounts or cached else ''})"
        note = f" [{d.fallback_note}]" if d.fallback_note else ""
        return f"{ICONS['sandbox']} Running in sandbox{runtime}. Why: {d.why}{note}"
    if d.action == "ask":
        return f"{ICONS['ask']} Needs approval. Why: {d.why}"
    return f"{ICONS['host']} Running on host. Why: {d.why}"


def check_line(v: Verdict) -> str:
    return f"{v.decision.action} ({v.assessment.risk}): {v.decision.why}"


def explain(v: Verdict, env: Environment, out: TextIO) -> None:
    if env.isatty(out) and "NO_COLOR" not in env.env:
        _explain_rich(v, out)
    else:
        out.write(_explain_plain(v))


def _summary_rows(v: Verdict) -> list[tuple[str, str]]:
    a, d = v.assessment, v.decision
    rows = [("command", a.command), ("risk", str(a.risk)), ("decision", d.action), ("runtime", d.where),
            ("why", d.why)]
    if a.networked_install:
        rows.append(("install", "networked install (" + ", ".join(a.ecosystems) + ")"))
    if v.cache_mounts:
        rows.append(("caches", ", ".join(v.cache_mounts)))
    return rows


def _finding_rows(v: Verdict) -> list[tuple[str, str, str, str, str]]:
    return [(str(f.level), f.cite, f.category, f.match + (f"  [via {' > '.join(f.via)}]" if f.via else ""),
             f.reason) for f in v.assessment.findings]


def _explain_plain(v: Verdict) -> str:
    lines = [f"{k:<9} {val}" for k, val in _summary_rows(v)]
    rows = _finding_rows(v)
    if not rows:
        lines.append("\nno findings: nothing in this command matched a risk rule")
        return "\n".join(lines) + "\n"
    header = ("LEVEL", "RULE", "CATEGORY", "COMMAND", "REASON")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    lines.append("")
    for r in [header, *rows]:
        lines.append("  ".join(c.ljust(w) for c, w in zip(r[:4], widths, strict=True)) + "  " + r[4])
    return "\n".join(lines) + "\n"


def _explain_rich(v: Verdict, out: TextIO) -> None:
    from rich.console import Console
    from rich.table import Table

    colors = {"low": "green", "medium": "yellow", "high": "red", "critical": "bold red"}
    console = Console(file=out, highlight=False)
    summary = Table.grid(padding=(0, 2))
    for k, val in _summary_rows(v):
        style = colors.get(val, "") if k == "risk" else ""
        summary.add_row(f"[bold]{k}[/]", f"[{style}]{val}[/]" if style else val)
    console.print(summary)
    rows = _finding_rows(v)
    if not rows:
        console.print("\nno findings: nothing in this command matched a risk rule")
        return
    table = Table("level", "rule", "category", "command", "reason", header_style="bold")
    for r in rows:
        table.add_row(f"[{colors[r[0]]}]{r[0]}[/]", *r[1:])
    console.print(table)


def table(env: Environment, out: TextIO, header: Sequence[str], rows: Sequence[Sequence[str]],
          title: str | None = None) -> None:
    """A table of strings: rich on a terminal, aligned plain text under NO_COLOR or into a pipe."""
    if env.isatty(out) and "NO_COLOR" not in env.env:
        from rich.console import Console
        from rich.table import Table

        t = Table(*header, title=title, header_style="bold", title_justify="left")
        for r in rows:
            t.add_row(*r)
        Console(file=out, highlight=False).print(t)
        return
    if title:
        out.write(title + "\n")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for r in [header, *rows]:
        out.write("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() + "\n")
