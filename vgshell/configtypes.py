"""The config values: one frozen dataclass per section of `vectra-guard.yaml`, and `Config` holding them
with where each value came from and what loading decided (`Layers`). Built by `vgshell.config`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

from vgshell.schema import CI_RUNTIME_ORDER, DEV_RUNTIME_ORDER, LEVEL_NETWORK, STRATEGY_TTL, BindMount, duration_seconds


@dataclass(frozen=True)
class GuardLevelConfig:
    level: str
    allow_user_bypass: bool
    bypass_env_var: str
    require_approval_above: str | None


@dataclass(frozen=True)
class SandboxConfig:
    enabled: bool
    mode: str
    runtime: str
    runtime_order: tuple[str, ...] | None
    auto_detect_env: bool
    prefer_fast: bool
    image: str
    timeout: int
    security_level: str
    network_mode: str | None
    network_allowlist: tuple[str, ...]
    seccomp_profile: str | None
    env_whitelist: tuple[str, ...]
    bind_mounts: tuple[BindMount, ...]
    project_writes: str
    enable_cache: bool
    cache_dirs: tuple[str, ...]
    cache_strategy: str | None
    cache_ttl: int | None
    cache_invalidation: str | None
    cache_readonly_only: bool
    cache_failures: bool
    never_cache: tuple[str, ...]
    cache_key_env: tuple[str, ...]
    cache_max_mb: int
    log_output: bool

    @property
    def effective_mode(self) -> str:
        """`mode`, except `never` when the sandbox is disabled."""
        return self.mode if self.enabled else "never"

    @property
    def effective_network_mode(self) -> str:
        """`network_mode`, or the security level's network when it is null."""
        return self.network_mode or LEVEL_NETWORK[self.security_level]

    @property
    def effective_cache_ttl(self) -> int | None:
        """Result-cache TTL in seconds; None when the result cache is off."""
        strategy = self.cache_strategy or ("smart" if self.enable_cache else "off")
        if strategy == "off":
            return None
        return self.cache_ttl or STRATEGY_TTL[strategy]

    def auto_order(self, in_ci: bool) -> tuple[str, ...]:
        """The order `auto` tries without runtime_order: CI's, else the developer machine's (fastest first
        unless prefer_fast is off)."""
        if in_ci and self.auto_detect_env:
            return CI_RUNTIME_ORDER
        return DEV_RUNTIME_ORDER if self.prefer_fast else CI_RUNTIME_ORDER

    def runtime_candidates(self, in_ci: bool) -> tuple[str, ...]:
        """Runtimes to try, in order: the chosen one first (unless `auto`), then the fallback order."""
        order = self.runtime_order or self.auto_order(in_ci)
        if self.runtime == "auto":
            return tuple(order)
        return (self.runtime, *(name for name in order if name != self.runtime))


@dataclass(frozen=True)
class PoliciesConfig:
    allowlist: tuple[str, ...]
    denylist: tuple[str, ...]
    monitor_git_ops: bool
    block_force_git: bool
    detect_prod_env: bool
    prod_env_patterns: tuple[str, ...]
    only_destructive_sql: bool


@dataclass(frozen=True)
class TrustConfig:
    default_expiry: str | None
    store_path: str | None

    @property
    def default_expiry_seconds(self) -> int | None:
        return None if self.default_expiry is None else duration_seconds(self.default_expiry)


@dataclass(frozen=True)
class PromptConfig:
    timeout: int | None


@dataclass(frozen=True)
class MetricsConfig:
    enabled: bool


@dataclass(frozen=True)
class RulesConfig:
    disabled: tuple[str, ...]
    paths: tuple[str, ...]


@dataclass(frozen=True)
class LoggingConfig:
    format: str


@dataclass(frozen=True)
class EnvProtectionConfig:
    enabled: bool
    masking_mode: str
    protected_vars: tuple[str, ...]
    allow_read_vars: tuple[str, ...]
    fake_values: Mapping[str, str]
    block_env_access: bool
    block_dotenv_read: bool


@dataclass(frozen=True)
class ProductionIndicatorsConfig:
    branches: tuple[str, ...]
    keywords: tuple[str, ...]


@dataclass(frozen=True)
class CveConfig:
    enabled: bool
    sources: tuple[str, ...]
    update_interval_hours: int


@dataclass(frozen=True)
class Ignored:
    """A project setting left out: it loosens what the layers below set and the file is not approved."""

    name: str
    where: str  # file:line


@dataclass(frozen=True)
class Layers:
    """What loading decided besides the values, for notices, `vg status` and `vg config status`.

    `managed` maps each key the managed file sets to (value, where): nothing below may loosen it. `closed`
    is the managed file's error when it cannot be read: then every key is held at its tightest.
    `disable_critical` says `rules.disabled` came from the user or managed file, the only places allowed
    to switch off a critical rule.
    """

    project: str | None = None
    project_sha256: str | None = None
    approved: bool = False
    ignored: tuple[Ignored, ...] = ()
    managed_file: str | None = None
    managed: Mapping[str, tuple[object, str]] = field(default_factory=lambda: MappingProxyType({}))
    closed: str | None = None
    problems: tuple[str, ...] = ()
    disable_critical: bool = True


NO_LAYERS: Final = Layers()


@dataclass(frozen=True)
class Config:
    """The merged config. `sources` maps every dotted key to where its value came from."""

    guard_level: GuardLevelConfig
    sandbox: SandboxConfig
    policies: PoliciesConfig
    trust: TrustConfig
    prompt: PromptConfig
    metrics: MetricsConfig
    rules: RulesConfig
    logging: LoggingConfig
    env_protection: EnvProtectionConfig
    production_indicators: ProductionIndicatorsConfig
    cve: CveConfig
    sources: Mapping[str, str] = field(compare=False)
    layers: Layers = field(default_factory=lambda: NO_LAYERS, compare=False)

    def get(self, name: str) -> object:
        """The value of a dotted key, e.g. `cfg.get("sandbox.mode")`."""
        section, leaf = name.split(".", 1)
        return getattr(getattr(self, section), leaf)


SECTION_TYPES: Final[Mapping[str, Callable[..., object]]] = MappingProxyType(
    {
        "guard_level": GuardLevelConfig,
        "sandbox": SandboxConfig,
        "policies": PoliciesConfig,
        "trust": TrustConfig,
        "prompt": PromptConfig,
        "metrics": MetricsConfig,
        "rules": RulesConfig,
        "logging": LoggingConfig,
        "env_protection": EnvProtectionConfig,
        "production_indicators": ProductionIndicatorsConfig,
        "cve": CveConfig,
    }
)
