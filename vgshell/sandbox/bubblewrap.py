"""SandboxSpec → a `bwrap` command line.

The host root is bound read-only at every security level (bubblewrap 0.8 has no overlay to make a
writable root that leaves the host untouched): writes go to the project, the caches, and tmpfs /tmp and
$HOME. Secrets are hidden because $HOME is a fresh tmpfs and the usual secret directories are masked
even when the project itself is the home directory.
"""

from __future__ import annotations

import os

from vgshell.parse import _PLAIN_WORDS as PLAIN_WORDS
from vgshell.sandbox.spec import EGRESS_DIR, SECRET_DIRS, SECRET_FILES, SandboxSpec

SHELL = "/bin/bash"


def argv(spec: SandboxSpec, bwrap: str = "bwrap") -> list[str]:
    args = [bwrap, "--die-with-parent", "--new-session", "--unshare-all", "--hostname", "vgshell"]
    if spec.network == "full":
        args.append("--share-net")
    args += ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp",
             "--tmpfs", "/var/tmp", "--tmpfs", "/run"]
    if spec.home not in ("/", spec.workdir):
        args += ["--tmpfs", spec.home]
        args += _toolchains(spec)
    for m in spec.mounts:
        if m.target == spec.workdir:
            args += ["--ro-bind" if m.read_only else "--bind", m.host, m.target]
    args += _mask_secrets(spec)
    for m in spec.mounts:
        if m.target != spec.workdir:
            args += ["--ro-bind" if m.read_only else "--bind", m.host, m.target]
    if spec.egress_dir is not None:  # restricted: the proxy's socket is the only way out (under the tmpfs /run)
        args += ["--bind", spec.egress_dir, EGRESS_DIR]
    args += ["--uid", str(spec.uid), "--gid", str(spec.gid)]
    if spec.caps is not None and spec.uid == 0:
        args += ["--cap-drop", "ALL"]
        for cap in spec.caps:
            args += ["--cap-add", f"CAP_{cap}"]
    args += ["--chdir", spec.workdir, "--clearenv"]
    for name, value in spec.env:
        args += ["--setenv", name, value]
    if spec.egress_dir is not None:
        from vgshell.sandbox import egress

        # The forwarder first (the host's socat, visible through the read-only root), then the line as $0
        # (plain words as the arguments: no second shell to start).
        launch = egress.forwarder_command(egress.host_socat())
        if PLAIN_WORDS.fullmatch(spec.command):
            return [*args, "--", "/bin/sh", "-c", launch + 'exec "$@"', "vg", *spec.command.split()]
        return [*args, "--", "/bin/sh", "-c", launch + f'exec {SHELL} -c "$0"', spec.command]
    if PLAIN_WORDS.fullmatch(spec.command):
        return [*args, "--", *spec.command.split()]  # nothing for a shell to do: skip its start-up
    return [*args, "--", SHELL, "-c", spec.command]


def _toolchains(spec: SandboxSpec) -> list[str]:
    """The user's own tools under $HOME (pyenv, nvm, rustup …), read-only, with their credential files hidden."""
    out: list[str] = []
    for d in spec.toolchains:
        if os.path.isdir(d):
            out += ["--ro-bind", d, d]
    home = spec.home.rstrip("/")
    for f in SECRET_FILES:
        path = f"{home}/{f}"
        if any(path.startswith(d + "/") for d in spec.toolchains) and os.path.isfile(path):
            out += ["--ro-bind", "/dev/null", path]
    return out


def _mask_secrets(spec: SandboxSpec) -> list[str]:
    """Hide secret directories that the project bind would otherwise expose (project == $HOME or above)."""
    if not (spec.home == spec.workdir or spec.home.startswith(spec.workdir.rstrip("/") + "/")):
        return []
    out: list[str] = []
    for d in SECRET_DIRS:
        path = f"{spec.home.rstrip('/')}/{d}"
        if os.path.isdir(path):  # masking needs a mount point; one that does not exist hides nothing
            out += ["--tmpfs", path]
        elif os.path.lexists(path):
            out += ["--ro-bind", "/dev/null", path]
    return out
