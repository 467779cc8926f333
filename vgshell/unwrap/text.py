"""The text a command prints or is fed, when it is known without running it: `echo`, `printf`, heredocs,
and the simple total decoders (`base64 -d`, `xxd -r`, `rev`, `tr`)."""

from __future__ import annotations

import base64
import binascii
import functools
import os.path
import re

from vgshell.expand import UNKNOWN, expand
from vgshell.parse import Node, Pipeline, Script, Sequence, Simple, Word
from vgshell.unwrap.model import State


def sub_outputs(word: Word, st: State) -> dict[str, str]:
    """The known outputs of the `$( )`/backticks in `word`, by their source text (`$(echo rm)` → `rm\n`)."""
    if not word.subs or word.process_subs:
        return {}
    return {sub.source: out for sub in word.subs if (out := script_output(sub, st)) is not None}


def script_output(script: Script, st: State) -> str | None:
    """What a substitution's script prints, when every stage is static (echo, printf, base64 -d…)."""
    nodes: tuple[Node, ...] = script.body
    while len(nodes) == 1 and isinstance(nodes[0], Sequence) and len(nodes[0].items) == 1:
        nodes = nodes[0].items
    if len(nodes) != 1 or (isinstance(nodes[0], Pipeline) and nodes[0].negated):
        return None
    stages = nodes[0].stages if isinstance(nodes[0], Pipeline) else nodes
    text: str | None = None
    for stage in stages:
        text = static_output(stage, st, text)
        if text is None:
            return None
    return text



def static_output(stage: Node, st: State, stdin_text: str | None) -> str | None:
    """The text a pipeline stage writes, when it can be known without running it (echo, printf, base64 -d…)."""
    if not isinstance(stage, Simple) or not stage.words:
        return None
    argv = [expand(w.raw, st.vars, st.home).value for w in stage.words]
    name, args = os.path.basename(argv[0]), argv[1:]
    own = _own_stdin(stage, st)
    stdin_text = own if own is not None else stdin_text
    if _looks_up_a_program(name, args):
        return "/usr/bin/" + os.path.basename(args[-1]) + "\n"  # some path ending in the name: rules need no more
    if name == "git" and args == ["rev-parse", "--show-toplevel"] and st.cwd and UNKNOWN not in st.cwd:
        return st.cwd + "\n"  # the project's root: the working directory or above it, the project either way
    if name == "mktemp":
        return _temp_path(args) + "\n"
    if name == "echo":
        flags = [a for a in args[:3] if re.fullmatch(r"-[neE]+", a)]
        text = " ".join(args[len(flags):])
        if any("e" in f for f in flags):
            text = expand("$'" + text.replace("'", "\\'") + "'", {}, "/").value
        return text + "\n"
    if name == "printf" and args:
        return "" if args[0].startswith("-v") else printf_format(args[0], args[1:])
    if name == "cat" and not args:
        return stdin_text
    if stdin_text is None:
        return None
    return _decode(name, args, stdin_text)


_CONVERSION = re.compile(r"%([-+ #0]*[0-9]*(?:\\.[0-9]*)?)([sbdiqcxXo%])")


def printf_format(fmt: str, args: list[str]) -> str:
    """What `printf FMT ARGS` prints: the format's escapes, `%s %b %d %c %q %%`, reused until the arguments
    run out (as bash does)."""
    fmt = expand("$'" + fmt.replace("'", "\\'") + "'", {}, "/").value
    out: list[str] = []
    rest = list(args)
    for _ in range(64):
        taken: list[str] = []
        out.append(_CONVERSION.sub(functools.partial(_convert, args=rest, taken=taken), fmt))
        rest = rest[len(taken):]
        if not rest or not taken:
            break
    return "".join(out)


def _convert(m: re.Match[str], args: list[str], taken: list[str]) -> str:
    if m.group(2) == "%":
        return "%"
    arg = args[len(taken)] if len(taken) < len(args) else ""
    taken.append(arg)
    if m.group(2) == "b":
        return expand("$'" + arg.replace("'", "\\'") + "'", {}, "/").value
    return arg[:1] if m.group(2) == "c" else arg


def _temp_path(args: list[str]) -> str:
    """A path like the one `mktemp [-d] [-p DIR] [TEMPLATE]` prints: under $TMPDIR or /tmp (a temp entry)."""
    base = "/tmp"
    for i, a in enumerate(args):
        if a in ("-p", "--tmpdir") and i + 1 < len(args):
            base = args[i + 1]
        elif a.startswith("--tmpdir="):
            base = a.partition("=")[2]
    template = next((a for a in args if not a.startswith("-") and "X" in a), "tmp.XXXXXXXXXX")
    return template if template.startswith("/") else base.rstrip("/") + "/" + os.path.basename(template)


def _looks_up_a_program(name: str, args: list[str]) -> bool:
    """`which rm`, `command -v rm`, `type -P rm`."""
    if not args or not args[-1] or args[-1].startswith("-"):
        return False
    return name == "which" or (name in ("command", "type") and args[0] in ("-v", "-p", "-P"))


def _own_stdin(stage: Simple, st: State) -> str | None:
    """The text a command's own heredoc or here-string puts on its stdin."""
    for r in stage.redirects:
        if r.op in ("<<", "<<-") and r.heredoc is not None:
            return r.heredoc if r.heredoc_quoted else expand_heredoc(r.heredoc, st)
        if r.op == "<<<" and r.target is not None:
            return expand(r.target.raw, st.vars, st.home).value + "\n"
    return None


def _decode(name: str, args: list[str], text: str) -> str | None:
    try:
        if name in ("base64", "openssl") and any(a in ("-d", "--decode", "-D") for a in args):
            return base64.b64decode("".join(text.split()), validate=False).decode("utf-8", "replace")
        if name == "xxd" and "-r" in args:
            return binascii.unhexlify("".join(text.split())).decode("utf-8", "replace")
        if name == "rev":
            return "\n".join(line[::-1] for line in text.splitlines()) + "\n"
        if name == "tr":
            return _tr(args, text)
    except (ValueError, binascii.Error):
        return None
    return None


def expand_heredoc(body: str, st: State) -> str:
    return "\n".join(expand('"' + line.replace('"', '\\"') + '"', st.vars, st.home).value
                     for line in body.split("\n"))



_TR_CLASSES = {"[:lower:]": "abcdefghijklmnopqrstuvwxyz", "[:upper:]": "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
               "[:digit:]": "0123456789", "[:space:]": " \t\n\r\f\v", "[:blank:]": " \t"}


def _tr_set(spec: str) -> str | None:
    """A `tr` set with its ranges (`a-z`), classes (`[:upper:]`) and escapes spelled out; None if odd."""
    for cls, chars in _TR_CLASSES.items():
        spec = spec.replace(cls, chars)
    spec = expand("$'" + spec.replace("'", "\\'") + "'", {}, "/").value
    out: list[str] = []
    i = 0
    while i < len(spec):
        if i + 2 < len(spec) and spec[i + 1] == "-" and ord(spec[i]) <= ord(spec[i + 2]):
            out.extend(chr(c) for c in range(ord(spec[i]), ord(spec[i + 2]) + 1))
            i += 3
        else:
            out.append(spec[i])
            i += 1
    return "".join(out) if len(out) <= 1024 else None


def _tr(args: list[str], text: str) -> str | None:
    """`tr SET1 SET2` (SET2 padded with its last character, as GNU tr does) and `tr -d SET`."""
    flags = [a for a in args if a.startswith("-") and len(a) > 1]
    sets = [_tr_set(a) for a in args if not (a.startswith("-") and len(a) > 1)]
    if None in sets or any(f not in ("-d", "--delete") for f in flags):
        return None
    chars = [s for s in sets if s is not None]
    if flags and len(chars) == 1:
        return text.translate({ord(c): None for c in chars[0]})
    if flags or len(chars) != 2 or not chars[1]:
        return None
    source, target = chars
    target = (target + target[-1] * len(source))[: len(source)]
    return text.translate(str.maketrans(source, target))
