"""The config layers (SPEC §1) and what each may do.

Weakest to strongest: built-in defaults → `<state dir>/config.yaml` (the user's) → the nearest
`vectra-guard.yaml` walking up from the working directory (the project's) → `--config FILE` → `VG_*`
environment variables → the managed `/etc/vectra-guard/config.yaml` (an admin's).

- The project file is what a clone brings, so it may only tighten what the defaults and the user file set.
  A setting that loosens (by its key's direction in the schema, `vgshell.tighten`) is left out until the
  user approves the file's exact content (`vg config allow`, `vgshell.approvals`); then it applies, except
  that a project file never switches off a critical rule (`Layers.disable_critical`).
- The managed file's values stand unless a lower layer's value is tighter (denylists combine). A managed
  file that cannot be read or validated fails closed: every key with a direction is held at its tightest
  (guard level paranoid, sandbox always, network none, no allowlist, nothing disabled, no trust store), so
  critical lines are blocked and every other line is asked about or sandboxed until it is fixed.
- `VG_MANAGED_CONFIG` names the managed file instead (for tests), but only while
  `/etc/vectra-guard/config.yaml` does not exist: a variable cannot switch an admin's policy off.

What was left out, and why, is kept on the Config (`Config.layers`); `notices` words it, once per file and
session (`NoticeLog`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType
from typing import Final

from vgshell.config import (
    DEFAULT_CONFIG,
    PROJECT_FILE,
    USER_FILE,
    Config,
    Ignored,
    Layers,
    Setting,
    _merge,
    _reject_duplicates,
    _validated,
    _yaml_settings,
    constrained,
)
from vgshell.context import Environment
from vgshell.errors import ConfigError
from vgshell.schema import ENV_OVERRIDES, KEYS, SCHEMA, from_text

MANAGED_FILE: Final = "/etc/vectra-guard/config.yaml"
MANAGED_ENV: Final = "VG_MANAGED_CONFIG"


# --- Where the files are ------------------------------------------------------------------------------


def expand_path(path: str, env: Environment, base: str | None = None) -> Path:
    """`~` → env.home; relative → against `base` (default env.cwd). Lexical: touches no file."""
    if path == "~" or path.startswith("~/"):
        path = env.home + path[1:]
    return Path(os.path.normpath(Path(base or env.cwd, path)))


def user_path(env: Environment) -> Path:
    return expand_path(str(env.state_dir / USER_FILE), env)


def project_path(env: Environment) -> Path | None:
    """The nearest `vectra-guard.yaml` from the working directory up."""
    cwd = expand_path(".", env)
    for directory in (cwd, *cwd.parents):
        candidate = directory / PROJECT_FILE
        if candidate.is_file():
            return candidate
    return None


def managed_path(env: Environment | None = None) -> Path:
    if env is None or os.path.lexists(MANAGED_FILE):
        return Path(MANAGED_FILE)
    override = env.env.get(MANAGED_ENV, "")
    return expand_path(override, env) if override else Path(MANAGED_FILE)


def files(env: Environment, explicit: str | None = None) -> tuple[Path, ...]:
    """The config files in effect, weakest first."""
    found = [path for path in (user_path(env), project_path(env)) if path is not None and path.is_file()]
    if explicit is not None:
        found.append(expand_path(explicit, env))
    managed = managed_path(env)
    if os.path.lexists(managed):
        found.append(managed)
    return tuple(found)


def _read(path: Path, label: str = "config") -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"config file not found: '{path}' [{label}]") from None
    except OSError as problem:
        reason = problem.strerror or type(problem).__name__
        raise ConfigError(f"cannot read '{path}': {reason} [{label}]") from None


def _settings(path: Path, label: str = "config") -> tuple[list[Setting], bytes]:
    data = _read(path, label)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"invalid YAML: not UTF-8 text [{path}]") from None
    settings = _yaml_settings(text, str(path))
    _reject_duplicates(settings)
    return settings, data


def _env_settings(env: Environment) -> list[Setting]:
    settings: list[Setting] = []
    for variable, name in ENV_OVERRIDES:
        text = env.env.get(variable, "")
        if text:
            key = KEYS[name]
            settings.append(_validated(key, from_text(key, text), f"env {variable}"))
    # a key may be named by two variables (VECTRA_GUARD_LEVEL, VG_GUARD_LEVEL): the later wins
    return list({setting.name: setting for setting in settings}.values())


# --- Loading --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Project:
    path: str
    sha256: str
    approved: bool
    ignored: tuple[Ignored, ...]
    problems: tuple[str, ...]


def load(env: Environment, explicit: str | None = None) -> Config:
    """Every layer, weakest first; see the module docstring for what each may do."""
    cfg = DEFAULT_CONFIG
    disabled_by = "default"
    user = user_path(env)
    if user.is_file():
        settings, _ = _settings(user)
        cfg, disabled_by = _merge(cfg, settings, str), _by(settings, "user", disabled_by)
    project = project_path(env)
    trusted: _Project | None = None
    if project is not None:
        settings, trusted = _project(env, cfg, project)
        cfg, disabled_by = _merge(cfg, settings, str), _by(settings, "project", disabled_by)
    if explicit is not None:
        settings, _ = _settings(expand_path(explicit, env), "--config")
        cfg, disabled_by = _merge(cfg, settings, lambda w: "--config " + w), _by(settings, "--config", disabled_by)
    cfg = _merge(cfg, _env_settings(env), str)
    return _managed(env, cfg, trusted, disabled_by)


def _by(settings: Sequence[Setting], layer: str, before: str) -> str:
    """Which layer `rules.disabled` now comes from."""
    return layer if any(s.name == "rules.disabled" for s in settings) else before


def loosening(env: Environment, path: Path, below: Config | None = None) -> tuple[list[Setting], list[Setting],
                                                                                bytes]:  # fmt: skip
    """A project file's settings, those of them that loosen what `below` (default: the defaults and the
    user file) set, and the file's bytes."""
    from vgshell.tighten import Context, loosens

    if below is None:
        user = user_path(env)
        below = _merge(DEFAULT_CONFIG, _settings(user)[0], str) if user.is_file() else DEFAULT_CONFIG
    settings, data = _settings(path)
    ctx = Context({key.name: below.get(key.name) for key in SCHEMA}, str(path.parent), env.home)
    return settings, [s for s in settings if loosens(KEYS[s.name], below.get(s.name), s.value, ctx)], data


def _project(env: Environment, below: Config, path: Path) -> tuple[list[Setting], _Project]:
    """The project file's settings that may apply: all when its content is approved, else the tightening."""
    from vgshell import approvals

    settings, loose, data = loosening(env, path, below)
    sha, approved, problems = approvals.digest(data), False, tuple[str, ...]()
    if loose:
        store, problem = approvals.read(approvals.store_path(env.state_dir))
        approved = approvals.is_approved(store, path, sha)
        problems = (problem,) if problem else ()
    if loose and not approved:
        settings = [s for s in settings if s not in loose]
    ignored = () if approved else tuple(Ignored(s.name, s.where) for s in loose)
    return settings, _Project(str(path), sha, approved, ignored, problems)


def _managed(env: Environment, cfg: Config, project: _Project | None, disabled_by: str) -> Config:
    path = managed_path(env)
    managed: dict[str, tuple[object, str]] = {}
    closed = None
    if os.path.lexists(path):
        try:
            settings, _ = _settings(path, "managed config")
            managed = {s.name: (s.value, s.where) for s in settings}
        except ConfigError as e:
            closed = e.render()
    layers = Layers(
        project=project.path if project else None, project_sha256=project.sha256 if project else None,
        approved=bool(project and project.approved), ignored=project.ignored if project else (),
        managed_file=str(path) if os.path.lexists(path) else None, managed=MappingProxyType(managed),
        closed=closed, problems=project.problems if project else (), disable_critical=True,
    )
    values = {key.name: cfg.get(key.name) for key in SCHEMA}
    result = constrained(values, dict(cfg.sources), layers)
    if "rules.disabled" in managed and result.sources["rules.disabled"] == managed["rules.disabled"][1]:
        disabled_by = "managed"
    may = disabled_by in ("default", "user", "managed")
    return replace(result, layers=replace(layers, disable_critical=may))


# --- Saying what was left out, once per file and session ----------------------------------------------------


@dataclass(frozen=True)
class Notice:
    """`key` names what it is about (kind, file, content) so it is said once per session; `text` is one line."""

    key: str
    text: str


def notices(cfg: Config, kept_critical: Iterable[str] = ()) -> list[Notice]:
    """The notices a Config owes the user: the managed file's error, a bad approvals file, a project file's
    loosening settings left out, critical rules a project or `--config` file may not switch off."""
    layers = cfg.layers
    out: list[Notice] = []
    if layers.closed is not None:
        out.append(Notice(f"closed\t{layers.managed_file}\t{layers.closed}",
                          f"{layers.closed}; the managed config is invalid, so every command is asked about or "
                          f"sandboxed (critical ones blocked) until it is fixed"))  # fmt: skip
    out += [Notice(f"problem\t{text}", f"vg: config: {text}") for text in layers.problems]
    if layers.ignored:
        out.append(Notice(f"ignored\t{layers.project}\t{layers.project_sha256}", ignored_text(cfg)))
    kept = tuple(kept_critical)
    if kept:
        out.append(Notice(f"critical\t{cfg.sources['rules.disabled']}\t{','.join(kept)}",
                          f"vg: config: a critical rule stays on: {', '.join(kept)} "
                          f"[{cfg.sources['rules.disabled']}]; only the user config or the managed config "
                          f"can switch one off"))  # fmt: skip
    return out


def ignored_text(cfg: Config) -> str:
    keys = ", ".join(f"'{i.name}' [{i.where}]" for i in cfg.layers.ignored)
    return (f"vg: config: ignored {keys}: a project file may only tighten the guard; if you trust "
            f"{cfg.layers.project}, approve it with: vg config allow {cfg.layers.project}")


def notice_session(env: Environment) -> str:
    """The session notices are said once in: the shell's `VG_SESSION`, else the calling process."""
    return env.env.get("VG_SESSION", "").strip()[:64] or f"ppid-{os.getppid()}"


class NoticeLog:
    """Which notices each session has seen, in `<state dir>/cache/config-notices` (shared by the analyzer
    and `vg` processes); read only when a notice is due, so a clean config costs nothing."""

    KEEP: Final = 400  # lines; older ones go when the file passes twice this

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / "cache" / "config-notices"
        self._said: set[str] = set()

    def due(self, session: str, pending: Sequence[Notice]) -> list[str]:
        """The texts of `pending` this session has not been shown; records them as shown."""
        fresh = [n for n in pending if f"{session}\t{n.key}" not in self._said]
        if not fresh:
            return []
        lines = self._lines()
        self._said.update(lines)
        fresh = [n for n in fresh if f"{session}\t{n.key}" not in self._said]
        if fresh:
            self._append(lines, [f"{session}\t{n.key}".replace("\n", " ") for n in fresh])
        return [n.text for n in fresh]

    def _lines(self) -> list[str]:
        try:
            return self.path.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return []

    def _append(self, lines: list[str], new: list[str]) -> None:
        self._said.update(new)
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            if len(lines) > 2 * self.KEEP:
                tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
                tmp.write_text("".join(f"{x}\n" for x in lines[-self.KEEP:] + new), encoding="utf-8")
                os.replace(tmp, self.path)
                return
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            with os.fdopen(fd, "a", encoding="utf-8") as f:
                f.write("".join(f"{x}\n" for x in new))
        except OSError:
            pass  # a notice said twice is better than none
