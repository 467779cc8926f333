"""Package-manager caches (SPEC §5): which host directories a sandboxed install should reuse.

The table is data: ecosystem → the cache directories (relative to $HOME unless absolute), the variable
that tells the tool inside the sandbox where its cache is, and the host variable a user may have set to
move it. `locate()` (at the edge) also asks the tool itself when it is installed (`npm config get cache`,
`pip cache dir`, …) and remembers the answer, so a relocated cache is found without env variables.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class CacheSpec:
    paths: tuple[str, ...]  # relative to $HOME unless absolute
    env_var: str  # set inside the sandbox so the tool finds the mount
    override: str | None = None  # the host variable that relocates this cache, honoured when set
    ask: tuple[str, ...] = ()  # the tool's own command that prints the cache location


CACHES: dict[str, tuple[CacheSpec, ...]] = {
    "npm": (CacheSpec((".npm",), "npm_config_cache", "npm_config_cache", ("npm", "config", "get", "cache")),),
    "yarn": (CacheSpec((".cache/yarn",), "YARN_CACHE_FOLDER", "YARN_CACHE_FOLDER", ("yarn", "cache", "dir")),
             CacheSpec((".yarn/berry",), "YARN_GLOBAL_FOLDER", "YARN_GLOBAL_FOLDER")),
    "pnpm": (CacheSpec((".local/share/pnpm/store",), "npm_config_store_dir", "npm_config_store_dir",
                       ("pnpm", "store", "path")),),
    "pip": (CacheSpec((".cache/pip",), "PIP_CACHE_DIR", "PIP_CACHE_DIR", ("pip", "cache", "dir")),),
    "poetry": (CacheSpec((".cache/pypoetry",), "POETRY_CACHE_DIR", "POETRY_CACHE_DIR"),
               CacheSpec((".cache/pip",), "PIP_CACHE_DIR", "PIP_CACHE_DIR", ("pip", "cache", "dir"))),
    "uv": (CacheSpec((".cache/uv",), "UV_CACHE_DIR", "UV_CACHE_DIR", ("uv", "cache", "dir")),),
    "cargo": (CacheSpec((".cargo/registry", ".cargo/git"), "CARGO_HOME", "CARGO_HOME"),),
    "go": (CacheSpec(("go/pkg/mod",), "GOMODCACHE", "GOMODCACHE", ("go", "env", "GOMODCACHE")),
           CacheSpec((".cache/go-build",), "GOCACHE", "GOCACHE", ("go", "env", "GOCACHE"))),
    "gem": (CacheSpec((".gem",), "GEM_HOME", "GEM_HOME"),),
    "bundler": (CacheSpec((".bundle",), "BUNDLE_PATH", "BUNDLE_PATH"),
                CacheSpec((".gem",), "GEM_HOME", "GEM_HOME")),
    "maven": (CacheSpec((".m2",), "MAVEN_OPTS"),),
    "gradle": (CacheSpec((".gradle",), "GRADLE_USER_HOME", "GRADLE_USER_HOME"),),
}


def cache_paths(ecosystems: tuple[str, ...], home: str, env: Mapping[str, str]) -> tuple[str, ...]:
    """Host cache directories for `ecosystems` by the table and env overrides (pure; no tool is asked)."""
    return tuple(dict.fromkeys(p for p, _ in _entries(ecosystems, home, env, {})))


def _entries(ecosystems: tuple[str, ...], home: str, env: Mapping[str, str],
             answers: Mapping[str, str]) -> list[tuple[str, CacheSpec]]:
    out: list[tuple[str, CacheSpec]] = []
    for eco in ecosystems:
        for spec in CACHES.get(eco, ()):
            override = env.get(spec.override) if spec.override else None
            asked = answers.get(" ".join(spec.ask)) if spec.ask else None
            if override:
                out.append((override, spec))
            elif asked:
                out.append((asked, spec))
            else:
                out.extend((p if p.startswith("/") else f"{home.rstrip('/')}/{p}", spec) for p in spec.paths)
    return out


def sandbox_env(spec: CacheSpec, path: str) -> tuple[str, str]:
    """The variable (and value) that points the tool inside the sandbox at the mounted cache."""
    if spec.env_var == "CARGO_HOME":
        return spec.env_var, str(Path(path).parent)
    if spec.env_var == "MAVEN_OPTS":
        return spec.env_var, f"-Dmaven.repo.local={path}/repository"
    return spec.env_var, path


def locate(ecosystems: tuple[str, ...], home: str, env: Mapping[str, str],
           memo: Path | None) -> tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]]:
    """(host cache dir, env var) pairs and the env the sandbox needs; missing directories are created."""
    answers = _ask_tools(ecosystems, env, memo)
    dirs: list[tuple[str, str]] = []
    sandbox: dict[str, str] = {}
    for path, spec in _entries(ecosystems, home, env, answers):
        try:
            Path(path).mkdir(parents=True, exist_ok=True)
        except OSError as e:
            from vgshell.errors import VgError

            raise VgError(f"cannot create the {spec.env_var} cache directory {path}: {e.strerror}; "
                          f"fix its permissions or set sandbox.enable_cache: false") from e
        dirs.append((path, spec.env_var))
        name, value = sandbox_env(spec, path)
        sandbox.setdefault(name, value)
    return tuple(dict.fromkeys(dirs)), tuple(sandbox.items())


_CONTEXT_PREFIXES = ("npm_config_", "NPM_CONFIG_", "PIP_", "UV_", "POETRY_", "CARGO_", "GO", "GEM_", "BUNDLE_",
                     "MAVEN_", "GRADLE_", "XDG_", "YARN_", "PNPM_")
_USER_CONFIGS = (".npmrc", ".yarnrc", ".yarnrc.yml", ".config/pip/pip.conf", ".pip/pip.conf", ".config/uv/uv.toml",
                 ".cargo/config.toml", ".config/go/env", ".gemrc", ".m2/settings.xml", ".gradle/gradle.properties")


def _context_key(env: Mapping[str, str]) -> str:
    """What can change a tool's answer besides the tool: $HOME, its variables, the user's config files."""
    home = env.get("HOME", "")
    parts = [home, *sorted(f"{k}={v}" for k, v in env.items() if k.startswith(_CONTEXT_PREFIXES) or "CACHE" in k)]
    for name in _USER_CONFIGS:
        with contextlib.suppress(OSError):
            parts.append(f"{name}:{os.stat(os.path.join(home, name)).st_mtime_ns}")
    return hashlib.sha256("\0".join(parts).encode("utf-8", "surrogateescape")).hexdigest()[:16]


def _ask_tools(ecosystems: tuple[str, ...], env: Mapping[str, str], memo: Path | None) -> dict[str, str]:
    """Ask each installed tool where its cache is; answers are remembered per tool binary in `memo`."""
    known: dict[str, str] = {}
    if memo is not None:
        try:
            known = json.loads(memo.read_text())
        except (OSError, ValueError):
            known = {}
    changed = False
    answers: dict[str, str] = {}
    context = _context_key(env)
    for eco in ecosystems:
        for spec in CACHES.get(eco, ()):
            if not spec.ask:
                continue
            binary = shutil.which(spec.ask[0], path=env.get("PATH"))
            if binary is None:
                continue
            key = f"{' '.join(spec.ask)}@{binary}:{os.stat(binary).st_mtime_ns}:{context}"
            if key not in known:
                known[key] = _run_quietly(spec.ask, env)
                changed = True
            if known[key]:
                answers[" ".join(spec.ask)] = known[key]
    if changed and memo is not None:
        try:
            memo.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            memo.write_text(json.dumps(known))
        except OSError:
            pass
    return answers


def _run_quietly(argv: tuple[str, ...], env: Mapping[str, str]) -> str:
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=10, env=dict(env), check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    value = r.stdout.strip().splitlines()[-1] if r.returncode == 0 and r.stdout.strip() else ""
    return value if value.startswith("/") else ""
