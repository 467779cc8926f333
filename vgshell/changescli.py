"""`vg changes list | show ID | apply ID | discard ID [--json]`: the writes sandboxed runs kept for review.

An id may be given by any unique prefix. `apply` exits 1 when it refused a path (the real tree changed there
since the run, or a link would lead out of the project); what it refused stays stored.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from vgshell.changes import store
from vgshell.changes.model import ChangeSetError
from vgshell.context import Environment
from vgshell.errors import ExitStatus, UsageError

ACTIONS = ("list", "show", "apply", "discard")


def run(action: str | None, ident: str | None, as_json: bool, env: Environment) -> int:
    if action not in ACTIONS:
        raise UsageError("'vg changes' needs an action: list, show ID, apply ID or discard ID")
    from vgshell.changes.capture import sweep

    sweep(env.state_dir)  # a killed vg's host mount (docker) is gone before its entry is shown or removed
    if action == "list":
        return _list(env, as_json)
    if not ident:
        raise UsageError(f"'vg changes {action}' needs the id of a change (vg changes list shows them)")
    entry = store.find(env.state_dir, ident)
    if action == "show":
        return _show(entry, env, as_json)
    if action == "discard":
        store.remove(entry)
        return _out(as_json, {"id": entry.id, "discarded": True}, f"vg: changes: discarded {entry.id}")
    return _apply(entry, env, as_json)


def status_of(entry: store.Entry) -> str:
    """`interrupted`: a run whose vg is gone before it could read what was written."""
    m = entry.meta
    if m.status == "running" and not _alive(m.pid):
        return "interrupted"
    return m.status


def _list(env: Environment, as_json: bool) -> int:
    from vgshell.changes.display import counts
    from vgshell.output import table

    rows = []
    for e in store.entries(env.state_dir):
        changes = _changes(e)
        rows.append({**asdict(e.meta), "status": status_of(e), "summary": counts(changes) if changes is not None
                     else "", "paths": None if changes is None else len(changes)})
    if as_json:
        return _json(rows)
    if not rows:
        sys.stdout.write("no changes kept for review\n")
        return int(ExitStatus.OK)
    now = time.time()
    table(env, sys.stdout, ("ID", "STATUS", "AGE", "RUNTIME", "CHANGES", "PROJECT", "COMMAND"),
          [(r["id"], r["status"], _age(now - r["created"]), r["runtime"], r["summary"], r["project"],
            r["command"][:60]) for r in rows])
    return int(ExitStatus.OK)


def _show(entry: store.Entry, env: Environment, as_json: bool) -> int:
    from vgshell.changes.changeset import render
    from vgshell.changes.review import show

    changes = _changes(entry)
    if as_json:
        return _json({**asdict(entry.meta), "status": status_of(entry),
                      "changes": None if changes is None else [asdict(c) for c in changes]})
    if changes is None:
        raise ChangeSetError(f"{entry.id} was interrupted before its writes were read (status "
                             f"{status_of(entry)}); discard it with vg changes discard {entry.id}")
    m = entry.meta
    head = f"change {m.id}: {m.command!r} in {m.cwd} ({m.runtime}, exit {m.exit_status}, {status_of(entry)})\n"
    show(head + render(changes, entry.upper, Path(m.project)), env, env.stdout)
    return int(ExitStatus.OK)


def _apply(entry: store.Entry, env: Environment, as_json: bool) -> int:
    from vgshell.changes.review import applied_notice, apply_entry

    changes = _changes(entry)
    if changes is None:
        raise ChangeSetError(f"{entry.id} was interrupted before its writes were read; it cannot be applied "
                             f"(vg changes discard {entry.id})")
    result = apply_entry(entry, changes)
    data = {"id": entry.id, "applied": list(result.applied), "refused": [asdict(r) for r in result.refused]}
    _out(as_json, data, applied_notice(result, entry, entry.meta.project))
    return int(ExitStatus.OK if result.ok else ExitStatus.ERROR)


def _changes(entry: store.Entry) -> Any:
    try:
        return store.load_changes(entry)
    except ChangeSetError:
        return None


def _out(as_json: bool, data: object, text: str) -> int:
    if as_json:
        return _json(data)
    sys.stdout.write(text + "\n")
    return int(ExitStatus.OK)


def _json(data: object) -> int:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
    return int(ExitStatus.OK)


def _age(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
