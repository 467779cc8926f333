"""`vg setup AGENT`: put `vg hook AGENT` into the agent's own settings files (and take it out again).

Where each agent reads its hooks (user scope by default, `--project` for the directory vg runs in):

  claude-code  ~/.claude/settings.json        .claude/settings.json     hooks.PreToolUse[] matcher Bash
  codex        $CODEX_HOME/config.toml         .codex/config.toml        [[hooks.PreToolUse]] matcher Bash
  cursor       ~/.cursor/hooks.json            .cursor/hooks.json        hooks.beforeShellExecution[]
  gemini       ~/.gemini/settings.json         .gemini/settings.json     hooks.BeforeTool[] run_shell_command
  vscode       ~/.copilot/hooks/vgshell.json   .github/hooks/vgshell.json  hooks.PreToolUse[]

`--shell-prefix` (claude-code) also sets `env.CLAUDE_CODE_SHELL_PREFIX` to `vgshell -c`, so every Bash call
runs through vgshell even where a hook's rewrite is not applied. The edits themselves live in
vgshell.settings_edit (comments kept, timestamped backup first, idempotent, exact undo).
"""

from __future__ import annotations

import difflib
import os
import shlex
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from vgshell import settings_edit as se
from vgshell.agents.judge import vg_binary
from vgshell.context import Environment
from vgshell.errors import ExitStatus

HOOK_TIMEOUT = 30  # seconds an agent waits for `vg hook` (its own bound is 10 s: VG_HOOK_TIMEOUT)


@dataclass(frozen=True)
class Target:
    """One settings file and the edit vgshell makes to it (`edit` is text → text and idempotent;
    `remove` takes vgshell's entries out of a file that was changed since)."""

    path: Path
    edit: Callable[[str], str]
    remove: Callable[[str], str]
    also: tuple[Callable[[str], str], ...] = ()  # other edits an earlier setup may have made (for the exact undo)


def hook_command(agent: str) -> str:
    return f"{shlex.quote(vg_binary())} hook {agent}"


def is_our_command(command: object, agent: str) -> bool:
    """`… vg hook AGENT` whatever path vg had when it was written."""
    words = command.split() if isinstance(command, str) else []
    return words[-2:] == ["hook", agent] and os.path.basename(words[-3].strip("'\"")) == "vg" if len(words) >= 3 \
        else False


def _group_is_ours(agent: str) -> Callable[[Any], bool]:
    """A matcher group {matcher, hooks: [...]} holding our command."""
    def ours(group: Any) -> bool:
        hooks = group.get("hooks") if isinstance(group, dict) else None
        return isinstance(hooks, list) and any(isinstance(h, dict) and is_our_command(h.get("command"), agent)
                                               for h in hooks)
    return ours


def _entry_is_ours(agent: str) -> Callable[[Any], bool]:
    """A plain hook entry {command, …} that is ours."""
    return lambda entry: isinstance(entry, dict) and is_our_command(entry.get("command"), agent)


def _json_target(path: Path, keys: tuple[str, ...], item: dict[str, Any], ours: Callable[[Any], bool],
                 template: dict[str, Any] | None = None) -> Target:
    name = str(path)
    return Target(path, lambda text: se.add_item(text, keys, item, ours, name, template),
                  lambda text: se.remove_items(text, keys, ours, name))


def targets(agent: str, env: Environment, project: bool, shell_prefix: bool) -> list[Target]:
    home, root = Path(env.home), Path(env.cwd)
    command = hook_command(agent)
    if agent == "claude-code":
        path = (root if project else home) / ".claude" / "settings.json"
        item = {"matcher": "Bash", "hooks": [{"type": "command", "command": command, "timeout": HOOK_TIMEOUT}]}
        hook = _json_target(path, ("hooks", "PreToolUse"), item, _group_is_ours(agent))
        prefix = _prefix_target(path)

        def both(text: str) -> str:
            return prefix.edit(hook.edit(text))

        def remove(text: str) -> str:
            return prefix.remove(hook.remove(text))

        return [Target(path, both if shell_prefix else hook.edit, remove, (hook.edit, both))]
    if agent == "codex":
        base = root / ".codex" if project else Path(env.env.get("CODEX_HOME") or home / ".codex")
        return [_codex_target(base / "config.toml", command)]
    if agent == "cursor":
        path = (root if project else home) / ".cursor" / "hooks.json"
        return [_json_target(path, ("hooks", "beforeShellExecution"), {"command": command},
                             _entry_is_ours(agent), template={"version": 1})]
    if agent == "gemini":
        path = (root if project else home) / ".gemini" / "settings.json"
        item = {"matcher": "run_shell_command", "hooks": [{"name": "vgshell", "type": "command", "command": command,
                                                           "timeout": HOOK_TIMEOUT * 1000}]}
        return [_json_target(path, ("hooks", "BeforeTool"), item, _group_is_ours(agent))]
    path = root / ".github" / "hooks" / "vgshell.json" if project else home / ".copilot" / "hooks" / "vgshell.json"
    entry: dict[str, Any] = {"type": "command", "command": command, "timeout": HOOK_TIMEOUT}
    return [_json_target(path, ("hooks", "PreToolUse"), entry, _entry_is_ours(agent))]


def _prefix_target(path: Path) -> Target:
    keys = ("env", "CLAUDE_CODE_SHELL_PREFIX")
    name = str(path)
    prefix = f"{shell_binary()} -c"
    return Target(path, lambda text: se.set_member(text, keys, prefix, name),
                  lambda text: se.remove_member(text, keys, name))


def shell_binary() -> str:
    """`vgshell` beside this vg (Claude Code runs `PREFIX 'command'`, and splits the prefix before ` -c`)."""
    beside = Path(vg_binary()).with_name("vgshell")
    return str(beside) if beside.is_file() else shutil.which("vgshell") or "vgshell"


def shell_prefix_works() -> str | None:
    """None when `vgshell -c` runs a command here, else why not."""
    try:
        r = subprocess.run([shell_binary(), "-c", "true"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        return str(e)
    return None if r.returncode == 0 else (r.stderr.strip().splitlines() or [f"exit {r.returncode}"])[-1]


def _codex_target(path: Path, command: str) -> Target:
    name = str(path)

    def ours(group: Any) -> bool:
        hooks = group.get("hooks") if hasattr(group, "get") else None
        return isinstance(hooks, list) and any(is_our_command(h.get("command"), "codex") for h in hooks)

    def edit(text: str) -> str:
        import tomlkit

        doc = se.parse_toml(text, name)
        hooks = doc.get("hooks")
        if hooks is None:
            hooks = tomlkit.table(is_super_table=True)
            doc.append("hooks", hooks)
        groups = hooks.get("PreToolUse")
        if groups is None:
            groups = tomlkit.aot()
            hooks.append("PreToolUse", groups)
        if any(ours(g) for g in groups):
            return text
        group = tomlkit.table()
        group["matcher"] = "Bash"
        entries = tomlkit.aot()
        entry = tomlkit.table()
        entry.update({"type": "command", "command": command, "timeout": HOOK_TIMEOUT})
        entries.append(entry)
        group.append("hooks", entries)
        groups.append(group)
        return str(tomlkit.dumps(doc))

    def remove(text: str) -> str:
        import tomlkit

        doc = se.parse_toml(text, name)
        groups = doc.get("hooks", {}).get("PreToolUse")
        if not groups:
            return text
        for i in reversed(range(len(groups))):
            if ours(groups[i]):
                del groups[i]
        return str(tomlkit.dumps(doc))

    return Target(path, edit, remove)


def run_setup(agent: str, env: Environment, *, project: bool, shell_prefix: bool, uninstall: bool, dry_run: bool,
              out: TextIO, profile: str = "vgshell", settings: str | None = None) -> int:
    if shell_prefix and agent != "claude-code":
        raise se.SettingsError("--shell-prefix is a Claude Code setting (CLAUDE_CODE_SHELL_PREFIX); drop it for "
                               f"{agent}")
    if shell_prefix and not uninstall:
        why = shell_prefix_works()
        if why is not None:
            raise se.SettingsError(f"--shell-prefix needs a working 'vgshell -c' ({shell_binary()}: {why}); "
                                   f"nothing was written")
    found = targets(agent, env, project, shell_prefix)
    if agent in ("vscode", "cursor") and not project:  # and the editor's own terminals
        from vgshell import editors

        found += editors.targets(agent, env, profile, settings)
    for target in found:
        apply(target, uninstall, dry_run, out)
    return int(ExitStatus.OK)


def apply(target: Target, uninstall: bool, dry_run: bool, out: TextIO) -> None:
    """Write (or undo) one target: a backup first, a diff for a dry run, one line saying what was done."""
    path = target.path
    current = se.read(path)
    edits = [se.keeping_newlines(e) for e in (target.edit, *target.also)]
    if uninstall:
        if current is None:
            out.write(f"nothing to remove: {path} does not exist\n")
            return
        before = next((b for b in (se.undo(path, current, e) for e in edits) if b is not None), None)
        new: str | None = se.keeping_newlines(target.remove)(current) if before is None else before.text
    else:
        new = edits[0](current or "")
    if new == current:
        out.write(f"{'nothing to remove in' if uninstall else 'already set up:'} {path}\n")
        return
    if dry_run:
        diff = difflib.unified_diff((current or "").splitlines(True), (new or "").splitlines(True), str(path),
                                    f"{path} (after)")
        out.write("".join(diff) or f"would remove {path}\n")
        return
    saved = se.backup(path)
    kept = f" (backup: {saved})" if saved else ""
    if new is None:  # the file was vgshell's alone: undo means it does not exist
        path.unlink()
        out.write(f"removed {path}{kept}\n")
        return
    se.write(path, new)
    out.write(f"{'restored' if uninstall else 'wrote'} {path}{kept}\n")
