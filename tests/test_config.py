"""Config: schema, layered loading, validation messages, presets, rendering. Real files in tmp_path."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from vgshell.config import (
    DEFAULT_CONFIG,
    BindMount,
    Config,
    config_files,
    config_from_mapping,
    config_from_yaml,
    load_config,
    load_preset,
    preset_names,
    render_config_show,
    with_overrides,
    write_preset,
)
from vgshell.configdoc import render_markdown
from vgshell.context import Environment
from vgshell.errors import ConfigError, ExitStatus
from vgshell.schema import KEY_ALIASES, KEYS, SCHEMA, SECTIONS, Key, check, keys_of

REPO = Path(__file__).resolve().parent.parent


class Layout:
    """A home, a state dir, a project with a nested working directory, and a spare --config file."""

    def __init__(self, root: Path) -> None:
        self.home = root / "home"
        self.state = root / "state"
        self.project = root / "project"
        self.cwd = self.project / "src" / "pkg"
        self.explicit = root / "explicit.yaml"
        for directory in (self.home, self.state, self.cwd):
            directory.mkdir(parents=True)

    @property
    def user_file(self) -> Path:
        return self.state / "config.yaml"

    @property
    def project_file(self) -> Path:
        return self.project / "vectra-guard.yaml"

    def env(self, **variables: str) -> Environment:
        return Environment(env={"HOME": str(self.home), "VG_HOME": str(self.state), **variables},
                           cwd=str(self.cwd))  # fmt: skip


@pytest.fixture
def lay(tmp_path: Path) -> Layout:
    return Layout(tmp_path)


# --- Schema and dataclasses agree ---------------------------------------------------------------------


@pytest.mark.parametrize("section", list(SECTIONS))
def test_dataclass_fields_match_schema(section: str) -> None:
    fields = [f.name for f in dataclasses.fields(getattr(DEFAULT_CONFIG, section))]
    assert fields == [key.leaf for key in keys_of(section)]


@pytest.mark.parametrize("key", SCHEMA, ids=lambda key: key.name)
def test_every_key_is_documented_and_its_default_valid(key: Key) -> None:
    assert key.description.endswith((".", ")"))
    assert bool(key.choices) == (key.type in ("enum", "list[enum]"))
    assert check(key, key.default) == DEFAULT_CONFIG.get(key.name)
    assert DEFAULT_CONFIG.sources[key.name] == "default"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("guard_level.level", "medium"),
        ("sandbox.enabled", True),
        ("sandbox.mode", "auto"),
        ("sandbox.runtime", "auto"),
        ("sandbox.image", "ubuntu:22.04"),
        ("sandbox.timeout", 300),
        ("sandbox.security_level", "balanced"),
        ("sandbox.network_mode", None),
        ("sandbox.enable_cache", True),
        ("sandbox.cache_strategy", None),
        ("policies.allowlist", ()),
        ("trust.default_expiry", None),
        ("metrics.enabled", True),
    ],
)
def test_defaults(name: str, expected: object) -> None:
    assert DEFAULT_CONFIG.get(name) == expected


def test_config_is_frozen_and_lists_are_tuples() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        DEFAULT_CONFIG.sandbox.mode = "never"  # type: ignore[misc]
    assert isinstance(DEFAULT_CONFIG.sandbox.env_whitelist, tuple)
    expected = {"PATH", "HOME", "USER", "LANG", "LC_ALL", "TERM", "TZ"}
    assert expected <= set(DEFAULT_CONFIG.sandbox.env_whitelist)


# --- Precedence ---------------------------------------------------------------------------------------

LEVELS = {"user": "low", "project": "high", "explicit": "paranoid", "env": "off"}


@pytest.mark.parametrize(
    ("layers", "level", "source"),
    [
        ((), "medium", "default"),
        (("user",), "low", "{user}:2"),
        (("project",), "high", "{project}:2"),
        (("user", "project"), "high", "{project}:2"),
        (("user", "project", "explicit"), "paranoid", "--config {explicit}:2"),
        (("user", "project", "explicit", "env"), "off", "env VG_GUARD_LEVEL"),
        (("user", "env"), "off", "env VG_GUARD_LEVEL"),
    ],
)
def test_each_layer_overrides_the_one_below(lay: Layout, layers: tuple[str, ...], level: str,
                                            source: str) -> None:  # fmt: skip
    files = {"user": lay.user_file, "project": lay.project_file, "explicit": lay.explicit}
    for layer in layers:
        if layer in files:
            files[layer].write_text(f"guard_level:\n  level: {LEVELS[layer]}\n")
    env = lay.env(VG_GUARD_LEVEL="off") if "env" in layers else lay.env()
    cfg = load_config(env, str(lay.explicit) if "explicit" in layers else None)
    assert cfg.guard_level.level == level
    assert cfg.sources["guard_level.level"] == source.format(**{k: str(v) for k, v in files.items()})


def test_absent_key_never_resets_and_sections_merge_key_by_key(lay: Layout) -> None:
    lay.user_file.write_text("sandbox:\n  timeout: 100\n  enabled: false\n  cache_dirs: [/a]\n")
    lay.project_file.write_text("sandbox:\n  mode: always\n\n  image: node:20\n")
    lay.explicit.write_text("# nothing here\n")
    cfg = load_config(lay.env(), str(lay.explicit))
    assert (cfg.sandbox.timeout, cfg.sandbox.enabled, cfg.sandbox.cache_dirs) == (100, False, ("/a",))
    assert (cfg.sandbox.mode, cfg.sandbox.image) == ("always", "node:20")
    assert cfg.sources["sandbox.timeout"] == f"{lay.user_file}:2"
    assert cfg.sources["sandbox.image"] == f"{lay.project_file}:4"
    assert cfg.sources["sandbox.security_level"] == "default"


def test_nearest_project_file_wins(lay: Layout) -> None:
    lay.project_file.write_text("sandbox:\n  mode: risky\n")
    (lay.cwd.parent / "vectra-guard.yaml").write_text("sandbox:\n  mode: always\n")
    cfg = load_config(lay.env())
    assert cfg.sandbox.mode == "always"
    assert [str(f) for f in config_files(lay.env())] == [str(lay.cwd.parent / "vectra-guard.yaml")]


def test_explicit_path_is_relative_to_env_cwd(lay: Layout) -> None:
    (lay.cwd / "mine.yaml").write_text("sandbox:\n  mode: never\n")
    cfg = load_config(lay.env(), "mine.yaml")
    assert cfg.sources["sandbox.mode"] == f"--config {lay.cwd / 'mine.yaml'}:2"


@pytest.mark.parametrize("text", ["", "\n", "# comments only\n", "sandbox:\n", "---\n"])
def test_empty_file_sets_nothing(lay: Layout, text: str) -> None:
    lay.project_file.write_text(text)
    assert load_config(lay.env()) == DEFAULT_CONFIG


# --- Environment variables ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variables", "name", "expected"),
    [
        ({"VG_MODE": "always"}, "sandbox.mode", "always"),
        ({"VG_GUARD_LEVEL": "paranoid"}, "guard_level.level", "paranoid"),
        ({"VECTRA_GUARD_LEVEL": "low"}, "guard_level.level", "low"),
        ({"VECTRA_GUARD_LEVEL": "low", "VG_GUARD_LEVEL": "high"}, "guard_level.level", "high"),
        ({"VG_RUNTIME": "process"}, "sandbox.runtime", "bubblewrap"),
        ({"VG_RUNTIME": "podman"}, "sandbox.runtime", "podman"),
        ({"VG_SECURITY_LEVEL": "strict"}, "sandbox.security_level", "strict"),
        ({"VG_NETWORK_MODE": "none"}, "sandbox.network_mode", "none"),
        ({"VG_PROJECT_WRITES": "review"}, "sandbox.project_writes", "review"),
        ({"VG_IMAGE": "node:20"}, "sandbox.image", "node:20"),
        ({"VG_TIMEOUT": "60"}, "sandbox.timeout", 60),
        ({"VG_MODE": ""}, "sandbox.mode", "never"),  # empty = unset: the file's value stays
    ],
)
def test_env_overrides(lay: Layout, variables: dict[str, str], name: str, expected: object) -> None:
    lay.user_file.write_text("sandbox:\n  mode: never\n  runtime: docker\n  timeout: 5\n")
    cfg = load_config(lay.env(**variables))
    assert cfg.get(name) == expected


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("VG_MODE", "sometimes", "'sandbox.mode' must be one of always, auto, risky, never; got 'sometimes'"),
        ("VG_TIMEOUT", "soon", "'sandbox.timeout' must be an integer; got 'soon'"),
        ("VG_TIMEOUT", "0", "'sandbox.timeout' must be a positive integer; got 0"),
        ("VG_RUNTIME", "lxc", "'sandbox.runtime' must be one of auto, bubblewrap, docker, podman, process; "
                              "got 'lxc'"),
        ("VG_GUARD_LEVEL", "max",
         "'guard_level.level' must be one of off, low, medium, high, paranoid, auto; got 'max'"),
        ("VG_NETWORK_MODE", "open", "'sandbox.network_mode' must be one of none, restricted, full or null; "
                                    "got 'open'"),
    ],
)  # fmt: skip
def test_bad_env_value_names_the_variable(lay: Layout, variable: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(lay.env(**{variable: value}))
    assert str(caught.value) == f"{message} [env {variable}]"


# --- Validation: one line, naming file and line ----------------------------------------------------------

TOP = "the top level must be a mapping of sections (like 'sandbox:'); "


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("sandbox:\n  mode: auto\n  timout: 5\n",
         "unknown key 'sandbox.timout' (did you mean 'timeout'?) [{path}:3]"),
        ("sandbx:\n  mode: auto\n", "unknown key 'sandbx' (did you mean 'sandbox'?) [{path}:1]"),
        ("guard_level:\n  zzz: 1\n",
         "unknown key 'guard_level.zzz' (valid: level, allow_user_bypass, bypass_env_var, "
         "require_approval_above) [{path}:2]"),
        ("\n\nsandbox:\n  mode: sometimes\n",
         "'sandbox.mode' must be one of always, auto, risky, never; got 'sometimes' [{path}:4]"),
        ("sandbox:\n  timeout: soon\n", "'sandbox.timeout' must be an integer; got 'soon' [{path}:2]"),
        ("sandbox:\n  timeout: 0\n", "'sandbox.timeout' must be a positive integer; got 0 [{path}:2]"),
        ("sandbox:\n  enabled: maybe\n", "'sandbox.enabled' must be true or false; got 'maybe' [{path}:2]"),
        ("sandbox:\n  image: [a]\n", "'sandbox.image' must be a string; got ['a'] [{path}:2]"),
        ("sandbox:\n  network_mode: open\n",
         "'sandbox.network_mode' must be one of none, restricted, full or null; got 'open' [{path}:2]"),
        ("sandbox:\n  runtime_order:\n    - docker\n    - lxc\n",
         "'sandbox.runtime_order[1]' must be one of bubblewrap, docker, podman, process; "
         "got 'lxc' [{path}:4]"),
        ("policies:\n  allowlist: npm test\n",
         "'policies.allowlist' must be a list of strings; got 'npm test' [{path}:2]"),
        ("policies:\n  allowlist:\n",
         "'policies.allowlist' must be a list of strings; got null (write [] for none) [{path}:2]"),
        ("trust:\n  default_expiry: soon\n",
         "'trust.default_expiry' must be a duration like 30m, 12h or 7d, or null; got 'soon' [{path}:2]"),
        ("sandbox:\n  bind_mounts:\n    - host_path: /a\n    - container_path: /b\n",
         "'sandbox.bind_mounts[1]' is missing 'host_path' [{path}:4]"),
        ("sandbox:\n  bind_mounts:\n    - hostpath: /a\n",
         "unknown key 'sandbox.bind_mounts[0].hostpath' (did you mean 'host_path'?) [{path}:3]"),
        ("sandbox:\n  bind_mounts:\n    - {host_path: /a, read_only: sure}\n",
         "'sandbox.bind_mounts[0].read_only' must be true or false; got 'sure' [{path}:3]"),
        ("sandbox: always\n", "'sandbox' must be a mapping of settings; got 'always' [{path}:1]"),
        ("- a\n- b\n", TOP + "got ['a', 'b'] [{path}:1]"),
        ("just text\n", TOP + "got 'just text' [{path}:1]"),
        ("sandbox:\n  mode: [always\n",
         "invalid YAML: expected ',' or ']', but got '<stream end>' [{path}:3]"),
        ("sandbox:\n mode: a\n  timeout: 3\n",
         "invalid YAML: mapping values are not allowed here [{path}:3]"),
        ("a: 1\n---\nb: 2\n",
         "invalid YAML: expected a single document in the stream but found another document [{path}:2]"),
        ("sandbox:\n  image: !!python/object:os.system x\n",
         "invalid YAML: could not determine a constructor for the tag "
         "'tag:yaml.org,2002:python/object:os.system' [{path}:2]"),
        ("sandbox:\n  mode: auto\n  mode: never\n",
         "duplicate key 'sandbox.mode' (first at {path}:2) [{path}:3]"),
        ("sandbox:\n  enable_metrics: false\nmetrics:\n  enabled: true\n",
         "duplicate key 'metrics.enabled' (first at {path}:2) [{path}:4]"),
    ],
)  # fmt: skip
def test_file_errors(lay: Layout, text: str, message: str) -> None:
    lay.project_file.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(lay.env())
    assert str(caught.value) == message.format(path=lay.project_file)
    assert caught.value.render().startswith("vg: config: ")
    assert caught.value.status == ExitStatus.CONFIG


def test_missing_explicit_file(lay: Layout) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(lay.env(), "nope.yaml")
    assert str(caught.value) == f"config file not found: '{lay.cwd / 'nope.yaml'}' [--config]"


def test_error_in_user_file_names_it(lay: Layout) -> None:
    lay.user_file.write_text("sandbox:\n  mode: nope\n")
    with pytest.raises(ConfigError, match=rf"\[{lay.user_file}:2\]$"):
        load_config(lay.env())


def test_non_utf8_file(lay: Layout) -> None:
    lay.project_file.write_bytes(b"sandbox:\n  image: \xff\n")
    with pytest.raises(ConfigError, match=r"^invalid YAML: not UTF-8 text"):
        load_config(lay.env())


# --- Normalizing: YAML spellings, aliases ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "name", "expected"),
    [
        ("guard_level:\n  level: off\n", "guard_level.level", "off"),  # YAML 1.1 would say False
        ("guard_level:\n  level: auto\n", "guard_level.level", "medium"),  # Vectra Guard's auto
        ("sandbox:\n  runtime: process\n", "sandbox.runtime", "bubblewrap"),
        ("sandbox:\n  runtime_order: [process, docker]\n", "sandbox.runtime_order", ("bubblewrap", "docker")),
        ("sandbox:\n  image: 3.10\n", "sandbox.image", "3.10"),
        ("sandbox:\n  network_mode: null\n", "sandbox.network_mode", None),
        ("policies:\n  allowlist: [make, yes, 'npm test']\n", "policies.allowlist",
         ("make", "yes", "npm test")),
        ("sandbox:\n  enable_metrics: false\n", "metrics.enabled", False),
        ("sandbox:\n  trust_store_path: ~/t.json\n", "trust.store_path", "~/t.json"),
        ("sandbox:\n  bind_mounts:\n    - host_path: ~/data\n      read_only: true\n", "sandbox.bind_mounts",
         (BindMount("~/data", "~/data", True),)),
        ("sandbox:\n  bind_mounts: [{host_path: /a, container_path: /b}]\n", "sandbox.bind_mounts",
         (BindMount("/a", "/b", False),)),
        ("trust:\n  default_expiry: 12h\n", "trust.default_expiry", "12h"),
    ],
)  # fmt: skip
def test_normalized_values(text: str, name: str, expected: object) -> None:
    assert config_from_yaml(text, "/x.yaml").get(name) == expected


def test_derived_sandbox_values() -> None:
    sandbox: dict[str, object] = {"enabled": False, "security_level": "paranoid", "runtime": "docker"}
    sandbox["cache_strategy"] = "aggressive"
    cfg = config_from_mapping({"sandbox": sandbox})
    assert cfg.sandbox.effective_mode == "never"
    assert cfg.sandbox.effective_network_mode == "none"
    assert cfg.sandbox.effective_cache_ttl == 86400
    assert cfg.sandbox.runtime_candidates(in_ci=False) == ("docker", "bubblewrap", "podman")
    assert DEFAULT_CONFIG.sandbox.runtime_candidates(in_ci=True) == ("docker", "podman", "bubblewrap")
    assert DEFAULT_CONFIG.sandbox.effective_cache_ttl == 3600  # smart while enable_cache is on
    assert config_from_mapping({"sandbox": {"enable_cache": False}}).sandbox.effective_cache_ttl is None
    assert config_from_mapping({"trust": {"default_expiry": "2w"}}).trust.default_expiry_seconds == 1209600


# --- Pure paths: mappings and overrides ---------------------------------------------------------------


def test_config_from_mapping_merges_onto_base() -> None:
    base = config_from_mapping({"sandbox": {"timeout": 9}}, "first")
    data = {"sandbox": {"mode": "always"}, "policies": {"denylist": ["curl * | sh"]}}
    cfg = config_from_mapping(data, "t", base)
    assert (cfg.sandbox.mode, cfg.sandbox.timeout, cfg.policies.denylist) == ("always", 9, ("curl * | sh",))
    assert (cfg.sources["sandbox.mode"], cfg.sources["sandbox.timeout"]) == ("t", "first")


def test_config_from_mapping_validates() -> None:
    with pytest.raises(ConfigError) as caught:
        config_from_mapping({"sandbox": {"mode": "sometimes"}}, "test")
    expected = "'sandbox.mode' must be one of always, auto, risky, never; got 'sometimes' [test]"
    assert str(caught.value) == expected


def test_with_overrides() -> None:
    overrides = {"sandbox.mode": "always", "sandbox.enable_metrics": False}
    cfg = with_overrides(DEFAULT_CONFIG, overrides, "--mode")
    assert (cfg.sandbox.mode, cfg.metrics.enabled) == ("always", False)
    assert cfg.sources["sandbox.mode"] == "--mode"
    assert DEFAULT_CONFIG.sandbox.mode == "auto"
    with pytest.raises(ConfigError) as caught:
        with_overrides(DEFAULT_CONFIG, {"sandbox.mdoe": "always"})
    assert str(caught.value) == "unknown key 'sandbox.mdoe' (did you mean 'sandbox.mode'?) [override]"


# --- Presets ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("developer", {"sandbox.mode": "auto", "guard_level.level": "medium", "sandbox.enable_cache": True,
                       "sandbox.project_writes": "direct",
                       "sandbox.runtime_candidates": ("bubblewrap", "docker", "podman")}),
        ("ci-cd", {"sandbox.mode": "always", "sandbox.runtime": "docker", "guard_level.level": "high",
                   "sandbox.project_writes": "direct"}),
        ("production", {"sandbox.mode": "always", "guard_level.level": "paranoid",
                        "sandbox.security_level": "paranoid", "sandbox.network_mode": "none",
                        "sandbox.project_writes": "review"}),
    ],
)  # fmt: skip
def test_presets_are_valid_and_say_what_they_promise(name: str, expected: dict[str, object]) -> None:
    cfg = load_preset(name)
    for key, value in expected.items():
        if key == "sandbox.runtime_candidates":
            assert cfg.sandbox.runtime_candidates(in_ci=False) == value
        else:
            assert cfg.get(key) == value, key
    assert any(source.startswith(f"preset {name}:") for source in cfg.sources.values())


def test_preset_names_and_top_level_copies() -> None:
    assert preset_names() == ("ci-cd", "developer", "production")
    for name in preset_names():
        top = REPO / "presets" / f"{name}.yaml"
        assert top.read_text() == (REPO / "vgshell" / "presets" / f"{name}.yaml").read_text()
        assert "#" in top.read_text()  # every choice is explained


def test_copied_preset_loads_as_project_file(lay: Layout) -> None:
    lay.project_file.write_text((REPO / "presets" / "ci-cd.yaml").read_text())
    cfg = load_config(lay.env())
    assert cfg.sandbox.runtime == "docker"
    assert cfg.sources["sandbox.runtime"].startswith(f"{lay.project_file}:")


def test_write_preset(lay: Layout) -> None:
    written = write_preset("developer", lay.project)
    assert written == lay.project_file
    assert load_config(lay.env()).sandbox.cache_strategy == "smart"
    with pytest.raises(ConfigError) as caught:
        write_preset("production", lay.project_file, force=False)
    assert str(caught.value) == f"'{lay.project_file}' already exists; pass --force to overwrite it"
    assert load_config(lay.env()).guard_level.level == "medium"
    write_preset("production", lay.project_file, force=True)
    assert load_config(lay.env()).guard_level.level == "paranoid"


def test_write_unknown_preset(lay: Layout) -> None:
    with pytest.raises(ConfigError) as caught:
        write_preset("dev", lay.project, force=True)
    assert str(caught.value) == "unknown preset 'dev' (valid: ci-cd, developer, production)"
    assert not lay.project_file.exists()


# --- Rendering --------------------------------------------------------------------------------------


def test_render_config_show(lay: Layout) -> None:
    lay.user_file.write_text("guard_level:\n  level: off\nsandbox:\n  cache_dirs: [~/.npm, '/a:/b']\n")
    rows = {key: (value, source) for key, value, source in render_config_show(load_config(lay.env()))}
    assert list(rows) == [key.name for key in SCHEMA]
    assert rows["guard_level.level"] == ("'off'", f"{lay.user_file}:2")
    assert rows["sandbox.cache_dirs"] == ("[~/.npm, '/a:/b']", f"{lay.user_file}:4")
    assert rows["sandbox.mode"] == ("auto", "default")
    assert rows["sandbox.network_mode"] == ("null", "default")
    assert rows["sandbox.timeout"] == ("300", "default")


def test_show_values_round_trip_through_yaml() -> None:
    cfg = load_preset("production")
    rebuilt: dict[str, dict[str, object]] = {}
    for key, value, _ in render_config_show(cfg):
        section, leaf = key.split(".")
        rebuilt.setdefault(section, {})[leaf] = yaml.safe_load(value)
    assert config_from_mapping(rebuilt) == cfg


def test_docs_are_generated_from_the_schema() -> None:
    committed = (REPO / "docs" / "configuration.md").read_text()
    assert committed == render_markdown(), "run: python -m vgshell.config --markdown > docs/configuration.md"
    for name in (*KEYS, *KEY_ALIASES):
        assert f"`{name}`" in committed, name


def test_config_type_is_exported() -> None:
    assert isinstance(DEFAULT_CONFIG, Config)
