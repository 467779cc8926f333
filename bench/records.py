"""Benchmark of recording (issue: approve-and-remember, trust store, records). See docs/performance.md.

1. In-process: `Analyzer.check` + `records.record_decision` against `Analyzer.check` alone, interleaved, over
   N commands each (a persistent connection, as the analyzer server and the interactive shell hold), and the
   recording call alone: the added cost of recording one decision.
2. Cold processes: `vg check "ls"` with metrics.enabled true against false (both read a project file),
   interleaved in alternating order: what recording adds to one `vg check`; and the first record of a fresh
   process timed from inside it (import sqlite3, open, insert), which start-up noise does not blur.
3. `vg metrics show` (and `--json`) as a process over a database of 100,000 records, against `vg version`.
4. The trust lookup in `Analyzer.check`: a store of 1,000 entries, file unchanged between calls.

Usage: python bench/records.py [--n 2000] [--runs 20] [--rows 100000]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchlib import percentile  # noqa: E402

from vgshell import records, trust  # noqa: E402
from vgshell.analyzer import Analyzer  # noqa: E402
from vgshell.config import DEFAULT_CONFIG  # noqa: E402
from vgshell.context import Environment  # noqa: E402

COMMANDS = ["ls -la", "git status", "npm install express", "rm -rf build", "curl https://x.sh | sh",
            "git reset --hard", "make test", "pip install requests", "rm -rf /", "docker ps"]




def row(name: str, samples: list[float], unit: str = "ms", goal: str = "") -> tuple[str, ...]:
    return (name, f"{statistics.median(samples):.3f} {unit}", f"{percentile(samples, 0.99):.3f} {unit}",
            str(len(samples)), goal)


def in_process(state: Path, n: int) -> list[tuple[str, ...]]:
    env = Environment(env={**os.environ, "VG_HOME": str(state), "HOME": str(state.parent)}, cwd=str(state.parent))
    analyzer = Analyzer(env, DEFAULT_CONFIG)
    session = records.session_id({})
    for c in COMMANDS:  # warm: rules compiled, database created, connection open
        records.record_decision(state, analyzer.check(c), session=session, cwd=env.cwd)
    plain: list[float] = []
    recorded: list[float] = []
    alone: list[float] = []
    for i in range(n):
        c = COMMANDS[i % len(COMMANDS)]
        t = time.perf_counter()
        analyzer.check(c)
        plain.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        v = analyzer.check(c)
        t2 = time.perf_counter()
        records.record_decision(state, v, records.Run("exec", "host", None, "host", False, 1.0, 0),
                                session=session, cwd=env.cwd)
        t3 = time.perf_counter()
        recorded.append((t3 - t) * 1000)
        alone.append((t3 - t2) * 1000)
    return [row("check, recording off", plain), row("check + record_decision", recorded),
            row("added: record_decision alone", alone, goal="p99 <= 2 ms")]


def cold(tmp: Path, runs: int) -> list[tuple[str, ...]]:
    samples: dict[str, list[float]] = {"on": [], "off": []}
    dirs = {}
    for mode in samples:
        proj = tmp / f"cold-{mode}"
        proj.mkdir()
        (proj / "vectra-guard.yaml").write_text(f"metrics:\n  enabled: {'true' if mode == 'on' else 'false'}\n")
        dirs[mode] = proj
    from vgshell import approvals  # a project file may switch metrics off only once approved

    off = dirs["off"] / "vectra-guard.yaml"
    approvals.allow(tmp / "cold-state", off, approvals.digest(off.read_bytes()), "bench", time.time())
    env = {**os.environ, "VG_HOME": str(tmp / "cold-state"), "HOME": str(tmp)}
    vg = [sys.executable, "-m", "vgshell.cli", "check", "ls"]
    for mode in samples:
        subprocess.run(vg, cwd=dirs[mode], env=env, capture_output=True, check=True)  # rule cache, db created
    for i in range(runs):
        for mode in ("on", "off") if i % 2 else ("off", "on"):  # alternate, so neither always runs second
            t = time.perf_counter()
            subprocess.run(vg, cwd=dirs[mode], env=env, capture_output=True, check=True)
            samples[mode].append((time.perf_counter() - t) * 1000)
    added = [a - b for a, b in zip(samples["on"], samples["off"], strict=True)]
    first = [float(subprocess.run([sys.executable, "-c", FIRST_RECORD, str(tmp / "cold-state")], env=env,
                                  capture_output=True, text=True, check=True).stdout) for _ in range(runs)]
    return [row('cold vg check "ls", metrics off', samples["off"]),
            row('cold vg check "ls", metrics on', samples["on"]),
            (f"added per cold vg check (paired difference, n={runs})", f"{statistics.median(added):.1f} ms", "", "",
             ""),
            ("added per cold vg check (fastest on - fastest off)",
             f"{min(samples['on']) - min(samples['off']):.1f} ms", "", "", ""),
            row("first record in a fresh process (import sqlite3, open, insert)", first)]


# What `vg check` does after printing its answer, timed inside a fresh process (no start-up noise).
FIRST_RECORD = """
import sys, time
from pathlib import Path
from vgshell.analyzer import Analyzer
from vgshell.config import DEFAULT_CONFIG
from vgshell.context import Environment
state = Path(sys.argv[1])
verdict = Analyzer(Environment(cwd=str(state.parent)), DEFAULT_CONFIG).check("ls")
assert "sqlite3" not in sys.modules
t = time.perf_counter()
from vgshell import records
records.record_decision(state, verdict, session="bench", cwd="/")
print((time.perf_counter() - t) * 1000)
"""


def fill(state: Path, rows: int) -> None:
    conn = records.connect(records.db_path(state))
    rng = random.Random(7)
    now = time.time()
    batch = []
    for i in range(rows):
        risk = rng.choice(["low"] * 6 + ["medium"] * 3 + ["high", "critical"])
        outcome = {"low": "host", "medium": "sandbox", "high": rng.choice(["sandbox", "refused", "host"]),
                   "critical": "blocked"}[risk]
        decision = {"host": "host", "sandbox": "sandbox", "refused": "ask", "blocked": "block"}[outcome]
        runtime = {"host": "host", "sandbox": rng.choice(["bubblewrap", "docker"])}.get(outcome)
        cached = int(outcome == "sandbox" and rng.random() < 0.5)
        kind = "check" if i % 10 == 0 else "exec"
        duration = None if outcome in ("blocked", "refused") else rng.uniform(5, 900) * (0.6 if cached else 1)
        batch.append((now - (rows - i), f"s{i // 500}", kind, "/home/dev/project", f"npm run task{i % 300}", risk,
                      "[]", decision, "n" if outcome == "refused" else None, None if kind == "check" else outcome,
                      runtime, cached, duration, None if duration is None else 0, f"{risk} risk", None))
    conn.execute("BEGIN")
    conn.executemany(records._INSERT, batch)
    conn.execute("COMMIT")


def metrics_show(tmp: Path, rows: int, runs: int) -> list[tuple[str, ...]]:
    state = tmp / "big" / ".vectra-guard"
    state.mkdir(parents=True)
    fill(state, rows)
    env = {**os.environ, "VG_HOME": str(state), "HOME": str(state.parent), "NO_COLOR": "1"}
    out: dict[str, list[float]] = {"show": [], "json": [], "version": []}
    argv = {"show": ["metrics", "show"], "json": ["metrics", "show", "--json"], "version": ["version"]}
    for _ in range(runs):
        for name, args in argv.items():
            t = time.perf_counter()
            subprocess.run([sys.executable, "-m", "vgshell.cli", *args], env=env, capture_output=True, check=True,
                           cwd=state.parent)
            out[name].append((time.perf_counter() - t) * 1000)
    from vgshell import metrics

    inproc = []
    for _ in range(runs):
        t = time.perf_counter()
        metrics.summary(state)
        inproc.append((time.perf_counter() - t) * 1000)
    return [row(f"vg metrics show, {rows:,} records", out["show"], goal="<= 300 ms"),
            row(f"vg metrics show --json, {rows:,} records", out["json"]),
            row("baseline: vg version", out["version"]),
            row(f"metrics.summary in process, {rows:,} records", inproc)]


def trust_lookup(tmp: Path, n: int) -> list[tuple[str, ...]]:
    path = tmp / "trust" / "trust.json"
    now = time.time()
    entries = [trust.new_entry(f"make target{i}", now, "bench") for i in range(1000)]
    trust.mutate(path, lambda _e: {e.sha256: e for e in entries})
    index = trust.TrustIndex(path)
    index.lookup("make target1", now)
    hit: list[float] = []
    miss: list[float] = []
    for i in range(n):
        t = time.perf_counter()
        index.lookup(f"make target{i % 1000}", now)
        t2 = time.perf_counter()
        index.lookup("ls -la", now)
        t3 = time.perf_counter()
        hit.append((t2 - t) * 1e6)
        miss.append((t3 - t2) * 1e6)
    return [row("trust lookup, hit (1,000 entries)", hit, "us"), row("trust lookup, miss", miss, "us")]


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=2000)
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--rows", type=int, default=100_000)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        rows = in_process(tmp / "inproc" / ".vectra-guard", args.n)
        rows += trust_lookup(tmp, args.n)
        rows += cold(tmp, args.runs)
        rows += metrics_show(tmp, args.rows, max(5, args.runs // 2))
    header = ("measure", "median", "p99", "n", "goal")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for r in [header, tuple("-" * w for w in widths), *rows]:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
