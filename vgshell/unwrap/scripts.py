"""Script files the line runs — `bash FILE`, `sh FILE`, `source FILE`, `. FILE`, `./FILE` (a shell shebang
or none: bash runs a text file without one itself), the recipes of `make` targets — read through the
injected `Files` and walked as part of the line, each command marked with `FILE:LINE`.

A file that does not exist runs nothing (bash fails) — unless the line makes it first: a copy, move or link
made earlier on the line (`cp .x.sh z.sh; bash z.sh`) runs what its source holds; a file whose content or
name is known only when it runs (`tar x`, `git clone`, `cat X | tee F`, a path from `$( )`, a glob) is a
blind spot the rules see (`unseen: [script]`), as is one that cannot be read or is over the size limit.
Parsed scripts are cached by content hash, so the same script judged again costs a read and a hash, not a
parse. `npm test`, `yarn build`… walk the project's package.json scripts; `make` its `$(shell …)` too.
"""

from __future__ import annotations

import hashlib
import json
import os.path
import re
from collections import OrderedDict
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from vgshell.expand import UNKNOWN
from vgshell.parse import Script, parse_file
from vgshell.unwrap.argv import resolve
from vgshell.unwrap.model import ANYWHERE, MAX_NESTING, Ctx, FileText, Invocation, State
from vgshell.wrappers import SHELLS, interpreter_key

if TYPE_CHECKING:
    from vgshell.unwrap.walker import Walker

MAX_CACHED = 64
_PARSED: OrderedDict[str, Script] = OrderedDict()
_WALKS: OrderedDict[tuple[object, ...], tuple[tuple[Invocation, ...], tuple[str, ...]]] = OrderedDict()


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


MAX_READS = 64  # files one line may make the analysis read


def read(w: Walker, path: str) -> FileText:
    """Read `path` through the walk's `Files`, counting: past MAX_READS a file is a blind spot instead."""
    assert w.files is not None
    w.reads += 1
    if w.reads > MAX_READS:
        return FileText(None, f"not read: the line runs more than {MAX_READS} files")
    return w.files.read(path)


def parsed(text: str, key: str | None = None) -> Script:
    """The script file `text` parsed, remembered by its SHA-256 (a script judged again is not parsed again)."""
    key = key or digest(text)
    found = _PARSED.get(key)
    if found is None:
        found = _PARSED[key] = parse_file(text)
        if len(_PARSED) > MAX_CACHED:
            _PARSED.popitem(last=False)
    else:
        _PARSED.move_to_end(key)
    return found


def run_file(w: Walker, shown: str, st: State, ctx: Ctx, how: str, inv: Invocation,
             executed: bool = False, sourced: bool = False) -> None:
    """Walk the script file `shown` (as the line names it) run by `inv`. `executed`: run as `./FILE`, so
    only a shell shebang (or none) makes it a shell script; `sourced`: run in this shell (`source`)."""
    if w.files is None or ctx.depth >= MAX_NESTING or not shown:
        return
    if UNKNOWN in shown:  # `bash "$(ls *.sh | head -1)"`, `. "$(dirname "$0")/lib.sh"`
        blind_spot(w, inv, shown, "its path is known only when it runs")
        return
    path = resolve(shown, st.cwd)
    made = st.made.get(path, st.links.get(path))
    if made == "":
        blind_spot(w, inv, shown, "made earlier on the line: what it holds is known only when it runs")
        return
    found = read(w, made or path)  # `cp .x.sh z.sh; bash z.sh` runs what .x.sh holds
    if found.missing:
        # a missing file runs nothing — unless the line makes it first, or bash expands the name at run time
        if ANYWHERE in st.made or _GLOB_CHARS.search(shown):
            blind_spot(w, inv, shown, "does not exist yet or is a pattern: what it holds is known only when it runs")
        return
    if found.text is None:
        w.out.append(replace(inv, where=f"{shown}: {found.problem}", unseen=("script",)))
        return
    text = found.text
    if executed and not _shell_script(text):
        interpreter = _interpreter_of(text)
        if interpreter is not None:  # `./tool.py`: its calls are judged as inline code
            from vgshell.unwrap.code import inline_code

            inline_code(w, text, st, replace(ctx, source=shown), interpreter)
        return
    key = digest(text)
    inner = replace(ctx.deeper(how), source=shown, child=not sourced)
    if not sourced:
        _walk_cached(w, key, text, st, inner)
    else:
        w.script(parsed(text, key), st, inner)  # `source`: its state changes stay, so it is walked each time


_GLOB_CHARS = re.compile(r"[*?\[]")


def blind_spot(w: Walker, inv: Invocation, shown: str, why: str) -> None:
    """A script the line runs that the analysis cannot read: `script.unreadable` judges it."""
    w.out.append(replace(inv, where=f"{shown.replace(UNKNOWN, '$?')}: {why}", unseen=("script",)))


def _walk_cached(w: Walker, key: str, text: str, st: State, ctx: Ctx) -> None:
    """Walk a script run in a child shell, or reuse the walk of the same text from the same state: what it
    emits depends only on those (a walk that read other files is not reused: they may change)."""
    memo = (key, st.cwd, st.home, frozenset(st.vars.items()), ctx, tuple(sorted(st.functions.items())),
            tuple(sorted(st.aliases.items())), frozenset(st.written.items()), frozenset(st.downloaded),
            frozenset(st.made.items()))
    hit = _WALKS.get(memo)
    if hit is not None:
        _WALKS.move_to_end(memo)
        w.out.extend(hit[0])
        w.errors.extend(hit[1])
        return
    out, errors, reads = len(w.out), len(w.errors), w.reads
    w.script(parsed(text, key), st, ctx)
    if w.reads == reads:
        _WALKS[memo] = (tuple(w.out[out:]), tuple(w.errors[errors:]))
        if len(_WALKS) > MAX_CACHED:
            _WALKS.popitem(last=False)


def program_text(w: Walker, shown: str, st: State, ctx: Ctx, inv: Invocation) -> str | None:
    """The text of a program file an interpreter runs (`python FILE`, `node FILE`), for its calls to be
    judged like inline code; None when there is none to read (a blind spot is recorded when unreadable)."""
    if w.files is None or not shown or UNKNOWN in shown or ctx.depth >= MAX_NESTING:
        return None
    path = resolve(shown, st.cwd)
    made = st.made.get(path, st.links.get(path))
    if made == "":
        blind_spot(w, inv, shown, "made earlier on the line: what it holds is known only when it runs")
        return None
    found = read(w, made or path)
    if found.text is None and not found.missing:
        w.out.append(replace(inv, where=f"{shown}: {found.problem}", unseen=("script",)))
    return found.text


def data_lines(w: Walker, shown: str, st: State) -> list[str] | None:
    """The lines of a data file a command takes its arguments from (`xargs -a FILE`, `parallel :::: FILE`);
    None when it cannot be known."""
    if w.files is None or not shown or UNKNOWN in shown:
        return None
    found = read(w, resolve(shown, st.cwd))
    return found.text.splitlines() if found.text is not None else None


def _shell_script(text: str) -> bool:
    """A file `./FILE` runs as shell code: a shell shebang (`#!/bin/sh`, `#!/usr/bin/env bash`) or none."""
    program = _shebang_program(text)
    return not text.startswith("#!") if program is None else program in SHELLS


def _interpreter_of(text: str) -> str | None:
    """`python3` for `#!/usr/bin/env python3`: the interpreter a non-shell script names, if vgshell reads its code."""
    program = _shebang_program(text)
    return program if program is not None and interpreter_key(program) is not None else None


def _shebang_program(text: str) -> str | None:
    """The program a `#!` line runs (`#!/usr/bin/env -S bash -e` → bash); None without one."""
    line = text.split("\n", 1)[0]
    if not line.startswith("#!"):
        return None
    words = line[2:].split()
    if not words:
        return None
    program = os.path.basename(words[0])
    if program == "env":
        rest = [w for w in words[1:] if not w.startswith("-") and "=" not in w]
        program = os.path.basename(rest[0]) if rest else "env"
    return program


# ------------------------------------------------------------------ make

_RULE = re.compile(r"^([^\s:=#][^:=]*?)\s*::?(?!=)\s*([^=]*)$")
MAX_MAKE_TARGETS = 16


def run_make(w: Walker, inv: Invocation, st: State, ctx: Ctx) -> None:
    """`make [-C DIR] [-f FILE] [TARGET…]`: the recipes of the targets (and their prerequisites) as shell."""
    if w.files is None:
        return
    args = list(inv.args)
    cwd = st.cwd
    makefile: str | None = None
    targets: list[str] = []
    i = 0
    while i < len(args):
        a = args[i]
        if a in ("-C", "--directory") and i + 1 < len(args):
            cwd = resolve(args[i + 1], cwd)
            i += 2
            continue
        if a in ("-f", "--file", "--makefile") and i + 1 < len(args):
            makefile = args[i + 1]
            i += 2
            continue
        if a.startswith("--file=") or a.startswith("--makefile="):
            makefile = a.partition("=")[2]
        elif not a.startswith("-") and "=" not in a:
            targets.append(a)
        i += 1
    names = [makefile] if makefile else ["GNUmakefile", "makefile", "Makefile"]
    for name in names:
        shown = name if cwd == st.cwd else os.path.join(cwd or "", name)
        found = read(w, resolve(name, cwd))
        if found.missing and not makefile:
            continue
        if found.text is None:
            if not found.missing:
                w.out.append(replace(inv, where=f"{shown}: {found.problem}", unseen=("script",)))
            return
        inner = st.copy()
        inner.cwd = cwd
        _walk_make_shells(w, found.text, shown, inner, ctx.deeper(f"make {shown}"))
        _walk_recipes(w, found.text, targets, shown, inner, ctx.deeper(f"make {shown}"))
        return


def _walk_recipes(w: Walker, text: str, targets: list[str], shown: str, st: State, ctx: Ctx) -> None:
    recipes, prereqs, first = _rules(text)
    variables = _make_variables(text, st.vars)
    todo = list(targets or ([first] if first else []))
    seen: set[str] = set()
    while todo and len(seen) < MAX_MAKE_TARGETS:
        target = todo.pop(0)
        if target in seen:
            continue
        seen.add(target)
        todo.extend(prereqs.get(target, []))
        for line_no, line in recipes.get(target, []):
            code = _substitute(line.lstrip("@-+ \t").replace("$$", "\ue004"), variables).replace("\ue004", "$")
            script = parsed(code)
            w.script(at_line(script, line_no), st.copy(), replace(ctx, source=shown, child=True))


def at_line(script: Script, line_no: int) -> Script:
    """A one-line recipe's Script with its commands marked as coming from `line_no` of the Makefile."""
    from vgshell.parse import Simple

    def fix(node: Any) -> Any:
        if isinstance(node, Simple):
            return replace(node, line=line_no)
        for attr in ("items", "stages", "body"):
            inner = getattr(node, attr, None)
            if isinstance(inner, tuple):
                return replace(node, **{attr: tuple(fix(n) for n in inner)})
        return node

    return replace(script, body=tuple(fix(n) for n in script.body))


_MAKE_VAR = re.compile(r"\$[({]([A-Za-z_][A-Za-z0-9_.-]*)[)}]")
_MAKE_ASSIGN = re.compile(r"^(?:export\s+|override\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*[:?+!]*=\s*(.*)$")


def _make_variables(text: str, env: dict[str, str]) -> dict[str, str]:
    """`NAME = value` lines of a Makefile (over the environment, as make reads it), references between them
    resolved a few levels deep."""
    found = {k: v for k, v in env.items() if k.isidentifier() and not v.startswith(("\ue002", "\ue003"))}
    found.update({m.group(1): m.group(2).strip() for line in text.splitlines() if (m := _MAKE_ASSIGN.match(line))})
    found.setdefault("MAKE", "make")
    for _ in range(3):
        found = {k: _substitute(v, found) for k, v in found.items()}
    return found


def _substitute(text: str, variables: dict[str, str]) -> str:
    """`$(NAME)` / `${NAME}` replaced by the Makefile's value (UNKNOWN when it has none)."""
    return _MAKE_VAR.sub(lambda m: variables.get(m.group(1), UNKNOWN), text)


def _rules(text: str) -> tuple[dict[str, list[tuple[int, str]]], dict[str, list[str]], str | None]:
    """Recipes (line number, text) and prerequisites of each target, and the default (first) target."""
    recipes: dict[str, list[tuple[int, str]]] = {}
    prereqs: dict[str, list[str]] = {}
    first: str | None = None
    current: list[str] = []
    for n, line in enumerate(text.splitlines(), start=1):
        if line.startswith("\t"):
            for t in current:
                recipes.setdefault(t, []).append((n, line[1:]))
            continue
        m = _RULE.match(line)
        if m is None:
            if line.strip() and not line.lstrip().startswith("#"):
                current = []
            continue
        names = [t for t in m.group(1).split() if not t.startswith(".")]
        current = names
        for t in names:
            prereqs.setdefault(t, []).extend(m.group(2).split(";")[0].split())
            if first is None and "%" not in t:
                first = t
        if ";" in m.group(2):
            for t in names:
                recipes.setdefault(t, []).append((n, m.group(2).split(";", 1)[1]))
    return recipes, prereqs, first


_MAKE_SHELL = re.compile(r"\$\(shell\s+((?:[^()]|\([^()]*\))*)\)")


def _walk_make_shells(w: Walker, text: str, shown: str, st: State, ctx: Ctx) -> None:
    """`X := $(shell CMD)`: make runs CMD while it reads the Makefile, whatever the target."""
    for n, line in enumerate(text.splitlines(), start=1):
        for m in _MAKE_SHELL.finditer(line):
            code = m.group(1).replace("$$", "\ue004").replace("\ue004", "$")
            w.script(at_line(parsed(code), n), st.copy(), replace(ctx, source=shown, child=True))


# ------------------------------------------------------------------ package.json scripts

PACKAGE_RUNNERS = frozenset({"npm", "yarn", "pnpm", "bun"})
_NPM_ALIASES = {"t": "test", "tst": "test", "run-script": "run", "rum": "run", "urn": "run", "i": "install",
                "isntall": "install", "add": "install", "ci": "install"}
_LIFECYCLE = {"install": ("preinstall", "install", "postinstall", "prepare")}
_OWN = frozenset({"test", "start", "stop", "restart"})


def run_package_scripts(w: Walker, inv: Invocation, st: State, ctx: Ctx) -> None:
    """`npm test`, `npm run build`, `yarn build`, `pnpm start`: the project's package.json scripts they run
    (with their `pre`/`post` scripts), walked as shell marked `package.json scripts.NAME`."""
    if w.files is None or ctx.depth >= MAX_NESTING:
        return
    args = [a for a in inv.args if not a.startswith("-")]
    if not args:
        if inv.name not in ("yarn", "pnpm"):
            return
        args = ["install"]
    command = _NPM_ALIASES.get(args[0], args[0])
    if command == "run":
        if len(args) < 2:
            return
        names: tuple[str, ...] = (f"pre{args[1]}", args[1], f"post{args[1]}")
    elif command in _LIFECYCLE:
        if len(args) > 1:  # `npm install left-pad`: the package's own scripts, not the project's
            return
        names = _LIFECYCLE[command]
    elif command in _OWN or inv.name in ("yarn", "pnpm", "bun"):  # `yarn build` runs the script `build`
        names = (f"pre{command}", command, f"post{command}")
    else:
        return
    found = read(w, resolve("package.json", st.cwd))
    if found.text is None:
        if not found.missing:
            w.out.append(replace(inv, where=f"package.json: {found.problem}", unseen=("script",)))
        return
    try:
        scripts = json.loads(found.text).get("scripts") or {}
    except (ValueError, AttributeError):
        return  # npm refuses a package.json it cannot parse: nothing runs
    if not isinstance(scripts, dict):
        return
    for name in names:
        code = scripts.get(name)
        if isinstance(code, str) and code.strip():
            inner = replace(ctx.deeper(f"{inv.name} {name}"), source=f"package.json scripts.{name}", child=True)
            w.script(parsed(code), st.copy(), inner)
