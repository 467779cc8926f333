"""SandboxSpec → a `podman run` command line (rootful or rootless), run on vg's PTY or pipes.

Podman allocates the container's own terminal when given `-t` and relays it, so the PTY size, SIGWINCH and
Ctrl-C follow from vg's PTY. Containers carry the `vgshell` labels and a `vgshell-…` name, and are removed
in every outcome — by vg, or when vg is gone by conmon once the container's watchdogs have ended it
(reaper.py). Where the default OCI runtime cannot raise rlimits (ENVIRONMENT.md), runc is used and the
current process's file and process limits are passed down.
"""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import subprocess
import uuid

from vgshell.sandbox.docker import SandboxError, egress_mounts, launch
from vgshell.sandbox.reaper import ALIVE, GRACE, LABEL, Lifeline, labels
from vgshell.sandbox.spec import SandboxSpec
from vgshell.sandbox.tee import Tee

INIT_PATHS = ("/usr/libexec/podman/catatonit", "/usr/lib/podman/catatonit")


def binary() -> str:
    found = shutil.which("podman")
    if found is None:
        raise SandboxError("podman is not installed (apt-get install podman) — or choose another sandbox.runtime")
    return found


def ensure_image(podman: str, image: str) -> None:
    if subprocess.run([podman, "image", "exists", image], capture_output=True).returncode == 0:
        return
    pulled = subprocess.run([podman, "pull", "-q", image], capture_output=True, text=True)
    if pulled.returncode != 0:
        reason = (pulled.stderr.strip().splitlines() or ["pull failed"])[-1][:160]
        raise SandboxError(f"image {image!r} is not available locally and could not be pulled ({reason}); pull "
                           f"it with 'podman pull {image}', or import one (podman import / podman load) and "
                           f"name it in sandbox.image")


def run(spec: SandboxSpec, seccomp_path: str | None, tee: Tee | None = None) -> int:
    """Run the spec in a fresh container on vg's PTY or pipes; returns the command's exit status."""
    from vgshell.sandbox import pty

    podman = binary()
    ensure_image(podman, spec.image)
    name = new_name()
    with Lifeline() as life:
        try:
            return pty.run(argv(spec, podman, name, seccomp_path, life), dict(os.environ), spec.timeout,
                           on_kill=lambda: remove(podman, name), tee=tee)
        finally:
            remove(podman, name)


def argv(spec: SandboxSpec, podman: str, name: str, seccomp_path: str | None, life: Lifeline) -> list[str]:
    args = [podman]
    if shutil.which("runc"):
        args += ["--runtime", "runc"]
    args += ["run", "--rm", "--name", name, "--hostname", "vgshell", "-i"]
    for key, value in labels(os.environ).items():
        args += ["--label", f"{key}={value}"]
    if spec.timeout:  # conmon's own deadline, besides the launch script's: it holds whatever became of vg
        args += ["--timeout", str(spec.timeout + GRACE)]
    if any(os.path.exists(p) for p in INIT_PATHS):
        args.append("--init")  # the command is not PID 1: signals and exit statuses behave as on the host
    if spec.tty:
        args.append("-t")
    args += ["-w", spec.workdir, "--user", f"{spec.uid}:{spec.gid}"]
    for m in spec.container_mounts:
        args += ["-v", f"{m.host}:{m.target}:{_options(spec, m.target, m.read_only)}"]
    for host, target, ro in egress_mounts(spec):
        args += ["-v", f"{host}:{target}:{'ro' if ro else 'rw'}"]
    args += ["-v", f"{life.fifo}:{ALIVE}:ro"]
    # Masks are binds, not tmpfs: podman mounts every tmpfs before the binds, which would cover it.
    for mask in spec.container_masks:
        args += ["-v", f"{life.empty if mask.directory else '/dev/null'}:{mask.target}:ro"]
    args += ["--tmpfs", "/tmp:rw,exec,mode=1777", "--tmpfs", "/var/tmp:rw,exec,mode=1777"]
    if spec.fresh_home:
        args += ["--tmpfs", f"{spec.home}:rw,exec,mode=1777"]
    args += ["--memory", str(spec.memory), "--memory-swap", str(spec.memory), "--cpus", str(spec.cpus)]
    if spec.pids is not None:
        args += ["--pids-limit", str(spec.pids)]
    if spec.read_only_root:
        args += ["--read-only", "--read-only-tmpfs=false"]
    args += ["--network", "bridge" if spec.network == "full" else "none"]  # restricted: the proxy's socket only
    if spec.caps is not None:
        args += ["--cap-drop", "ALL", *(x for cap in spec.caps for x in ("--cap-add", cap))]
    args += ["--security-opt", "no-new-privileges"]
    if seccomp_path is not None:
        args += ["--security-opt", f"seccomp={seccomp_path}"]
    args += ulimits()
    for key, value in spec.env:
        args += ["--env", f"{key}={value}"]
    return [*args, spec.image, *launch(spec, wait_size=False)]


def _options(spec: SandboxSpec, target: str, read_only: bool) -> str:
    """review/discard: the project is podman's overlay volume, its upper and work directories vg's own."""
    o = spec.overlay
    if o is not None and target == o.project:
        return f"O,upperdir={o.upper},workdir={o.work}"
    return "ro" if read_only else "rw"


def ulimits() -> list[str]:
    """This process's file and process limits, passed down (`vg doctor` runs its probe with them too)."""
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)
    nproc = resource.getrlimit(resource.RLIMIT_NPROC)
    return ["--ulimit", f"nofile={_lim(nofile[0])}:{_lim(nofile[1])}",
            # larger process limits are refused by the OCI runtime on some hosts; the pids limit governs anyway
            "--ulimit", f"nproc={_lim(min(nproc[0], 4096))}:{_lim(min(nproc[1], 4096))}"]


def _lim(value: int) -> str:
    return "-1" if value == resource.RLIM_INFINITY else str(value)


def new_name() -> str:
    return f"vgshell-{uuid.uuid4().hex[:12]}"


def remove(podman: str, name: str) -> None:
    with contextlib.suppress(OSError):
        subprocess.run([podman, "rm", "-f", "-t", "0", name], capture_output=True, timeout=30)


def leftovers(label: str = LABEL) -> list[str]:
    """Ids of containers with `label` (KEY or KEY=VALUE) that still exist."""
    podman = binary()
    r = subprocess.run([podman, "ps", "-a", "-q", "--filter", f"label={label}"], capture_output=True, text=True)
    return r.stdout.split()
