"""The values the unwrapper works with: an `Invocation` (one command that would run), the shell's `State`
while the line runs, and the context (`Ctx`) a command was reached in."""

from __future__ import annotations

import os.path
import shlex
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Protocol

from vgshell.expand import UNKNOWN
from vgshell.parse import Node

MAX_NESTING = 8  # bash -c "bash -c '…'" deeper than this is refused as unanalysable
MAX_LOOP_VALUES = 16  # `for x in …` bodies are walked once per value up to this many
STATIC_TEXT_PRODUCERS = frozenset({"echo", "printf", "cat"})
SYSTEM_BIN = frozenset({"/usr/bin", "/bin", "/usr/sbin", "/sbin", "/usr/local/bin"})  # where programs are themselves
FETCHERS = frozenset({"curl", "wget", "fetch", "http", "https", "xh", "aria2c", "lwp-request", "GET"})
STATE_BUILTINS = frozenset({"cd", "pushd", "popd", "export", "unset", "alias", "unalias", "source", ".",
                            "set", "shopt", "declare", "typeset", "local", "readonly", "hash", "ulimit",
                            "umask", "exit", "logout", "builtin", "eval", "trap", "enable", "history"})



@dataclass(frozen=True)
class Invocation:
    """One command that would run, after wrappers and quoting are seen through.

    `argv` is expanded (UNKNOWN marks what only run time knows); `cwd` is None when unknown (after `cd -`,
    remotely over ssh). `via` tells how it was reached ('sudo', 'bash -c', '$( )', …), `upstream` the
    commands earlier in its pipeline, `fed_by` the commands whose output it runs as code, `stdin_text` the
    known text on its stdin, and `code` the inline program it was given (`python -c CODE`).
    """

    argv: tuple[str, ...]
    cwd: str | None
    redirects: tuple[tuple[str, str], ...] = ()
    assigns: tuple[str, ...] = ()
    params: tuple[str, ...] = ()
    upstream: tuple[str, ...] = ()
    fed_by: tuple[str, ...] = ()
    stdin_text: str | None = None
    code: str | None = None
    via: tuple[str, ...] = ()
    privileged: bool = False
    remote: bool = False
    runs_downloaded: bool = False
    self_spawning: bool = False
    glob_name: bool = False
    home: str = "/"
    hidden_name: tuple[str, ...] = ()  # the word as written when the program's name is only known at run time
    where: str | None = None  # `./cleanup.sh:12` when it comes from a script file the line runs
    unseen: tuple[str, ...] = ()  # what the analysis could not see for it (`stdin`, `script`)
    downstream: tuple[str, ...] = ()  # the commands later in its pipeline (`env | grep PATH`)
    piped_in: tuple[str, ...] = ()  # files and $VARIABLES earlier pipeline stages read (what its stdin carries)
    # the directory the line started in (the project the sandbox mounts), when a `cd` left it; None: `cwd`
    project: str | None = None

    @cached_property
    def name(self) -> str:
        return os.path.basename(self.argv[0]) if self.argv else ""

    @property
    def args(self) -> tuple[str, ...]:
        return self.argv[1:]

    @property
    def text(self) -> str:
        return " ".join(shlex.quote(a.replace(UNKNOWN, "$?")) for a in self.argv)


@dataclass
class State:
    """What the shell knows while the line runs: mutable, copied for subshells."""

    cwd: str | None
    vars: dict[str, str]
    home: str
    downloaded: set[str] = field(default_factory=set)
    functions: dict[str, Node] = field(default_factory=dict)
    written: dict[str, str] = field(default_factory=dict)  # files given known text earlier on the line
    aliases: dict[str, str] = field(default_factory=dict)
    links: dict[str, str] = field(default_factory=dict)  # symlinks made earlier on the line: link → target
    # files a command earlier on the line made (cp, mv, install, dd, `cat X >`): file → the file it copies, or
    # "" when its content is known only when it runs; key ANYWHERE when files of unknown names may appear
    # (tar x, unzip, git clone)
    made: dict[str, str] = field(default_factory=dict)

    def copy(self) -> State:
        # files are shared: what a subshell or pipeline stage writes is there for the rest of the line
        return State(self.cwd, dict(self.vars), self.home, set(self.downloaded), dict(self.functions),
                      self.written, dict(self.aliases), self.links, self.made)

    def through_links(self, arg: str) -> str:
        """`x/` or `x/*` after `ln -s ~ x` is the home (a bare `x` is the link itself, which rm removes)."""
        if not self.links or arg.startswith("-") or UNKNOWN in arg:
            return arg
        path = arg if arg.startswith("/") else (self.cwd or "") + "/" + arg
        for link, target in self.links.items():
            if path.startswith(link + "/"):
                return target.rstrip("/") + path[len(link):]
        return arg


ANYWHERE = "*"  # State.made key: some command on the line made files whose names are not known


@dataclass(frozen=True)
class Ctx:
    """How the command being walked was reached (inherited by what it runs)."""

    via: tuple[str, ...] = ()
    privileged: bool = False
    remote: bool = False
    upstream: tuple[str, ...] = ()
    fed_by: tuple[str, ...] = ()
    stdin_text: str | None = None
    depth: int = 0
    function: str | None = None
    spawning: bool = False  # inside a pipeline or backgrounded
    downstream: tuple[str, ...] = ()
    piped_in: tuple[str, ...] = ()
    background: bool = False  # started with `&`
    runaway: bool = False  # inside an endless loop that never waits (`while :; do CMD & done`)
    calls: tuple[str, ...] = ()  # the functions being run (a function calling itself is not walked again)
    source: str | None = None  # the script file being walked, as the line names it
    child: bool = False  # that script runs in a child shell: its variables and functions die with it

    def deeper(self, how: str, **changes: object) -> Ctx:
        return replace(self, via=(*self.via, how), depth=self.depth + 1, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True)
class FileText:
    """A file the line runs, as read: `text`, or why there is none. `missing` files run nothing (bash fails);
    an unreadable or oversized one is a blind spot (`problem`)."""

    text: str | None
    problem: str | None = None
    missing: bool = False


class Files(Protocol):
    """The only door from the analysis to the file system: read-only, bounded (see `vgshell.files`)."""

    def read(self, path: str) -> FileText: ...

    def glob(self, pattern: str) -> tuple[str, ...]: ...


