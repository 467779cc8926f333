"""`vg doctor [--json]`: what works here, what does not, exactly why, and the fix.

Each check is a real attempt (a sandbox runtime runs `true`; the records database answers a query), never a
guess from a binary's presence. A check the configuration relies on (the sandbox runtime it would choose,
its config files, the trust store, the records) makes the exit status non-zero when broken; the rest
(leftovers, an analyzer not started yet, agents without the hook) are reported only.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TextIO

from vgshell import __version__
from vgshell.config import Config
from vgshell.context import Environment
from vgshell.errors import ExitStatus, VgError

RUNTIMES = ("bubblewrap", "docker", "podman")
RUN_TIMEOUT = 60  # seconds a runtime may take to run `true` (a first Podman start sets up its storage)


@dataclass(frozen=True)
class Check:
    area: str
    name: str
    ok: bool
    detail: str
    fix: str = ""
    needed: bool = False  # the configuration relies on it: broken → non-zero exit


# --- sandbox runtimes -------------------------------------------------------------------------------------


def runtime(name: str, env: Environment, image: str) -> tuple[bool, str, str]:
    """(works, what was found or why not, the fix)."""
    path = env.env.get("PATH")
    if name == "bubblewrap":
        return _bubblewrap(shutil.which("bwrap", path=path))
    if name == "podman":
        return _podman(shutil.which("podman", path=path), image, path)
    return _docker(image)


def _bubblewrap(bwrap: str | None) -> tuple[bool, str, str]:
    if bwrap is None:
        return False, "bwrap is not installed", "install bubblewrap (apt-get install bubblewrap, dnf install " \
                                                "bubblewrap, pacman -S bubblewrap)"
    r = _run([bwrap, "--die-with-parent", "--unshare-all", "--ro-bind", "/", "/", "--dev", "/dev", "--proc",
              "/proc", "--", "true"])
    if r is None:
        return False, f"{bwrap} did not finish within {RUN_TIMEOUT} s", "check the machine's load; rerun"
    if r.returncode == 0:
        return True, f"{bwrap} runs a sandbox here", ""
    said = _last_line(r.stderr)
    return False, f"{bwrap} cannot make a sandbox: {said}", userns_fix(said)


def userns_fix(said: str) -> str:
    """Why unprivileged user namespaces are refused here, and the setting that allows them."""
    def sysctl(name: str) -> str | None:
        try:
            return Path("/proc/sys", *name.split(".")).read_text().strip()
        except OSError:
            return None

    if sysctl("kernel.apparmor_restrict_unprivileged_userns") == "1":
        return ("AppArmor restricts unprivileged user namespaces (Ubuntu 24.04 and later): allow bwrap with an "
                "AppArmor profile (see /etc/apparmor.d/bwrap-userns-restrict, as root: apparmor_parser -r it) or "
                "sysctl kernel.apparmor_restrict_unprivileged_userns=0")
    if sysctl("kernel.unprivileged_userns_clone") == "0":
        return "unprivileged user namespaces are off: sysctl kernel.unprivileged_userns_clone=1 (as root)"
    if sysctl("user.max_user_namespaces") == "0":
        return "user namespaces are off: sysctl user.max_user_namespaces=15000 (as root)"
    if "ermission" in said or "Operation not permitted" in said:
        return ("user namespaces are refused here (a container without them, or a seccomp policy): run on the "
                "host, allow them (docker run --security-opt seccomp=unconfined), or use docker/podman")
    return "see bwrap's message above; or use docker or podman (sandbox.runtime)"


def _docker(image: str) -> tuple[bool, str, str]:
    from vgshell.sandbox import docker

    try:
        c = docker.client(timeout=10)
    except VgError as e:
        where = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
        return False, f"the Docker engine does not answer at {where}: {str(e).split(';')[0]}", \
            "start it (sudo systemctl start docker, or dockerd), or point DOCKER_HOST at a running one"
    try:
        c.images.get(image)
    except Exception:
        return False, f"the engine answers, but the image {image!r} is not here", \
            f"docker pull {image} (or docker load / import one and name it in sandbox.image)"
    try:
        c.containers.run(image, ["true"], remove=True, network_disabled=True)
    except Exception as e:
        return False, f"the engine cannot run {image!r}: {_last_line(str(e))}", "see the engine's log"
    return True, f"the engine runs {image!r}", ""


def _podman(podman: str | None, image: str, path: str | None) -> tuple[bool, str, str]:
    if podman is None:
        return False, "podman is not installed", "install podman (apt-get install podman)"
    exists = _run([podman, "image", "exists", image])
    if exists is None:
        return False, f"{podman} did not answer within {RUN_TIMEOUT} s", "check 'podman info'"
    if exists.returncode != 0:
        return False, f"the image {image!r} is not in podman's store", \
            f"podman pull {image} (or podman load / import one and name it in sandbox.image)"
    from vgshell.sandbox.podman import ulimits

    argv = [podman]
    if shutil.which("runc", path=path):  # as the adapter runs it: the default OCI runtime may not set rlimits
        argv += ["--runtime", "runc"]
    r = _run([*argv, "run", "--rm", "--network", "none", *ulimits(), image, "true"])
    if r is None:
        return False, f"podman run did not finish within {RUN_TIMEOUT} s", "check 'podman info'"
    if r.returncode == 0:
        return True, f"{podman} runs {image!r}", ""
    said = _last_line(r.stderr)
    if "rlimit" in said.lower():
        return False, f"podman's OCI runtime cannot set the process limits here: {said}", \
            "install runc (apt-get install runc): vgshell runs podman with it when present"
    return False, f"podman cannot run {image!r}: {said}", "see 'podman info' and the message above"


def _run(argv: list[str]) -> subprocess.CompletedProcess[str] | None:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=RUN_TIMEOUT, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return None
    except OSError as e:
        return subprocess.CompletedProcess(argv, 127, "", e.strerror or str(e))


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return (lines[-1] if lines else "no message")[:240]


def runtime_checks(env: Environment, cfg: Config) -> list[Check]:
    sandbox = cfg.sandbox
    relied = sandbox.effective_mode != "never"
    candidates = sandbox.runtime_candidates(env.in_ci)
    results = {name: runtime(name, env, sandbox.image) for name in RUNTIMES}
    chosen = next((n for n in candidates if results[n][0]), None)
    out = []
    for name in RUNTIMES:
        ok, detail, fix = results[name]
        if name == chosen:
            detail += " (the sandbox vgshell uses here)"
        needed = relied and (sandbox.runtime == name or (sandbox.runtime == "auto" and chosen is None))
        out.append(Check("runtime", name, ok, detail, fix, needed))
    return out


def limits_check() -> Check:
    """Whether bubblewrap sandboxes get real cgroup limits here (else rlimits, and CPU not limited)."""
    from vgshell.sandbox.limits import Limits

    with Limits(memory=64 << 20, cpus=0.5, pids=64) as lim:
        made = [str(d) for d in lim.dirs]
    if made:
        return Check("runtime", "bubblewrap limits", True, "cgroups enforce memory, CPU and process limits")
    return Check("runtime", "bubblewrap limits", False, lim.note or "cgroups unavailable",
                 "run vg as root, or in a delegated cgroup (systemd-run --user --scope -p Delegate=yes); docker and "
                 "podman enforce their own limits")


# --- everything else ------------------------------------------------------------------------------------


def cache_checks(env: Environment) -> list[Check]:
    from vgshell.sandbox.caches import CACHES, cache_paths

    out = []
    for eco in CACHES:
        paths = cache_paths((eco,), env.home, env.env)
        there = [p for p in paths if os.path.isdir(p)]
        detail = ", ".join(there) if there else f"none yet (would be {', '.join(paths)})"
        out.append(Check("caches", eco, True, detail))
    return out


def config_checks(env: Environment, explicit: str | None) -> tuple[list[Check], Config | None]:
    from vgshell import configcli
    from vgshell.config import config_files, load_config

    try:
        cfg = load_config(env, explicit)
    except VgError as e:
        return [Check("config", "files", False, e.render(), "fix the file named above", True)], None
    data = configcli.report(env, cfg)
    files = ", ".join(str(f) for f in config_files(env, explicit)) or "none: the built-in defaults"
    out = [Check("config", "files", True, f"{files}; guard level {cfg.guard_level.level}, sandbox mode "
                                          f"{cfg.sandbox.effective_mode}, runtime {cfg.sandbox.runtime}")]
    project = data["project"]
    layers = [f"user {data['user'] or 'none'}",
              "project none" if project is None else
              f"project {project['path']} ({'approved' if project['approved'] else 'may only tighten'})",
              *([f"--config {explicit}"] if explicit else []),
              f"managed {data['managed']['path'] or 'none'}"]
    out.append(Check("config", "layers", True, "; ".join(layers) + " (weakest first)"))
    if data["managed"]["invalid"]:
        out.append(Check("config", "managed", False, f"invalid, failing closed: {data['managed']['invalid']}",
                         "fix the managed config file (ask its administrator)", True))
    if project is not None and project["ignored"] and not project["approved"]:
        keys = ", ".join(i["key"] for i in project["ignored"])
        out.append(Check("config", "approval", False, f"{project['path']} would loosen {keys}; waiting for "
                                                     f"approval (ignored until then)",
                         f"vg config allow {project['path']}"))
    out += [Check("config", "problem", False, text, "", True) for text in data["problems"]]
    return out, cfg


def shell_checks(env: Environment) -> list[Check]:
    from vgshell import server

    session = env.env.get("VG_SESSION", "")
    hooked = session.startswith(("bash-", "zsh-", "vgshell-"))
    out = [Check("shell", "hook", hooked, f"this shell is hooked (session {session})" if hooked else
                 "this shell has no vg hook (typed commands are not judged)",
                 "" if hooked else 'eval "$(vg init bash)" in ~/.bashrc, or run vgshell')]
    st = server.alive(env)
    if st is None:
        out.append(Check("shell", "analyzer", False, "not running (a hooked shell starts it)", "vg analyzer start"))
    elif st.get("version") != __version__:
        out.append(Check("shell", "analyzer", False, f"running (pid {st.get('pid')}) but version "
                                                     f"{st.get('version')}, this vg is {__version__}",
                         "vg analyzer stop (the next hooked line starts the new one)"))
    else:
        out.append(Check("shell", "analyzer", True, f"running (pid {st.get('pid')}, version {__version__})"))
    return out


def agent_checks(env: Environment) -> list[Check]:
    from vgshell import settings_edit as se
    from vgshell.agents.setup import targets
    from vgshell.cli import AGENTS

    out = []
    for agent in AGENTS:
        target = targets(agent, env, project=False, shell_prefix=False)[0]
        try:
            current = se.read(target.path)
            installed = current is not None and target.edit(current) == current
        except VgError as e:
            out.append(Check("agents", agent, False, f"{target.path}: {e}", "fix the file"))
            continue
        out.append(Check("agents", agent, installed, f"hook installed in {target.path}" if installed else
                         "no vg hook", "" if installed else f"vg setup {agent}"))
    return out


def store_checks(env: Environment, cfg: Config) -> list[Check]:
    from vgshell import records, trust

    out = []
    path = trust.store_path(env.state_dir, cfg.trust.store_path, env.home)
    try:
        data = path.read_bytes()
        problem = trust._stat_problem(os.stat(path))  # the store's own rule for a safe file
        count = len(trust.decode(data)) if problem is None else 0
    except FileNotFoundError:
        out.append(Check("state", "trust store", True, f"{path}: empty (no file yet)"))
    except (OSError, trust.Corrupt) as e:
        out.append(Check("state", "trust store", False, f"{path}: {e}", "vg trust list (moves a bad file aside)",
                         True))
    else:
        if problem is None:
            out.append(Check("state", "trust store", True, f"{path}: {count} entr{'y' if count == 1 else 'ies'}"))
        else:
            out.append(Check("state", "trust store", False, f"{path}: {problem}", "fix its owner and mode", True))
    db = records.db_path(env.state_dir)
    if not db.exists():
        out.append(Check("state", "records", True, f"{db}: none yet"))
    else:
        try:
            conn = records.connect(db, create=False)
            verdict = conn.execute("PRAGMA quick_check").fetchone()[0]
            n = conn.execute("SELECT COUNT(*) FROM records").fetchone()[0]
        except Exception as e:
            out.append(Check("state", "records", False, f"{db}: {e}", "move it aside (a new one is made)", True))
        else:
            ok = verdict == "ok"
            out.append(Check("state", "records", ok, f"{db}: {n} records" + ("" if ok else f"; {verdict}"),
                             "" if ok else "move it aside (a new one is made)", not ok))
    return out


def leftover_checks(env: Environment) -> list[Check]:
    from vgshell.sandbox import egress, limits

    found: list[str] = []
    for name, probe in (("docker", _docker_leftovers), ("podman", _podman_leftovers)):
        found += [f"{name} container {c[:12]}" for c in probe(env)]
    found += [f"cgroup {d}" for d in (*limits.ROOT.glob("vgshell-*"), *limits.ROOT.glob("*/vgshell-*"))]
    found += [f"egress dir {d}" for d in glob.glob(os.path.join(tempfile.gettempdir(), egress.PREFIX + "*"))]
    if not found:
        return [Check("leftovers", "leftovers", True, "no vgshell containers, cgroups or egress directories left")]
    return [Check("leftovers", "leftovers", True, f"{len(found)} left (a vg still running, or one killed): "
                                                  f"{'; '.join(found[:8])}",
                  "they are swept by the next sandboxed command once their vg is gone")]


def _docker_leftovers(env: Environment) -> list[str]:
    from vgshell.sandbox import docker

    try:
        return docker.leftovers()
    except Exception:
        return []


def _podman_leftovers(env: Environment) -> list[str]:
    podman = shutil.which("podman", path=env.env.get("PATH"))
    if podman is None:
        return []
    r = _run([podman, "ps", "-aq", "--filter", "label=vgshell"])
    return [] if r is None or r.returncode != 0 else r.stdout.split()


def changes_checks(env: Environment, cfg: Config) -> list[Check]:
    """The changes kept for review; with project_writes review/discard, whether bubblewrap's overlay mounts."""
    from vgshell.changes import store

    kept = [e for e in store.entries(env.state_dir) if e.meta.status == "pending"]
    out = [Check("state", "changes", True, f"{len(kept)} kept for review (vg changes list)" if kept else
                 "none kept for review")]
    if cfg.sandbox.project_writes != "direct":
        ok, detail = _overlay_probe()
        out.append(Check("runtime", "overlay", ok, detail, "" if ok else
                         "enable unprivileged user namespaces, or use podman (its :O volumes) or docker as root, "
                         "or sandbox.project_writes: direct", cfg.sandbox.runtime == "bubblewrap"))
    return out


def _overlay_probe() -> tuple[bool, str]:
    """Mount a kernel overlay in a user namespace, as a reviewed bubblewrap run does."""
    from vgshell.changes.capture import mount_options

    unshare = shutil.which("unshare")
    if unshare is None:
        return False, "unshare is not installed (util-linux)"
    with tempfile.TemporaryDirectory(prefix="vgshell-overlay-") as tmp:
        for d in ("lower", "upper", "work"):
            os.mkdir(os.path.join(tmp, d))
        lower, upper, work = (os.path.join(tmp, d) for d in ("lower", "upper", "work"))
        opts = mount_options(lower, upper, work, userxattr=True)
        r = _run([unshare, "--user", "--map-root-user", "--mount", "--", "/bin/sh", "-c",
                  'mount -t overlay overlay -o "$1" "$2"', "vg", opts, lower])
    if r is not None and r.returncode == 0:
        return True, "bubblewrap can put the project behind an overlay (kernel overlayfs in a user namespace)"
    return False, f"no overlay in a user namespace here ({_last_line(r.stderr) if r else 'did not run'})"


# --- the report ---------------------------------------------------------------------------------------


def checks(env: Environment, explicit: str | None) -> list[Check]:
    out, cfg = config_checks(env, explicit)
    if cfg is None:
        from vgshell.config import DEFAULT_CONFIG

        cfg = DEFAULT_CONFIG
    return [*runtime_checks(env, cfg), limits_check(), *out, *shell_checks(env), *agent_checks(env),
            *store_checks(env, cfg), *changes_checks(env, cfg), *cache_checks(env), *leftover_checks(env)]


def run(env: Environment, explicit: str | None, as_json: bool, out: TextIO) -> int:
    found = checks(env, explicit)
    broken = [c for c in found if c.needed and not c.ok]
    if as_json:
        data: dict[str, Any] = {"version": 1, "vg": __version__, "ok": not broken,
                                "checks": [asdict(c) for c in found]}
        out.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    else:
        area = ""
        for c in found:
            if c.area != area:
                area = c.area
                out.write(f"{area}:\n")
            mark = "ok " if c.ok else ("BROKEN" if c.needed else "no ")
            out.write(f"  {mark:<6} {c.name}: {c.detail}\n")
            if c.fix and not c.ok:
                out.write(f"         fix: {c.fix}\n")
        out.write("everything vgshell relies on here works\n" if not broken else
                  f"broken: {', '.join(f'{c.area} {c.name}' for c in broken)}\n")
    return int(ExitStatus.OK if not broken else ExitStatus.ERROR)
