"""Quote removal and expansion of one raw shell word, as bash would do it, with what is known statically.

`r''m`, `\\rm`, `"rm"` and `$'\\x72m'` all become `rm`. `$VAR`/`${VAR}` expand when the variable is known
(assigned earlier on the line, HOME/PWD, or `$0 $1 … $@` of a `bash -c CODE ARGS`), and so do `$( )` and
backticks whose output the caller could work out (`subs`: `$(echo rm)`). Anything that cannot be known
before the command runs — an unknown variable or substitution, `$(( ))` — becomes the UNKNOWN marker, so
later checks can tell "a path under an unknown directory" from a literal path. Unquoted expansions are
field-split on `$IFS` as bash would (`c='rm -rf'; $c /` runs `rm` with two arguments; so does
`IFS=,; c=rm,-rf; $c /`): see `Expanded.fields`.

Arrays (`a=(rm -rf /)`, `"${a[@]}"`, `"$@"`) are values made with `array()`; a name reference
(`declare -n r=c`) is a value made with `nameref()`. Parameter transformations (`${c,,}`, `${c^^}`,
`${c%x}`, `${c#x}`, `${c/z/}`, `${c:1:2}`, `${c@U}`, `${!ref}`, `${#c}`) are applied to known values.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache

from vgshell.globpattern import Token, glob_tokens, prefix_matches, replace_matches, spend

UNKNOWN = "\ue000"  # stands for text only known when the command runs
_SPLIT = "\ue001"  # a field boundary made by an unquoted expansion (internal to this module)
_ARRAY = "\ue002"  # starts an array value and separates its elements
_NAMEREF = "\ue003"  # starts the value of a name reference: the name it refers to
DEFAULT_IFS = " \t\n"
MAX_PATTERN_VALUE = 4096  # ${c%pat} on longer values is not worked out (see globpattern: a budget per line)
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


def array(items: list[str] | tuple[str, ...]) -> str:
    """The value of an array variable holding `items` (`a=(rm -rf /)`)."""
    return _ARRAY + _ARRAY.join(items)


def array_items(value: str) -> list[str]:
    """The elements of a value: an array's items, or a scalar as a one-element array."""
    return value[1:].split(_ARRAY) if value.startswith(_ARRAY) else [value]


def nameref(target: str) -> str:
    """The value of `declare -n NAME=target`: reads and writes of NAME go to `target`."""
    return _NAMEREF + target


def lookup(variables: Mapping[str, str], name: str) -> str | None:
    """The value of `name`, following name references (a few hops: a cycle is unknown)."""
    value = variables.get(name)
    for _ in range(8):
        if value is None or not value.startswith(_NAMEREF):
            return value
        value = variables.get(value[1:])
    return UNKNOWN


def scalar(value: str) -> str:
    """`$a` of an array is its first element."""
    return array_items(value)[0] if value.startswith(_ARRAY) else value


def expand(raw: str, variables: Mapping[str, str], home: str, subs: Mapping[str, str] | None = None) -> Expanded:
    """Expand one raw word; `subs` maps a substitution's source text (`$(echo x)`) to its known output.
    Never raises."""
    if not _SPECIAL.search(raw):
        return Expanded(raw, False, (), (raw,))  # most words: nothing to remove or expand
    if len(raw) > 1 and raw[0] == raw[-1] and raw[0] in "'\"" and not _SPECIAL.search(raw, 1, len(raw) - 1):
        return Expanded(raw[1:-1], False, (), (raw[1:-1],))  # "plain text" or 'plain text'
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
        """Text an expansion produced; unquoted, the characters of `$IFS` in it separate fields."""
        if quoted:
            self.out.append(value)
            return
        ifs = self.vars.get("IFS", DEFAULT_IFS)
        self.out.append(_ifs_splitter(ifs)(value) if ifs else value)

    def insert_items(self, items: list[str], quoted: bool) -> None:
        """`"${a[@]}"`, `"$@"`: one field per element, quoted or not."""
        for k, item in enumerate(items):
            if k:
                self.out.append(_SPLIT)
            self.insert(item, quoted)

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

    def note(self, name: str, indirect: bool = False) -> None:
        """Record a parameter used; one reached through `declare -n` or `${!x}` also as `!name`."""
        self.params.append(name)
        if indirect or self.vars.get(name, "").startswith(_NAMEREF):
            self.params.append("!" + name)

    def variable(self, name: str, quoted: bool) -> None:
        self.note(name)
        value = lookup(self.vars, "@" if name == "*" else name)
        if value is None:
            self.insert(UNKNOWN, quoted)
        elif name == "@" or (name == "*" and not quoted):
            self.insert_items(array_items(value), quoted)
        elif name == "*":
            self.insert(self.vars.get("IFS", DEFAULT_IFS)[:1].join(array_items(value)), quoted)
        else:
            self.insert(scalar(value), quoted)

    def braced(self, inner: str, quoted: bool) -> None:
        """`${…}`: a parameter, an array element, then at most one operator applied to the known value."""
        count = inner.startswith("#") and len(inner) > 1
        indirect = inner.startswith("!") and len(inner) > 1
        body = inner[1:] if count or indirect else inner
        m = _PARAM.match(body)
        if not m:
            self.out.append(UNKNOWN)
            return
        name, subscript, rest = m.group(1), m.group(2), body[m.end():]
        self.note(name, indirect)
        value = lookup(self.vars, "@" if name == "*" else name)
        if indirect:
            if subscript is not None or rest or value is None or not _NAME.fullmatch(scalar(value)):
                self.out.append(UNKNOWN)  # ${!a[@]}, ${!prefix*}: keys and names, not values
                return
            name, value = scalar(value), lookup(self.vars, scalar(value))
        items = self.subscripted(value, subscript, name)
        if count:
            known = items is not None and all(UNKNOWN not in i for i in items)
            whole = subscript in ("@", "*")
            self.insert(str(len(items) if whole else len(items[0])) if known and items else UNKNOWN, quoted)
            return
        if rest[:2] in (":-", ":=") or rest[:1] in ("-", "="):
            default = rest[2:] if rest.startswith(":") else rest[1:]
            if items is None or (rest.startswith(":") and not "".join(items)):
                items = [expand(default, self.vars, self.home, self.subs).value]
        elif rest[:2] == ":+" or rest[:1] == "+":
            alternative = rest[2:] if rest.startswith(":") else rest[1:]
            unset = items is None or (rest.startswith(":") and not "".join(items))
            items = [""] if unset else [expand(alternative, self.vars, self.home, self.subs).value]
        elif rest[:2] == ":?" or rest[:1] == "?":
            pass
        elif rest and items is not None and (subscript in ("@", "*") or name in ("@", "*")) and \
                (sub := _SUBSTRING.fullmatch(rest)):
            items = _slice(items, sub, name in ("@", "*"))  # `${@:2}`, `${a[@]:1:2}`: elements, not characters
        elif rest and items is not None:
            changed = [_transform(i, rest, self.vars, self.home) for i in items]
            items = [c for c in changed if c is not None] if None not in changed else None
        if items is None:
            self.out.append(UNKNOWN)
        elif subscript == "@" or (subscript is None and name == "@") or (
                not quoted and (subscript == "*" or (subscript is None and name == "*"))):
            self.insert_items(items, quoted)
        else:
            self.insert(self.vars.get("IFS", DEFAULT_IFS)[:1].join(items), quoted)

    def subscripted(self, value: str | None, subscript: str | None, name: str) -> list[str] | None:
        """The elements `${name[subscript]}` stands for; None when not known."""
        if value is None:
            return None
        items = array_items(value)
        if subscript is None:
            return [items[0]] if name not in "@*" else items
        if subscript in ("@", "*"):
            return items
        index = expand(subscript, self.vars, self.home).value.strip()
        if not re.fullmatch(r"-?[0-9]+", index):
            return None
        k = int(index)
        return [items[k]] if -len(items) <= k < len(items) else [""]

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


_PARAM = re.compile(r"([A-Za-z_][A-Za-z0-9_]*|[0-9]+|[@*#?$!-])(?:\[([^\]]*)\])?")


def _slice(items: list[str], sub: re.Match[str], positional: bool) -> list[str]:
    """`${@:OFF:LEN}` counts from `$0` (so `${@:1}` is all of `$@`); `${a[@]:OFF:LEN}` from element 0."""
    start = int(sub.group(1)) - (1 if positional and int(sub.group(1)) > 0 else 0)
    chosen = items[start:]
    return chosen[: int(sub.group(2))] if sub.group(2) is not None else chosen


@lru_cache(maxsize=16)
def _ifs_splitter(ifs: str) -> Callable[[str], str]:
    pattern = re.compile("[" + re.escape(ifs) + "]+")
    return lambda value: pattern.sub(_SPLIT, value)


def _transform(value: str, op: str, variables: Mapping[str, str], home: str) -> str | None:
    """`value` after one `${name OP}` operator; None when the result cannot be known."""
    if op[:1] == ":" and (sub := _SUBSTRING.fullmatch(op)):
        if UNKNOWN in value:
            return None
        start = int(sub.group(1))
        length = int(sub.group(2)) if sub.group(2) is not None else len(value)
        return value[start:][:length] if length >= 0 else value[start:length]
    if op in (",,", ",", "^^", "^", "~~", "~") or (op[:1] in ",^~" and op[1:2] not in ",^~"):
        return _case(value, op)
    if op[:1] == "@" and len(op) == 2:
        return _at_operator(value, op[1])
    if op[:1] in "#%/" and UNKNOWN not in value and len(value) <= MAX_PATTERN_VALUE:
        return _pattern_operator(value, op, variables, home)
    return None


def _case(value: str, op: str) -> str:
    """`${c,,}` lower, `${c^^}` upper, `${c~~}` toggle; a single sign applies to the first character.
    A pattern after the sign (`${c^^[rm]}`) is read as "every character": the stronger case."""
    whole = op[:2] in (",,", "^^", "~~")
    change: Callable[[str], str] = {",": str.lower, "^": str.upper, "~": str.swapcase}[op[0]]
    return change(value) if whole else change(value[:1]) + value[1:]


def _at_operator(value: str, letter: str) -> str | None:
    if letter in "UuL":
        return {"U": value.upper(), "L": value.lower(), "u": value[:1].upper() + value[1:]}[letter]
    if letter == "E":
        return expand("$'" + value.replace("'", "\\'") + "'", {}, "/").value
    if letter == "Q":
        return "'" + value.replace("'", "'\\''") + "'"
    return None


def _pattern_operator(value: str, op: str, variables: Mapping[str, str], home: str) -> str | None:
    """`${c#p}` `${c##p}` `${c%p}` `${c%%p}` remove a matching prefix/suffix; `${c/p/r}` `${c//p/r}`
    `${c/#p/r}` `${c/%p/r}` replace. `p` is a glob (after its own expansion), matched by a small automaton
    in time linear in the value (a backtracking regex could be made to take seconds)."""
    if op[0] in "#%":
        longest = op[:2] in ("##", "%%")
        tokens = _glob_tokens(op[2:] if longest else op[1:], variables, home)
        if tokens is None or not spend(len(value) * (len(tokens) + 1)):
            return None
        if op[0] == "#":
            ends = prefix_matches(value, tokens)
            return value[(max(ends) if longest else min(ends)):] if ends else value
        ends = prefix_matches(value[::-1], tokens[::-1])
        return value[: len(value) - (max(ends) if longest else min(ends))] if ends else value
    every = op.startswith("//")
    anchor = op[1] if op[1:2] in ("#", "%") else ""
    body = op[2:] if every or anchor else op[1:]
    pat_text, _, replacement = _split_unescaped(body, "/")
    tokens = _glob_tokens(pat_text, variables, home)
    if tokens is None or not tokens:
        return None if tokens is None else value
    n = len(value)
    if not spend(n * (n if "*" in tokens else 1) * (len(tokens) + 1)):
        return None  # past the line's budget for pattern matching: the result is unknown
    rep = expand(replacement, variables, home).value
    return replace_matches(value, tokens, rep, every, anchor)


def _glob_tokens(pattern: str, variables: Mapping[str, str], home: str) -> list[Token] | None:
    """The glob of a `${c#p}`/`${c/p/r}` as tokens, after its own expansion; None when it holds unknown text."""
    text = expand(pattern, variables, home).value if pattern else ""
    return None if UNKNOWN in text else glob_tokens(text)


def _split_unescaped(text: str, sep: str) -> tuple[str, str, str]:
    i = 0
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == sep:
            return text[:i], sep, text[i + 1 :]
        i += 1
    return text, "", ""


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
