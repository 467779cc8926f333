"""Fork bombs and runaway spawning, as facts of the walk: a function starting itself in a pipe or the
background (under any name), an endless loop that backgrounds commands and never waits for them
(`while :; do CMD & done`), and the running script started again in the background (`$0 & $0`)."""

from __future__ import annotations

from vgshell.parse import Compound, Function, Node, Pipeline, Sequence, Simple
from vgshell.unwrap.model import Ctx, Invocation

_ENDLESS = frozenset({":", "true", "[ 1 ]", "[[ 1 ]]", "((1))", "(( 1 ))"})
_WAITS = frozenset({"wait", "sleep", "read", "break", "exit", "return", "timeout"})


def runaway_loop(node: Compound) -> bool:
    """`while :; do CMD & done`: an endless loop that backgrounds commands and never waits for them."""
    if node.kind not in ("while", "until") or not node.body:
        return False
    cond = _plain_text(node.body[0])
    endless = cond in _ENDLESS if node.kind == "while" else cond == "false"
    if not endless:
        return False
    names = _command_names(node.body[1:])
    return "&" in _ops(node.body[1:]) and not (names & _WAITS)


def _plain_text(node: Node) -> str:
    while isinstance(node, Sequence) and len(node.items) == 1:
        node = node.items[0]
    return " ".join(w.raw for w in node.words) if isinstance(node, Simple) else ""


def _command_names(nodes: tuple[Node, ...]) -> set[str]:
    found: set[str] = set()
    for n in nodes:
        if isinstance(n, Simple) and n.words:
            found.add(n.words[0].raw)
        for attr in ("items", "stages", "body"):
            found |= _command_names(getattr(n, attr, ()) if not isinstance(n, Function) else ())
    return found


def _ops(nodes: tuple[Node, ...]) -> set[str]:
    found: set[str] = set()
    for n in nodes:
        if isinstance(n, Sequence):
            found.update(n.ops)
            found |= _ops(n.items)
        elif isinstance(n, Compound | Pipeline):
            found |= _ops(n.body if isinstance(n, Compound) else n.stages)
    return found


def self_spawning(inv: Invocation, ctx: Ctx) -> bool:
    """Fork bombs: a function starting itself in a pipe or the background; anything backgrounded in an
    endless loop that never waits; the running script (`$0`) started again in the background."""
    if ctx.function is not None and ctx.spawning and inv.name == ctx.function:
        return True
    if ctx.runaway and ctx.background:
        return True
    return ctx.spawning and inv.hidden_name[:1] in (("$0",), ("${0}",), ("$BASH_SOURCE",))
