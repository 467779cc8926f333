"""The Environment: every fact the pure core may need from the outside world, gathered at the edge.

The core (parse, risk, policy) never reads `os.environ`, the clock or files itself; it is handed an
Environment. Tests build one pointing at a temporary directory.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO


def _default_home(env: Mapping[str, str]) -> str:
    return env.get("HOME") or str(Path.home())


@dataclass(frozen=True)
class Environment:
    """Streams, terminal facts, directories and the clock, as seen by one `vg` invocation."""

    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    cwd: str = field(default_factory=os.getcwd)
    stdin: TextIO = field(default_factory=lambda: sys.stdin)
    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)
    clock: Callable[[], float] = time.time

    @property
    def home(self) -> str:
        return _default_home(self.env)

    @property
    def state_dir(self) -> Path:
        """`~/.vectra-guard/`, or `VG_HOME` when set (tests always set it)."""
        override = self.env.get("VG_HOME")
        return Path(override) if override else Path(self.home) / ".vectra-guard"

    @property
    def in_ci(self) -> bool:
        return bool(self.env.get("CI"))

    def isatty(self, stream: TextIO) -> bool:
        try:
            return stream.isatty()
        except (ValueError, AttributeError):
            return False

    @property
    def human_present(self) -> bool:
        """A human can answer a prompt: stdin and stderr are both terminals."""
        return self.isatty(self.stdin) and self.isatty(self.stderr)

    @property
    def color(self) -> bool:
        return "NO_COLOR" not in self.env and self.isatty(self.stderr)
