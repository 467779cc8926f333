"""SandboxSpec → a `bwrap` command line.

The host root is bound read-only at every security level (bubblewrap 0.8 has no overlay to make a
writable root that leaves the host untouched): writes go to the project, the caches, and tmpfs /tmp and
$HOME. The host's secrets (secrets.py) are covered wherever they would show — through the root, the
project or the user's toolchains — by an empty tmpfs or an empty file. Mounts are made outermost first,
so a mask lands on top of the bind that exposes it and a bind inside a masked directory still shows.
"""

from __future__ import annotations

import os

from vgshell.parse import _PLAIN_WORDS as PLAIN_WORDS
from vgshell.sandbox.spec import BWRAP_FRESH_DIRS, EGRESS_DIR, SandboxSpec

SHELL = "/bin/bash"
_FRESH = {"/dev": "--dev", "/proc": "--proc"}  # every other fresh directory is a tmpfs


# review/discard: mount the overlay over the project's path in a private mount namespace, say which (the
# mark), then run bwrap there (it binds the project, so the overlay). The kernel's overlay first; where a
# user namespace may not mount it (kernels before 5.11), fuse-overlayfs, whose daemon is unmounted after the
# run. $1 mount, $2 its options, $3 project, $4 the mark, $5 fuse-overlayfs (or ""), $6 its options, $7 umount.
OVERLAY_SCRIPT = (
    'if "$1" -t overlay overlay -o "$2" "$3" 2>/dev/null; then echo kernel > "$4"; shift 7; exec "$@"; fi; '
    'if [ -n "$5" ] && "$5" -o "$6" "$3" 2>/dev/null; then echo fuse > "$4"; u=$7; p=$3; shift 7; "$@"; s=$?; '
    '"$u" "$p" 2>/dev/null || "$u" -l "$p"; exit $s; fi; '
    'echo "vg: sandbox: could not mount an overlay over $3 (kernel overlayfs or fuse-overlayfs in a user '
    'namespace); the command was not run" >&2; exit 125')


def argv(spec: SandboxSpec, bwrap: str = "bwrap", unshare: str = "unshare", mount: str = "mount",
         fuse: str = "", umount: str = "umount") -> list[str]:
    """The bwrap command line; with `spec.overlay`, run from a namespace where the project is overlaid."""
    inner = _bwrap_argv(spec, bwrap)
    o = spec.overlay
    if o is None:
        return inner
    from vgshell.changes.capture import MOUNTED, fuse_options, mount_options

    mark = os.path.join(os.path.dirname(o.upper), MOUNTED)
    fuse_opts = fuse_options(o.project, o.upper, o.work)
    return [unshare, "--user", "--map-root-user", "--mount", "--", "/bin/sh", "-c", OVERLAY_SCRIPT, "vg-overlay",
            mount, mount_options(o.project, o.upper, o.work, userxattr=True), o.project, mark,
            fuse if fuse_opts else "", fuse_opts or "", umount, *inner]


def _bwrap_argv(spec: SandboxSpec, bwrap: str) -> list[str]:
    args = [bwrap, "--die-with-parent", "--new-session", "--unshare-all", "--hostname", "vgshell"]
    if spec.network == "full":
        args.append("--share-net")
    for _, op in sorted(_mounts(spec), key=lambda x: _depth(x[0])):  # stable: same depth keeps its order
        args += op
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


def _mounts(spec: SandboxSpec) -> list[tuple[str, list[str]]]:
    """(target, bwrap arguments) in precedence order: at one target the later wins (a mask over all)."""
    out: list[tuple[str, list[str]]] = [("/", ["--ro-bind", "/", "/"])]
    out += ((d, [_FRESH.get(d, "--tmpfs"), d]) for d in BWRAP_FRESH_DIRS)
    if spec.fresh_home:
        out.append((spec.home, ["--tmpfs", spec.home]))
    out += ((d, ["--ro-bind", d, d]) for d in spec.toolchains if os.path.isdir(d))
    out += ((h, ["--tmpfs", h]) for d in spec.toolchains for h in _tool_hooks(d))
    out += ((m.target, ["--ro-bind" if m.read_only else "--bind", m.host, m.target]) for m in spec.mounts)
    out += ((m.target, ["--tmpfs", m.target] if m.directory else ["--ro-bind", "/dev/null", m.target])
            for m in spec.masks)
    if spec.egress_dir is not None:  # restricted: the proxy's socket is the only way out (under the tmpfs /run)
        out.append((EGRESS_DIR, ["--bind", spec.egress_dir, EGRESS_DIR]))
    return out


# Hooks a read-only toolchain runs after the command, to write into itself: pyenv's pip hook runs
# `pyenv rehash` after every successful `pip install`, which cannot write the read-only shims and turns
# the install's status into 1. An empty directory over the hook's wrappers leaves pip to run directly.
_TOOL_HOOKS = ("pyenv.d/exec/pip-rehash",)


def _tool_hooks(toolchain: str) -> list[str]:
    return [h for h in (f"{toolchain}/{name}" for name in _TOOL_HOOKS) if os.path.isdir(h)]


def _depth(path: str) -> int:
    return path.rstrip("/").count("/")
