"""What the REPL shows and offers: the prompt (cwd, git branch, last status, guard state) and completion
(commands on PATH, paths, the session's aliases and functions, `vg` subcommands). No process is started
for either: the branch is read from .git/HEAD, the command names from PATH once per PATH value.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator

from prompt_toolkit.completion import CompleteEvent, Completer, Completion, PathCompleter
from prompt_toolkit.document import Document
from prompt_toolkit.formatted_text import StyleAndTextTuples

VG_SUBCOMMANDS = ("status", "off", "on", "mode", "check", "explain", "exec", "config", "init", "analyzer", "trust",
                  "metrics", "audit", "session", "version")
VG_MODES = ("auto", "always", "risky", "never")


def short_cwd(cwd: str, home: str) -> str:
    if home and home != "/" and (cwd == home or cwd.startswith(home.rstrip("/") + "/")):
        return "~" + cwd[len(home.rstrip("/")):]
    return cwd


def git_branch(cwd: str) -> str | None:
    """The branch (or short commit) of the repository holding `cwd`, from .git/HEAD; None outside one."""
    d = cwd
    while True:
        git = os.path.join(d, ".git")
        head = None
        if os.path.isdir(git):
            head = os.path.join(git, "HEAD")
        elif os.path.isfile(git):  # a worktree or submodule: "gitdir: PATH"
            try:
                with open(git) as f:
                    target = f.read().strip().removeprefix("gitdir: ")
                head = os.path.join(d, target, "HEAD")
            except OSError:
                return None
        if head is not None:
            try:
                with open(head) as f:
                    ref = f.read().strip()
            except OSError:
                return None
            return ref.removeprefix("ref: refs/heads/") if ref.startswith("ref: ") else ref[:7]
        parent = os.path.dirname(d)
        if parent == d:
            return None
        d = parent


def prompt_text(cwd: str, home: str, status: int, guard: str) -> StyleAndTextTuples:
    """prompt_toolkit formatted text: `~/project (main) [1] vg:off $ `."""
    parts: StyleAndTextTuples = [("class:cwd", short_cwd(cwd, home))]
    branch = git_branch(cwd)
    if branch:
        parts.append(("class:branch", f" ({branch})"))
    if status:
        parts.append(("class:status", f" [{status}]"))
    if guard:
        parts.append(("class:guard", f" {guard}"))
    parts.append(("", " $ "))
    return parts


class ShellCompleter(Completer):
    """The first word: commands, aliases, functions, builtins; after `vg`: its subcommands; else paths."""

    def __init__(self, names: Callable[[], Iterable[str]]) -> None:
        self._names = names
        self._path_cache: tuple[str, frozenset[str]] = ("", frozenset())
        self._paths = PathCompleter(expanduser=True)

    def commands(self) -> frozenset[str]:
        path = os.environ.get("PATH", "")
        if self._path_cache[0] != path:
            found: set[str] = set()
            for d in path.split(os.pathsep):
                try:
                    with os.scandir(d or ".") as it:
                        found.update(e.name for e in it if os.access(e.path, os.X_OK))
                except OSError:
                    continue
            self._path_cache = (path, frozenset(found))
        return self._path_cache[1]

    def get_completions(self, document: Document, complete_event: CompleteEvent) -> Iterator[Completion]:
        before = document.text_before_cursor
        words = before.split()
        word = document.get_word_before_cursor(WORD=True)
        first = len(words) == 0 or (len(words) == 1 and not before.endswith((" ", "\t")))
        if words[:1] == ["vg"] and ((len(words) == 1 and before.endswith(" ")) or (len(words) == 2 and word)):
            yield from _starting(VG_SUBCOMMANDS, word)
            return
        if words[:2] == ["vg", "mode"]:
            yield from _starting(VG_MODES, word)
            return
        if first and "/" not in word:
            yield from _starting(sorted(self.commands() | set(self._names())), word)
            return
        # paths, relative to this process's directory, which follows the session's
        yield from self._paths.get_completions(Document(word, len(word)), complete_event)


def _starting(names: Iterable[str], prefix: str) -> Iterator[Completion]:
    for n in names:
        if n.startswith(prefix):
            yield Completion(n, -len(prefix))


class LateLexer:
    """bash syntax highlighting that costs the first prompt nothing: pygments' bash lexer is loaded in a
    background thread half a second after start-up (not competing with it), lines are plain until then."""

    def __init__(self) -> None:
        import threading

        from prompt_toolkit.lexers import DynamicLexer, Lexer, SimpleLexer

        self._lexer: Lexer = SimpleLexer()
        self.dynamic = DynamicLexer(lambda: self._lexer)
        timer = threading.Timer(0.5, self._load)
        timer.daemon = True
        timer.start()

    def _load(self) -> None:
        try:
            from prompt_toolkit.lexers import PygmentsLexer
            from pygments.lexers.shell import BashLexer

            self._lexer = PygmentsLexer(BashLexer, sync_from_start=True)
        except Exception:  # highlighting is a nicety: a missing or broken pygments leaves plain text
            return


SYNTAX_STYLE = {
    "pygments.keyword": "ansiblue bold", "pygments.name.builtin": "ansicyan", "pygments.literal.string": "ansigreen",
    "pygments.comment": "ansibrightblack italic", "pygments.name.variable": "ansimagenta",
    "pygments.operator": "ansiyellow", "pygments.literal.number": "ansiyellow",
}
