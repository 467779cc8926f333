"""What `vgshell` costs (SPEC §9), each figure against its baseline measured in the same run:

- start to the first prompt: `vgshell` on a PTY against `bash -i` (the analyzer already running);
- a typed host command (Enter to the next prompt) in `vgshell` against the same in plain `bash -i`;
- `vgshell -c true` (host) against `bash -c true` and a bare `python -c pass` start;
- `vgshell -c true` sandboxed (bubblewrap, the default level: restricted network) against `bwrap` running
  `true` alone and, when installed, `codex sandbox -- true`.

Usage: python bench/shell.py [--starts 20] [--typed 200] [--runs 50]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pexpect
from benchlib import percentile, sample

VGSHELL = str(Path(sys.executable).with_name("vgshell"))
VG = str(Path(sys.executable).with_name("vg"))
PROMPT = r"\$ ?(\x1b\[[0-9;?]*[a-zA-Z])*\x1b\[\?25h"
BASH_MARK = "@@P@@ "


def row(name: str, ms: list[float]) -> None:
    print(f"{name:<46} p50 {statistics.median(ms):8.2f} ms   p99 {percentile(ms, 0.99):8.2f} ms   (n={len(ms)})")


def spawn_vgshell(env: dict[str, str], cwd: str) -> pexpect.spawn:
    child = pexpect.spawn(VGSHELL, [], env=env, cwd=cwd, encoding="utf-8", timeout=30, dimensions=(40, 120))
    child.delaybeforesend = None
    child.expect(PROMPT)
    return child


def spawn_bash(env: dict[str, str], cwd: str, rc: str) -> pexpect.spawn:
    child = pexpect.spawn("bash", ["--rcfile", rc, "-i"], env=env, cwd=cwd, encoding="utf-8", timeout=30,
                          dimensions=(40, 120))
    child.delaybeforesend = None  # pexpect waits 50 ms before each send by default
    child.expect_exact(BASH_MARK)
    return child


def typed(child: pexpect.spawn, n: int, expect: str, exact: bool) -> list[float]:
    out = []
    for i in range(n + 5):
        t = time.perf_counter()
        child.send("true\r")
        if exact:
            child.expect_exact(expect)
        else:
            child.expect(expect)
        if i >= 5:
            out.append((time.perf_counter() - t) * 1000)
    return out


def starts(fn: object, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        child = fn()  # type: ignore[operator]
        out.append((time.perf_counter() - t) * 1000)
        child.close(force=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--starts", type=int, default=20)
    ap.add_argument("--typed", type=int, default=200)
    ap.add_argument("--runs", type=int, default=50)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        project = home / "project"
        project.mkdir(parents=True)
        sandboxed = home / "sandboxed"
        sandboxed.mkdir()
        (sandboxed / "vectra-guard.yaml").write_text("sandbox:\n  mode: always\n  runtime: bubblewrap\n")
        rc = home / "plain.bashrc"
        rc.write_text(f"PS1='{BASH_MARK}'\n")
        env = {"PATH": f"{Path(VGSHELL).parent}:{os.environ['PATH']}", "HOME": str(home),
               "VG_HOME": str(Path(tmp) / "state"), "TERM": "xterm", "LANG": "C.UTF-8",
               "PROMPT_TOOLKIT_NO_CPR": "1"}
        subprocess.run([VG, "analyzer", "start"], env=env, check=True, capture_output=True)
        try:
            print(f"vgshell bench, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}")
            row("start to first prompt: bash -i", starts(lambda: spawn_bash(env, str(project), str(rc)),
                                                         args.starts))
            row("start to first prompt: vgshell", starts(lambda: spawn_vgshell(env, str(project)), args.starts))
            b = spawn_bash(env, str(project), str(rc))
            row("typed `true`, Enter to prompt: bash -i", typed(b, args.typed, BASH_MARK, True))
            b.close(force=True)
            v = spawn_vgshell(env, str(project))
            row("typed `true`, Enter to prompt: vgshell", typed(v, args.typed, PROMPT, False))
            v.close(force=True)

            def run(argv: list[str], cwd: Path = project) -> None:
                subprocess.run(argv, env=env, cwd=cwd, check=True, stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

            row("python -c pass (interpreter start)", sample(lambda: run([sys.executable, "-c", "pass"]), args.runs))
            row("bash -c true", sample(lambda: run(["bash", "-c", "true"]), args.runs))
            row("vgshell -c true (host)", sample(lambda: run([VGSHELL, "-c", "true"]), args.runs, warm=3))
            bwrap = shutil.which("bwrap")
            if bwrap:
                row("bwrap --ro-bind / / ... true (alone)",
                    sample(lambda: run([bwrap, "--unshare-all", "--ro-bind", "/", "/", "--dev", "/dev", "--proc",
                                        "/proc", "true"]), args.runs))
            codex = shutil.which("codex")
            if codex:
                row("codex sandbox -- true", sample(lambda: run([codex, "sandbox", "--", "true"]), args.runs))
            else:
                print("codex sandbox -- true: codex is not installed here")
            row("vgshell -c true (sandboxed, default level)",
                sample(lambda: run([VGSHELL, "-c", "true"], sandboxed), args.runs, warm=3))
        finally:
            subprocess.run([VG, "analyzer", "stop"], env=env, capture_output=True, check=False)


if __name__ == "__main__":
    main()
