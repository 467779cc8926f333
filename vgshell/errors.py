"""One voice for errors: the VgError hierarchy and the exit statuses `vg` uses."""

from __future__ import annotations

from enum import IntEnum


class ExitStatus(IntEnum):
    """Exit statuses of `vg`. `vg check` uses HOST/SANDBOX/ASK/BLOCK to report its decision."""

    OK = 0
    HOST = 0
    ERROR = 1
    USAGE = 2
    CONFIG = 3
    SANDBOX = 10
    ASK = 20
    BLOCK = 30
    TIMEOUT = 124
    INTERRUPTED = 130


class VgError(Exception):
    """An error the user can act on. `str()` is the one line `vg` prints after `vg: <topic>: `."""

    topic = "error"
    status = ExitStatus.ERROR

    def render(self) -> str:
        return f"vg: {self.topic}: {self}"


class UsageError(VgError):
    topic = "usage"
    status = ExitStatus.USAGE


class ConfigError(VgError):
    """A config or rule-pack problem; the message names the file, line, key, bad value and the fix."""

    topic = "config"
    status = ExitStatus.CONFIG


class RuleError(ConfigError):
    topic = "rules"
