"""Running a line so the result cache can record it: its output copied (`Tee`) and the project behind an
overlay (`execute.run_captured`), then the captured writes applied to the project at once — what a direct
run leaves — and the result recorded (`engine.record`).

A write the project refuses (a file changed on the host during the run) is named and the run is not
recorded. Where no overlay can be made the line runs as usual, unrecorded, with a note: the result cache
never changes whether or how a command runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vgshell.changes.capture import Capture
    from vgshell.context import Environment
    from vgshell.resultcache.engine import Lookup
    from vgshell.sandbox.tee import Tee


def run_recorded(lk: Lookup, env: Environment, captured: Callable[[Tee], Capture],
                 plain: Callable[[], int]) -> int:
    """Run through `captured` (the project behind an overlay, output copied into the Tee it is given), apply
    and record; `plain` runs it unrecorded where no overlay can be made."""
    from vgshell.sandbox.docker import SandboxError
    from vgshell.sandbox.tee import Tee

    tee = Tee()
    started = time.monotonic()
    try:
        cap = captured(tee)
    except SandboxError as e:
        if "not run" not in str(e) and "nothing in the project is writable" not in str(e):
            raise
        env.stderr.write(f"vg: cache: {e}; running it without the result cache\n")
        return plain()
    from vgshell.changes import store
    from vgshell.changes.changeset import apply
    from vgshell.resultcache.replay import listing, written_dirs

    try:
        dirs = written_dirs(cap.changes)
        before = [listing(str(cap.project / d)) for d in dirs]  # the run's writes are still in the overlay
        result = apply(cap.changes, cap.upper, cap.project)
        if result.refused:
            r = result.refused[0]
            more = f" and {len(result.refused) - 1} more" if len(result.refused) > 1 else ""
            env.stderr.write(f"vg: sandbox: {r.path}{more} not written to the project: {r.reason}; the run "
                             f"was not recorded in the result cache\n")
            return cap.status
        from vgshell.resultcache import engine

        ms = (time.monotonic() - started) * 1000
        seen = tuple((d, b, listing(str(cap.project / d)) or ()) for d, b in zip(dirs, before, strict=True)
                     if b is not None)
        engine.record(lk, env, upper=cap.upper, changes=cap.changes, tee=tee, status=cap.status, duration_ms=ms,
                      dirs=seen)
    finally:
        store.remove(cap.entry)
    return cap.status
