"""Quote removal and expansion of one raw shell word, as bash would do it, with what is known statically.

`r''m`, `\\rm`, `"rm"` and `$'\\x72m'` all become `rm`. `$VAR`/`${VAR}` expand when the variable is known
(assigned earlier on the line, HOME/PWD, or `$0 $1 … $@` of a `bash -c CODE ARGS`), and so do `$( )` and
backticks whose output the caller could work out (`subs`: `$(echo rm)`). Anything that cannot be known
before the command runs — an unknown variable or substitution, `$(( ))` — becomes the UNKNOWN marker, so
later checks can tell "a path under an unknown directory" from a literal path. Unquoted expansions are
field-split as bash would (`c='rm -rf'; $c /` runs `rm` with two arguments): see `Expanded.fields`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

UNKNOWN = "\ue000"  # stands for text only known when the command runs
_SPLIT = "\ue001"  # a field boundary made by an unquoted expansion (internal to this module)
_BLANKS = re.compile(r"[ \t\n]+")
_SPECIAL_PARAMS = "@*#?$!-"
_SUBSTRING = re.compile(r":\s*(-?[0-9]+)(?::\s*(-?[0-9]+))?")
_BRACE = re.compile(r"\{([^{}\s'\"$`\\]*,[^{}\s'\"$`\\]*)\}")
MAX_BRACE_WORDS = 64
_SPECIAL = re.compile(r"[\\'\"$`~*?\[]")
GLOB_CHARS = frozenset("*?[")

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SIMPLE_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "a": "\a", "b": "\b", "e": "\x1b", "E": "\x1b",
                   "f": "\f", "v": "\v", "\\": "\\", "'": "'", '"': '"', "?": "?"}


@dataclass(frozen=True)
class Expanded:
    """A word after expansion. `glob` says an unquoted `*`, `?` or `[…]` remains; `params` lists `$NAME`s
    used; `fields` the words it becomes after field splitting (just `(value,)` when nothing split it)."""

    value: str
    glob: bool = False
    params: tuple[str, ...] = ()
    fields: tuple[str, ...] = ()

    @property
    def unknown(self) -> bool:
        return UNKNOWN in self.value


def expand(raw: str, variables: Mapping[str, str], home: str, subs: Mapping[str, str] | None = None) -> Expanded:
    """Expand one raw word; `subs` maps a substitution's source text (`$(echo x)`) to its known output.
    Never raises."""
    if not _SPECIAL.search(raw):
        return Expanded(raw, False, (), (raw,))  # most words: nothing to remove or expand
    return _Expander(raw, variables, home, subs or {}).run()


class _Expander:
    def __init__(self, raw: str, variables: Mapping[str, str], home: str, subs: Mapping[str, str]) -> None:
        self.s = raw
        self.i = 0
        self.vars = variables
        self.home = home
        self.subs = subs
        self.out: list[str] = []
        self.glob = False
        self.params: list[str] = []

    def run(self) -> Expanded:
        s = self.s
        if s.startswith("~"):
            self.tilde()
        while self.i < len(s):
            c = s[self.i]
            if c == "\\":
                self.out.append(s[self.i + 1 : self.i + 2])
                self.i += 2
            elif c == "'":
                end = s.find("'", self.i + 1)
                end = len(s) if end < 0 else end
                self.out.append(s[self.i + 1 : end])
                self.i = end + 1
            elif c == '"':
                self.double_quoted()
            elif c == "$":
                self.dollar(quoted=False)
            elif c == "`":
                self.backtick(quoted=False)
            else:
                if c in GLOB_CHARS and (c != "[" or "]" in s[self.i + 2 :]):
                    self.glob = True  # a lone `[` (the test command) is not a bracket expression
                self.out.append(c)
                self.i += 1
        return self.result()

    def result(self) -> Expanded:
        text = "".join(self.out)
        if _SPLIT not in text:
            return Expanded(text, self.glob, tuple(self.params), (text,))
        fields = tuple(f for f in text.split(_SPLIT) if f)
        return Expanded(" ".join(fields), self.glob, tuple(self.params), fields)

    def insert(self, value: str, quoted: bool) -> None:
        """Text an expansion produced; unquoted, its blanks separate fields."""
        self.out.append(value if quoted else _BLANKS.sub(_SPLIT, value))

    def tilde(self) -> None:
        end = self.s.find("/")
        end = len(self.s) if end < 0 else end
        user = self.s[1:end]
        if user == "":
            self.out.append(self.home)
        elif _NAME.fullmatch(user):
            self.out.append("/root" if user == "root" else "/home/" + user)
        else:
            return
        self.i = end

    def double_quoted(self) -> None:
        s = self.s
        self.i += 1
        while self.i < len(s) and s[self.i] != '"':
            c = s[self.i]
            if c == "\\" and s[self.i + 1 : self.i + 2] in ('"', "\\", "$", "`", "\n"):
                self.out.append(s[self.i + 1])
                self.i += 2
            elif c == "$":
                self.dollar(quoted=True)
            elif c == "`":
                self.backtick(quoted=True)
            else:
                self.out.append(c)
                self.i += 1
        self.i += 1

    def backtick(self, quoted: bool) -> None:
        end = self.s.find("`", self.i + 1)
        end = len(self.s) if end < 0 else end + 1
        self.substitution(self.s[self.i : end], quoted)
        self.i = end

    def substitution(self, source: str, quoted: bool) -> None:
        value = self.subs.get(source)
        self.insert(value.rstrip("\n") if value is not None else UNKNOWN, quoted)

    def dollar(self, quoted: bool) -> None:
        s = self.s
        nxt = s[self.i + 1 : self.i + 2]
        if nxt == "'" and not quoted:
            self.ansi_c()
        elif nxt == '"' and not quoted:
            self.i += 1  # $"…" is a translated string: like "…"
        elif nxt == "(":
            end = _skip_balanced(s, self.i + 1, "(", ")")
            if s.startswith("((", self.i + 1):
                self.out.append(UNKNOWN)  # $(( )) arithmetic
            else:
                self.substitution(s[self.i : end], quoted)
            self.i = end
        elif nxt == "{":
            end = _skip_balanced(s, self.i + 1, "{", "}")
            self.braced(s[self.i + 2 : end - 1], quoted)
            self.i = end
        else:
            m = _NAME.match(s, self.i + 1)
            if m:
                self.variable(m.group(), quoted)
                self.i = m.end()
            elif nxt and (nxt.isdigit() or nxt in _SPECIAL_PARAMS):
                self.variable(nxt, quoted)
                self.i += 2
            else:
                self.out.append("$")
                self.i += 1

    def variable(self, name: str, quoted: bool) -> None:
        self.params.append(name)
        self.insert(self.vars.get(name, UNKNOWN), quoted)

    def braced(self, inner: str, quoted: bool) -> None:
        m = _NAME.match(inner) or re.match(r"[0-9]+|[@*#?$!-]", inner)
        if not m:
            self.out.append(UNKNOWN)
            return
        name, rest = m.group(), inner[m.end() :]
        self.params.append(name)
        value = self.vars.get(name)
        if rest == "":
            self.insert(value if value is not None else UNKNOWN, quoted)
        elif rest[:2] in (":-", ":=") or rest[:1] in ("-", "="):
            default = rest[2:] if rest.startswith(":") else rest[1:]
            self.insert(value if value else expand(default, self.vars, self.home, self.subs).value, quoted)
        elif (sub := _SUBSTRING.fullmatch(rest)) and value is not None and UNKNOWN not in value:
            start = int(sub.group(1))  # ${HOME:0:1} is `/`
            length = int(sub.group(2)) if sub.group(2) is not None else len(value)
            self.insert(value[start:][:length] if length >= 0 else value[start:length], quoted)
        else:
            self.out.append(UNKNOWN)

    def ansi_c(self) -> None:
        s = self.s
        i = self.i + 2
        buf: list[str] = []
        while i < len(s) and s[i] != "'":
            if s[i] == "\\" and i + 1 < len(s):
                i, text = _ansi_escape(s, i + 1)
                buf.append(text)
            else:
                buf.append(s[i])
                i += 1
        self.out.append("".join(buf))
        self.i = i + 1


def braces(raw: str) -> list[str]:
    """Brace expansion of a raw word: `/{etc,usr}` → [`/etc`, `/usr`] (lists only, at most 64 words).

    Words with quotes or `${` are left alone: there a brace may be quoted or part of a parameter."""
    if "{" not in raw or "'" in raw or '"' in raw or "${" in raw or "\\" in raw:
        return [raw]
    words = [raw]
    for _ in range(8):
        out: list[str] = []
        for w in words:
            m = _BRACE.search(w)
            if m is None:
                out.append(w)
                continue
            out.extend(w[: m.start()] + alt + w[m.end() :] for alt in m.group(1).split(","))
        if out == words or len(out) > MAX_BRACE_WORDS:
            break
        words = out
    return words


def _ansi_escape(s: str, i: int) -> tuple[int, str]:
    c = s[i]
    if c in _SIMPLE_ESCAPES:
        return i + 1, _SIMPLE_ESCAPES[c]
    if c == "x":
        m = re.match(r"[0-9a-fA-F]{1,2}", s[i + 1 :])
        return (i + 1 + m.end(), chr(int(m.group(), 16))) if m else (i + 1, "\\x")
    if c in "uU":
        m = re.match(r"[0-9a-fA-F]{1,8}", s[i + 1 :])
        if m:
            code = int(m.group(), 16)
            return i + 1 + m.end(), chr(code) if code < 0x110000 else ""
        return i + 1, "\\" + c
    m = re.match(r"[0-7]{1,3}", s[i:])
    if m:
        return i + m.end(), chr(int(m.group(), 8) & 0xFF)
    return i + 1, "\\" + c


def _skip_balanced(s: str, i: int, open_c: str, close_c: str) -> int:
    """Index just past the bracket that closes the one at `i` (quotes respected); len(s) if unclosed."""
    depth = 0
    quote = ""
    while i < len(s):
        c = s[i]
        if quote:
            if c == "\\" and quote == '"':
                i += 1
            elif c == quote:
                quote = ""
        elif c in "'\"":
            quote = c
        elif c == "\\":
            i += 1
        elif c == open_c:
            depth += 1
        elif c == close_c:
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return len(s)
