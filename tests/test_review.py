"""`sandbox.project_writes: review | discard` in real sandboxes: where the writes land, on every runtime.

Each test looks at the real project tree (a snapshot of every entry's type, mode and content) rather than at
what vg says: under review nothing reaches the project until `vg changes apply`, under discard nothing ever.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest

from tests.test_changes import snapshot
from tests.test_sandbox import RUNTIMES, Sandbox


def make_tree(root: Path) -> None:
    for rel, text in {"README.md": "hello\n", "src/a.py": "print(1)\n", "src/pkg/b.py": "b = 2\n",
                      "build/out.o": "old\n", "run.sh": "#!/bin/sh\n"}.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    (root / "run.sh").chmod(0o644)


@pytest.fixture(params=RUNTIMES)
def box(request: pytest.FixtureRequest, tmp_path: Path) -> Sandbox:
    s = Sandbox(tmp_path, request.param)
    make_tree(s.project)
    return s


def vg(box: Sandbox, *args: str, mode: str = "review") -> subprocess.CompletedProcess[str]:
    env = {**box.env(), "VG_PROJECT_WRITES": mode}
    return subprocess.run([sys.executable, "-m", "vgshell.cli", *args], cwd=box.project, env=env,
                          capture_output=True, text=True, timeout=120)


def run(box: Sandbox, command: str, mode: str = "review") -> subprocess.CompletedProcess[str]:
    return box.run(command, extra_env={"VG_PROJECT_WRITES": mode}, quiet=False)


def pending(box: Sandbox) -> list[dict[str, object]]:
    r = vg(box, "changes", "list", "--json")
    assert r.returncode == 0, r.stderr
    return [e for e in json.loads(r.stdout) if e["status"] == "pending"]


def test_rm_rf_src_under_review_waits_for_apply(box: Sandbox) -> None:
    r = run(box, "rm -rf src && ls")
    assert r.returncode == 0, r.stderr
    assert "src" not in r.stdout.split()  # the command saw its own delete …
    assert (box.project / "src/a.py").read_text() == "print(1)\n"  # … the project did not
    [entry] = pending(box)
    assert f"vg changes show {entry['id']}" in r.stderr and entry["runtime"] == box.runtime
    shown = vg(box, "changes", "show", str(entry["id"]))
    assert "- src/ (directory)" in shown.stdout
    applied = vg(box, "changes", "apply", str(entry["id"])[:17])
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert not (box.project / "src").exists()
    assert pending(box) == []


def test_discard_leaves_the_tree_byte_identical(box: Sandbox) -> None:
    before = snapshot(box.project)
    r = run(box, "rm -rf src build && echo x > README.md && chmod 755 run.sh && mkdir -p new/d && echo n > new/d/f "
                 "&& ln -s /etc/passwd evil && cat README.md", mode="discard")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "x\n"  # inside, the writes were there
    assert snapshot(box.project) == before
    assert "discarded" in r.stderr
    assert vg(box, "changes", "list", "--json").stdout.strip() == "[]"


def test_apply_refuses_a_file_changed_on_the_host_after_the_run(box: Sandbox) -> None:
    r = run(box, "echo sandbox >> src/a.py && echo new > new.txt")
    assert r.returncode == 0, r.stderr
    (box.project / "src/a.py").write_text("host edit\n")
    [entry] = pending(box)
    applied = vg(box, "changes", "apply", str(entry["id"]))
    assert applied.returncode == 1
    assert "src/a.py: changed in the project since the run" in applied.stdout
    assert (box.project / "src/a.py").read_text() == "host edit\n"
    assert (box.project / "new.txt").read_text() == "new\n"
    [left] = pending(box)  # the refused path stays for later
    assert left["paths"] == 1


def test_whiteouts_and_opaque_dirs_round_trip(box: Sandbox, tmp_path: Path) -> None:
    script = ("rm -rf build && mkdir build && echo o > build/new.o && rm README.md && chmod 755 run.sh "
              "&& rm -rf src/pkg && mkdir -p src/pkg && echo c > src/pkg/c.py && ln -s src/a.py main.py")
    direct = tmp_path / "direct"
    shutil.copytree(box.project, direct, symlinks=True)
    subprocess.run(["sh", "-ec", script], cwd=direct, check=True)
    r = run(box, script)
    assert r.returncode == 0, r.stderr
    [entry] = pending(box)
    shown = json.loads(vg(box, "changes", "show", str(entry["id"]), "--json").stdout)
    kinds = {c["path"]: c["kind"] for c in shown["changes"]}
    assert kinds["build"] == "opaque" and kinds["README.md"] == "deleted" and kinds["run.sh"] == "mode"
    assert vg(box, "changes", "apply", str(entry["id"])).returncode == 0
    assert snapshot(box.project) == snapshot(direct)


def test_a_link_out_of_the_project_is_refused(box: Sandbox) -> None:
    r = run(box, "ln -s /etc/passwd evil && ln -s src/a.py fine")
    assert r.returncode == 0, r.stderr
    [entry] = pending(box)
    applied = vg(box, "changes", "apply", str(entry["id"]))
    assert applied.returncode == 1
    assert "evil: a symbolic link to '/etc/passwd', outside the project" in applied.stdout
    assert not os.path.lexists(box.project / "evil")
    assert os.readlink(box.project / "fine") == "src/a.py"


def test_nothing_written_leaves_nothing_to_review(box: Sandbox) -> None:
    r = run(box, "cat README.md >/dev/null")
    assert r.returncode == 0, r.stderr
    assert "vg: changes" not in r.stderr
    assert vg(box, "changes", "list", "--json").stdout.strip() == "[]"


def test_direct_still_writes_the_project(box: Sandbox) -> None:
    r = run(box, "rm -rf src", mode="direct")
    assert r.returncode == 0, r.stderr
    assert not (box.project / "src").exists()


# --- The human's answer, on a real terminal (bubblewrap; the review is the same for every runtime) ----------

@pytest.mark.parametrize(("answer", "src_left", "kept"), [("a", False, 0), ("d", True, 0), ("k", True, 1),
                                                         ("", True, 1), ("yes", True, 1)])
def test_the_review_prompt_on_a_terminal(tmp_path: Path, answer: str, src_left: bool, kept: int) -> None:
    box = Sandbox(tmp_path, "bubblewrap")
    make_tree(box.project)
    env = {**box.env(), "VG_PROJECT_WRITES": "review", "PAGER": "cat", "TERM": "dumb"}
    child = pexpect.spawn(sys.executable, ["-m", "vgshell.cli", "exec", "rm -rf src"], cwd=str(box.project),
                          env=env, encoding="utf-8", timeout=60)
    child.expect("1 deleted")
    child.expect("keep for later")
    child.sendline(answer)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert (box.project / "src").exists() is src_left
    assert len(pending(box)) == kept


def test_the_hooked_shell_sends_a_reviewed_line_through_vg_exec(tmp_path: Path) -> None:
    """The analyzer prepares bubblewrap argv for the shell to run itself; under review it must not (that
    argv would write the project directly): the answer is `exec`, a decision for `vg exec`."""
    import socket

    from vgshell.analyzer import Analyzer
    from vgshell.config import load_config
    from vgshell.context import Environment
    from vgshell.server import Server, _Conn

    box = Sandbox(tmp_path, "bubblewrap")
    ours, theirs = socket.socketpair()
    server = Server(Environment(env=box.env(), cwd=str(box.project)), ours)
    answers = {}
    for mode in ("review", "direct"):
        env = Environment(env={**box.env(), "VG_PROJECT_WRITES": mode}, cwd=str(box.project))
        analyzer = Analyzer(env, load_config(env))
        verdict = analyzer.check("rm -rf src")
        assert verdict.decision.action == "sandbox"
        answers[mode] = server._prepare(analyzer, verdict, str(box.project), _Conn(theirs), "", False)
    assert answers["review"].action == "exec" and answers["review"].argv == ()
    assert answers["direct"].action == "sandbox" and answers["direct"].argv
    ours.close()
    theirs.close()
