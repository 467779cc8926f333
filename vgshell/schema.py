"""The config schema as data: every key of `vectra-guard.yaml`, its type, default, choices, meaning, and
which way its values tighten or loosen the guard (`Key.tighter`, acted on by `vgshell.tighten`).

Key names are Vectra Guard's, so its users' files keep working. Keys Vectra Guard had but vgshell does not
act on yet are still accepted (and validated) and say so in their description (`acted_on=False`).
`config.py` loads and validates against this table; `docs/configuration.md` is generated from it.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

Value = object

# The kinds of direction.
RANK: Final = "rank"  # an ordered value: `order` lists the values loosest first
FEWER: Final = "fewer"  # a list where every entry widens something (allowlist, mounts): a new entry loosens
MORE: Final = "more"  # a list where every entry guards something (denylist): dropping an entry loosens
UNSET: Final = "unset"  # null is the guarded choice; any other value than the one below loosens
SHORTER: Final = "shorter"  # a duration; longer loosens and null (never) is the loosest
KINDS: Final = (RANK, FEWER, MORE, UNSET, SHORTER)
QUOTE: Final = "'"


@dataclass(frozen=True)
class Direction:
    """How a key's value tightens or loosens the guard.

    `order` (RANK): the values, loosest first. `null_from` (RANK, nullable keys): a null value ranks as
    `mapping[value of key]`, e.g. a null `sandbox.network_mode` is the security level's network.
    `inside_project` (FEWER, entries `HOST[:CONTAINER]`): a new entry whose host path lies inside the
    project does not loosen.
    """

    kind: str
    order: tuple[object, ...] = ()
    null_from: tuple[str, Mapping[str, str]] | None = None
    inside_project: bool = False

    def __post_init__(self) -> None:
        assert self.kind in KINDS, self.kind
        assert (self.kind == RANK) == bool(self.order), self.kind

    def describe(self) -> str:
        """The direction in one phrase, for docs/configuration.md."""
        if self.kind == RANK:
            text = " < ".join(f"`{show(v).strip(QUOTE)}`" for v in self.order) + " (right is tighter)"
            if self.null_from is not None:
                text += f"; null counts as the `{self.null_from[0]}`'s"
            return text
        return {
            FEWER: "fewer entries; each new entry loosens" + (
                " (unless its host path is inside the project)" if self.inside_project else ""),
            MORE: "more entries; dropping one loosens",
            UNSET: "null; any other value loosens",
            SHORTER: "shorter; longer loosens, null (never expires) is loosest",
        }[self.kind]


@dataclass(frozen=True)
class Key:
    """One config setting. `type` is one of TYPES; `choices` lists enum values (aliases included)."""

    name: str
    type: str
    default: Value
    description: str
    choices: tuple[str, ...] = ()
    nullable: bool = False
    minimum: int | None = None
    value_aliases: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    acted_on: bool = True
    tighter: Direction | None = None  # None: the value neither tightens nor loosens the guard

    @property
    def section(self) -> str:
        return self.name.split(".", 1)[0]

    @property
    def leaf(self) -> str:
        return self.name.split(".", 1)[1]


TYPES: Final = (
    "bool", "int", "str", "enum", "path", "duration",
    "list[str]", "list[enum]", "list[host]", "list[bind_mount]", "map[str,str]",
)  # fmt: skip

GUARD_LEVELS: Final = ("off", "low", "medium", "high", "paranoid")
SANDBOX_MODES: Final = ("always", "auto", "risky", "never")
RUNTIMES: Final = ("bubblewrap", "docker", "podman")
SECURITY_LEVELS: Final = ("permissive", "balanced", "strict", "paranoid")
NETWORK_MODES: Final = ("none", "restricted", "full")
PROJECT_WRITES: Final = ("direct", "review", "discard")  # loosest first
CACHE_STRATEGIES: Final = ("smart", "aggressive", "conservative")
RISK_LEVELS: Final = ("low", "medium", "high", "critical")

DEV_RUNTIME_ORDER: Final = ("bubblewrap", "docker", "podman")
CI_RUNTIME_ORDER: Final = ("docker", "podman", "bubblewrap")
LEVEL_NETWORK: Final = MappingProxyType(
    {"permissive": "full", "balanced": "restricted", "strict": "restricted", "paranoid": "none"}
)
STRATEGY_TTL: Final = MappingProxyType({"smart": 3600, "aggressive": 86400, "conservative": 300})

_PROCESS = MappingProxyType({"process": "bubblewrap"})

# Which way each guarding key tightens (see `Key.tighter`); a key without one is neither.
_RAISE_LEVEL = Direction(RANK, GUARD_LEVELS)
_ON = Direction(RANK, (False, True))
_OFF = Direction(RANK, (True, False))
_WIDENS = Direction(FEWER)
_GUARDS = Direction(MORE)
_NULL = Direction(UNSET)
_CACHE_ON = MappingProxyType({"True": "smart", "False": "off"})  # a null cache_strategy by enable_cache
_STRATEGY_INVALIDATION = MappingProxyType({"aggressive": "manual", "smart": "auto", "conservative": "auto",
                                           "off": "auto", "None": "auto"})
_PROD_WORDS = ("prod", "production", "prd", "live", "staging", "stg")

DEFAULT_ENV_WHITELIST: Final = (
    "PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE",
    "TERM", "COLORTERM", "NO_COLOR", "TZ", "CI",
)  # fmt: skip

CACHE_KEY_ENV: Final = (
    "PATH", "NODE_ENV", "PYTHONPATH", "VIRTUAL_ENV", "PIP_INDEX_URL", "npm_config_registry", "GOFLAGS",
    "RAILS_ENV",
)  # fmt: skip

SECTIONS: Final = MappingProxyType(
    {
        "guard_level": "Which risk levels need a human's approval (§3).",
        "sandbox": "When and how commands are rerouted into a sandbox (§3, §4, §5, §8).",
        "policies": "Your own allow and deny patterns (§3).",
        "trust": "The store of approved-and-remembered commands (§6).",
        "prompt": "The y / r / n approval prompt (§6).",
        "metrics": "Recording of decisions and executions (§7).",
        "rules": "The risk rule packs (§2).",
        "logging": "Vectra Guard's log format.",
        "env_protection": "Vectra Guard's environment-variable masking.",
        "production_indicators": "Vectra Guard's hints for detecting a production context.",
        "cve": "Vectra Guard's vulnerability-database lookups.",
    }
)

SCHEMA: Final[tuple[Key, ...]] = (
    # guard_level
    Key("guard_level.level", "enum", "medium",
        "Which levels need approval: off/low none, medium high, high medium+high, paranoid everything; "
        "critical is blocked at every level. Vectra Guard's `auto` is read as `medium`.",
        choices=(*GUARD_LEVELS, "auto"), value_aliases=MappingProxyType({"auto": "medium"}), tighter=_RAISE_LEVEL),
    Key("guard_level.allow_user_bypass", "bool", True,
        "Vectra Guard: let the bypass variable lower the guard level.", acted_on=False),
    Key("guard_level.bypass_env_var", "str", "VECTRAGUARD_BYPASS",
        "Vectra Guard: name of the bypass variable.", acted_on=False),
    Key("guard_level.require_approval_above", "enum", None,
        "Vectra Guard: approval threshold; guard_level.level decides instead.",
        choices=RISK_LEVELS, nullable=True, acted_on=False),
    # sandbox
    Key("sandbox.enabled", "bool", True, "Use a sandbox at all; `false` is the same as mode `never`.", tighter=_ON),
    Key("sandbox.mode", "enum", "auto",
        "When to sandbox: always (all but shell-state builtins), auto (medium/high risk or networked "
        "install), risky (high only), never.", choices=SANDBOX_MODES,
        tighter=Direction(RANK, ("never", "risky", "auto", "always"))),
    Key("sandbox.runtime", "enum", "auto",
        "Sandbox runtime; `auto` picks the first that works (see runtime_order). `process` is Vectra "
        "Guard's name for bubblewrap.", choices=("auto", *RUNTIMES, "process"), value_aliases=_PROCESS),
    Key("sandbox.runtime_order", "list[enum]", None,
        "Fallback order when the chosen runtime is unavailable; null = bubblewrap, docker, podman "
        "(docker, podman, bubblewrap when `CI` is set).",
        choices=(*RUNTIMES, "process"), nullable=True, value_aliases=_PROCESS),
    Key("sandbox.auto_detect_env", "bool", True,
        "Vectra Guard: for `runtime: auto`, tell CI (`CI` set: docker, podman, bubblewrap) from a developer "
        "machine; false = the developer machine's order everywhere. runtime_order overrides both."),
    Key("sandbox.prefer_fast", "bool", True,
        "Vectra Guard: for `runtime: auto` on a developer machine, the fastest runtime first (bubblewrap: no "
        "daemon, ~10 ms); false = the container engines first (docker, podman, bubblewrap)."),
    Key("sandbox.image", "str", "ubuntu:22.04",
        "Docker/Podman image. While unset, package-manager commands get a per-ecosystem image."),
    Key("sandbox.timeout", "int", 300,
        "Seconds before the sandbox is killed (exit 124).", minimum=1),
    Key("sandbox.security_level", "enum", "balanced",
        "Isolation preset: network, read-only root, memory, cpus, pids, capabilities (§4).",
        choices=SECURITY_LEVELS, tighter=Direction(RANK, SECURITY_LEVELS)),
    Key("sandbox.network_mode", "enum", None,
        "Overrides the security level's network; null = the level's (permissive full, balanced and "
        "strict restricted, paranoid none).", choices=NETWORK_MODES, nullable=True,
        tighter=Direction(RANK, ("full", "restricted", "none"), ("sandbox.security_level", LEVEL_NETWORK))),
    Key("sandbox.network_allowlist", "list[host]", (),
        "Extra hosts reachable in `restricted` network mode, besides the registries of the detected "
        "package managers: exact names (`git.example.com`), `*.domain` for its subdomains, or IP "
        "addresses (only reachable when listed).", tighter=_WIDENS),
    Key("sandbox.seccomp_profile", "path", None,
        "JSON seccomp profile for docker/podman; null = the runtime's default.", nullable=True, tighter=_NULL),
    Key("sandbox.env_whitelist", "list[str]", DEFAULT_ENV_WHITELIST,
        "Environment variables passed into the sandbox; all others are dropped.", tighter=_WIDENS),
    Key("sandbox.bind_mounts", "list[bind_mount]", (),
        "Extra mounts: a list of {host_path, container_path (default host_path), read_only (default "
        "false)}.", tighter=_WIDENS),
    Key("sandbox.project_writes", "enum", "direct",
        "What a sandboxed command's writes to the project do: `direct` land in the project; `review` land "
        "in an overlay and are shown afterwards to apply, discard or keep (`vg changes`); `discard` land in "
        "an overlay that is thrown away.", choices=PROJECT_WRITES, tighter=Direction(RANK, PROJECT_WRITES)),
    Key("sandbox.enable_cache", "bool", True,
        "Mount the detected package managers' host caches into the sandbox (§5).", tighter=_OFF),
    Key("sandbox.cache_dirs", "list[str]", (),
        "Extra cache mounts, each `HOST` or `HOST:CONTAINER`.", tighter=Direction(FEWER, inside_project=True)),
    Key("sandbox.cache_strategy", "enum", None,
        "Result cache (§8): replay unchanged sandboxed commands. smart: package-manager lines, invalidated when "
        "an input changes; aggressive: any sandboxed line, manual invalidation; conservative: read-only lines; "
        "null = smart while enable_cache is on, else off.", choices=(*CACHE_STRATEGIES, "off"), nullable=True,
        tighter=Direction(RANK, ("aggressive", "smart", "conservative", "off"), ("sandbox.enable_cache", _CACHE_ON))),
    Key("sandbox.cache_ttl", "int", None,
        "Result-cache lifetime in seconds; null = the strategy's (smart 3600, aggressive 86400, "
        "conservative 300).", nullable=True, minimum=1),
    Key("sandbox.cache_invalidation", "enum", None,
        "auto: a changed input file (manifest, lock file, a file the line names) is a miss; manual: only the TTL "
        "and `vg cache` end an entry; null = the strategy's (aggressive manual, else auto).",
        choices=("auto", "manual"), nullable=True,
        tighter=Direction(RANK, ("manual", "auto"), ("sandbox.cache_strategy", _STRATEGY_INVALIDATION))),
    Key("sandbox.cache_readonly_only", "bool", False,
        "Record only runs that wrote nothing (always so under conservative).", tighter=_ON),
    Key("sandbox.cache_failures", "bool", False,
        "Record runs that exited non-zero too.", tighter=_OFF),
    Key("sandbox.never_cache", "list[str]", (),
        "Shell-glob patterns over the normalized command that are never recorded or replayed.", tighter=_GUARDS),
    Key("sandbox.cache_key_env", "list[str]", CACHE_KEY_ENV,
        "Environment variables whose values are part of the result-cache key.", tighter=_GUARDS),
    Key("sandbox.cache_max_mb", "int", 2048,
        "Result-cache size bound in MiB; least recently used entries are evicted past it.", minimum=1),
    Key("sandbox.log_output", "bool", False,
        "Vectra Guard: log sandboxed commands' output.", acted_on=False),
    # policies
    Key("policies.allowlist", "list[str]", (),
        "Shell-glob patterns over the normalized command that run on the host (never for critical).", tighter=_WIDENS),
    Key("policies.denylist", "list[str]", (),
        "Shell-glob patterns over the normalized command that are treated as high risk.", tighter=_GUARDS),
    Key("policies.monitor_git_ops", "bool", True,
        "Vectra Guard: watch git operations; the git rules always do.", acted_on=False),
    Key("policies.block_force_git", "bool", True,
        "Vectra Guard: block `git push --force`; the git rules score it instead.", acted_on=False),
    Key("policies.detect_prod_env", "bool", True,
        "Vectra Guard: look for production hints in commands.", acted_on=False),
    Key("policies.prod_env_patterns", "list[str]", _PROD_WORDS,
        "Vectra Guard: words that mark a production target.", acted_on=False),
    Key("policies.only_destructive_sql", "bool", True,
        "Vectra Guard: flag only destructive SQL; the SQL rules do so always.", acted_on=False),
    # trust
    Key("trust.default_expiry", "duration", None,
        "How long a remembered approval lasts, like 30m, 12h, 7d or 2w; null = until removed.",
        nullable=True, tighter=Direction(SHORTER)),
    Key("trust.store_path", "path", None,
        "Trust store file; null = `<state dir>/trust.json`. Vectra Guard: `sandbox.trust_store_path`.",
        nullable=True, tighter=_NULL),
    # prompt
    Key("prompt.timeout", "int", None,
        "Seconds to wait for an answer before it counts as `n`; null = wait.", nullable=True, minimum=1),
    # metrics
    Key("metrics.enabled", "bool", True,
        "Record decisions and executions for `vg metrics` and `vg audit`. Vectra Guard: "
        "`sandbox.enable_metrics`.", tighter=_ON),
    # rules
    Key("rules.disabled", "list[str]", (), "Rule ids to switch off, like `git.push-force`.", tighter=_WIDENS),
    Key("rules.paths", "list[str]", (), "Extra rule-pack YAML files, loaded after the built-in packs.",
        tighter=_WIDENS),
    # Vectra Guard sections vgshell does not use yet
    Key("logging.format", "enum", "text", "Vectra Guard: log format.", choices=("text", "json"),
        acted_on=False),
    Key("env_protection.enabled", "bool", False, "Vectra Guard: mask secret variables.", acted_on=False),
    Key("env_protection.masking_mode", "enum", "partial", "Vectra Guard: how values are masked.",
        choices=("full", "partial", "hash", "fake"), acted_on=False),
    Key("env_protection.protected_vars", "list[str]", (), "Vectra Guard: variables to mask.",
        acted_on=False),
    Key("env_protection.allow_read_vars", "list[str]",
        ("HOME", "USER", "PATH", "SHELL", "TERM", "LANG", "PWD"),
        "Vectra Guard: variables that may be read.", acted_on=False),
    Key("env_protection.fake_values", "map[str,str]", MappingProxyType({}),
        "Vectra Guard: replacement values for `fake` masking.", acted_on=False),
    Key("env_protection.block_env_access", "bool", False, "Vectra Guard: block reads of secret variables.",
        acted_on=False),
    Key("env_protection.block_dotenv_read", "bool", True,
        "Vectra Guard: block reads of `.env`; the secrets rules score them instead.", acted_on=False),
    Key("production_indicators.branches", "list[str]", ("main", "master", "production", "release"),
        "Vectra Guard: git branches that mean production.", acted_on=False),
    Key("production_indicators.keywords", "list[str]", _PROD_WORDS,
        "Vectra Guard: words in paths and hosts that mean production.", acted_on=False),
    Key("cve.enabled", "bool", False, "Vectra Guard: look dependencies up in CVE databases.",
        acted_on=False),
    Key("cve.sources", "list[str]", ("osv",), "Vectra Guard: CVE databases to ask.", acted_on=False),
    Key("cve.update_interval_hours", "int", 24, "Vectra Guard: hours between database updates.",
        minimum=1, acted_on=False),
)  # fmt: skip

KEYS: Final = MappingProxyType({key.name: key for key in SCHEMA})

# Vectra Guard's names for settings that live elsewhere here: a file may use either name.
KEY_ALIASES: Final = MappingProxyType(
    {"sandbox.enable_metrics": "metrics.enabled", "sandbox.trust_store_path": "trust.store_path"}
)

# Environment overrides, lowest precedence first: a later variable wins over an earlier one.
ENV_OVERRIDES: Final[tuple[tuple[str, str], ...]] = (
    ("VECTRA_GUARD_LEVEL", "guard_level.level"),
    ("VG_GUARD_LEVEL", "guard_level.level"),
    ("VG_MODE", "sandbox.mode"),
    ("VG_RUNTIME", "sandbox.runtime"),
    ("VG_SECURITY_LEVEL", "sandbox.security_level"),
    ("VG_NETWORK_MODE", "sandbox.network_mode"),
    ("VG_PROJECT_WRITES", "sandbox.project_writes"),
    ("VG_IMAGE", "sandbox.image"),
    ("VG_TIMEOUT", "sandbox.timeout"),
)

BIND_MOUNT_FIELDS: Final = ("host_path", "container_path", "read_only")

_DURATION = re.compile(r"([1-9][0-9]*)([smhdw])")
DURATION_SECONDS: Final = MappingProxyType({"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800})


def duration_seconds(text: str) -> int | None:
    """`30m` → 1800; None when `text` is not a duration (digits then one of s, m, h, d, w)."""
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        return None
    return int(match.group(1)) * DURATION_SECONDS[match.group(2)]


def section_names() -> tuple[str, ...]:
    return tuple(SECTIONS)


def keys_of(section: str) -> tuple[Key, ...]:
    return tuple(key for key in SCHEMA if key.section == section)


# --- Validation: raw value (from YAML, a mapping or an env var) → normalized value, or Invalid ---------


@dataclass(frozen=True)
class BindMount:
    """One `sandbox.bind_mounts` entry."""

    host_path: str
    container_path: str
    read_only: bool = False


class Invalid(ValueError):
    """A value that does not fit its key. `str()` is the message without a location; `index` is the
    position of the bad item when the value is a list, so the loader can point at that item's line."""

    def __init__(self, message: str, index: int | None = None) -> None:
        super().__init__(message)
        self.index = index


def show(value: object) -> str:
    """A value as the user wrote it: strings quoted, YAML spelling for the rest."""
    if isinstance(value, str):
        return f"'{value}'"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(show(item) for item in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {show(v)}" for k, v in value.items()) + "}"
    return str(value)


def _expected(key: Key) -> str:
    choices = ", ".join(key.choices)
    phrases = {
        "bool": "true or false",
        "int": "an integer",
        "str": "a string",
        "path": "a path",
        "enum": f"one of {choices}",
        "duration": "a duration like 30m, 12h or 7d",
        "list[str]": "a list of strings",
        "list[enum]": f"a list of {choices}",
        "list[host]": "a list of host names like git.example.com or *.example.com",
        "list[bind_mount]": "a list of mounts like {host_path: ~/data, read_only: true}",
        "map[str,str]": "a mapping of names to strings",
    }
    phrase = phrases[key.type]
    if key.nullable:
        phrase += " or null" if key.type == "enum" else ", or null"
    return phrase


def _fail(key: Key, value: object, index: int | None = None) -> Invalid:
    hint = " (write [] for none)" if value is None and key.type.startswith("list") else ""
    return Invalid(f"'{key.name}' must be {_expected(key)}; got {show(value)}{hint}", index)


def _at_least(key: Key, value: int) -> int:
    if key.minimum is None or value >= key.minimum:
        return value
    floor = "a positive integer" if key.minimum == 1 else f"an integer of at least {key.minimum}"
    raise Invalid(f"'{key.name}' must be {floor}; got {value}")


def _scalar(key: Key, value: object) -> object:
    """Check one scalar against a scalar type; returns the normalized value."""
    kind = key.type.removeprefix("list[").removesuffix("]")
    if kind == "bool" and isinstance(value, bool):
        return value
    if kind == "int" and isinstance(value, int) and not isinstance(value, bool):
        return _at_least(key, value)
    if kind in ("str", "path") and isinstance(value, str) and (kind == "str" or value):
        return value
    if kind == "enum" and isinstance(value, str) and value in key.choices:
        return key.value_aliases.get(value, value)
    if kind == "duration" and isinstance(value, str) and duration_seconds(value) is not None:
        return value.strip()
    if kind == "host" and isinstance(value, str) and host_pattern(value) is not None:
        return host_pattern(value)
    raise _fail(key, value)


_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_HOST_NAME = re.compile(rf"(\*\.)?({_LABEL}\.)*{_LABEL}")


def host_pattern(text: str) -> str | None:
    """`text` as an allowlist entry (lower case, no trailing dot), or None when it is not one.

    A wildcard needs at least two labels after `*.` (`*.example.com`, not `*.com`); IPv6 addresses
    may be written with or without brackets.
    """
    value = text.strip().lower().rstrip(".")
    try:
        return str(ipaddress.ip_address(value.removeprefix("[").removesuffix("]")))
    except ValueError:
        pass
    if len(value) > 253 or not _HOST_NAME.fullmatch(value):
        return None
    return None if value.startswith("*.") and value.count(".") < 2 else value


def _items(key: Key, value: object) -> list[object]:
    if not isinstance(value, list | tuple):
        raise _fail(key, value)
    return list(value)


def _list(key: Key, value: object) -> tuple[object, ...]:
    checked: list[object] = []
    for index, item in enumerate(_items(key, value)):
        try:
            checked.append(_scalar(key, item))
        except Invalid:
            raise _bad_item(key, index, item) from None
    return tuple(checked)


def _bad_item(key: Key, index: int, item: object) -> Invalid:
    kinds = {"list[str]": "a string", "list[host]": "a host name like git.example.com or *.example.com "
             "(no scheme, port or path)"}
    kind = kinds.get(key.type) or "one of " + ", ".join(key.choices)
    return Invalid(f"'{key.name}[{index}]' must be {kind}; got {show(item)}", index)


def _bind_mount(key: Key, index: int, item: object) -> BindMount:
    where = f"{key.name}[{index}]"
    if not isinstance(item, Mapping):
        raise Invalid(f"'{where}' must be a mapping like {{host_path: ~/data, read_only: true}}; "
                      f"got {show(item)}", index)  # fmt: skip
    for field_name in item:
        if field_name not in BIND_MOUNT_FIELDS:
            raise Invalid(unknown_key_message(f"{where}.{field_name}", str(field_name), BIND_MOUNT_FIELDS),
                          index)  # fmt: skip
    host, container, read_only = (item.get(name) for name in BIND_MOUNT_FIELDS)
    if host is None:
        raise Invalid(f"'{where}' is missing 'host_path'", index)
    for name, text in (("host_path", host), ("container_path", container)):
        if text is not None and (not isinstance(text, str) or not text):
            raise Invalid(f"'{where}.{name}' must be a path; got {show(text)}", index)
    if read_only is not None and not isinstance(read_only, bool):
        raise Invalid(f"'{where}.read_only' must be true or false; got {show(read_only)}", index)
    assert isinstance(host, str)
    return BindMount(host, container if isinstance(container, str) else host, bool(read_only))


def _bind_mounts(key: Key, value: object) -> tuple[BindMount, ...]:
    return tuple(_bind_mount(key, index, item) for index, item in enumerate(_items(key, value)))


def _string_map(key: Key, value: object) -> Mapping[str, str]:
    if not isinstance(value, Mapping):
        raise _fail(key, value)
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise _fail(key, value)
    return MappingProxyType(dict(value))


def check(key: Key, value: object) -> object:
    """The normalized value of `key` (lists → tuples, aliases resolved), or Invalid."""
    if value is None and key.nullable:
        return None
    if key.type in ("list[str]", "list[enum]", "list[host]"):
        return _list(key, value)
    if key.type == "list[bind_mount]":
        return _bind_mounts(key, value)
    if key.type == "map[str,str]":
        return _string_map(key, value)
    return _scalar(key, value)


def from_text(key: Key, text: str) -> object:
    """An environment variable's text as the raw value `check` expects."""
    if key.nullable and text == "null":
        return None
    if key.type == "int" and re.fullmatch(r"[+-]?[0-9]+", text.strip()):
        return int(text)
    if key.type == "bool" and text.lower() in ("true", "false", "1", "0", "yes", "no"):
        return text.lower() in ("true", "1", "yes")
    if key.type.startswith("list["):
        return [item.strip() for item in text.split(",") if item.strip()]
    return text


def unknown_key_message(name: str, leaf: str, candidates: tuple[str, ...]) -> str:
    """`unknown key 'sandbox.timout' (did you mean 'timeout'?)`, or the valid names when none is close."""
    close = difflib.get_close_matches(leaf, candidates, n=1, cutoff=0.6)
    hint = f"did you mean '{close[0]}'?" if close else "valid: " + ", ".join(candidates)
    return f"unknown key '{name}' ({hint})"
