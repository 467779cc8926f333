"""`vg exec`: analyse → decide → run on the host, in a sandbox, or refuse, with the one-line notice (§12).

A command the policy sent to the sandbox never falls back to the host: if no runtime works it is refused
(or, with a human at the terminal, asked about).

The project behind an overlay (`sandbox.project_writes: review | discard`, and the result cache):

    run_captured(runtime, spec, env, used=None) -> Capture
        Runs `spec` in `runtime` with `spec.project` (the project root, or the working directory outside a
        project; set by build_spec whenever the sandbox may write there) behind a fresh overlay, whatever
        `spec.project_writes` says. Returns Capture(id, directory, upper, project, changes, status, entry):
        the change store entry (`~/.vectra-guard/changes/<id>/`, left `pending`), the overlay's upper
        directory, the ChangeSet read right after the run (vgshell.changes.changeset) and the command's
        exit status. Nothing reaches the project until the caller applies the changes
        (`changeset.apply(cap.changes, cap.upper, cap.project)`) or drops the entry
        (`vgshell.changes.store.remove(cap.entry)`). SandboxError when no overlay can be made there: the
        command was then not run. A sandbox run with project_writes review/discard goes through it and then
        through `vgshell.changes.review.settle` (the summary and a / d / k, or a pending notice).
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from vgshell.config import Config
from vgshell.context import Environment
from vgshell.errors import VgError
from vgshell.sandbox import caches, egress, secrets
from vgshell.sandbox.docker import SandboxError
from vgshell.sandbox.pty import TIMEOUT_STATUS, Timeout
from vgshell.sandbox.spec import (
    PROXY_VARS,
    SYSTEM_CA_BUNDLE,
    HostFacts,
    Mount,
    SandboxSpec,
    build_spec,
    project_root,
)

if TYPE_CHECKING:  # the analyzer (rules, parsers) loads only where a command is judged, not for a decided run
    from vgshell.analyzer import Analyzer, Verdict
    from vgshell.changes.capture import Capture
    from vgshell.resultcache.engine import Lookup as ResultLookup
    from vgshell.sandbox.tee import Tee

BLOCKED = 126  # like a shell's "found but cannot be executed"; `vg check` reports 30 for the same decision
SECCOMP_DEFAULT = Path(__file__).parent / "sandbox" / "seccomp-profile.json"


def run_command(command: str, env: Environment, cfg: Config, quiet: bool = False, sandbox: str | None = None,
                agent: str | None = None, interactive: bool = False, no_cache: bool = False) -> int:
    """`sandbox` (a runtime name, or "auto"): the decision was already made elsewhere (an agent hook sent the
    command here): run it in the sandbox, never on the host and without asking; only a block still holds.
    `agent` names the AI agent whose command it is, for the records. `interactive` (Vectra Guard's
    `--interactive`): a high-risk command is asked about even where the policy would run it unasked.
    `no_cache`: run it even when the result cache holds its result (and do not record it)."""
    from vgshell.analyzer import Analyzer

    analyzer = Analyzer(env, cfg)
    verdict = analyzer.check(command)
    if sandbox is not None:
        verdict = _forced_sandbox(verdict, sandbox)
    elif interactive:
        verdict = _asked_when_high(verdict)
    rec = _Record(env, cfg, verdict, agent)
    d = verdict.decision
    if d.action == "block":
        _notice(env, quiet, verdict)
        return rec.done("blocked", exit_status=BLOCKED)
    target: str = d.action
    if d.action == "ask":
        from vgshell.prompt import ask

        _notice(env, quiet, verdict)
        rec.answer = ask(env, verdict, cfg.prompt.timeout)
        if rec.answer == "n":
            env.stderr.write("vg: not run\n")
            return rec.done("refused", exit_status=BLOCKED)
        if rec.answer == "r":
            _remember(env, cfg, command)
        target = d.on_approve or "host"
    if target == "host":
        if d.action != "ask":
            _notice(env, quiet, verdict)
        if verdict.trusted is not None:
            _mark_used(env, analyzer, command)
        return _run_on_host(command, env, rec)
    used: dict[str, object] = {}
    rec.begin()
    try:
        status = run_sandboxed(verdict, env, cfg, quiet, announce=d.action != "ask", used=used, no_cache=no_cache)
    except VgError:
        rec.done("failed", runtime=str(used.get("runtime") or d.runtime))
        raise
    refused = used.get("refused")
    replayed = used.get("replayed_ms")
    return rec.done("sandbox", exit_status=status, runtime=str(used.get("runtime") or d.runtime),
                    cached=bool(used.get("cached")), refused=refused if isinstance(refused, tuple) else None,
                    replayed_ms=float(replayed) if isinstance(replayed, float) else None)


def _forced_sandbox(verdict: Verdict, runtime: str) -> Verdict:
    """The carried decision `sandbox`: whatever this analysis would have said, except a block (critical stays
    blocked however the command arrived)."""
    d = verdict.decision
    if d.action == "block":
        return verdict
    chosen = d.runtime if runtime == "auto" else runtime
    carried = replace(d, action="sandbox", runtime=chosen, on_approve=None,
                      why=f"{d.why} (sandbox decided by the hook)")
    return replace(verdict, decision=carried)


def _asked_when_high(verdict: Verdict) -> Verdict:
    """High risk and not already asked about or blocked: ask, and once approved run it where the policy said."""
    from vgshell.risk.model import Level

    d = verdict.decision
    if d.action not in ("host", "sandbox") or verdict.assessment.risk < Level.HIGH:
        return verdict
    asked = replace(d, action="ask", on_approve=d.action, why=f"{d.why} (--interactive: high risk is asked about)")
    return replace(verdict, decision=asked)


class _Record:
    """The record of one `vg exec` (SPEC §7), written once the outcome is known; a no-op when metrics are off."""

    def __init__(self, env: Environment, cfg: Config, verdict: Verdict, agent: str | None = None) -> None:
        self.env, self.verdict, self.enabled, self.agent = env, verdict, cfg.metrics.enabled, agent
        self.answer: str | None = None
        self.start: float | None = None

    def begin(self) -> None:
        """The command starts now: its duration is measured from here (not from the prompt)."""
        self.start = time.monotonic()

    def done(self, outcome: str, exit_status: int | None = None, runtime: str | None = None,
             cached: bool = False, refused: tuple[str, ...] | None = None, replayed_ms: float | None = None) -> int:
        """`replayed_ms`: the result cache replayed a run of that duration instead of running it."""
        if self.enabled:
            from vgshell import records

            ms = None if self.start is None else (time.monotonic() - self.start) * 1000
            run = records.Run("exec", outcome, self.answer, runtime, cached, ms, exit_status,
                              refused_connections=refused, agent=self.agent, replayed_ms=replayed_ms)
            records.record_decision(self.env.state_dir, self.verdict, run, session=records.session_id(self.env.env),
                                    cwd=self.env.cwd, warn=self.env.stderr)
        return BLOCKED if exit_status is None else exit_status


def _remember(env: Environment, cfg: Config, command: str) -> None:
    from vgshell import trust

    try:
        entry = trust.remember(env, cfg, command, "prompt")
    except VgError as e:
        env.stderr.write(f"{e.render()}; running it once\n")
        return
    until = f" until {trust.iso(entry.expires_at)}" if entry.expires_at else ""
    env.stderr.write(f"vg: trust: remembered {entry.command!r}{until} (vg trust remove to forget)\n")


def _mark_used(env: Environment, analyzer: Analyzer, command: str) -> None:
    from vgshell import trust

    try:
        trust.mark_used(analyzer.trust.path, command, env.clock(), env.stderr)
    except (OSError, VgError) as e:
        env.stderr.write(f"vg: trust: could not count this use ({e})\n")


def _notice(env: Environment, quiet: bool, verdict: Verdict, runtime: str | None = None) -> None:
    from vgshell.output import notice

    if quiet:
        return
    if runtime is not None:
        verdict = replace(verdict, decision=replace(verdict.decision, runtime=runtime))
    line = notice(verdict)
    if line:
        env.stderr.write(line + "\n")
        env.stderr.flush()


def _run_on_host(command: str, env: Environment, rec: _Record) -> int:
    """Run the line with bash. Recording off: exec, so vg leaves no trace. On: wait, to record how it ended."""
    env.stderr.flush()
    bash = shutil.which("bash") or "/bin/sh"
    if not rec.enabled:
        os.execve(bash, [bash, "-c", command], dict(env.env))
    import signal
    import subprocess

    # The terminal's Ctrl-C / Ctrl-\ are the command's: vg only waits (a Python handler, unlike SIG_IGN, is
    # not inherited by the child).
    previous = {s: signal.signal(s, lambda *_: None) for s in (signal.SIGINT, signal.SIGQUIT)}
    rec.begin()
    try:
        status = subprocess.Popen([bash, "-c", command], env=dict(env.env), cwd=env.cwd).wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return rec.done("host", exit_status=128 - status if status < 0 else status, runtime="host")


def host_facts(env: Environment, cfg: Config, ecosystems: tuple[str, ...], workdirs: tuple[str, ...] = ()) -> HostFacts:
    cache_dirs: tuple[tuple[str, str], ...] = ()
    cache_env: tuple[tuple[str, str], ...] = ()
    if cfg.sandbox.enable_cache and ecosystems:
        cache_dirs, cache_env = caches.locate(ecosystems, env.home, env.env, env.state_dir / "cache" / "tools.json")
    ca = [env.env[v] for v in PROXY_VARS if v.endswith(("_FILE", "_BUNDLE", "CERT", "CERTS", "CAINFO"))
          and env.env.get(v)]
    ca.append(SYSTEM_CA_BUNDLE)
    ca_files = tuple(dict.fromkeys(p for p in ca if os.path.isfile(p)))
    line_dirs = tuple(d for d in workdirs if os.path.isdir(d))
    return HostFacts(cwd=env.cwd, home=env.home, uid=os.getuid(), gid=os.getgid(), env=env.env,
                     tty=env.isatty(env.stdin) and env.isatty(env.stdout), ca_files=ca_files,
                     cache_dirs=cache_dirs, cache_env=cache_env,
                     project_root=project_root(env.cwd, env.home, os.path.lexists),
                     line_dirs=line_dirs, secrets=secrets.find(env.home),
                     real_paths=secrets.real_paths((*line_dirs, *(h for h, _ in cache_dirs),
                                                    *(b.host_path for b in cfg.sandbox.bind_mounts))))


READ_ONLY_WORKDIR = ("vg: the working directory is read-only in the sandbox: it is / or your home (or holds it), "
                     "whose start-up files a sandbox must not change; cd into a project to write")


def run_sandboxed(verdict: Verdict, env: Environment, cfg: Config, quiet: bool, announce: bool = True,
                  used: dict[str, object] | None = None, no_cache: bool = False) -> int:
    """Run in a sandbox, or replay it from the result cache (SPEC §8); `used`, when given, receives the runtime
    chosen, whether caches were mounted and, for a replay, the recorded run's duration (`replayed_ms`)."""
    a = verdict.assessment
    image_by_user = cfg.sources.get("sandbox.image", "default") != "default"
    spec = build_spec(a.command, cfg, host_facts(env, cfg, a.ecosystems, a.workdirs), a.ecosystems, image_by_user)
    _check_binds(cfg)
    runtime, note = choose_runtime(cfg, env, verdict.decision.runtime)
    lookup = _result_cache(a.command, a.ecosystems, spec, runtime, env, cfg, no_cache)
    if lookup is not None:
        from vgshell.resultcache import engine

        hit = engine.replay(lookup, env, quiet)
        if hit is not None:
            if used is not None:
                used.update(runtime=runtime, cached=True, replayed_ms=hit.recorded_ms)
            return hit.status
    cache_mounts = tuple(m.host for m in spec.mounts if m.target != spec.workdir and not m.line
                         and m.host not in (SYSTEM_CA_BUNDLE,)
                         and not m.host.endswith((".crt", ".pem")))
    if used is not None:
        used.update(runtime=runtime, cached=bool(cache_mounts))
    if announce:
        v = replace(verdict, cache_mounts=cache_mounts)
        v = replace(v, decision=replace(v.decision, fallback_note=note or v.decision.fallback_note))
        _notice(env, quiet, v, runtime)
    if spec.workdir_read_only and not quiet:
        env.stderr.write(READ_ONLY_WORKDIR + "\n")
    if lookup is not None:
        from vgshell.resultcache import capture

        return capture.run_recorded(lookup, env, lambda tee: run_captured(runtime, spec, env, used, tee),
                                    lambda: _run_spec(runtime, spec, env, used))
    return _run_spec(runtime, spec, env, used)


def _result_cache(command: str, ecosystems: tuple[str, ...], spec: SandboxSpec, runtime: str, env: Environment,
                  cfg: Config, no_cache: bool) -> ResultLookup | None:
    """The result cache's lookup for this line, or None when the line may not use it (SPEC §8)."""
    if no_cache or cfg.sandbox.effective_cache_ttl is None:
        return None
    if (cfg.sandbox.cache_strategy or "smart") == "smart" and not ecosystems:
        return None  # smart caches package-manager lines only: nothing to load for the others (≈ 4 ms)
    from vgshell.resultcache import engine

    try:
        lookup = engine.prepare(command, ecosystems, spec, runtime, env, cfg)
    except (OSError, VgError) as e:  # the cache must never stop a run: it runs unrecorded
        env.stderr.write(f"vg: cache: lookup failed ({e}); running it without the result cache\n")
        return None
    return lookup if lookup.key else None


def run_decided(decision: str, env: Environment, agent: str | None = None, expect: str | None = None) -> int:
    """`vg exec --decision TOKEN`: run the sandbox the analyzer decided on (a hooked shell's docker or podman
    line, an agent hook's rewrite), exactly as decided there. Nothing is judged again here; a token that is
    unknown, used or expired runs nothing. `expect`: the command line the caller believes it names (an
    agent's rewrite shows it) — a token for another command runs nothing. `agent`: record the run as that
    AI agent's (a hooked shell's runs are recorded by the analyzer instead)."""
    from vgshell import client

    data = client.take(decision, env.env)
    if data is None:
        raise SandboxError("this decision is unknown, already used or expired (the analyzer hands one out per "
                           "sandboxed line); nothing was run")
    if expect is not None and data.get("command") != expect:
        raise SandboxError(f"this decision is for {data.get('command')!r}, not {expect!r}; nothing was run")
    runtime = str(data["runtime"])
    started = time.monotonic()
    spec = spec_from_json(data["spec"])
    used: dict[str, object] = {}
    lookup = _decided_lookup(data, spec, runtime, env)
    status = _run_or_replay(lookup, runtime, spec, env, used) if lookup else _run_spec(runtime, spec, env, None)
    if agent is not None:
        replayed = used.get("replayed_ms")
        _record_decided(env, data, runtime, status, (time.monotonic() - started) * 1000, agent,
                        replayed if isinstance(replayed, float) else None)
    return status


def _decided_lookup(data: dict[str, object], spec: SandboxSpec, runtime: str, env: Environment) -> ResultLookup | None:
    """The result cache for a decided run: the analyzer names the line's ecosystems in the decision; the
    config says only whether and how to cache (where the line runs was decided there)."""
    ecosystems = data.get("ecosystems")
    if not isinstance(ecosystems, list) or not isinstance(data.get("command"), str):
        return None
    from vgshell.config import load_config

    try:
        cfg = load_config(env)
    except VgError:
        return None
    return _result_cache(str(data["command"]), tuple(str(e) for e in ecosystems), spec, runtime, env, cfg, False)


def _run_or_replay(lookup: ResultLookup, runtime: str, spec: SandboxSpec, env: Environment,
                   used: dict[str, object] | None, quiet: bool = False) -> int:
    """Replay the line from the result cache, or run it and record it."""
    from vgshell.resultcache import capture, engine

    hit = engine.replay(lookup, env, quiet)
    if hit is not None:
        if used is not None:
            used.update(runtime=runtime, cached=True, replayed_ms=hit.recorded_ms)
        return hit.status
    return capture.run_recorded(lookup, env, lambda tee: run_captured(runtime, spec, env, used, tee),
                                lambda: _run_spec(runtime, spec, env, used))


def _record_decided(env: Environment, data: dict[str, object], runtime: str, status: int, ms: float,
                    agent: str, replayed_ms: float | None = None) -> None:
    import json

    from vgshell import records

    findings = json.dumps(data.get("findings") or [], ensure_ascii=False)
    records.record_values(env.state_dir, (time.time(), records.session_id(env.env), "exec", env.cwd,
                                          str(data.get("command", "")), str(data.get("risk", "")), findings,
                                          "sandbox", None, "sandbox", runtime, int(replayed_ms is not None), ms,
                                          status, str(data.get("why", "")), None, agent, None, replayed_ms))


def spec_from_json(d: dict[str, object]) -> SandboxSpec:
    """The SandboxSpec the analyzer serialized with dataclasses.asdict."""
    def strings(v: object) -> tuple[str, ...]:
        return tuple(str(x) for x in v) if isinstance(v, list) else ()

    fields = dict(d)
    fields["mounts"] = tuple(Mount(**m) for m in d["mounts"])  # type: ignore[attr-defined]
    fields["env"] = tuple((str(k), str(v)) for k, v in d["env"])  # type: ignore[attr-defined]
    fields["caps"] = None if d["caps"] is None else strings(d["caps"])
    fields["toolchains"], fields["allowlist"] = strings(d["toolchains"]), strings(d["allowlist"])
    from vgshell.sandbox.secrets import Mask

    for name in ("masks", "container_masks"):  # what hides the host's secrets: dataclasses again
        fields[name] = tuple(Mask(**m) for m in d.get(name) or ())  # type: ignore[attr-defined]
    if isinstance(d.get("overlay"), dict):
        from vgshell.sandbox.spec import Overlay

        fields["overlay"] = Overlay(**d["overlay"])  # type: ignore[arg-type]
    return SandboxSpec(**fields)  # type: ignore[arg-type]


def _run_spec(runtime: str, spec: SandboxSpec, env: Environment, used: dict[str, object] | None,
              tee: Tee | None = None) -> int:
    """`tee`: keep a copy of the output (the result cache records it)."""
    if not spec.captures:
        return _run_plain(runtime, spec, env, used, tee)
    from vgshell.changes import review

    cap = run_captured(runtime, spec, env, used, tee)
    review.settle(cap, spec.project_writes, env)
    return cap.status


def run_captured(runtime: str, spec: SandboxSpec, env: Environment,
                 used: dict[str, object] | None = None, tee: Tee | None = None) -> Capture:
    """Run the spec with the project behind an overlay; see the module's docstring."""
    from vgshell.changes import capture

    return capture.run(runtime, spec, env.state_dir, lambda s: _run_plain(runtime, s, env, used, tee))


def _run_plain(runtime: str, spec: SandboxSpec, env: Environment, used: dict[str, object] | None,
               tee: Tee | None = None) -> int:
    proxy = _egress(spec, env)
    try:
        return _dispatch(runtime, spec if proxy is None else replace(spec, egress_dir=proxy.directory), tee)
    except Timeout:
        env.stderr.write(f"vg: sandbox: timed out after {spec.timeout}s (sandbox.timeout); the sandbox was "
                         f"killed\n")
        return TIMEOUT_STATUS
    finally:
        if proxy is not None:
            _egress_done(proxy, env, used)


def _egress(spec: SandboxSpec, env: Environment) -> egress.Proxy | None:
    """restricted: this run's egress proxy, listening before the sandbox starts (stopped by the caller)."""
    if spec.network != "restricted":
        return None
    return egress.Proxy(spec.allowlist, env.env).start(env.env.get("TMPDIR") or None)


def _egress_done(proxy: egress.Proxy, env: Environment, used: dict[str, object] | None) -> None:
    """Stop the proxy, say what it refused, and append its connections to the egress log in the state dir."""
    proxy.stop()
    if used is not None:
        used["refused"] = proxy.refused
    if proxy.refused:
        env.stderr.write(egress.summary(proxy.refused) + "\n")
    egress.write_log(env.state_dir / "egress.log", proxy.events, env.clock())


def _check_binds(cfg: Config) -> None:
    """A bind of a missing path is refused up front (docker would silently create it on the host)."""
    for b in cfg.sandbox.bind_mounts:
        if not os.path.exists(b.host_path):
            raise SandboxError(f"bind mount source {b.host_path!r} does not exist; create it or remove the entry "
                               f"[sandbox.bind_mounts]")


def _dispatch(runtime: str, spec: SandboxSpec, tee: Tee | None = None) -> int:
    seccomp = spec.seccomp_profile
    if seccomp is None and spec.level in ("strict", "paranoid"):
        seccomp = str(SECCOMP_DEFAULT)
    if runtime == "bubblewrap":
        from vgshell.sandbox import bubblewrap, limits, pty

        bwrap = shutil.which("bwrap") or "bwrap"
        tools = (shutil.which("unshare") or "unshare", shutil.which("mount") or "mount",
                 shutil.which("fuse-overlayfs") or "", shutil.which("umount") or "umount") if spec.overlay else ()
        with limits.Limits(spec.memory, spec.cpus, spec.pids) as lim:
            return pty.run(bubblewrap.argv(spec, bwrap, *tools), {}, spec.timeout, lim.in_child, lim.kill_all, tee)
    if runtime == "docker":
        from vgshell.sandbox import docker

        return docker.run(spec, _read_seccomp(seccomp), tee)
    from vgshell.sandbox import podman

    return podman.run(spec, seccomp, tee)


def _read_seccomp(path: str | None) -> str | None:
    if path is None:
        return None
    try:
        return Path(path).read_text()
    except OSError as e:
        raise SandboxError(f"cannot read seccomp profile {path}: {e.strerror} [sandbox.seccomp_profile]") from e


def probe(runtime: str, env: Environment) -> str | None:
    """None when `runtime` works here, else why not (a real check: binary present, daemon answering)."""
    if runtime == "bubblewrap":
        return None if shutil.which("bwrap", path=env.env.get("PATH")) else "bwrap is not installed"
    if runtime == "podman":
        return None if shutil.which("podman", path=env.env.get("PATH")) else "podman is not installed"
    try:
        from vgshell.sandbox import docker

        docker.client(timeout=5)
    except VgError as e:
        return str(e).split(";")[0]
    return None


def choose_runtime(cfg: Config, env: Environment, preferred: str | None) -> tuple[str, str | None]:
    order = cfg.sandbox.runtime_candidates(env.in_ci)
    if preferred:
        order = (preferred, *(r for r in order if r != preferred))
    failures: list[str] = []
    for runtime in order:
        why = probe(runtime, env)
        if why is None:
            note = f"{'; '.join(failures)}; using {runtime}" if failures else None
            return runtime, note
        failures.append(f"{runtime}: {why}")
    raise SandboxError("no sandbox runtime works here (" + "; ".join(failures) + "); the command was not run "
                       "(install bubblewrap, docker or podman)")

