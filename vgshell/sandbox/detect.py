"""Which sandbox runtimes can work here: cheap checks for the hot path (no process is started).

A binary on PATH (bwrap, podman) or a Docker socket that exists. `vg doctor` and `vg exec` confirm with a
real probe before they rely on a runtime.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping

RUNTIMES = ("bubblewrap", "docker", "podman")


def docker_socket(env: Mapping[str, str]) -> str | None:
    host = env.get("DOCKER_HOST", "")
    if host.startswith("unix://"):
        return host[len("unix://"):]
    if host:
        return host
    return "/var/run/docker.sock"


def available_runtimes(env: Mapping[str, str]) -> tuple[str, ...]:
    path = env.get("PATH", os.defpath)
    found: list[str] = []
    if shutil.which("bwrap", path=path):
        found.append("bubblewrap")
    sock = docker_socket(env)
    if sock and (not sock.startswith("/") or os.path.exists(sock)):
        found.append("docker")
    if shutil.which("podman", path=path):
        found.append("podman")
    return tuple(found)
