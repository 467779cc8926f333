"""What no sandbox may show: the host's root-only secrets and the credentials in every user's home.

The tables are data. `find` looks them up on this host once per sandboxed command (globs expanded, links
resolved); `masks` (pure) works out where each one appears inside a sandbox — through bubblewrap's shared
host root, through the project or any other bind — and what must cover it there. An explicit
`sandbox.bind_mounts` entry of exactly a secret is the one way to show it.
"""

from __future__ import annotations

import glob
import os
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

# Credential directories and files of a user's home (SPEC §4), for every home on the host, not only $HOME.
SECRET_DIRS = (".ssh", ".aws", ".gnupg", ".config/gcloud", ".kube", ".docker", ".azure", ".password-store",
               ".config/gh", ".local/share/keyrings", ".config/op",
               # browser profiles: saved logins, cookies, key databases
               ".mozilla", ".config/google-chrome", ".config/chromium", ".config/BraveSoftware")
# Credential files, some inside toolchain directories a sandbox may otherwise see (~/.cargo, ~/.gem).
SECRET_FILES = (".cargo/credentials.toml", ".cargo/credentials", ".gem/credentials", ".npmrc", ".pypirc",
                ".netrc", ".git-credentials", ".vault-token", ".terraform.d/credentials.tfrc.json",
                ".config/rclone/rclone.conf", ".config/helm/repositories.yaml",
                ".helm/repository/repositories.yaml", ".circleci/cli.yml", ".travis/config.yml",
                ".travis/config.yaml", ".s3cfg", ".boto", ".pgpass", ".my.cnf", ".config/git/credentials",
                ".config/hub", ".terraformrc")
# Root-only host secrets, and the container engines' sockets and state (a socket is a root shell on the
# host; their state holds every image's and container's files and registry logins).
SYSTEM_SECRETS = (
    "/etc/shadow", "/etc/shadow-", "/etc/gshadow", "/etc/gshadow-", "/etc/sudoers", "/etc/sudoers.d",
    "/etc/security/opasswd", "/etc/ssh/*_key", "/etc/ssl/private", "/etc/krb5.keytab",
    "/var/run/secrets", "/run/secrets",
    "/var/run/docker.sock", "/run/docker.sock", "/run/docker", "/var/lib/docker",
    "/run/podman", "/var/lib/containers", "/run/containers", "/run/user/*/podman", "/run/user/*/docker.sock",
    "/run/user/*/containers",
    "/run/containerd", "/var/lib/containerd", "/run/crio", "/var/lib/kubelet",
)
# root's home is a secret as a whole unless it is the user's own (then it is $HOME, a fresh tmpfs).
ROOT_HOME = "/root"
# Where the homes are: /etc/passwd (read as a file: a directory service is not asked per command) and these.
HOME_GLOBS = ("/home/*", "/Users/*")
PASSWD = "/etc/passwd"
# Home fields of system accounts that are the operating system's own directories, not a user's.
NOT_HOMES = frozenset(("/", "/bin", "/sbin", "/usr/bin", "/usr/sbin", "/usr/games", "/dev", "/proc", "/sys",
                       "/nonexistent", "/var/empty", "/var/mail", "/var/spool/lpd", "/var/spool/news",
                       "/var/spool/uucp", "/var/cache/man", "/var/backups", "/var/list"))
_SYSTEM_GLOBS = tuple(p for p in SYSTEM_SECRETS if glob.has_magic(p))
_SYSTEM_PATHS = (*(p for p in SYSTEM_SECRETS if not glob.has_magic(p)), ROOT_HOME)
_HOME_TREE: dict[str, tuple[str, ...]] = {}
for _name in (*SECRET_DIRS, *SECRET_FILES):
    _HOME_TREE[_name.split("/")[0]] = (*_HOME_TREE.get(_name.split("/")[0], ()), _name)
_O_PATH = getattr(os, "O_PATH", os.O_RDONLY)  # Linux: a handle that opens nothing, even unreadable files


@dataclass(frozen=True)
class Secret:
    path: str  # on the host, links resolved
    directory: bool


@dataclass(frozen=True)
class Mask:
    target: str  # inside the sandbox
    directory: bool  # a directory is covered by an empty one, anything else by an empty file


@dataclass(frozen=True)
class Layer:
    """One mount as the sandbox sees it: `host` is what it shows of the host (None: a fresh, empty one)."""

    host: str | None
    target: str


def find(home: str, passwd: str = PASSWD) -> tuple[Secret, ...]:
    """The secrets that exist on this host (the user's own paths included; `masks` decides what is seen)."""
    paths = [p for pattern in _SYSTEM_GLOBS for p in glob.glob(pattern)]
    paths += (p for p in _SYSTEM_PATHS if p != os.path.normpath(home))
    for h in _homes(home, passwd):
        for first, names in _HOME_TREE.items():
            if os.path.lexists(h + "/" + first):  # one lstat for .config/gh, .config/op, .config/hub …
                paths += (h + "/" + name for name in names)
    found: dict[str, Secret] = {}
    for path in paths:
        secret = _resolve(path)
        if secret is not None:
            found.setdefault(secret.path, secret)
    return tuple(found.values())


def _resolve(path: str) -> Secret | None:
    """The secret at `path`, links resolved; None when absent or unreadable to this user.

    One open(O_PATH) per candidate, most of which do not exist: os.path.realpath costs ~50 µs each.
    """
    try:
        fd = os.open(path, _O_PATH)
    except OSError:
        return None
    try:
        real = os.readlink(f"/proc/self/fd/{fd}") if _O_PATH != os.O_RDONLY else os.path.realpath(path)
        directory = stat.S_ISDIR(os.fstat(fd).st_mode)
    except OSError:
        real, directory = os.path.realpath(path), os.path.isdir(path)
    finally:
        os.close(fd)
    # What this user cannot read on the host it cannot read inside either (same uid, no more groups or
    # capabilities): a mount saved. Root reads everything, so root's sandboxes mask it all.
    if not os.access(real, os.R_OK) and not (directory and os.access(real, os.X_OK)):
        return None
    return Secret(real, directory)


def real_paths(paths: Iterable[str]) -> tuple[tuple[str, str], ...]:
    """(path, path with links resolved) for the mount sources that go through a link (`/var/run` → `/run`),
    so `masks` finds the secrets they show."""
    out = {}
    for p in paths:
        real = os.path.realpath(p)
        if real != p:
            out[p] = real
    return tuple(out.items())


def _homes(home: str, passwd: str) -> list[str]:
    homes = {os.path.normpath(home)}
    try:
        with open(passwd, encoding="utf-8", errors="replace") as f:
            for line in f:
                fields = line.split(":")
                if len(fields) > 5 and fields[5].startswith("/"):
                    homes.add(os.path.normpath(fields[5]))
    except OSError:
        pass
    for pattern in HOME_GLOBS:
        homes.update(glob.glob(pattern))
    return sorted(h for h in homes - NOT_HOMES if os.path.isdir(h))


def masks(secrets: Iterable[Secret], layers: Sequence[Layer], shown: Iterable[Layer] = ()) -> tuple[Mask, ...]:
    """The masks that hide every secret a layer shows, outermost first.

    `layers` are in mount order (a later one at the same place wins). A secret needs a mask where a layer
    that shows the host's file is the innermost one at its path — not under a fresh tmpfs, not under a
    mask already covering it — unless `shown` holds that very layer for that very path (an explicit bind
    of the secret).
    """
    exempt = {(layer.host, layer.target) for layer in shown}
    wanted: dict[str, Mask] = {}
    for s in secrets:
        for i, layer in enumerate(layers):
            if layer.host is None or not _under(s.path, layer.host):
                continue
            if layer.host == s.path and (layer.host, layer.target) in exempt:
                continue
            target = _join(layer.target, s.path[len(layer.host.rstrip("/")):])
            if _provider(layers, target) == i:
                wanted.setdefault(target, Mask(target, s.directory))
    out: list[Mask] = []
    for m in sorted(wanted.values(), key=lambda m: _depth(m.target)):
        below = layers[_provider(layers, m.target)].target
        if not any(_under(m.target, o.target) and _depth(o.target) >= _depth(below) for o in out if o.directory):
            out.append(m)
    return tuple(out)


def _provider(layers: Sequence[Layer], target: str) -> int:
    """The index of the layer that shows `target`: the deepest one above it, the later one on a tie."""
    best, depth = -1, -1
    for i, layer in enumerate(layers):
        if _under(target, layer.target) and _depth(layer.target) >= depth:
            best, depth = i, _depth(layer.target)
    return best


def _under(path: str, top: str) -> bool:
    top = top.rstrip("/")
    return not top or path == top or path.startswith(top + "/")


def _join(top: str, rest: str) -> str:
    return (top.rstrip("/") + rest) or "/"


def _depth(path: str) -> int:
    return path.rstrip("/").count("/")
