"""`vg setup vscode|cursor`: the editor's terminals run under the guard. A table of real-world settings.json
shapes → the exact file, a second run changing nothing, `--uninstall` restoring it byte for byte."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

VG = str(Path(sys.executable).with_name("vg"))
VGSHELL = str(Path(VG).with_name("vgshell"))
ADDED = f'''"terminal.integrated.profiles.linux": {{
@"vgshell": {{
@@"path": "{VGSHELL}",
@@"args": [
@@@"-l"
@@],
@@"icon": "shield"
@}}
}},
@DEFAULT@"terminal.integrated.automationProfile.linux": {{
@"path": "{VGSHELL}",
@"args": [
@@"-l"
@]
}},
"chat.tools.terminal.terminalProfile.linux": {{
@"path": "{VGSHELL}",
@"args": [
@@"-l"
@]
}}'''


def added(indent: str, unit: str = "  ", default: bool = True) -> str:
    """The members vgshell appends, as the file's own indent renders them (the default profile among them
    unless the file already had that key, which is then replaced where it stands)."""
    text = ADDED.replace("@DEFAULT@", '"terminal.integrated.defaultProfile.linux": "vgshell",\n' if default else "")
    assert "@DEFAULT@" not in text
    return "\n".join(indent + line.replace("@", unit) for line in text.splitlines())


ROWS = {
    "missing": (None, '{\n  "terminal.integrated.profiles.linux": {\n    "vgshell": {\n      "path": "'
                f'{VGSHELL}",\n      "args": [\n        "-l"\n      ],\n      "icon": "shield"\n    }}\n  }}\n}}\n'),
    "comments and trailing commas": (
        '// my settings\n{\n  /* font */ "editor.fontSize": 14, // big\n  "files.autoSave": "afterDelay",\n}\n',
        '// my settings\n{\n  /* font */ "editor.fontSize": 14, // big\n  "files.autoSave": "afterDelay",\n'
        + added("  ") + ",\n}\n"),
    "default profile the user set, tabs": (
        '{\n\t"terminal.integrated.defaultProfile.linux": "zsh",\n\t"editor.tabSize": 4\n}\n',
        '{\n\t"terminal.integrated.defaultProfile.linux": "vgshell",\n\t"editor.tabSize": 4,\n'
        + added("\t", "\t", default=False) + "\n}\n"),
}


def setup(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HOME": str(home), "VG_HOME": str(home / ".vectra-guard"), "XDG_CONFIG_HOME": "",
           "NO_COLOR": "1"}
    return subprocess.run([VG, "setup", *args], capture_output=True, text=True, env=env, timeout=60)


def settings(home: Path, flavour: str = "Code") -> Path:
    return home / ".config" / flavour / "User" / "settings.json"


@pytest.mark.parametrize("row", list(ROWS))
def test_settings_shapes_exact_idempotent_and_undone(tmp_path: Path, row: str) -> None:
    original, expected = ROWS[row]
    path = settings(tmp_path)
    if original is not None:
        path.parent.mkdir(parents=True)
        path.write_bytes(original.encode())
    r = setup(tmp_path, "vscode")
    assert r.returncode == 0, r.stderr
    text = path.read_bytes().decode()
    if row == "missing":  # the edit of nothing: the profile first, then the other three members in order
        doc = json.loads(text)
        assert doc["terminal.integrated.defaultProfile.linux"] == "vgshell"
        assert doc["terminal.integrated.profiles.linux"]["vgshell"]["path"] == VGSHELL
        assert doc["chat.tools.terminal.terminalProfile.linux"] == {"path": VGSHELL, "args": ["-l"]}
        assert doc["terminal.integrated.automationProfile.linux"] == {"path": VGSHELL, "args": ["-l"]}
    else:
        assert text == expected
    assert setup(tmp_path, "vscode").stdout.count("already set up") == 2
    assert path.read_bytes().decode() == text
    assert setup(tmp_path, "vscode", "--uninstall").returncode == 0
    if original is None:
        assert not path.exists() or path.read_text() == ""
    else:
        assert path.read_bytes() == original.encode()


def test_crlf_stays_crlf_and_uninstall_is_byte_for_byte(tmp_path: Path) -> None:
    path = settings(tmp_path, "Cursor")
    path.parent.mkdir(parents=True)
    original = b'// mine\r\n{\r\n  "editor.fontSize": 14,\r\n}\r\n'
    path.write_bytes(original)
    assert setup(tmp_path, "cursor").returncode == 0
    data = path.read_bytes()
    assert b"\r\n" in data and b"\n" not in data.replace(b"\r\n", b"")
    assert b'"terminal.integrated.defaultProfile.linux": "vgshell"' in data
    assert setup(tmp_path, "cursor", "--uninstall").returncode == 0
    assert path.read_bytes() == original


def test_existing_vgshell_profile_is_replaced_and_others_kept(tmp_path: Path) -> None:
    path = settings(tmp_path)
    path.parent.mkdir(parents=True)
    original = ('{\n  "terminal.integrated.profiles.linux": {\n    "zsh": {"path": "zsh"},\n'
                '    "vgshell": {"path": "/old/vgshell"}\n  }\n}\n')
    path.write_text(original)
    assert setup(tmp_path, "vscode").returncode == 0
    doc = json.loads(path.read_text())
    assert doc["terminal.integrated.profiles.linux"]["zsh"] == {"path": "zsh"}
    assert doc["terminal.integrated.profiles.linux"]["vgshell"]["path"] == VGSHELL
    assert setup(tmp_path, "vscode", "--uninstall").returncode == 0
    assert path.read_text() == original


def test_stable_and_insiders_both_found_and_bash_hook_profile(tmp_path: Path) -> None:
    for flavour in ("Code", "Code - Insiders"):
        settings(tmp_path, flavour).parent.mkdir(parents=True)
        settings(tmp_path, flavour).write_text("{}\n")
    assert setup(tmp_path, "vscode", "--profile", "bash-hook").returncode == 0
    for flavour in ("Code", "Code - Insiders"):
        prof = json.loads(settings(tmp_path, flavour).read_text())["terminal.integrated.profiles.linux"]["vgshell"]
        assert prof["path"] == "bash" and "init bash" in prof["args"][1]
        r = subprocess.run([prof["path"], *prof["args"][:-1], prof["args"][-1].replace(" -i", " -ic 'type -t vg'")],
                           capture_output=True, text=True, env={**os.environ, "HOME": str(tmp_path)}, timeout=60,
                           stdin=subprocess.DEVNULL)
        assert r.stdout.strip() == "function", r.stderr  # the hook's `vg` function is loaded in that bash


def test_unparseable_file_reported_with_line_and_column_and_untouched(tmp_path: Path) -> None:
    path = settings(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text('{\n  "a": 1\n  "b": 2\n}\n')
    r = setup(tmp_path, "vscode")
    assert r.returncode != 0 and ":3:" in r.stderr
    assert path.read_text() == '{\n  "a": 1\n  "b": 2\n}\n'
    assert [p.name for p in path.parent.iterdir()] == ["settings.json"]


def test_settings_option_and_dry_run(tmp_path: Path) -> None:
    path = tmp_path / "elsewhere.json"
    path.write_text("{}\n")
    r = setup(tmp_path, "cursor", "--settings", str(path), "--dry-run")
    assert r.returncode == 0 and '+  "terminal.integrated.defaultProfile.linux": "vgshell"' in r.stdout
    assert path.read_text() == "{}\n"
    assert setup(tmp_path, "cursor", "--settings", str(path)).returncode == 0
    assert json.loads(path.read_text())["terminal.integrated.defaultProfile.linux"] == "vgshell"
    assert not settings(tmp_path, "Cursor").exists()


ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("script", ["shell-integration/setup-cursor.sh", "scripts/setup-cursor-protection.sh"])
def test_thin_scripts_call_vg_setup_cursor(tmp_path: Path, script: str) -> None:
    env = {**os.environ, "HOME": str(tmp_path), "VG_HOME": str(tmp_path / ".vg"), "XDG_CONFIG_HOME": "",
           "PATH": f"{Path(VG).parent}:/usr/bin:/bin"}
    r = subprocess.run([str(ROOT / script)], capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    doc = json.loads(settings(tmp_path, "Cursor").read_text())
    assert doc["terminal.integrated.defaultProfile.linux"] == "vgshell"
    assert json.loads((tmp_path / ".cursor/hooks.json").read_text())["hooks"]["beforeShellExecution"]


def test_install_shell_wrapper_is_install_sh_shell_hooks() -> None:
    r = subprocess.run([str(ROOT / "scripts/install-shell-wrapper.sh"), "--help"], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0 and "--shell-hooks also adds the bash/zsh hook" in r.stdout


@pytest.mark.parametrize(("plat", "xdg", "made", "expected"), [
    ("linux", "", [], [".config/Code/User/settings.json"]),
    ("linux", "", ["Code - Insiders"], [".config/Code - Insiders/User/settings.json"]),
    ("linux", "xdg", ["Code"], ["xdg/Code/User/settings.json"]),
    ("osx", "", ["Code", "Code - Insiders"], ["Library/Application Support/Code/User/settings.json",
                                              "Library/Application Support/Code - Insiders/User/settings.json"]),
])
def test_settings_paths_linux_and_macos(tmp_path: Path, plat: str, xdg: str, made: list[str],
                                        expected: list[str]) -> None:
    from vgshell.context import Environment
    from vgshell.editors import settings_paths

    base = tmp_path / ("Library/Application Support" if plat == "osx" else (xdg or ".config"))
    for flavour in made:
        (base / flavour).mkdir(parents=True)
    env = Environment(env={"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / xdg) if xdg else ""})
    assert settings_paths("vscode", env, plat) == [tmp_path / e for e in expected]
