"""Pure helpers over argv and words: option grammars, path resolution, the code given to `sh -c`."""

from __future__ import annotations

import os.path
import re
import shlex
from collections.abc import Iterable

from vgshell.expand import UNKNOWN, expand
from vgshell.parse import Compound, Node, Pipeline, Sequence, Simple, Word
from vgshell.unwrap.model import Ctx

# ------------------------------------------------------------------ helpers (pure)

ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")


def tail_words(words: list[Word], argv: tuple[str, ...], rest: list[str]) -> list[Word]:
    """The source words of a wrapper's wrapped command (`rest`, a tail of `argv`), so `$( )`s stay known."""
    if len(words) == len(argv) and len(rest) <= len(argv):
        return words[len(words) - len(rest) :]
    return [Word(shlex.quote(a)) for a in rest]


def shell_code(args: list[str]) -> tuple[str | None, list[str]]:
    """`bash -xc CODE a b` → (CODE, [a, b]): the code and what becomes `$0 $1 …`."""
    for i, a in enumerate(args):
        if a == "-c" or re.fullmatch(r"-[a-zA-Z]*c[a-zA-Z]*", a):
            return (args[i + 1], args[i + 2 :]) if i + 1 < len(args) else ("", [])
        if not a.startswith(("-", "+")):
            return None, []
    return None, []



def resolve(path: str, cwd: str | None) -> str:
    """Absolute, normalised path; relative paths join `cwd`; UNKNOWN stays where run time decides.
    `/proc/PID/root/x` is `/x` and `/proc/self/cwd/x` is `cwd/x`: the same files under other names."""
    if not path or path.startswith(UNKNOWN):
        return path
    if not path.startswith("/"):
        if cwd is None:
            return UNKNOWN + "/" + path
        path = cwd.rstrip("/") + "/" + path
    if "/proc/" in path:
        flat = re.sub("/+", "/", path)
        for m in _PROC_ALIAS.finditer(flat):
            if os.path.normpath(flat[: m.start()] + "/proc") != "/proc":
                continue  # `/x/proc/self/root` is not /proc's
            base = "/" if m.group(1) else cwd if m.group(2) in ("self", "thread-self") else None
            if base is None:
                return UNKNOWN + "/" + flat[m.end():]
            return resolve(base.rstrip("/") + "/" + flat[m.end():], cwd)
    normal = os.path.normpath(path)
    return "/" + normal.lstrip("/") if normal.startswith("//") else normal


_PROC_ALIAS = re.compile(r"/proc/(?:(?:self|thread-self|[0-9]+|[^/]*\ue000[^/]*)/(root)"
                         r"|(self|thread-self|[0-9]+|[^/]*\ue000[^/]*)/cwd)(?:/|$)")


PROGRAM_NAME = re.compile(r"[A-Za-z0-9_.+-]+$")


def bare(raw: str) -> str:
    """`"${EDITOR}"` → `$EDITOR`: the written form of a command word without quotes or braces."""
    text = raw.replace('"', "").replace("'", "")
    return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", r"$\1", text)


def strip_options(args: list[str], spec: object) -> tuple[list[str], str | None, str | None]:
    """Drop a wrapper's options (and their values); returns the wrapped argv, a chdir and a split-string."""
    valued: frozenset[str] = getattr(spec, "valued", frozenset())
    pairs: frozenset[str] = getattr(spec, "pairs", frozenset())
    operands = getattr(spec, "operands", 0)
    assignments = getattr(spec, "assignments", False)
    chdir: str | None = None
    split: str | None = None
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--":
            i += 1
            break
        if a == "-":
            i += 1
            continue
        if a.startswith("--") and "=" in a:
            opt, _, value = a.partition("=")
            chdir, split = _note(opt, value, chdir, split)
            i += 1
            continue
        if a in pairs:
            i += 3
            continue
        if a in valued:
            value = args[i + 1] if i + 1 < len(args) else ""
            chdir, split = _note(a, value, chdir, split)
            i += 2
            continue
        if a.startswith("-") and len(a) > 2 and a[:2] in valued:
            chdir, split = _note(a[:2], a[2:], chdir, split)
            i += 1
            continue
        if a.startswith("-") and len(a) > 1:
            i += 1
            continue
        if assignments and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", a, re.S):
            i += 1
            continue
        break
    rest = args[i:]
    return rest[operands:], chdir, split


def _note(opt: str, value: str, chdir: str | None, split: str | None) -> tuple[str | None, str | None]:
    if opt in ("-C", "--chdir", "-D"):
        return value, split
    if opt in ("-S", "--split-string"):
        return chdir, value
    return chdir, split


def split_words(text: str) -> list[str]:
    try:
        return shlex.split(text, comments=False)
    except ValueError:
        return text.split()


def option_value(args: list[str], names: set[str], attached: bool, clustered: bool = False) -> str | None:
    for i, a in enumerate(args):
        if a in names:
            return args[i + 1] if i + 1 < len(args) else ""
        if attached and any(a.startswith(n + "=") for n in names if n.startswith("--")):
            return a.partition("=")[2]
        if attached and any(a.startswith(n) and len(a) > len(n) for n in names if not n.startswith("--")):
            return a[2:]
        if clustered and re.fullmatch(r"-[a-zA-Z]*c[a-zA-Z]*", a):
            return args[i + 1] if i + 1 < len(args) else ""
        if not a.startswith("-"):
            return None
    return None


def option_anywhere(args: list[str], names: set[str], clustered: str = "") -> str | None:
    """The value of the first of `names` anywhere in args (`-o F`, `-oF`, `--output=F`; with `clustered`
    that option letter, `-qc F` too)."""
    for i, a in enumerate(args):
        if a in names or (clustered and re.fullmatch(rf"-[a-zA-Z]+{clustered}", a)):
            return args[i + 1] if i + 1 < len(args) else None
        for n in names:
            if n.startswith("--") and a.startswith(n + "="):
                return a.partition("=")[2]
            if not n.startswith("--") and a.startswith(n) and len(a) > len(n) and not a.startswith("--"):
                return a[len(n):]
    return None


def all_option_values(args: list[str], names: frozenset[str]) -> list[str]:
    values = []
    for i, a in enumerate(args):
        if a in names and i + 1 < len(args):
            values.append(args[i + 1])
        elif any(a.startswith(n + "=") for n in names if n.startswith("--")):
            values.append(a.partition("=")[2])
    return values


def fed_by(words: list[Word], ctx: Ctx) -> tuple[str, ...]:
    """Names of the commands whose output this command takes as code (pipe, `<( )`, `$( )` in args)."""
    names = list(ctx.upstream)
    for w in words[1:]:
        for sub in w.subs:
            names.extend(names_in(sub.body))
    return tuple(dict.fromkeys(names))


def names_in(nodes: Iterable[Node]) -> list[str]:
    found: list[str] = []
    for n in nodes:
        if isinstance(n, Simple) and n.words:
            value = expand(n.words[0].raw, {}, "/").value
            found.append(os.path.basename(value))
            for w in n.words[1:]:
                if w.raw and not w.raw.startswith("-"):
                    found.append(os.path.basename(expand(w.raw, {}, "/").value))
                    break
        elif isinstance(n, Pipeline):
            found.extend(names_in(n.stages))
        elif isinstance(n, Sequence):
            found.extend(names_in(n.items))
        elif isinstance(n, Compound):
            found.extend(names_in(n.body))
    return found

