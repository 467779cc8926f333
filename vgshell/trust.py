"""The trust store (SPEC §6): commands a human approved and asked to remember.

`~/.vectra-guard/trust.json` (0600, in the 0700 state dir), versioned:

    {"version": 1, "entries": [{"command": "npm test", "sha256": "…", "approved_at": "2024-05-01T12:00:00Z",
      "approved_by": "alice via prompt", "expires_at": null, "use_count": 3, "last_used": "…", "note": ""}]}

Entries are keyed by the sha256 of the normalized command (`vgshell.normalize`), so `npm  test` and
`npm test` are one entry. Every change takes a file lock (filelock) and replaces the file atomically (temp file
in the same directory, fsync, rename), so shells adding, using and removing at once never lose an entry.
Reading takes no lock: a reader sees the old file or the new one, never half of one.

A file that is not a valid store — not JSON, the wrong shape, an unknown version, readable by others — is
reported in one line, moved aside to `trust.json.bad-<UTC time>` and treated as empty: nothing is trusted.

`TrustIndex.lookup` is what the analysis calls for every command: one `stat`, and the parsed file is reused
for as long as its (inode, size, mtime) stay the same, so a long-lived analyzer sees other shells' changes.
filelock is imported only for writing.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TextIO

from vgshell.errors import VgError
from vgshell.normalize import command_hash, normalize
from vgshell.statefile import locked, move_aside, write_atomic

FORMAT_VERSION = 1
FIELDS = ("command", "sha256", "approved_at", "approved_by", "expires_at", "use_count", "last_used", "note")


class TrustError(VgError):
    topic = "trust"


@dataclass(frozen=True)
class Entry:
    """One remembered approval. Times are seconds since the epoch (UTC ISO-8601 on disk)."""

    command: str  # normalized
    sha256: str
    approved_at: float
    approved_by: str
    expires_at: float | None = None
    use_count: int = 0
    last_used: float | None = None
    note: str = ""

    def expired(self, now: float) -> bool:
        return self.expires_at is not None and now >= self.expires_at

    def to_json(self) -> dict[str, Any]:
        return {"command": self.command, "sha256": self.sha256, "approved_at": iso(self.approved_at),
                "approved_by": self.approved_by, "expires_at": iso(self.expires_at), "use_count": self.use_count,
                "last_used": iso(self.last_used), "note": self.note}


def new_entry(command: str, now: float, approved_by: str, expires_in: int | None = None,
              note: str = "") -> Entry:
    text = normalize(command)
    return Entry(text, command_hash(text), now, approved_by, None if expires_in is None else now + expires_in,
                 0, None, note)


# --- time ---------------------------------------------------------------------------------------------


def iso(t: float | None) -> str | None:
    return None if t is None else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def parse_iso(text: str) -> float:
    """`2024-05-01T12:00:00Z` → epoch seconds (no datetime import on the analysis path)."""
    if len(text) != 20 or text[4] != "-" or text[10] != "T" or text[19] != "Z":
        raise ValueError(f"not a UTC time: {text!r}")
    y, mo, d = int(text[0:4]), int(text[5:7]), int(text[8:10])
    h, mi, s = int(text[11:13]), int(text[14:16]), int(text[17:19])
    y -= mo <= 2  # days from civil (H. Hinnant)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (mo + (-3 if mo > 2 else 9)) + 2) // 5 + d - 1
    days = era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468
    return float(days * 86400 + h * 3600 + mi * 60 + s)


def ago(seconds: float) -> str:
    """`3 days ago`, `1 hour ago`, `just now`: the *why* line's wording."""
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        n = int(seconds // size)
        if n >= 1:
            return f"{n} {unit}{'s' if n > 1 else ''} ago"
    return "just now"


# --- reading ------------------------------------------------------------------------------------------


class Corrupt(Exception):
    """The file is not a trust store we can believe; `str()` says why in a few words."""


def decode(raw: bytes) -> dict[str, Entry]:
    """The store's entries by sha256, or Corrupt."""
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise Corrupt(f"not JSON ({type(e).__name__})") from None
    if not isinstance(data, dict):
        raise Corrupt(f"a JSON {type(data).__name__} instead of an object")
    if data.get("version") != FORMAT_VERSION:
        raise Corrupt(f"unknown format version {data.get('version')!r} (this vgshell reads {FORMAT_VERSION})")
    items = data.get("entries")
    if not isinstance(items, list):
        raise Corrupt("'entries' is not a list")
    entries: dict[str, Entry] = {}
    for i, item in enumerate(items):
        entry = _entry(item, i)
        entries[entry.sha256] = entry
    return entries


def _entry(item: object, i: int) -> Entry:
    if not isinstance(item, dict) or not isinstance(item.get("command"), str):
        raise Corrupt(f"entry {i} has no command")
    try:
        text = normalize(item["command"])
        expires, last = item.get("expires_at"), item.get("last_used")
        return Entry(text, command_hash(text), parse_iso(item["approved_at"]), str(item.get("approved_by", "")),
                     None if expires is None else parse_iso(expires), int(item.get("use_count", 0)),
                     None if last is None else parse_iso(last), str(item.get("note") or ""))
    except (KeyError, TypeError, ValueError) as e:
        raise Corrupt(f"entry {i} is malformed ({e})") from None


def encode(entries: dict[str, Entry]) -> bytes:
    ordered = sorted(entries.values(), key=lambda e: (e.approved_at, e.command))
    body = {"version": FORMAT_VERSION, "entries": [e.to_json() for e in ordered]}
    return (json.dumps(body, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _stat_problem(st: os.stat_result) -> str | None:
    if st.st_mode & 0o077:
        return f"permissions are {st.st_mode & 0o777:04o}, not 0600"
    if st.st_uid != os.getuid():
        return "owned by another user"
    return None


def read(path: Path, warn: TextIO | None) -> tuple[dict[str, Entry], os.stat_result | None]:
    """The entries (empty when the file is missing or bad) and the stat they were read under."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return {}, None
    except OSError as e:
        return _bad(path, f"cannot be read ({e.strerror})", warn), None
    problem = _stat_problem(st)
    if problem is None:
        try:
            return decode(path.read_bytes()), st
        except Corrupt as e:
            problem = str(e)
        except OSError as e:
            problem = f"cannot be read ({e.strerror})"
    return _bad(path, problem, warn), None


def _bad(path: Path, problem: str, warn: TextIO | None) -> dict[str, Entry]:
    """Take the lock and look again (another shell may have just fixed it); a bad file is moved aside."""
    try:
        with locked(path, TrustError):
            return _read_locked(path, warn)
    except (OSError, TrustError) as e:
        if warn is not None:
            warn.write(f"vg: trust: {path} is not a valid trust store ({problem}); could not move it aside ({e}); "
                       f"trusting nothing\n")
        return {}


class TrustIndex:
    """Cached reads of one store for `lookup`, refreshed when the file's (inode, size, mtime) change."""

    def __init__(self, path: Path, warn: TextIO | None = None) -> None:
        self.path = path
        self.warn = warn
        self._key: tuple[int, int, int] | None = None
        self._entries: dict[str, Entry] = {}

    def entries(self) -> dict[str, Entry]:
        try:
            st = os.stat(self.path)
        except OSError:
            self._key, self._entries = None, {}
            return self._entries
        key = (st.st_ino, st.st_size, st.st_mtime_ns)
        if key != self._key:
            # cached under the key seen before reading: a change racing the read is caught on the next stat
            self._entries, _ = read(self.path, self.warn)
            self._key = key
        return self._entries

    def lookup(self, command: str, now: float) -> Entry | None:
        """The unexpired entry for `command`, or None."""
        entries = self.entries()
        if not entries:
            return None
        entry = entries.get(command_hash(command))
        return entry if entry is not None and not entry.expired(now) else None


# --- writing ------------------------------------------------------------------------------------------


Change = Callable[[dict[str, Entry]], dict[str, Entry]]


def mutate(path: Path, change: Change, warn: TextIO | None = None) -> dict[str, Entry]:
    """Apply `change` to the entries under the lock and write the result atomically; returns it."""
    with locked(path, TrustError):
        entries = _read_locked(path, warn)
        new = change(dict(entries))
        if new != entries:
            write_atomic(path, encode(new))
        return new


def _read_locked(path: Path, warn: TextIO | None) -> dict[str, Entry]:
    """Like `read`, but already holding the lock: a bad file is moved aside here, not by `_bad`."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return {}
    problem = _stat_problem(st)
    if problem is None:
        try:
            return decode(path.read_bytes())
        except Corrupt as e:
            problem = str(e)
        except OSError as e:
            problem = f"cannot be read ({e.strerror})"
    backup = move_aside(path)
    if warn is not None:
        name = backup.name if backup else "nowhere"
        warn.write(f"vg: trust: {path} is not a valid trust store ({problem}); moved it to {name} and trusting "
                   f"nothing\n")
        warn.flush()
    return {}


def add(path: Path, entry: Entry, warn: TextIO | None = None) -> Entry:
    """Add or renew `entry` (an existing entry for the same command keeps its use count)."""
    def change(entries: dict[str, Entry]) -> dict[str, Entry]:
        old = entries.get(entry.sha256)
        entries[entry.sha256] = entry if old is None else replace(entry, use_count=old.use_count,
                                                                  last_used=old.last_used)
        return entries

    return mutate(path, change, warn)[entry.sha256]


def remove(path: Path, command: str, warn: TextIO | None = None) -> bool:
    key = command_hash(command)
    found = False

    def change(entries: dict[str, Entry]) -> dict[str, Entry]:
        nonlocal found
        found = entries.pop(key, None) is not None
        return entries

    mutate(path, change, warn)
    return found


def clean(path: Path, now: float, warn: TextIO | None = None) -> int:
    """Drop expired entries; returns how many."""
    dropped = 0

    def change(entries: dict[str, Entry]) -> dict[str, Entry]:
        nonlocal dropped
        keep = {k: e for k, e in entries.items() if not e.expired(now)}
        dropped = len(entries) - len(keep)
        return keep

    mutate(path, change, warn)
    return dropped


def mark_used(path: Path, command: str, now: float, warn: TextIO | None = None) -> None:
    """Count one use of a trusted command (use_count + 1, last_used = now)."""
    key = command_hash(command)

    def change(entries: dict[str, Entry]) -> dict[str, Entry]:
        old = entries.get(key)
        if old is not None:
            entries[key] = replace(old, use_count=old.use_count + 1, last_used=now)
        return entries

    mutate(path, change, warn)


# --- the edge: paths, users, the critical check ---------------------------------------------------------


def store_path(state_dir: Path, configured: str | None, home: str) -> Path:
    """`trust.store_path` when set (`~` is the home directory), else `<state dir>/trust.json`."""
    if configured is None:
        return state_dir / "trust.json"
    if configured == "~" or configured.startswith("~/"):
        configured = home + configured[1:]
    return Path(configured)


def approver(env_vars: Any, how: str) -> str:
    user = env_vars.get("USER") or env_vars.get("LOGNAME")
    if not user:
        import pwd

        try:
            user = pwd.getpwuid(os.getuid()).pw_name
        except KeyError:
            user = f"uid {os.getuid()}"
    return f"{user} via {how}"


def remember(env: Any, cfg: Any, command: str, how: str, note: str = "", expires_in: int | None = None) -> Entry:
    """Trust `command` from now on, unless it is critical. `env`/`cfg`: Environment and Config."""
    from vgshell.analyzer import Analyzer
    from vgshell.risk.model import Level

    if not normalize(command):
        raise TrustError("nothing to trust: the command is empty")
    verdict = Analyzer(env, cfg).check(command)
    a = verdict.assessment
    if a.risk is Level.CRITICAL:
        why = f": {a.top.reason} ({a.top.rule})" if a.top else ""
        raise TrustError(f"refused to trust {normalize(command)!r}: it is critical{why}; critical commands are "
                         f"always blocked")
    if expires_in is None:
        expires_in = cfg.trust.default_expiry_seconds
    path = store_path(env.state_dir, cfg.trust.store_path, env.home)
    return add(path, new_entry(command, env.clock(), approver(env.env, how), expires_in, note), env.stderr)


def add_from_prompt(env: Any, line: str) -> Entry:
    """What a shell hook calls after the user answered `r`: remember `line` with the config's expiry."""
    from vgshell.config import load_config

    return remember(env, load_config(env), line, "prompt")
