"""Inline interpreter code (`python -c`, `perl -e`, `node -e`, awk programs…): what `vgshell.interp` finds in it
(shell lines, deletes, files written and read, evaluated code) becomes commands the walker judges."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from vgshell.expand import UNKNOWN
from vgshell.interp import analyse, family, looks_like_shell
from vgshell.parse import Word
from vgshell.unwrap.argv import all_option_values, fed_by, resolve
from vgshell.unwrap.carriers import run_line
from vgshell.unwrap.model import MAX_NESTING, Ctx, Invocation, State
from vgshell.unwrap.scripts import program_text
from vgshell.wrappers import AWK, INTERPRETERS, interpreter_key

if TYPE_CHECKING:
    from vgshell.unwrap.walker import Walker

SENT = "read by code that talks to the network"  # the `via` mark of such a read


def interpreter(w: Walker, inv: Invocation, key: str, st: State, ctx: Ctx, words: list[Word]) -> None:
    args = list(inv.args)
    code: str | None
    if key in AWK:
        code = next((a for a in args if not a.startswith("-")), None)
    elif key == "deno":
        code = args[1] if args[:1] == ["eval"] and len(args) > 1 else None
    else:
        values = all_option_values(args, INTERPRETERS[key])
        code = "\n".join(values) if values else None
    operands = [a for a in args if not a.startswith("-")]
    if code is None and operands:
        code = st.written.get(resolve(operands[0], st.cwd))  # echo CODE > x.py; python x.py
        code = code if code is not None else program_text(w, operands[0], st, ctx, inv)
    reads_stdin = code is None and (not [a for a in args if not a.startswith("-")] or "-" in args)
    if code is None and reads_stdin and ctx.stdin_text is not None:
        code = ctx.stdin_text
    code_from_subs = code is not None and UNKNOWN in code  # python -c "$(curl …)"
    fed = fed_by(words, ctx) if reads_stdin or code_from_subs or any(w.process_subs for w in words[1:]) else ()
    w.emit(replace(inv, code=code, fed_by=fed), ctx)
    if code:
        inline_code(w, code, st, ctx, inv.name)

def inline_code(w: Walker, code: str, st: State, ctx: Ctx, name: str, lang: str | None = None) -> None:
    """Walk what inline code runs (`interp.analyse`): shell lines, deletes as `rm`, files written or read as
    redirections of an `open` (so the path rules apply), code it evaluates, and code that is really shell."""
    lang = lang or family(interpreter_key(name) or name)
    how = f"{name} code"
    effects = analyse(code, lang)
    for line in effects.shell:
        run_line(w, line, st, ctx, how)
    for reason in effects.hidden:  # a callee only run time names may run any shell line
        run_line(w, UNKNOWN, st, ctx, f"{how}: {reason}")
    sub = ctx.deeper(how)
    for path, recursive in effects.deleted:
        argv = ("rm", "-rf", _path(path, st)) if recursive else ("rm", _path(path, st))
        w.command(Invocation(argv, st.cwd, home=st.home), st, sub, [])
    for source, dest in effects.moved:
        w.command(Invocation(("mv", _path(source, st), _path(dest, st)), st.cwd, home=st.home), st, sub, [])
    for op, paths in ((">", effects.written), ("<", effects.read)):
        # a file read by code that also talks to the network may be what it sends
        via = (*sub.via, SENT) if op == "<" and effects.network else sub.via
        for path in paths:
            target = _path(path, st)
            w.emit(replace(Invocation(("open", target), st.cwd, redirects=((op, target),), home=st.home),
                           via=via, privileged=sub.privileged, remote=sub.remote), sub)
    if effects.runtime_code:  # judged like `eval "$x"`: text nobody can read before it runs
        w.emit(replace(Invocation(("eval", UNKNOWN), st.cwd, home=st.home), via=sub.via,
                       privileged=sub.privileged, remote=sub.remote), sub)
    for inner_lang, text in effects.evaluated:
        if sub.depth < MAX_NESTING:
            inline_code(w, text, st, sub, name, inner_lang)
    if looks_like_shell(code):
        w.text(code, st.copy(), ctx, f"{name} code read as shell")


def _path(path: str, st: State) -> str:
    """A path from inline code, with a leading `~` meaning the home (Python's expanduser and the like)."""
    if path == "~" or path.startswith("~/"):
        path = st.home + path[1:]
    return resolve(path, st.cwd)
