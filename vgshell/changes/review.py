"""After a captured run: show what the command wrote and ask apply / discard / keep, or keep it pending.

    vg: changes: the command wrote 2 added, 1 deleted in /home/me/app (kept apart from it)
    + new.txt (4 B) …
    a  apply to the project / d  discard / k  keep for later (default) >

Without a human at the terminal nothing is applied: the change is kept and the notice says how to review
it. `discard` mode throws the writes away and says so. An empty answer, EOF, Ctrl-C or anything else keeps
the change: nothing is lost and nothing reaches the project unasked.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from typing import Literal, TextIO

from vgshell.changes import store
from vgshell.changes.capture import Capture
from vgshell.changes.changeset import ApplyResult, ChangeSet, apply, render
from vgshell.changes.display import counts
from vgshell.context import Environment

Answer = Literal["a", "d", "k"]
CHOICES = "  a  apply to the project / d  discard / k  keep for later (default) > "


def settle(cap: Capture, mode: str, env: Environment) -> None:
    """What happens to a captured run's writes under `sandbox.project_writes` `mode` (review or discard).
    Said even with --quiet: it is how the writes reach the project, or why they did not."""
    if not cap.changes:
        store.remove(cap.entry)
        return
    if mode == "discard":
        store.remove(cap.entry)
        _say(env, f"vg: changes: discarded what the command wrote in {cap.project}: {counts(cap.changes)} "
                  f"(sandbox.project_writes: discard)")
        return
    if not env.human_present:
        _say(env, pending_notice(cap.entry, cap.changes))
        return
    _say(env, f"vg: changes: the command wrote {counts(cap.changes)} in {cap.project} (kept apart from it)")
    show(render(cap.changes, cap.upper, cap.project), env)
    answer = ask(env)
    if answer == "a":
        _say(env, applied_notice(apply_entry(cap.entry, cap.changes), cap.entry, cap.project))
    elif answer == "d":
        store.remove(cap.entry)
        _say(env, "vg: changes: discarded; the project is as it was")
    else:
        _say(env, pending_notice(cap.entry, cap.changes))


def pending_notice(entry: store.Entry, changes: ChangeSet) -> str:
    return (f"vg: changes: not applied to {entry.meta.project} ({counts(changes)}); review them with "
            f"vg changes show {entry.id}, then vg changes apply|discard {entry.id}")


def apply_entry(entry: store.Entry, changes: ChangeSet) -> ApplyResult:
    """Apply a stored change; what was refused stays stored (pending), the rest is done with."""
    from pathlib import Path

    result = apply(changes, entry.upper, Path(entry.meta.project))
    if result.ok:
        store.remove(entry)
    else:
        refused = {r.path for r in result.refused}
        store.save_changes(entry, tuple(c for c in changes if c.path in refused))
    return result


def applied_notice(result: ApplyResult, entry: store.Entry, project: object) -> str:
    done = f"vg: changes: applied {len(result.applied)} change{'s' if len(result.applied) != 1 else ''} to {project}"
    if result.ok:
        return done
    lines = [f"{done}; refused {len(result.refused)} (kept as {entry.id}):"]
    lines += [f"  {r.path}: {r.reason}" for r in result.refused]
    return "\n".join(lines)


def show(text: str, env: Environment, out: TextIO | None = None) -> None:
    """The review text on `out` (stderr by default): through $PAGER (or `less -FRX`) when it is longer than
    the terminal and the terminal is there to page on."""
    out = out or env.stderr
    rows = shutil.get_terminal_size((80, 24)).lines
    if text.count("\n") > rows - 4 and env.isatty(out) and env.isatty(env.stdout):
        pager = shlex.split(env.env.get("PAGER") or "less -FRX")
        if pager and shutil.which(pager[0], path=env.env.get("PATH")):
            env.stderr.flush()
            try:
                subprocess.run(pager, input=text.encode("utf-8", "replace"), check=False,
                               env={**os.environ, **env.env})
                return
            except OSError:
                pass
    out.write(text)
    out.flush()


def ask(env: Environment) -> Answer:
    env.stderr.write(CHOICES)
    env.stderr.flush()
    try:
        line = env.stdin.readline()
    except (KeyboardInterrupt, EOFError, OSError):
        line = ""
    if not line:
        env.stderr.write("\n")
    return parse(line)


def parse(text: str | None) -> Answer:
    word = (text or "").strip().lower()
    if word in ("a", "apply"):
        return "a"
    if word in ("d", "discard"):
        return "d"
    return "k"


def _say(env: Environment, text: str) -> None:
    env.stderr.write(text + "\n")
    env.stderr.flush()
