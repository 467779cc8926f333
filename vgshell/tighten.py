"""Which way a setting moves the guard: the `Direction` each schema `Key` carries, and the pure checks the
config layers make with it.

A project file (what a clone brings) may only tighten what the layers below it set; the managed file's
values stand unless a lower layer's value is tighter; a managed file that cannot be read leaves every key at
its tightest. All three questions are answered here from the key's direction, never from the key's name.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath

from vgshell.schema import MORE, RANK, SHORTER, UNSET, Key, duration_seconds


@dataclass(frozen=True)
class Context:
    """What a comparison may need besides the two values: every key's value below (for `null_from`), the
    project directory and the home directory (for `inside_project`)."""

    values: Mapping[str, object]
    project_dir: str | None = None
    home: str = "/"


def loosens(key: Key, below: object, value: object, ctx: Context) -> bool:
    """True when `value` for `key` is looser than `below` (the value the layers underneath set)."""
    way = key.tighter
    if way is None:
        return False
    if way.kind == RANK:
        return _rank(key, value, ctx) < _rank(key, below, ctx)
    if way.kind == SHORTER:
        return _seconds(value) > _seconds(below)
    if way.kind == UNSET:
        return value is not None and value != below
    old, new = _items(below), _items(value)
    if way.kind == MORE:
        return any(item not in new for item in old)
    return any(item not in old and not (way.inside_project and _inside(item, ctx)) for item in new)


def tighter_of(key: Key, upper: object, lower: object, ctx: Context) -> object:
    """The value to use when a trusted upper layer (the managed file) set `upper` and the layers below it
    ended at `lower`: `lower` when it is at least as tight, else `upper`; denylist-like lists combine."""
    way = key.tighter
    if way is not None and way.kind == MORE:
        upper_items = _items(upper)
        return upper_items + tuple(item for item in _items(lower) if item not in upper_items)
    if way is None or loosens(key, upper, lower, ctx):
        return upper
    return lower


def tightest(key: Key, below: object, default: object) -> object:
    """The key at its tightest short of breaking commands, for a config that must fail closed: the strictest
    rank, null, and of a widening list only what the built-in default also has."""
    way = key.tighter
    if way is None or way.kind in (MORE, SHORTER):
        return below
    if way.kind == RANK:
        return way.order[-1]
    if way.kind == UNSET:
        return None
    safe = _items(default)
    return tuple(item for item in _items(below) if item in safe)


def _rank(key: Key, value: object, ctx: Context) -> int:
    way = key.tighter
    assert way is not None
    if value is None and way.null_from is not None:
        other, mapping = way.null_from
        value = mapping.get(str(ctx.values.get(other)))
    try:
        return way.order.index(value)
    except ValueError:
        return -1  # a value outside the order (null without `null_from`) counts as the loosest


def _seconds(value: object) -> float:
    if value is None:
        return float("inf")
    seconds = duration_seconds(str(value))
    return float("inf") if seconds is None else seconds


def _items(value: object) -> tuple[object, ...]:
    return tuple(value) if isinstance(value, list | tuple) else ()


def _inside(item: object, ctx: Context) -> bool:
    """An entry `HOST[:CONTAINER]` whose host path stays inside the project directory, symlinks resolved."""
    if ctx.project_dir is None or not isinstance(item, str):
        return False
    host = item.partition(":")[0]
    if not host or host.startswith("~") or ".." in PurePosixPath(host).parts:
        return False
    root = os.path.realpath(ctx.project_dir)
    real = os.path.realpath(os.path.join(ctx.project_dir, host))
    return real == root or real.startswith(root + os.sep)


__all__ = ["Context", "loosens", "tighter_of", "tightest"]
