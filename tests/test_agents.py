"""`vg hook AGENT` as each agent runs it: a documented payload on stdin, the running analyzer, the agent's answer.

Payloads come from tests/data/agents/<agent>-<version>/ (see its README for the documentation each follows);
each row puts its own command where that agent carries it and keeps every other field. Where a command is
rewritten into the sandbox, the rewritten command is run the way the agent would run it (bash -c) and proven
from inside to have run in the sandbox.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import DATA
from vgshell import approvals

AGENTS_DATA = DATA / "agents"
VG = str(Path(sys.executable).with_name("vg"))

# agent, fixture, where the command sits in the payload
SHELL_PAYLOADS = [
    ("claude-code", "claude-code-2.1/PreToolUse-Bash.json", ("tool_input", "command")),
    ("codex", "codex-0.169.0/PreToolUse-Bash.json", ("tool_input", "command")),
    ("cursor", "cursor-2.0/beforeShellExecution.json", ("command",)),
    ("cursor", "cursor-2.0/preToolUse-Shell.json", ("tool_input", "command")),
    ("gemini", "gemini-cli-0.30/BeforeTool-run_shell_command.json", ("tool_input", "command")),
    ("vscode", "vscode-1.110/PreToolUse-run_in_terminal.json", ("tool_input", "command")),
]
IDS = [f"{a}:{Path(f).stem}" for a, f, _ in SHELL_PAYLOADS]


class Box:
    """One HOME + VG_HOME with a running analyzer, shared by the tests of this module."""

    def __init__(self, root: Path) -> None:
        self.home = root / "home"
        self.project = self.home / "project"
        self.plain = self.home / "plain"  # sandbox disabled: approval means the host
        for d in (self.project, self.plain):
            d.mkdir(parents=True)
        plain = self.plain / "vectra-guard.yaml"
        plain.write_text("sandbox:\n  enabled: false\n")
        # a project file may loosen the guard only once its content is approved (vg config allow)
        approvals.allow(self.home / ".vectra-guard", plain, approvals.digest(plain.read_bytes()), "test", 0.0)
        self.env = {**os.environ, "HOME": str(self.home), "VG_HOME": str(self.home / ".vectra-guard"),
                    "NO_COLOR": "1"}
        self.env.pop("VG_SESSION", None)

    def vg(self, *args: str, stdin: bytes = b"", env: dict[str, str] | None = None,
           cwd: Path | None = None) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run([VG, *args], input=stdin, capture_output=True, env={**self.env, **(env or {})},
                              cwd=cwd or self.project, timeout=60, check=False)


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Box]:
    b = Box(tmp_path_factory.mktemp("agents"))
    started = b.vg("analyzer", "start")
    assert started.returncode == 0, started.stderr
    yield b
    b.vg("analyzer", "stop")


def payload(fixture: str, where: tuple[str, ...], command: str, cwd: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((AGENTS_DATA / fixture).read_text())
    target = data
    for key in where[:-1]:
        target = target[key]
    target[where[-1]] = command
    if "cwd" in data:
        data["cwd"] = str(cwd)
    if "working_directory" in data.get("tool_input", {}):  # Cursor's Shell tool runs the command there
        data["tool_input"]["working_directory"] = str(cwd)
    return data


def hook(box: Box, agent: str, data: dict[str, Any] | bytes, env: dict[str, str] | None = None,
         cwd: Path | None = None) -> tuple[int, str, str]:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    r = box.vg("hook", agent, stdin=raw, env=env, cwd=cwd)
    return r.returncode, r.stdout.decode(), r.stderr.decode()


def decision(agent: str, out: str) -> tuple[str | None, dict[str, Any] | None]:
    """(the agent-format decision, the rewritten tool input) from a hook's stdout."""
    if not out.strip():
        return None, None
    data = json.loads(out)
    if agent == "cursor":
        return data.get("permission"), data.get("updated_input")
    if agent == "gemini":
        return data.get("decision"), (data.get("hookSpecificOutput") or {}).get("tool_input")
    specific = data.get("hookSpecificOutput") or {}
    return specific.get("permissionDecision"), specific.get("updatedInput")


# --- host: allow, or no opinion ----------------------------------------------------------------------------

HOST_ANSWER = {"claude-code": "allow", "codex": None, "cursor": "allow", "gemini": None, "vscode": None}


@pytest.mark.parametrize(("agent", "fixture", "where"), SHELL_PAYLOADS, ids=IDS)
def test_a_host_command_is_allowed_or_left_alone(box: Box, agent: str, fixture: str,
                                                 where: tuple[str, ...]) -> None:
    status, out, err = hook(box, agent, payload(fixture, where, "ls -la", box.project))
    assert status == 0, err
    assert decision(agent, out) == (HOST_ANSWER[agent], None)
    if agent == "gemini":
        assert json.loads(out) == {}


@pytest.mark.parametrize(("agent", "fixture", "answer"), [
    ("claude-code", "claude-code-2.1/PreToolUse-Write.json", ""),
    ("vscode", "vscode-1.110/PreToolUse-editFiles.json", ""),  # VS Code ignores matchers: every tool comes here
    ("cursor", "cursor-2.0/preToolUse-Write.json", "{}"),
])
def test_other_tools_get_no_opinion_even_with_a_scary_argument(box: Box, agent: str, fixture: str,
                                                               answer: str) -> None:
    status, out, err = hook(box, agent, json.loads((AGENTS_DATA / fixture).read_text()))
    assert (status, out.strip(), err) == (0, answer, "")


# --- sandbox: rewritten, every other field kept ------------------------------------------------------------


@pytest.mark.parametrize(("agent", "fixture", "where"), SHELL_PAYLOADS, ids=IDS)
def test_a_networked_install_is_rewritten_into_the_sandbox_keeping_every_other_field(
        box: Box, agent: str, fixture: str, where: tuple[str, ...]) -> None:
    data = payload(fixture, where, "npm install left-pad", box.project)
    status, out, err = hook(box, agent, data)
    if agent == "cursor" and data["hook_event_name"] == "beforeShellExecution":
        # no rewrite there: a deny that hands the agent the exact sandboxed command
        assert status == 2
        answer = json.loads(out)
        assert answer["permission"] == "deny"
        assert "run instead: " in answer["agent_message"] and "exec --decision" in answer["agent_message"]
        assert "'npm install left-pad'" in answer["agent_message"]
        return
    assert status == 0, err
    verdict, updated = decision(agent, out)
    assert verdict == "allow"
    assert updated is not None
    original = data["tool_input"]
    assert {k: v for k, v in updated.items() if k != "command"} == {k: v for k, v in original.items()
                                                                     if k != "command"}
    assert set(updated) == set(original)  # Claude's updatedInput replaces the whole input: nothing dropped
    assert re.search(r" exec --decision [0-9a-f]{32} --agent ", updated["command"])
    assert updated["command"].endswith("'npm install left-pad'")


# --- ask: the agent's ask, or a deny that says why ---------------------------------------------------------


@pytest.mark.parametrize(("agent", "fixture", "where"), SHELL_PAYLOADS, ids=IDS)
def test_a_command_needing_approval(box: Box, agent: str, fixture: str, where: tuple[str, ...]) -> None:
    data = payload(fixture, where, "git reset --hard", box.project)
    status, out, err = hook(box, agent, data)
    if agent in ("claude-code", "vscode"):
        assert status == 0, err
        verdict, updated = decision(agent, out)
        assert verdict == "ask"
        assert updated is not None and "exec --decision" in updated["command"]  # approving runs it sandboxed
        return
    assert status == 2  # Codex and Gemini cannot ask; Cursor cannot rewrite what approval would sandbox
    assert "git.reset-hard" in err or "reset --hard" in err or "approval" in err
    assert "exec --decision" in err


@pytest.mark.parametrize(("agent", "fixture", "where"), SHELL_PAYLOADS, ids=IDS)
def test_approval_for_the_host_where_no_sandbox_is_configured(box: Box, agent: str, fixture: str,
                                                              where: tuple[str, ...]) -> None:
    data = payload(fixture, where, "git reset --hard", box.plain)
    status, out, err = hook(box, agent, data, cwd=box.plain)
    if agent in ("claude-code", "vscode", "cursor"):
        assert status == 0, err
        assert decision(agent, out) == ("ask", None)
        return
    assert status == 2 and "needs approval" in err and " exec " not in err


def test_no_person_in_the_loop_means_no_ask(box: Box) -> None:
    """Claude in bypassPermissions: an ask would reach nobody, so the policy's no-human answer applies."""
    data = payload("claude-code-2.1/PreToolUse-Bash.json", ("tool_input", "command"), "git reset --hard",
                   box.project)
    data["permission_mode"] = "bypassPermissions"
    status, out, err = hook(box, "claude-code", data)
    assert status == 0, err
    verdict, updated = decision("claude-code", out)
    assert verdict == "allow" and updated is not None and "exec --decision" in updated["command"]


# --- block ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("agent", "fixture", "where"), SHELL_PAYLOADS, ids=IDS)
@pytest.mark.parametrize("command", ["rm -rf ~", "rm -rf /", "sudo rm -rf --no-preserve-root /"])
def test_critical_is_denied_with_exit_2(box: Box, agent: str, fixture: str, where: tuple[str, ...],
                                        command: str) -> None:
    status, out, err = hook(box, agent, payload(fixture, where, command, box.project))
    assert status == 2
    assert err.startswith("vg: blocked: critical") and err.count("\n") == 1
    if agent == "cursor":
        assert json.loads(out)["permission"] == "deny"


@pytest.mark.parametrize(("agent", "fixture", "where"), SHELL_PAYLOADS, ids=IDS)
def test_look_alike_benign_commands_pass(box: Box, agent: str, fixture: str, where: tuple[str, ...]) -> None:
    status, out, err = hook(box, agent, payload(fixture, where, 'echo "rm -rf ~"', box.project))
    assert status == 0, err
    assert decision(agent, out)[0] == HOST_ANSWER[agent]


# --- the directory the command really runs in -----------------------------------------------------------

# agent, fixture, where the command sits, the tool_input field naming the directory the tool runs the command in
RUN_DIRS = [
    ("cursor", "cursor-2.0/preToolUse-Shell.json", ("tool_input", "command"), "working_directory"),
    ("gemini", "gemini-cli-0.30/BeforeTool-run_shell_command.json", ("tool_input", "command"), "dir_path"),
]


@pytest.mark.parametrize(("agent", "fixture", "where", "field"), RUN_DIRS, ids=[r[0] for r in RUN_DIRS])
@pytest.mark.parametrize("relative", [False, True], ids=["absolute", "relative"])
def test_a_script_is_judged_in_the_directory_the_tool_runs_it_in(box: Box, agent: str, fixture: str,
                                                                 where: tuple[str, ...], field: str,
                                                                 relative: bool) -> None:
    """The top-level cwd is an empty directory; the tool's own directory holds ./evil.sh (rm -rf ~)."""
    evil = box.project / "evildir"
    evil.mkdir(exist_ok=True)
    (evil / "evil.sh").write_text("#!/bin/sh\nrm -rf ~\n")
    (evil / "evil.sh").chmod(0o755)
    empty = box.project / "emptydir"
    empty.mkdir(exist_ok=True)
    data = payload(fixture, where, "./evil.sh", empty)
    data["tool_input"][field] = "../evildir" if relative else str(evil)
    status, out, err = hook(box, agent, data)
    assert status == 2, (out, err)
    assert "critical" in err


@pytest.mark.parametrize(("agent", "fixture", "where", "field"), RUN_DIRS, ids=[r[0] for r in RUN_DIRS])
def test_a_harmless_script_in_the_tools_directory_passes(box: Box, agent: str, fixture: str,
                                                         where: tuple[str, ...], field: str) -> None:
    good = box.project / "gooddir"
    good.mkdir(exist_ok=True)
    (good / "evil.sh").write_text("#!/bin/sh\necho hello\n")
    (good / "evil.sh").chmod(0o755)
    data = payload(fixture, where, "./evil.sh", box.project)
    data["tool_input"][field] = str(good)
    status, out, err = hook(box, agent, data)
    assert status == 0, err
    assert decision(agent, out)[0] == HOST_ANSWER[agent]


# --- fail closed -------------------------------------------------------------------------------------------


def _without_command(fixture: str, where: tuple[str, ...], cwd: Path) -> bytes:
    data = payload(fixture, where, "ls", cwd)
    target = data
    for key in where[:-1]:
        target = target[key]
    del target[where[-1]]
    return json.dumps(data).encode()


BAD_INPUTS = {
    "garbage": lambda f, w, cwd: b"\x00\xffnot json{{",
    "empty": lambda f, w, cwd: b"",
    "json-array": lambda f, w, cwd: b"[1, 2]",
    "missing-command": _without_command,
    "command-not-a-string": lambda f, w, cwd: json.dumps(payload(f, w, "ls", cwd)).replace('"ls"', '["ls"]')
    .encode(),
    "ten-megabytes": lambda f, w, cwd: json.dumps(payload(f, w, "echo " + "a" * (10 << 20), cwd)).encode(),
}


@pytest.mark.parametrize(("agent", "fixture", "where"), SHELL_PAYLOADS, ids=IDS)
@pytest.mark.parametrize("bad", list(BAD_INPUTS))
def test_bad_input_is_denied_with_exit_2_and_a_reason(box: Box, agent: str, fixture: str,
                                                      where: tuple[str, ...], bad: str) -> None:
    status, _out, err = hook(box, agent, BAD_INPUTS[bad](fixture, where, box.project))
    assert status == 2
    assert err.startswith("vg: hook: ") and len(err.strip().splitlines()) == 1


def test_an_unknown_agent_is_refused() -> None:
    r = subprocess.run([VG, "hook", "aider"], input=b"{}", capture_output=True, timeout=30, check=False)
    assert r.returncode == 2 and b"usage: vg hook" in r.stderr


class FakeAnalyzer:
    """Listens where analyzer.env says the analyzer is; `hang` holds each request, else closes at once."""

    def __init__(self, hang: bool) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.hang = hang
        self.held: list[socket.socket] = []
        threading.Thread(target=self.serve, daemon=True).start()

    def close(self) -> None:
        self.sock.close()  # accept() fails: the thread ends
        for conn in self.held:
            conn.close()

    def serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            if self.hang:
                self.held.append(conn)
            else:
                conn.recv(65536)
                conn.close()


@pytest.mark.parametrize("hang", [True, False], ids=["hung", "dead"])
@pytest.mark.parametrize(("agent", "fixture", "where"), SHELL_PAYLOADS[:2] + SHELL_PAYLOADS[4:], ids=IDS[:2] + IDS[4:])
def test_an_analyzer_that_does_not_answer_means_deny(tmp_path: Path, agent: str, fixture: str,
                                                     where: tuple[str, ...], hang: bool) -> None:
    b = Box(tmp_path)
    fake = FakeAnalyzer(hang)
    state = Path(b.env["VG_HOME"])
    state.mkdir(mode=0o700, exist_ok=True)
    from vgshell.client import env_key

    (state / "analyzer.env").write_text(f"port={fake.port}\nclient=c\nserver=s\npid=1\nversion=x\n"
                                        f"envkey={env_key(b.env)}\n")
    try:
        status, _out, err = hook(b, agent, payload(fixture, where, "ls", b.project), env={"VG_HOOK_TIMEOUT": "3"})
    finally:
        fake.close()
    assert status == 2
    assert "analyzer" in err and "not running it" in err


def test_no_analyzer_running_starts_one_and_answers(tmp_path: Path) -> None:
    b = Box(tmp_path)
    try:
        status, out, err = hook(b, "claude-code", payload("claude-code-2.1/PreToolUse-Bash.json",
                                                          ("tool_input", "command"), "ls", b.project))
        assert status == 0, err
        assert decision("claude-code", out)[0] == "allow"
        assert b.vg("analyzer", "status").returncode == 0
    finally:
        b.vg("analyzer", "stop")


# --- the rewritten command, run as the agent runs it -------------------------------------------------------


def test_the_rewritten_command_runs_in_the_sandbox_with_its_own_output_and_status(box: Box, tmp_path: Path) -> None:
    outside = tmp_path / "outside-canary"
    command = f"chmod -R 777 . ; echo from-inside; readlink /proc/self/ns/mnt; touch {outside}; exit 7"
    data = payload("claude-code-2.1/PreToolUse-Bash.json", ("tool_input", "command"), command, box.project)
    status, out, err = hook(box, "claude-code", data)
    assert status == 0, err
    verdict, updated = decision("claude-code", out)
    assert verdict == "allow" and updated is not None
    run = subprocess.run(["bash", "-c", updated["command"]], capture_output=True, text=True, cwd=box.project,
                         env=box.env, timeout=120, check=False)
    lines = run.stdout.splitlines()
    assert run.returncode == 7, run.stderr
    assert lines[0] == "from-inside"
    assert lines[1] != os.readlink("/proc/self/ns/mnt")  # another mount namespace: not the host
    assert not outside.exists()  # outside the project it could not write


def _rewrite(box: Box, command: str, env: dict[str, str] | None = None) -> str:
    data = payload("claude-code-2.1/PreToolUse-Bash.json", ("tool_input", "command"), command, box.project)
    status, out, err = hook(box, "claude-code", data, env=env)
    assert status == 0, err
    updated = decision("claude-code", out)[1]
    assert updated is not None
    return str(updated["command"])


def test_a_decision_runs_once(box: Box) -> None:
    line = _rewrite(box, "chmod -R 777 . ; echo ran")
    first = subprocess.run(["bash", "-c", line], capture_output=True, text=True, cwd=box.project, env=box.env,
                           timeout=120, check=False)
    again = subprocess.run(["bash", "-c", line], capture_output=True, text=True, cwd=box.project, env=box.env,
                           timeout=120, check=False)
    assert (first.returncode, first.stdout) == (0, "ran\n")
    assert again.returncode != 0 and again.stdout == "" and "already used" in again.stderr


def test_a_decision_token_does_not_run_another_command(box: Box) -> None:
    line = _rewrite(box, "chmod -R 777 .")
    canary = box.project / "other-command-ran"
    forged = line.replace("'chmod -R 777 .'", f"'touch {canary}'")
    r = subprocess.run(["bash", "-c", forged], capture_output=True, text=True, cwd=box.project, env=box.env,
                       timeout=120, check=False)
    assert r.returncode != 0 and "not " in r.stderr and not canary.exists()


def test_judged_in_process_when_the_analyzer_serves_another_environment(box: Box, tmp_path: Path) -> None:
    """Other VG_* settings than the running analyzer's: judged here; the rewrite forces the sandbox instead
    of naming a decision, and it still never reaches the host."""
    other = {"VG_GUARD_LEVEL": "medium"}
    line = _rewrite(box, f"chmod -R 777 . ; readlink /proc/self/ns/mnt; touch {tmp_path / 'c'}", env=other)
    assert " exec --sandbox bubblewrap --agent claude-code " in line
    r = subprocess.run(["bash", "-c", line], capture_output=True, text=True, cwd=box.project,
                       env={**box.env, **other}, timeout=120, check=False)
    assert r.stdout.strip() != os.readlink("/proc/self/ns/mnt") and not (tmp_path / "c").exists()
    blocked = payload("claude-code-2.1/PreToolUse-Bash.json", ("tool_input", "command"), "rm -rf ~", box.project)
    assert hook(box, "claude-code", blocked, env=other)[0] == 2


def test_sandbox_flag_never_falls_back_to_the_host(box: Box, tmp_path: Path) -> None:
    canary = box.project / "ran-on-host"
    r = box.vg("exec", "--sandbox", "bubblewrap", f"touch {canary}",
               env={"PATH": "/nonexistent", "DOCKER_HOST": "unix:///nonexistent"})
    assert r.returncode != 0
    assert not canary.exists()


def test_sandbox_flag_still_blocks_critical(box: Box) -> None:
    r = box.vg("exec", "--sandbox", "auto", "rm -rf ~")
    assert r.returncode == 126


# --- the records ---------------------------------------------------------------------------------------------


def test_agent_decisions_and_the_sandboxed_run_are_audited(box: Box) -> None:
    session = "audit-session-1"
    data = payload("claude-code-2.1/PreToolUse-Bash.json", ("tool_input", "command"), "chmod -R 777 . ; exit 3",
                   box.project)
    data["session_id"] = session
    _status, out, _err = hook(box, "claude-code", data)
    rewritten = decision("claude-code", out)[1]
    assert rewritten is not None
    ran = subprocess.run(["bash", "-c", rewritten["command"]], capture_output=True, cwd=box.project, env=box.env,
                         timeout=120, check=False)
    assert ran.returncode == 3
    blocked = payload("claude-code-2.1/PreToolUse-Bash.json", ("tool_input", "command"), "rm -rf ~", box.project)
    blocked["session_id"] = session
    hook(box, "claude-code", blocked)
    rows: list[dict[str, Any]] = []
    for _ in range(100):  # the hook records from a detached child, after the agent has its answer
        r = box.vg("audit", "--agent", "claude-code", "--json")
        rows = [x for x in json.loads(r.stdout) if x["session"] == session]
        if len(rows) == 3:
            break
        time.sleep(0.05)
    assert [(x["kind"], x["decision"], x["outcome"], x["exit_status"]) for x in rows] == [
        ("agent", "sandbox", "sandbox", None), ("exec", "sandbox", "sandbox", 3), ("agent", "block", "blocked", None)]
    assert rows[0]["command"] == "chmod -R 777 . ; exit 3" and rows[0]["ran"] == rewritten["command"]
    assert all(x["agent"] == "claude-code" for x in rows)
    table = box.vg("audit", "--agent", "claude-code").stdout.decode()
    assert "RAN" in table and "claude-code" in table
    assert box.vg("audit", "--agent", "codex", "--json").stdout.strip() == b"[]" or all(
        x["agent"] == "codex" for x in json.loads(box.vg("audit", "--agent", "codex", "--json").stdout))


# --- speed: the hook loads only what it needs ----------------------------------------------------------------


def test_the_hook_does_not_import_the_analyzer_when_one_is_running(box: Box) -> None:
    data = payload("claude-code-2.1/PreToolUse-Bash.json", ("tool_input", "command"), "ls", box.project)
    entry = "import sys; sys.argv = ['vg', 'hook', 'claude-code']; from vgshell.entry import main; sys.exit(main())"
    r = subprocess.run([sys.executable, "-X", "importtime", "-c", entry],
                       input=json.dumps(data).encode(), capture_output=True, env=box.env, cwd=box.project,
                       timeout=60, check=False)
    assert r.returncode == 0
    imported = {line.split("|")[-1].strip().split(".")[0] for line in r.stderr.decode().splitlines()
                if line.startswith("import time:")}
    assert "vgshell" in imported
    assert not imported & {"yaml", "bashlex", "tree_sitter", "rich", "prompt_toolkit", "docker", "argparse",
                           "sqlite3", "dataclasses"}


def test_an_agents_sandboxed_install_is_replayed_from_the_result_cache(box: Box) -> None:
    """The rewrite names a decision (`vg exec --decision`): the result cache serves it like any sandboxed
    line — proven by runs.log, which only a real run appends to."""
    project = box.project / "rc-project"
    (project / ".git").mkdir(parents=True)
    (project / "package.json").write_text('{"name": "rc", "version": "1.0.0"}\n')
    command = "npm install --offline --no-audit --no-fund && echo x >>runs.log"

    def agent_runs() -> subprocess.CompletedProcess[str]:
        data = payload("claude-code-2.1/PreToolUse-Bash.json", ("tool_input", "command"), command, project)
        status, out, err = hook(box, "claude-code", data, cwd=project)
        updated = decision("claude-code", out)[1]
        assert status == 0 and updated is not None and "exec --decision" in updated["command"], err
        return subprocess.run(["bash", "-c", updated["command"]], capture_output=True, text=True, cwd=project,
                              env=box.env, stdin=subprocess.DEVNULL, timeout=120, check=False)

    runs = [agent_runs() for _ in range(3)]  # the first writes package-lock.json: an input, so a new key
    assert [r.returncode for r in runs] == [0, 0, 0], runs[-1].stderr
    assert "Replayed from result cache" in runs[2].stderr and "Replayed" not in runs[1].stderr
    assert (project / "runs.log").read_text() == "x\nx\n"  # the third did not run
    rows = [x for x in json.loads(box.vg("audit", "--json", "--limit", "0").stdout)
            if x["kind"] == "exec" and x["command"] == command]
    assert rows[-1]["replayed_ms"] is not None and rows[-1]["cached"] is True
