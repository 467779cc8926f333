"""The y / r / n prompt (§6) at a real terminal (pexpect): y runs once, r runs and remembers, anything else —
n, garbage, an empty line, EOF, Ctrl-C, the timeout — refuses; without a terminal nobody is asked."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pexpect
import pytest

from vgshell import trust

COMMAND = "chmod 777 marker.txt && echo RAN-$((40+2))"  # medium risk: asked at guard level high
CHOICES = "y  yes, run once / r  yes, and remember / n  no (default) > "


@pytest.fixture
def project(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    proj = home / "project"
    proj.mkdir(parents=True)
    (home / ".vectra-guard").mkdir()
    (home / ".vectra-guard" / "config.yaml").write_text("guard_level:\n  level: high\nsandbox:\n  mode: never\n"
                                                        "prompt:\n  timeout: 3\n")
    (proj / "marker.txt").write_text("x")
    (proj / "marker.txt").chmod(0o644)
    return proj


def _env(project: Path) -> dict[str, str]:
    home = project.parent
    return {"PATH": os.environ["PATH"], "HOME": str(home), "VG_HOME": str(home / ".vectra-guard"), "TERM": "xterm",
            "NO_COLOR": "1", "VG_SESSION": "prompt-test"}


def spawn(project: Path, command: str = COMMAND) -> pexpect.spawn:
    return pexpect.spawn(sys.executable, ["-m", "vgshell.cli", "exec", command], cwd=str(project),
                         env=_env(project), timeout=30, encoding="utf-8")


def finish(child: pexpect.spawn) -> tuple[str, int]:
    child.expect(pexpect.EOF)
    child.close()
    return child.before or "", child.exitstatus


def answered(project: Path, answer: str) -> tuple[str, int]:
    child = spawn(project)
    child.expect_exact("Needs approval. Why: medium risk: makes files writable by everyone")
    child.expect_exact("  command: " + COMMAND)
    child.expect_exact("  risk:    medium")
    child.expect_exact("  - makes files writable by everyone (perm.world-writable)")
    child.expect_exact("  y or r runs it on the host")  # where both yeses run it
    child.expect_exact(CHOICES)
    child.sendline(answer)
    return finish(child)


def ran(project: Path) -> bool:
    return (project / "marker.txt").stat().st_mode & 0o777 == 0o777


def store(project: Path) -> Path:
    return project.parent / ".vectra-guard" / "trust.json"


def last_record(project: Path) -> dict[str, object]:
    db = sqlite3.connect(project.parent / ".vectra-guard" / "records.db")
    db.row_factory = sqlite3.Row
    return dict(db.execute("SELECT * FROM records ORDER BY id DESC LIMIT 1").fetchone())


@pytest.mark.parametrize("answer", ["y", "Y", "yes"])
def test_yes_runs_once(project: Path, answer: str) -> None:
    out, status = answered(project, answer)
    assert "RAN-42" in out and status == 0 and ran(project)
    assert not store(project).exists()
    rec = last_record(project)
    assert (rec["answer"], rec["outcome"], rec["exit_status"], rec["session"]) == ("y", "host", 0, "prompt-test")


def test_r_runs_and_remembers_then_no_prompt_and_trusted_why(project: Path) -> None:
    out, status = answered(project, "r")
    assert "RAN-42" in out and status == 0
    assert "vg: trust: remembered 'chmod 777 marker.txt && echo RAN-$((40+2))'" in out
    [entry] = json.loads(store(project).read_text())["entries"]
    assert entry["command"] == COMMAND and entry["approved_by"].endswith("via prompt")
    assert last_record(project)["answer"] == "r"
    # approved three days ago, as far as the store knows
    path = store(project)
    trust.mutate(path, lambda es: {k: replace(e, approved_at=time.time() - 3 * 86400 - 60) for k, e in es.items()})
    (project / "marker.txt").chmod(0o644)
    child = spawn(project, "chmod   777 marker.txt && echo RAN-$((40+2))")  # same command, other spacing
    out, status = finish(child)
    assert CHOICES not in out
    assert "Running on host. Why: trusted (approved 3 days ago)" in out
    assert "RAN-42" in out and status == 0 and ran(project)
    [entry] = json.loads(path.read_text())["entries"]
    assert entry["use_count"] == 1 and entry["last_used"] is not None
    rec = last_record(project)
    assert (rec["decision"], rec["why"], rec["answer"]) == ("host", "trusted (approved 3 days ago)", None)


@pytest.mark.parametrize("answer", ["n", "N", "", "yes please", "maybe", "rr"])
def test_anything_but_y_or_r_refuses(project: Path, answer: str) -> None:
    out, status = answered(project, answer)
    assert "vg: not run" in out and "RAN-42" not in out
    assert status == 126 and not ran(project) and not store(project).exists()
    rec = last_record(project)
    assert (rec["answer"], rec["outcome"]) == ("n", "refused")


@pytest.mark.parametrize("how", ["eof", "ctrl-c", "timeout"])
def test_eof_ctrl_c_and_timeout_refuse(project: Path, how: str) -> None:
    child = spawn(project)
    child.expect_exact(CHOICES)
    if how == "eof":
        child.sendeof()
    elif how == "ctrl-c":
        child.sendintr()
    out, status = finish(child)  # timeout: prompt.timeout is 3 s
    assert "vg: not run" in out and "RAN-42" not in out
    assert status == 126 and not ran(project)
    if how == "timeout":
        assert "(no answer within 3s)" in out


def test_no_terminal_no_prompt(project: Path) -> None:
    """No human: policy sandboxes or blocks; with sandbox mode never, blocked, and nobody is asked."""
    r = subprocess.run([sys.executable, "-m", "vgshell.cli", "exec", COMMAND], cwd=project, env=_env(project),
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
    assert r.returncode == 126 and CHOICES.strip() not in r.stderr
    assert "needs approval, no one is at the terminal" in r.stderr and not ran(project)
