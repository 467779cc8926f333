"""Running a line so the result cache can record it: its output copied (`Tee`) and its project writes
captured behind an overlay, then written to the project as a direct run would and recorded (`engine.record`).

Recording needs the overlay capture of the project's writes; until this tree has it, the line runs exactly
as an unrecorded run does (output straight to the terminal, writes straight to the project) and nothing is
recorded, so the cache only ever serves what a capture recorded.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vgshell.context import Environment
    from vgshell.resultcache.engine import Lookup
    from vgshell.sandbox.spec import SandboxSpec
    from vgshell.sandbox.tee import Tee

Runner = Callable[["SandboxSpec", "Tee | None"], int]


def run_recorded(lk: Lookup, runtime: str, spec: SandboxSpec, env: Environment, runner: Runner) -> int:
    """Run `spec` through `runner`, recording the result where the project's writes can be captured."""
    del lk, runtime, env  # used once the capture is wired in
    return runner(spec, None)
