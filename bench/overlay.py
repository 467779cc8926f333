"""What putting the project behind an overlay costs (`sandbox.project_writes: review` against `direct`).

Rows per runtime, median and p99 over --runs runs, baselines measured in the same run, in one process (no
Python start-up): the spec is built, run through vg's own run path (`execute._run_spec`), and — under
review — captured, read back and settled:
- a sandboxed `true`, nothing written: `direct` and `review` in turns (the overlay is made, read and
  dropped); goal: review adds ≤ 10 ms;
- a small `npm install` (is-odd, two packages, by default; --npm-package; warm npm cache mounted):
  `direct`, then `review` with the change applied to the project (`vg changes apply`'s path); goal:
  review ≤ 1.2× direct. Runs alternate so a slow registry moment does not land on one side only.

Usage: python bench/overlay.py [--runs 30] [--npm-runs 5] [--runtimes bubblewrap,docker,podman]
       [--npm-runtimes bubblewrap] [--npm-package is-odd]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchlib import percentile  # noqa: E402

from vgshell.changes import store  # noqa: E402
from vgshell.changes.review import apply_entry  # noqa: E402
from vgshell.config import DEFAULT_CONFIG, with_overrides  # noqa: E402
from vgshell.context import Environment  # noqa: E402
from vgshell.execute import _run_spec, host_facts, run_captured  # noqa: E402
from vgshell.sandbox.spec import build_spec  # noqa: E402

IMAGE = "vgshell-test/busybox:latest"
NPM_IMAGE = "vgshell-test/debian:latest"
NPM = "npm install --no-audit --no-fund --loglevel=error {package}"


def runner(runtime: str, mode: str, command: str, home: Path, project: Path, network: str = "none",
           image: str = IMAGE, apply: bool = False) -> Callable[[], object]:
    cfg = with_overrides(DEFAULT_CONFIG, {"sandbox.runtime": runtime, "sandbox.security_level": "permissive",
                                          "sandbox.network_mode": network, "sandbox.image": image,
                                          "sandbox.project_writes": mode})
    devnull_in, devnull_out = open(os.devnull), open(os.devnull, "w")  # noqa: SIM115 (open for the whole run)
    env = Environment(env={**os.environ, "HOME": str(home), "VG_HOME": str(home / ".vg-state")},
                      cwd=str(project), stdin=devnull_in, stderr=devnull_out)
    ecosystems = ("npm",) if command.startswith("npm") else ()

    def run() -> object:
        spec = build_spec(command, cfg, host_facts(env, cfg, ecosystems), ecosystems, True)
        with _stdin_devnull():
            if apply:  # review, and the change applied as `vg changes apply` does
                cap = run_captured(runtime, spec, env)
                status = cap.status
                if cap.changes:
                    assert apply_entry(cap.entry, cap.changes).ok
                else:
                    store.remove(cap.entry)
            else:
                status = _run_spec(runtime, spec, env, None)
        assert status == 0, f"{runtime} {mode}: exit {status}"
        return status

    return run


class _stdin_devnull:
    def __enter__(self) -> None:
        self.saved = os.dup(0)
        fd = os.open(os.devnull, os.O_RDONLY)
        os.dup2(fd, 0)
        os.close(fd)

    def __exit__(self, *exc: object) -> None:
        os.dup2(self.saved, 0)
        os.close(self.saved)


def alternate(a: Callable[[], object], b: Callable[[], object], runs: int) -> tuple[list[float], list[float]]:
    """Timings of a and b taken in turns (after one untimed call of each), so drift in the machine's load
    lands on both sides."""
    out: tuple[list[float], list[float]] = ([], [])
    a()
    b()
    for _ in range(runs):
        for fn, into in ((a, out[0]), (b, out[1])):
            t = time.perf_counter()
            fn()
            into.append((time.perf_counter() - t) * 1000)
    return out


def npm_pair(runtime: str, tmp: Path, runs: int, package: str) -> tuple[list[float], list[float]]:
    """Alternating direct and review+apply installs, each into a fresh project (node_modules removed)."""
    home = tmp / f"npm-{runtime}-{package}"
    project = home / "project"
    project.mkdir(parents=True)
    (project / "package.json").write_text('{"name": "bench", "version": "1.0.0"}\n')
    image = NPM_IMAGE
    command = NPM.format(package=package)
    direct = runner(runtime, "direct", command, home, project, "full", image)
    review = runner(runtime, "review", command, home, project, "full", image, apply=True)
    times: dict[str, list[float]] = {"direct": [], "review": []}
    direct()  # warm the npm cache
    for _ in range(runs):
        for name, fn in (("direct", direct), ("review", review)):
            for p in ("node_modules", "package-lock.json"):
                target = project / p
                shutil.rmtree(target) if target.is_dir() else target.unlink(missing_ok=True)
            (project / "package.json").write_text('{"name": "bench", "version": "1.0.0"}\n')
            t = time.perf_counter()
            fn()
            times[name].append((time.perf_counter() - t) * 1000)
            assert (project / f"node_modules/{package}/package.json").exists(), f"{name}: not installed"
    return times["direct"], times["review"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=30)
    p.add_argument("--npm-runs", type=int, default=5)
    p.add_argument("--runtimes", default="bubblewrap,docker,podman")
    p.add_argument("--npm-runtimes", default="bubblewrap")
    p.add_argument("--npm-package", default="is-odd", help="what npm installs (is-odd: 2 packages, 8 files)")
    args = p.parse_args()
    rows: list[tuple[str, list[float], str]] = []
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        for runtime in filter(None, args.runtimes.split(",")):
            home = tmp / runtime
            project = home / "project"
            project.mkdir(parents=True)
            (project / "README.md").write_text("hello\n")
            base, ours = alternate(runner(runtime, "direct", "true", home, project),
                                   runner(runtime, "review", "true", home, project), args.runs)
            added = statistics.median(ours) - statistics.median(base)
            rows.append((f"{runtime}: `true`, direct", base, ""))
            rows.append((f"{runtime}: `true`, review (nothing written)", ours,
                         f"goal: added ≤ 10 ms; added {added:+.1f} ms"))
        for runtime in filter(None, args.npm_runtimes.split(",")):
            base, ours = npm_pair(runtime, tmp, args.npm_runs, args.npm_package)
            ratio = statistics.median(ours) / statistics.median(base)
            rows.append((f"{runtime}: npm install {args.npm_package}, direct", base, ""))
            rows.append((f"{runtime}: npm install {args.npm_package}, review + apply", ours,
                         f"goal: ≤ 1.2×; {ratio:.2f}×"))
    print("| measure | median | p99 | n | note |")
    print("| --- | --- | --- | --- | --- |")
    for name, xs, note in rows:
        print(f"| {name} | {statistics.median(xs):.1f} ms | {percentile(xs, 0.99):.1f} ms | {len(xs)} | {note} |")


if __name__ == "__main__":
    main()
