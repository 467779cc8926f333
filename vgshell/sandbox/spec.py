"""The runtime-neutral SandboxSpec, built by one pure function from config + decision + host facts.

Every runtime adapter (bubblewrap, docker, podman) turns the same spec into its own invocation, so "what
the sandbox may see and do" is decided once, here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from vgshell.config import Config
from vgshell.sandbox.secrets import ROOT_HOME, SECRET_DIRS, Layer, Mask, Secret, masks

GIB = 1024**3
MIB = 1024**2

# Docker's default capability set trimmed to what package managers and build tools use.
MINIMAL_CAPS = ("CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "NET_BIND_SERVICE")


@dataclass(frozen=True)
class Level:
    network: str
    read_only_root: bool
    memory: int
    cpus: float
    pids: int | None
    caps: tuple[str, ...] | None  # None: the runtime's default set; () drops every capability


LEVELS: Mapping[str, Level] = {
    "permissive": Level("full", False, 2 * GIB, 2.0, None, None),
    "balanced": Level("restricted", False, 1 * GIB, 1.0, 512, MINIMAL_CAPS),
    "strict": Level("restricted", True, 512 * MIB, 0.5, 256, MINIMAL_CAPS),
    "paranoid": Level("none", True, 256 * MIB, 0.25, 128, ()),
}

# Fresh, empty directories every runtime gives a sandbox (bubblewrap adds its own /dev, /proc and /run;
# a container's come from its image): nothing of the host shows through them.
FRESH_DIRS = ("/tmp", "/var/tmp")
BWRAP_FRESH_DIRS = ("/dev", "/proc", *FRESH_DIRS, "/run")
# Home directories that hold user data rather than a toolchain: never bound whole, only the PATH entry.
_NOT_TOOLCHAINS = (".local", ".config", ".cache")
# Variables that let a sandbox trust what the host trusts and go out the way the host does.
PROXY_VARS = ("SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "PIP_CERT", "NODE_EXTRA_CA_CERTS",
              "CURL_CA_BUNDLE", "GIT_SSL_CAINFO", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy",
              "https_proxy", "no_proxy", "ALL_PROXY", "all_proxy")
SYSTEM_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"

# network_mode: restricted — the egress proxy as the sandbox sees it (see egress.py).
EGRESS_PORT = 3128
EGRESS_DIR = "/run/vgshell-egress"  # the host's socket directory, bound in
EGRESS_URL = f"http://127.0.0.1:{EGRESS_PORT}"
# The registries each ecosystem's package manager fetches from by default: reachable in restricted mode.
_PYPI = ("pypi.org", "files.pythonhosted.org")
_NPM = ("registry.npmjs.org",)
_MAVEN = ("repo.maven.apache.org", "repo1.maven.org")
_RUBYGEMS = ("rubygems.org", "index.rubygems.org")
REGISTRY_HOSTS: Mapping[str, tuple[str, ...]] = {
    "pip": _PYPI, "poetry": (*_PYPI, "install.python-poetry.org"), "uv": _PYPI,
    "npm": _NPM, "yarn": (*_NPM, "registry.yarnpkg.com", "repo.yarnpkg.com"), "pnpm": _NPM,
    "cargo": ("crates.io", "static.crates.io", "index.crates.io"),
    "go": ("proxy.golang.org", "sum.golang.org"),
    "gem": _RUBYGEMS, "bundler": _RUBYGEMS,
    "maven": _MAVEN,
    "gradle": (*_MAVEN, "plugins.gradle.org", "plugins-artifacts.gradle.org", "services.gradle.org",
               "downloads.gradle.org"),
    "conda": ("conda.anaconda.org", "repo.anaconda.com"),
    "system": ("deb.debian.org", "security.debian.org", "*.debian.org", "archive.ubuntu.com",
               "security.ubuntu.com", "*.archive.ubuntu.com", "ports.ubuntu.com", "dl-cdn.alpinelinux.org"),
}
# The package managers' own proxy settings, for tools that do not read HTTP(S)_PROXY.
_JAVA_PROXY = (f"-Dhttp.proxyHost=127.0.0.1 -Dhttp.proxyPort={EGRESS_PORT} -Dhttps.proxyHost=127.0.0.1 "
               f"-Dhttps.proxyPort={EGRESS_PORT} -Dhttp.nonProxyHosts=localhost|127.0.0.1")
EGRESS_ENV: Mapping[str, str] = {
    **dict.fromkeys(("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"), EGRESS_URL),
    "NO_PROXY": "localhost,127.0.0.1,::1", "no_proxy": "localhost,127.0.0.1,::1",
    "PIP_PROXY": EGRESS_URL,
    **dict.fromkeys(("npm_config_proxy", "npm_config_https_proxy"), EGRESS_URL),  # npm, pnpm, yarn 1
    **dict.fromkeys(("YARN_HTTP_PROXY", "YARN_HTTPS_PROXY"), EGRESS_URL),  # yarn 2+
    "CARGO_HTTP_PROXY": EGRESS_URL,
    # go, gem, bundler, uv, poetry, apt and curl read the variables above
}
_JAVA_OPTS = ("MAVEN_OPTS", "GRADLE_OPTS")
# network_mode: none — package managers told so, so they fail at once (or use their cache) instead of
# retrying a network that is not there (npm's retries alone take about 70 s)
NETWORK_OFF_ENV: Mapping[str, str] = {
    "npm_config_offline": "true", "YARN_ENABLE_OFFLINE_MODE": "1", "PIP_NO_INDEX": "1", "UV_OFFLINE": "1",
    "CARGO_NET_OFFLINE": "true", "GOPROXY": "off",
}


@dataclass(frozen=True)
class Mount:
    host: str
    target: str
    read_only: bool = False
    line: bool = False  # the project root or a directory the line cds into (not a cache)


@dataclass(frozen=True)
class Overlay:
    """Where this run's overlay keeps the project's writes (set at run time, like `egress_dir`).

    `project`: the real directory the sandbox sees through the overlay (lower layer), at the same path;
    `upper`/`work`: the overlay's directories, under the state dir; `merged`: where vg mounted the overlay
    on the host for an engine to bind (docker), None where the runtime mounts it itself (bubblewrap in its
    own mount namespace, podman's `:O` volumes)."""

    project: str
    upper: str
    work: str
    merged: str | None = None


@dataclass(frozen=True)
class HostFacts:
    """What the edge found on this machine, so building the spec stays pure."""

    cwd: str
    home: str
    uid: int
    gid: int
    env: Mapping[str, str]
    tty: bool
    ca_files: tuple[str, ...] = ()  # existing CA bundle files to mount read-only
    cache_dirs: tuple[tuple[str, str], ...] = ()  # (host path, env var) for the detected ecosystems
    cache_env: tuple[tuple[str, str], ...] = ()  # extra variables the package managers need inside
    project_root: str | None = None  # the git root or directory holding vectra-guard.yaml above cwd
    line_dirs: tuple[str, ...] = ()  # existing directories the line cds into (Assessment.workdirs)
    secrets: tuple[Secret, ...] = ()  # the host's secrets that exist (secrets.find), links resolved
    real_paths: tuple[tuple[str, str], ...] = ()  # (mount source as given, links resolved) where they differ


@dataclass(frozen=True)
class SandboxSpec:
    """Everything a runtime needs: what runs, what it sees, what it may use, and for how long."""

    command: str
    workdir: str
    home: str
    mounts: tuple[Mount, ...]
    env: tuple[tuple[str, str], ...]
    network: str
    read_only_root: bool
    memory: int
    cpus: float
    pids: int | None
    caps: tuple[str, ...] | None
    seccomp_profile: str | None
    timeout: int
    image: str
    uid: int
    gid: int
    tty: bool
    level: str
    toolchains: tuple[str, ...] = ()  # read-only host dirs under a hidden $HOME or /root that PATH needs (bwrap)
    allowlist: tuple[str, ...] = ()  # restricted: the host names the egress proxy lets through
    egress_dir: str | None = None  # restricted: the host directory holding the proxy's socket, once started
    masks: tuple[Mask, ...] = ()  # what hides the host's secrets where the host root is shared (bubblewrap)
    container_masks: tuple[Mask, ...] = ()  # the same where only the mounts show the host (docker, podman)
    project_writes: str = "direct"  # sandbox.project_writes: direct, review or discard
    project: str | None = None  # the directory a capture puts behind an overlay (None: nothing there writable)
    overlay: Overlay | None = None  # review/discard: this run's overlay, once its directories exist

    @property
    def captures(self) -> bool:
        """The project's writes go to an overlay (review or discard), not to the project."""
        return self.project_writes != "direct" and self.project is not None

    @property
    def fresh_home(self) -> bool:
        """$HOME is a fresh tmpfs, unless it is / or the working directory itself."""
        return self.home not in ("/", self.workdir)

    @property
    def container_mounts(self) -> tuple[Mount, ...]:
        """The mounts a container binds: one a mask replaces (a secret as the working directory) is left out."""
        hidden = {m.target for m in self.container_masks}
        return tuple(m for m in self.mounts if m.target not in hidden)

    @property
    def workdir_read_only(self) -> bool:
        """The working directory is / or holds $HOME, so it is mounted read-only (workdir_shelters_home)."""
        return any(m.target == self.workdir and m.read_only for m in self.mounts)

    @property
    def cached(self) -> bool:
        return any(m.target.startswith(self.home) and m.target != self.workdir and not m.line for m in self.mounts)


ECOSYSTEM_IMAGES = {"npm": "node:20-bookworm", "yarn": "node:20-bookworm", "pnpm": "node:20-bookworm",
                    "pip": "python:3.11-bookworm", "poetry": "python:3.11-bookworm", "uv": "python:3.11-bookworm",
                    "cargo": "rust:1-bookworm", "go": "golang:1-bookworm", "gem": "ruby:3-bookworm",
                    "bundler": "ruby:3-bookworm", "maven": "maven:3-eclipse-temurin-21",
                    "gradle": "gradle:8-jdk21"}


def build_spec(command: str, cfg: Config, facts: HostFacts, ecosystems: tuple[str, ...] = (),
               image_set_by_user: bool = False) -> SandboxSpec:
    sb = cfg.sandbox
    level = LEVELS[sb.security_level]
    network = sb.network_mode or level.network
    mounts = (Mount(facts.cwd, facts.cwd, workdir_shelters_home(facts.cwd, facts.home)),
              *line_mounts(facts), *_cache_mounts(cfg, facts), *_bind_mounts(cfg),
              *(Mount(f, f, True) for f in facts.ca_files))
    mounts = _dedupe(mounts)
    project = overlay_root(facts, mounts)  # what review, discard or the result cache would capture
    if project is not None and sb.project_writes != "direct":
        mounts = behind_overlay(mounts, project)
    toolchains = _toolchains(facts)
    shared, contained = _masks(facts, mounts, toolchains, _bind_mounts(cfg))
    return SandboxSpec(
        command=command, workdir=facts.cwd, home=facts.home, mounts=mounts,
        env=_environment(cfg, facts, network), network=network, read_only_root=level.read_only_root,
        memory=level.memory, cpus=level.cpus, pids=level.pids, caps=level.caps,
        seccomp_profile=sb.seccomp_profile, timeout=sb.timeout,
        image=_image(sb.image, ecosystems, image_set_by_user), uid=facts.uid, gid=facts.gid, tty=facts.tty,
        level=sb.security_level, toolchains=toolchains,
        allowlist=egress_allowlist(ecosystems, sb.network_allowlist) if network == "restricted" else (),
        masks=shared, container_masks=contained, project_writes=sb.project_writes, project=project)


def overlay_root(facts: HostFacts, mounts: tuple[Mount, ...]) -> str | None:
    """The directory review/discard puts behind an overlay: the project root (or the working directory
    outside any project), when the sandbox may write it at all."""
    root = facts.project_root or facts.cwd
    return root if any(m.target == root and m.host == root and not m.read_only for m in mounts) else None


def behind_overlay(mounts: tuple[Mount, ...], project: str) -> tuple[Mount, ...]:
    """The mounts once the project is behind an overlay: nothing reaches the real project, or a directory
    the line `cd`s into outside it, for writing.

    A mount of a directory inside the project at its own path is dropped (the overlaid project shows it);
    one showing a project directory elsewhere becomes read-only, as do the line's other directories.
    Caches and explicit `bind_mounts` outside the project stay as configured.
    """
    inside = project.rstrip("/") + "/"
    out: list[Mount] = []
    for m in mounts:
        if m.host.startswith(inside) and m.host == m.target:
            continue
        if m.host.startswith(inside) or (m.line and m.host != project):
            m = Mount(m.host, m.target, True, m.line)
        out.append(m)
    return tuple(out)


def _toolchains(facts: HostFacts) -> tuple[str, ...]:
    """The PATH's tools under what the sandbox hides whole: a fresh $HOME, and /root when it is not $HOME
    (root with another HOME still runs its pyenv or nvm python and node)."""
    path = facts.env.get("PATH", "")
    fresh_home = facts.home not in ("/", facts.cwd)
    return (*(toolchain_dirs(path, facts.home) if fresh_home else ()),
            *(toolchain_dirs(path, ROOT_HOME) if facts.home.rstrip("/") != ROOT_HOME else ()))


def _masks(facts: HostFacts, mounts: tuple[Mount, ...], toolchains: tuple[str, ...],
           explicit: list[Mount]) -> tuple[tuple[Mask, ...], tuple[Mask, ...]]:
    """The masks for a sandbox on the host's root (bubblewrap), then for one on an image's (containers).

    Both see the fresh /tmp, $HOME and the mounts; bubblewrap also sees the whole host root, read-only, and
    the toolchains bound from under $HOME or /root.
    """
    home = (Layer(None, facts.home),) if facts.home not in ("/", facts.cwd) else ()
    real = dict(facts.real_paths)  # `cd /var/run` binds the host's /run: its secrets are found by real path
    binds = tuple(Layer(real.get(m.host, m.host), m.target) for m in mounts)
    shown = [Layer(real.get(m.host, m.host), m.target) for m in explicit]
    shared = masks(facts.secrets, (Layer("/", "/"), *(Layer(None, d) for d in BWRAP_FRESH_DIRS), *home,
                                   *(Layer(d, d) for d in toolchains), *binds), shown)
    # podman mounts its tmpfs before the binds: a $HOME under a bind (the project is /home) shows the host's
    covered = any(m.target != facts.home and facts.home.startswith(m.target.rstrip("/") + "/") for m in mounts)
    contained = masks(facts.secrets, (*(Layer(None, d) for d in FRESH_DIRS), *(() if covered else home), *binds),
                      shown)
    return shared, contained


def egress_allowlist(ecosystems: tuple[str, ...], extra: tuple[str, ...]) -> tuple[str, ...]:
    """The registries of the detected ecosystems, then the configured hosts (already validated)."""
    return tuple(dict.fromkeys((*(h for e in ecosystems for h in REGISTRY_HOSTS.get(e, ())), *extra)))


def workdir_shelters_home(cwd: str, home: str) -> bool:
    """True when the working directory is `/`, $HOME or above it: a sandbox gets it read-only, or it
    could write the user's start-up files (~/.bashrc) and escape on the next shell."""
    cwd = cwd.rstrip("/") or "/"
    return cwd == "/" or home.rstrip("/") == cwd or home.startswith(cwd + "/")


def line_mounts(facts: HostFacts) -> list[Mount]:
    """The project root and the directories the line `cd`s into, so `cd ../other && npm install x` works
    there. Writable under $HOME or inside the project; read-only elsewhere; never $HOME itself or above
    it, nor a directory holding or inside a secret one (~/.ssh, ~/.aws …): those stay out of the sandbox."""
    home = facts.home.rstrip("/")
    secrets = [f"{home}/{d}" for d in SECRET_DIRS]
    root = facts.project_root
    out: list[Mount] = []
    for d in dict.fromkeys((d.rstrip("/") or "/") for d in (*((root,) if root else ()), *facts.line_dirs)):
        inside_cwd = d.startswith(facts.cwd.rstrip("/") + "/") and not workdir_shelters_home(facts.cwd, home)
        if d == facts.cwd or inside_cwd or workdir_shelters_home(d, home):
            continue
        if any(d == s or d.startswith(s + "/") or s.startswith(d + "/") for s in secrets):
            continue
        writable = d.startswith(home + "/") or (root is not None and (d == root or d.startswith(root + "/")))
        out.append(Mount(d, d, not writable, line=True))
    return sorted(out, key=lambda m: m.target.count("/"))  # a parent before what it holds


def project_root(cwd: str, home: str, exists: Callable[[str], bool]) -> str | None:
    """The nearest directory at or above `cwd` holding `.git` or vectra-guard.yaml, below $HOME's level."""
    d = cwd.rstrip("/") or "/"
    while not workdir_shelters_home(d, home):
        if exists(f"{d}/.git") or exists(f"{d}/vectra-guard.yaml"):
            return d
        d = d.rsplit("/", 1)[0] or "/"
    return None


def toolchain_dirs(path: str, home: str) -> tuple[str, ...]:
    """The directories under $HOME that the host's PATH runs tools from (pyenv, nvm, rustup, ~/.local/bin).

    A sandbox with a fresh $HOME would lose them; a sandbox that shares the host's root binds them
    read-only so `pip`, `node` and `cargo` are the user's own. A tool's whole top directory is bound
    (shims need their libexec and versions), except for data directories where only the PATH entry is.
    """
    root = home.rstrip("/") + "/"
    out: dict[str, None] = {}
    for entry in path.split(":"):
        if not entry.startswith(root) or "/../" in entry + "/":
            continue
        rel = entry[len(root):].rstrip("/")
        top = rel.split("/", 1)[0]
        if not top or any(rel == d or rel.startswith(d + "/") for d in SECRET_DIRS):
            continue
        out[root + (rel if top in _NOT_TOOLCHAINS or not top.startswith(".") else top)] = None
    return tuple(out)


def _image(configured: str, ecosystems: tuple[str, ...], set_by_user: bool) -> str:
    if set_by_user:
        return configured
    return next((ECOSYSTEM_IMAGES[e] for e in ecosystems if e in ECOSYSTEM_IMAGES), configured)


def _cache_mounts(cfg: Config, facts: HostFacts) -> list[Mount]:
    if not cfg.sandbox.enable_cache:
        return []
    read_only = cfg.sandbox.security_level == "paranoid"
    out = [Mount(path, path, read_only) for path, _ in facts.cache_dirs]
    for entry in cfg.sandbox.cache_dirs:
        host, _, target = entry.partition(":")
        host = _home(host, facts.home)
        out.append(Mount(host, _home(target, facts.home) if target else host, read_only))
    return out


def _bind_mounts(cfg: Config) -> list[Mount]:
    return [Mount(b.host_path, b.container_path or b.host_path, b.read_only) for b in cfg.sandbox.bind_mounts]


def _home(path: str, home: str) -> str:
    return home + path[1:] if path.startswith("~") else path


def _dedupe(mounts: tuple[Mount, ...]) -> tuple[Mount, ...]:
    seen: dict[str, Mount] = {}
    for m in mounts:
        seen.setdefault(m.target, m)
    return tuple(seen.values())


def _environment(cfg: Config, facts: HostFacts, network: str) -> tuple[tuple[str, str], ...]:
    env: dict[str, str] = {}
    for name in (*cfg.sandbox.env_whitelist, *PROXY_VARS):
        if name in facts.env:
            env[name] = facts.env[name]
    env.update(facts.cache_env)
    if network == "restricted":  # the host's own proxy is the egress proxy's business, not the sandbox's
        for name in ("ALL_PROXY", "all_proxy"):
            env.pop(name, None)
        env.update(EGRESS_ENV)
        for name in _JAVA_OPTS:
            env[name] = f"{env[name]} {_JAVA_PROXY}" if env.get(name) else _JAVA_PROXY
    if network == "none":
        env.update(NETWORK_OFF_ENV)
    env["HOME"] = facts.home
    env.setdefault("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
    if facts.tty:
        env.setdefault("TERM", facts.env.get("TERM", "xterm-256color"))
    env["VG_SANDBOX"] = "1"
    return tuple(sorted(env.items()))
