"""Shell glob patterns (`*`, `?`, `[a-z]`, `[!x]`) matched by a small automaton: the patterns of `${c#p}`,
`${c%%p}`, `${c/p/r}`. One pass per start position, states = positions in the pattern, so the time is
linear in the text (a backtracking regex could be made to take seconds); and one budget of steps per
analysed line (`pattern_budget`), so no input, however many patterns it holds, makes the analysis slow."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

MAX_PATTERN_TOKENS = 32
PATTERN_STEPS = 200_000  # automaton steps one line may spend on ${c#p} ${c/p/r}… (≈ 0.1 s at worst)
_BUDGET: ContextVar[list[int] | None] = ContextVar("vgshell_pattern_budget", default=None)


@contextmanager
def pattern_budget(steps: int = PATTERN_STEPS) -> Iterator[None]:
    """Share one budget of pattern-matching steps among all expansions of a line (see `flatten`), so no
    input, however many `${c//*a*/x}` it holds, makes the analysis slow."""
    token = _BUDGET.set([steps])
    try:
        yield
    finally:
        _BUDGET.reset(token)


def spend(steps: int) -> bool:
    budget = _BUDGET.get()
    if budget is None:
        return steps <= PATTERN_STEPS
    budget[0] -= steps
    return budget[0] >= 0
Token = str | frozenset[str] | tuple[frozenset[str], bool]


def glob_tokens(text: str) -> list[Token] | None:
    """A glob as tokens: a character, `?` (any one), `*` (any run), or a bracket set (chars, negated).
    None when it is too long to be worth matching."""
    found: list[Token] = []
    i = 0
    while i < len(text):
        c = text[i]
        end = text.find("]", i + 2) if c == "[" else -1
        if c == "[" and end > 0:
            body = text[i + 1 : end]
            negated = body[:1] in ("!", "^")
            found.append((frozenset(_bracket_chars(body[1:] if negated else body)), negated))
            i = end + 1
            continue
        if c != "*" or found[-1:] != ["*"]:  # `**` is `*`
            found.append(c)
        i += 1
    return found if len(found) <= MAX_PATTERN_TOKENS else None


def _bracket_chars(body: str) -> set[str]:
    chars: set[str] = set()
    i = 0
    while i < len(body):
        if i + 2 < len(body) and body[i + 1] == "-" and ord(body[i + 2]) - ord(body[i]) < 256:
            chars.update(chr(o) for o in range(ord(body[i]), ord(body[i + 2]) + 1))
            i += 3
        else:
            chars.add(body[i])
            i += 1
    return chars


def _closure(states: set[int], tokens: list[Token]) -> set[int]:
    out = set(states)
    for s in sorted(states):
        while s < len(tokens) and tokens[s] == "*":
            s += 1
            out.add(s)
    return out


def _accepts(token: Token, c: str) -> bool:
    if isinstance(token, tuple):
        return (c in token[0]) != token[1]
    return token == "?" or token == c


def prefix_matches(value: str, tokens: list[Token], start: int = 0) -> list[int]:
    """Every length k such that the glob matches value[start:start+k] (one pass, states = token positions)."""
    states = _closure({0}, tokens)
    found = [0] if len(tokens) in states else []
    for k, c in enumerate(value[start:], start=1):
        nxt: set[int] = set()
        for s in states:
            if s < len(tokens):
                if tokens[s] == "*":
                    nxt.add(s)
                elif _accepts(tokens[s], c):
                    nxt.add(s + 1)
        states = _closure(nxt, tokens)
        if not states:
            break
        if len(tokens) in states:
            found.append(k)
    return found


def replace_matches(value: str, tokens: list[Token], rep: str, every: bool, anchor: str) -> str:
    """Bash's replacement: at each position the longest (non-empty) match of the glob is replaced."""
    n = len(value)
    if anchor == "#":
        ends = [k for k in prefix_matches(value, tokens) if k]
        return rep + value[max(ends):] if ends else value
    if anchor == "%":
        ends = [k for k in prefix_matches(value[::-1], tokens[::-1]) if k]
        return value[: n - max(ends)] + rep if ends else value
    out: list[str] = []
    i = 0
    while i < n:
        ends = [k for k in prefix_matches(value, tokens, i) if k]
        if not ends:
            out.append(value[i])
            i += 1
            continue
        out.append(rep)
        i += max(ends)
        if not every:
            break
    return "".join(out) + value[i:]
