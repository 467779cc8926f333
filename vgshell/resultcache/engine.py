"""The result cache in a sandboxed run (SPEC §8): decide whether the line may use it and compute its key
before it runs, replay a fresh entry instead of running, and record a finished run from its capture.

`record` is the one place a run's capture (its overlay upper directory and change set, and the copy of its
output) enters the cache.
"""

from __future__ import annotations

import os
import stat
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from vgshell.errors import VgError
from vgshell.resultcache import key as keys
from vgshell.resultcache.strategy import Policy, fresh, outside_writable, policy, refuse_line, refuse_result

if TYPE_CHECKING:
    from vgshell.changes.model import ChangeSet
    from vgshell.config import Config
    from vgshell.context import Environment
    from vgshell.resultcache.store import Store
    from vgshell.sandbox.spec import SandboxSpec
    from vgshell.sandbox.tee import Tee

# The executable each ecosystem runs (bubblewrap shares the host's root: the tool is the run's image).
TOOLS = {"bundler": "bundle", "maven": "mvn"}


@dataclass(frozen=True)
class Lookup:
    """The result cache's view of one sandboxed line. `key` is "" when the line may not use the cache,
    and `why_not` then says why."""

    policy: Policy
    key: str
    why_not: str | None
    command: str = ""
    project: str = ""  # the directory the run's writes are captured in and replayed to (the project root)
    cwd: str = ""
    runtime: str = ""
    image: str = ""
    inputs: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Replayed:
    status: int
    recorded_ms: float
    replay_ms: float


def store_of(env: Environment) -> Store:
    from vgshell.resultcache.store import Store

    return Store.at(env.state_dir, env.stderr, env.clock)


def prepare(command: str, ecosystems: tuple[str, ...], spec: SandboxSpec, runtime: str, env: Environment,
            cfg: Config, no_cache: bool = False) -> Lookup:
    """Whether the line may be looked up and recorded, and its key (reads the input files: ≈ 1 ms)."""
    from vgshell.normalize import normalize

    p = policy(cfg.sandbox)
    line = normalize(command)
    writable = outside_writable(tuple((m.host, m.read_only, m.line) for m in spec.mounts), spec.workdir,
                                tuple(b.host_path for b in cfg.sandbox.bind_mounts if not b.read_only))
    why = "--no-cache" if no_cache else refuse_line(p, line, ecosystems, writable)
    if why is None and spec.workdir_read_only:
        why = "the working directory is read-only in the sandbox"
    if why is None and (spec.project is None or spec.project_writes != "direct"):
        why = "nothing in the project is writable" if spec.project is None else "the project's writes are reviewed"
    if why is None and _stdin_is_data(env):
        why = "its input is a pipe or a file"
    if why is not None:
        return Lookup(p, "", why)
    image = spec.image if runtime != "bubblewrap" else _host_tools(line, ecosystems, spec)
    memo = keys.HashMemo(env.state_dir / "result-cache" / "hashes.json", time.time_ns)
    inputs = keys.gather(command=line, argv=("bash", "-c", spec.command), cwd=spec.workdir, project=spec.workdir,
                         ecosystems=ecosystems, env=env.env, env_names=p.env_names, runtime=runtime, image=image,
                         memo=memo, manual=p.manual)
    memo.save()
    return Lookup(p, keys.digest(inputs), None, line, spec.project or spec.workdir, spec.workdir, runtime, image,
                  inputs.files)


def _host_tools(line: str, ecosystems: tuple[str, ...], spec: SandboxSpec) -> str:
    path = dict(spec.env).get("PATH", os.defpath)
    names = dict.fromkeys((line.split(" ", 1)[0], *(TOOLS.get(e, e) for e in ecosystems)))
    return ";".join(keys.tool_identity(n, path) for n in names)


def image_id(runtime: str, image: str) -> str:
    """The id of the image a container runtime runs under `image` ("" for bubblewrap, or when it cannot be
    asked): a tag moved to another image since a run makes its entry a miss. Asked only when recording and
    on a hit, never to decide a miss."""
    import subprocess

    if runtime == "docker":
        from vgshell.sandbox import docker

        try:
            return str(docker.client(timeout=10).images.get(image).id)
        except Exception:  # the SDK raises several types; an unknown id only costs the replay
            return ""
    if runtime == "podman":
        from vgshell.sandbox import podman

        try:
            r = subprocess.run([podman.binary(), "image", "inspect", "--format", "{{.Id}}", image],
                               capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.SubprocessError, VgError):
            return ""
        return r.stdout.strip() if r.returncode == 0 else ""
    return ""


def _stdin_is_data(env: Environment) -> bool:
    """stdin is a pipe, a file or a socket: what the command reads could differ next time."""
    try:
        st = os.fstat(env.stdin.fileno())
    except (OSError, ValueError, AttributeError):
        return False
    return not stat.S_ISCHR(st.st_mode)  # a terminal (typed input is seen by the relay) or /dev/null is not


def replay(lk: Lookup, env: Environment, quiet: bool = False) -> Replayed | None:
    """Replay the fresh entry under the key, or None (a miss: nothing was written)."""
    from vgshell.resultcache import replay as rp
    from vgshell.resultcache.store import CacheError

    store = store_of(env)
    entry = store.get(lk.key)
    now = env.clock()
    if entry is None or not fresh(lk.policy, entry.created, now):
        store.count("misses", lk.project)
        return None
    started = time.monotonic()
    if entry.image_id and image_id(lk.runtime, lk.image) != entry.image_id:
        store.count("misses", lk.project)
        if not quiet:
            env.stderr.write(f"vg: cache: not replayed: {lk.image} is another image than when the run was "
                             f"recorded; running it\n")
        return None
    try:
        plan = rp.plan(entry, store, lk.project)
        if isinstance(plan, str):
            store.count("misses", lk.project)
            if not quiet:
                env.stderr.write(f"vg: cache: not replayed: {plan}; running it\n")
            return None
        rp.apply(plan, store, lk.project)
    except CacheError as e:
        env.stderr.write(f"{e.render()}; entry removed, running it\n")
        store.remove(lk.key)
        store.count("misses", lk.project)
        return None
    except OSError as e:
        env.stderr.write(f"vg: cache: replay failed ({e}); running it\n")
        return None
    if not quiet:
        env.stderr.write(rp.notice(entry, now) + "\n")
    rp.write_output(plan, entry, env.stdout, env.stderr)
    store.touch(lk.key)
    store.count("hits", lk.project)
    return Replayed(entry.exit_status, entry.duration_ms, (time.monotonic() - started) * 1000)


def record(lk: Lookup, env: Environment, *, upper: Path, changes: ChangeSet, tee: Tee, status: int,
           duration_ms: float, timed_out: bool = False,
           dirs: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = ()) -> str | None:
    """Record a finished run from its capture: the overlay's upper directory and change set, the copy of its
    output, and the listings of the directories it wrote into (before, after). Returns why it was not
    recorded (None: it was)."""
    from vgshell.resultcache.store import Entry, has_content

    if not lk.key:
        return lk.why_not
    why = refuse_result(lk.policy, status=status, interactive=tee.typed, wrote=bool(changes), timed_out=timed_out)
    if why is None and tee.overflow:
        why = "its output was too long to keep"
    if why is not None:
        return why
    store = store_of(env)
    for c in changes:  # the upper directory is dropped after this: its files become the blobs
        if has_content(c) and not store.adopt(str(upper / c.path), str(c.digest)):
            return f"{c.path} changed while it was recorded"
    entry = Entry(key=lk.key, command=lk.command, cwd=lk.cwd, project=lk.project, runtime=lk.runtime,
                  image=lk.image, strategy=lk.policy.strategy, created=env.clock(), duration_ms=duration_ms,
                  exit_status=status, stdout=store.put_bytes(bytes(tee.out)), stderr=store.put_bytes(bytes(tee.err)),
                  tty=tee.tty, inputs=lk.inputs, writes=changes, dirs=dirs,
                  image_id=image_id(lk.runtime, lk.image))
    store.commit(entry, lk.policy.max_bytes)
    return None
