"""See through a parsed Script to every command that would really run: the `Invocation`s.

Wrappers (`sudo env nice …`), shells given code (`bash -c`, `eval`, heredocs and here-strings, `echo … | sh`),
substitutions, `find -exec`, `xargs`, `parallel`, `ssh host CMD`, inline interpreter code and functions are
all opened up. `cd` and assignments earlier on the line are followed, so relative paths and `$VAR`s are
resolved the way bash would resolve them. Pure: everything it knows comes from its arguments.
"""

from __future__ import annotations

import base64
import binascii
import os.path
import re
import shlex
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property

from vgshell.expand import UNKNOWN, Expanded, braces, expand
from vgshell.parse import Compound, Function, Node, Pipeline, Script, Sequence, Simple, Word, parse
from vgshell.wrappers import AWK, COMMAND_VARIABLES, GIT_COMMAND_KEYS, INTERPRETERS, SHELLS, WRAPPERS, interpreter_key

MAX_NESTING = 8  # bash -c "bash -c '…'" deeper than this is refused as unanalysable
MAX_LOOP_VALUES = 16  # `for x in …` bodies are walked once per value up to this many
STATIC_TEXT_PRODUCERS = frozenset({"echo", "printf", "cat"})
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
class _State:
    """What the shell knows while the line runs: mutable, copied for subshells."""

    cwd: str | None
    vars: dict[str, str]
    home: str
    downloaded: set[str] = field(default_factory=set)
    functions: dict[str, Node] = field(default_factory=dict)
    written: dict[str, str] = field(default_factory=dict)  # files given known text earlier on the line

    def copy(self) -> _State:
        # files are shared: what a subshell or pipeline stage writes is there for the rest of the line
        return _State(self.cwd, dict(self.vars), self.home, set(self.downloaded), dict(self.functions),
                      self.written)


@dataclass(frozen=True)
class _Ctx:
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

    def deeper(self, how: str, **changes: object) -> _Ctx:
        return replace(self, via=(*self.via, how), depth=self.depth + 1, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Flattened:
    invocations: tuple[Invocation, ...]
    errors: tuple[str, ...]  # parse failures, here or in nested code
    state_change: bool  # the line only changes the shell's own state (cd, export, alias…), nothing else


def flatten(script: Script, cwd: str | None, home: str, env: Mapping[str, str] | None = None) -> Flattened:
    """All Invocations of `script` run from `cwd`, with `env` holding the variables known to be set."""
    variables = {"HOME": home}
    if cwd:
        variables["PWD"] = cwd
    variables.update(env or {})
    walker = _Walker()
    walker.script(script, _State(cwd, variables, home), _Ctx())
    return Flattened(tuple(walker.out), tuple(walker.errors), walker.state_change and not walker.runs_other)


class _Walker:
    def __init__(self) -> None:
        self.out: list[Invocation] = []
        self.errors: list[str] = []
        self.state_change = False
        self.runs_other = False

    # ------------------------------------------------------------------ structure

    def script(self, script: Script, st: _State, ctx: _Ctx) -> None:
        if script.error:
            self.errors.append(script.error)
        for node in script.body:
            self.node(node, st, ctx)

    def text(self, code: str, st: _State, ctx: _Ctx, how: str) -> None:
        """Parse and walk code that some command will run (bash -c, eval, ssh, heredoc to a shell…)."""
        if ctx.depth >= MAX_NESTING:
            self.errors.append(f"code nested more than {MAX_NESTING} levels deep")
            return
        self.script(parse(code), st, ctx.deeper(how))

    def node(self, node: Node, st: _State, ctx: _Ctx) -> None:
        if isinstance(node, Simple):
            self.simple(node, st, ctx)
        elif isinstance(node, Pipeline):
            self.pipeline(node, st, ctx)
        elif isinstance(node, Sequence):
            for item, op in zip(node.items, node.ops, strict=True):
                self.node(item, st, replace(ctx, spawning=ctx.spawning or op == "&"))
        elif isinstance(node, Compound):
            inner = st.copy() if node.kind == "subshell" else st
            for w in node.words:
                self.word_subs(w, st, ctx)
            self.redirect_subs(node, st, ctx)
            for value in self.loop_values(node, st):
                if node.variable is not None:
                    inner.vars[node.variable] = value
                for child in node.body:
                    self.node(child, inner, ctx)
        elif isinstance(node, Function):
            st.functions[node.name] = node.body
            self.emit(Invocation(("()", node.name), st.cwd, home=st.home), ctx)
            runs_other = self.runs_other  # the body is judged now but runs only when called
            self.node(node.body, st.copy(), replace(ctx, function=node.name))
            self.runs_other = runs_other

    def loop_values(self, node: Compound, st: _State) -> list[str]:
        """The values a `for x in A B` body is walked with (once each); other compounds are walked once."""
        if node.variable is None:
            return [""]
        values = [f for w in node.words for raw in braces(w.raw) for f in self.expand(w, st, raw).fields]
        return values if values and len(values) <= MAX_LOOP_VALUES else [UNKNOWN]

    def pipeline(self, node: Pipeline, st: _State, ctx: _Ctx) -> None:
        names: list[str] = []
        text: str | None = ctx.stdin_text
        single = len(node.stages) == 1
        for stage in node.stages:
            sub = replace(ctx, upstream=ctx.upstream + tuple(names), stdin_text=text,
                          spawning=ctx.spawning or not single)
            before = len(self.out)
            self.node(stage, st if single else st.copy(), sub)
            stage_out = self.out[before:]
            names.extend(i.name for i in stage_out if i.name and all(v in WRAPPERS for v in i.via[len(ctx.via):]))
            text = _static_output(stage, st, text)

    def redirect_subs(self, node: Simple | Compound, st: _State, ctx: _Ctx) -> None:
        for r in node.redirects:
            if r.target is not None:
                self.word_subs(r.target, st, ctx)

    def word_subs(self, word: Word, st: _State, ctx: _Ctx) -> None:
        how = "<( )" if word.process_subs else "$( )"
        for sub in word.subs:
            if ctx.depth >= MAX_NESTING:
                self.errors.append(f"substitutions nested more than {MAX_NESTING} levels deep")
                return
            self.script(sub, st.copy(), replace(ctx.deeper(how), upstream=(), stdin_text=None))

    # ------------------------------------------------------------------ simple commands

    def simple(self, node: Simple, st: _State, ctx: _Ctx) -> None:
        for _, value in node.assigns:
            self.word_subs(value, st, ctx)
        for w in node.words:
            self.word_subs(w, st, ctx)
        self.redirect_subs(node, st, ctx)
        assigns = tuple(name for name, _ in node.assigns)
        self.command_variables(node.assigns, st, ctx)
        if not node.words:
            for name, value in node.assigns:
                st.vars[name] = self.expand(value, st).value
            self.emit(Invocation(("=",), st.cwd, assigns=assigns, home=st.home), ctx)
            return
        # one (argument, word it came from) per field: `$c /` with c='rm -rf' is three arguments, and
        # `/{etc,usr}` two
        expanded = [(self.expand(w, st, raw), w) for w in node.words for raw in braces(w.raw)]
        fields = [(f, w) for e, w in expanded for f in (e.fields if not _ASSIGNMENT.match(w.raw) else (e.value,))]
        if not fields:
            return
        redirects, stdin_text = self.redirects(node, st, ctx)
        self.note_written(node, redirects, st, ctx)
        argv = tuple(f for f, _ in fields)
        if len(argv[0]) > 1 and argv[0][0] == "=" and _NAME.match(argv[0][1:]):
            argv = (argv[0][1:], *argv[1:])  # zsh: `=rm` runs the rm found on PATH
        params = tuple(p for e, _ in expanded for p in e.params)
        glob_name = expanded[0][0].glob
        hidden = (_bare(fields[0][1].raw),) if argv[0].startswith(UNKNOWN) else ()
        base = Invocation(argv, st.cwd, redirects, assigns, params, home=st.home, glob_name=glob_name,
                          hidden_name=hidden)
        self.command(base, st, replace(ctx, stdin_text=stdin_text if stdin_text is not None else ctx.stdin_text),
                     [w for _, w in fields])

    def expand(self, w: Word, st: _State, raw: str | None = None) -> Expanded:
        return expand(w.raw if raw is None else raw, st.vars, st.home, _sub_outputs(w, st))

    def command_variables(self, assigns: tuple[tuple[str, Word], ...], st: _State, ctx: _Ctx) -> None:
        """`PROMPT_COMMAND=…`, `GIT_SSH_COMMAND=…`: variables whose value some program runs as a command."""
        for name, value in assigns:
            if name in COMMAND_VARIABLES:
                self.text(self.expand(value, st).value.replace(UNKNOWN, ""), st.copy(), ctx, f"${name}")

    def redirects(self, node: Simple, st: _State, ctx: _Ctx) -> tuple[tuple[tuple[str, str], ...], str | None]:
        out: list[tuple[str, str]] = []
        stdin_text: str | None = None
        for r in node.redirects:
            if r.op in ("<<", "<<-") and r.heredoc is not None:
                body = r.heredoc if r.heredoc_quoted else _expand_heredoc(r.heredoc, st)
                stdin_text = body
            elif r.op == "<<<" and r.target is not None:
                stdin_text = self.expand(r.target, st).value + "\n"
            elif r.target is not None:
                target = self.expand(r.target, st).value
                out.append((r.op, _resolve(target, st.cwd) if not target.isdigit() else target))
        return tuple(out), stdin_text

    def command(self, inv: Invocation, st: _State, ctx: _Ctx, words: list[Word]) -> None:
        """Emit `inv` and everything it runs, seeing through wrappers."""
        inv = replace(inv, via=ctx.via, privileged=ctx.privileged, remote=ctx.remote, upstream=ctx.upstream,
                      stdin_text=ctx.stdin_text,
                      self_spawning=ctx.function is not None and ctx.spawning and inv.name == ctx.function)
        name = inv.name
        spec = WRAPPERS.get(name)
        if spec is not None and len(inv.argv) > 1:
            self.emit(inv, ctx)
            self.wrapper(inv, st, ctx, spec, words)
            return
        handler = _HANDLERS.get(name)
        if handler is not None:
            handler(self, inv, st, ctx, words)
            return
        if name in SHELLS:
            self.shell(inv, st, ctx, words)
            return
        key = interpreter_key(name)
        if key is not None:
            self.interpreter(inv, key, st, ctx, words)
            return
        self.plain(inv, st, ctx)

    def plain(self, inv: Invocation, st: _State, ctx: _Ctx) -> None:
        target = _resolve(inv.argv[0], st.cwd) if "/" in inv.argv[0] else None
        if target is not None and target in st.downloaded:
            inv = replace(inv, runs_downloaded=True)
        self.emit(inv, ctx)  # a function's body was walked where it was defined
        if target is not None:
            self.written_script(target, st, ctx, inv.name)
        elif inv.argv[0].startswith(UNKNOWN) and "/" not in inv.argv[0]:
            self.maybe_shell(inv, st, ctx)

    def maybe_shell(self, inv: Invocation, st: _State, ctx: _Ctx) -> None:
        """`$SHELL -c CODE`, `… | $X`: a program we cannot name may be a shell; judge what it would run."""
        code, _ = _shell_code(list(inv.args))
        if code:
            self.text(code.replace(UNKNOWN, ""), st.copy(), ctx, "-c of an unknown command")
        elif ctx.stdin_text is not None and not inv.args:
            self.text(ctx.stdin_text, st.copy(), replace(ctx, stdin_text=None), "stdin of an unknown command")

    def written_script(self, path: str, st: _State, ctx: _Ctx, name: str) -> bool:
        """Walk a file written with known text earlier on the line (`echo CODE > x.sh; sh x.sh`)."""
        text = st.written.get(path)
        if text is not None:
            self.text(text, st.copy(), ctx, f"{name} {os.path.basename(path)}")
        return text is not None

    def note_written(self, node: Simple, redirects: tuple[tuple[str, str], ...], st: _State, ctx: _Ctx) -> None:
        targets = [(op, t) for op, t in redirects if op in (">", ">|", ">>", "&>", "&>>")]
        tee = ctx.stdin_text is not None and "tee" in node.words[0].raw
        if not targets and not tee:
            return
        args = [expand(w.raw, st.vars, st.home).value for w in node.words]
        if tee and os.path.basename(args[0]) == "tee":
            text: str | None = ctx.stdin_text
            append = any(a in ("-a", "--append") for a in args)
            targets += [(">>" if append else ">", _resolve(a, st.cwd)) for a in args[1:] if not a.startswith("-")]
        elif targets:
            text = _static_output(node, st, ctx.stdin_text)
        else:
            return
        for op, target in targets:
            if text is not None:
                st.written[target] = (st.written.get(target, "") if op.endswith(">>") else "") + text
            else:
                st.written.pop(target, None)  # unknown content now

    def emit(self, inv: Invocation, ctx: _Ctx) -> None:
        if not ctx.via:
            if inv.name in STATE_BUILTINS or inv.argv[0] in ("=", "()"):  # assignments, function definitions
                self.state_change = True
            elif inv.name not in ("=", "true", ":"):
                self.runs_other = True
        self.out.append(inv)

    # ------------------------------------------------------------------ wrappers

    def wrapper(self, inv: Invocation, st: _State, ctx: _Ctx, spec: object, words: list[Word]) -> None:
        from vgshell.wrappers import WrapperSpec  # typing only

        assert isinstance(spec, WrapperSpec)
        name = inv.name
        args = list(inv.args)
        if name in ("busybox", "toybox") or (name == "command" and args[:1] == ["-v"] and len(args) == 2):
            rest = args
            if name == "command":
                return
        else:
            rest, chdir, split = _strip_options(args, spec)
            if chdir is not None:
                st = st.copy()
                st.cwd = _resolve(chdir, st.cwd)
            if split is not None:
                rest, _, _ = _strip_options(_split_words(split) + rest, spec)
        if name == "coproc" and rest[1:2] in (["{"], ["("]):
            rest = rest[1:]  # `coproc NAME { …; }`
        if name == "sudo" and not rest and any(a in ("-i", "-s", "--login", "--shell") for a in args):
            rest = ["bash"]
        if not rest:
            return
        sub = ctx.deeper(name, privileged=ctx.privileged or spec.privileged)
        new = replace(inv, argv=tuple(rest), assigns=inv.assigns, cwd=st.cwd)
        self.command(new, st, sub, _tail_words(words, inv.argv, rest))

    # ------------------------------------------------------------------ shells and code

    def shell(self, inv: Invocation, st: _State, ctx: _Ctx, words: list[Word]) -> None:
        args = list(inv.args)
        code, positional = _shell_code(args)
        if code is not None:
            self.emit(replace(inv, code=code, fed_by=_fed_by(words, ctx)), ctx)
            inner = st.copy()
            inner.vars.update({str(i): a for i, a in enumerate(positional[:10])})
            inner.vars["@"] = inner.vars["*"] = " ".join(positional[1:])
            self.text(code, inner, ctx, f"{inv.name} -c")
            return
        operands = [a for a in args if not a.startswith(("-", "+"))]
        if operands:
            script = _resolve(operands[0], st.cwd)
            self.emit(replace(inv, runs_downloaded=script in st.downloaded, fed_by=_fed_by(words, ctx)), ctx)
            if not self.written_script(script, st, ctx, inv.name):
                self.process_sub_code(words, st, ctx, inv.name)
            return
        self.emit(replace(inv, fed_by=_fed_by(words, ctx)), ctx)
        if ctx.stdin_text is not None:
            self.text(ctx.stdin_text, st.copy(), replace(ctx, stdin_text=None), f"stdin of {inv.name}")

    def process_sub_code(self, words: list[Word], st: _State, ctx: _Ctx, name: str) -> str | None:
        """Walk the known text of a `<( )` given as the script to run (`bash <(echo CODE)`); return it."""
        for w in words[1:2] if name in ("source", ".") else words[1:]:
            if w.process_subs and w.subs:
                text = _script_output(w.subs[0], st)
                if text is not None:
                    self.text(text, st.copy(), ctx, f"{name} <( )")
                return text
        return None

    def interpreter(self, inv: Invocation, key: str, st: _State, ctx: _Ctx, words: list[Word]) -> None:
        args = list(inv.args)
        code: str | None
        if key in AWK:
            code = next((a for a in args if not a.startswith("-")), None)
        elif key == "deno":
            code = args[1] if args[:1] == ["eval"] and len(args) > 1 else None
        else:
            values = _all_option_values(args, INTERPRETERS[key])
            code = "\n".join(values) if values else None
        operands = [a for a in args if not a.startswith("-")]
        if code is None and operands:
            code = st.written.get(_resolve(operands[0], st.cwd))  # echo CODE > x.py; python x.py
        reads_stdin = code is None and (not [a for a in args if not a.startswith("-")] or "-" in args)
        if code is None and reads_stdin and ctx.stdin_text is not None:
            code = ctx.stdin_text
        code_from_subs = code is not None and UNKNOWN in code  # python -c "$(curl …)"
        fed = _fed_by(words, ctx) if reads_stdin or code_from_subs or any(w.process_subs for w in words[1:]) else ()
        self.emit(replace(inv, code=code, fed_by=fed), ctx)
        if code:
            self.inline_code(code, st, ctx, inv.name)

    def inline_code(self, code: str, st: _State, ctx: _Ctx, name: str) -> None:
        for snippet in _exec_snippets(code):
            self.text(snippet, st.copy(), ctx, f"{name} code")
        for path in _deleted_paths(code):
            argv = ("rm", "-rf", _resolve(path, st.cwd))
            self.command(Invocation(argv, st.cwd, home=st.home), st, ctx.deeper(f"{name} code"), [])
        if _looks_like_shell(code):
            self.text(code, st.copy(), ctx, f"{name} code read as shell")


# ------------------------------------------------------------------ per-command handlers


def _h_cd(w: _Walker, inv: Invocation, st: _State, ctx: _Ctx, words: list[Word]) -> None:
    w.emit(inv, ctx)
    target = next((a for a in inv.args if not a.startswith("-") or a == "-"), None)
    if target is None:
        st.cwd = st.home
    elif target == "-" or UNKNOWN in target:
        st.cwd = None
    else:
        st.cwd = _resolve(target, st.cwd)


def _h_popd(w: _Walker, inv: Invocation, st: _State, ctx: _Ctx, words: list[Word]) -> None:
    w.emit(inv, ctx)
    st.cwd = None


def _h_export(w: _Walker, inv: Invocation, st: _State, ctx: _Ctx, words: list[Word]) -> None:
    w.emit(inv, ctx)
    nameref = any(a.startswith("-") and "n" in a for a in inv.args)
    for a in inv.args:
        name, eq, value = a.partition("=")
        if eq and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            st.vars[name] = UNKNOWN if nameref else value  # a nameref's target is read at use time
            w.command_variables(((name, Word(shlex.quote(value))),), st, ctx)


def _h_unset(w: _Walker, inv: Invocation, st: _State, ctx: _Ctx, words: list[Word]) -> None:
    w.emit(inv, ctx)
    for a in inv.args:
        st.vars.pop(a, None)


def _h_eval(w: _Walker, inv: Invocation, st: _State, ctx: _Ctx, words: list[Word]) -> None:
    code = " ".join(inv.args)
    w.emit(replace(inv, code=code, fed_by=_fed_by(words, ctx)), ctx)
    if code.replace(UNKNOWN, "").strip():
        w.text(code.replace(UNKNOWN, ""), st, ctx, "eval")


def _h_source(w: _Walker, inv: Invocation, st: _State, ctx: _Ctx, words: list[Word]) -> None:
    target = _resolve(inv.args[0], st.cwd) if inv.args else ""
    w.emit(replace(inv, fed_by=_fed_by(words, ctx), runs_downloaded=target in st.downloaded), ctx)
    if not w.written_script(target, st, ctx, inv.name):
        w.process_sub_code(words, st, ctx, inv.name)


def _h_alias(w: _Walker, inv: Invocation, st: _State, ctx: _Ctx, words: list[Word]) -> None:
    w.emit(inv, ctx)
    for a in inv.args:
        _, eq, value = a.partition("=")
        if eq and value:
            w.text(value, st.copy(), ctx, "alias")


def _h_trap(w: _Walker, inv: Invocation, st: _State, ctx: _Ctx, words: list[Word]) -> None:
    w.emit(inv, ctx)
    if len(inv.args) >= 2 and not inv.args[0].startswith("-"):
        w.text(inv.args[0], st.copy(), ctx, "trap")


def _h_ssh(w: _Walker, inv: Invocation, st: _State, ctx: _Ctx, words: list[Word]) -> None:
    w.emit(inv, ctx)
    rest, _, _ = _strip_options(list(inv.args), _SSH_SPEC)
    command = rest[2:] if rest[1:2] == ["--"] else rest[1:]
    if command:
        remote = _State(None, {"HOME": UNKNOWN}, UNKNOWN)
        w.text(" ".join(command), remote, replace(ctx, remote=True, privileged=False), "ssh")


def _h_su(w: _Walker, inv: Invocation, st: _State, ctx: _Ctx, words: list[Word]) -> None:
    w.emit(inv, ctx)
    code = _option_anywhere(list(inv.args), {"-c", "--command"}, clustered="c")
    if code is not None:
        w.text(code, st.copy(), replace(ctx, privileged=True), "su -c")


def _h_watch(w: _Walker, inv: Invocation, st: _State, ctx: _Ctx, words: list[Word]) -> None:
    w.emit(inv, ctx)
    rest, _, _ = _strip_options(list(inv.args), _WATCH_SPEC)
    if rest:
        w.text(" ".join(rest), st.copy(), ctx, "watch")


def _h_script(w: _Walker, inv: Invocation, st: _State, ctx: _Ctx, words: list[Word]) -> None:
    w.emit(inv, ctx)
    code = _option_anywhere(list(inv.args), {"-c", "--command"}, clustered="c")
    if code is not None:
        w.text(code, st.copy(), ctx, "script -c")


def _h_tmux(w: _Walker, inv: Invocation, st: _State, ctx: _Ctx, words: list[Word]) -> None:
    w.emit(inv, ctx)
    args = list(inv.args)
    if "send-keys" in args or "send" in args:
        i = args.index("send-keys") if "send-keys" in args else args.index("send")
        rest, _, _ = _strip_options(args[i + 1 :], WRAPPERS_SEND_KEYS)
        keys = [k for k in rest if k not in ("Enter", "C-m", "KPEnter")]
        if keys:
            w.text(" ".join(keys), st.copy(), ctx, "tmux send-keys")
    elif (args and args[0] in ("new-session", "new", "new-window", "neww", "split-window", "splitw",
                              "respawn-pane")) or "-c" in args:
        tail = [a for a in args[1:] if not a.startswith("-")]
        code = _option_value(args, {"-c"}, attached=False)
        if code is not None:
            w.text(code, st.copy(), ctx, "tmux -c")
        elif tail:
            w.text(" ".join(tail[-1:]), st.copy(), ctx, "tmux")


def _h_at(w: _Walker, inv: Invocation, st: _State, ctx: _Ctx, words: list[Word]) -> None:
    w.emit(replace(inv, fed_by=_fed_by(words, ctx)), ctx)
    if ctx.stdin_text is not None:
        w.text(ctx.stdin_text, st.copy(), replace(ctx, stdin_text=None), inv.name)


def _h_find(w: _Walker, inv: Invocation, st: _State, ctx: _Ctx, words: list[Word]) -> None:
    args = list(inv.args)
    roots = []
    for a in args:
        if a.startswith(("-", "(", "!")) and a not in ("-",):
            break
        roots.append(a)
    roots = roots or ["."]
    # a test narrows what is found (`-name '*'` does not): {} is then some entries under the root
    filtered = any(a in _FIND_TESTS and args[i + 1 : i + 2] != ["*"] for i, a in enumerate(args))
    w.emit(inv, ctx)
    i = 0
    while i < len(args):
        a = args[i]
        if a in ("-exec", "-execdir", "-ok", "-okdir"):
            end = next((j for j in range(i + 1, len(args)) if args[j] in (";", "+", "\\;")), len(args))
            cmd = args[i + 1 : end]
            for root in roots:
                argv = tuple(c.replace("{}", root) for c in cmd)
                if filtered and argv and os.path.basename(argv[0]) == "rm":
                    argv = (argv[0], "--find-filtered", *argv[1:])
                if argv:
                    w.command(Invocation(argv, st.cwd, home=st.home), st.copy(), ctx.deeper(f"find {a}"), [])
            i = end
        elif a == "-delete":
            for root in roots:
                argv = ("rm", "-r", root) if not filtered else ("rm", "-r", "--find-filtered", root)
                w.command(Invocation(argv, st.cwd, home=st.home), st.copy(), ctx.deeper("find -delete"), [])
        i += 1


def _h_xargs(w: _Walker, inv: Invocation, st: _State, ctx: _Ctx, words: list[Word]) -> None:
    w.emit(inv, ctx)
    args = list(inv.args)
    replace_token: str | None = None
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--":
            i += 1
            break
        if not a.startswith("-"):
            break
        if a in ("-I", "--replace") or a.startswith("--replace="):
            replace_token = a.partition("=")[2] or (args[i + 1] if a == "-I" and i + 1 < len(args) else "{}")
            i += 2 if a == "-I" else 1
            continue
        if a.startswith("-I") or a == "-i" or a.startswith("-i"):
            replace_token = a[2:] or "{}"
        elif a in _XARGS_VALUED:
            i += 1
        i += 1
    cmd = args[i:] or ["echo"]
    items = _split_words(ctx.stdin_text) if ctx.stdin_text is not None else [UNKNOWN]
    if replace_token is not None:
        lines = ctx.stdin_text.splitlines() if ctx.stdin_text is not None else [UNKNOWN]
        argvs = [tuple(c.replace(replace_token, line.strip()) for c in cmd) for line in lines[:20] or [""]]
    elif os.path.basename(cmd[0]) in SHELLS and cmd[-1] == "-c":
        argvs = [tuple([*cmd, ctx.stdin_text.strip() if ctx.stdin_text is not None else UNKNOWN])]
    else:
        argvs = [tuple(cmd + items[:200])]
    for argv in argvs:
        w.command(Invocation(argv, st.cwd, home=st.home), st.copy(), ctx.deeper("xargs", stdin_text=None), [])


def _h_parallel(w: _Walker, inv: Invocation, st: _State, ctx: _Ctx, words: list[Word]) -> None:
    w.emit(inv, ctx)
    args = list(inv.args)
    groups: list[list[str]] = []
    cmd: list[str] = []
    i = 0
    while i < len(args) and args[i].startswith("-") and args[i] not in (":::", "::::"):
        i += 2 if args[i] in _PARALLEL_VALUED else 1
    while i < len(args):
        if args[i] in (":::", ":::+"):
            groups.append([])
        elif groups:
            groups[-1].append(args[i])
        else:
            cmd.append(args[i])
        i += 1
    inputs = [x for g in groups for x in g] or (
        ctx.stdin_text.splitlines() if ctx.stdin_text is not None else [UNKNOWN])
    template = cmd or ["{}"]
    for item in inputs[:50]:
        if any("{" in c for c in template):
            argv = [re.sub(r"\{[0-9./#%]*\}", lambda _m, it=item: it, c) for c in template]  # type: ignore[misc]
        else:
            argv = [*template, item]
        joined = " ".join(argv)
        if len(template) == 1 and not cmd:
            w.text(joined, st.copy(), ctx, "parallel")
        else:
            w.command(Invocation(tuple(argv), st.cwd, home=st.home), st.copy(),
                      ctx.deeper("parallel", stdin_text=None), [])


def _h_fetch(w: _Walker, inv: Invocation, st: _State, ctx: _Ctx, words: list[Word]) -> None:
    w.emit(inv, ctx)
    args = list(inv.args)
    out = _option_anywhere(args, {"-o", "--output"} if inv.name == "curl" else {"-O", "--output-document"})
    if out and out != "-":
        st.downloaded.add(_resolve(out, st.cwd))
    elif inv.name == "wget" and out is None:
        urls = [a for a in args if "://" in a]
        if urls:
            st.downloaded.add(_resolve(urls[0].rstrip("/").rsplit("/", 1)[-1] or "index.html", st.cwd))
    elif inv.name == "curl" and ("-O" in args or "--remote-name" in args):
        urls = [a for a in args if "://" in a]
        if urls:
            st.downloaded.add(_resolve(urls[0].rstrip("/").rsplit("/", 1)[-1], st.cwd))


def _h_git(w: _Walker, inv: Invocation, st: _State, ctx: _Ctx, words: list[Word]) -> None:
    """`git -c alias.x='!CMD' x`, `git -c core.pager=CMD log`, `git config core.sshCommand CMD`: walk CMD."""
    w.emit(inv, ctx)
    args = list(inv.args)
    settings = [args[i + 1] for i, a in enumerate(args[:-1]) if a == "-c"]
    settings += [a[2:] for a in args if a.startswith("-c") and "=" in a]
    if "config" in args:
        rest = [a for a in args[args.index("config") + 1 :] if not a.startswith("-")]
        if len(rest) >= 2:
            settings.append(rest[0] + "=" + rest[1])
    for setting in settings:
        key, _, value = setting.partition("=")
        if not GIT_COMMAND_KEYS.fullmatch(key) or not value:
            continue
        if key.lower().startswith(("alias.", "credential.")):
            if not value.startswith("!"):
                continue
            value = value[1:]
        w.text(value, st.copy(), ctx, f"git {key}")


def _h_chmod(w: _Walker, inv: Invocation, st: _State, ctx: _Ctx, words: list[Word]) -> None:
    w.emit(inv, ctx)


_Handler = Callable[["_Walker", Invocation, "_State", "_Ctx", list[Word]], None]
_HANDLERS: dict[str, _Handler] = {
    "cd": _h_cd, "pushd": _h_cd, "popd": _h_popd,
    "export": _h_export, "declare": _h_export, "typeset": _h_export, "local": _h_export,
    "readonly": _h_export, "unset": _h_unset,
    "eval": _h_eval, "source": _h_source, ".": _h_source,
    "alias": _h_alias, "trap": _h_trap,
    "ssh": _h_ssh, "su": _h_su, "runuser": _h_su, "watch": _h_watch, "script": _h_script,
    "tmux": _h_tmux, "at": _h_at, "batch": _h_at,
    "find": _h_find, "xargs": _h_xargs, "parallel": _h_parallel,
    "curl": _h_fetch, "wget": _h_fetch, "git": _h_git,
}


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_SSH_SPEC = WRAPPERS["sudo"].__class__(_words("-b -c -D -E -e -F -I -i -J -L -l -m -O -o -p -Q -R -S -W -w -B"))
_WATCH_SPEC = WRAPPERS["sudo"].__class__(_words("-n --interval -d --differences -q --equexit --chgexit -s "
                                                "--shotsdir"))
WRAPPERS_SEND_KEYS = WRAPPERS["sudo"].__class__(_words("-t -N -c -F"))
_XARGS_VALUED = _words("-a --arg-file -d --delimiter -E -e -L -l -n --max-args -P --max-procs -s "
                       "--max-chars --process-slot-var")
_PARALLEL_VALUED = _words("-S --sshlogin -j --jobs -P --results --joblog --tmpdir -a --arg-file "
                          "--colsep -C -d --delimiter -n --max-args -N --timeout --workdir --wd")
_FIND_TESTS = _words("-name -iname -path -ipath -wholename -regex -iregex -type -mtime -mmin -atime "
                     "-amin -ctime -cmin -newer -size -empty -user -group -perm -links -inum "
                     "-samefile -lname -ilname")


# ------------------------------------------------------------------ helpers (pure)

_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")


def _tail_words(words: list[Word], argv: tuple[str, ...], rest: list[str]) -> list[Word]:
    """The source words of a wrapper's wrapped command (`rest`, a tail of `argv`), so `$( )`s stay known."""
    if len(words) == len(argv) and len(rest) <= len(argv):
        return words[len(words) - len(rest) :]
    return [Word(shlex.quote(a)) for a in rest]


def _shell_code(args: list[str]) -> tuple[str | None, list[str]]:
    """`bash -xc CODE a b` → (CODE, [a, b]): the code and what becomes `$0 $1 …`."""
    for i, a in enumerate(args):
        if a == "-c" or re.fullmatch(r"-[a-zA-Z]*c[a-zA-Z]*", a):
            return (args[i + 1], args[i + 2 :]) if i + 1 < len(args) else ("", [])
        if not a.startswith(("-", "+")):
            return None, []
    return None, []


def _sub_outputs(word: Word, st: _State) -> dict[str, str]:
    """The known outputs of the `$( )`/backticks in `word`, by their source text (`$(echo rm)` → `rm\n`)."""
    if not word.subs or word.process_subs:
        return {}
    return {sub.source: out for sub in word.subs if (out := _script_output(sub, st)) is not None}


def _script_output(script: Script, st: _State) -> str | None:
    """What a substitution's script prints, when every stage is static (echo, printf, base64 -d…)."""
    nodes: tuple[Node, ...] = script.body
    while len(nodes) == 1 and isinstance(nodes[0], Sequence) and len(nodes[0].items) == 1:
        nodes = nodes[0].items
    if len(nodes) != 1 or (isinstance(nodes[0], Pipeline) and nodes[0].negated):
        return None
    stages = nodes[0].stages if isinstance(nodes[0], Pipeline) else nodes
    text: str | None = None
    for stage in stages:
        text = _static_output(stage, st, text)
        if text is None:
            return None
    return text


def _resolve(path: str, cwd: str | None) -> str:
    """Absolute, normalised path; relative paths join `cwd`; UNKNOWN stays where run time decides."""
    if not path or path.startswith(UNKNOWN):
        return path
    if not path.startswith("/"):
        if cwd is None:
            return UNKNOWN + "/" + path
        path = cwd.rstrip("/") + "/" + path
    normal = os.path.normpath(path)
    return "/" + normal.lstrip("/") if normal.startswith("//") else normal


_NAME = re.compile(r"[A-Za-z0-9_.+-]+$")


def _bare(raw: str) -> str:
    """`"${EDITOR}"` → `$EDITOR`: the written form of a command word without quotes or braces."""
    text = raw.replace('"', "").replace("'", "")
    return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", r"$\1", text)


def _strip_options(args: list[str], spec: object) -> tuple[list[str], str | None, str | None]:
    """Drop a wrapper's options (and their values); returns the wrapped argv, a chdir and a split-string."""
    valued: frozenset[str] = getattr(spec, "valued", frozenset())
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


def _split_words(text: str) -> list[str]:
    try:
        return shlex.split(text, comments=False)
    except ValueError:
        return text.split()


def _option_value(args: list[str], names: set[str], attached: bool, clustered: bool = False) -> str | None:
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


def _option_anywhere(args: list[str], names: set[str], clustered: str = "") -> str | None:
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


def _all_option_values(args: list[str], names: frozenset[str]) -> list[str]:
    values = []
    for i, a in enumerate(args):
        if a in names and i + 1 < len(args):
            values.append(args[i + 1])
        elif any(a.startswith(n + "=") for n in names if n.startswith("--")):
            values.append(a.partition("=")[2])
    return values


def _fed_by(words: list[Word], ctx: _Ctx) -> tuple[str, ...]:
    """Names of the commands whose output this command takes as code (pipe, `<( )`, `$( )` in args)."""
    names = list(ctx.upstream)
    for w in words[1:]:
        for sub in w.subs:
            names.extend(_names_in(sub.body))
    return tuple(dict.fromkeys(names))


def _names_in(nodes: Iterable[Node]) -> list[str]:
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
            found.extend(_names_in(n.stages))
        elif isinstance(n, Sequence):
            found.extend(_names_in(n.items))
        elif isinstance(n, Compound):
            found.extend(_names_in(n.body))
    return found


def _static_output(stage: Node, st: _State, stdin_text: str | None) -> str | None:
    """The text a pipeline stage writes, when it can be known without running it (echo, printf, base64 -d…)."""
    if not isinstance(stage, Simple) or not stage.words:
        return None
    argv = [expand(w.raw, st.vars, st.home).value for w in stage.words]
    name, args = os.path.basename(argv[0]), argv[1:]
    own = _own_stdin(stage, st)
    stdin_text = own if own is not None else stdin_text
    if _looks_up_a_program(name, args):
        return "/usr/bin/" + os.path.basename(args[-1]) + "\n"  # some path ending in the name: rules need no more
    if name == "echo":
        flags = [a for a in args[:3] if re.fullmatch(r"-[neE]+", a)]
        text = " ".join(args[len(flags):])
        if any("e" in f for f in flags):
            text = expand("$'" + text.replace("'", "\\'") + "'", {}, "/").value
        return text + "\n"
    if name == "printf" and args:
        fmt = expand("$'" + args[0].replace("'", "\\'") + "'", {}, "/").value
        return fmt.replace("%s", " ".join(args[1:])).replace("%b", " ".join(args[1:]))
    if name == "cat" and not args:
        return stdin_text
    if stdin_text is None:
        return None
    return _decode(name, args, stdin_text)


def _looks_up_a_program(name: str, args: list[str]) -> bool:
    """`which rm`, `command -v rm`, `type -P rm`."""
    if not args or not args[-1] or args[-1].startswith("-"):
        return False
    return name == "which" or (name in ("command", "type") and args[0] in ("-v", "-p", "-P"))


def _own_stdin(stage: Simple, st: _State) -> str | None:
    """The text a command's own heredoc or here-string puts on its stdin."""
    for r in stage.redirects:
        if r.op in ("<<", "<<-") and r.heredoc is not None:
            return r.heredoc if r.heredoc_quoted else _expand_heredoc(r.heredoc, st)
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
        if name == "tr" and len(args) == 2 and len(args[0]) == len(args[1]):
            return text.translate(str.maketrans(args[0], args[1]))
    except (ValueError, binascii.Error):
        return None
    return None


def _expand_heredoc(body: str, st: _State) -> str:
    return "\n".join(expand('"' + line.replace('"', '\\"') + '"', st.vars, st.home).value
                     for line in body.split("\n"))


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
