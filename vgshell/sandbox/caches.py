"""Package-manager caches (SPEC §5): which host directories a sandboxed install should reuse.

The table is data: ecosystem → (host cache paths, the variable that tells the tool inside where it is,
the variable the user may already have set on the host to move it). Pure: the environment is passed in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class CacheSpec:
    paths: tuple[str, ...]  # relative to $HOME unless absolute
    env_var: str  # set inside the sandbox so the tool finds the mount
    override: str | None = None  # the host variable that relocates this cache, honoured when set


CACHES: dict[str, tuple[CacheSpec, ...]] = {
    "npm": (CacheSpec((".npm",), "npm_config_cache", "npm_config_cache"),),
    "yarn": (CacheSpec((".cache/yarn",), "YARN_CACHE_FOLDER", "YARN_CACHE_FOLDER"),
             CacheSpec((".yarn/berry",), "YARN_GLOBAL_FOLDER", "YARN_GLOBAL_FOLDER")),
    "pnpm": (CacheSpec((".local/share/pnpm/store",), "npm_config_store_dir", "npm_config_store_dir"),),
    "pip": (CacheSpec((".cache/pip",), "PIP_CACHE_DIR", "PIP_CACHE_DIR"),),
    "poetry": (CacheSpec((".cache/pypoetry",), "POETRY_CACHE_DIR", "POETRY_CACHE_DIR"),
               CacheSpec((".cache/pip",), "PIP_CACHE_DIR", "PIP_CACHE_DIR")),
    "uv": (CacheSpec((".cache/uv",), "UV_CACHE_DIR", "UV_CACHE_DIR"),),
    "cargo": (CacheSpec((".cargo/registry", ".cargo/git"), "CARGO_HOME", "CARGO_HOME"),),
    "go": (CacheSpec(("go/pkg/mod",), "GOMODCACHE", "GOMODCACHE"),
           CacheSpec((".cache/go-build",), "GOCACHE", "GOCACHE")),
    "gem": (CacheSpec((".gem",), "GEM_HOME", "GEM_HOME"),),
    "bundler": (CacheSpec((".bundle",), "BUNDLE_PATH", "BUNDLE_PATH"),
                CacheSpec((".gem",), "GEM_HOME", "GEM_HOME")),
    "maven": (CacheSpec((".m2",), "MAVEN_OPTS"),),
    "gradle": (CacheSpec((".gradle",), "GRADLE_USER_HOME", "GRADLE_USER_HOME"),),
}


def cache_paths(ecosystems: tuple[str, ...], home: str, env: Mapping[str, str]) -> tuple[str, ...]:
    """Host cache directories for `ecosystems`, honouring the user's overrides; duplicates removed."""
    out: list[str] = []
    for eco in ecosystems:
        for spec in CACHES.get(eco, ()):
            override = env.get(spec.override) if spec.override else None
            if override:
                out.append(override)
                continue
            out.extend(p if p.startswith("/") else f"{home.rstrip('/')}/{p}" for p in spec.paths)
    return tuple(dict.fromkeys(out))
