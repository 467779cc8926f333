"""Benchmark of the analysis core (issue: the analysis core). Prints one table; see docs/performance.md.

1. In-process analysis of one distinct command (parse + unwrap + rules + policy), over every command of
   both corpora and the developer-day table, against bashlex parsing the same commands alone (the floor
   the issue names) in the same run.
2. `vg check -` streaming throughput over the same commands, against `cat` streaming them.
3. A cold `vg check "ls"` process against `python3 -c pass`, N runs each, interleaved.
4. A line running a 200-line shell script (`bash deploy.sh`), judged with the script read from disk: with
   the script caches empty (parse, walk and rule matches), and again with them warm.

Usage: python bench/analysis.py [--runs 30] [--passes 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchlib import percentile  # noqa: E402

from tests.conftest import CWD, HOME, load_jsonl  # noqa: E402
from tests.test_corpus import DEVELOPER_DAY  # noqa: E402
from vgshell.config import DEFAULT_CONFIG  # noqa: E402
from vgshell.policy import Facts, decide  # noqa: E402
from vgshell.risk.engine import assess, default_ruleset  # noqa: E402


def commands() -> list[str]:
    rows = load_jsonl("dangerous.jsonl") + load_jsonl("benign.jsonl")
    return list(dict.fromkeys([r["command"] for r in rows] + DEVELOPER_DAY))




def timed(fn: Callable[[str], object], items: list[str], passes: int) -> list[float]:
    out: list[float] = []
    for _ in range(passes):
        for c in items:
            t = time.perf_counter()
            fn(c)
            out.append((time.perf_counter() - t) * 1000)
    return out


def bashlex_parse(c: str) -> object:
    import bashlex

    try:
        return bashlex.parse(c)
    except Exception:
        return None


def in_process(items: list[str], passes: int) -> list[tuple[str, ...]]:
    default_ruleset()
    facts = Facts(available_runtimes=("bubblewrap",))
    bashlex_parse("true")  # import outside the timing

    import vgshell.risk.engine as engine

    def analyse(c: str) -> object:
        engine._MEMOS.clear()  # no result cache: every pass analyses every command afresh
        return decide(assess(c, CWD, HOME), DEFAULT_CONFIG, facts)

    analyse("true")
    ours = timed(analyse, items, passes)
    floor = timed(bashlex_parse, items, passes)
    return [
        ("analysis, one command (parse+rules+policy)", f"{statistics.median(ours):.3f} ms",
         f"{percentile(ours, 0.99):.3f} ms", f"{len(ours)}", "p50 <= 1 ms, p99 <= 5 ms"),
        ("baseline: bashlex.parse alone", f"{statistics.median(floor):.3f} ms", f"{percentile(floor, 0.99):.3f} ms",
         f"{len(floor)}", ""),
    ]


SCRIPT_STEPS = ['echo "step {i}"', 'mkdir -p "build/{i}"', 'cp -r src/module{i} "build/{i}/"',
                'if [ -f "conf{i}.yaml" ]; then', '  sed -i "s/VERSION/1.{i}/" "build/{i}/conf.yaml"', "fi",
                "npm run lint -- --fix src/{i}", 'for f in build/{i}/*.js; do gzip -k "$f"; done',
                'git add "build/{i}"', 'rm -rf "build/{i}/tmp"']


def deploy_script(lines: int = 200) -> str:
    """A build-and-deploy script of the everyday kind an agent writes, `lines` long."""
    out = ["#!/usr/bin/env bash", "set -euo pipefail", 'ROOT="$(cd "$(dirname "$0")" && pwd)"']
    while len(out) < lines:
        out.append(SCRIPT_STEPS[len(out) % len(SCRIPT_STEPS)].format(i=len(out)))
    return "\n".join(out) + "\n"


def script_run(runs: int) -> list[tuple[str, ...]]:
    import vgshell.risk.engine as engine
    from vgshell.files import HostFiles
    from vgshell.unwrap import scripts

    files = HostFiles()
    facts = Facts(available_runtimes=("bubblewrap",))
    cold_ms, warm_ms = [], []
    with tempfile.TemporaryDirectory() as d:
        Path(d, "deploy.sh").write_text(deploy_script())

        def judge() -> float:
            t = time.perf_counter()
            decide(assess("bash deploy.sh", d, HOME, files=files), DEFAULT_CONFIG, facts)
            return (time.perf_counter() - t) * 1000

        judge()  # imports and first-use regex compilation outside the timing
        for _ in range(runs):
            scripts._PARSED.clear()
            scripts._WALKS.clear()
            engine._MEMOS.clear()
            cold_ms.append(judge())
            warm_ms.append(judge())
    return [("line running a 200-line script, cold cache", f"{statistics.median(cold_ms):.3f} ms",
             f"{percentile(cold_ms, 0.99):.3f} ms", f"{runs}", "<= 10 ms"),
            ("line running a 200-line script, warm cache", f"{statistics.median(warm_ms):.3f} ms",
             f"{percentile(warm_ms, 0.99):.3f} ms", f"{runs}", "<= 1 ms")]


def streaming(items: list[str], passes: int) -> list[tuple[str, ...]]:
    text = "\n".join(c.replace("\n", " ") for c in items) + "\n"
    lines = text.count("\n")
    with tempfile.TemporaryDirectory() as home:
        env = {"VG_HOME": home, "PATH": "/usr/bin:/bin", "HOME": home}
        subprocess.run([sys.executable, "-m", "vgshell.cli", "check", "ls"], env=env, capture_output=True)
        rates, steady, base = [], [], []
        for _ in range(passes):
            total, after_first = stream_once(text, lines, env)
            rates.append(lines / total)
            steady.append((lines - 1) / after_first)
            t = time.perf_counter()
            subprocess.run(["cat"], input=text, capture_output=True, text=True, check=True)
            base.append(lines / (time.perf_counter() - t))
    return [("vg check - streaming (incl. start-up)", f"{statistics.median(rates):.0f} cmd/s", "",
             f"{lines} x {passes}", ">= 1000 cmd/s"),
            ("vg check - streaming, after the first answer", f"{statistics.median(steady):.0f} cmd/s", "",
             f"{lines} x {passes}", ""),
            ("baseline: cat streaming the same lines", f"{statistics.median(base):.0f} cmd/s", "", "", "")]


def stream_once(text: str, lines: int, env: dict[str, str]) -> tuple[float, float]:
    """Seconds for all answers, and from the first answer to the last."""
    t = time.perf_counter()
    p = subprocess.Popen([sys.executable, "-m", "vgshell.cli", "check", "-"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True, env=env)
    assert p.stdin is not None and p.stdout is not None
    p.stdin.write(text)
    p.stdin.close()
    json.loads(p.stdout.readline())
    first = time.perf_counter()
    rest = p.stdout.read().splitlines()
    end = time.perf_counter()
    assert p.wait() == 0 and len(rest) == lines - 1
    return end - t, end - first


def cold(runs: int) -> list[tuple[str, ...]]:
    with tempfile.TemporaryDirectory() as home:
        env = {"VG_HOME": home, "PATH": "/usr/bin:/bin", "HOME": home}
        vg = [sys.executable, "-m", "vgshell.cli", "check", "ls"]
        subprocess.run(vg, env=env, capture_output=True)  # first run writes the compiled-rules cache
        ours, base = [], []
        for _ in range(runs):
            t = time.perf_counter()
            subprocess.run(vg, env=env, capture_output=True, check=True)
            ours.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            subprocess.run([sys.executable, "-c", "pass"], capture_output=True, check=True)
            base.append((time.perf_counter() - t) * 1000)
    return [('cold process: vg check "ls"', f"{statistics.median(ours):.0f} ms", f"{percentile(ours, 0.99):.0f} ms",
             f"{runs}", "<= 250 ms"),
            ("baseline: python3 -c pass", f"{statistics.median(base):.0f} ms", f"{percentile(base, 0.99):.0f} ms",
             f"{runs}", "")]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=30)
    p.add_argument("--passes", type=int, default=3)
    args = p.parse_args()
    items = commands()
    rows = in_process(items, args.passes) + script_run(args.runs) + streaming(items, args.passes) + cold(args.runs)
    header = ("measure", "median", "p99", "n", "goal")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(5)]
    for r in [header, tuple("-" * w for w in widths), *rows]:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |")


if __name__ == "__main__":
    main()
