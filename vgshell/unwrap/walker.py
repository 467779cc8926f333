"""The walk over a parsed Script: structure, simple commands, wrappers and shells given code."""

from __future__ import annotations

import os.path
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, replace

from vgshell.expand import DEFAULT_IFS, UNKNOWN, Expanded, braces, expand
from vgshell.globpattern import pattern_budget
from vgshell.parse import Compound, Function, Node, Pipeline, Script, Sequence, Simple, Word, parse
from vgshell.unwrap.argv import (
    ASSIGNMENT,
    PROGRAM_NAME,
    bare,
    fed_by,
    names_in,
    resolve,
    shell_code,
    split_words,
    strip_options,
    tail_words,
)
from vgshell.unwrap.carriers import NAMES as CARRIER_NAMES
from vgshell.unwrap.carriers import walk_carried
from vgshell.unwrap.code import interpreter
from vgshell.unwrap.handlers import HANDLERS
from vgshell.unwrap.model import (
    MAX_LOOP_VALUES,
    MAX_NESTING,
    STATE_BUILTINS,
    SYSTEM_BIN,
    Ctx,
    Files,
    Invocation,
    State,
)
from vgshell.unwrap.outputs import OUTPUT_PROGRAMS, with_outputs
from vgshell.unwrap.scripts import PACKAGE_RUNNERS, data_lines, run_file, run_package_scripts
from vgshell.unwrap.spawning import runaway_loop, self_spawning
from vgshell.unwrap.text import expand_heredoc, script_output, static_output, sub_outputs
from vgshell.unwrap.variables import assign, assignment_value, set_positional
from vgshell.wrappers import COMMAND_VARIABLES, GIT_COMMAND_KEYS, SHELLS, WRAPPERS, interpreter_key


@dataclass(frozen=True)
class Flattened:
    invocations: tuple[Invocation, ...]
    errors: tuple[str, ...]  # parse failures, here or in nested code
    state_change: bool  # the line only changes the shell's own state (cd, export, alias…), nothing else


def flatten(script: Script, cwd: str | None, home: str, env: Mapping[str, str] | None = None,
            files: Files | None = None) -> Flattened:
    """All Invocations of `script` run from `cwd`, with `env` holding the variables known to be set.
    `files` lets the walk read the scripts the line runs and expand globbed program names; without it
    nothing is read."""
    variables = {"HOME": home, "IFS": DEFAULT_IFS}
    if cwd:
        variables["PWD"] = cwd
    variables.update(env or {})
    walker = Walker(files)
    walker.start = cwd
    with pattern_budget():
        walker.script(script, State(cwd, variables, home), Ctx())
    return Flattened(tuple(walker.out), tuple(walker.errors), walker.state_change and not walker.runs_other)


MAX_STEPS = 10_000  # a 200-line script is ≈ 500 syntax nodes; past this the rest is a blind spot (medium)
MAX_PARSES = 400
MAX_GLOBS = 16  # program names written as globs expanded against the file system, per line


class Walker:
    def __init__(self, files: Files | None = None) -> None:
        self.files = files
        self.reads = 0  # files read so far (a script walk that read others is not reused)
        self.steps = 0  # syntax nodes walked: bounded, so no line can make the analysis slow
        self.parses = 0  # code handed to a shell (bash -c, eval, aliases…) parsed: bounded likewise
        self.globs = 0
        self.out: list[Invocation] = []
        self.errors: list[str] = []
        self.state_change = False
        self.runs_other = False
        self.start: str | None = None  # the line's starting directory (the project)

    # ------------------------------------------------------------------ structure

    def script(self, script: Script, st: State, ctx: Ctx) -> None:
        if script.error:
            self.errors.append(script.error)
        for node in script.body:
            self.node(node, st, ctx)

    def text(self, code: str, st: State, ctx: Ctx, how: str, line: int | None = None) -> None:
        """Parse and walk code that some command will run (bash -c, eval, ssh, heredoc to a shell…); `line`:
        the line of the script file it is written on (a trap body), which its commands are marked with."""
        if ctx.depth >= MAX_NESTING:
            self.errors.append(f"code nested more than {MAX_NESTING} levels deep")
            return
        self.parses += 1
        if self.parses > MAX_PARSES:
            if self.parses == MAX_PARSES + 1:
                self.errors.append(f"more than {MAX_PARSES} pieces of code to follow: the rest was not analysed")
            return
        script = parse(code)
        if line is not None:
            from vgshell.unwrap.scripts import at_line

            script = at_line(script, line)
        self.script(script, st, ctx.deeper(how))

    def node(self, node: Node, st: State, ctx: Ctx) -> None:
        self.steps += 1
        if self.steps > MAX_STEPS:
            if self.steps == MAX_STEPS + 1:  # loops, functions and aliases calling each other fan out
                self.errors.append(f"more than {MAX_STEPS} commands to follow: the rest was not analysed")
            return
        if isinstance(node, Simple):
            self.simple(node, st, ctx)
        elif isinstance(node, Pipeline):
            self.pipeline(node, st, ctx)
        elif isinstance(node, Sequence):
            plain = replace(ctx, background=False) if ctx.background else ctx
            for item, op in zip(node.items, node.ops, strict=True):
                self.node(item, st, replace(ctx, spawning=True, background=True) if op == "&" else plain)
        elif isinstance(node, Compound):
            inner = st.copy() if node.kind == "subshell" else st
            if runaway_loop(node):
                ctx = replace(ctx, runaway=True)
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
            if not ctx.child:  # a child shell's functions cannot touch this shell (or its hook)
                self.emit(Invocation(("()", node.name), st.cwd, home=st.home), ctx)
            runs_other = self.runs_other  # the body is judged now but runs only when called
            self.node(node.body, st.copy(), replace(ctx, function=node.name))
            self.runs_other = runs_other

    def loop_values(self, node: Compound, st: State) -> list[str]:
        """The values a `for x in A B` body is walked with (once each); other compounds are walked once."""
        if node.variable is None:
            return [""]
        values = [f for w in node.words for raw in braces(w.raw) for f in self.expand(w, st, raw).fields]
        return values if values and len(values) <= MAX_LOOP_VALUES else [UNKNOWN]

    def pipeline(self, node: Pipeline, st: State, ctx: Ctx) -> None:
        names: list[str] = []
        text: str | None = ctx.stdin_text
        single = len(node.stages) == 1
        piped: list[str] = list(ctx.piped_in)
        for k, stage in enumerate(node.stages):
            sub = replace(ctx, upstream=ctx.upstream + tuple(names), stdin_text=text,
                          spawning=ctx.spawning or not single, piped_in=tuple(piped),
                          downstream=tuple(names_in(node.stages[k + 1 :])) if not single else ctx.downstream)
            before = len(self.out)
            self.node(stage, st if single else st.copy(), sub)
            stage_out = self.out[before:]
            if not single:
                piped.extend(_reads(stage_out))
            names.extend(i.name for i in stage_out if i.name and all(v in WRAPPERS for v in i.via[len(ctx.via):]))
            text = static_output(stage, st, text)
            if text is None and stage_out and stage_out[0].argv[:1] == ("cat",) and len(stage_out[0].argv) == 2 \
                    and _feeds_a_shell(node.stages[k + 1 :]):
                text = self.file_text(stage_out[0].argv[1], st)  # `cat FILE | sh` runs FILE's text

    def redirect_subs(self, node: Simple | Compound, st: State, ctx: Ctx) -> None:
        for r in node.redirects:
            if r.target is not None:
                self.word_subs(r.target, st, ctx)

    def word_subs(self, word: Word, st: State, ctx: Ctx, into_variables: bool = False) -> None:
        how = "<( )" if word.process_subs else "$( ) into variables" if into_variables else "$( )"
        for sub in word.subs:
            if ctx.depth >= MAX_NESTING:
                self.errors.append(f"substitutions nested more than {MAX_NESTING} levels deep")
                return
            self.script(sub, st.copy(), replace(ctx.deeper(how), upstream=(), stdin_text=None))

    # ------------------------------------------------------------------ simple commands

    def simple(self, node: Simple, st: State, ctx: Ctx) -> None:
        if node.words and _ELEMENT_ASSIGNMENT.match(node.words[0].raw):
            node = _peel_element_assignments(node)  # bashlex reads `a[0]=rm` as a command word
        for _, value in node.assigns:
            self.word_subs(value, st, ctx)
        # `export $(grep -v '^#' .env | xargs)`: what the substitution prints goes into this shell's variables
        into = bool(node.words) and node.words[0].raw in _SETS_VARIABLES
        for w in node.words:
            self.word_subs(w, st, ctx, into_variables=into)
        self.redirect_subs(node, st, ctx)
        assigns = tuple(name for name, _ in node.assigns)
        self.command_variables(node.assigns, st, ctx, node.words)
        if not node.words and not node.assigns and ctx.via[-1:] in (("$( )",), ("$( ) into variables",)):
            self.file_reads(node, st, ctx)  # `$(<FILE)` prints FILE
            return
        if not node.words:
            for name, value in node.assigns:
                assign(st, name, assignment_value(value.raw, value, self, st))
            redirects, _ = self.redirects(node, st, ctx)  # `> /etc/passwd` alone empties the file
            if not ctx.child or redirects:
                self.emit(Invocation(("=",), st.cwd, redirects, assigns=assigns, home=st.home,
                                     where=f"{ctx.source}:{node.line}" if ctx.source else None), ctx)
            return
        # one (argument, word it came from) per field: `$c /` with c='rm -rf' is three arguments, and
        # `/{etc,usr}` two
        expanded = [(self.expand(w, st, raw), w) for w in node.words for raw in braces(w.raw)]
        fields = [(f, w) for e, w in expanded for f in (e.fields if not ASSIGNMENT.match(w.raw) else (e.value,))]
        if not fields:
            return
        redirects, stdin_text = self.redirects(node, st, ctx)
        self.note_written(node, redirects, st, ctx)
        argv = tuple(f for f, _ in fields)
        if st.links:
            argv = (argv[0], *(st.through_links(a) for a in argv[1:]))
        if len(argv[0]) > 1 and argv[0][0] == "=" and PROGRAM_NAME.match(argv[0][1:]):
            argv = (argv[0][1:], *argv[1:])  # zsh: `=rm` runs the rm found on PATH
        params = tuple(p for e, _ in expanded for p in e.params)
        glob_name = expanded[0][0].glob
        hidden = (bare(fields[0][1].raw),) if argv[0].startswith(UNKNOWN) else ()
        if any(p.startswith("!") for p in expanded[0][0].params):
            hidden = ("!" + bare(fields[0][1].raw),)  # named through `declare -n` or `${!x}`
        ctx = replace(ctx, stdin_text=stdin_text) if stdin_text is not None else ctx
        base = Invocation(argv, st.cwd, redirects, assigns, params, upstream=ctx.upstream, stdin_text=ctx.stdin_text,
                          via=ctx.via, privileged=ctx.privileged, remote=ctx.remote, home=st.home,
                          glob_name=glob_name, hidden_name=hidden,
                          where=f"{ctx.source}:{node.line}" if ctx.source else None)
        prefix_path = next((v for name, v in node.assigns if name == "PATH"), None)
        if prefix_path is not None and (st.made or st.links):  # `PATH=.:$PATH ls` after `ln -s /bin/rm ls`
            scoped = st.copy()
            scoped.vars["PATH"] = self.expand(prefix_path, st).value
            base = _same_program(base, scoped)
        prefix_ifs = next((v for name, v in node.assigns if name == "IFS"), None)
        if prefix_ifs is not None and base.name in ("read", "mapfile", "readarray"):
            saved = st.vars.get("IFS")  # `IFS=, read a b`: the assignment holds for that command only
            st.vars["IFS"] = self.expand(prefix_ifs, st).value
            self.command(base, st, ctx, [w for _, w in fields])
            st.vars["IFS"] = saved if saved is not None else DEFAULT_IFS
            return
        self.command(base, st, ctx, [w for _, w in fields])

    def file_text(self, path: str, st: State) -> str | None:
        """The text of a file a command prints (`cat FILE`), written earlier on the line or read from disk."""
        target = resolve(path, st.cwd)
        if target in st.written:
            return st.written[target]
        lines = data_lines(self, path, st)
        return "\n".join(lines) + "\n" if lines is not None else None

    def file_reads(self, node: Simple, st: State, ctx: Ctx) -> None:
        redirects, _ = self.redirects(node, st, ctx)
        for op, target in redirects:
            if op == "<":
                self.command(Invocation(("cat", target), st.cwd, home=st.home), st, ctx.deeper("$(<FILE)"), [])

    def expand(self, w: Word, st: State, raw: str | None = None) -> Expanded:
        return expand(w.raw if raw is None else raw, st.vars, st.home, sub_outputs(w, st))

    def command_variables(self, assigns: tuple[tuple[str, Word], ...], st: State, ctx: Ctx,
                          words: tuple[Word, ...] | list[Word] = ()) -> None:
        """`PROMPT_COMMAND=…`, `GIT_SSH_COMMAND=…`: variables whose value some program runs as a command; and
        `X=CMD git --config-env=core.pager=X`, where the command names the variable that carries one."""
        raw = " ".join(w.raw for w in words) if assigns else ""
        named = {m.group(2) for m in _CONFIG_ENV.finditer(raw) if GIT_COMMAND_KEYS.fullmatch(m.group(1))}
        for name, value in assigns:
            if name in COMMAND_VARIABLES or name in named:
                self.text(self.expand(value, st).value.replace(UNKNOWN, ""), st.copy(), ctx, f"${name}")

    def redirects(self, node: Simple, st: State, ctx: Ctx) -> tuple[tuple[tuple[str, str], ...], str | None]:
        out: list[tuple[str, str]] = []
        stdin_text: str | None = None
        for r in node.redirects:
            if r.op in ("<<", "<<-") and r.heredoc is not None:
                body = r.heredoc if r.heredoc_quoted else expand_heredoc(r.heredoc, st)
                stdin_text = body
            elif r.op == "<<<" and r.target is not None:
                stdin_text = self.expand(r.target, st).value + "\n"
            elif r.op == "<" and r.target is not None and r.target.process_subs and r.target.subs:
                stdin_text = script_output(r.target.subs[0], st)  # `read c < <(echo rm)`: known output
                out.append((r.op, UNKNOWN))
            elif r.target is not None:
                target = self.expand(r.target, st).value
                out.append((r.op, resolve(target, st.cwd) if not target.isdigit() else target))
        return tuple(out), stdin_text

    def command(self, inv: Invocation, st: State, ctx: Ctx, words: list[Word]) -> None:
        """Emit `inv` and everything it runs, seeing through wrappers."""
        spawning = self_spawning(inv, ctx)
        if (inv.via, inv.privileged, inv.remote, inv.upstream, inv.stdin_text, inv.self_spawning, inv.downstream,
                inv.piped_in) != (ctx.via, ctx.privileged, ctx.remote, ctx.upstream, ctx.stdin_text, spawning,
                                  ctx.downstream, ctx.piped_in):
            inv = replace(inv, via=ctx.via, privileged=ctx.privileged, remote=ctx.remote, upstream=ctx.upstream,
                          stdin_text=ctx.stdin_text, self_spawning=spawning, downstream=ctx.downstream,
                          piped_in=ctx.piped_in)
        if st.made or st.links:
            inv = _same_program(inv, st)
        if "/" in inv.argv[0] and self.files is not None and UNKNOWN not in inv.argv[0] and not ctx.remote:
            inv = self.identified(inv, st)
        if inv.name in OUTPUT_PROGRAMS:
            inv = with_outputs(inv)
        name = inv.name
        if any(c in inv.argv[0] for c in "*?[") and self.files is not None and "glob" not in ctx.via[-1:]:
            self.globbed_name(inv, st, ctx, words)
        if name in st.aliases and inv.via[-1:] != (f"alias {name}",):
            self.emit(inv, ctx)
            line = st.aliases[name] + " " + " ".join(shlex.quote(a) for a in inv.args)
            self.text(line, st, ctx, f"alias {name}")
            return
        if name in st.functions and name not in ctx.calls and name == inv.argv[0]:
            self.call(inv, st, ctx)
            return
        if name in CARRIER_NAMES:
            walk_carried(self, inv, st, ctx)
        if name in PACKAGE_RUNNERS:
            run_package_scripts(self, inv, st, ctx)
        spec = WRAPPERS.get(name)
        if spec is not None and len(inv.argv) > 1:
            self.emit(inv, ctx)
            self.wrapper(inv, st, ctx, spec, words)
            return
        handler = HANDLERS.get(name)
        if handler is not None:
            handler(self, inv, st, ctx, words)
            return
        if name in SHELLS:
            self.shell(inv, st, ctx, words)
            return
        key = interpreter_key(name)
        if key is not None:
            interpreter(self, inv, key, st, ctx, words)
            return
        self.plain(inv, st, ctx)

    def identified(self, inv: Invocation, st: State) -> Invocation:
        """`./safe -rf ~` where ./safe is a copy of (or link to) rm made before the line: judged as rm."""
        path = resolve(inv.argv[0], st.cwd)
        identity = getattr(self.files, "identity", None)
        if identity is None or os.path.dirname(path) in SYSTEM_BIN:  # `/usr/bin/python3` is itself
            return inv
        real = identity(path)
        if real is None or os.path.basename(real) == inv.name:
            return inv
        return replace(inv, argv=(real, *inv.args))

    def globbed_name(self, inv: Invocation, st: State, ctx: Ctx, words: list[Word]) -> None:
        """`/???/r? -rf /`: the program name is a glob; judge every program it names on this machine."""
        assert self.files is not None
        self.globs += 1
        if self.globs > MAX_GLOBS:
            self.errors.append(f"more than {MAX_GLOBS} program names written as globs: not expanded")
            return
        for match in self.files.glob(resolve(inv.argv[0], st.cwd))[:8]:
            self.command(replace(inv, argv=(match, *inv.args), glob_name=True), st, ctx.deeper("glob"), [])

    def call(self, inv: Invocation, st: State, ctx: Ctx) -> None:
        """A function defined on the line, called with arguments: its body runs with them as `$1 … $@`."""
        if not ctx.child:  # in a script's child shell, the call is the script's own code, judged in the body
            self.emit(inv, ctx)
        inner = st.copy()
        set_positional(inner, list(inv.args))
        body = st.functions[inv.name]
        self.node(body, inner, replace(ctx.deeper(f"function {inv.name}"), calls=(*ctx.calls, inv.name)))

    def plain(self, inv: Invocation, st: State, ctx: Ctx) -> None:
        target = resolve(inv.argv[0], st.cwd) if "/" in inv.argv[0] else None
        if target is not None and target in st.downloaded:
            inv = replace(inv, runs_downloaded=True)
        self.emit(inv, ctx)  # a function's body was walked where it was defined
        if target is not None and not self.written_script(target, st, ctx, inv.name):
            run_file(self, inv.argv[0], st.copy(), ctx, inv.argv[0], inv, executed=True)
        elif inv.argv[0].startswith(UNKNOWN) and "/" not in inv.argv[0]:
            self.maybe_shell(inv, st, ctx)

    def maybe_shell(self, inv: Invocation, st: State, ctx: Ctx) -> None:
        """`$SHELL -c CODE`, `… | $X`: a program we cannot name may be a shell; judge what it would run."""
        code, _ = shell_code(list(inv.args))
        if code:
            self.text(code.replace(UNKNOWN, ""), st.copy(), ctx, "-c of an unknown command")
        elif ctx.stdin_text is not None and not inv.args:
            self.text(ctx.stdin_text, st.copy(), replace(ctx, stdin_text=None), "stdin of an unknown command")

    def written_script(self, path: str, st: State, ctx: Ctx, name: str) -> bool:
        """Walk a file written with known text earlier on the line (`echo CODE > x.sh; sh x.sh`)."""
        text = st.written.get(path)
        if text is not None:
            self.text(text, st.copy(), ctx, f"{name} {os.path.basename(path)}")
        return text is not None

    def note_written(self, node: Simple, redirects: tuple[tuple[str, str], ...], st: State, ctx: Ctx) -> None:
        targets = [(op, t) for op, t in redirects if op in (">", ">|", ">>", "&>", "&>>")]
        tee = "tee" in node.words[0].raw
        if not targets and not tee:
            return
        args = [expand(w.raw, st.vars, st.home).value for w in node.words]
        if tee and ctx.stdin_text is None and os.path.basename(args[0]) == "tee":
            for a in args[1:]:  # `cat .x.sh | tee c.sh`: what it writes is known only when it runs
                if not a.startswith("-"):
                    st.made[resolve(a, st.cwd)] = ""
            return
        if tee and os.path.basename(args[0]) == "tee":
            text: str | None = ctx.stdin_text
            append = any(a in ("-a", "--append") for a in args)
            targets += [(">>" if append else ">", resolve(a, st.cwd)) for a in args[1:] if not a.startswith("-")]
        elif targets:
            text = static_output(node, st, ctx.stdin_text)
        else:
            return
        copies = args[1] if len(args) == 2 and os.path.basename(args[0]) == "cat" and UNKNOWN not in args[1] else ""
        for op, target in targets:
            if text is not None:
                st.written[target] = (st.written.get(target, "") if op.endswith(">>") else "") + text
            else:
                st.written.pop(target, None)  # unknown content now
                st.made[target] = resolve(copies, st.cwd) if copies and op in (">", ">|") else ""

    def emit(self, inv: Invocation, ctx: Ctx) -> None:
        if inv.cwd != self.start and self.start is not None:  # `cd .. && rm -rf build` leaves the project
            inv = replace(inv, project=self.start)
        if not ctx.via:
            if inv.name in STATE_BUILTINS or inv.argv[0] in ("=", "()"):  # assignments, function definitions
                self.state_change = True
            elif inv.name not in ("=", "true", ":"):
                self.runs_other = True
        self.out.append(inv)

    # ------------------------------------------------------------------ wrappers

    def wrapper(self, inv: Invocation, st: State, ctx: Ctx, spec: object, words: list[Word]) -> None:
        from vgshell.wrappers import WrapperSpec  # typing only

        assert isinstance(spec, WrapperSpec)
        name = inv.name
        args = list(inv.args)
        if name in ("busybox", "toybox") or (name == "command" and args[:1] == ["-v"] and len(args) == 2):
            rest = args
            if name == "command":
                return
        else:
            rest, chdir, split = strip_options(args, replace(spec, operands=0) if spec.subcommand else spec)
            if spec.subcommand:  # `uv run CMD`: only that subcommand runs a command
                if not rest or rest[0] not in spec.subcommand:
                    return
                rest, _, _ = strip_options(rest[1:], spec)
            if chdir is not None:
                st = st.copy()
                st.cwd = resolve(chdir, st.cwd)
            if split is not None:
                rest, _, _ = strip_options(split_words(split) + rest, spec)
        if name == "coproc" and rest[1:2] in (["{"], ["("]):
            rest = rest[1:]  # `coproc NAME { …; }`
        if name == "sudo" and not rest and any(a in ("-i", "-s", "--login", "--shell") for a in args):
            rest = ["bash"]
        if not rest:
            return
        sub = ctx.deeper(name, privileged=ctx.privileged or spec.privileged)
        new = replace(inv, argv=tuple(rest), assigns=inv.assigns, cwd=st.cwd)
        self.command(new, st, sub, tail_words(words, inv.argv, rest))

    # ------------------------------------------------------------------ shells and code

    def shell(self, inv: Invocation, st: State, ctx: Ctx, words: list[Word]) -> None:
        args = list(inv.args)
        code, positional = shell_code(args)
        if code is not None:
            self.emit(replace(inv, code=code, fed_by=fed_by(words, ctx)), ctx)
            inner = st.copy()
            set_positional(inner, positional[1:])
            inner.vars["0"] = positional[0] if positional else inv.name
            self.text(code, inner, ctx, f"{inv.name} -c")
            return
        operands = _shell_operands(args)
        if operands:
            script = resolve(operands[0], st.cwd)
            self.emit(replace(inv, runs_downloaded=script in st.downloaded, fed_by=fed_by(words, ctx)), ctx)
            if not self.written_script(script, st, ctx, inv.name) and \
                    self.process_sub_code(words, st, ctx, inv.name) is None:
                inner = st.copy()
                set_positional(inner, operands[1:])
                run_file(self, operands[0], inner, ctx, f"{inv.name} {operands[0]}", inv)
            return
        # no code and no script: the shell runs its stdin; text we cannot know is a blind spot
        redirected = next((target for op, target in inv.redirects if op == "<"), None)
        if redirected is not None and UNKNOWN not in redirected:  # `sh < x.sh` runs the file
            self.emit(replace(inv, fed_by=fed_by(words, ctx)), ctx)
            if not self.written_script(redirected, st, ctx, inv.name):
                run_file(self, redirected, st.copy(), ctx, f"{inv.name} < {redirected}", inv)
            return
        unseen = ("stdin",) if ctx.stdin_text is None and ctx.upstream else ()
        self.emit(replace(inv, fed_by=fed_by(words, ctx), unseen=unseen), ctx)
        if ctx.stdin_text is not None:
            self.text(ctx.stdin_text, st.copy(), replace(ctx, stdin_text=None), f"stdin of {inv.name}")

    def process_sub_code(self, words: list[Word], st: State, ctx: Ctx, name: str) -> str | None:
        """Walk the known text of a `<( )` given as the script to run (`bash <(echo CODE)`); return it."""
        for w in words[1:2] if name in ("source", ".") else words[1:]:
            if w.process_subs and w.subs:
                text = script_output(w.subs[0], st)
                if text is not None:
                    self.text(text, st.copy(), ctx, f"{name} <( )")
                return text
        return None



_SETS_VARIABLES = frozenset({"export", "declare", "typeset", "readonly", "local"})
_CONFIG_ENV = re.compile(r"--config-env[= ]['\"]?([\w.-]+)=(\w+)")
_ELEMENT_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\[[^\]]*\]\+?=")


def _peel_element_assignments(node: Simple) -> Simple:
    words = list(node.words)
    assigns = list(node.assigns)
    while words and (m := _ELEMENT_ASSIGNMENT.match(words[0].raw)):
        w = words.pop(0)
        name = m.group()[:-1]
        assigns.append((name, Word(w.raw[m.end():], w.subs, w.process_subs)))
    return Simple(tuple(assigns), tuple(words), node.redirects, node.line)


def _same_program(inv: Invocation, st: State) -> Invocation:
    """A program copied or linked earlier on the line keeps its identity: `cp /bin/rm ./safe; ./safe -rf ~`
    runs rm, as does `ln -s /bin/rm ./ls; PATH=.:$PATH ls -rf ~`."""
    name = inv.argv[0]
    if UNKNOWN in name:
        return inv
    if "/" in name:
        candidates = [resolve(name, st.cwd)]
    else:
        path = st.vars.get("PATH", "")
        candidates = [resolve(os.path.join(d or ".", name), st.cwd) for d in path.split(":")
                      if d and UNKNOWN not in d and not d.startswith("/usr") and d not in ("/bin", "/sbin")]
    for c in candidates:
        source = st.links.get(c) or st.made.get(c)
        if source and os.path.basename(source) != os.path.basename(name):
            return replace(inv, argv=(source, *inv.args))
        if source:
            return inv
    return inv


def _feeds_a_shell(stages: tuple[Node, ...]) -> bool:
    """A later pipeline stage is a shell, written plainly (`| sh`, `| sudo bash`): only then is a file's
    text worth reading for what it would run."""
    for s in stages:
        if isinstance(s, Simple) and s.words:
            first = [os.path.basename(w.raw) for w in s.words[:3]]
            if any(f in SHELLS for f in first):
                return True
    return False


_SHELL_VALUED = frozenset({"-o", "+o", "-O", "+O", "--rcfile", "--init-file"})


def _shell_operands(args: list[str]) -> list[str]:
    """`bash -o pipefail -x run.sh a b` → [run.sh, a, b]: the script and its arguments, option values skipped."""
    i = 0
    while i < len(args):
        a = args[i]
        if a == "-" or (a.startswith("-") and not a.startswith("--") and "s" in a[1:] and a not in _SHELL_VALUED):
            return []  # `sh -`, `bash -s ARGS`: the commands come from stdin, ARGS are `$1 …`
        if a == "--":
            return args[i + 1 :]
        if not a.startswith(("-", "+")) or a == "+":
            return args[i:]
        i += 2 if a in _SHELL_VALUED else 1
    return []


def _reads(invocations: list[Invocation]) -> list[str]:
    """What a pipeline stage reads and passes on: its file operands, input redirections and $VARIABLES."""
    out: list[str] = []
    for inv in invocations:
        out.extend(resolve(a, inv.cwd) for a in inv.args if a and not a.startswith("-") and UNKNOWN not in a)
        out.extend(t for op, t in inv.redirects if op == "<")
        out.extend("$" + p for p in inv.params)
    return out[:64]
