"""What the result cache may record and replay, and for how long (SPEC §8): pure functions of the config,
the judged line and what the run did.

smart (the default while `enable_cache` is on): lines tied to a package ecosystem, whose inputs the key
knows (manifests, lock files), for `cache_ttl` (3600 s); a changed input is a new key, so a miss.
aggressive: any sandboxed line, 86400 s, inputs left out of the key (`cache_invalidation: manual`): only
the TTL and `vg cache invalidate|clear|prune` end an entry. conservative: 300 s, and only runs that wrote
nothing (`cache_readonly_only`). off: nothing.

Never recorded, whatever the strategy: host runs (the cache only sees sandboxed runs), interactive runs
(keyboard input reached the command, or its stdin was a pipe or a file), failures (unless `cache_failures`),
timeouts, lines with effects outside the project and the package caches (a writable mount elsewhere, a
publish, push, deploy or remote copy), and lines matching `never_cache`.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

from vgshell.configtypes import SandboxConfig
from vgshell.schema import STRATEGY_TTL

# Lines whose effects leave the machine or the project: a replay would skip them, so they are never recorded.
# Shell globs over the normalised line; data, a new effect is a new row.
EFFECTS: tuple[str, ...] = (
    "* publish *", "* unpublish *", "* deprecate *", "* dist-tag *", "* owner *", "* access *", "* login *",
    "* adduser *", "* token *", "* twine upload *", "* gem push *", "* git push *", "* docker push *",
    "* podman push *", "* kubectl *", "* helm *", "* terraform *", "* pulumi *", "* ansible*", "* scp *",
    "* rsync *", "* ssh *", "* sftp *", "* curl *", "* wget *", "*deploy*", "* aws *", "* gcloud *", "* az *",
    "* gh *", "* sudo *",
)  # fmt: skip


@dataclass(frozen=True)
class Policy:
    """The effective result-cache settings. strategy: smart | aggressive | conservative | off."""

    strategy: str
    ttl: int = 0
    manual: bool = False
    readonly_only: bool = False
    cache_failures: bool = False
    never: tuple[str, ...] = ()
    env_names: tuple[str, ...] = ()
    max_bytes: int | None = None

    @property
    def on(self) -> bool:
        return self.strategy != "off"


def policy(sb: SandboxConfig) -> Policy:
    strategy = sb.cache_strategy or ("smart" if sb.enable_cache else "off")
    if strategy == "off":
        return Policy("off")
    invalidation = sb.cache_invalidation or ("manual" if strategy == "aggressive" else "auto")
    return Policy(strategy, sb.cache_ttl or STRATEGY_TTL[strategy], invalidation == "manual",
                  sb.cache_readonly_only or strategy == "conservative", sb.cache_failures, sb.never_cache,
                  sb.cache_key_env, sb.cache_max_mb * 1024 * 1024)


def refuse_line(p: Policy, line: str, ecosystems: tuple[str, ...], outside_writable: tuple[str, ...]) -> str | None:
    """Why this line is not looked up or recorded (None: it may be), decided before it runs."""
    if not p.on:
        return "the result cache is off"
    for pattern in p.never:
        if fnmatch.fnmatchcase(line, pattern):
            return f"it matches never_cache {pattern!r}"
    for pattern in EFFECTS:
        if fnmatch.fnmatchcase(f" {line} ", pattern):
            return "it has effects outside the project"
    if outside_writable:
        return f"it may write outside the project ({outside_writable[0]})"
    if p.strategy == "smart" and not ecosystems:
        return "smart caches package-manager lines only (their inputs are known)"
    return None


def refuse_result(p: Policy, *, status: int, interactive: bool, wrote: bool, timed_out: bool = False) -> str | None:
    """Why this finished run is not recorded (None: it is)."""
    if timed_out:
        return "it timed out"
    if interactive:
        return "it was interactive"
    if status != 0 and not p.cache_failures:
        return f"it failed (exit {status})"
    if wrote and p.readonly_only:
        return "it wrote files and only read-only commands are cached"
    if not wrote and not p.readonly_only:  # an install that found everything in place: replaying nothing
        return "it wrote nothing (its result rests on what earlier runs left)"  # would not restore that
    return None


def fresh(p: Policy, created: float, now: float) -> bool:
    """Within the TTL (an entry from the future, a clock set back, is not trusted)."""
    return created <= now < created + p.ttl


def outside_writable(mounts: tuple[tuple[str, bool, bool], ...], workdir: str,
                     binds: tuple[str, ...]) -> tuple[str, ...]:
    """Host paths the sandbox may write besides the working directory and the package caches: directories
    the line cds into and writable `bind_mounts`. `mounts`: (host path, read_only, line) of each mount."""
    lines = tuple(h for h, ro, line in mounts if line and not ro and h != workdir)
    return tuple(dict.fromkeys((*lines, *binds)))


def matches(pattern: str, command: str) -> bool:
    """`vg cache invalidate --pattern`: `TOOL:GLOB` matches a command whose first word is TOOL and whose
    rest matches GLOB (`npm:*`, `pip:install *`); anything else is a glob over the whole command."""
    tool, colon, rest = pattern.partition(":")
    if colon and tool and " " not in tool:
        first, _, tail = command.partition(" ")
        return first == tool and fnmatch.fnmatchcase(tail, rest or "*")
    return fnmatch.fnmatchcase(command, pattern)
