"""Validate and merge `vectra-guard.yaml` settings into a frozen `Config`; presets are data.

Which files are read, and what each layer may change, is `vgshell.layers` (`load_config` here calls it).
Each layer sets only the keys it names; a list value replaces the list below it. A Config remembers what
its layers decided (`Config.layers`): a managed file's settings keep constraining every Config derived
from it, so a later override (`vg mode never` in one shell) cannot loosen them either.

Files are named by absolute path in errors and sources: `/abs/vectra-guard.yaml:7`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from vgshell.lazy import LazyModule

if TYPE_CHECKING:
    import yaml
else:
    yaml = LazyModule("yaml")  # only needed when a config file exists

from vgshell.configtypes import NO_LAYERS, SECTION_TYPES, Config, Ignored, Layers
from vgshell.context import Environment
from vgshell.errors import ConfigError
from vgshell.schema import (
    BIND_MOUNT_FIELDS,
    KEY_ALIASES,
    KEYS,
    SCHEMA,
    SECTIONS,
    BindMount,
    Invalid,
    Key,
    check,
    keys_of,
    show,
    unknown_key_message,
)

__all__ = [
    "DEFAULT_CONFIG",
    "PROJECT_FILE",
    "BindMount",
    "Config",
    "Ignored",
    "Layers",
    "config_files",
    "config_from_mapping",
    "config_from_yaml",
    "load_config",
    "load_preset",
    "preset_names",
    "render_config_show",
    "with_overrides",
    "write_preset",
]

PROJECT_FILE: Final = "vectra-guard.yaml"
USER_FILE: Final = "config.yaml"

# --- The values (vgshell.configtypes) -------------------------------------------------------------------


def _build(values: Mapping[str, object], sources: Mapping[str, str], layers: Layers = NO_LAYERS) -> Config:
    sections: dict[str, Any] = {
        section: make(**{key.leaf: values[key.name] for key in keys_of(section)})
        for section, make in SECTION_TYPES.items()
    }
    return Config(**sections, sources=MappingProxyType(dict(sources)), layers=layers)


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
    return constrained(values, sources, base.layers)


def constrained(values: dict[str, object], sources: dict[str, str], layers: Layers) -> Config:
    """The Config of `values` once the managed file has had its say: its values stand unless a layer below
    set a tighter one; a broken managed file holds every key at its tightest."""
    if layers.managed or layers.closed is not None:
        from vgshell.tighten import Context, tighter_of, tightest

        ctx = Context(dict(values))
        for name, (managed, where) in layers.managed.items():
            by_default = sources[name] == "default"  # nothing below chose a value: the managed one stands
            kept = managed if by_default else tighter_of(KEYS[name], managed, values[name], ctx)
            if kept != values[name] or by_default:
                values[name], sources[name] = kept, where
        for key in SCHEMA if layers.closed is not None else ():
            value = tightest(key, values[key.name], DEFAULT_CONFIG.get(key.name))
            if value != values[key.name]:
                values[key.name], sources[key.name] = value, "fail-closed (the managed config is invalid)"
    return _build(values, sources, layers)


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


# --- Files (vgshell.layers reads them) ---------------------------------------------------------------


def load_config(env: Environment, explicit: str | None = None) -> Config:
    """Defaults → user config → nearest project file (tighten-only unless approved) → `--config FILE` →
    environment variables → the managed file (see vgshell.layers)."""
    from vgshell.layers import load

    return load(env, explicit)


def config_files(env: Environment, explicit: str | None = None) -> tuple[Path, ...]:
    """The files `load_config` reads, lowest precedence first (for `vg config path`)."""
    from vgshell.layers import files

    return files(env, explicit)


def _main(argv: Sequence[str]) -> int:
    if list(argv) != ["--markdown"]:
        sys.stderr.write("usage: python -m vgshell.config --markdown\n")
        return 2
    from vgshell.configdoc import render_markdown

    sys.stdout.write(render_markdown())
    return 0


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
