"""What an AI agent pays for `vg hook`: a fresh hook process per command, as every agent runs it.

Rows (median, p90 and p99 over --runs, all measured in this run, against one running analyzer):
- `python -c pass` with this interpreter: the floor any Python hook pays;
- `vg hook claude-code` for a host command (`ls -la`): payload in, `allow` out — the goal is p50 ≤ 40 ms;
- `vg hook claude-code` for `npm install left-pad`: the answer that rewrites it into the sandbox;
- the rewritten sandboxed `true` end to end: the hook's rewrite (sandbox.mode always in the bench project)
  run with `bash -c` as the agent would, i.e. `vg exec --sandbox bubblewrap … true`;
- `codex sandbox -- true` (Codex's own sandbox, from `npm i @openai/codex@0.169.0`) when --codex points at
  its binary or one is found, in the same run.

The bench home lives under /var/tmp (Codex refuses a HOME under /tmp). The package is byte-compiled first,
as an installed one is (this machine sets PYTHONDONTWRITEBYTECODE).

Usage: python bench/agent_hooks.py [--runs 100] [--sandbox-runs 30] [--codex PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from benchlib import percentile, sample

ROOT = Path(__file__).resolve().parent.parent
VG = str(Path(sys.executable).with_name("vg"))
PAYLOAD = json.loads((ROOT / "tests" / "data" / "agents" / "claude-code-2.1" / "PreToolUse-Bash.json").read_text())
CODEX_PLACES = ("/var/tmp/vgshell-tests/codex-0.169.0/node_modules/.bin/codex",)  # where the tests install it


def payload(command: str, cwd: Path) -> bytes:
    data = json.loads(json.dumps(PAYLOAD))
    data["tool_input"]["command"] = command
    data["cwd"] = str(cwd)
    return json.dumps(data).encode()


def runner(argv: list[str], env: dict[str, str], cwd: Path, stdin: bytes = b"",
           expect: int = 0) -> Callable[[], object]:
    def run() -> object:
        r = subprocess.run(argv, input=stdin, capture_output=True, env=env, cwd=cwd, check=False)
        if r.returncode != expect:
            raise SystemExit(f"{argv[:3]} exited {r.returncode}: {r.stderr.decode()[-300:]}")
        return r
    return run


def row(name: str, samples: list[float]) -> None:
    print(f"| {name} | {percentile(samples, 0.5):.1f} | {percentile(samples, 0.9):.1f} | "
          f"{percentile(samples, 0.99):.1f} | {len(samples)} |")


def rewritten(env: dict[str, str], cwd: Path, command: str) -> str:
    r = subprocess.run([VG, "hook", "claude-code"], input=payload(command, cwd), capture_output=True, env=env,
                       cwd=cwd, check=True)
    return str(json.loads(r.stdout)["hookSpecificOutput"]["updatedInput"]["command"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--sandbox-runs", type=int, default=30)
    ap.add_argument("--codex", help="the codex binary (npm i @openai/codex@0.169.0)")
    args = ap.parse_args()

    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "vgshell")], check=True)
    home = Path(tempfile.mkdtemp(prefix="vg-agent-bench-", dir="/var/tmp"))
    project, always = home / "project", home / "always"
    for d in (project, always):
        d.mkdir()
    (always / "vectra-guard.yaml").write_text("sandbox:\n  mode: always\n")
    env = {**os.environ, "HOME": str(home), "VG_HOME": str(home / ".vectra-guard"), "NO_COLOR": "1"}
    env.pop("VG_SESSION", None)
    subprocess.run([VG, "analyzer", "start"], env=env, check=True, capture_output=True)
    try:
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus, load {os.getloadavg()[0]:.1f}\n")
        print("| row | p50 ms | p90 ms | p99 ms | runs |\n|---|---|---|---|---|")
        row("`python -c pass` (floor)", sample(runner([sys.executable, "-c", "pass"], env, project), args.runs))
        row("`vg hook claude-code`, host command → allow",
            sample(runner([VG, "hook", "claude-code"], env, project, payload("ls -la", project)), args.runs))
        row("`vg hook claude-code`, `npm install` → sandbox rewrite",
            sample(runner([VG, "hook", "claude-code"], env, project, payload("npm install left-pad", project)),
                   args.runs))
        runs: list[float] = []
        for _ in range(args.sandbox_runs + 2):  # each rewrite names a decision that runs once: a fresh one each time
            line = rewritten(env, always, "true")
            runs.append(sample(runner(["bash", "-c", line], env, always), 1, warm=0)[0])
        row("rewritten sandboxed `true` (`vg exec --decision …`), run with `bash -c`", runs[2:])

        def hook_and_run() -> None:
            runner(["bash", "-c", rewritten(env, always, "true")], env, always)()

        row("hook + rewritten sandboxed `true` (end to end)", sample(hook_and_run, args.sandbox_runs, warm=1))
        fallback = {**env, "VG_GUARD_LEVEL": "medium"}  # not the running analyzer's environment: judged here
        forced = rewritten(fallback, always, "true")
        row("`vg exec --sandbox bubblewrap … true` (the rewrite when judged in-process)",
            sample(runner(["bash", "-c", forced], fallback, always), args.sandbox_runs, warm=1))
        row("`bwrap --ro-bind / / --dev /dev --proc /proc --unshare-all true` (raw runtime)",
            sample(runner([shutil.which("bwrap") or "bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc",
                           "/proc", "--unshare-all", "--die-with-parent", "true"], env, project), args.sandbox_runs))
        codex = args.codex or next((p for p in CODEX_PLACES if os.access(p, os.X_OK)), None)
        if codex:
            row("`codex sandbox -- true` (Codex 0.169.0)",
                sample(runner([codex, "sandbox", "--", "true"], env, project), args.sandbox_runs, warm=2))
        else:
            print("| `codex sandbox -- true` | not measured: no codex binary (--codex PATH) | | | |")
    finally:
        subprocess.run([VG, "analyzer", "stop"], env=env, capture_output=True, check=False)
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
