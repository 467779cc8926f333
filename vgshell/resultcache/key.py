"""The result-cache key: sha256 over everything a sandboxed command's result depends on (SPEC §8).

`KeyInputs` is the frozen list of those things and `digest` hashes it (pure). `gather` is the edge that
reads them from the machine: the lock files and manifests of the line's ecosystems, the files the line
names, the chosen variables, and the identity of the runtime and image. A file's content hash is reused
from a memo only while its (size, mtime, ctime, inode, device) are unchanged and its change is not recent
enough to race the memo (git's "racily clean" rule); otherwise it is read again.
"""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import json
import os
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from vgshell.schema import CACHE_KEY_ENV

KEY_VERSION = 1
ABSENT = "-"  # the digest of an input that does not exist: its appearance changes the key too

# The manifests and lock files of each ecosystem (names or shell globs, looked up in the working directory
# and the project root). Data: a new ecosystem is a new row.
INPUTS: Mapping[str, tuple[str, ...]] = {
    "npm": ("package.json", "package-lock.json", "npm-shrinkwrap.json", ".npmrc"),
    "yarn": ("package.json", "yarn.lock", ".yarnrc", ".yarnrc.yml"),
    "pnpm": ("package.json", "pnpm-lock.yaml", "pnpm-workspace.yaml", ".npmrc"),
    "pip": ("requirements*.txt", "constraints*.txt", "pyproject.toml", "setup.py", "setup.cfg"),
    "poetry": ("pyproject.toml", "poetry.lock"),
    "uv": ("pyproject.toml", "uv.lock", "requirements*.txt"),
    "cargo": ("Cargo.toml", "Cargo.lock"),
    "go": ("go.mod", "go.sum"),
    "gem": ("Gemfile", "Gemfile.lock", "*.gemspec"),
    "bundler": ("Gemfile", "Gemfile.lock", "*.gemspec"),
    "maven": ("pom.xml",),
    "gradle": ("build.gradle", "build.gradle.kts", "settings.gradle", "settings.gradle.kts", "gradle.properties"),
}
DEFAULT_ENV: tuple[str, ...] = CACHE_KEY_ENV
RACY_NS = 2_000_000_000  # a file changed this recently is hashed again: a same-size edit could share its mtime


@dataclass(frozen=True)
class KeyInputs:
    """What the result of one sandboxed line depends on.

    command: the normalised line; argv: what the sandbox runs; cwd: where; env: (name, value) of the chosen
    variables that are set; files: (path, sha256 or ABSENT), sorted; runtime: name and version of the
    runtime; image: the image (docker, podman) or the host's tool that runs the line (bubblewrap).
    `manual` (cache_invalidation: manual): the files are left out, so only TTL and `vg cache` end an entry.
    """

    command: str
    argv: tuple[str, ...]
    cwd: str
    env: tuple[tuple[str, str], ...]
    files: tuple[tuple[str, str], ...]
    runtime: str
    image: str
    manual: bool = False


def digest(inputs: KeyInputs) -> str:
    """The key: sha256 (hex) over a canonical JSON form of `inputs`."""
    files = () if inputs.manual else inputs.files
    body = [KEY_VERSION, inputs.command, list(inputs.argv), inputs.cwd, [list(e) for e in inputs.env],
            [list(f) for f in files], inputs.runtime, inputs.image, inputs.manual]
    return hashlib.sha256(json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()).hexdigest()


def input_names(ecosystems: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(n for eco in ecosystems for n in INPUTS.get(eco, ())))


def named_files(line: str, cwd: str, exists: Callable[[str], bool] = os.path.isfile) -> tuple[str, ...]:
    """Regular files the line names (`-r requirements-dev.txt`, `--file=x.lock`, `cat notes.txt`), absolute."""
    try:
        words = shlex.split(line, comments=False)
    except ValueError:
        words = line.split()
    found: list[str] = []
    for word in words:
        for candidate in (word, word.partition("=")[2]):
            if not candidate or (candidate.startswith("-") and candidate == word):
                continue
            path = os.path.normpath(os.path.join(cwd, os.path.expanduser(candidate)))
            if path not in found and exists(path):
                found.append(path)
    return tuple(found)


def ecosystem_files(dirs: tuple[str, ...], names: tuple[str, ...],
                    listdir: Callable[[str], list[str]] = os.listdir) -> tuple[str, ...]:
    """The paths of `names` (globs allowed) in each of `dirs`; a plain name is listed even when absent."""
    out: list[str] = []
    for d in dict.fromkeys(dirs):
        listing: list[str] | None = None
        for name in names:
            if not any(c in name for c in "*?["):
                out.append(os.path.join(d, name))
                continue
            if listing is None:
                try:
                    listing = sorted(listdir(d))
                except OSError:
                    listing = []
            out.extend(os.path.join(d, n) for n in listing if fnmatch.fnmatchcase(n, name))
    return tuple(dict.fromkeys(out))


class HashMemo:
    """Content hashes by file identity, kept in one small JSON file (a cache: unreadable means empty)."""

    def __init__(self, path: Path, now_ns: Callable[[], int]) -> None:
        self.path, self.now_ns = path, now_ns
        self.known: dict[str, list[object]] = {}
        self.dirty = False
        with contextlib.suppress(OSError, ValueError):
            data = json.loads(path.read_text())
            if isinstance(data, dict) and data.get("version") == 1 and isinstance(data.get("files"), dict):
                self.known = data["files"]

    def sha256(self, path: str) -> str:
        try:
            st = os.stat(path)
        except OSError:
            return ABSENT
        ident = [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev]
        memo = self.known.get(path)
        if isinstance(memo, list) and memo[:-1] == ident:
            return str(memo[-1])
        value = file_sha256(path)
        if value != ABSENT and self.now_ns() - max(st.st_mtime_ns, st.st_ctime_ns) > RACY_NS:
            self.known[path] = [*ident, value]
            self.dirty = True
        return value

    def save(self) -> None:
        """Write the memo back (atomically; a failure only costs the next call a re-hash)."""
        if not self.dirty:
            return
        with contextlib.suppress(OSError):
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}")
            tmp.write_text(json.dumps({"version": 1, "files": self.known}, separators=(",", ":")))
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        self.dirty = False


def file_sha256(path: str) -> str:
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return ABSENT
    return h.hexdigest()


def tool_identity(argv0: str, path_var: str) -> str:
    """The host executable a bubblewrap run starts (the host root is its image): resolved path, size, mtime."""
    import shutil

    found = shutil.which(argv0, path=path_var) if argv0 else None
    if found is None:
        return f"{argv0}:missing"
    real = os.path.realpath(found)
    try:
        st = os.stat(real)
    except OSError:
        return f"{real}:gone"
    return f"{real}:{st.st_size}:{st.st_mtime_ns}"


def gather(*, command: str, argv: tuple[str, ...], cwd: str, project: str, ecosystems: tuple[str, ...],
           env: Mapping[str, str], env_names: tuple[str, ...], runtime: str, image: str, memo: HashMemo,
           manual: bool = False) -> KeyInputs:
    """The key's inputs for one line, read from the machine (hashes through `memo`)."""
    paths = ecosystem_files((cwd, project), input_names(ecosystems)) + named_files(command, cwd)
    files = tuple(sorted((p, memo.sha256(p)) for p in dict.fromkeys(paths)))
    chosen = tuple((n, env[n]) for n in env_names if n in env)
    return KeyInputs(command, argv, cwd, chosen, files, runtime, image, manual)
