"""The result cache (SPEC §8): what deciding a miss costs, and a replay against running the install again.

1. Deciding a miss for a project with 10 input files (manifests and lock files of npm, pip, poetry, cargo
   and go, a 200 KB package-lock.json among them): the key (inputs hashed, memo warm) plus the store lookup,
   as `vg exec` does it before every cacheable sandboxed line. Baselines in the same run: the same with the
   memo cold (every input read and hashed), and the floor of any sandboxed run (`bwrap … true`).
2. An install that writes ~5,000 files (`npm install` of --packages into a fresh project), through
   `vg exec` in the sandbox: run again with warm package caches (`--no-cache`, node_modules removed first)
   against replayed from the result cache (node_modules removed first, so every file is written back).

Median and p99 (nearest rank) over --runs. Usage:
    python bench/result_cache.py [--runs 200] [--install-runs 3] [--runtime bubblewrap] [--skip-install]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import percentile, sample

PACKAGES = "webpack@5.94.0 typescript@5.6.2 eslint@9.11.1"
ROOT = Path(__file__).resolve().parent.parent
INPUTS = {
    "package.json": '{"name": "bench", "version": "1.0.0", "dependencies": {"left-pad": "1.3.0"}}\n',
    "requirements.txt": "requests==2.32.3\nflask==3.0.3\n",
    "requirements-dev.txt": "pytest==8.3.3\n",
    "pyproject.toml": "[project]\nname = 'bench'\nversion = '1.0'\n",
    "poetry.lock": "# poetry\n" + "x" * 20000,
    "Cargo.toml": "[package]\nname = 'bench'\nversion = '0.1.0'\n",
    "Cargo.lock": "# cargo\n" + "y" * 20000,
    "go.mod": "module bench\n\ngo 1.22\n",
    "go.sum": "z" * 5000,
}


def _project(root: Path) -> Path:
    p = root / "project"
    p.mkdir()
    for name, text in INPUTS.items():
        (p / name).write_text(text)
    lock = {"lockfileVersion": 3, "packages": {f"node_modules/p{i}": {"version": f"1.0.{i}", "integrity": "sha512-"
                                                                      + "a" * 86} for i in range(1500)}}
    (p / "package-lock.json").write_text(json.dumps(lock, indent=2))
    os.utime(p / "package-lock.json", (time.time() - 60, time.time() - 60))
    return p


def decide_miss(runs: int) -> list[tuple[str, list[float]]]:
    from vgshell.config import config_from_mapping
    from vgshell.context import Environment
    from vgshell.resultcache import engine
    from vgshell.resultcache.store import Store
    from vgshell.sandbox.spec import HostFacts, build_spec

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        project = _project(root)
        inputs = len([f for f in os.listdir(project)])
        for f in project.iterdir():
            os.utime(f, (time.time() - 60, time.time() - 60))
        state = root / "state"
        env = Environment(env={**os.environ, "VG_HOME": str(state)}, cwd=str(project), stderr=io.StringIO())
        cfg = config_from_mapping({"sandbox": {"cache_strategy": "smart"}})
        ecos = ("npm", "pip", "poetry", "cargo", "go")
        facts = HostFacts(cwd=str(project), home=str(root), uid=os.getuid(), gid=os.getgid(), env=env.env, tty=False)
        spec = build_spec("npm install", cfg, facts, ecos)
        store = Store.at(state, io.StringIO())

        def miss() -> None:
            lk = engine.prepare("npm install", ecos, spec, "bubblewrap", env, cfg)
            assert lk.key and len(lk.inputs) >= 10, lk
            assert store.get(lk.key) is None

        def cold() -> None:
            (state / "result-cache" / "hashes.json").unlink(missing_ok=True)
            miss()

        miss()  # the memo is written once files are older than the racy window
        print(f"project: {inputs} files, of which key inputs: "
              f"{len(engine.prepare('npm install', ecos, spec, 'bubblewrap', env, cfg).inputs)}")
        bwrap = shutil.which("bwrap")
        rows = [("decide a miss (memo warm)", sample(miss, runs, warm=3)),
                ("decide a miss (memo cold: every input hashed)", sample(cold, runs, warm=3))]
        if bwrap:
            argv = [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--unshare-all",
                    "--die-with-parent", "true"]
            rows.append(("baseline: bwrap … true (any sandboxed run)",
                         sample(lambda: subprocess.run(argv, check=True), max(20, runs // 4), warm=2)))
        return rows


def _vg(args: list[str], project: Path, env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    t = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "vgshell.cli", *args], cwd=project, env=env, text=True,
                       capture_output=True, stdin=subprocess.DEVNULL, timeout=900)
    return (time.perf_counter() - t) * 1000, r


def _count(path: Path) -> int:
    return sum(len(files) + len(dirs) for _, dirs, files in os.walk(path))


def install(runs: int, runtime: str, packages: str) -> list[tuple[str, list[float]]]:
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP", "/var/tmp")) as tmp:
        project = Path(tmp) / "project"
        project.mkdir()
        (project / ".git").mkdir()  # a project root
        (project / "package.json").write_text('{"name": "bench", "version": "1.0.0"}\n')
        state = Path(tmp) / "state"
        env = {**os.environ, "VG_HOME": str(state), "NO_COLOR": "1", "VG_RUNTIME": runtime}
        env.pop("CI", None)
        (project / "vectra-guard.yaml").write_text("sandbox:\n  cache_strategy: smart\n  network_mode: full\n")
        line = f"npm install --no-audit --no-fund {packages}"
        ms, r = _vg(["exec", line], project, env)  # fills the package cache and writes package-lock.json
        assert r.returncode == 0, r.stderr[-2000:]
        line = "npm install --no-audit --no-fund"  # the lock file is in place: the everyday install
        shutil.rmtree(project / "node_modules")
        ms, r = _vg(["exec", line], project, env)  # recorded
        assert r.returncode == 0, r.stderr[-2000:]
        files = _count(project / "node_modules")
        print(f"install: {line!r} in {runtime}; node_modules holds {files} files and directories; "
              f"recorded run {ms:.0f} ms")
        run_ms: list[float] = []
        replay_ms: list[float] = []
        copy_ms: list[float] = []
        copy = Path(tmp) / "copy"
        for _ in range(runs):
            t = time.perf_counter()  # the floor: the file system writing the same tree (cp -a)
            subprocess.run(["cp", "-a", str(project / "node_modules"), str(copy)], check=True)
            copy_ms.append((time.perf_counter() - t) * 1000)
            shutil.rmtree(copy)
            shutil.rmtree(project / "node_modules")
            ms, r = _vg(["exec", "--no-cache", line], project, env)
            assert r.returncode == 0 and "Replayed" not in r.stderr, r.stderr[-2000:]
            run_ms.append(ms)
            shutil.rmtree(project / "node_modules")
            ms, r = _vg(["exec", line], project, env)
            assert r.returncode == 0 and "Replayed from result cache" in r.stderr, r.stderr[-2000:]
            assert _count(project / "node_modules") == files
            replay_ms.append(ms)
        return [(f"baseline: cp -a node_modules ({files} entries: the file system's floor)", copy_ms),
                (f"npm install, run again (warm package cache, {runtime})", run_ms),
                (f"npm install, replayed from the result cache ({runtime})", replay_ms)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--install-runs", type=int, default=3)
    ap.add_argument("--runtime", default="bubblewrap")
    ap.add_argument("--packages", default=PACKAGES)
    ap.add_argument("--skip-install", action="store_true")
    args = ap.parse_args()
    rows = decide_miss(args.runs)
    if not args.skip_install:
        rows += install(args.install_runs, args.runtime, args.packages)
    print(f"\n{'what':<62} {'median ms':>10} {'p99 ms':>10} {'runs':>5}")
    for name, xs in rows:
        print(f"{name:<62} {statistics.median(xs):>10.2f} {percentile(xs, 0.99):>10.2f} {len(xs):>5}")
    if not args.skip_install:
        run, replay = statistics.median(rows[-2][1]), statistics.median(rows[-1][1])
        print(f"\nreplay is {run / replay:.1f}x faster than running the install again")
        pairs = [r / p for r, p in zip(rows[-2][1], rows[-1][1], strict=True)]
        print(f"per pair (run i / replay i, measured back to back): {', '.join(f'{x:.1f}x' for x in pairs)}")


if __name__ == "__main__":
    main()
