"""`vg` as a user runs it: real processes, real stdin/stdout, exit statuses and JSON shapes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

JSON_KEYS = {"command", "risk", "decision", "runtime", "reason", "findings", "networked_install", "cache_mounts"}


def vg(*args: str, stdin: str | None = None, cwd: Path | None = None,
       env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "NO_COLOR": "1", **(env or {})}
    return subprocess.run([sys.executable, "-m", "vgshell.cli", *args], input=stdin, capture_output=True,
                          text=True, cwd=cwd, env=full_env, timeout=60)


@pytest.fixture(autouse=True)
def _home(vg_home: Path) -> None:
    """Every test runs with its own VG_HOME and HOME."""


@pytest.mark.parametrize(("command", "status", "decision"), [
    ("ls -la", 0, "host"),
    ("rm -rf ~", 30, "block"),
    ("rm -rf /", 30, "block"),
    ('echo "rm -rf /"', 0, "host"),
    ("git reset --hard", 30, "block"),  # needs approval, no terminal, no sandbox runtime (PATH emptied)
])
def test_check_exit_status_and_json(command: str, status: int, decision: str) -> None:
    r = vg("check", "--json", command, env={"PATH": "/nonexistent", "DOCKER_HOST": "unix:///nonexistent"})
    assert r.returncode == status, r.stderr
    data = json.loads(r.stdout)
    assert set(data) == JSON_KEYS
    assert data["command"] == command and data["decision"] == decision
    for f in data["findings"]:
        assert set(f) == {"rule", "category", "level", "match", "reason"}


def test_check_sandbox_status_when_a_runtime_exists(tmp_path: Path) -> None:
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    bwrap = fake_bin / "bwrap"
    bwrap.write_text("#!/bin/sh\nexit 0\n")
    bwrap.chmod(0o755)
    r = vg("check", "--json", "npm install express", env={"PATH": str(fake_bin), "VG_RUNTIME": "bubblewrap"})
    assert r.returncode == 10
    data = json.loads(r.stdout)
    assert data["runtime"] == "bubblewrap" and data["networked_install"] is True
    assert data["cache_mounts"] == [str(Path(os.environ["HOME"]) / ".npm")]


def test_check_words_without_quotes() -> None:
    r = vg("check", "--", "rm", "-rf", "/")
    assert r.returncode == 30
    assert r.stdout.startswith("block (critical): critical: recursive delete")


def test_check_stream_is_json_lines_in_order() -> None:
    lines = ["ls", "rm -rf /", "", "curl https://x.sh | sh", 'git commit -m "rm -rf /"']
    r = vg("check", "-", stdin="\n".join(lines) + "\n")
    assert r.returncode == 0, r.stderr
    out = [json.loads(x) for x in r.stdout.splitlines()]
    assert [o["command"] for o in out] == lines
    assert [o["risk"] for o in out] == ["low", "critical", "low", "high", "low"]


def test_check_stream_answers_each_line_before_the_next_arrives() -> None:
    """`vg check -` can serve as a co-process: each answer is flushed at once."""
    p = subprocess.Popen([sys.executable, "-m", "vgshell.cli", "check", "-"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True)
    assert p.stdin is not None and p.stdout is not None
    try:
        for cmd, risk in [("rm -rf /", "critical"), ("ls", "low")]:
            p.stdin.write(cmd + "\n")
            p.stdin.flush()
            assert json.loads(p.stdout.readline())["risk"] == risk
    finally:
        p.stdin.close()
        p.wait(timeout=30)


def test_explain_plain_text_table() -> None:
    r = vg("explain", "sudo env FOO=1 bash -c \"r''m -rf /\"")
    assert r.returncode == 0
    assert "risk      critical" in r.stdout
    assert "fs.rm-protected" in r.stdout and "via sudo > env > bash -c" in r.stdout
    assert "\x1b[" not in r.stdout


def test_explain_says_when_nothing_matched() -> None:
    r = vg("explain", "ls")
    assert "no findings" in r.stdout


def test_usage_errors_are_one_line_with_status_2() -> None:
    r = vg("check")
    assert r.returncode == 2
    assert r.stderr.startswith("vg: usage: 'vg check' needs a command")
    r = vg("frobnicate")
    assert r.returncode == 2 and r.stderr.startswith("vg: usage:")


def test_broken_config_names_file_line_and_choices(tmp_path: Path) -> None:
    (tmp_path / "vectra-guard.yaml").write_text("sandbox:\n  mode: sometimes\n")
    r = vg("check", "ls", cwd=tmp_path)
    assert r.returncode == 3
    assert r.stderr.strip() == (f"vg: config: 'sandbox.mode' must be one of always, auto, risky, never; "
                                f"got 'sometimes' [{tmp_path}/vectra-guard.yaml:2]")


def test_project_config_changes_the_decision(tmp_path: Path) -> None:
    (tmp_path / "vectra-guard.yaml").write_text("policies:\n  denylist: ['git status*']\n")
    sub = tmp_path / "sub"
    sub.mkdir()
    r = vg("check", "--json", "git status", cwd=sub)
    assert r.returncode != 0
    assert "denylisted by 'git status*'" in json.loads(r.stdout)["reason"]


def test_env_override_wins_over_files(tmp_path: Path) -> None:
    (tmp_path / "vectra-guard.yaml").write_text("sandbox:\n  mode: always\n")
    r = vg("check", "--json", "ls", cwd=tmp_path, env={"VG_MODE": "never"})
    assert json.loads(r.stdout)["decision"] == "host"


def test_init_preset_writes_and_refuses_to_overwrite(tmp_path: Path) -> None:
    r = vg("init", "--preset", "developer", cwd=tmp_path)
    assert r.returncode == 0 and (tmp_path / "vectra-guard.yaml").exists()
    r = vg("init", "--preset", "developer", cwd=tmp_path)
    assert r.returncode == 3 and "--force" in r.stderr
    assert vg("init", "--preset", "production", "--force", cwd=tmp_path).returncode == 0
    r = vg("config", "show", cwd=tmp_path)
    assert "sandbox.mode" in r.stdout and str(tmp_path / "vectra-guard.yaml") in r.stdout


def test_user_rule_pack_is_loaded_and_validated(vg_home: Path) -> None:
    rules = vg_home / "rules"
    rules.mkdir(parents=True)
    (rules / "mine.yaml").write_text(
        "version: 1\ncategory: custom\nrules:\n  - id: my.deploy\n    level: high\n"
        "    reason: deploys to production\n    match:\n      command: [deploy]\n")
    r = vg("check", "--json", "deploy --prod")
    assert json.loads(r.stdout)["findings"][0]["rule"] == "my.deploy"
    (rules / "mine.yaml").write_text("version: 1\nrules:\n  - id: x\n    level: hgh\n    reason: r\n"
                                     "    match: {command: [x]}\n")
    r = vg("check", "ls")
    assert r.returncode == 3
    assert "'level' must be one of low, medium, high, critical; got 'hgh'" in r.stderr
    assert f"[{rules / 'mine.yaml'}:3]" in r.stderr


def test_state_files_are_private(vg_home: Path) -> None:
    vg("check", "ls")
    cache = vg_home / "cache"
    assert (vg_home.stat().st_mode & 0o777) == 0o700
    assert cache.is_dir() and (cache.stat().st_mode & 0o777) == 0o700
    for f in cache.iterdir():
        assert f.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("argv", [
    ["check", "rm -rf /", "--json"],  # the SPEC's own form: options after a quoted command
    ["check", "--json", "rm -rf /"],
    ["check", "rm -rf /", "--json", "--cwd", "/"],
    ["check", "rm -rf /", "--cwd=/", "--json"],
    ["check", "rm -rf /", "--quiet", "--json"],
    ["--quiet", "check", "--json", "rm -rf /"],
])
def test_check_options_before_or_after_a_quoted_command(argv: list[str]) -> None:
    r = vg(*argv)
    assert r.returncode == 30
    assert json.loads(r.stdout)["command"] == "rm -rf /"


@pytest.mark.parametrize(("argv", "command"), [
    (["check", "--", "echo", "--json"], "echo --json"),  # after `--` every word is the command's
    (["check", "echo", "-q", "--json"], "echo -q --json"),  # unquoted words with a short option: all command
])
def test_words_after_dashdash_or_among_command_words_stay_the_command(argv: list[str], command: str) -> None:
    r = vg(*argv)
    assert r.returncode == 0 and r.stdout.startswith("host"), r.stdout
    r = vg("check", "--json", *argv[1:])
    assert json.loads(r.stdout)["command"] == command


def test_exec_dashdash_argv_keeps_its_meaning() -> None:
    r = vg("exec", "--", "printf", "%s|", "--quiet", "a b")
    assert r.returncode == 0 and r.stdout == "--quiet|a b|"


@pytest.mark.parametrize("argv", [
    ["--quiet", "exec", "rm -rf /"], ["exec", "--quiet", "rm -rf /"], ["exec", "rm -rf /", "--quiet"],
    ["exec", "-q", "rm -rf /"],
])
def test_quiet_before_or_after_the_subcommand(argv: list[str]) -> None:
    assert "Blocked" in vg("exec", "rm -rf /").stderr
    r = vg(*argv)
    assert r.returncode == 126 and r.stderr == ""


def test_config_path_without_a_file_says_so(tmp_path: Path, vg_home: Path) -> None:
    r = vg("config", "path", cwd=tmp_path)
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr.startswith("vg: config: no config file in effect here, the built-in defaults apply")
    assert str(vg_home / "config.yaml") in r.stderr
    (tmp_path / "vectra-guard.yaml").write_text("guard_level: high\n")
    r = vg("config", "path", cwd=tmp_path)
    assert r.returncode == 0 and r.stdout == f"{tmp_path / 'vectra-guard.yaml'}\n"


@pytest.mark.parametrize("argv", [["off"], ["on"], ["mode", "never"], ["mode"], ["--quiet", "--config", "x", "off"]])
def test_shell_only_commands_in_a_plain_shell_say_what_they_do(argv: list[str]) -> None:
    r = vg(*argv, env={"VG_SESSION": ""})
    assert r.returncode == 2 and "invalid choice" not in r.stderr
    name = argv[-2] if argv[-1] == "never" else argv[-1]
    assert f"'vg {name}' acts on a hooked shell only" in r.stderr and 'eval "$(vg init bash)"' in r.stderr


def test_status_in_a_plain_shell_says_there_is_no_hook() -> None:
    r = vg("status", env={"VG_SESSION": ""})
    assert r.returncode == 0 and r.stdout.startswith("vgshell: this shell has no vg hook")
    assert "guard level" in r.stdout
    r = vg("status", env={"VG_SESSION": "bash-1-2"})
    assert "no vg hook" not in r.stdout and "guard level" in r.stdout
