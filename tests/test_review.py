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
    assert f"vg changes show {entry['id']}, then vg changes apply|discard {entry['id']}" in r.stderr
    assert entry["runtime"] == box.runtime
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


def test_a_timed_out_run_keeps_what_it_wrote_for_review(box: Sandbox) -> None:
    box.config("sandbox:\n  timeout: 2\n")
    r = run(box, "echo partial > part.txt; sleep 30")
    assert r.returncode == 124, r.stderr
    assert not (box.project / "part.txt").exists()
    [entry] = pending(box)
    assert entry["summary"] == "1 added"


def test_capture_works_for_an_unprivileged_user(tmp_path: Path) -> None:
    """bubblewrap's overlay needs no root: the user namespace mounts it (uid 1000 here, as on a laptop)."""
    home = tmp_path / "home"
    project = home / "project"
    make_tree(project)
    shutil.chown(tmp_path, 1000, 1000)
    for p in [home, *home.rglob("*")]:
        os.chown(p, 1000, 1000, follow_symlinks=False)
    tmp_path.chmod(0o755)
    for parent in tmp_path.parents:  # pytest's base temp directories are 0700: let uid 1000 through
        if parent == Path("/tmp") or parent == Path("/"):
            break
        parent.chmod(parent.stat().st_mode | 0o011)
    root = Path(__file__).resolve().parent.parent
    site = next(root.glob(".venv/lib/python3*/site-packages"))
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(home), "VG_HOME": str(home / ".vg"),
           "VG_PROJECT_WRITES": "review", "VG_RUNTIME": "bubblewrap", "VG_MODE": "always",
           "VG_NETWORK_MODE": "none", "PYTHONPATH": f"{root}:{site}"}
    python = shutil.which("python3.11", path="/usr/bin") or "/usr/bin/python3"
    as_user = ["setpriv", "--reuid=1000", "--regid=1000", "--clear-groups", python, "-m", "vgshell.cli"]
    r = subprocess.run([*as_user, "exec", "rm -rf src && echo n > new && id -u"], cwd=project, env=env,
                       capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    assert (project / "src/a.py").exists() and not (project / "new").exists()
    applied = subprocess.run([*as_user, "changes", "apply", "2"], cwd=project, env=env, capture_output=True,
                             text=True, timeout=60)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert not (project / "src").exists() and (project / "new").stat().st_uid == 1000
    assert not list((home / ".vg" / "changes").iterdir())  # applied: nothing left, the work dir included


def test_a_host_mount_left_by_a_killed_vg_is_unmounted_by_the_next_capture(tmp_path: Path) -> None:
    import signal
    import time

    box = Sandbox(tmp_path, "docker")
    make_tree(box.project)
    proc = box.start("sleep 30", extra_env={"VG_PROJECT_WRITES": "review"})
    changes = box.state / "changes"

    def mounted() -> list[str]:
        with open("/proc/self/mountinfo", encoding="utf-8") as f:
            return [line.split()[4] for line in f if str(changes) in line]

    deadline = time.monotonic() + 60
    while not mounted() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert mounted(), "the run never mounted its overlay"
    time.sleep(1)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    assert mounted()  # a killed vg could not unmount
    r = run(box, "true")
    assert r.returncode == 0, r.stderr
    assert mounted() == []
    listed = json.loads(vg(box, "changes", "list", "--json").stdout)
    assert [e["status"] for e in listed] == ["interrupted"]
    assert vg(box, "changes", "discard", str(listed[0]["id"])).returncode == 0


@pytest.mark.parametrize("kind", ["bash", "zsh"])
@pytest.mark.parametrize(("key", "src_left"), [("a", False), ("d", True)])
def test_a_hooked_shell_reviews_a_sandboxed_line(tmp_path: Path, kind: str, key: str, src_left: bool) -> None:
    from tests.test_hooks import DONE, SANDBOX_CONFIG, Shell

    sh = Shell(kind, tmp_path, config=SANDBOX_CONFIG + "  project_writes: review\n", env={"PAGER": "cat"})
    try:
        make_tree(sh.project)
        sh.child.send("rm -rf src\r")
        sh.child.expect("1 deleted")
        sh.child.expect("keep for later")
        assert (sh.project / "src/a.py").exists()  # the run is over; the project has not moved yet
        sh.child.send(key + "\r")
        sh.child.expect(DONE)
        assert (sh.project / "src").exists() is src_left
        status, _ = sh.run("echo still-here")
        assert status == 0
    finally:
        sh.close()


def test_vgshell_c_keeps_a_reviewed_line_pending(tmp_path: Path) -> None:
    """An agent's `vgshell -c LINE`: no human, so the writes wait and the notice says how to review them."""
    box = Sandbox(tmp_path, "bubblewrap")
    make_tree(box.project)
    vgshell = str(Path(sys.executable).with_name("vgshell"))
    r = subprocess.run([vgshell, "-c", "rm -rf src && echo done"], cwd=box.project, capture_output=True, text=True,
                       env={**box.env(), "VG_MODE": "auto", "VG_PROJECT_WRITES": "review"}, timeout=120,
                       stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "done\n"
    assert (box.project / "src/a.py").exists()
    [entry] = pending(box)
    assert f"vg changes show {entry['id']}" in r.stderr


def test_from_a_subdirectory_the_whole_project_is_behind_the_overlay(box: Sandbox) -> None:
    """cwd inside a git project: the root is captured (the spec's separate cwd bind would have gone around it)."""
    (box.project / ".git").mkdir()
    r = box.run("echo here > here.txt && rm -rf ../build && echo up > ../up.txt", cwd=box.project / "src",
                extra_env={"VG_PROJECT_WRITES": "review"}, quiet=False)
    assert r.returncode == 0, r.stderr
    assert not (box.project / "src/here.txt").exists() and (box.project / "build/out.o").exists()
    [entry] = pending(box)
    shown = json.loads(vg(box, "changes", "show", str(entry["id"]), "--json").stdout)
    assert {c["path"] for c in shown["changes"]} == {"src/here.txt", "build", "up.txt"}
    assert shown["project"] == str(box.project)


@pytest.mark.parametrize("fuse", [True, False])
def test_without_the_kernels_overlay_bubblewrap_uses_fuse_overlayfs_or_does_not_run(tmp_path: Path,
                                                                                     fuse: bool) -> None:
    """A kernel whose user namespaces may not mount overlayfs (a failing `mount` stands in for it here):
    fuse-overlayfs takes over, whiteouts and opaque directories included; without it the command never runs."""
    fake = tmp_path / "fakebin"
    fake.mkdir()
    (fake / "mount").write_text("#!/bin/sh\necho 'mount: permission denied' >&2\nexit 32\n")
    (fake / "mount").chmod(0o755)
    if not fuse:
        (fake / "fuse-overlayfs").write_text("#!/bin/sh\nexit 1\n")
        (fake / "fuse-overlayfs").chmod(0o755)
    box = Sandbox(tmp_path, "bubblewrap")
    make_tree(box.project)
    before = snapshot(box.project)
    r = box.run("rm -rf build && mkdir build && echo o > build/new.o && rm README.md && echo ran",
                extra_env={"VG_PROJECT_WRITES": "review", "PATH": f"{fake}:{os.environ['PATH']}"}, quiet=False)
    assert snapshot(box.project) == before
    if not fuse:
        assert r.returncode != 0 and "ran" not in r.stdout
        assert "could not mount an overlay" in r.stderr and "the command was not run" in r.stderr
        assert vg(box, "changes", "list", "--json").stdout.strip() == "[]"
        return
    assert r.returncode == 0 and r.stdout == "ran\n", r.stderr
    [entry] = pending(box)
    assert entry["layout"] == "fuse"
    shown = json.loads(vg(box, "changes", "show", str(entry["id"]), "--json").stdout)
    assert {(c["path"], c["kind"]) for c in shown["changes"]} == {("build", "opaque"), ("build/new.o", "added"),
                                                                   ("README.md", "deleted")}
    assert vg(box, "changes", "apply", str(entry["id"])).returncode == 0
    assert not (box.project / "README.md").exists() and sorted(os.listdir(box.project / "build")) == ["new.o"]
