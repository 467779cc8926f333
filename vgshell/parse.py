"""bash text → frozen syntax values.

bashlex is the first parser; where it cannot parse valid bash (`[[ ]]`, `case`, `$(( ))`, arrays, `time`,
`select`, `coproc`, …) tree-sitter-bash takes over. Both are turned into the same small set of frozen values,
so the rest of vgshell never sees a parser's own nodes.

Words are kept as their *raw* source text (quotes and all) plus the command/process substitutions found in
them; quote removal and expansion happen later, in `vgshell.expand`, where the variables are known.
"""

from __future__ import annotations

import bisect
import re
import sys
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Union

MAX_BASHLEX_CHARS = 20_000  # bashlex is slow on huge input and recursive; tree-sitter is not
MAX_DEPTH = 60  # nesting beyond this is not what people type: treat it as unparseable


@dataclass(frozen=True)
class Word:
    """One shell word as written (`raw`), with the scripts of its `$( )`, backticks and `<( )` (`subs`)."""

    raw: str
    subs: tuple[Script, ...] = ()
    process_subs: bool = False  # True when `subs` come from `<( )` / `>( )`


@dataclass(frozen=True)
class Redirect:
    """A redirection: `op` is `>`, `>>`, `<`, `<<`, `<<<`, `>&`, `&>`, `<>`, `>|`…; `fd` the descriptor if given."""

    op: str
    target: Word | None
    fd: int | None = None
    heredoc: str | None = None  # the body of a here-document
    heredoc_quoted: bool = False  # `<<'EOF'`: the body is not expanded


@dataclass(frozen=True)
class Simple:
    """A simple command: leading assignments, the words (argv before expansion) and redirections."""

    assigns: tuple[tuple[str, Word], ...]
    words: tuple[Word, ...]
    redirects: tuple[Redirect, ...] = ()
    line: int = field(default=0, compare=False)  # 1-based line in the parsed text (0: not known)


@dataclass(frozen=True)
class Pipeline:
    stages: tuple[Node, ...]
    negated: bool = False


@dataclass(frozen=True)
class Sequence:
    """Commands run one after another; `ops[i]` follows `items[i]` (`;`, `&`, `&&`, `||`, or `` at the end)."""

    items: tuple[Node, ...]
    ops: tuple[str, ...]


@dataclass(frozen=True)
class Compound:
    """`( )` subshell, `{ }` group, if/for/while/until/case/select, `[[ ]]` and `(( ))`.

    `body` holds the lists inside; `words` the words of headers (`for x in WORDS`, `case WORD`, tests);
    `variable` the loop variable of `for`/`select` (None for `for ((…))`).
    """

    kind: str
    body: tuple[Node, ...]
    words: tuple[Word, ...] = ()
    redirects: tuple[Redirect, ...] = ()
    variable: str | None = None


@dataclass(frozen=True)
class Function:
    name: str
    body: Node


Node = Union[Simple, Pipeline, Sequence, Compound, Function]  # noqa: UP007 - used at runtime


@dataclass(frozen=True)
class Script:
    """A parsed line or script. `error` is set when no parser could read it all."""

    body: tuple[Node, ...]
    source: str
    parser: str
    error: str | None = None
    warnings: tuple[str, ...] = field(default=())


_PLAIN_WORDS = re.compile(r"[ \t]*[A-Za-z0-9_][A-Za-z0-9_./:@%+,-]*([ \t]+[A-Za-z0-9_./:@%+,-]+)*[ \t]*")


# reserved words that open or close a compound command: a line of plain words starting with one needs a parser
_RESERVED = frozenset(("if", "then", "else", "elif", "fi", "do", "done", "case", "esac", "while", "until", "for",
                       "select", "function", "in"))
_MISPLACED = frozenset(("then", "else", "elif", "fi", "do", "done", "esac"))  # never the first word of a command


class _TooDeep(Exception):
    pass


def parse(text: str) -> Script:
    """Parse bash `text`. Never raises: a failure gives a Script with `error` set and what could be read."""
    text = text.replace("\x00", "")
    if not text.strip():
        return Script((), text, "none")
    if _PLAIN_WORDS.fullmatch(text) and text.split()[0] not in _RESERVED:
        # Only plain words: bash would split on blanks and nothing else; no parser is needed.
        words = tuple(Word(w) for w in text.split())
        return Script((Simple((), words, (), 1),), text, "words")
    if len(text) <= MAX_BASHLEX_CHARS and text.count("$(") + text.count("`") < 100:
        try:
            return _BashlexConverter(text).script()
        except (_TooDeep, RecursionError):
            return Script((), text, "bashlex", "nested too deeply to analyse")
        except Exception:  # bashlex raises many types; tree-sitter gets its turn
            pass
    try:
        return _TreeSitterConverter(text).script()
    except (_TooDeep, RecursionError):
        return Script((), text, "tree-sitter", "nested too deeply to analyse")


def parse_file(text: str) -> Script:
    """Parse a script file: tree-sitter-bash alone (a C parser: a 200-line script in a few ms, where
    bashlex takes several times longer and fails on common script idioms). Never raises."""
    text = text.replace("\x00", "")
    if not text.strip():
        return Script((), text, "none")
    try:
        return _TreeSitterConverter(text).script()
    except (_TooDeep, RecursionError):
        return Script((), text, "tree-sitter", "nested too deeply to analyse")


# --------------------------------------------------------------------------------------------- bashlex


class _BashlexConverter:
    def __init__(self, text: str) -> None:
        self.text = text
        self._newlines: list[int] | None = None

    def script(self) -> Script:
        import bashlex  # 120 ms of parser tables: load only when parsing

        old = sys.getrecursionlimit()
        sys.setrecursionlimit(max(old, 4000))
        try:
            trees = bashlex.parse(self.text)
        finally:
            sys.setrecursionlimit(old)
        body = tuple(self.node(t, 0) for t in trees)
        return Script(body, self.text, "bashlex")

    def node(self, n: Any, depth: int) -> Node:
        if depth > MAX_DEPTH:
            raise _TooDeep
        kind = n.kind
        if kind == "command":
            return self.simple(n, depth)
        if kind == "pipeline":
            stages = tuple(self.node(p, depth + 1) for p in n.parts if p.kind not in ("pipe", "reservedword"))
            negated = any(p.kind == "reservedword" and p.word == "!" for p in n.parts)
            return Pipeline(stages, negated)
        if kind == "list":
            return self.sequence(n.parts, depth)
        if kind == "compound":
            return self.compound(n, depth)
        if kind == "function":
            name = next(p.word for p in n.parts if p.kind == "word")  # skips the `function` keyword
            body = next(p for p in n.parts if p.kind == "compound")
            return Function(name, self.compound(body, depth + 1))
        if kind in ("if", "for", "while", "until"):
            return self.control(n, kind, depth)
        raise ValueError(f"unsupported bashlex node {kind}")

    def sequence(self, parts: list[Any], depth: int) -> Sequence:
        items: list[Node] = []
        ops: list[str] = []
        for p in parts:
            if p.kind == "operator":
                if ops:
                    ops[-1] = p.op
            else:
                items.append(self.node(p, depth + 1))
                ops.append("")
        return Sequence(tuple(items), tuple(ops))

    def compound(self, n: Any, depth: int) -> Compound:
        parts = n.list
        opener = parts[0].word if parts and parts[0].kind == "reservedword" else ""
        body = tuple(self.node(p, depth + 1) for p in parts if p.kind not in ("reservedword", "operator"))
        redirects = tuple(self.redirect(r, depth) for r in getattr(n, "redirects", []) or [])
        if len(body) == 1 and isinstance(body[0], Compound) and opener not in ("(", "{"):
            first = body[0]
            return Compound(first.kind, first.body, first.words, first.redirects + redirects, first.variable)
        return Compound("subshell" if opener == "(" else "group", body, (), redirects)

    def control(self, n: Any, kind: str, depth: int) -> Compound:
        body: list[Node] = []
        words: list[Word] = []
        for p in n.parts:
            if p.kind == "word":
                words.append(self.word(p, depth))
            elif p.kind not in ("reservedword", "operator"):
                body.append(self.node(p, depth + 1))
        if kind == "for" and words and not words[0].raw.startswith("(("):
            return Compound(kind, tuple(body), tuple(words[1:]), (), words[0].raw)
        return Compound(kind, tuple(body), tuple(words))

    def simple(self, n: Any, depth: int) -> Simple:
        assigns: list[tuple[str, Word]] = []
        words: list[Word] = []
        redirects: list[Redirect] = []
        for p in n.parts:
            if p.kind == "assignment" and not words:
                name, _, _ = p.word.partition("=")
                raw = self.raw(p)
                assigns.append((name, Word(raw.partition("=")[2], self.subs(p, depth))))
            elif p.kind in ("word", "assignment"):
                words.append(self.word(p, depth))
            elif p.kind == "redirect":
                redirects.append(self.redirect(p, depth))
        return Simple(tuple(assigns), tuple(words), tuple(redirects), self.line(n.pos[0]))

    def line(self, offset: int) -> int:
        if self._newlines is None:
            self._newlines = [i for i, c in enumerate(self.text) if c == "\n"]
        return bisect.bisect_left(self._newlines, offset) + 1

    def raw(self, p: Any) -> str:
        start, end = p.pos
        return self.text[start:end]

    def word(self, p: Any, depth: int) -> Word:
        subs = self.subs(p, depth)
        is_proc = any(q.kind == "processsubstitution" for q in getattr(p, "parts", []) or [])
        return Word(self.raw(p), subs, is_proc)

    def subs(self, p: Any, depth: int) -> tuple[Script, ...]:
        found: list[Script] = []
        for q in getattr(p, "parts", []) or []:
            if q.kind in ("commandsubstitution", "processsubstitution"):
                inner = self.node(q.command, depth + 1)
                found.append(Script((inner,), self.raw(q), "bashlex"))
            elif getattr(q, "parts", None):
                found.extend(self.subs(q, depth + 1))
        return tuple(found)

    def redirect(self, r: Any, depth: int) -> Redirect:
        fd = r.input if isinstance(getattr(r, "input", None), int) else None
        out = r.output
        target = self.word(out, depth) if getattr(out, "kind", None) == "word" else None
        if target is None and isinstance(out, int):
            target = Word(str(out))
        heredoc = getattr(r, "heredoc", None)
        body = heredoc.value if heredoc is not None else None
        if body is not None and target is not None:
            body = _strip_heredoc_end(body, target.raw)
        quoted = bool(target and any(c in target.raw for c in "'\"\\"))
        return Redirect(r.type, target, fd, body, quoted)


def _strip_heredoc_end(body: str, delimiter: str) -> str:
    delim = delimiter.strip("'\"\\").lstrip("-")
    lines = body.split("\n")
    if lines and lines[-1].strip() == delim:
        lines = lines[:-1]
    return "\n".join(lines) + ("\n" if lines else "")


# ----------------------------------------------------------------------------------------- tree-sitter


@lru_cache(maxsize=1)
def _ts_parser() -> Any:
    import tree_sitter_bash
    from tree_sitter import Language, Parser

    return Parser(Language(tree_sitter_bash.language()))


_SEPARATORS = {";", "&", "&&", "||", "\n", ";;", "|&"}
_SUB_TYPES = {"command_substitution", "process_substitution"}
_COMPOUND_KINDS = {
    "subshell": "subshell",
    "compound_statement": "group",
    "if_statement": "if",
    "while_statement": "while",
    "for_statement": "for",
    "c_style_for_statement": "for",
    "case_statement": "case",
    "test_command": "test",
    "arithmetic_expansion": "arith",
}


class _TreeSitterConverter:
    def __init__(self, text: str) -> None:
        self.text = text
        self.data = text.encode("utf-8", "surrogateescape")
        self.errors: list[str] = []

    def script(self) -> Script:
        tree = _ts_parser().parse(self.data)
        root = tree.root_node
        body = self.statements(list(root.children), 0)
        error = None
        if root.has_error:
            error = "could not parse: " + self.first_error(root)
        elif self.errors:
            error = "could not parse: " + self.errors[0]
        return Script(body, self.text, "tree-sitter", error)

    def first_error(self, root: Any) -> str:
        stack = [root]
        while stack:
            n = stack.pop()
            if n.type == "ERROR" or n.is_missing:
                line = n.start_point[0] + 1
                return f"syntax error near {self.src(n)[:30]!r} (line {line})"
            stack.extend(reversed(n.children))
        return "syntax error"

    def src(self, n: Any) -> str:
        return self.data[n.start_byte : n.end_byte].decode("utf-8", "surrogateescape")

    def statements(self, children: list[Any], depth: int) -> tuple[Node, ...]:
        seq = self.sequence(children, depth)
        return (seq,) if seq.items else ()

    def sequence(self, children: list[Any], depth: int) -> Sequence:
        items: list[Node] = []
        ops: list[str] = []
        for c in children:
            if c.type in _SEPARATORS:
                if ops:
                    ops[-1] = c.type
                continue
            node = self.node(c, depth + 1)
            if node is not None:
                items.append(node)
                ops.append("")
        return Sequence(tuple(items), tuple(ops))

    def node(self, n: Any, depth: int) -> Node | None:
        if depth > MAX_DEPTH:
            raise _TooDeep
        t = n.type
        if t == "command":
            return self.simple(n, depth)
        if t in ("declaration_command", "unset_command"):
            keyword = () if not n.children or n.children[0].is_named else (Word(self.src(n.children[0])),)
            words = tuple(self.word(c, depth) for c in n.named_children)
            return Simple((), keyword + words, (), n.start_point[0] + 1)
        if t in ("variable_assignment", "variable_assignments"):
            return self.assignment_only(n, depth)
        if t == "redirected_statement":
            return self.redirected(n, depth)
        if t == "pipeline":
            stages = tuple(s for c in n.named_children if (s := self.node(c, depth + 1)) is not None)
            return Pipeline(stages)
        if t == "negated_command":
            inner = [s for c in n.named_children if (s := self.node(c, depth + 1)) is not None]
            return Pipeline(tuple(inner), negated=True)
        if t == "list":
            return self.sequence(list(n.children), depth)
        if t == "function_definition":
            name_node = n.child_by_field_name("name")
            body_node = n.child_by_field_name("body")
            body = self.node(body_node, depth + 1) if body_node is not None else None
            return Function(self.src(name_node) if name_node else "?", body or Sequence((), ()))
        if t in _COMPOUND_KINDS:
            return self.compound(n, _COMPOUND_KINDS[t], depth)
        if t in ("comment", "heredoc_body", "heredoc_end", "heredoc_start"):
            return None
        if t == "ERROR" or n.named_child_count:
            seq = self.sequence(list(n.children), depth)
            return seq if seq.items else None
        return None

    def compound(self, n: Any, kind: str, depth: int) -> Compound:
        body: list[Node] = []
        words: list[Word] = []
        for c in n.named_children:
            if c.type in ("do_group", "compound_statement", "else_clause", "elif_clause", "case_item"):
                body.extend(self.statements(list(c.children), depth + 1))
            elif c.type in ("word", "string", "raw_string", "concatenation", "simple_expansion", "expansion"):
                words.append(self.word(c, depth))
            else:
                sub = self.node(c, depth + 1)
                if sub is not None:
                    body.append(sub)
                words.extend(Word(self.src(s), (self.subscript(s, depth),)) for s in self.find_subs(c))
        variable = n.child_by_field_name("variable") if n.type == "for_statement" else None
        return Compound(kind, tuple(body), tuple(words), (), self.src(variable) if variable is not None else None)

    def assignment_only(self, n: Any, depth: int) -> Simple:
        nodes = [n] if n.type == "variable_assignment" else list(n.named_children)
        assigns = tuple(self.assign(a, depth) for a in nodes if a.type == "variable_assignment")
        return Simple(assigns, (), (), n.start_point[0] + 1)

    def assign(self, a: Any, depth: int) -> tuple[str, Word]:
        name_node = a.child_by_field_name("name")
        value = a.child_by_field_name("value")
        raw = self.src(value) if value is not None else ""
        subs = tuple(self.subscript(s, depth) for s in self.find_subs(a))
        name = self.src(name_node) if name_node else ""
        if self.data[name_node.end_byte : name_node.end_byte + 2] == b"+=" if name_node else False:
            name += "+"  # `a+=(x)` appends
        return (name, Word(raw, subs))

    def simple(self, n: Any, depth: int) -> Simple:
        assigns: list[tuple[str, Word]] = []
        words: list[Word] = []
        redirects: list[Redirect] = []
        for c in n.named_children:
            if c.type == "variable_assignment":
                assigns.append(self.assign(c, depth))
            elif c.type in ("file_redirect", "herestring_redirect", "heredoc_redirect"):
                redirects.append(self.redirect(c, depth))
            elif c.type != "comment":
                words.append(self.word(c, depth))
        if words and words[0].raw in _MISPLACED:
            # tree-sitter reads a stray `done`/`fi` as a command; bash refuses the line
            self.errors.append(f"syntax error near unexpected token {words[0].raw!r}")
        return Simple(tuple(assigns), tuple(words), tuple(redirects), n.start_point[0] + 1)

    def redirected(self, n: Any, depth: int) -> Node | None:
        body_node = n.child_by_field_name("body")
        body = self.node(body_node, depth + 1) if body_node is not None else Simple((), (), ())
        redirects: list[Redirect] = []
        tail: list[Node] = []
        for c in n.named_children:
            if c.type in ("file_redirect", "herestring_redirect", "heredoc_redirect"):
                redirects.append(self.redirect(c, depth))
                # tree-sitter puts `cat <<EOF | bash` / `<<EOF && x` continuations inside the heredoc node
                tail.extend(s for k in c.named_children if k.type in ("pipeline", "list", "command")
                            if (s := self.node(k, depth + 1)) is not None)
        if isinstance(body, Simple):
            body = Simple(body.assigns, body.words, body.redirects + tuple(redirects), body.line)
        elif isinstance(body, Compound):
            body = Compound(body.kind, body.body, body.words, body.redirects + tuple(redirects))
        if not tail or body is None:
            return body
        first = tail[0]
        if isinstance(first, Pipeline):
            return Pipeline((body, *first.stages))
        if isinstance(first, Simple):
            return Pipeline((body, first))
        return Sequence((body, first), ("&&", ""))

    def redirect(self, c: Any, depth: int) -> Redirect:
        op = ""
        fd: int | None = None
        target: Word | None = None
        heredoc: str | None = None
        quoted = False
        for k in c.children:
            if k.type == "file_descriptor":
                fd = int(self.src(k)) if self.src(k).isdigit() else None
            elif not k.is_named:
                op = op or k.type
            elif k.type == "heredoc_start":
                target = Word(self.src(k))
                quoted = any(ch in target.raw for ch in "'\"\\")
            elif k.type == "heredoc_body":
                heredoc = self.src(k)
            elif k.type not in ("heredoc_end", "pipeline", "list", "command"):
                target = self.word(k, depth)
        return Redirect(op, target, fd, heredoc, quoted)

    def word(self, n: Any, depth: int) -> Word:
        raw = self.src(n)
        if "$(" not in raw and "`" not in raw and "(" not in raw:
            return Word(raw)  # no substitution can hide in it: skip the walk over its nodes
        subs = self.find_subs(n)
        scripts = tuple(self.subscript(s, depth) for s in subs)
        return Word(raw, scripts, any(s.type == "process_substitution" for s in subs))

    def find_subs(self, n: Any) -> list[Any]:
        found: list[Any] = []
        stack = list(reversed(n.children))
        while stack:
            c = stack.pop()
            if c.type in _SUB_TYPES:
                found.append(c)
            else:
                stack.extend(reversed(c.children))
        return found

    def subscript(self, s: Any, depth: int) -> Script:
        inner = [c for c in s.children if c.is_named]
        return Script(self.statements(inner, depth + 1), self.src(s), "tree-sitter")
