"""The values risk analysis produces: levels, findings and the assessment."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class Level(IntEnum):
    LOW = 0
    MEDIUM = 1
    HIGH = 2
    CRITICAL = 3

    @classmethod
    def parse(cls, text: str) -> Level:
        return cls[text.upper()]

    def __str__(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class Finding:
    """One rule that matched: `match` is the command (as it would really run) that triggered it."""

    rule: str
    category: str
    level: Level
    match: str
    reason: str
    via: tuple[str, ...] = ()
    where: str | None = None  # the script file and line it comes from (`./cleanup.sh:12`)

    @property
    def cite(self) -> str:
        """`fs.rm-protected`, or `fs.rm-protected, in ./cleanup.sh:12` for a command in a script file."""
        return f"{self.rule}, in {self.where}" if self.where else self.rule

    def to_json(self) -> dict[str, str]:
        found = {"rule": self.rule, "category": self.category, "level": str(self.level),
                 "match": self.match, "reason": self.reason}
        return found | ({"where": self.where} if self.where else {})


@dataclass(frozen=True)
class Assessment:
    """What a command is: its risk, why, and the facts policy needs.

    `networked_install`: the command installs packages from a registry; `ecosystems`: which package
    managers it uses (npm, pip, …); `state_change`: it changes the shell itself (`cd`, `export`, `alias`…);
    `parse_error`: no parser could read it all (the risk is then at least medium); `leaves_guard`: it
    starts an interactive shell the vgshell hook is not in, or keeps the hook out of later shells.
    """

    command: str
    risk: Level
    findings: tuple[Finding, ...]
    networked_install: bool = False
    ecosystems: tuple[str, ...] = ()
    state_change: bool = False
    parse_error: str | None = None
    workdirs: tuple[str, ...] = ()  # other directories the line's commands run in (`cd ../x && make`)
    leaves_guard: bool = False

    @property
    def top(self) -> Finding | None:
        """The finding that decided the risk (highest level, first seen)."""
        best: Finding | None = None
        for f in self.findings:
            if best is None or f.level > best.level:
                best = f
        return best
