"""`vg setup vscode|cursor`: the editor's terminals run under the guard.

A `vgshell` terminal profile is added to the user's settings.json and made the default profile, the
automation profile (tasks) and the agent terminal profile (`chat.tools.terminal.terminalProfile.*`), for this
platform (`linux` or `osx`). `--profile bash-hook` uses bash with the vg hook instead of vgshell. The edits go
through vgshell.settings_edit: comments, trailing commas, order, formatting and CRLF stay; a timestamped
backup first; a second run changes nothing; `--uninstall` restores the file byte for byte.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from vgshell import settings_edit as se
from vgshell.context import Environment

EDITORS = {"vscode": ("Code", "Code - Insiders"), "cursor": ("Cursor",)}
PROFILE = "vgshell"
PROFILES = ("vgshell", "bash-hook")


def platform() -> str:
    return "osx" if sys.platform == "darwin" else "linux"


def settings_paths(editor: str, env: Environment, plat: str | None = None) -> list[Path]:
    """The user settings.json of each installed flavour (stable, Insiders), or the stable one's place."""
    home = Path(env.home)
    if (plat or platform()) == "osx":
        base = home / "Library" / "Application Support"
    else:
        base = Path(env.env.get("XDG_CONFIG_HOME") or home / ".config")
    flavours = [base / name / "User" / "settings.json" for name in EDITORS[editor]]
    found = [p for p in flavours if p.parent.parent.is_dir()]
    return found or flavours[:1]


def profile(kind: str) -> dict[str, Any]:
    """The terminal profile: vgshell itself, or bash with the hook loaded after the user's ~/.bashrc."""
    from vgshell.agents.judge import vg_binary
    from vgshell.agents.setup import shell_binary

    if kind == "vgshell":
        return {"path": shell_binary(), "args": ["-l"], "icon": "shield"}
    rc = f'[ -r ~/.bashrc ] && . ~/.bashrc; eval "$({shlex.quote(vg_binary())} init bash)"'
    return {"path": "bash", "args": ["-c", f"exec bash --rcfile <(printf '%s\\n' {shlex.quote(rc)}) -i"],
            "icon": "shield"}


def _launch(prof: dict[str, Any]) -> dict[str, Any]:
    return {"path": prof["path"], "args": prof["args"]}


def edit(kind: str, plat: str, name: str) -> Callable[[str], str]:
    """text → text: the profile added and chosen everywhere (idempotent)."""
    prof = profile(kind)
    launch = _launch(prof)
    members: list[tuple[tuple[str, ...], Any]] = [
        ((f"terminal.integrated.profiles.{plat}", PROFILE), prof),
        ((f"terminal.integrated.defaultProfile.{plat}",), PROFILE),
        ((f"terminal.integrated.automationProfile.{plat}",), launch),
        ((f"chat.tools.terminal.terminalProfile.{plat}",), launch),
    ]

    def apply(text: str) -> str:
        for keys, value in members:
            text = se.set_member(text, keys, value, name)
        return text

    return se.keeping_newlines(apply)


def remove(plat: str, name: str) -> Callable[[str], str]:
    """text → text: vgshell's members taken out, when the file changed since and no backup fits any more (a
    default or automation profile that is not vgshell's stays)."""
    ours = [_launch(profile(kind)) for kind in PROFILES]

    def apply(text: str) -> str:
        doc = se.parse_jsonc(text, name).value if text.strip() else {}
        text = se.remove_member(text, (f"terminal.integrated.profiles.{plat}", PROFILE), name)
        if isinstance(doc, dict) and doc.get(f"terminal.integrated.defaultProfile.{plat}") == PROFILE:
            text = se.remove_member(text, (f"terminal.integrated.defaultProfile.{plat}",), name)
        for key in (f"terminal.integrated.automationProfile.{plat}", f"chat.tools.terminal.terminalProfile.{plat}"):
            if isinstance(doc, dict) and doc.get(key) in ours:
                text = se.remove_member(text, (key,), name)
        return text

    return se.keeping_newlines(apply)


def targets(editor: str, env: Environment, kind: str, settings: str | None) -> list[Any]:
    from vgshell.agents.setup import Target

    plat = platform()
    paths = [Path(settings).expanduser()] if settings else settings_paths(editor, env, plat)
    return [Target(p, edit(kind, plat, str(p)), remove(plat, str(p)),
                   tuple(edit(k, plat, str(p)) for k in PROFILES if k != kind)) for p in paths]
