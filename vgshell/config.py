"""Load, validate and merge `vectra-guard.yaml`; presets are data; the reference doc is generated.

Precedence, lowest first: built-in defaults → `<state dir>/config.yaml` → the nearest `vectra-guard.yaml`
walking up from the working directory → `--config FILE` → environment variables (`schema.ENV_OVERRIDES`).
Each layer sets only the keys it names; a list value replaces the list below it.

Files are named by absolute path in errors and sources: `/abs/vectra-guard.yaml:7`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from vgshell.lazy import LazyModule

if TYPE_CHECKING:
    import yaml
else:
    yaml = LazyModule("yaml")  # only needed when a config file exists

from vgshell.context import Environment
from vgshell.errors import ConfigError
from vgshell.schema import (
    BIND_MOUNT_FIELDS,
    CI_RUNTIME_ORDER,
    DEV_RUNTIME_ORDER,
    ENV_OVERRIDES,
    KEY_ALIASES,
    KEYS,
    LEVEL_NETWORK,
    SCHEMA,
    SECTIONS,
    STRATEGY_TTL,
    BindMount,
    Invalid,
    Key,
    check,
    duration_seconds,
    from_text,
    keys_of,
    show,
    unknown_key_message,
)

__all__ = [
    "DEFAULT_CONFIG",
    "PROJECT_FILE",
    "BindMount",
    "Config",
    "ConfigFile",
    "config_files",
    "config_from_mapping",
    "config_from_yaml",
    "expand_path",
    "load_config",
    "load_preset",
    "preset_names",
    "render_config_show",
    "render_markdown",
    "with_overrides",
    "write_preset",
]

PROJECT_FILE: Final = "vectra-guard.yaml"
USER_FILE: Final = "config.yaml"


# --- The values -------------------------------------------------------------------------------------


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
    image: str
    timeout: int
    security_level: str
    network_mode: str | None
    network_allowlist: tuple[str, ...]
    seccomp_profile: str | None
    env_whitelist: tuple[str, ...]
    bind_mounts: tuple[BindMount, ...]
    enable_cache: bool
    cache_dirs: tuple[str, ...]
    cache_strategy: str | None
    cache_ttl: int | None
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
        if self.cache_strategy is None:
            return None
        return self.cache_ttl or STRATEGY_TTL[self.cache_strategy]

    def runtime_candidates(self, in_ci: bool) -> tuple[str, ...]:
        """Runtimes to try, in order: the chosen one first (unless `auto`), then the fallback order."""
        order = self.runtime_order or (CI_RUNTIME_ORDER if in_ci else DEV_RUNTIME_ORDER)
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

    def get(self, name: str) -> object:
        """The value of a dotted key, e.g. `cfg.get("sandbox.mode")`."""
        section, leaf = name.split(".", 1)
        return getattr(getattr(self, section), leaf)


_SECTION_TYPES: Final[Mapping[str, Callable[..., object]]] = MappingProxyType(
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


def _build(values: Mapping[str, object], sources: Mapping[str, str]) -> Config:
    sections: dict[str, Any] = {
        section: make(**{key.leaf: values[key.name] for key in keys_of(section)})
        for section, make in _SECTION_TYPES.items()
    }
    return Config(**sections, sources=MappingProxyType(dict(sources)))


def _defaults() -> Config:
    values = {key.name: check(key, key.default) for key in SCHEMA}
    return _build(values, {key.name: "default" for key in SCHEMA})


DEFAULT_CONFIG: Final = _defaults()


# --- Merging validated settings -----------------------------------------------------------------------


class Setting(NamedTuple):
    """One validated key from one layer; `where` is the location used in errors and `sources`."""

    name: str
    value: object
    where: str


def _merge(base: Config, settings: Sequence[Setting], label: Callable[[str], str]) -> Config:
    _reject_duplicates(settings)
    values = {key.name: base.get(key.name) for key in SCHEMA}
    sources = dict(base.sources)
    for setting in settings:
        values[setting.name] = setting.value
        sources[setting.name] = label(setting.where)
    return _build(values, sources)


def _reject_duplicates(settings: Sequence[Setting]) -> None:
    first: dict[str, str] = {}
    for setting in settings:
        if setting.name in first:
            raise ConfigError(f"duplicate key '{setting.name}' (first at {first[setting.name]}) "
                              f"[{setting.where}]")  # fmt: skip
        first[setting.name] = setting.where


def _section(name: object, where: str) -> str:
    if not isinstance(name, str) or name not in SECTIONS:
        raise ConfigError(f"{unknown_key_message(str(name), str(name), tuple(SECTIONS))} [{where}]")
    return name


def _key(section: str, leaf: object, where: str) -> Key:
    written = f"{section}.{leaf}"
    key = KEYS.get(KEY_ALIASES.get(written, written))
    if key is None:
        leaves = tuple(k.leaf for k in keys_of(section))
        aliases = tuple(a.split(".", 1)[1] for a in KEY_ALIASES if a.startswith(section + "."))
        raise ConfigError(f"{unknown_key_message(written, str(leaf), leaves + aliases)} [{where}]")
    return key


def _validated(key: Key, value: object, where: str,
               item_where: Callable[[int], str] | None = None) -> Setting:  # fmt: skip
    try:
        return Setting(key.name, check(key, value), where)
    except Invalid as problem:
        at = where if problem.index is None or item_where is None else item_where(problem.index)
        raise ConfigError(f"{problem} [{at}]") from None


def _not_mapping(what: str, value: object, where: str) -> ConfigError:
    kind = "sections (like 'sandbox:')" if what == "the top level" else "settings"
    return ConfigError(f"{what} must be a mapping of {kind}; got {show(value)} [{where}]")


# --- Plain mappings (tests, callers, overrides) -------------------------------------------------------


def _mapping_settings(data: object, where: str) -> list[Setting]:
    if not isinstance(data, Mapping):
        raise _not_mapping("the top level", data, where)
    settings: list[Setting] = []
    for section_name, body in data.items():
        section = _section(section_name, where)
        if body is None:
            continue
        if not isinstance(body, Mapping):
            raise _not_mapping(f"'{section}'", body, where)
        for leaf, value in body.items():
            settings.append(_validated(_key(section, leaf, where), value, where))
    return settings


def config_from_mapping(data: Mapping[str, object], source: str = "<mapping>",
                        base: Config = DEFAULT_CONFIG) -> Config:  # fmt: skip
    """`base` with the settings of a nested mapping (`{"sandbox": {"mode": "always"}}`) applied."""
    return _merge(base, _mapping_settings(data, source), lambda where: where)


def with_overrides(cfg: Config, overrides: Mapping[str, object], source: str = "override") -> Config:
    """`cfg` with dotted keys replaced: `with_overrides(cfg, {"sandbox.mode": "always"})`."""
    settings = []
    for name, value in overrides.items():
        canonical = KEY_ALIASES.get(name, name)
        if canonical not in KEYS:
            names = tuple(KEYS) + tuple(KEY_ALIASES)
            raise ConfigError(f"{unknown_key_message(name, name, names)} [{source}]")
        settings.append(_validated(KEYS[canonical], value, source))
    return _merge(cfg, settings, lambda where: where)


# --- YAML text, with lines --------------------------------------------------------------------------

_CORE_TAG: Final = "tag:yaml.org,2002:"
_NULL_TAG: Final = _CORE_TAG + "null"
_PLAIN_TAGS: Final = frozenset(_CORE_TAG + name for name in ("str", "bool", "int", "float", "timestamp"))
_TEXT_TYPES: Final = frozenset(
    {"str", "enum", "path", "duration", "list[str]", "list[enum]", "list[host]", "map[str,str]"}
)


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def _yaml_error(problem: yaml.YAMLError, path: str) -> ConfigError:
    if isinstance(problem, yaml.MarkedYAMLError):
        mark = problem.problem_mark or problem.context_mark
        text = problem.problem or problem.context or "unreadable"
        if problem.context and text.startswith("but "):
            text = f"{problem.context} {text}"
        return ConfigError(f"invalid YAML: {text} [{path}:{mark.line + 1 if mark else 1}]")
    return ConfigError(f"invalid YAML: {str(problem).splitlines()[0]} [{path}]")


def _construct(node: yaml.Node, path: str) -> object:
    try:
        return yaml.SafeLoader("").construct_document(node)
    except yaml.YAMLError as problem:
        raise _yaml_error(problem, path) from None


def _node_value(node: yaml.Node, as_text: bool, path: str) -> object:
    """The node's value; where the key wants text, plain scalars keep their spelling (`off`, `yes`, `1.0`)."""
    if not as_text:
        return _construct(node, path)
    if isinstance(node, yaml.ScalarNode):
        plain = node.style is None and node.tag in _PLAIN_TAGS
        return node.value if plain else _construct(node, path)
    if isinstance(node, yaml.SequenceNode):
        return [_node_value(item, True, path) for item in node.value]
    if isinstance(node, yaml.MappingNode) and all(isinstance(k, yaml.ScalarNode) for k, _ in node.value):
        return {k.value: _node_value(v, True, path) for k, v in node.value}
    return _construct(node, path)


def _key_text(node: yaml.Node, path: str) -> str:
    if not isinstance(node, yaml.ScalarNode):
        got = show(_construct(node, path))
        raise ConfigError(f"keys must be plain names; got {got} [{path}:{_line(node)}]")
    return str(node.value)


def _compose(text: str, path: str) -> yaml.Node | None:
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as problem:
        raise _yaml_error(problem, path) from None


def _entries(node: yaml.MappingNode, path: str) -> Iterator[tuple[str, yaml.Node, str]]:
    for key_node, value_node in node.value:
        yield _key_text(key_node, path), value_node, f"{path}:{_line(key_node)}"


def _yaml_settings(text: str, path: str) -> list[Setting]:
    root = _compose(text, path)
    if root is None or (isinstance(root, yaml.ScalarNode) and root.tag == _NULL_TAG):
        return []
    if not isinstance(root, yaml.MappingNode):
        raise _not_mapping("the top level", _construct(root, path), f"{path}:{_line(root)}")
    settings: list[Setting] = []
    for section_name, body, where in _entries(root, path):
        section = _section(section_name, where)
        if isinstance(body, yaml.ScalarNode) and body.tag == _NULL_TAG:
            continue
        if not isinstance(body, yaml.MappingNode):
            raise _not_mapping(f"'{section}'", _construct(body, path), where)
        settings.extend(_section_settings(section, body, path))
    return settings


def _section_settings(section: str, body: yaml.MappingNode, path: str) -> Iterator[Setting]:
    for leaf, value_node, where in _entries(body, path):
        key = _key(section, leaf, where)
        value = _node_value(value_node, key.type in _TEXT_TYPES, path)
        yield _validated(key, value, where, _item_locator(value_node, path, where))


def _item_locator(node: yaml.Node, path: str, where: str) -> Callable[[int], str]:
    """Where the list item at an index was written (the key's line when the value is not a list)."""
    items: list[yaml.Node] = node.value if isinstance(node, yaml.SequenceNode) else []
    return lambda index: f"{path}:{_line(items[index])}" if index < len(items) else where


def config_from_yaml(text: str, path: str = "<text>", base: Config = DEFAULT_CONFIG,
                     label: str | None = None) -> Config:  # fmt: skip
    """`base` with the settings of YAML `text` applied. `path` names it in errors; `label` in sources."""
    prefix = "" if label is None else label + " "
    return _merge(base, _yaml_settings(text, path), lambda where: prefix + where)


# --- Files and the environment -------------------------------------------------------------------------


@dataclass(frozen=True)
class ConfigFile:
    """One config file in effect, lowest precedence first. `label` prefixes its sources (`--config`)."""

    path: Path
    label: str | None = None

    def __str__(self) -> str:
        return str(self.path)


def expand_path(path: str, env: Environment, base: str | None = None) -> Path:
    """`~` → env.home; relative → against `base` (default env.cwd). Lexical: touches no file."""
    if path == "~" or path.startswith("~/"):
        path = env.home + path[1:]
    return Path(os.path.normpath(Path(base or env.cwd, path)))


def _project_file(cwd: Path) -> Path | None:
    for directory in (cwd, *cwd.parents):
        candidate = directory / PROJECT_FILE
        if candidate.is_file():
            return candidate
    return None


def config_files(env: Environment, explicit: str | None = None) -> tuple[ConfigFile, ...]:
    """The files `load_config` reads, lowest precedence first (for `vg doctor` and `vg config path`)."""
    files: list[ConfigFile] = []
    user = expand_path(str(env.state_dir / USER_FILE), env)
    if user.is_file():
        files.append(ConfigFile(user))
    project = _project_file(expand_path(".", env))
    if project is not None:
        files.append(ConfigFile(project))
    if explicit is not None:
        files.append(ConfigFile(expand_path(explicit, env), "--config"))
    return tuple(files)


def _read(file: ConfigFile) -> str:
    try:
        return file.path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file not found: '{file.path}' [{file.label or 'config'}]") from None
    except UnicodeDecodeError:
        raise ConfigError(f"invalid YAML: not UTF-8 text [{file.path}]") from None
    except OSError as problem:
        reason = problem.strerror or type(problem).__name__
        raise ConfigError(f"cannot read '{file.path}': {reason} [{file.label or 'config'}]") from None


def _env_settings(env: Environment) -> list[Setting]:
    settings: list[Setting] = []
    for variable, name in ENV_OVERRIDES:
        text = env.env.get(variable, "")
        if text:
            key = KEYS[name]
            settings.append(_validated(key, from_text(key, text), f"env {variable}"))
    return _last_wins(settings)


def _last_wins(settings: list[Setting]) -> list[Setting]:
    """Env variables may name one key twice (VECTRA_GUARD_LEVEL, VG_GUARD_LEVEL): the later wins."""
    return list({setting.name: setting for setting in settings}.values())


def load_config(env: Environment, explicit: str | None = None) -> Config:
    """Defaults → user config → nearest project file → `--config FILE` → environment variables."""
    cfg = DEFAULT_CONFIG
    for file in config_files(env, explicit):
        cfg = config_from_yaml(_read(file), str(file.path), cfg, file.label)
    return _merge(cfg, _env_settings(env), lambda where: where)


# --- Presets ----------------------------------------------------------------------------------------


def _preset_dir() -> Any:
    from importlib import resources

    return resources.files("vgshell") / "presets"


def preset_names() -> tuple[str, ...]:
    return tuple(sorted(p.name.removesuffix(".yaml") for p in _preset_dir().iterdir()
                        if p.name.endswith(".yaml")))  # fmt: skip


def _preset_text(name: str) -> str:
    names = preset_names()
    if name not in names:
        raise ConfigError(f"unknown preset '{name}' (valid: {', '.join(names)})")
    return str((_preset_dir() / f"{name}.yaml").read_text(encoding="utf-8"))


def load_preset(name: str) -> Config:
    """A packaged preset over the defaults; sources read `preset developer:7`."""
    return config_from_yaml(_preset_text(name), f"preset {name}")


def write_preset(name: str, dest: Path, force: bool = False) -> Path:
    """Copy a packaged preset to `dest` (a file, or a directory to hold `vectra-guard.yaml`)."""
    text = _preset_text(name)
    target = dest / PROJECT_FILE if dest.is_dir() else dest
    if target.exists() and not force:
        raise ConfigError(f"'{target}' already exists; pass --force to overwrite it")
    target.write_text(text, encoding="utf-8")
    return target


# --- Rendering --------------------------------------------------------------------------------------


def _plain(value: object) -> object:
    if isinstance(value, BindMount):
        return {name: getattr(value, name) for name in BIND_MOUNT_FIELDS}
    if isinstance(value, tuple | list):
        return [_plain(item) for item in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


def yaml_scalar(value: object) -> str:
    """One value in YAML flow style on one line: `auto`, `'off'`, `null`, `[PATH, HOME]`."""
    text = yaml.safe_dump(_plain(value), default_flow_style=True, width=1_000_000, sort_keys=False)
    return text.removesuffix("\n").removesuffix("\n...")


def render_config_show(cfg: Config) -> list[tuple[str, str, str]]:
    """(key, value as YAML, source) for every key, in schema order, for `vg config show`."""
    return [(key.name, yaml_scalar(cfg.get(key.name)), cfg.sources[key.name]) for key in SCHEMA]


_DOC_INTRO: Final = """\
# Configuration

<!-- Generated by `python -m vgshell.config --markdown` from vgshell/schema.py; do not edit by hand. -->

vgshell reads Vectra Guard's `vectra-guard.yaml` with Vectra Guard's key names. Start from a preset:
`vg init --preset developer` (or `cp presets/developer.yaml vectra-guard.yaml`); the presets are
{presets}.

## Files and precedence

Lowest to highest; each layer sets only the keys it names, and sections merge key by key:

1. the built-in defaults (below);
2. `~/.vectra-guard/config.yaml` (`$VG_HOME/config.yaml` when `VG_HOME` is set);
3. the nearest `vectra-guard.yaml` found walking up from the working directory;
4. `vg --config FILE`;
5. the environment variables below.

A list replaces the list below it; it is not appended to. An empty file sets nothing. `vg config show` prints
every key with its value and where it came from (`default`, `/abs/path/vectra-guard.yaml:7`,
`--config /abs/path/file.yaml:3`, `env VG_MODE`).

Every key is checked: an unknown key, a wrong type, an unknown value or broken YAML stops `vg` with one line
naming the file (by absolute path) and the line, for example
`vg: config: unknown key 'sandbox.timout' (did you mean 'timeout'?) [/home/me/project/vectra-guard.yaml:7]`.
Nothing falls back to a default silently.

Keys marked *not acted on yet* are Vectra Guard's: they are accepted and validated so existing files
keep working, but vgshell ignores their values for now. Vectra Guard's `sandbox.enable_metrics` and
`sandbox.trust_store_path` are read as {aliases}.

## Environment variables

An empty variable counts as unset; a later row wins over an earlier one. Values are checked like file
values, and an error names the variable: `'sandbox.timeout' must be an integer; got 'soon' [env VG_TIMEOUT]`.

| variable | key |
|---|---|
"""


def _doc_row(key: Key) -> str:
    values = ", ".join(f"`{choice}`" for choice in key.choices) if key.choices else ""
    if key.value_aliases:
        values += " (" + ", ".join(f"`{a}` = `{b}`" for a, b in key.value_aliases.items()) + ")"
    note = "" if key.acted_on else " *Not acted on yet.*"
    nullable = " or null" if key.nullable else ""
    return (f"| `{key.name}` | {key.type}{nullable} | `{yaml_scalar(check(key, key.default))}` | {values} "
            f"| {key.description}{note} |")  # fmt: skip


def _doc_section(section: str) -> list[str]:
    header = ["", f"## `{section}`", "", SECTIONS[section], "",
              "| key | type | default | values | description |", "|---|---|---|---|---|"]  # fmt: skip
    return header + [_doc_row(key) for key in keys_of(section)]


def render_markdown() -> str:
    """docs/configuration.md, generated from the schema."""
    presets = ", ".join(f"`{name}`" for name in preset_names())
    aliases = " and ".join(f"`{target}`" for target in KEY_ALIASES.values())
    lines = [_DOC_INTRO.format(presets=presets, aliases=aliases).rstrip("\n")]
    lines += [f"| `{variable}` | `{name}` |" for variable, name in ENV_OVERRIDES]
    for section in SECTIONS:
        lines += _doc_section(section)
    return "\n".join(lines) + "\n"


def _main(argv: Sequence[str]) -> int:
    if list(argv) != ["--markdown"]:
        sys.stderr.write("usage: python -m vgshell.config --markdown\n")
        return 2
    sys.stdout.write(render_markdown())
    return 0


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
