"""Programs that run a command line given to them as data: `tar --to-command=CMD`, `ssh -o ProxyCommand=CMD`,
`vim -c '!CMD'`, `gdb -ex 'shell CMD'`, `emacs --eval '(shell-command "CMD")'`, `sed 'e CMD'`, `make -f -` fed
a recipe… Which option carries what is data (`vgshell.wrappers.CARRIERS`); each language the value is written
in is read here. Pure: `carried()` returns what would run, the walker judges it.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from typing import TYPE_CHECKING

from vgshell.expand import UNKNOWN
from vgshell.unwrap.model import Ctx, Invocation, State
from vgshell.wrappers import CARRIERS

if TYPE_CHECKING:
    from vgshell.unwrap.walker import Walker


@dataclass(frozen=True)
class Carried:
    """One piece of text a program runs: `lang` is `sh` (a shell line) or an interpreter key (`python`)."""

    how: str  # e.g. 'tar --to-command', shown in the finding's `via`
    lang: str
    text: str


def carried(name: str, args: tuple[str, ...], stdin_text: str | None) -> list[Carried]:
    """Everything `name args…` runs as code, read from its options, its script operand or its stdin."""
    out: list[Carried] = []
    options = CARRIERS.get(name)
    if options:
        for opt, value in _option_values(args, options):
            pieces = _LANGUAGES[options[opt]](value)
            if not pieces and value.startswith(UNKNOWN):
                pieces = [("sh", UNKNOWN)]  # `vim -c "$X"`: which command it runs is only known when it runs
            for lang, text in pieces:
                out.append(Carried(f"{name} {opt}", lang, text))
    special = _OPERANDS.get(name)
    if special is not None:
        out.extend(special(name, args, stdin_text))
    return out


def _option_values(args: tuple[str, ...], options: dict[str, str]) -> list[tuple[str, str]]:
    """(option, value) for every carrying option: `-x V`, `-xV`, `--long=V`, `--long V`, `+V`."""
    found: list[tuple[str, str]] = []
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--":
            break
        if a in options and i + 1 < len(args):
            found.append((a, args[i + 1]))
            i += 2
            continue
        if a.startswith("--") and "=" in a and a.partition("=")[0] in options:
            found.append((a.partition("=")[0], a.partition("=")[2]))
        elif a.startswith("+") and "+" in options and len(a) > 1:
            found.append(("+", a[1:]))
        elif a.startswith("-") and not a.startswith("--"):
            for opt in options:
                if opt.startswith("-") and not opt.startswith("--") and a.startswith(opt) and len(a) > len(opt):
                    found.append((opt, a[len(opt):]))
                    break
        i += 1
    return found


# ------------------------------------------------------------------ the languages option values are written in

Pieces = list[tuple[str, str]]  # (lang, text)


def _sh(value: str) -> Pieces:
    return [("sh", value)] if value.strip() else []


def _exec_prefixed(value: str) -> Pieces:
    """tar's `--checkpoint-action=exec=CMD` (other actions, such as `dot`, run nothing)."""
    return _sh(value[5:]) if value.startswith("exec=") else []


_SSH_COMMAND_KEYS = frozenset({"proxycommand", "localcommand", "knownhostscommand"})


def _ssh_option(value: str) -> Pieces:
    """`ProxyCommand=CMD`, `ProxyCommand CMD`: the keys whose value ssh runs on this machine."""
    m = re.match(r"\s*(\w+)\s*(?:=|\s)\s*(.*)", value, re.S)
    if m is None or m.group(1).lower() not in _SSH_COMMAND_KEYS or m.group(2).strip().lower() == "none":
        return []
    return _sh(m.group(2))


def _apt_option(value: str) -> Pieces:
    """`-o APT::Update::Pre-Invoke::=CMD`, `-o DPkg::Post-Invoke::=CMD`: hooks apt runs through the shell."""
    key, _, command = value.partition("=")
    return _sh(command) if re.search(r"invoke|install-pkgs", key, re.I) else []


def _less(value: str) -> Pieces:
    return _sh(value[1:]) if value.startswith("!") else []


_EX_CODE = {"py": "python", "py3": "python", "python": "python", "python3": "python", "pyx": "python",
            "pythonx": "python", "lua": "lua", "perl": "perl", "ruby": "ruby", "rub": "ruby"}


_EX_MODIFIERS = re.compile(r"^(?:sil(?:ent)?!?\s+|keepalt\s+|noautocmd\s+|vert(?:ical)?\s+)+")
_EX_BANG = re.compile(r"(?:[.%$0-9,'<>]*\s*|r(?:ead)?\s*|w(?:rite)?\s+)!(.*)", re.S)


def _ex(value: str) -> Pieces:
    """A vim Ex command: `!CMD`, `r !CMD`, `%!CMD`, `terminal CMD`, `call system('CMD')`, `py3 CODE`…"""
    out: Pieces = []
    for cmd in _ex_commands(value):
        bang = _EX_BANG.match(cmd)
        if bang:
            out += _sh(bang.group(1))
            continue
        word, _, rest = cmd.partition(" ")
        if word in ("term", "terminal", "ter"):
            out += _sh(re.sub(r"^(\+\+\w+\s+)*", "", rest))
        elif word in _EX_CODE:
            out.append((_EX_CODE[word], rest))
        elif word in ("exe", "execute"):
            for literal in _string_literals(rest):
                out += _ex(literal)
        out += [("sh", s) for s in _called(cmd, ("system", "systemlist", "jobstart", "termopen"))]
    return out


def _ex_commands(value: str) -> list[str]:
    """Split Ex lines on `|`, except after a shell `!` (the shell command takes the rest of the line)."""
    out: list[str] = []
    for line in value.split("\n"):
        rest = line
        while rest.strip():
            rest = _EX_MODIFIERS.sub("", rest.lstrip(" \t:"))
            if _EX_BANG.match(rest) or "|" not in rest:
                out.append(rest.strip())
                break
            head, _, rest = rest.partition("|")
            out.append(head.strip())
    return [c for c in out if c]


def _gdb(value: str) -> Pieces:
    """A gdb command: `shell CMD`, `!CMD`, `pipe … | CMD`, `python CODE`, `call system("CMD")`."""
    cmd = value.strip()
    if cmd.startswith("!"):
        return _sh(cmd[1:])
    word, _, rest = cmd.partition(" ")
    if word == "shell":
        return _sh(rest)
    if word in ("python", "py", "python-interactive", "pi"):
        return [("python", rest)]
    if word in ("pipe", "|"):
        return _sh(rest.rpartition("|")[2])
    return [("sh", s) for s in _called(cmd, ("system", "popen", "execl", "execve", "execvp"))]


_ELISP_SHELL = re.compile(r"\((?:async-)?shell-command(?:-to-string|-on-region)?\s+(?:[^\"()]*\s+)?"
                          r"\"((?:[^\"\\]|\\.)*)\"")
_ELISP_CALL = re.compile(r"\((call-process|start-process|process-lines|call-process-shell-command|"
                         r"start-process-shell-command|make-process|term|ansi-term|delete-directory|"
                         r"delete-file)\b([^()]*(?:\([^()]*\)[^()]*)*)\)")
_ELISP_TOKEN = re.compile(r"\"((?:[^\"\\]|\\.)*)\"|([^\s\"()']+)")


def _elisp(value: str) -> Pieces:
    """Emacs Lisp: `(shell-command "CMD")`, `(call-process "rm" nil nil nil "-rf" "/")`, `(term "/bin/sh")`,
    `(delete-directory "~" t)`. A symbol where a string belongs is only known when it runs."""
    out: Pieces = [("sh", _unescape(m.group(1))) for m in _ELISP_SHELL.finditer(value)]
    for m in _ELISP_CALL.finditer(value):
        fn = m.group(1)
        tokens = [_unescape(t.group(1)) if t.group(1) is not None else (t.group(2) if t.group(2) in ("nil", "t")
                  else UNKNOWN) for t in _ELISP_TOKEN.finditer(m.group(2))]
        if fn == "make-process":
            i = m.group(2).find(":command")
            tokens = [_unescape(x) for x in re.findall(r"\"((?:[^\"\\]|\\.)*)\"", m.group(2)[i:])] if i >= 0 else []
        argv = {"call-process": tokens[:1] + tokens[4:], "start-process": tokens[2:], "process-lines": tokens,
                "make-process": tokens, "term": tokens[:1], "ansi-term": tokens[:1]}.get(fn)
        if argv is not None:
            out += _sh(_argv_line([a for a in argv if a not in ("nil", "t")]))
        elif fn == "call-process-shell-command":
            out += _sh(" ".join(tokens[:1]))
        elif fn == "start-process-shell-command":
            out += _sh(" ".join(tokens[2:3]))
        elif fn == "delete-directory" and tokens:
            out += _sh(_argv_line(["rm", "-rf" if tokens[1:2] == ["t"] else "-d", tokens[0]]))
        elif fn == "delete-file" and tokens:
            out += _sh(_argv_line(["rm", tokens[0]]))
    return out


def _makefile(value: str) -> Pieces:
    """Makefile text: every recipe line and `$(shell CMD)` (what `make -f -` or `make --eval` would run)."""
    out: Pieces = []
    for line in value.replace("\\\n", " ").split("\n"):
        recipe: str | None = None
        if line.startswith("\t"):
            recipe = line[1:]
        else:
            m = re.match(r"[^=:#\t]+::?[^=;#]*;(.*)", line)
            recipe = m.group(1) if m else None
        for sub in re.findall(r"\$[({]shell\s+([^)}]*)[)}]", line):
            out += _sh(sub.replace("$$", "$"))
        if recipe is not None:
            out += _sh(re.sub(r"^[@+\-\s]+", "", recipe).replace("$$", "$"))
    return out


def _sql(value: str) -> Pieces:
    """A database client's shell escape: sqlite3's `.shell CMD`/`.system CMD`, mysql's and psql's `\\! CMD`
    (mysql's `system CMD` too)."""
    rx = r"(?:^|;)\s*(?:\.(?:shell|system)\s+|\\!\s*|system\s+)([^;\n]*)"
    return [("sh", m.group(1)) for m in re.finditer(rx, value, re.M | re.I) if m.group(1).strip()]


def _rpm(value: str) -> Pieces:
    """An rpm macro: `%(CMD)` runs CMD through the shell, `%{lua: CODE}` runs Lua."""
    out: Pieces = [("sh", m.group(1)) for m in re.finditer(r"%\(([^)]*)\)", value)]
    out += [("lua", m.group(1)) for m in re.finditer(r"%\{lua:(.*)\}", value, re.S)]
    return out


_LANGUAGES = {"sh": _sh, "exec=": _exec_prefixed, "ssh-o": _ssh_option, "apt-o": _apt_option, "less": _less,
              "ex": _ex, "gdb": _gdb, "elisp": _elisp, "make": _makefile, "sql": _sql, "rpm": _rpm}


# ------------------------------------------------------------------ scripts given as operands or on stdin


def _sed_operands(name: str, args: tuple[str, ...], stdin_text: str | None) -> list[Carried]:
    scripts = [v for o, v in _option_values(args, {"-e": "", "--expression": ""})]
    if not scripts and not any(a in ("-f", "--file") or a.startswith("--file=") for a in args):
        scripts = [a for a in args if not a.startswith("-")][:1]
    return [Carried(f"{name} e", "sh", line) for s in scripts for line in sed_commands(s)]


def sed_commands(script: str) -> list[str]:
    """The shell lines a sed script runs: `e CMD`, and the pattern space after `s/…/…/e` (UNKNOWN unless the
    substitution replaces the whole line with known text)."""
    out: list[str] = []
    i, n = 0, len(script)
    while i < n:
        while i < n and script[i] in " \t\n;{}!":
            i += 1
        i = _skip_address(script, i)
        while i < n and script[i] in " \t!":
            i += 1
        if i >= n:
            break
        c = script[i]
        if c == "e":
            end = script.find("\n", i)
            end = n if end < 0 else end
            command = script[i + 1 : end].strip()
            out.append(command or UNKNOWN)
            i = end
        elif c in "sy" and i + 1 < n:
            delim = script[i + 1]
            parts, i = _delimited(script, i + 2, delim, 2)
            m = re.match(r"[gpIiMm0-9ew]*", script[i:])
            flags = m.group(0) if m else ""
            if c == "s" and "e" in flags.replace("w", ""):
                pattern, replacement = parts[0], parts[1] if len(parts) > 1 else ""
                whole = pattern in (".*", "^.*$", "^.*") and not re.search(r"\\[0-9]|&", replacement)
                out.append(replacement.replace("\\/", "/").replace("\\" + delim, delim) if whole else UNKNOWN)
            i += len(flags)
        elif c in "aicrRwWbtT:":
            end = script.find("\n", i)
            i = n if end < 0 else end
            if c in "btT:":  # labels end at `;` too
                semi = script.find(";", i)
                i = min(i, semi) if semi >= 0 else i
        else:
            i += 1
    return out


def _skip_address(script: str, i: int) -> int:
    n = len(script)
    for _ in range(2):
        if i < n and script[i] == "/":
            _, i = _delimited(script, i + 1, "/", 1)
        elif i + 1 < n and script[i] == "\\":
            _, i = _delimited(script, i + 2, script[i + 1], 1)
        else:
            m = re.match(r"[0-9$]+(~[0-9]+)?", script[i:])
            if m:
                i += m.end()
        if i < n and script[i] == ",":
            i += 1
            continue
        break
    return i


def _delimited(script: str, i: int, delim: str, count: int) -> tuple[list[str], int]:
    """`count` parts each ending at an unescaped `delim`, from `i`; returns them and the index after."""
    parts: list[str] = []
    current: list[str] = []
    while i < len(script) and len(parts) < count:
        ch = script[i]
        if ch == "\\" and i + 1 < len(script):
            current.append(script[i : i + 2])
            i += 2
            continue
        if ch == delim:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
        i += 1
    return parts, i


def _make_stdin(name: str, args: tuple[str, ...], stdin_text: str | None) -> list[Carried]:
    """`make -f -` and `make -f /dev/stdin` read their makefile from stdin."""
    files = [v for o, v in _option_values(args, {"-f": "", "--file": "", "--makefile": ""})]
    if stdin_text is None or not any(f in ("-", "/dev/stdin") for f in files):
        return []
    return [Carried(f"{name} -f -", lang, text) for lang, text in _makefile(stdin_text)]


def _sqlite_operands(name: str, args: tuple[str, ...], stdin_text: str | None) -> list[Carried]:
    operands = [a for a in args if not a.startswith("-")]
    texts = operands[1:] + ([stdin_text] if stdin_text is not None and len(operands) < 2 else [])
    return [Carried(f"{name} .shell", lang, text) for t in texts for lang, text in _sql(t)]


def _hyperfine_operands(name: str, args: tuple[str, ...], stdin_text: str | None) -> list[Carried]:
    """hyperfine runs each operand (and --prepare/--setup/--cleanup values) through the shell."""
    valued = {"-p", "--prepare", "-s", "--setup", "-c", "--cleanup", "-w", "--warmup", "-r", "--runs", "-m",
              "--min-runs", "-M", "--max-runs", "-S", "--shell", "-n", "--command-name", "--export-json",
              "--export-markdown", "--export-csv", "-P", "--parameter-scan", "-L", "--parameter-list"}
    shell_valued = {"-p", "--prepare", "-s", "--setup", "-c", "--cleanup"}
    out: list[Carried] = []
    i = 0
    while i < len(args):
        a = args[i]
        if a in valued:
            if a in shell_valued and i + 1 < len(args):
                out.append(Carried(f"{name} {a}", "sh", args[i + 1]))
            i += 2
            continue
        if not a.startswith("-"):
            out.append(Carried(name, "sh", a))
        i += 1
    return out


def _capsh_operands(name: str, args: tuple[str, ...], stdin_text: str | None) -> list[Carried]:
    """`capsh … -- ARGS` runs /bin/bash with ARGS: `capsh -- -c CMD`."""
    if "--" not in args:
        return []
    rest = list(args[args.index("--") + 1 :])
    code = next((rest[i + 1] for i, a in enumerate(rest[:-1]) if re.fullmatch(r"-[a-zA-Z]*c[a-zA-Z]*", a)), None)
    return [Carried(f"{name} --", "sh", code if code is not None else "bash " + _argv_line(rest))]


_OPERANDS = {"capsh": _capsh_operands, "sed": _sed_operands, "gsed": _sed_operands, "make": _make_stdin,
             "gmake": _make_stdin, "sqlite3": _sqlite_operands, "hyperfine": _hyperfine_operands}
NAMES = frozenset(CARRIERS) | frozenset(_OPERANDS)


# ------------------------------------------------------------------ small readers


def _called(text: str, names: tuple[str, ...]) -> list[str]:
    """The string literal given to any of `names(…)`: `call system("rm -rf /")` → `rm -rf /`."""
    rx = r"\b(?:" + "|".join(names) + r")\s*\(\s*(?:\([^)]*\)\s*)?(\"(?:[^\"\\]|\\.)*\"|'(?:[^']|'')*')"
    return [_string_literals(m.group(1))[0] for m in re.finditer(rx, text)]


def _string_literals(text: str) -> list[str]:
    out = []
    for m in re.finditer(r"\"((?:[^\"\\]|\\.)*)\"|'((?:[^']|'')*)'", text):
        out.append(_unescape(m.group(1)) if m.group(1) is not None else m.group(2).replace("''", "'"))
    return out


def _unescape(s: str) -> str:
    return re.sub(r"\\(.)", r"\1", s)


def _argv_line(argv: list[str]) -> str:
    """A shell line running exactly `argv`; a leading `~` stays unquoted so it still means the home."""
    return " ".join(_quote(a) for a in argv)


def _quote(arg: str) -> str:
    if arg.startswith("~") and (len(arg) == 1 or arg[1] == "/"):
        return "~" + (shlex.quote(arg[1:]) if len(arg) > 1 else "")
    return shlex.quote(arg)


# ------------------------------------------------------------------ walking what was carried

RUNTIME_TEXT = "text built at run time"  # the `via` mark of a command line only known when it runs


def walk_carried(w: Walker, inv: Invocation, st: State, ctx: Ctx) -> None:
    from vgshell.unwrap.code import inline_code

    for c in carried(inv.name, inv.args, ctx.stdin_text):
        if c.lang == "sh":
            # a command option's line is marked only when its program is unknown: `rsync -e "ssh -p $PORT"`
            # names its program
            run_line(w, c.text, st, ctx, c.how, mark=c.text.lstrip().startswith(UNKNOWN))
        else:
            inline_code(w, c.text, st, ctx.deeper(c.how), c.lang)


def run_line(w: Walker, line: str, st: State, ctx: Ctx, how: str, mark: bool | None = None) -> None:
    """Walk a shell line some program runs; one built at run time (or, with `mark`, as told) is also marked,
    so a rule can say so."""
    if UNKNOWN in line if mark is None else mark:
        marker = Invocation(("sh", "-c", line), st.cwd, home=st.home, via=(*ctx.via, how, RUNTIME_TEXT),
                            privileged=ctx.privileged, remote=ctx.remote)
        w.emit(marker, ctx)
    w.text(line, st.copy(), ctx, how)
