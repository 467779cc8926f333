"""SandboxSpec → a container run through the Docker SDK (no docker CLI), PTY-attached when interactive.

Containers carry the `vgshell` labels and are removed in every outcome (exit, error, Ctrl-C, timeout), by
vg or — when vg is gone — by the engine once the container's own watchdogs have ended it (reaper.py).
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import socket
import sys
import termios
import threading
import time
import tty
from collections.abc import Iterator
from typing import Any

from vgshell.errors import VgError
from vgshell.sandbox.pty import TIMEOUT_STATUS, Timeout, _window_size
from vgshell.sandbox.reaper import ALIVE, LABEL, Lifeline, labels, sweep_docker, watchdog
from vgshell.sandbox.spec import SandboxSpec
from vgshell.sandbox.tee import Tee

# Runs the line with bash when the image has it, else with sh; the line is $0, never re-quoted.
_EXEC = 'if command -v bash >/dev/null 2>&1; then exec bash -c "$0"; else exec sh -c "$0"; fi'
LAUNCH = ["/bin/sh", "-c", _EXEC]
# Engines before API 1.42 cannot size a TTY before start: wait (up to ~0.5 s) until vg's resize lands.
_WAIT_SIZE = ('if command -v stty >/dev/null 2>&1; then i=0; while [ $i -lt 50 ]; do '
              'case "$(stty size 2>/dev/null)" in ""|"0 0") i=$((i+1)); sleep 0.01 2>/dev/null || break;; '
              '*) break;; esac; done; fi; ')
LAUNCH_TTY = ["/bin/sh", "-c", _WAIT_SIZE + _EXEC]


class SandboxError(VgError):
    topic = "sandbox"


def client(timeout: int = 60) -> Any:
    import docker

    try:
        c = docker.from_env(timeout=timeout)
        c.ping()
        return c
    except Exception as e:  # the SDK raises several types for "no daemon"
        raise SandboxError(f"the Docker engine is not answering ({_short(e)}); start it (sudo systemctl start "
                           f"docker, or dockerd) or choose another sandbox.runtime") from e


def _short(e: BaseException) -> str:
    return str(e).splitlines()[0][:160] if str(e) else type(e).__name__


def host_config(api: Any, spec: SandboxSpec, seccomp: str | None, life: Lifeline) -> Any:
    binds = [f"{_source(spec, m.host, m.target)}:{m.target}:{'ro' if m.read_only else 'rw'}"
             for m in spec.container_mounts]
    binds += (f"{h}:{t}:{'ro' if ro else 'rw'}" for h, t, ro in egress_mounts(spec))
    binds.append(f"{life.fifo}:{ALIVE}:ro")
    tmpfs = {"/tmp": "rw,exec,mode=1777", "/var/tmp": "rw,exec,mode=1777"}
    if spec.fresh_home:
        tmpfs[spec.home] = f"rw,exec,uid={spec.uid},gid={spec.gid},mode=0700"
    for m in spec.container_masks:  # the engine mounts outermost first: a mask lands on the bind showing it
        if m.directory:
            tmpfs[m.target] = "ro,mode=0700"
        else:
            binds.append(f"/dev/null:{m.target}:ro")
    security = ["no-new-privileges"]
    if seccomp is not None:
        security.append(f"seccomp={seccomp}")
    return api.create_host_config(
        binds=binds, tmpfs=tmpfs, mem_limit=spec.memory, memswap_limit=spec.memory,
        nano_cpus=int(spec.cpus * 1e9), pids_limit=spec.pids, read_only=spec.read_only_root,
        network_mode="bridge" if spec.network == "full" else "none",  # restricted: the proxy's socket only
        cap_drop=["ALL"] if spec.caps is not None else None,
        cap_add=list(spec.caps) if spec.caps else None, security_opt=security, init=True, auto_remove=True)


def _source(spec: SandboxSpec, host: str, target: str) -> str:
    """review/discard: the project's mount shows the overlay vg mounted on the host, not the project."""
    o = spec.overlay
    return o.merged if o is not None and o.merged is not None and target == o.project else host


def egress_mounts(spec: SandboxSpec) -> list[tuple[str, str, bool]]:
    if spec.egress_dir is None:
        return []
    from vgshell.sandbox import egress

    return egress.container_mounts(spec.egress_dir)


def launch(spec: SandboxSpec, wait_size: bool) -> list[str]:
    """The container's command: `sh -c SCRIPT LINE`, the watchdogs first, then the forwarder in restricted
    mode."""
    shell, flag, script = LAUNCH_TTY if wait_size else LAUNCH
    if spec.egress_dir is not None:
        from vgshell.sandbox import egress

        script = egress.container_launch(script)
    return [shell, flag, watchdog(spec.timeout) + script, spec.command]


def run(spec: SandboxSpec, seccomp: str | None = None, tee: Tee | None = None) -> int:
    """Run the spec in a fresh container; returns the command's exit status. `tee` gets a copy of the output."""
    import docker

    c = client()
    api = c.api
    ensure_image(c, spec.image)
    with Lifeline() as life:
        try:
            config = api.create_container_config(
                spec.image, launch(spec, spec.tty),
                working_dir=spec.workdir, environment=dict(spec.env),
                user=f"{spec.uid}:{spec.gid}", tty=spec.tty, stdin_open=True, labels=labels(os.environ),
                hostname="vgshell", host_config=host_config(api, spec, seccomp, life))
            config["StdinOnce"] = True  # our half-close of stdin is the container's EOF
            cid = api.create_container_from_config(config)["Id"]
        except docker.errors.APIError as e:
            raise SandboxError(f"docker could not create the sandbox: {e.explanation or e}") from e
        gone: _Removal | None = None
        try:
            gone = _Removal(api, cid)
            return _attach_and_wait(api, cid, spec, gone, tee)
        finally:
            with contextlib.suppress(Exception):
                api.remove_container(cid, force=True, v=True)
            if gone is not None:
                gone.wait(10)  # an auto-removal under way: nothing is left when vg returns


class _Removal:
    """The engine's "wait until removed", asked before start: an auto-removed container must not be gone
    before vg asks for its exit status. The engine sends the headers once the wait is registered."""

    def __init__(self, api: Any, cid: str) -> None:
        url = api._url("/containers/{0}/wait", cid)
        self._response = api._post(url, params={"condition": "removed"}, stream=True, timeout=None)
        self.status = 1
        self._thread = threading.Thread(target=self._read, args=(api,), daemon=True)
        self._thread.start()

    def _read(self, api: Any) -> None:
        with contextlib.suppress(Exception):
            self.status = int(api._result(self._response, True).get("StatusCode", 1))

    def wait(self, timeout: float) -> bool:
        """True once the container is gone (its status is then known)."""
        self._thread.join(timeout)
        return not self._thread.is_alive()


def _sweep(api: Any) -> None:
    """Containers that a killed vg left in a state no watchdog reaches (created, never started), while the
    command runs: off the hot path."""
    with contextlib.suppress(Exception):
        sweep_docker(api)


def ensure_image(c: Any, image: str) -> None:
    import docker

    try:
        c.images.get(image)
        return
    except docker.errors.ImageNotFound:
        pass
    try:
        c.images.pull(image)
    except docker.errors.APIError as e:
        raise SandboxError(
            f"image {image!r} is not available locally and could not be pulled ({_short(e)}); pull it with "
            f"'docker pull {image}', or build or import one (docker build / docker import) and name it in "
            f"sandbox.image") from e


def _attach_and_wait(api: Any, cid: str, spec: SandboxSpec, gone: _Removal, tee: Tee | None = None) -> int:
    sock = api.attach_socket(cid, params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1})
    raw: socket.socket = sock._sock
    api.start(cid)
    threading.Thread(target=_sweep, args=(api,), daemon=True).start()
    if spec.tty and sys.stdin.isatty():
        size = _window_size(sys.stdin.fileno())
        if size:
            with contextlib.suppress(Exception):
                api.resize(cid, height=int.from_bytes(size[0:2], "little"), width=int.from_bytes(size[2:4], "little"))
    deadline = time.monotonic() + spec.timeout
    interactive = spec.tty and sys.stdin.isatty()
    try:
        if interactive:
            _relay_tty(api, cid, raw, deadline, tee)
        else:
            _relay_pipes(api, cid, raw, deadline, tee)
        if not gone.wait(max(1.0, deadline - time.monotonic())):
            raise Timeout
        return gone.status
    except Timeout:
        with contextlib.suppress(Exception):
            api.kill(cid)
        raise
    except Exception as e:
        if "Read timed out" in str(e) or "timed out" in str(e).lower():
            with contextlib.suppress(Exception):
                api.kill(cid)
            raise Timeout from e
        raise
    finally:
        with contextlib.suppress(OSError):
            raw.close()


def _relay_tty(api: Any, cid: str, raw: socket.socket, deadline: float, tee: Tee | None = None) -> None:
    stdin, stdout = sys.stdin.fileno(), sys.stdout.fileno()
    saved = termios.tcgetattr(stdin)

    def resize(*_: object) -> None:
        size = _window_size(stdin)
        if size:
            rows, cols = int.from_bytes(size[0:2], "little"), int.from_bytes(size[2:4], "little")
            with contextlib.suppress(Exception):
                api.resize(cid, height=rows, width=cols)

    old = signal.signal(signal.SIGWINCH, resize)
    resize()
    try:
        tty.setraw(stdin)
        inputs: list[Any] = [raw, stdin]
        while True:
            wait = deadline - time.monotonic()
            if wait <= 0:
                raise Timeout
            try:
                ready, _, _ = select.select(inputs, [], [], wait)
            except InterruptedError:
                continue
            if raw in ready:
                data = raw.recv(65536)
                if not data:
                    return
                os.write(stdout, data)
                if tee is not None:
                    tee.tty = True
                    tee.add(1, data)
            if stdin in ready:
                data = os.read(stdin, 65536)
                if data:
                    if tee is not None:
                        tee.typed = True
                    raw.sendall(data)
                else:
                    inputs.remove(stdin)
    finally:
        termios.tcsetattr(stdin, termios.TCSAFLUSH, saved)
        signal.signal(signal.SIGWINCH, old)


def _relay_pipes(api: Any, cid: str, raw: socket.socket, deadline: float, tee: Tee | None = None) -> None:
    """stdin → container; container's multiplexed stdout/stderr → ours, kept separate."""
    feeder = threading.Thread(target=_feed_stdin, args=(raw,), daemon=True)
    feeder.start()
    old = signal.signal(signal.SIGINT, lambda *_: api.kill(cid, "SIGINT"))
    try:
        for stream, data in _frames(raw, deadline):
            target = sys.stdout.buffer if stream == 1 else sys.stderr.buffer
            target.write(data)
            target.flush()
            if tee is not None:
                tee.add(stream, data)
    finally:
        signal.signal(signal.SIGINT, old)


def _feed_stdin(raw: socket.socket) -> None:
    try:
        fd = sys.stdin.fileno()
        while True:
            data = os.read(fd, 65536)
            if not data:
                break
            raw.sendall(data)
    except (OSError, ValueError):
        pass
    with contextlib.suppress(OSError):
        raw.shutdown(socket.SHUT_WR)


def _frames(raw: socket.socket, deadline: float) -> Iterator[tuple[int, bytes]]:
    buf = b""
    while True:
        wait = deadline - time.monotonic()
        if wait <= 0:
            raise Timeout
        ready, _, _ = select.select([raw], [], [], wait)
        if not ready:
            continue
        chunk = raw.recv(65536)
        if not chunk:
            return
        buf += chunk
        while len(buf) >= 8:
            size = int.from_bytes(buf[4:8], "big")
            if len(buf) < 8 + size:
                break
            yield buf[0], buf[8 : 8 + size]
            buf = buf[8 + size :]


def leftovers(label: str = LABEL) -> list[str]:
    """Ids of containers with `label` (KEY or KEY=VALUE) that still exist (`vg doctor` and the tests use it)."""
    c = client()
    return [x["Id"] for x in c.api.containers(all=True, filters={"label": label})]


__all__ = ["LABEL", "TIMEOUT_STATUS", "SandboxError", "leftovers", "run"]
