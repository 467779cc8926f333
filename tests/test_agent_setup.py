"""`vg setup AGENT`: the hook written into each agent's settings files, the owner's text kept.

Each row starts from a settings file as people write them (comments, trailing commas, tabs, other tools'
hooks) and checks: the hook is there in the agent's documented shape, everything else is byte-for-byte where
it was, a second run changes nothing, `--uninstall` gives back the original bytes, and a file that does not
parse is reported with line:column and left alone. Codex's config.toml is checked with Codex's own loader
(`codex doctor --json`, no model needed) when its CLI can be installed from npm.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from vgshell import settings_edit as se

VG = str(Path(sys.executable).with_name("vg"))
CODEX_VERSION = "0.169.0"


def vg(home: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HOME": str(home), "VG_HOME": str(home / ".vectra-guard"), "NO_COLOR": "1"}
    env.pop("CODEX_HOME", None)
    return subprocess.run([VG, "setup", *args], capture_output=True, text=True, env=env, cwd=cwd or home,
                          timeout=60, check=False)


# agent → (settings file under HOME, how to find our hook in the parsed document)
def _claude(doc: dict[str, Any]) -> list[Any]:
    return [h for g in doc["hooks"]["PreToolUse"] if g.get("matcher") == "Bash" for h in g["hooks"]]


def _gemini(doc: dict[str, Any]) -> list[Any]:
    return [h for g in doc["hooks"]["BeforeTool"] if g.get("matcher") == "run_shell_command" for h in g["hooks"]]


JSON_AGENTS: dict[str, tuple[str, Callable[[dict[str, Any]], list[Any]]]] = {
    "claude-code": (".claude/settings.json", _claude),
    "cursor": (".cursor/hooks.json", lambda doc: doc["hooks"]["beforeShellExecution"]),
    "gemini": (".gemini/settings.json", _gemini),
    "vscode": (".copilot/hooks/vgshell.json", lambda doc: doc["hooks"]["PreToolUse"]),
}

COMMENTED = """{
  // my own settings: keep this comment
  "model": "opus", /* and this one */
  "hooks": {
    "PreToolUse": [
      {"matcher": "Edit", "hooks": [{"type": "command", "command": "prettier --write"}]},
    ],
    "beforeShellExecution": [{"command": "./audit.sh"},],
    "BeforeTool": [{"matcher": "write_file", "hooks": [{"type": "command", "command": "lint"}]}],
  },
}
"""
TABS = '{\n\t"env": {"FOO": "1"},\n\t"hooks": {}\n}\n'
ORIGINALS = {
    "missing": None,
    "empty-object": "{}\n",
    "comments-trailing-commas-other-hooks": COMMENTED,
    "tabs-empty-hooks": TABS,
    "one-line": '{"theme": "dark"}',
}


@pytest.mark.parametrize("agent", list(JSON_AGENTS))
@pytest.mark.parametrize("original", list(ORIGINALS))
def test_json_setup_keeps_the_file_and_undoes_exactly(tmp_path: Path, agent: str, original: str) -> None:
    rel, ours = JSON_AGENTS[agent]
    path = tmp_path / rel
    before = ORIGINALS[original]
    if before is not None:
        path.parent.mkdir(parents=True)
        path.write_text(before)
    r = vg(tmp_path, agent)
    assert r.returncode == 0, r.stderr
    after = path.read_text()
    doc = se.parse_jsonc(after).value
    hooks = [h for h in ours(doc) if h.get("command", "").endswith(f"hook {agent}")]
    assert len(hooks) == 1 and Path(hooks[0]["command"].split()[0].strip("'")).name == "vg"
    if before == COMMENTED:
        for kept in ("// my own settings: keep this comment", "/* and this one */", '"prettier --write"',
                     '{"command": "./audit.sh"},', '"lint"', '"model": "opus"'):
            assert kept in after
        assert doc["model"] == "opus"
    backups = se.backups(path)
    assert len(backups) == (0 if before is None else 1)
    if backups:
        assert backups[0].read_text() == before
    again = vg(tmp_path, agent)  # idempotent: same bytes, no second backup
    assert again.returncode == 0 and "already set up" in again.stdout
    assert path.read_text() == after and len(se.backups(path)) == len(backups)
    undone = vg(tmp_path, agent, "--uninstall")
    assert undone.returncode == 0, undone.stderr
    if before is None:
        assert not path.exists()
    else:
        assert path.read_bytes() == before.encode()


@pytest.mark.parametrize("agent", list(JSON_AGENTS))
def test_other_tools_hooks_survive_an_uninstall_after_the_file_changed(tmp_path: Path, agent: str) -> None:
    rel = JSON_AGENTS[agent][0]
    path = tmp_path / rel
    path.parent.mkdir(parents=True)
    path.write_text(COMMENTED)
    assert vg(tmp_path, agent).returncode == 0
    edited = path.read_text().replace('"model": "opus"', '"model": "sonnet"')  # the user edits meanwhile
    path.write_text(edited)
    assert vg(tmp_path, agent, "--uninstall").returncode == 0
    text = path.read_text()
    doc = se.parse_jsonc(text).value
    assert doc["model"] == "sonnet" and "// my own settings: keep this comment" in text
    assert f"hook {agent}" not in text
    assert '"prettier --write"' in text and '"./audit.sh"' in text and '"lint"' in text


@pytest.mark.parametrize("agent", [*JSON_AGENTS, "codex"])
@pytest.mark.parametrize(("bad", "where"), [
    ('{\n  "a": 1\n  "b": 2\n}\n', ":3:3]"),
    ('{\n  "hooks": {\n    "x": [1, 2,, 3]\n  }\n}\n', ":3:16]"),
    ('{\n  /* never closed\n}\n', ":2:3]"),
])
def test_an_unparseable_file_is_reported_with_line_and_column_and_left_alone(
        tmp_path: Path, agent: str, bad: str, where: str) -> None:
    rel = JSON_AGENTS[agent][0] if agent in JSON_AGENTS else ".codex/config.toml"
    path = tmp_path / rel
    path.parent.mkdir(parents=True)
    if agent == "codex":
        bad, where = 'model = "o3"\n[hooks\nx = 1\n', ":2:"
    path.write_text(bad)
    r = vg(tmp_path, agent)
    assert r.returncode != 0
    assert r.stderr.startswith("vg: settings: cannot parse ") and where in r.stderr and str(path) in r.stderr
    assert path.read_text() == bad and se.backups(path) == []


def test_dry_run_shows_the_change_and_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / ".claude" / "settings.json"
    path.parent.mkdir(parents=True)
    path.write_text(COMMENTED)
    r = vg(tmp_path, "claude-code", "--dry-run")
    assert r.returncode == 0
    assert "+" in r.stdout and "hook claude-code" in r.stdout
    assert path.read_text() == COMMENTED and se.backups(path) == []


def test_project_scope_writes_under_the_project(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    for agent, rel in [("claude-code", ".claude/settings.json"), ("codex", ".codex/config.toml"),
                       ("cursor", ".cursor/hooks.json"), ("gemini", ".gemini/settings.json"),
                       ("vscode", ".github/hooks/vgshell.json")]:
        r = vg(tmp_path, agent, "--project", cwd=project)
        assert r.returncode == 0, r.stderr
        assert f"hook {agent}" in (project / rel).read_text()
    assert not (tmp_path / ".claude").exists()


def test_cursor_file_gets_the_documented_version_field(tmp_path: Path) -> None:
    assert vg(tmp_path, "cursor").returncode == 0
    doc = json.loads((tmp_path / ".cursor" / "hooks.json").read_text())
    assert doc["version"] == 1 and doc["hooks"]["beforeShellExecution"][0]["command"].endswith("hook cursor")


# --- Codex: TOML -------------------------------------------------------------------------------------------

CODEX_TOML = """# my codex settings
model = "o3"  # the best one

[features]
hooks = true

[[hooks.PreToolUse]]
matcher = "apply_patch"

[[hooks.PreToolUse.hooks]]
type = "command"
command = "./check-patch.sh"

[tui]
notifications = true
"""


@pytest.mark.parametrize("original", [None, "", CODEX_TOML])
def test_codex_toml_setup_keeps_comments_and_undoes_exactly(tmp_path: Path, original: str | None) -> None:
    path = tmp_path / ".codex" / "config.toml"
    if original is not None:
        path.parent.mkdir(parents=True)
        path.write_text(original)
    assert vg(tmp_path, "codex").returncode == 0
    after = path.read_text()
    doc = se.parse_toml(after, str(path))
    groups = [g for g in doc["hooks"]["PreToolUse"] if g["matcher"] == "Bash"]
    assert len(groups) == 1 and groups[0]["hooks"][0]["command"].endswith("hook codex")
    assert groups[0]["hooks"][0]["type"] == "command"
    if original == CODEX_TOML:
        assert "# my codex settings" in after and "# the best one" in after and "./check-patch.sh" in after
        assert doc["tui"]["notifications"] is True
    assert vg(tmp_path, "codex").stdout.startswith("already set up")
    assert path.read_text() == after
    assert vg(tmp_path, "codex", "--uninstall").returncode == 0
    if original is None:
        assert not path.exists()
    else:
        assert path.read_text() == original


@pytest.fixture(scope="module")
def codex_cli() -> Path:
    """Codex's CLI from npm (its native binary loads and validates config.toml without a model)."""
    cache = Path("/var/tmp/vgshell-tests") / f"codex-{CODEX_VERSION}"  # not under /tmp: Codex refuses that HOME
    binary = cache / "node_modules" / ".bin" / "codex"
    if not binary.exists():
        if shutil.which("npm") is None:
            pytest.skip("npm is not installed: cannot fetch Codex's CLI")
        cache.mkdir(parents=True, exist_ok=True)
        r = subprocess.run(["npm", "i", "--no-audit", "--no-fund", f"@openai/codex@{CODEX_VERSION}"], cwd=cache,
                           capture_output=True, text=True, timeout=300, check=False)
        if r.returncode != 0:
            pytest.skip(f"npm could not install Codex's CLI: {r.stderr.strip()[-200:]}")
    return binary


def _codex_config_status(codex: Path, home: Path) -> str:
    env = {**os.environ, "HOME": str(home), "CODEX_HOME": str(home / ".codex")}
    r = subprocess.run([str(codex), "doctor", "--json"], capture_output=True, text=True, env=env, timeout=120,
                       check=False)
    return str(json.loads(r.stdout)["checks"]["config.load"]["status"])


def test_codex_loads_the_config_vg_setup_wrote(tmp_path: Path, codex_cli: Path) -> None:
    home = tmp_path / "home"
    (home / ".codex").mkdir(parents=True)
    (home / ".codex" / "config.toml").write_text(CODEX_TOML)
    assert vg(home, "codex").returncode == 0
    assert _codex_config_status(codex_cli, home) == "ok"
    # the loader really checks hooks: a malformed hook entry fails it
    (home / ".codex" / "config.toml").write_text('[[hooks.PreToolUse]]\nmatcher = "Bash"\n'
                                                 '[[hooks.PreToolUse.hooks]]\ntype = "bogus"\n')
    assert _codex_config_status(codex_cli, home) == "fail"


# --- the JSONC editor on its own ---------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "keys", "value", "expected"), [
    ("", ("env", "X"), "1", '{\n  "env": {\n    "X": "1"\n  }\n}\n'),
    ('{\n  // c\n  "a": 1,\n}', ("env", "X"), "1", '{\n  // c\n  "a": 1,\n  "env": {\n    "X": "1"\n  },\n}'),
    ('{"env": {"X": "0"}}', ("env", "X"), "1", '{"env": {"X": "1"}}'),
    ('{"env": {"X": "1"}}', ("env", "X"), "1", '{"env": {"X": "1"}}'),
])
def test_set_member(text: str, keys: tuple[str, ...], value: str, expected: str) -> None:
    assert se.set_member(text, keys, value) == expected


@pytest.mark.parametrize(("text", "keys", "expected"), [
    ('{\n  "a": 1,\n  "env": {"P": "x", "Q": 2}\n}', ("env", "P"), '{\n  "a": 1,\n  "env": {"Q": 2}\n}'),
    ('{\n  "a": 1,\n  "env": {"P": "x", "Q": 2}\n}', ("env", "Q"), '{\n  "a": 1,\n  "env": {"P": "x"}\n}'),
    ('{"a": 1}', ("b",), '{"a": 1}'),
])
def test_remove_member(text: str, keys: tuple[str, ...], expected: str) -> None:
    assert se.remove_member(text, keys) == expected


@pytest.mark.parametrize("text", ['{"a": "//not a comment", "b": "/*x*/"}', '{"a": "\\"q\\" // x"}'])
def test_comment_markers_inside_strings_are_text(text: str) -> None:
    assert se.parse_jsonc(text).value == json.loads(text)


# --- Claude Code's shell prefix ------------------------------------------------------------------------------


def claude_prefixed(prefix: str, command: str) -> str:
    """The line Claude Code runs for a Bash call under CLAUDE_CODE_SHELL_PREFIX (formatShellPrefixCommand:
    the prefix splits at its last ' -' into the program, quoted, and its arguments; the command is quoted)."""
    import shlex

    cut = prefix.rfind(" -")
    if cut > 0:
        return f"{shlex.quote(prefix[:cut])} {prefix[cut + 1:]} {shlex.quote(command)}"
    return f"{shlex.quote(prefix)} {shlex.quote(command)}"


def test_shell_prefix_routes_every_bash_call_through_vgshell(tmp_path: Path) -> None:
    home = tmp_path / "home"
    project = home / "project"
    project.mkdir(parents=True)
    r = vg(home, "claude-code", "--shell-prefix")
    assert r.returncode == 0, r.stderr
    settings = se.parse_jsonc((home / ".claude" / "settings.json").read_text()).value
    prefix = settings["env"]["CLAUDE_CODE_SHELL_PREFIX"]
    assert prefix.endswith("vgshell -c") and _claude(settings)[0]["command"].endswith("hook claude-code")
    env = {**os.environ, "HOME": str(home), "VG_HOME": str(home / ".vectra-guard"), "NO_COLOR": "1"}
    try:
        def run(command: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(["bash", "-c", claude_prefixed(prefix, command)], capture_output=True, text=True,
                                  cwd=project, env=env, timeout=120, check=False)

        plain = run("echo plain; exit 4")
        assert (plain.returncode, plain.stdout) == (4, "plain\n")
        sandboxed = run("chmod -R 777 . ; readlink /proc/self/ns/mnt")
        assert sandboxed.returncode == 0 and sandboxed.stdout.strip() != os.readlink("/proc/self/ns/mnt")
        assert run("rm -rf ~").returncode == 126 and home.exists()
    finally:
        subprocess.run([VG, "analyzer", "stop"], env=env, capture_output=True, timeout=60, check=False)
    assert vg(home, "claude-code", "--uninstall").returncode == 0
    assert not (home / ".claude" / "settings.json").exists()


# --- the agents' own CLIs load what vg setup wrote (no model needed) -----------------------------------------

AGENT_CLIS = {"claude": "@anthropic-ai/claude-code@2.1.328", "gemini": "@google/gemini-cli@0.61.0"}


@pytest.fixture(scope="module")
def agent_cli() -> Callable[[str], Path]:
    """Claude Code's and Gemini CLI's own programs from npm, installed once into a cache."""
    cache = Path("/var/tmp/vgshell-tests/agent-clis")

    def find(name: str) -> Path:
        binary = cache / "node_modules" / ".bin" / name
        if binary.exists():
            return binary
        if shutil.which("npm") is None:
            pytest.skip("npm is not installed: cannot fetch the agents' CLIs")
        cache.mkdir(parents=True, exist_ok=True)
        r = subprocess.run(["npm", "i", "--no-audit", "--no-fund", *AGENT_CLIS.values()], cwd=cache,
                           capture_output=True, text=True, timeout=600, check=False)
        if r.returncode != 0:
            pytest.skip(f"npm could not install the agents' CLIs: {r.stderr.strip()[-200:]}")
        return cache / "node_modules" / ".bin" / name
    return find


def _agent_says(binary: Path, home: Path, *args: str) -> str:
    env = {**os.environ, "HOME": str(home)}
    r = subprocess.run([str(binary), *args], capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL,
                       timeout=120, check=False)
    return r.stdout + r.stderr


def test_claude_code_accepts_the_settings_vg_setup_wrote(tmp_path: Path, agent_cli: Callable[[str], Path]) -> None:
    claude = agent_cli("claude")
    home = tmp_path / "home"
    home.mkdir()
    try:
        assert vg(home, "claude-code", "--shell-prefix").returncode == 0  # checks `vgshell -c`: an analyzer starts
    finally:
        env = {**os.environ, "HOME": str(home), "VG_HOME": str(home / ".vectra-guard")}
        subprocess.run([VG, "analyzer", "stop"], env=env, capture_output=True, timeout=60, check=False)
    assert "Invalid settings" not in _agent_says(claude, home, "doctor")
    # the check is real: an entry Claude Code cannot load is reported
    (home / ".claude" / "settings.json").write_text('{"hooks": {"PreToolUse": [{"matcher": "Bash", "hooks": '
                                                    '[{"type": "bogus"}]}]}}')
    assert "Invalid settings" in _agent_says(claude, home, "doctor")


def test_gemini_cli_loads_the_settings_vg_setup_wrote(tmp_path: Path, agent_cli: Callable[[str], Path]) -> None:
    gemini = agent_cli("gemini")
    home = tmp_path / "home"
    (home / ".gemini").mkdir(parents=True)
    (home / ".gemini" / "settings.json").write_text('{\n  "theme": "GitHub"\n}\n')
    assert vg(home, "gemini").returncode == 0
    assert "Invalid configuration" not in _agent_says(gemini, home, "mcp", "list")
    (home / ".gemini" / "settings.json").write_text('{"hooks": {"BeforeTool": "nope"}}')
    assert "Invalid configuration" in _agent_says(gemini, home, "mcp", "list")
