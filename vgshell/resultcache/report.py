"""`vg cache stats|clear|invalidate|prune`: the result cache inspected and trimmed (SPEC §8)."""

from __future__ import annotations

import os
import re
from typing import Any, TextIO

from vgshell.context import Environment
from vgshell.errors import UsageError
from vgshell.output import table
from vgshell.resultcache.store import Entry, Store
from vgshell.resultcache.strategy import matches
from vgshell.schema import duration_seconds
from vgshell.trust import iso

JSON_VERSION = 1
_SIZE = re.compile(r"([0-9]+)\s*([kmgt]?)i?b?", re.IGNORECASE)
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def parse_size(text: str) -> int:
    """`1G` → 1073741824; `500M`, `64k`, `4096` (bytes). UsageError otherwise."""
    match = _SIZE.fullmatch(text.strip())
    if match is None:
        raise UsageError(f"--max-size must be a size like 500M or 1G; got {text!r}")
    return int(match.group(1)) * _UNITS[match.group(2).lower()]


def parse_age(text: str) -> int:
    seconds = duration_seconds(text)
    if seconds is None:
        raise UsageError(f"--max-age must be a duration like 12h, 7d or 2w; got {text!r}")
    return seconds


def _under(entry: Entry, path: str) -> bool:
    return entry.project == path or entry.project.startswith(path.rstrip("/") + "/")


def stats(store: Store, path: str | None = None) -> dict[str, Any]:
    """`vg cache stats --json`: location, entries, size, hit rate, oldest and newest (of one project tree
    with `path`)."""
    entries = [e for e in store.entries() if path is None or _under(e, path)]
    hits, misses = store.counts("hits", path), store.counts("misses", path)
    by_strategy: dict[str, int] = {}
    for e in entries:
        by_strategy[e.strategy] = by_strategy.get(e.strategy, 0) + 1
    return {
        "version": JSON_VERSION, "location": str(store.root), "path": path, "entries": len(entries),
        "bytes": sum(store.size(e) for e in entries), "files": sum(len(e.writes) for e in entries),
        "hits": hits, "misses": misses,
        "hit_rate": round(100 * hits / (hits + misses), 1) if hits + misses else None,
        "oldest": iso(min((e.created for e in entries), default=None)),
        "newest": iso(max((e.created for e in entries), default=None)),
        "by_strategy": by_strategy,
    }  # fmt: skip


def show_stats(env: Environment, out: TextIO, data: dict[str, Any]) -> None:
    rate = "n/a" if data["hit_rate"] is None else f"{data['hit_rate']:.1f}% ({data['hits']} of " \
                                                  f"{data['hits'] + data['misses']} lookups)"
    rows = [("location", data["location"]), ("entries", str(data["entries"])),
            ("size", _human(data["bytes"])), ("files recorded", str(data["files"])), ("hit rate", rate),
            ("oldest", data["oldest"] or "-"), ("newest", data["newest"] or "-")]
    if data["path"]:
        rows.insert(1, ("project", data["path"]))
    table(env, out, ("RESULT CACHE", ""), rows)


def _human(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def clear(store: Store, command: str | None) -> int:
    """Every entry, or those of one command (normalized, or a glob over it); the number removed."""
    if command is None:
        n = sum(1 for _ in store.entries())
        store.wipe()
        return n
    from vgshell.normalize import normalize

    wanted = normalize(command)
    return store.prune(lambda e: not (e.command == wanted or matches(wanted, e.command)))


def invalidate(store: Store, pattern: str) -> int:
    return store.prune(lambda e: not matches(pattern, e.command))


def prune(store: Store, now: float, max_age: int | None, max_bytes: int | None) -> int:
    n = 0
    if max_age is not None:
        n += store.prune(lambda e: now - e.created <= max_age)
    if max_bytes is not None:
        n += store.evict(max_bytes)
    return n


def run(env: Environment, action: str | None, *, path: str | None = None, command: str | None = None,
        pattern: str | None = None, max_age: str | None = None, max_size: str | None = None) -> dict[str, Any] | str:
    """One `vg cache` action: the stats (a dict) or the line to print."""
    store = Store.at(env.state_dir, env.stderr, env.clock)
    if action == "stats":
        return stats(store, None if path is None else os.path.realpath(os.path.join(env.cwd, path)))
    if action == "clear":
        n = clear(store, command)
    elif action == "invalidate":
        if not pattern:
            raise UsageError("'vg cache invalidate' needs --pattern, e.g. --pattern 'npm:*'")
        n = invalidate(store, pattern)
    elif action == "prune":
        if max_age is None and max_size is None:
            raise UsageError("'vg cache prune' needs --max-age (like 7d) or --max-size (like 1G)")
        n = prune(store, env.clock(), None if max_age is None else parse_age(max_age),
                  None if max_size is None else parse_size(max_size))
    else:
        raise UsageError("'vg cache' needs an action: stats, clear, invalidate or prune")
    return f"removed {n} entr{'ies' if n != 1 else 'y'}"
