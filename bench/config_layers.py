"""What config trust costs (issue 16): per typed line in the analyzer, and per config load.

Per line the analyzer stats every file its config depends on (user file, project files up from the working
directory, the managed file, the approvals file) and asks which notices are still due; a config is loaded
again only when one of those stats changes. Measured in-process against a real temporary layout, for a
project that only tightens and one whose loosening is left out (the notice already said).

Usage: python bench/config_layers.py [--runs 20000]
"""

from __future__ import annotations

import argparse
import socket
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the package first, before anything in bench/

from benchlib import percentile, sample

from vgshell.config import load_config
from vgshell.context import Environment
from vgshell.server import Server

PROJECTS = {
    "project file that only tightens": "guard_level:\n  level: high\n",
    "project file with a loosening left out": "sandbox:\n  mode: never\n",
}


def row(name: str, samples: list[float], unit: float = 1000.0, label: str = "us") -> str:
    p50, p99 = percentile(samples, 0.5) * unit, percentile(samples, 0.99) * unit
    return f"| {name} | {len(samples)} | {p50:.1f} {label} | {p99:.1f} {label} |"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=20000)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="vg-bench-config-"))
    project = tmp / "home" / "src" / "app"
    project.mkdir(parents=True)
    state = tmp / "state"
    state.mkdir(mode=0o700)
    (state / "config.yaml").write_text("sandbox:\n  mode: auto\n")
    env = Environment(env={"HOME": str(tmp / "home"), "VG_HOME": str(state)}, cwd=str(project))
    server = Server(env, socket.socket())
    print("| measure | n | p50 | p99 |\n|---|---|---|---|")
    cwd = str(project)
    for label, text in PROJECTS.items():
        (project / "vectra-guard.yaml").write_text(text)
        analyzer = server.analyzer(str(project), None)
        server.config_notices(analyzer, "bench")  # said once; from now on only the check
        print(row(f"{label}: per line, config fingerprint (stat calls)",
                  sample(lambda: server._fingerprint(cwd), args.runs)))
        print(row(f"{label}: per line, analyzer lookup by fingerprint",
                  sample(lambda: server.analyzer(cwd, None), args.runs)))
        print(row(f"{label}: per line, notices still due",
                  sample(lambda a=analyzer: server.config_notices(a, "bench"), args.runs)))
        print(row(f"{label}: load_config (on a change only)", sample(lambda: load_config(env), args.runs // 100),
                  1.0, "ms"))


if __name__ == "__main__":
    main()
