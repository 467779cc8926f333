"""`vg config allow|deny|status` and `vg status`: approving a project's config, and saying what is in effect."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from vgshell import approvals
from vgshell.config import Config, load_config, yaml_scalar
from vgshell.context import Environment
from vgshell.errors import ExitStatus, UsageError, VgError
from vgshell.layers import expand_path, loosening, project_path, user_path


def _target(env: Environment, given: str | None, must_exist: bool = True) -> Path:
    if given:
        path = expand_path(given, env)
        if must_exist and not path.is_file():
            raise UsageError(f"no such file: '{path}'")
        return path
    found = project_path(env)
    if found is None:
        raise UsageError(f"there is no vectra-guard.yaml in {env.cwd} or above; name the file: "
                         f"vg config allow PATH")  # fmt: skip
    return found


def allow(env: Environment, args: argparse.Namespace) -> int:
    """Approve the file's exact content: its loosening settings apply from the next command."""
    from vgshell.trust import approver

    if env.env.get("VG_SANDBOX"):
        raise UsageError("vg config allow ran inside a sandbox, where an approval cannot reach your state "
                         "directory; run it where the guard lets it run on the host (e.g. in a shell after "
                         "'vg mode never')")  # fmt: skip
    path = _target(env, args.path)
    _settings, loose, data = loosening(env, path)
    out = env.stdout
    if loose:
        out.write(f"{path} loosens the guard:\n")
        for s in loose:
            out.write(f"  {s.name}: {yaml_scalar(s.value)} [{s.where}]\n")
        if any(s.name == "rules.disabled" for s in loose):
            out.write("  (critical rules stay on whatever a project file says)\n")
    else:
        out.write(f"{path} loosens nothing now; approving it anyway\n")
    out.flush()
    if not _confirmed(env, path):
        out.write("not approved\n")
        return int(ExitStatus.ERROR)
    sha = approvals.digest(data)
    warning = approvals.allow(env.state_dir, path, sha, approver(env.env, "vg config allow"), env.clock())
    if warning:
        env.stderr.write(f"vg: config: {warning}\n")
    out.write(f"approved {path} (sha256 {sha[:12]}…); any edit to it revokes the approval\n")
    return int(ExitStatus.OK)


def _confirmed(env: Environment, path: Path) -> bool:
    """A person answers at the terminal: a program (an agent told so by the cloned repository) cannot."""
    if not env.human_present:
        raise UsageError(f"approving {path} needs a person at a terminal to answer; run 'vg config allow' "
                         f"there")  # fmt: skip
    env.stderr.write(f"let {path} loosen the guard? [y/N] ")
    env.stderr.flush()
    return env.stdin.readline().strip().lower() in ("y", "yes")


def deny(env: Environment, args: argparse.Namespace) -> int:
    path = _target(env, args.path, must_exist=False)
    if not approvals.deny(env.state_dir, path):
        raise VgError(f"{path} is not approved (see 'vg config status')")
    env.stdout.write(f"withdrew the approval of {path}; it may only tighten the guard again\n")
    return int(ExitStatus.OK)


# --- What is in effect ----------------------------------------------------------------------------------


def _critical(env: Environment, cfg: Config) -> tuple[list[str], list[str]]:
    """Critical rules `rules.disabled` switches off, and those it names that stay on (from a project or
    `--config` file)."""
    from vgshell.analyzer import Analyzer
    from vgshell.config import with_overrides
    from vgshell.risk.model import Level

    every = Analyzer(env, with_overrides(cfg, {"rules.disabled": []})).rules.rules
    critical = {r.id for r in every if r.level is Level.CRITICAL}
    named = [rule for rule in cfg.rules.disabled if rule in critical]
    return (named, []) if cfg.layers.disable_critical else ([], named)


def report(env: Environment, cfg: Config) -> dict[str, Any]:
    """Everything `vg config status` and `vg status` say, as data."""
    layers = cfg.layers
    off, kept = _critical(env, cfg)
    user = user_path(env)
    return {
        "guard_level": cfg.guard_level.level,
        "sandbox_mode": cfg.sandbox.effective_mode,
        "managed": {"path": layers.managed_file, "keys": sorted(layers.managed), "invalid": layers.closed},
        "user": str(user) if user.is_file() else None,
        "project": None if layers.project is None else {
            "path": layers.project, "approved": layers.approved,
            "ignored": [{"key": i.name, "where": i.where} for i in layers.ignored]},
        "critical_rules_off": [{"rule": rule, "by": cfg.sources["rules.disabled"]} for rule in off],
        "critical_rules_kept": kept,
        "problems": list(layers.problems),
    }


def _lines(data: dict[str, Any]) -> list[str]:
    lines = [f"guard level {data['guard_level']}, sandbox mode {data['sandbox_mode']}"]
    managed = data["managed"]
    if managed["invalid"]:
        lines.append(f"managed config: INVALID, failing closed (every command asked about or sandboxed): "
                     f"{managed['invalid']}")  # fmt: skip
    elif managed["path"]:
        lines.append(f"managed config: {managed['path']} (pins {', '.join(managed['keys']) or 'nothing'})")
    lines.append(f"user config: {data['user'] or 'none'}")
    project = data["project"]
    if project is None:
        lines.append("project config: none")
    elif project["approved"]:
        lines.append(f"project config: {project['path']} (approved: its settings apply)")
    elif project["ignored"]:
        keys = ", ".join(f"'{i['key']}' [{i['where']}]" for i in project["ignored"])
        lines.append(f"project config: {project['path']} (not approved; ignored: {keys}; to apply them: "
                     f"vg config allow {project['path']})")  # fmt: skip
    else:
        lines.append(f"project config: {project['path']} (only tightens)")
    for item in data["critical_rules_off"]:
        lines.append(f"CRITICAL RULE OFF: {item['rule']} [{item['by']}]")
    if data["critical_rules_kept"]:
        lines.append(f"critical rules kept on (a project or --config file cannot switch them off): "
                     f"{', '.join(data['critical_rules_kept'])}")  # fmt: skip
    lines += [f"problem: {text}" for text in data["problems"]]
    return lines


def status(env: Environment, args: argparse.Namespace) -> int:
    """`vg config status`: what `vg status` says, plus every approval on record."""
    cfg = load_config(env, args.config)
    data = report(env, cfg)
    store = approvals.store_path(env.state_dir)
    found, problem = approvals.read(store)
    data["approvals"] = [{**a.to_json(), "state": _approval_state(a)} for a in found.values()]
    data["approvals_file"] = str(store)
    if problem:
        data["problems"].append(problem)
    if args.json:
        env.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
        return int(ExitStatus.OK)
    lines = _lines(data)
    lines.append(f"approvals ({store}): {len(found) or 'none'}")
    lines += [f"  {a['path']}  {a['state']}  (approved {a['approved_at']} by {a['approved_by']})"
              for a in data["approvals"]]  # fmt: skip
    env.stdout.write("".join(f"{line}\n" for line in lines))
    return int(ExitStatus.OK)


def _approval_state(a: approvals.Approval) -> str:
    try:
        current = approvals.digest(Path(a.path).read_bytes())
    except OSError:
        return "file gone"
    return "current" if current == a.sha256 else "changed since (not in effect)"


def summary(env: Environment, args: argparse.Namespace) -> int:
    """`vg status` outside a hooked shell (inside one, the hook's own line comes first)."""
    cfg = load_config(env, args.config)
    env.stdout.write("".join(f"vgshell: {line}\n" for line in _lines(report(env, cfg))))
    return int(ExitStatus.OK)


