"""What a sandboxed `true` costs: vgshell against the raw runtime, in one process and end to end.

Rows per runtime (median and p99 over --runs runs, all measured in this run):
- `true` run directly (the floor);
- the raw runtime running `true` (bwrap with a minimal namespace set; `docker run --rm`; `podman run --rm`);
- vgshell in-process: spec building, limits (cgroups), the adapter and the run itself — what vg adds on top
  of the raw runtime without Python's start-up;
- `vg exec -- true` end to end, a fresh `vg` process each time (Python start-up and imports included).

Usage: python bench/sandbox_startup.py [--runs 30] [--runtimes bubblewrap,docker,podman]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchlib import percentile, sample  # noqa: E402

from vgshell.config import DEFAULT_CONFIG, with_overrides  # noqa: E402
from vgshell.context import Environment  # noqa: E402
from vgshell.execute import _dispatch, host_facts  # noqa: E402
from vgshell.sandbox.spec import build_spec  # noqa: E402

IMAGE = "vgshell-test/busybox:latest"






def quiet(argv: list[str], env: dict[str, str] | None = None) -> Callable[[], object]:
    return lambda: subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, env=env, check=True)


def vg_inprocess(runtime: str, project: str, home: str) -> Callable[[], object]:
    cfg = with_overrides(DEFAULT_CONFIG, {"sandbox.runtime": runtime, "sandbox.security_level": "permissive",
                                          "sandbox.network_mode": "none", "sandbox.image": IMAGE})
    env = Environment(env={**os.environ, "HOME": home}, cwd=project)

    def run() -> object:
        spec = build_spec("true", cfg, host_facts(env, cfg, ()), (), True)
        with open(os.devnull, "rb") as devnull:
            saved = os.dup(0)
            os.dup2(devnull.fileno(), 0)
            try:
                status = _dispatch(runtime, spec)
            finally:
                os.dup2(saved, 0)
                os.close(saved)
        assert status == 0
        return status

    return run


def raw(runtime: str) -> Callable[[], object]:
    if runtime == "bubblewrap":
        return quiet(["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--unshare-all",
                      "--die-with-parent", "true"])
    if runtime == "docker":
        return quiet(["docker", "run", "--rm", "--network", "none", IMAGE, "true"])
    podman = ["podman", "--runtime", "runc"] if shutil.which("runc") else ["podman"]
    return quiet([*podman, "run", "--rm", "--network", "none", "--ulimit", "nofile=20000:20000",
                  "--ulimit", "nproc=4096:4096", IMAGE, "true"])


def docker_sdk() -> Callable[[], object]:
    import docker

    client = docker.from_env()
    return lambda: client.containers.run(IMAGE, "true", remove=True, network_mode="none")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=30)
    p.add_argument("--runtimes", default="bubblewrap,docker,podman")
    args = p.parse_args()
    rows: list[tuple[str, list[float], str]] = [("true, directly", sample(quiet(["true"]), args.runs), "")]
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        project = home / "project"
        project.mkdir(parents=True)
        env = {**os.environ, "HOME": str(home), "VG_HOME": str(Path(tmp) / "state"), "VG_MODE": "always",
               "VG_SECURITY_LEVEL": "permissive", "VG_NETWORK_MODE": "none", "VG_IMAGE": IMAGE}
        for runtime in args.runtimes.split(","):
            base = sample(raw(runtime), args.runs)
            rows.append((f"{runtime}: raw runtime", base, ""))
            if runtime == "docker":
                rows.append(("docker: raw SDK containers.run(remove=True)", sample(docker_sdk(), args.runs), ""))
            ours = sample(vg_inprocess(runtime, str(project), str(home)), args.runs)
            goal = "added <= 10 ms p50" if runtime == "bubblewrap" else "<= 1.2x raw" if runtime == "docker" else ""
            rows.append((f"{runtime}: vgshell in-process", ours,
                         f"{goal}; added {statistics.median(ours) - statistics.median(base):+.1f} ms, "
                         f"{statistics.median(ours) / statistics.median(base):.2f}x"))
            cli = quiet([sys.executable, "-m", "vgshell.cli", "-q", "exec", "--", "true"],
                        {**env, "VG_RUNTIME": runtime})
            rows.append((f"{runtime}: vg exec -- true (new process)", sample(cli, args.runs), ""))
    print("| measure | median | p99 | n | note |")
    print("| --- | --- | --- | --- | --- |")
    for name, xs, note in rows:
        print(f"| {name} | {statistics.median(xs):.1f} ms | {percentile(xs, 0.99):.1f} ms | {len(xs)} | {note} |")


if __name__ == "__main__":
    main()
