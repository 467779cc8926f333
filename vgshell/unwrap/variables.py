"""Builtins that give variables values the line can know: assignments (arrays, `+=`, `a[i]=`), `set --`,
`shift`, `printf -v`, `read`/`mapfile` fed known text, `declare`/`local`/`export` (with `-n` name
references and `-a` arrays). `rm`, built from these at run time, is then seen as `rm`."""

from __future__ import annotations

import re
import shlex
from typing import TYPE_CHECKING

from vgshell.expand import DEFAULT_IFS, UNKNOWN, array, array_items, expand, lookup, nameref
from vgshell.parse import Simple, Word, parse
from vgshell.unwrap.model import Ctx, Invocation, State
from vgshell.unwrap.text import printf_format

if TYPE_CHECKING:
    from vgshell.unwrap.walker import Walker

_TARGET = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?:\[([^\]]*)\])?(\+?)$")
MAX_ARRAY = 256


def assign(st: State, target: str, value: str) -> None:
    """`NAME=value`, `NAME+=value`, `NAME[i]=value`, `NAME=(a b c)` (value already expanded, or an
    array made with `expand.array`). A write through a name reference goes to its target."""
    m = _TARGET.match(target)
    if m is None:
        return
    name, index, append = m.group(1), m.group(2), m.group(3)
    current = st.vars.get(name)
    if current is not None and current.startswith("\ue003"):  # a nameref: write its target
        name, current = current[1:], lookup(st.vars, current[1:])
    if index is not None:
        items = array_items(current) if current is not None else []
        k = expand(index, st.vars, st.home).value
        if not k.isdigit() or int(k) > MAX_ARRAY:
            st.vars[name] = UNKNOWN
            return
        items += [""] * (int(k) + 1 - len(items))
        items[int(k)] = value
        st.vars[name] = array(items)
    elif append and current is not None:
        if value.startswith("\ue002") or current.startswith("\ue002"):
            st.vars[name] = array([*array_items(current), *array_items(value)])
        else:
            st.vars[name] = current + value
    else:
        st.vars[name] = value


def assignment_value(raw: str, word: Word, w: Walker, st: State) -> str:
    """The value an assignment word gives: `(a "b c")` is an array of its words' fields."""
    if raw.startswith("(") and raw.endswith(")"):
        return array(_array_words(raw[1:-1], st))
    return w.expand(word, st).value


def _array_words(inner: str, st: State) -> list[str]:
    script = parse("_ " + inner)
    node = script.body[0] if script.body else None
    while node is not None and not isinstance(node, Simple) and getattr(node, "items", None):
        node = node.items[0]  # type: ignore[union-attr]
    if not isinstance(node, Simple) or script.error:
        return [UNKNOWN]
    fields = [f for word in node.words[1:] for f in expand(word.raw, st.vars, st.home).fields]
    return fields[:MAX_ARRAY]


def _h_declare(w: Walker, inv: Invocation, st: State, ctx: Ctx, words: list[Word]) -> None:
    """`declare`/`typeset`/`local`/`export`/`readonly`: `-n` makes a name reference, `NAME=(…)` an array."""
    w.emit(inv, ctx)
    flags = "".join(a[1:] for a in inv.args if a.startswith("-"))
    for a in inv.args:
        name, eq, value = a.partition("=")
        if not eq or not _TARGET.match(name):
            continue
        if "n" in flags and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
            st.vars[name.rstrip("+")] = nameref(value)
            continue
        if value.startswith("(") and value.endswith(")"):
            assign(st, name, array(_array_words(value[1:-1], st)))
        else:
            assign(st, name, value)
        w.command_variables(((name, Word(shlex.quote(value))),), st, ctx)


def _h_set(w: Walker, inv: Invocation, st: State, ctx: Ctx, words: list[Word]) -> None:
    """`set -- a b c` (or `set a b c`): the positional parameters `$1 … $@`."""
    w.emit(inv, ctx)
    args = list(inv.args)
    if "--" in args:
        positional = args[args.index("--") + 1 :]
    elif args and not args[0].startswith(("-", "+")):
        positional = args
    else:
        return
    set_positional(st, positional)


def set_positional(st: State, positional: list[str]) -> None:
    for k in range(1, 10):
        st.vars.pop(str(k), None)
    st.vars.update({str(k): a for k, a in enumerate(positional[:9], start=1)})
    st.vars["@"] = array(positional)
    st.vars["#"] = str(len(positional))


def _h_shift(w: Walker, inv: Invocation, st: State, ctx: Ctx, words: list[Word]) -> None:
    w.emit(inv, ctx)
    current = st.vars.get("@")
    n = inv.args[0] if inv.args else "1"
    if current is None or not n.isdigit():
        return
    items = array_items(current) if current else []
    set_positional(st, items[int(n):])


def _h_printf(w: Walker, inv: Invocation, st: State, ctx: Ctx, words: list[Word]) -> None:
    """`printf -v NAME FORMAT ARGS`: NAME gets the formatted text."""
    w.emit(inv, ctx)
    args = [a for i, a in enumerate(inv.args) if not (a == "--" and i <= 2)]
    if len(args) >= 3 and args[0] == "-v":
        assign(st, args[1], printf_format(args[2], args[3:]))
    elif len(args) >= 2 and args[0].startswith("-v") and len(args[0]) > 2:
        assign(st, args[0][2:], printf_format(args[1], args[2:]))


_READ_VALUED = frozenset(["a", "d", "i", "n", "N", "p", "t", "u"])


def _h_read(w: Walker, inv: Invocation, st: State, ctx: Ctx, words: list[Word]) -> None:
    """`read [-r] [-a ARR] [-d D] NAMES` from known text (a here-string, heredoc or earlier stage)."""
    w.emit(inv, ctx)
    args = list(inv.args)
    names: list[str] = []
    arr: str | None = None
    delim = "\n"
    i = 0
    while i < len(args):
        a = args[i]
        if a.startswith("-") and len(a) > 1 and a[-1] in _READ_VALUED:
            value = args[i + 1] if i + 1 < len(args) else ""
            arr = value if a[-1] == "a" else arr
            delim = (value[:1] or "\0") if a[-1] == "d" else delim
            i += 2
            continue
        if not a.startswith("-"):
            names.append(a)
        i += 1
    text = ctx.stdin_text
    if text is None:
        for name in ([arr] if arr else names or ["REPLY"]):
            st.vars[name] = UNKNOWN
        return
    line = text.split(delim, 1)[0]
    ifs = st.vars.get("IFS", DEFAULT_IFS)
    if arr:
        st.vars[arr] = array(_split_ifs(line, ifs, 0))
        return
    names = names or ["REPLY"]
    fields = _split_ifs(line, ifs, len(names))
    for k, name in enumerate(names):
        assign(st, name, fields[k] if k < len(fields) else "")


def _split_ifs(line: str, ifs: str, limit: int) -> list[str]:
    """Fields of `line` on `ifs`; with `limit`, the last field keeps the rest of the line (as `read` does)."""
    if not ifs:
        return [line]
    pattern = "[" + re.escape(ifs) + "]+"
    line = line.strip(" \t\n") if set(ifs) & set(" \t\n") else line
    if not line:
        return []
    return [line] if limit == 1 else re.split(pattern, line, maxsplit=max(limit - 1, 0))


def _h_mapfile(w: Walker, inv: Invocation, st: State, ctx: Ctx, words: list[Word]) -> None:
    """`mapfile -t ARR` / `readarray ARR`: one element per line of the known text."""
    w.emit(inv, ctx)
    args = list(inv.args)
    valued = {"-d", "-n", "-O", "-s", "-u", "-C", "-c"}
    rest = [a for i, a in enumerate(args) if not a.startswith("-") and (i == 0 or args[i - 1] not in valued)]
    name = rest[0] if rest else "MAPFILE"
    if ctx.stdin_text is None:
        st.vars[name] = UNKNOWN
        return
    keep_newline = "-t" not in args
    lines = ctx.stdin_text.splitlines(keepends=keep_newline)[:MAX_ARRAY]
    st.vars[name] = array(lines)


VARIABLE_HANDLERS = {
    "export": _h_declare, "declare": _h_declare, "typeset": _h_declare, "local": _h_declare,
    "readonly": _h_declare, "set": _h_set, "shift": _h_shift, "printf": _h_printf,
    "read": _h_read, "mapfile": _h_mapfile, "readarray": _h_mapfile,
}
