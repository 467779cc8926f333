"""Real package installs on the host and in sandboxes, with cold and warm caches (SPEC §5).

For each tool (npm, pip, uv) and runtime: host with a warm cache (the baseline), sandbox with a cold cache,
sandbox with the warm host cache mounted — medians over --runs runs, all in this run — plus what the warm
cache avoided (npm: registry requests answered from the cache) and the offline proof: after a warm run the
same install succeeds in a sandbox with `network_mode: none` (npm --offline; uv --offline).

Usage: python bench/cache_mounts.py [--runs 3] [--runtimes bubblewrap,docker,podman]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

IMAGE = "vgshell-test/debian:latest"
TOOLS = {
    "npm": "npm install --no-audit --no-fund --loglevel=http express lodash",
    "pip": "python3 -m pip install --disable-pip-version-check -q --target ./site requests flask",
    "uv": "uv pip install --target ./site requests flask",
}
OFFLINE = {"npm": "npm install --offline --no-audit --no-fund express lodash",
           "uv": "uv pip install --offline --target ./site requests flask"}


def clean(project: Path) -> None:
    for name in ("node_modules", "site", "package-lock.json", "package.json"):
        p = project / name
        if p.is_dir():
            shutil.rmtree(p)
        elif p.exists():
            p.unlink()


def environment(home: Path, state: Path, runtime: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PIP_FIND_LINKS", "PIP_INDEX_URL")}
    env.update(HOME=str(home), VG_HOME=str(state), PIP_CONFIG_FILE="/dev/null", VG_MODE="always",
               VG_SECURITY_LEVEL="permissive", VG_NETWORK_MODE="full", VG_IMAGE=IMAGE)
    if runtime:
        env["VG_RUNTIME"] = runtime
    return env


def run(tool: str, command: str, home: Path, state: Path, runtime: str | None) -> tuple[float, str, int]:
    project = home / "project"
    clean(project)
    env = environment(home, state, runtime)
    argv = ["bash", "-c", command] if runtime is None else [sys.executable, "-m", "vgshell.cli", "-q", "exec",
                                                              command]
    t = time.perf_counter()
    r = subprocess.run(argv, cwd=project, env=env, capture_output=True, text=True, timeout=900)
    return time.perf_counter() - t, r.stdout + r.stderr, r.returncode


def uv_binary() -> str | None:
    """The real uv executable (a version-manager shim would not run inside a container)."""
    try:
        import uv

        return str(uv.find_uv_bin())
    except (ImportError, FileNotFoundError):
        return shutil.which("uv")


def config(home: Path, runtime: str | None = None) -> None:
    """Let PIP_CONFIG_FILE through; containers get the host's uv binary (the host root is visible to bwrap)."""
    uv = uv_binary() if runtime in ("docker", "podman") else None
    mount = f"{{host_path: {uv}, container_path: /usr/local/bin/uv, read_only: true}}"
    mounts = f"\n  bind_mounts:\n    - {mount}" if uv else ""
    (home / "project" / "vectra-guard.yaml").write_text(
        "sandbox:\n  env_whitelist: [PATH, HOME, LANG, TERM, PIP_CONFIG_FILE]" + mounts + "\n")


def cache_hits(out: str) -> str:
    hits = len(re.findall(r"\(cache (hit|revalidated|stale)\)", out))
    total = len(re.findall(r"npm http fetch", out))
    return f"{hits}/{total} requests from cache" if total else ""


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--runtimes", default="bubblewrap,docker,podman")
    p.add_argument("--tools", default="npm,pip,uv")
    args = p.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        for tool in args.tools.split(","):
            if tool == "uv" and not uv_binary():
                rows.append((tool, "-", "uv is not installed here", "", "", "", ""))
                continue
            warm = base / f"warm-{tool}"
            (warm / "project").mkdir(parents=True)
            config(warm)
            run(tool, TOOLS[tool], warm, base / "state", None)  # warm the host cache
            host = [run(tool, TOOLS[tool], warm, base / "state", None) for _ in range(args.runs)]
            host_t = statistics.median(h[0] for h in host)
            rows.append((tool, "host", f"{host_t:.2f} s", "", "1.00x", cache_hits(host[-1][1]), ""))
            for runtime in args.runtimes.split(","):
                cold = []
                for i in range(args.runs):
                    home = base / f"cold-{tool}-{runtime}-{i}"
                    (home / "project").mkdir(parents=True)
                    config(home, runtime)
                    cold.append(run(tool, TOOLS[tool], home, base / "state", runtime))
                config(warm, runtime)
                hot = [run(tool, TOOLS[tool], warm, base / "state", runtime) for _ in range(args.runs)]
                cold_t = statistics.median(c[0] for c in cold)
                hot_t = statistics.median(h[0] for h in hot)
                offline = ""
                if tool in OFFLINE:
                    _, out, status = _offline(tool, warm, base, runtime)
                    offline = "offline install OK" if status == 0 else f"offline FAILED: {out[-200:]}"
                failures = [o for _, o, s in cold + hot if s != 0]
                note = f"FAILED: {failures[0][-300:]}" if failures else ""
                rows.append((tool, runtime, f"{hot_t:.2f} s", f"{cold_t:.2f} s", f"{hot_t / host_t:.2f}x",
                             cache_hits(hot[-1][1]), (offline + " " + note).strip()))
    print("| tool | where | warm cache | cold cache | warm vs host-warm (goal <= 1.15x) | cache evidence | "
          "network none |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print("| " + " | ".join(r) + " |")


def _offline(tool: str, warm: Path, base: Path, runtime: str) -> tuple[float, str, int]:
    env = environment(warm, base / "state", runtime)
    env["VG_NETWORK_MODE"] = "none"
    project = warm / "project"
    clean(project)
    argv = [sys.executable, "-m", "vgshell.cli", "-q", "exec", OFFLINE[tool]]
    t = time.perf_counter()
    r = subprocess.run(argv, cwd=project, env=env, capture_output=True, text=True, timeout=900)
    return time.perf_counter() - t, r.stdout + r.stderr, r.returncode


if __name__ == "__main__":
    main()
