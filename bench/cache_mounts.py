"""Real package installs on the host and in sandboxes, with cold and warm caches (SPEC §5).

For each tool (npm, pip, uv) and runtime: host with a warm cache (the baseline), sandbox with a cold cache,
sandbox with the warm host cache mounted — medians over --runs runs, all in this run — plus what the warm
cache avoided in each tool's own words (npm: registry requests answered from its cache; pip: files "Using
cached" vs downloaded; uv: packages it had to download, "Prepared") and how much cache a cold run wrote,
and the offline proof: after a warm run the same install succeeds in a sandbox with `network_mode: none`
(npm --offline; uv --offline). A run counts as failed unless it exits 0 *and* the package is installed;
a failed host baseline stops the benchmark.

Usage: python bench/cache_mounts.py [--runs 3] [--runtimes bubblewrap,docker,podman]
"""

from __future__ import annotations

import argparse
import functools
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
# {python} and {uv}: the real executables on the host and in bubblewrap (which sees the host root), the
# image's python3 and the host's uv bound at /usr/local/bin/uv in containers. A version-manager shim is not
# used: pyenv's shim runs `pyenv rehash` after `pip install`, which fails on bubblewrap's read-only root.
TOOLS = {
    "npm": "npm install --no-audit --no-fund --loglevel=http express lodash",
    "pip": "{python} -m pip install --disable-pip-version-check --target ./site requests flask",
    "uv": "{uv} pip install --target ./site requests flask",
}
OFFLINE = {"npm": "npm install --offline --no-audit --no-fund express lodash",
           "uv": "{uv} pip install --offline --target ./site requests flask"}
INSTALLED = {"npm": "node_modules/express/package.json", "pip": "site/flask/__init__.py",
             "uv": "site/flask/__init__.py"}
CACHE = {"npm": ".npm", "pip": ".cache/pip", "uv": ".cache/uv"}  # under $HOME
# Host settings that would move a cache away from $HOME or point pip at local wheel mirrors.
DROP = ("PIP_FIND_LINKS", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_CACHE_DIR", "UV_CACHE_DIR",
        "npm_config_cache", "NPM_CONFIG_CACHE", "UV_INDEX_URL", "UV_EXTRA_INDEX_URL", "UV_FIND_LINKS")


def clean(project: Path) -> None:
    for name in ("node_modules", "site", "package-lock.json", "package.json"):
        p = project / name
        if p.is_dir():
            shutil.rmtree(p)
        elif p.exists():
            p.unlink()


def environment(home: Path, runtime: str | None) -> dict[str, str]:
    """The run's env. vg's state lives in each $HOME, as it does by default: vg remembers where each tool
    said its cache is, and one state dir shared by several homes would send a "cold" run to a warm cache."""
    env = {k: v for k, v in os.environ.items() if k not in DROP}
    env.update(HOME=str(home), VG_HOME=str(home / ".vg-state"), PIP_CONFIG_FILE="/dev/null", VG_MODE="always",
               VG_SECURITY_LEVEL="permissive", VG_NETWORK_MODE="full", VG_IMAGE=IMAGE)
    if runtime:
        env["VG_RUNTIME"] = runtime
    return env


def command_line(template: str, runtime: str | None) -> str:
    if runtime in ("docker", "podman"):
        return template.format(python="python3", uv="uv")
    return template.format(python=host_python(), uv=uv_binary())


@functools.cache
def host_python() -> str:
    """The host's real python3 (resolved through any shim)."""
    out = subprocess.run(["python3", "-c", "import sys; print(sys.executable)"], capture_output=True,
                         text=True, check=True)
    return out.stdout.strip()


def run(tool: str, template: str, home: Path, runtime: str | None) -> tuple[float, str, int]:
    """One install; a run that exits 0 without installing the package counts as failed."""
    project = home / "project"
    clean(project)
    env = environment(home, runtime)
    command = command_line(template, runtime)
    argv = ["bash", "-c", command] if runtime is None else [sys.executable, "-m", "vgshell.cli", "-q", "exec",
                                                              command]
    t = time.perf_counter()
    r = subprocess.run(argv, cwd=project, env=env, capture_output=True, text=True, timeout=900)
    elapsed = time.perf_counter() - t
    out = r.stdout + r.stderr
    if r.returncode == 0 and not (project / INSTALLED[tool]).exists():
        return elapsed, out + f"\nbench: exit 0 but {INSTALLED[tool]} was not installed", 1
    return elapsed, out, r.returncode


@functools.cache
def uv_binary() -> str:
    """The real uv executable (a version-manager shim would not run inside a container)."""
    try:
        import uv

        return str(uv.find_uv_bin())
    except (ImportError, FileNotFoundError):
        return shutil.which("uv") or ""


def config(home: Path, runtime: str | None = None) -> None:
    """Let PIP_CONFIG_FILE through; containers get the host's uv binary (the host root is visible to bwrap)."""
    uv = uv_binary() if runtime in ("docker", "podman") else None
    mount = f"{{host_path: {uv}, container_path: /usr/local/bin/uv, read_only: true}}"
    mounts = f"\n  bind_mounts:\n    - {mount}" if uv else ""
    (home / ".vg-state").mkdir(mode=0o700, exist_ok=True)
    (home / ".vg-state" / "config.yaml").write_text(
        "sandbox:\n  env_whitelist: [PATH, HOME, LANG, TERM, PIP_CONFIG_FILE]" + mounts + "\n")


def evidence(tool: str, out: str) -> str:
    """The tool's own account of what came from its cache."""
    if tool == "npm":
        hits = len(re.findall(r"\(cache (hit|revalidated|stale)\)", out))
        total = len(re.findall(r"npm http fetch", out))
        return f"{hits}/{total} requests from cache" if total else "?"
    if tool == "pip":
        cached = len(re.findall(r"^\s*Using cached ", out, re.M))
        downloaded = len(re.findall(r"^\s*Downloading ", out, re.M))
        return f"{cached}/{cached + downloaded} files from cache"
    resolved = re.search(r"Resolved (\d+) packages?", out)
    prepared = re.search(r"Prepared (\d+) packages?", out)
    if not resolved:
        return "?"
    return f"{prepared.group(1) if prepared else 0}/{resolved.group(1)} packages downloaded"


def size(path: Path) -> str:
    total = sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())
    return f"{total / 1e6:.1f} MB"


def error_line(out: str) -> str:
    """The last informative line of a failed run, fit for a table cell."""
    lines = [ln.strip() for ln in out.splitlines() if ln.strip()]
    errors = [ln for ln in lines if re.search(r"error|denied|fail|not found|refus", ln, re.I)]
    return (errors or lines or ["(no output)"])[-1][:240].replace("|", "\\|")


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
                rows.append((tool, "-", "uv is not installed here", "", "", "", "", ""))
                continue
            warm = base / f"warm-{tool}"
            (warm / "project").mkdir(parents=True)
            config(warm)
            first = run(tool, TOOLS[tool], warm, None)  # warm the host cache
            host = [run(tool, TOOLS[tool], warm, None) for _ in range(args.runs)]
            bad = [o for _, o, s in [first, *host] if s != 0]
            if bad:
                sys.exit(f"{tool} on the host failed, no baseline: {error_line(bad[0])}")
            host_t = statistics.median(h[0] for h in host)
            rows.append((tool, "host", f"{host_t:.2f} s", f"{first[0]:.2f} s (first)", "1.00x",
                         f"warm: {evidence(tool, host[-1][1])}; first: {evidence(tool, first[1])}",
                         size(warm / CACHE[tool]), ""))
            for runtime in args.runtimes.split(","):
                cold = []
                for i in range(args.runs):
                    home = base / f"cold-{tool}-{runtime}-{i}"
                    (home / "project").mkdir(parents=True)
                    config(home, runtime)
                    cold.append(run(tool, TOOLS[tool], home, runtime))
                config(warm, runtime)
                hot = [run(tool, TOOLS[tool], warm, runtime) for _ in range(args.runs)]
                cold_t = statistics.median(c[0] for c in cold)
                hot_t = statistics.median(h[0] for h in hot)
                offline = "not applicable (pip has no offline mode)"
                if tool in OFFLINE:
                    _, out, status = _offline(tool, warm, runtime)
                    offline = "offline install OK" if status == 0 else f"offline FAILED: {error_line(out)}"
                failures = [o for _, o, s in cold + hot if s != 0]
                note = f"; {len(failures)} of {len(cold + hot)} runs FAILED: {error_line(failures[0])}" \
                    if failures else ""
                rows.append((tool, runtime, f"{hot_t:.2f} s", f"{cold_t:.2f} s", f"{hot_t / host_t:.2f}x",
                             f"warm: {evidence(tool, hot[-1][1])}; cold: {evidence(tool, cold[-1][1])}",
                             size(base / f"cold-{tool}-{runtime}-0" / CACHE[tool]), offline + note))
    print("| tool | where | warm cache | cold cache | warm vs host-warm (goal <= 1.15x) | cache evidence | "
          "cache a cold run wrote | network none |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print("| " + " | ".join(r) + " |")


def _offline(tool: str, warm: Path, runtime: str) -> tuple[float, str, int]:
    env = environment(warm, runtime)
    env["VG_NETWORK_MODE"] = "none"
    project = warm / "project"
    clean(project)
    argv = [sys.executable, "-m", "vgshell.cli", "-q", "exec", command_line(OFFLINE[tool], runtime)]
    t = time.perf_counter()
    r = subprocess.run(argv, cwd=project, env=env, capture_output=True, text=True, timeout=900)
    elapsed, out = time.perf_counter() - t, r.stdout + r.stderr
    if r.returncode == 0 and not (project / INSTALLED[tool]).exists():
        return elapsed, out + f"\nbench: exit 0 but {INSTALLED[tool]} was not installed", 1
    return elapsed, out, r.returncode


if __name__ == "__main__":
    main()
