"""What the bash/zsh hook costs a person at the keyboard (SPEC §10): real interactive shells on a PTY.

For each shell, in one run: typed low-risk commands with and without the hook (time from Enter to the
next prompt), shell start-up with and without the hook, a sandboxed `true` typed in a hooked shell
(bubblewrap; network none, and the default level's restricted network with the analyzer's egress proxy)
against the same `true` typed without the hook, and the memory 10 hooked shells add
(their resident and proportional set sizes plus the shared analyzer's, against 10 plain shells).

Usage: python bench/hook_latency.py [--commands 300] [--starts 30] [--sandboxed 100] [--shells bash,zsh]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pexpect
from benchlib import percentile

ROOT = Path(__file__).resolve().parents[1]
HOOKS = ROOT / "vgshell" / "hooks"
MARK = "@@P@@"
TYPED = ["true", "echo hello", "pwd", ":", "x=1", "ls >/dev/null", "cd .", "echo $x", "printf ok", "true"]


def vg() -> str:
    found = Path(sys.executable).with_name("vg")
    return str(found) if found.exists() else "vg"


def rc_file(home: Path, kind: str, hooked: bool) -> Path:
    marker = (f"PROMPT_COMMAND='printf \"{MARK}\\n\"'" if kind == "bash" else f"precmd() {{ print '{MARK}' }}")
    hook = f"VG_BIN={vg()}\nsource {HOOKS / ('vg.' + kind)}\n" if hooked else ""
    rc = home / (f"{'hooked' if hooked else 'plain'}.{kind}rc")
    rc.write_text(f"PS1='$ '\n{marker}\n{hook}")
    return rc


def spawn(kind: str, home: Path, env: dict[str, str], hooked: bool) -> pexpect.spawn:
    rc = rc_file(home, kind, hooked)
    if kind == "bash":
        argv = ["--rcfile", str(rc), "-i"]
    else:
        zdot = home / ("z-hooked" if hooked else "z-plain")
        zdot.mkdir(exist_ok=True)
        (zdot / ".zshrc").write_text(rc.read_text())
        env = {**env, "ZDOTDIR": str(zdot)}
        argv = ["-i"]
    child = pexpect.spawn(kind, argv, env=env, cwd=str(home / "project"), encoding="utf-8", timeout=30,
                          dimensions=(40, 200))
    child.delaybeforesend = None
    child.expect_exact(MARK)
    return child


def typed(child: pexpect.spawn, line: str) -> float:
    start = time.perf_counter()
    child.send(line + "\r")
    child.expect_exact(MARK)
    return (time.perf_counter() - start) * 1000


def series(child: pexpect.spawn, lines: list[str], n: int) -> list[float]:
    for line in lines[:5]:  # warm: first exec of each program, the analyzer's caches
        typed(child, line)
    return [typed(child, lines[i % len(lines)]) for i in range(n)]


def startup(kind: str, home: Path, env: dict[str, str], hooked: bool, n: int) -> list[float]:
    out = []
    for _ in range(n):
        start = time.perf_counter()
        child = spawn(kind, home, env, hooked)
        out.append((time.perf_counter() - start) * 1000)
        child.close(force=True)
    return out


def memory_kb(pid: int) -> tuple[int, int]:
    """(RSS, PSS) in kB of a process and its descendants."""
    rss = pss = 0
    for p in [pid, *descendants(pid)]:
        try:
            for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                if line.startswith("Rss:"):
                    rss += int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss += int(line.split()[1])
        except OSError:
            pass
    return rss, pss


def descendants(pid: int) -> list[int]:
    r = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True)
    kids = [int(x) for x in r.stdout.split()]
    return kids + [g for k in kids for g in descendants(k)]


def analyzer_pid(state: Path) -> int:
    for line in (state / "analyzer.env").read_text().splitlines():
        if line.startswith("pid="):
            return int(line[4:])
    raise RuntimeError("no analyzer")


def row(name: str, xs: list[float], base: list[float] | None = None) -> str:
    p50, p99 = statistics.median(xs), percentile(xs, 0.99)
    if base is None:
        return f"| {name} | {len(xs)} | {p50:.2f} | {p99:.2f} | | |"
    b50, b99 = statistics.median(base), percentile(base, 0.99)
    return f"| {name} | {len(xs)} | {p50:.2f} | {p99:.2f} | {p50 - b50:+.2f} | {p99 - b99:+.2f} |"




def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--commands", type=int, default=300)
    ap.add_argument("--starts", type=int, default=30)
    ap.add_argument("--sandboxed", type=int, default=100)
    ap.add_argument("--shells", default="bash,zsh")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="vg-hook-bench-"))
    home, state = tmp / "home", tmp / "state"
    (home / "project").mkdir(parents=True)
    env = {"PATH": f"{Path(vg()).parent}:{os.environ['PATH']}", "HOME": str(home), "VG_HOME": str(state),
           "TERM": "xterm", "LANG": "C.UTF-8", "INPUTRC": "/dev/null"}
    subprocess.run([vg(), "analyzer", "start"], env=env, check=True, capture_output=True)
    print("| measure | n | p50 ms | p99 ms | added p50 | added p99 |")
    print("|---|---|---|---|---|---|")
    try:
        for kind in args.shells.split(","):
            plain, hooked = spawn(kind, home, env, False), spawn(kind, home, env, True)
            # interleave, so drift on a shared machine lands on both sides alike
            base: list[float] = []
            with_hook: list[float] = []
            for _ in range(max(1, args.commands // 50)):
                base += series(plain, TYPED, 50)
                with_hook += series(hooked, TYPED, 50)
            print(row(f"{kind}: typed low-risk command", with_hook, base))
            s_plain = startup(kind, home, env, False, args.starts)
            s_hooked = startup(kind, home, env, True, args.starts)
            print(row(f"{kind}: shell start-up", s_hooked, s_plain))
            (state / "config.yaml").write_text(
                "sandbox:\n  mode: always\n  security_level: permissive\n  network_mode: none\n"
                "  runtime: bubblewrap\n")
            sand = series(hooked, ["true"], args.sandboxed)
            raw = series(plain, ["true"], args.sandboxed)
            print(row(f"{kind}: sandboxed `true` (bubblewrap, network none), vs `true` unhooked", sand, raw))
            # the default level (balanced: network restricted, through the analyzer's egress proxy)
            (state / "config.yaml").write_text("sandbox:\n  mode: always\n  runtime: bubblewrap\n")
            sand = series(hooked, ["true"], args.sandboxed)
            (state / "config.yaml").unlink()
            print(row(f"{kind}: sandboxed `true` (bubblewrap, default level: restricted), vs `true` unhooked",
                      sand, raw))
            plain.close(force=True)
            hooked.close(force=True)
            shells = [spawn(kind, home, env, True) for _ in range(10)]
            for s in shells:
                typed(s, "true")
            hooked_mem = [memory_kb(s.pid) for s in shells]
            an_rss, an_pss = memory_kb(analyzer_pid(state))
            for s in shells:
                s.close(force=True)
            shells = [spawn(kind, home, env, False) for _ in range(10)]
            for s in shells:
                typed(s, "true")
            plain_mem = [memory_kb(s.pid) for s in shells]
            for s in shells:
                s.close(force=True)
            add_rss = (sum(m[0] for m in hooked_mem) - sum(m[0] for m in plain_mem) + an_rss) / 1024
            add_pss = (sum(m[1] for m in hooked_mem) - sum(m[1] for m in plain_mem) + an_pss) / 1024
            print(f"| {kind}: memory added by 10 hooked shells (analyzer {an_rss / 1024:.1f} MB RSS) | 10 | "
                  f"RSS +{add_rss:.1f} MB | PSS +{add_pss:.1f} MB | | |")
    finally:
        subprocess.run([vg(), "analyzer", "stop"], env=env, capture_output=True)


if __name__ == "__main__":
    main()
