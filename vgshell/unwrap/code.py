"""Inline interpreter code (`python -c`, `perl -e`, `node -e`, awk programs…): the shell lines and deletes it
hides become commands the walker judges."""

from __future__ import annotations

import base64
import binascii
import re
import shlex
from dataclasses import replace
from typing import TYPE_CHECKING

from vgshell.expand import UNKNOWN
from vgshell.parse import Word, parse
from vgshell.unwrap.argv import all_option_values, fed_by, resolve
from vgshell.unwrap.model import Ctx, Invocation, State
from vgshell.unwrap.scripts import program_text
from vgshell.wrappers import AWK, INTERPRETERS

if TYPE_CHECKING:
    from vgshell.unwrap.walker import Walker


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

def inline_code(w: Walker, code: str, st: State, ctx: Ctx, name: str) -> None:
    for snippet in _exec_snippets(code):
        w.text(snippet, st.copy(), ctx, f"{name} code")
    for path in _deleted_paths(code):
        argv = ("rm", "-rf", resolve(path, st.cwd))
        w.command(Invocation(argv, st.cwd, home=st.home), st, ctx.deeper(f"{name} code"), [])
    if _looks_like_shell(code):
        w.text(code, st.copy(), ctx, f"{name} code read as shell")


# ------------------------------------------------------------------ per-command handlers


_STR = r"""(?:[rbuRBUf]{0,2})(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')"""
_EXEC_CALL = re.compile(r"(?:\bsystem|\bpopen|\bexec[lv]?p?e?|\bspawn\w*|\bcall|\brun|check_output|check_call"
                        r"|Popen|execSync|execFileSync|spawnSync|shell_exec|passthru|proc_open|\bexecute"
                        r"|getoutput|getstatusoutput|\bsh)(?!\w)\s*\(?\s*")
_BACKTICKS = re.compile(r"`([^`]+)`|qx\{([^}]*)\}|%x\{([^}]*)\}")
_HEX = re.compile(r"""pack\s*\(\s*["']H\*["']\s*,\s*["']([0-9a-fA-F]+)["']|fromhex\(\s*["']([0-9a-fA-F ]+)["']""")
_B64 = re.compile(r"""(?:b64decode|atob|decode_base64|Base64\.decode64)\s*\(\s*b?["']([A-Za-z0-9+/=]+)["']"""
                  r"""|Buffer\.from\(\s*["']([A-Za-z0-9+/=]+)["']\s*,\s*["']base64""")
_DELETE_CALL = re.compile(r"(?:rmtree|rm_rf|rm_r|rmSync|rmdirSync|remove_dir_all|removedirs|rmdir|unlink"
                          r"|os\.remove|FileUtils\.rm\w*|rimraf\w*)\s*\(\s*" + _STR)


def _exec_snippets(code: str) -> list[str]:
    """Strings inline code hands to a shell: literals in system()/exec()/popen()… and decoded literals."""
    found: list[str] = []
    for m in _EXEC_CALL.finditer(code):
        window = code[m.end() : m.end() + 400]
        line = _call_line(window)
        if line is not None:
            found.append(line)
        found.extend(_decoded(window[:200]))
    for m in _BACKTICKS.finditer(code):
        found.append(next(g for g in m.groups() if g is not None))
    return [s for s in dict.fromkeys(found) if s.strip()]


_STR_RX = re.compile(_STR)
_CALL_HEAD = re.compile(r"\s*(\[?)\s*" + _STR)
_ARG_LIST = re.compile(r"\s*,\s*\[([^\]]*)\]")


def _call_line(window: str) -> str | None:
    """The shell line an exec-like call runs: `'rm -rf /'`, `['rm', '-rf', '/']`, `('rm', ['-rf', '/'])`."""
    head = _CALL_HEAD.match(window)
    if head is None:
        return None
    if head.group(1):  # an argv list: every literal up to the closing bracket
        end = window.find("]", head.end())
        items = [_literal(x) for x in _STR_RX.finditer(window[head.end(1) : end if end > 0 else None])]
        return " ".join(shlex.quote(i) for i in items)
    first = _unescape(head.group(2) if head.group(2) is not None else head.group(3))
    rest = _ARG_LIST.match(window, head.end())
    if rest is None:
        return first
    return " ".join(shlex.quote(i) for i in [first, *(_literal(x) for x in _STR_RX.finditer(rest.group(1)))])


def _literal(m: re.Match[str]) -> str:
    return _unescape(m.group(1) if m.group(1) is not None else m.group(2))


def _decoded(text: str) -> list[str]:
    out = []
    for m in _HEX.finditer(text):
        with _suppress():
            out.append(binascii.unhexlify((m.group(1) or m.group(2)).replace(" ", "")).decode("utf-8", "replace"))
    for m in _B64.finditer(text):
        with _suppress():
            out.append(base64.b64decode(m.group(1) or m.group(2)).decode("utf-8", "replace"))
    return out


class _suppress:  # a tiny context manager, named like contextlib.suppress
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> bool:
        return exc[0] is not None and issubclass(exc[0], (ValueError, binascii.Error))  # type: ignore[arg-type]


def _deleted_paths(code: str) -> list[str]:
    return [_unescape(m.group(1) if m.group(1) is not None else m.group(2)) for m in _DELETE_CALL.finditer(code)]


def _unescape(s: str) -> str:
    return s.replace("\\'", "'").replace('\\"', '"').replace("\\\\", "\\")


_NOT_SHELL = re.compile(r"^\s*(import|from|print|console|require|use|let|const|var|def|class|puts|my|if|for)\b")


def _looks_like_shell(code: str) -> bool:
    """Inline 'code' that is really a shell line (`node -e "rm -rf /"`): bash parses it whole."""
    if _NOT_SHELL.match(code) or len(code) > 2000:
        return False
    script = parse(code)
    return script.error is None and script.parser in ("bashlex", "words")

