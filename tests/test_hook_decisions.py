"""One decision, carried through: what the analyzer decides for a hooked shell's line is where it really runs.

Every row types a line in a real bash or zsh (pexpect, real analyzer, real bubblewrap or Docker) and then
looks at where it ran — never at the notice: the line writes its mount namespace into the project
(writable everywhere) and touches a canary in $HOME, which a sandbox replaces with an empty tmpfs.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
from test_hooks import SHELLS, Shell, vg_bin

HOST_NS = os.readlink("/proc/self/ns/mnt")
# the default security level (balanced: network restricted, through the analyzer's egress proxy)
DEFAULT = "sandbox:\n  runtime: bubblewrap\n"
PROBE = "readlink /proc/self/ns/mnt > ns-{t}; touch ~/canary-{t}"
LINES = {
    "low": PROBE,
    "medium": "curl -s https://example.invalid/x; " + PROBE,
    "ask-y": "git reset --hard 2>/dev/null; " + PROBE,
    "ask-r": "git reset --hard 2>/dev/null; " + PROBE,
    "ask-n": "git reset --hard 2>/dev/null; " + PROBE,
    "critical": PROBE + "; rm -rf ~",
}
KEYS = {"ask-y": "y", "ask-r": "r", "ask-n": "n"}
WHERE = {  # mode → row → where the line must run
    "auto": {"low": "host", "medium": "sandbox", "ask-y": "sandbox", "ask-r": "sandbox"},
    "always": {"low": "sandbox", "medium": "sandbox", "ask-y": "sandbox", "ask-r": "sandbox"},
    "risky": {"low": "host", "medium": "host", "ask-y": "sandbox", "ask-r": "sandbox"},
    "never": {"low": "host", "medium": "host", "ask-y": "host", "ask-r": "host"},
}


def where(sh: Shell, tag: str) -> str:
    """host, sandbox or nowhere — from the namespace the line saw and whether $HOME was the real one."""
    ns, canary = sh.project / f"ns-{tag}", sh.home / f"canary-{tag}"
    if not ns.exists():
        assert not canary.exists(), tag
        return "nowhere"
    inside = ns.read_text().strip() != HOST_NS
    assert canary.exists() != inside, f"{tag}: namespace and $HOME disagree"
    return "sandbox" if inside else "host"


@pytest.mark.parametrize("mode", list(WHERE))
@pytest.mark.parametrize("kind", SHELLS)
def test_every_mode_and_decision_runs_where_the_analyzer_decided(kind: str, mode: str, tmp_path: Path) -> None:
    sh = Shell(kind, tmp_path, config=DEFAULT)
    try:
        sh.run(f"vg mode {mode}")
        for row, line in LINES.items():
            tag = f"{mode}-{row}"
            if row in KEYS:
                sh.child.send(line.format(t=tag) + "\r")
                sh.child.expect("y or r runs it (in the sandbox|on the host)")
                said = "sandbox" if "sandbox" in sh.child.match.group(1) else "host"
                sh.child.expect("yes, and remember")
                sh.child.send(KEYS[row] + "\r")
                sh.child.expect(r"@@DONE (-?\d+)@@")
                expected = WHERE[mode].get(row, "nowhere")
                assert said == WHERE[mode][row.replace("-n", "-y")], (row, said)
            else:
                sh.run(line.format(t=tag))
                expected = WHERE[mode].get(row, "nowhere")
            assert where(sh, tag) == expected, (mode, row)
        assert "\n/" in sh.run("pwd")[1] and str(sh.project) in sh.run("pwd")[1]
    finally:
        sh.close()


@pytest.mark.parametrize("kind", SHELLS)
def test_the_reported_line_under_vg_mode_always_never_touches_the_host(kind: str, tmp_path: Path) -> None:
    """The line from the report: `vg mode always`, then `hostname; touch ~/.w`, default configuration."""
    sh = Shell(kind, tmp_path, config=DEFAULT)
    try:
        sh.run("vg mode always")
        status, out = sh.run("hostname; touch ~/.w")
        assert not (sh.home / ".w").exists()
        assert "vgshell" in out  # the sandbox's host name
        assert status == 0
    finally:
        sh.close()


def test_a_decision_token_runs_once_and_a_made_up_one_runs_nothing(tmp_path: Path) -> None:
    """`vg exec --decision` carries out a decision the analyzer made; it never judges (or runs) anything else."""
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "VG_HOME": str(tmp_path / "state")}
    r = subprocess.run([vg_bin(), "exec", "--decision", "0123456789abcdef0123456789abcdef"], env=env,
                       capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode != 0 and "nothing was run" in r.stderr
    r = subprocess.run([vg_bin(), "exec", "--decision", "x", "touch", "ran"], env=env, capture_output=True,
                       text=True, cwd=tmp_path)
    assert r.returncode == 2 and not (tmp_path / "ran").exists()


DOCKER = "sandbox:\n  runtime: docker\n  image: vgshell-test/debian:latest\n"


@pytest.mark.parametrize("kind", SHELLS)
def test_a_docker_line_runs_the_analyzers_decision_through_vg_exec(kind: str, tmp_path: Path) -> None:
    sh = Shell(kind, tmp_path, config=DOCKER)
    try:
        sh.run("vg mode always")
        out = sh.run(PROBE.format(t="docker"), timeout=120)[1]
        assert where(sh, "docker") == "sandbox", out
        time.sleep(0.5)
        r = subprocess.run([vg_bin(), "audit", "--json"], env=sh.env, capture_output=True, text=True, check=True)
        row = next(x for x in json.loads(r.stdout) if x["command"] == PROBE.format(t="docker"))
        assert row["outcome"] == "sandbox" and row["runtime"] == "docker"
    finally:
        sh.close()


ASKED = "git reset --hard 2>/dev/null; " + PROBE  # high: asked at the default guard level, then sandboxed


@pytest.mark.parametrize("kind", SHELLS)
def test_every_answer_at_the_prompt_is_recorded_with_where_it_ran(kind: str, tmp_path: Path) -> None:
    sh = Shell(kind, tmp_path, config=DEFAULT + "prompt:\n  timeout: 2\n")
    try:
        for tag, key in (("y", "y"), ("r", "r"), ("n", "n"), ("eof", "\x04")):
            sh.child.send(ASKED.format(t=tag) + "\r")
            sh.child.expect("yes, and remember")
            sh.child.send(key if key == "\x04" else key + "\r")
            sh.child.expect(r"@@DONE (-?\d+)@@")
        start = time.monotonic()
        sh.child.send(ASKED.format(t="timeout") + "\r")
        sh.child.expect("no answer within 2s")  # prompt.timeout, not the hook's own default
        sh.child.expect(r"@@DONE (-?\d+)@@")
        assert time.monotonic() - start < 6
        assert [where(sh, t) for t in ("y", "r", "n", "eof", "timeout")] == \
            ["sandbox", "sandbox", "nowhere", "nowhere", "nowhere"]
        time.sleep(0.5)
        r = subprocess.run([vg_bin(), "audit", "--json"], env=sh.env, capture_output=True, text=True, check=True)
        rows = {row["command"]: row for row in json.loads(r.stdout)}
        got = {t: (rows[ASKED.format(t=t)]["decision"], rows[ASKED.format(t=t)]["answer"],
                   rows[ASKED.format(t=t)]["outcome"], rows[ASKED.format(t=t)]["runtime"])
               for t in ("y", "r", "n", "eof", "timeout")}
        assert got == {"y": ("ask", "y", "sandbox", "bubblewrap"), "r": ("ask", "r", "sandbox", "bubblewrap"),
                       "n": ("ask", "n", "refused", None), "eof": ("ask", "eof", "refused", None),
                       "timeout": ("ask", "timeout", "refused", None)}
        r = subprocess.run([vg_bin(), "metrics", "show", "--json"], env=sh.env, capture_output=True, text=True,
                           check=True)
        assert json.loads(r.stdout)["totals"]["asked"]["count"] == 5
    finally:
        sh.close()


@pytest.mark.parametrize("kind", SHELLS)
def test_cd_inside_a_sandboxed_line_works_and_leaves_the_shell_where_it_was(kind: str, tmp_path: Path) -> None:
    sh = Shell(kind, tmp_path, config=DEFAULT)
    try:
        other, sub = sh.home / "other", sh.project / "sub"
        other.mkdir()
        sub.mkdir()
        (sh.home / ".ssh").mkdir()
        sh.run("vg mode always")
        status, out = sh.run(f"cd ../other && {PROBE.format(t='other')}")
        assert status == 0, out
        assert (other / "ns-other").read_text().strip() != HOST_NS  # it ran in the sandbox, in ../other
        assert not (sh.home / "canary-other").exists()
        assert f"\n{sh.project}\n" in sh.run("pwd")[1]  # the shell's own directory did not move
        sh.run("cd sub")  # a host line: the shell moves into the project's subdirectory
        status, out = sh.run("cd .. && echo up > up.txt")  # the project root is mounted, cwd inside it
        assert status == 0 and (sh.project / "up.txt").read_text() == "up\n", out
        assert f"\n{sub}\n" in sh.run("pwd")[1]
        sh.run("cd ~/.ssh && touch planted")  # a secret directory stays out of the sandbox
        assert not (sh.home / ".ssh" / "planted").exists()
    finally:
        sh.close()


@pytest.mark.parametrize("kind", SHELLS)
def test_with_the_network_off_an_install_fails_fast_and_the_notice_says_why(kind: str, tmp_path: Path) -> None:
    sh = Shell(kind, tmp_path, config="sandbox:\n  runtime: bubblewrap\n  network_mode: none\n")
    try:
        start = time.monotonic()
        status, out = sh.run("npm install --no-audit --no-fund left-pad-not-cached-x", timeout=60)
        assert time.monotonic() - start < 20
        assert status != 0 and "network off" in out
        assert not (sh.project / "node_modules" / "left-pad-not-cached-x").exists()
    finally:
        sh.close()


class Client:
    """The hook's side of the analyzer's protocol, from Python: one line judged, one run reported."""

    def __init__(self, state: Path) -> None:
        import socket

        st = dict(x.split("=", 1) for x in (state / "analyzer.env").read_text().splitlines() if "=" in x)
        self.ctok, self.stok = st["client"], st["server"]
        self.sock = socket.create_connection(("127.0.0.1", int(st["port"])))
        self.f = self.sock.makefile("rb")

    def judge(self, line: str, cwd: str, flags: str) -> tuple[list[str], list[str]]:
        body = cwd.encode() + line.encode()
        self.sock.sendall(f"VG1 {self.ctok} s {flags},n=1 {len(cwd.encode())} {len(line.encode())}\n".encode() + body)
        head = self.f.readline().decode().rstrip("\n").split(" ", 6)
        data = b""
        while data.count(b"\0") < int(head[4]) + int(head[5]):
            data += self.f.read1(65536)
        fields = [x.decode() for x in data.split(b"\0")[:-1]]
        return head, fields

    def done(self, run_id: str, status: int, answer: str) -> None:
        self.sock.sendall(f"DONE {self.ctok} {run_id} {status} 0 {answer}\n".encode())
        self.f.readline()


def test_a_docker_decision_refused_at_the_prompt_can_no_longer_be_run(tmp_path: Path) -> None:
    state, project = tmp_path / "state", tmp_path / "project"
    state.mkdir(mode=0o700)
    project.mkdir()
    (state / "config.yaml").write_text(DOCKER)
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "VG_HOME": str(state)}
    subprocess.run([vg_bin(), "analyzer", "start"], env=env, check=True, capture_output=True)
    try:
        client = Client(state)
        line = "git reset --hard; touch ran"
        head, fields = client.judge(line, str(project), "shell=bash,tty,mode=always")
        assert head[1] == "ask" and "then=exec" in fields
        token = next(f.split("=", 1)[1] for f in fields if f.startswith("decision="))
        client.done(head[2], -1, "n")
        r = subprocess.run([vg_bin(), "exec", "--decision", token], env=env, capture_output=True, text=True,
                           cwd=project)
        assert r.returncode != 0 and "nothing was run" in r.stderr
        assert not (project / "ran").exists()
    finally:
        subprocess.run([vg_bin(), "analyzer", "stop"], env=env, capture_output=True)


@pytest.mark.parametrize("kind", SHELLS)
def test_ctrl_z_in_a_sandboxed_line_is_refused_cleanly_and_resizes_reach_it(kind: str, tmp_path: Path) -> None:
    """Ctrl-Z does not stop a sandboxed line (its run, cgroup and egress proxy belong to the analyzer until
    it ends): the line goes on and nothing of the hook shows; a window resize reaches the program."""
    sh = Shell(kind, tmp_path, config=DEFAULT)
    try:
        sh.run("vg mode always")
        sh.child.send("trap 'echo WINCH-$(stty size)' WINCH; for i in 1 2 3 4 5 6 7 8; do sleep 0.25; done; "
                      "echo after-$VG_SANDBOX\r")
        time.sleep(0.8)
        sh.child.send("\x1a")
        time.sleep(0.3)
        sh.child.setwinsize(30, 100)
        sh.child.expect(r"@@DONE (-?\d+)@@", timeout=20)
        screen = sh.child.before
        assert int(sh.child.match.group(1)) == 0
        assert "after-1" in screen and "WINCH-30 100" in screen
        assert "Stopped" not in screen and "suspended" not in screen and "prep" not in screen
        assert "Stopped" not in sh.run("jobs")[1]
    finally:
        sh.close()
