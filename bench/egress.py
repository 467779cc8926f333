"""What `network_mode: restricted` costs: the same pip install with `full` and `restricted`, and the start-up
the egress proxy and its forwarder add to every sandboxed command.

Rows per runtime, all measured in this run:
- `vg exec "pip install …"` end to end with network_mode full vs restricted, median over --runs runs after
  one warm-up run of each (goal: restricted <= 1.2x full). A fresh --target directory each run; pip's own
  config and wheel mirrors are kept out (PIP_CONFIG_FILE=/dev/null, no PIP_FIND_LINKS);
- the proxy alone: Proxy.start() + stop() in-process (socket directory, UNIX socket, accept thread);
- a sandboxed `true` in-process (spec + adapter + run, no Python start-up) with network none vs restricted:
  the difference is what the proxy and the forwarder inside add per command (goal <= 20 ms).

Traffic goes to PyPI only. Usage: python bench/egress.py [--runs 5] [--runtimes bubblewrap,docker,podman]
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
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchlib import sample  # noqa: E402

from vgshell.config import DEFAULT_CONFIG, with_overrides  # noqa: E402
from vgshell.context import Environment  # noqa: E402
from vgshell.execute import _dispatch, host_facts  # noqa: E402
from vgshell.sandbox import egress  # noqa: E402
from vgshell.sandbox.spec import build_spec  # noqa: E402

DEBIAN = "vgshell-test/debian:latest"
PACKAGES = "six==1.16.0 idna==3.6 certifi==2024.2.2"




def pip_install(runtime: str, network: str, project: Path, env: dict[str, str]) -> Callable[[], object]:
    python = f"{sys.base_prefix}/bin/python3" if runtime == "bubblewrap" else "python3"
    counter = iter(range(1_000_000))

    def run() -> object:
        target = f"t-{network}-{next(counter)}"
        line = f"{python} -m pip install -q --no-deps --target {target} {PACKAGES}"
        r = subprocess.run([sys.executable, "-m", "vgshell.cli", "-q", "exec", line], cwd=project,
                           env={**env, "VG_RUNTIME": runtime, "VG_NETWORK_MODE": network},
                           stdin=subprocess.DEVNULL, capture_output=True, text=True)
        if r.returncode != 0 or not (project / target / "six.py").exists():
            raise SystemExit(f"{runtime} {network}: the install failed:\n{r.stdout}{r.stderr}")
        shutil.rmtree(project / target)
        return r

    return run


def proxy_alone() -> Callable[[], object]:
    def run() -> object:
        p = egress.Proxy(("pypi.org",), {}).start()
        p.stop()
        return p

    return run


def sandboxed_true(runtime: str, network: str, project: str, home: str) -> Callable[[], object]:
    cfg = with_overrides(DEFAULT_CONFIG, {"sandbox.runtime": runtime, "sandbox.security_level": "permissive",
                                          "sandbox.network_mode": network, "sandbox.image": DEBIAN})
    env = Environment(env={**os.environ, "HOME": home}, cwd=project)

    def run() -> object:
        spec = build_spec("true", cfg, host_facts(env, cfg, ()), (), True)
        proxy = egress.Proxy(spec.allowlist, env.env).start() if network == "restricted" else None
        with open(os.devnull, "rb") as devnull:
            saved = os.dup(0)
            os.dup2(devnull.fileno(), 0)
            try:
                status = _dispatch(runtime, spec if proxy is None else replace(spec, egress_dir=proxy.directory))
            finally:
                os.dup2(saved, 0)
                os.close(saved)
                if proxy is not None:
                    proxy.stop()
        assert status == 0
        return status

    return run


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--startup-runs", type=int, default=20)
    p.add_argument("--runtimes", default="bubblewrap,docker,podman")
    args = p.parse_args()
    rows: list[tuple[str, list[float], str]] = []
    alone = sample(proxy_alone(), 200, warm=5)
    rows.append(("proxy alone: start + stop, in-process", alone, ""))
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        project = home / "project"
        project.mkdir(parents=True)
        env = {k: v for k, v in os.environ.items() if k != "PIP_FIND_LINKS"}
        env.update(HOME=str(home), VG_HOME=str(Path(tmp) / "state"), VG_MODE="always",
                   VG_SECURITY_LEVEL="permissive", VG_IMAGE=DEBIAN, PIP_CONFIG_FILE="/dev/null")
        for runtime in args.runtimes.split(","):
            none = sample(sandboxed_true(runtime, "none", str(project), str(home)), args.startup_runs)
            restricted = sample(sandboxed_true(runtime, "restricted", str(project), str(home)), args.startup_runs)
            added = statistics.median(restricted) - statistics.median(none)
            rows.append((f"{runtime}: sandboxed true, network none (in-process)", none, ""))
            rows.append((f"{runtime}: sandboxed true, restricted (in-process)", restricted,
                         f"added {added:+.1f} ms (goal <= 20 ms)"))
            full = sample(pip_install(runtime, "full", project, env), args.runs)
            limited = sample(pip_install(runtime, "restricted", project, env), args.runs)
            ratio = statistics.median(limited) / statistics.median(full)
            rows.append((f"{runtime}: vg exec pip install, full", full, ""))
            rows.append((f"{runtime}: vg exec pip install, restricted", limited,
                         f"{ratio:.2f}x full (goal <= 1.2x)"))
    print(f"pip install --no-deps {PACKAGES}; runs per pip row: {args.runs}, per start-up row: "
          f"{args.startup_runs}\n")
    print("| measure | median | min | max | n | note |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, xs, note in rows:
        print(f"| {name} | {statistics.median(xs):.1f} ms | {min(xs):.1f} ms | {max(xs):.1f} ms | {len(xs)} "
              f"| {note} |")


if __name__ == "__main__":
    main()
