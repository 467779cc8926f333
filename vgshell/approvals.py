"""Project config approvals: the `vectra-guard.yaml` files whose loosening settings the user accepted.

`<state dir>/config-approvals.json` (0600, in the 0700 state dir), versioned:

    {"version": 1, "approvals": [{"path": "/home/me/src/app/vectra-guard.yaml", "sha256": "…",
      "approved_at": "2024-05-01T12:00:00Z", "approved_by": "alice via vg config allow"}]}

One approval per file, by its path (its directory's symlinks resolved), for the exact bytes it held when
approved (sha256): any edit revokes it, and the same text at another path — a copy, a hard link, a symlink
to it — is not approved (a clone could point at a file approved for another project).
Changes take a file lock (filelock) and replace the file atomically, as the trust store does.

A file that is not a valid approvals file — not JSON, the wrong shape, an unknown version, readable by
others — trusts nothing: it is moved aside to `config-approvals.json.bad-<UTC time>` and reported once.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vgshell.errors import ConfigError
from vgshell.statefile import locked, move_aside, write_atomic

FILE_NAME = "config-approvals.json"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class Approval:
    """The user accepted the file at `path` while its content hashed to `sha256`."""

    path: str
    sha256: str
    approved_at: float
    approved_by: str

    def to_json(self) -> dict[str, Any]:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.approved_at))
        return {"path": self.path, "sha256": self.sha256, "approved_at": stamp, "approved_by": self.approved_by}


def store_path(state_dir: Path) -> Path:
    return state_dir / FILE_NAME


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def real(path: str | Path) -> str:
    """The name an approval is filed under: the file's own name in its real directory. The name itself is not
    resolved: a clone's `vectra-guard.yaml` that is a symlink to a file approved elsewhere is not approved."""
    path = os.path.abspath(path)
    return os.path.join(os.path.realpath(os.path.dirname(path)), os.path.basename(path))


# --- reading ------------------------------------------------------------------------------------------


class Corrupt(Exception):
    """Not an approvals file we can believe; `str()` says why in a few words."""


def decode(raw: bytes) -> dict[str, Approval]:
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise Corrupt(f"not JSON ({type(e).__name__})") from None
    if not isinstance(data, dict) or data.get("version") != FORMAT_VERSION:
        version = data.get("version") if isinstance(data, dict) else None
        raise Corrupt(f"not version {FORMAT_VERSION} of the format (found {version!r})")
    items = data.get("approvals")
    if not isinstance(items, list):
        raise Corrupt("'approvals' is not a list")
    approvals: dict[str, Approval] = {}
    for i, item in enumerate(items):
        approval = _approval(item, i)
        approvals[approval.path] = approval
    return approvals


def _approval(item: object, i: int) -> Approval:
    from vgshell.trust import parse_iso

    if not isinstance(item, dict):
        raise Corrupt(f"approval {i} is not an object")
    path, sha = item.get("path"), item.get("sha256")
    if not isinstance(path, str) or not isinstance(sha, str) or len(sha) != 64:
        raise Corrupt(f"approval {i} has no path or sha256")
    try:
        return Approval(path, sha, parse_iso(str(item.get("approved_at"))), str(item.get("approved_by", "")))
    except ValueError as e:
        raise Corrupt(f"approval {i} is malformed ({e})") from None


def encode(approvals: dict[str, Approval]) -> bytes:
    ordered = sorted(approvals.values(), key=lambda a: a.path)
    body = {"version": FORMAT_VERSION, "approvals": [a.to_json() for a in ordered]}
    return (json.dumps(body, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _problem(path: Path) -> tuple[dict[str, Approval], str | None]:
    """The approvals and, when the file is bad, why (the caller moves it aside)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return {}, None
    except OSError as e:
        return {}, f"cannot be read ({e.strerror})"
    if st.st_mode & 0o077:
        return {}, f"permissions are {st.st_mode & 0o777:04o}, not 0600"
    if st.st_uid != os.getuid():
        return {}, "owned by another user"
    try:
        return decode(path.read_bytes()), None
    except Corrupt as e:
        return {}, str(e)
    except OSError as e:
        return {}, f"cannot be read ({e.strerror})"


def read(path: Path) -> tuple[dict[str, Approval], str | None]:
    """The approvals by real path, and a one-line warning when the file was bad: then nothing is approved
    and the file has been moved aside (under the lock, after looking again)."""
    approvals, problem = _problem(path)
    if problem is None:
        return approvals, None
    try:
        with locked(path, ConfigError):
            approvals, problem = _problem(path)
            if problem is None:
                return approvals, None  # another process fixed it meanwhile
            backup = move_aside(path)
    except (OSError, ConfigError) as e:
        return {}, f"{path} is not a valid approvals file ({problem}); could not move it aside ({e}); " \
                   f"no project file is trusted"
    where = f"moved it to {backup.name}" if backup else "it is gone"
    return {}, f"{path} is not a valid approvals file ({problem}); {where}; no project file is trusted"


def is_approved(approvals: dict[str, Approval], file: str | Path, sha256: str) -> bool:
    found = approvals.get(real(file))
    return found is not None and found.sha256 == sha256


# --- writing ------------------------------------------------------------------------------------------


def _mutate(path: Path, change: Callable[[dict[str, Approval]], None]) -> str | None:
    """Apply `change` under the lock and write atomically; returns the warning of a bad file moved aside."""
    with locked(path, ConfigError):
        approvals, problem = _problem(path)
        warning = None
        if problem is not None:
            backup = move_aside(path)
            warning = f"{path} was not a valid approvals file ({problem}); moved it to " \
                      f"{backup.name if backup else 'nowhere'}"  # fmt: skip
        before = dict(approvals)
        change(approvals)
        if approvals != before or not path.exists():
            write_atomic(path, encode(approvals))
    return warning


def allow(state_dir: Path, file: str | Path, sha256: str, approved_by: str, now: float) -> str | None:
    """Approve `file` with the content hashing to `sha256` (replacing an older approval of it)."""
    approval = Approval(real(file), sha256, now, approved_by)
    return _mutate(store_path(state_dir), lambda approvals: approvals.__setitem__(approval.path, approval))


def deny(state_dir: Path, file: str | Path) -> bool:
    """Withdraw the approval of `file`; False when there was none."""
    found = False

    def change(approvals: dict[str, Approval]) -> None:
        nonlocal found
        found = approvals.pop(real(file), None) is not None

    _mutate(store_path(state_dir), change)
    return found
