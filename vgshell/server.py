"""The long-lived analyzer the shell hooks talk to: one per user, rules and config loaded once.

A hooked bash or zsh keeps one loopback TCP connection open (bash's `/dev/tcp`, zsh's `ztcp`: no process
is forked per command) and sends each accepted line; the answer says host, sandbox, ask, block or
"incomplete" (the shell should let the user keep typing). For bubblewrap the answer carries the
sandbox's argv, so the shell starts it directly on its own terminal: a sandboxed line costs bubblewrap's
start-up, not Python's. With `network_mode: restricted` the run's egress proxy lives here, in this
process, from the answer until the shell reports the run `DONE`.

One decision, carried through: whatever runs the line executes the decision made here and never judges
it again. Docker and podman runs go through `vg exec --decision TOKEN`: the token names the sandbox spec
built here (single use, short-lived, never a host run), which `vg exec` fetches with `TAKE`.

Trust between the two ends: `analyzer.env` (0600, in the 0700 state directory) holds the port and two
random tokens. A client proves itself with the client token; every answer starts with the server token,
so a process that grabbed the port after the analyzer died cannot answer "host" for everything.

Wire format (bytes; lengths are byte counts):
  request  `VG1 <client-token> <session> <flags> <cwd-len> <line-len>\n<cwd><line>`
           flags: comma-separated `tty`, `off`, `shell=bash|zsh`, `mode=<sandbox.mode>`, or `-`; JSON requests
           from agent hooks add `norecord` and `handoff` (answer + `decision_token` | `handoff_error`, `record`)
  answer   `<server-token> <action> <id> <code> <nprep> <nargs> <notice>\n` then nprep+nargs NUL-ended fields
           action: host | block | sandbox | exec | ask | incomplete | error
           ask: prep starts `then=host|sandbox|exec`, `timeout=<s, 0: wait>`, then the lines to show (two
           leading blanks); exec: prep holds `decision=<token>`
  request  `DONE <client-token> <id> <status> <ms> [<answer>]\n` after a run the server prepared or a prompt
           (answer: y | r | n | timeout | eof); answered `<server-token> <note>\n` (what the egress proxy
           refused, or `-`)
  request  `TRUST <client-token> <line-len>\n<line>` when the user answered "r" (answer: token ok|error)
  request  `TAKE <client-token> <decision-token>\n` from `vg exec --decision` (answer: token JSON|null)
"""

from __future__ import annotations

import contextlib
import os
import queue
import re
import secrets
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from vgshell import __version__
from vgshell.analyzer import Analyzer, Verdict
from vgshell.approvals import store_path as approvals_path
from vgshell.client import env_key
from vgshell.config import PROJECT_FILE, USER_FILE, Config, load_config, with_overrides
from vgshell.context import Environment
from vgshell.errors import VgError
from vgshell.layers import MANAGED_FILE, NoticeLog, managed_path, notices
from vgshell.sandbox.spec import SandboxSpec

STATE_FILE = "analyzer.env"
PROTOCOL = "VG1"
MAX_LINE = 256 * 1024
FILTER_FD = "9"
_TCP_QUICKACK = getattr(socket, "TCP_QUICKACK", 12)
_HEREDOC = re.compile(r"<<-?\s*(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\1")
_INCOMPLETE_MARKS = ("unexpected end of file", "unexpected EOF", "delimited by end-of-file", "unmatched",
                     "parse error near end of file")


@dataclass(frozen=True)
class Answer:
    action: str
    notice: str = ""
    code: int = 0
    prep: tuple[str, ...] = ()
    argv: tuple[str, ...] = ()
    run_id: int = 0

    def encode(self, token: str) -> bytes:
        notice = self.notice.replace("\n", " ") or "-"
        head = f"{token} {self.action} {self.run_id} {self.code} {len(self.prep)} {len(self.argv)} {notice}\n"
        fields = "".join(f + "\0" for f in (*self.prep, *self.argv))
        return (head + fields).encode("utf-8", "surrogateescape")


_Job = tuple[Verdict, str, str, int | None, float, str | None, str | None, tuple[str, ...] | None]
DECISION_TTL = 60.0  # seconds a `vg exec --decision` token stays good after its prompt, if any
UNANSWERED = ("n", "timeout", "eof")


@dataclass
class _Pending:
    """A run (or a prompt) the answer started: what to clean up and record when the shell reports DONE."""

    limits: object | None
    verdict: Verdict
    started: float
    session: str = ""
    cwd: str = ""
    proxy: object | None = None  # restricted: this run's egress.Proxy
    token: str = ""  # docker/podman: the decision handed to `vg exec`, void once the run or prompt is over


@dataclass(frozen=True)
class _Handoff:
    """A sandbox decision waiting for `vg exec --decision` to run it (docker, podman)."""

    runtime: str
    spec: object  # SandboxSpec
    expires: float
    verdict: Verdict | None = None  # what was decided, for the records of a run an agent hook handed out


@dataclass
class _Conn:
    sock: socket.socket
    buf: bytearray = field(default_factory=bytearray)
    discard: int = 0
    pending: dict[int, _Pending] = field(default_factory=dict)
    session: str = ""
    cwd: str = ""
    # the line just judged: its verdict, the trust store it was checked against, and whether to record it;
    # acted on once the answer is out
    judged: tuple[Verdict, Path, bool] | None = None


def incomplete(line: str, shell: str, parse_error: bool) -> bool:
    """True when the shell would ask for more input (open quote, heredoc, `if` without `fi`, trailing `|`)."""
    open_heredoc = False
    for m in _HEREDOC.finditer(line):
        rest = line[m.end():].split("\n")[1:]
        if not any(r.lstrip("\t") == m.group(2) for r in rest):
            if shell == "zsh":  # zsh -n says nothing of an open heredoc: the text decides
                return True
            open_heredoc = True  # or `<<` inside quotes (`echo "a<<b"`): bash tells which below
            break
    if not parse_error and not open_heredoc:
        return False
    binary = shutil.which(shell) or shutil.which("bash")
    if binary is None:
        return False
    r = subprocess.run([binary, "-n", "-c", line], capture_output=True, text=True, check=False,
                       stdin=subprocess.DEVNULL)
    return any(m in r.stderr for m in _INCOMPLETE_MARKS)


class Server:
    def __init__(self, env: Environment, sock: socket.socket) -> None:
        self.env = env
        self.sock = sock
        self.client_token = secrets.token_hex(16)
        self.server_token = secrets.token_hex(16)
        self.analyzers: dict[tuple[object, ...], Analyzer] = {}
        self._candidates: dict[str, tuple[str, ...]] = {}
        self.handoffs: dict[str, _Handoff] = {}
        self.next_id = 1
        self.filter_file = env.state_dir / "cache" / "tty-filter.bpf"
        self.version = _installed_version()
        self._queue: queue.SimpleQueue[_Job | Callable[[], object] | None] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self.notice_log = NoticeLog(env.state_dir)

    # -- analysis -----------------------------------------------------------------------------------------

    def _fingerprint(self, cwd: str) -> tuple[object, ...]:
        """What the analyzer for `cwd` depends on, by plain stat calls (this runs for every typed line):
        the user config, a project file in any directory up from `cwd`, the managed config, the project
        approvals and the user's rule packs. A file's ctime is part of it: an edit that puts the mtime back
        still counts."""
        candidates = self._candidates.get(cwd)
        if candidates is None:
            parts = list(dict.fromkeys((str(self.env.state_dir / USER_FILE), str(approvals_path(self.env.state_dir)),
                                        MANAGED_FILE, str(managed_path(self.env)))))
            d = os.path.normpath(cwd)
            while True:
                parts.append(os.path.join(d, PROJECT_FILE))
                parent = os.path.dirname(d)
                if parent == d:
                    break
                d = parent
            candidates = tuple(parts)
            if len(self._candidates) > 256:
                self._candidates.clear()
            self._candidates[cwd] = candidates
        stamps: list[object] = []
        for c in candidates:
            with contextlib.suppress(OSError):
                st = os.stat(c)
                stamps.append((c, st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino))
        rules = str(self.env.state_dir / "rules")
        if os.path.isdir(rules):
            with contextlib.suppress(OSError), os.scandir(rules) as it:
                stamps.extend(sorted((e.name, e.stat().st_mtime_ns) for e in it if e.name.endswith(".yaml")))
        return tuple(stamps)

    def analyzer(self, cwd: str, mode: str | None) -> Analyzer:
        key = (mode, self._fingerprint(cwd))  # directories with the same files share one analyzer
        found = self.analyzers.get(key)
        if found is None:
            env = replace(self.env, cwd=cwd)
            cfg: Config = load_config(env, None)
            if mode:
                cfg = with_overrides(cfg, {"sandbox.mode": mode}, "this shell (vg mode)")
            shared = next(iter(self.analyzers.values()), None)
            same_rules = (shared is not None and shared.cfg.rules == cfg.rules
                          and shared.cfg.layers.disable_critical == cfg.layers.disable_critical)
            found = Analyzer(self.env, cfg, shared.rules if shared and same_rules else None)
            if len(self.analyzers) > 64:
                self.analyzers.clear()
            self.analyzers[key] = found
        return found

    def judge(self, line: str, cwd: str, flags: dict[str, str], conn: _Conn) -> Answer:
        if not line.strip():
            return Answer("host")
        try:
            analyzer = self.analyzer(cwd, flags.get("mode"))
        except VgError as e:
            # a broken config must not leave the shell unguarded: judge with the defaults, say why once
            analyzer = Analyzer(replace(self.env, cwd=cwd), load_config(replace(self.env, cwd="/"), None))
            return self._answer(analyzer, line, cwd, flags, conn, e.render())
        return self._answer(analyzer, line, cwd, flags, conn, None)

    def config_notices(self, analyzer: Analyzer, session: str) -> list[str]:
        """What the config owes this shell (a project's loosening left out, a broken managed file), once."""
        pending = notices(analyzer.cfg, analyzer.kept_critical)
        return self.notice_log.due(session, pending) if pending else []

    def check_json(self, line: str, cwd: str, flags: dict[str, str], session: str, token: str) -> bytes:
        """`vg check --json` for a client that shares this analyzer's configuration (vgshell.client)."""
        import json

        try:
            analyzer = self.analyzer(cwd, None)
            facts = replace(analyzer.facts, human_present="tty" in flags)
            verdict = analyzer.check(line, cwd=cwd, facts=facts)
            said = self.config_notices(analyzer, session)
            answer = {**verdict.to_json(), **({"notices": said} if said else {})}
            if "handoff" in flags:  # an agent hook: it records the decision itself, if metrics are on
                answer.update(self._agent_handoff(analyzer, verdict, cwd), record=analyzer.cfg.metrics.enabled)
            data = json.dumps(answer, ensure_ascii=False)
            if analyzer.cfg.metrics.enabled and "norecord" not in flags:
                self._record(verdict, session, cwd, None, 0, "check")
        except Exception:  # the client judges in-process instead
            data = "null"
        return f"{token} {data}\n".encode("utf-8", "surrogateescape")

    def _agent_handoff(self, analyzer: Analyzer, verdict: Verdict, cwd: str) -> dict[str, str]:
        """For an agent hook (flag `handoff`): when the decision (or the approval it asks for) is the sandbox,
        the decided spec is kept here and the answer carries `decision_token` for `vg exec --decision`, so
        the agent's rewritten command runs this decision and is not judged again. A spec that cannot be
        built carries `handoff_error` instead (the hook then refuses)."""
        from vgshell.execute import _check_binds, host_facts
        from vgshell.sandbox.spec import build_spec

        d = verdict.decision
        if (d.on_approve if d.action == "ask" else d.action) != "sandbox":
            return {}
        env = replace(analyzer.env, cwd=cwd)
        a, cfg = verdict.assessment, analyzer.cfg
        try:
            by_user = cfg.sources.get("sandbox.image", "default") != "default"
            spec = build_spec(a.command, cfg, replace(host_facts(env, cfg, a.ecosystems), tty=False),
                              a.ecosystems, by_user)
            _check_binds(cfg)
        except VgError as e:
            return {"handoff_error": e.render()}
        token = secrets.token_hex(16)
        ttl = DECISION_TTL + (cfg.prompt.timeout or 24 * 3600 if d.action == "ask" else 0)
        self._hand_off(token, _Handoff(d.runtime or "bubblewrap", spec, time.monotonic() + ttl, verdict))
        return {"decision_token": token}

    def _answer(self, analyzer: Analyzer, line: str, cwd: str, flags: dict[str, str], conn: _Conn,
                warning: str | None) -> Answer:
        from vgshell.output import notice

        facts = replace(analyzer.facts, human_present="tty" in flags, guard_off="off" in flags)
        verdict = analyzer.check(line, cwd=cwd, facts=facts)
        conn.judged = (verdict, analyzer.trust.path, analyzer.cfg.metrics.enabled)
        a, d = verdict.assessment, verdict.decision
        if a.parse_error and d.action != "block" and incomplete(line, flags.get("shell", "bash"), True):
            return Answer("incomplete")
        if a.parse_error is None and "<<" in line and incomplete(line, flags.get("shell", "bash"), False):
            return Answer("incomplete")
        text = notice(verdict) or ""
        said = self.config_notices(analyzer, conn.session)
        if warning or said:
            text = " | ".join([*([warning] if warning else []), *said, *([text] if text else [])])
        if d.action == "host":
            return Answer("host", text)
        if d.action == "block":
            return Answer("block", text, 126)
        tty = "tty" in flags
        if d.action != "ask":
            return self._prepare(analyzer, verdict, cwd, conn, text, tty)
        if d.on_approve == "sandbox":
            prepared = self._prepare(analyzer, verdict, cwd, conn, text, tty)
            if prepared.action == "block":
                return prepared
            where = f"in the sandbox ({d.runtime})"
        else:
            prepared = Answer("host", text, 0, (), (), self._pend(conn, _Pending(None, verdict, time.monotonic(),
                                                                               conn.session, conn.cwd)))
            where = "on the host, in this shell"
        timeout = analyzer.cfg.prompt.timeout
        lines = [f"  command: {a.command}", f"  risk:    {a.risk}",
                 *(f"  - {f.reason} ({f.rule})" for f in a.findings[:5]), f"  y or r runs it {where}"]
        return Answer("ask", text, prepared.code, (f"then={prepared.action}", f"timeout={timeout or 0}", *lines,
                                                   *prepared.prep), prepared.argv, prepared.run_id)

    def _pend(self, conn: _Conn, pending: _Pending) -> int:
        run_id = self.next_id
        self.next_id += 1
        conn.pending[run_id] = pending
        return run_id

    def _prepare(self, analyzer: Analyzer, verdict: Verdict, cwd: str, conn: _Conn, text: str,
                 tty: bool) -> Answer:
        """The sandbox run this decision asks for. bubblewrap: the argv the shell runs itself (with this
        process's egress proxy when the network is restricted); docker/podman: a token for `vg exec`."""
        from vgshell.execute import READ_ONLY_WORKDIR, _check_binds, host_facts
        from vgshell.sandbox.spec import build_spec

        env = replace(analyzer.env, cwd=cwd)
        a, cfg, runtime = verdict.assessment, analyzer.cfg, verdict.decision.runtime or "bubblewrap"
        try:
            by_user = cfg.sources.get("sandbox.image", "default") != "default"
            spec = build_spec(a.command, cfg, replace(host_facts(env, cfg, a.ecosystems, a.workdirs), tty=tty),
                              a.ecosystems, by_user)
            _check_binds(cfg)
        except VgError as e:
            return Answer("block", e.render(), 126)
        if spec.workdir_read_only:
            note = READ_ONLY_WORKDIR.removeprefix("vg: ")
            text = f"{text} [{note}]" if text else READ_ONLY_WORKDIR
        if spec.network == "none":
            text = f"{text} [network off: sandbox.network_mode none]"
        started = time.monotonic()
        if runtime != "bubblewrap" or spec.captures:  # review/discard: `vg exec` captures and reviews the run
            token = secrets.token_hex(16)
            ttl = DECISION_TTL + (cfg.prompt.timeout or 24 * 3600 if verdict.decision.action == "ask" else 0)
            self._hand_off(token, _Handoff(runtime, spec, started + ttl))
            run_id = self._pend(conn, _Pending(None, verdict, started, conn.session, conn.cwd, token=token))
            return Answer("exec", text, 0, (f"decision={token}",), (), run_id)
        return self._prepare_bubblewrap(spec, verdict, conn, text, started)

    def _prepare_bubblewrap(self, spec: SandboxSpec, verdict: Verdict, conn: _Conn, text: str,
                            started: float) -> Answer:
        from vgshell.sandbox import bubblewrap, egress, limits
        from vgshell.sandbox.ttyfilter import tty_filter

        proxy = None
        if spec.network == "restricted":
            try:
                egress.host_socat()
                proxy = egress.Proxy(spec.allowlist, self.env.env).start(self.env.env.get("TMPDIR") or None)
            except (VgError, OSError) as e:
                return Answer("block", e.render() if isinstance(e, VgError) else f"vg: sandbox: egress proxy: {e}",
                              126)
            spec = replace(spec, egress_dir=proxy.directory)
        argv = bubblewrap.argv(spec, shutil.which("bwrap") or "bwrap")
        filt = self._filter(tty_filter)
        if filt is not None:
            argv = [x for x in argv if x != "--new-session"]
            argv[1:1] = ["--seccomp", FILTER_FD]
        lim = limits.Limits(spec.memory, spec.cpus, spec.pids).__enter__()
        prep = [f"cg={d / 'cgroup.procs'}" for d in lim.dirs]
        if not lim.dirs:
            prep.append(f"as={spec.memory // 1024}")
            if spec.pids is not None and os.getuid() != 0:
                prep.append(f"nproc={spec.pids}")
        if filt is not None:
            prep.append(f"filter={filt}")
        if spec.timeout:
            timeout = shutil.which("timeout")
            if timeout:
                argv = [timeout, "--foreground", "-k", "2", str(spec.timeout), *argv]
        run_id = self._pend(conn, _Pending(lim, verdict, started, conn.session, conn.cwd, proxy))
        return Answer("sandbox", text, 0, tuple(prep), tuple(argv), run_id)

    def _hand_off(self, token: str, handoff: _Handoff) -> None:
        now = time.monotonic()
        for t in [t for t, h in self.handoffs.items() if h.expires < now]:
            del self.handoffs[t]
        if len(self.handoffs) > 256:
            self.handoffs.clear()
        self.handoffs[token] = handoff

    def take(self, token: str) -> bytes:
        """`vg exec --decision TOKEN`: the runtime and spec decided here, once; `null` when unknown or expired."""
        import json
        from dataclasses import asdict

        handoff = self.handoffs.pop(token, None)
        if handoff is None or handoff.expires < time.monotonic():
            return f"{self.server_token} null\n".encode()
        data = {"runtime": handoff.runtime, "spec": asdict(handoff.spec)}  # type: ignore[call-overload]
        if handoff.verdict is not None:
            v = handoff.verdict
            data.update(command=v.assessment.command, risk=str(v.assessment.risk), why=v.decision.why,
                        ecosystems=list(v.assessment.ecosystems),  # for the result cache's key (SPEC §8)
                        findings=[{"rule": f.rule, "level": str(f.level), "reason": f.reason}
                                  for f in v.assessment.findings])
        return f"{self.server_token} {json.dumps(data)}\n".encode("utf-8", "surrogateescape")

    def _filter(self, build: object) -> str | None:
        if self.filter_file.is_file():
            return str(self.filter_file)
        data = build() if callable(build) else None
        if data is None:
            return None
        self.filter_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.filter_file.with_suffix(".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, self.filter_file)
        return str(self.filter_file)

    def finish(self, conn: _Conn, run_id: int, status: int, ms: int, answer: str | None = None) -> str:
        """A run or prompt is over: release its cgroup and egress proxy, record it with the prompt's answer.
        Returns what the proxy refused, for the shell to show ("" when nothing)."""
        pending = conn.pending.pop(run_id, None)
        if pending is None:
            return ""
        self.handoffs.pop(pending.token, None)  # refused at the prompt: the decision can no longer be run
        if pending.limits is not None:
            pending.limits.__exit__(None, None, None)  # type: ignore[attr-defined]
        refused: tuple[str, ...] | None = None
        if pending.proxy is not None:
            from vgshell.sandbox import egress

            proxy: egress.Proxy = pending.proxy  # type: ignore[assignment]
            proxy.stop()
            refused = proxy.refused
            egress.write_log(self.env.state_dir / "egress.log", proxy.events, time.time())
        outcome = "refused" if status == -1 or answer in UNANSWERED else None
        self._record(pending.verdict, pending.session, pending.cwd, 126 if outcome else status, ms, outcome,
                     answer, refused)
        if refused:
            from vgshell.sandbox import egress

            return egress.summary(refused)
        return ""

    def _record(self, verdict: Verdict, session: str, cwd: str, status: int | None, ms: float,
                outcome: str | None = None, answer: str | None = None,
                refused: tuple[str, ...] | None = None) -> None:
        """Queue it for the writer thread: the next line must not wait for SQLite."""
        self._start_writer()
        self._queue.put((verdict, session, cwd, status, ms, outcome, answer, refused))

    def _write_loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            if callable(item):
                with contextlib.suppress(Exception):
                    item()
                continue
            self._write(*item)

    def _queue_trust_use(self, path: Path, command: str) -> None:
        """A trusted line ran in the shell: count the use, off the answer path."""
        from vgshell import trust

        now = time.time()
        self._start_writer()
        self._queue.put(lambda: trust.mark_used(path, command, now, None))

    def _start_writer(self) -> None:
        if self._writer is None:
            self._writer = threading.Thread(target=self._write_loop, name="vg-records", daemon=True)
            self._writer.start()

    def flush(self) -> None:
        if self._writer is not None:
            self._queue.put(None)
            self._writer.join(timeout=5)

    def _write(self, verdict: Verdict, session: str, cwd: str, status: int | None, ms: float,
               outcome: str | None = None, answer: str | None = None,
               refused: tuple[str, ...] | None = None) -> None:
        """Into the records database; a failure never reaches the shell."""
        with contextlib.suppress(Exception):
            from vgshell import records

            if outcome == "check":
                records.record_decision(self.env.state_dir, verdict, None, session=session, cwd=cwd, warn=None)
                return
            if status is None:  # a host line runs in the shell itself: its decision, not its exit status
                d = verdict.decision
                records.record_decision(self.env.state_dir, verdict, records.Run("hook", outcome, None, d.where),
                                        session=session or records.session_id(self.env.env),
                                        cwd=cwd or self.env.cwd, warn=None)
                return
            records.record_hook_run(self.env, verdict, status, ms, session=session or None, cwd=cwd or None,
                                    outcome=outcome, answer=answer, refused=refused)

    def trust(self, line: str) -> bool:
        from vgshell import trust

        try:
            trust.add_from_prompt(self.env, line)
            return True
        except Exception:
            return False

    # -- the loop -------------------------------------------------------------------------------------------

    def serve(self, idle_exit: float | None = None) -> None:
        sel = selectors.DefaultSelector()
        self.sock.setblocking(False)
        sel.register(self.sock, selectors.EVENT_READ, None)
        conns: dict[int, _Conn] = {}
        last = time.monotonic()
        try:
            while True:
                events = sel.select(timeout=5.0)
                if not events and idle_exit is not None and not conns and time.monotonic() - last > idle_exit:
                    return
                # an upgraded vg: the hooks start the new analyzer on their next line (once no run needs
                # this one's cgroups and egress proxies)
                if not events and self.version != _installed_version() and \
                        not any(c.pending for c in conns.values()):
                    return
                for key, _ in events:
                    last = time.monotonic()
                    if key.data is None:
                        with contextlib.suppress(BlockingIOError):
                            s, _addr = self.sock.accept()
                            s.setblocking(True)
                            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                            conn = _Conn(s)
                            conns[s.fileno()] = conn
                            sel.register(s, selectors.EVENT_READ, conn)
                        continue
                    conn = key.data
                    try:
                        chunk = conn.sock.recv(65536)
                        # bash writes a request in pieces (its stdout is line-buffered): acknowledge at once,
                        # or the client's Nagle waits out our delayed ACK, 40 ms a line
                        conn.sock.setsockopt(socket.IPPROTO_TCP, _TCP_QUICKACK, 1)
                    except OSError:
                        chunk = b""
                    if not chunk:
                        self._close(sel, conns, conn)
                        continue
                    if conn.discard:  # the rest of a line too long to judge (already refused)
                        dropped = min(conn.discard, len(chunk))
                        conn.discard -= dropped
                        chunk = chunk[dropped:]
                    conn.buf += chunk
                    if len(conn.buf) > MAX_LINE + 4096 or not self._drain(conn):
                        self._close(sel, conns, conn)
        finally:  # stopped: release every run still open (cgroups, egress proxies) and record it
            for conn in list(conns.values()):
                for run_id in list(conn.pending):
                    self.finish(conn, run_id, -1, 0)

    def _close(self, sel: selectors.BaseSelector, conns: dict[int, _Conn], conn: _Conn) -> None:
        for run_id in list(conn.pending):
            self.finish(conn, run_id, -1, 0)
        with contextlib.suppress(KeyError, ValueError):
            sel.unregister(conn.sock)
        conns.pop(conn.sock.fileno(), None)
        conn.sock.close()

    def _drain(self, conn: _Conn) -> bool:
        """Handle every complete request in the buffer; False drops the connection (a bad client)."""
        while True:
            nl = conn.buf.find(b"\n")
            if nl < 0:
                return True
            head = conn.buf[:nl].decode("utf-8", "surrogateescape").split(" ")
            if len(head) < 2 or head[1] != self.client_token:
                return False
            kind = head[0]
            if kind == "DONE" and len(head) in (5, 6):
                del conn.buf[:nl + 1]
                note = self.finish(conn, _int(head[2]), _int(head[3]), _int(head[4]),
                                   head[5] if len(head) == 6 else None)
                conn.sock.sendall(f"{self.server_token} {note.replace(chr(10), ' ') or '-'}\n".encode())
                continue
            if kind == "TAKE" and len(head) == 3:
                del conn.buf[:nl + 1]
                conn.sock.sendall(self.take(head[2]))
                continue
            if kind == "TRUST" and len(head) == 3:
                size = _int(head[2])
                if len(conn.buf) < nl + 1 + size:
                    return True
                line = bytes(conn.buf[nl + 1:nl + 1 + size]).decode("utf-8", "surrogateescape")
                del conn.buf[:nl + 1 + size]
                ok = self.trust(line)
                conn.sock.sendall(f"{self.server_token} {'ok' if ok else 'error'}\n".encode())
                continue
            if kind not in (PROTOCOL, "JSON") or len(head) != 6:
                return False
            cwd_len, line_len = _int(head[4]), _int(head[5])
            if cwd_len < 0 or line_len < 0 or cwd_len > 65536:
                return False
            flags = _flags(head[3])
            token = f"{self.server_token}:{flags['n']}" if flags.get("n") else self.server_token
            if line_len > MAX_LINE:  # refused unread: nothing that long is judged, so nothing that long runs
                have = len(conn.buf) - (nl + 1)
                conn.discard = max(0, cwd_len + line_len - have)
                del conn.buf[:nl + 1 + min(have, cwd_len + line_len)]
                conn.sock.sendall(_too_long(kind, line_len, token))
                continue
            end = nl + 1 + cwd_len + line_len
            if len(conn.buf) < end:
                return True
            cwd = bytes(conn.buf[nl + 1:nl + 1 + cwd_len]).decode("utf-8", "surrogateescape")
            line = bytes(conn.buf[nl + 1 + cwd_len:end]).decode("utf-8", "surrogateescape")
            del conn.buf[:end]
            cwd = _real_cwd(flags.get("pid"), cwd)
            if kind == PROTOCOL:  # the shell asks one line at a time: what it left unreported was interrupted
                for run_id, p in list(conn.pending.items()):  # (Ctrl-C at the prompt means no)
                    if not _still_running(p):  # a job the user stopped keeps its cgroup and proxy
                        self.finish(conn, run_id, 130, 0, "n" if p.verdict.decision.action == "ask" else None)
            conn.session, conn.cwd, conn.judged = head[2], cwd, None
            if kind == "JSON":
                conn.sock.sendall(self.check_json(line, cwd or "/", flags, head[2], token))
                continue
            try:
                answer = self.judge(line, cwd or "/", flags, conn)
            except Exception as e:  # the analyzer must answer; a bug here must not open the gate
                answer = _fail_closed(line, f"vg: analyzer error: {type(e).__name__}: {e}")
            conn.sock.sendall(answer.encode(token))
            if conn.judged is None:
                continue
            verdict, trust_path, record = conn.judged
            if answer.action == "host" and verdict.trusted is not None:
                self._queue_trust_use(trust_path, verdict.assessment.command)
            if record and answer.action in ("host", "block"):
                # host lines run in the shell itself: their decision is recorded, not their exit status
                self._record(verdict, conn.session, cwd, None if answer.action == "host" else 126, 0,
                             "host" if answer.action == "host" else "blocked")


def _still_running(p: _Pending) -> bool:
    """Whether the run's cgroup still holds a process (a sandboxed job stopped with Ctrl-Z, resumed later)."""
    dirs = getattr(p.limits, "dirs", None)
    if not dirs:
        return False
    try:
        return bool((dirs[0] / "cgroup.procs").read_text().strip())
    except OSError:
        return False


def _fail_closed(line: str, why: str) -> Answer:
    return Answer("error", why)


def _too_long(kind: str, size: int, token: str) -> bytes:
    why = f"the line is too long to judge ({size} bytes; the limit is {MAX_LINE // 1024} KiB)"
    if kind == "JSON":
        import json

        data = {"command": "", "risk": "critical", "decision": "block", "runtime": "none", "reason": why,
                "findings": [], "networked_install": False, "cache_mounts": []}
        return f"{token} {json.dumps(data)}\n".encode()
    return Answer("block", f"🛑 Blocked: {why}", 126).encode(token)


def _real_cwd(pid: str | None, claimed: str) -> str:
    """The shell's working directory from the kernel, not from $PWD (which any line can set)."""
    if not pid or not pid.isdigit():
        return claimed
    try:
        if os.stat(f"/proc/{pid}").st_uid != os.getuid():
            return claimed
        return os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        return claimed


def _flags(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in text.split(","):
        if part and part != "-":
            k, _, v = part.partition("=")
            out[k] = v
    return out


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        return -1



def _installed_version() -> str:
    """The vgshell on disk now (not the one this process imported): its version and when it was installed."""
    here = Path(__file__)
    try:
        text = here.with_name("__init__.py").read_text()
        stamp = int(max(p.stat().st_mtime for p in (here, here.with_name("analyzer.py"))))
    except OSError:
        return __version__
    m = re.search(r"__version__\s*=\s*['\"]([^'\"]+)", text)
    return f"{m.group(1) if m else __version__}+{stamp}"


# -- lifecycle --------------------------------------------------------------------------------------------


def state_file(env: Environment) -> Path:
    return env.state_dir / STATE_FILE


def read_state(env: Environment) -> dict[str, str]:
    try:
        text = state_file(env).read_text()
    except OSError:
        return {}
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def alive(env: Environment) -> dict[str, str] | None:
    """The running analyzer's state (port, tokens, pid, version) if it answers a connection, else None."""
    st = read_state(env)
    port = _int(st.get("port", ""))
    if port <= 0:
        return None
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0) as s:
            head = f"JSON {st.get('client', '-')} ping - 1 4\n/true".encode()
            s.sendall(head)
            if s.recv(4096).startswith(st.get("server", "-").encode()):
                return st
    except OSError:
        pass
    return None


def start(env: Environment, foreground: bool = False, idle_exit: float | None = None) -> int:
    """Start the analyzer unless one of this version is running; returns its pid."""
    st = alive(env)
    if st and st.get("version") == _installed_version():
        return _int(st.get("pid", ""))
    if st:
        stop(env)
    else:
        _kill_stale(env)  # one that holds the port but does not answer (stopped, hung)
    from filelock import FileLock

    env.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    with FileLock(str(env.state_dir / "analyzer.lock"), timeout=10):
        st = alive(env)
        if st and st.get("version") == _installed_version():
            return _int(st.get("pid", ""))
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        if not foreground:
            pid = _daemonize()
            if pid:
                sock.close()
                _wait_for(env, pid)
                return pid
        server = Server(env, sock)
        _write_state(env, server, sock.getsockname()[1])
    _serve_until_signalled(env, server, idle_exit)
    return os.getpid()


def _daemonize() -> int:
    """Fork a detached grandchild; the parent gets its pid, the grandchild gets 0."""
    r, w = os.pipe()
    pid = os.fork()
    if pid:
        os.close(w)
        data = os.read(r, 32)
        os.close(r)
        os.waitpid(pid, 0)
        return int(data or b"0")
    os.close(r)
    os.setsid()
    grandchild = os.fork()
    if grandchild:
        os.write(w, str(grandchild).encode())
        os._exit(0)
    os.close(w)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.chdir("/")
    return 0


def _wait_for(env: Environment, pid: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if read_state(env).get("pid") == str(pid):
            return
        time.sleep(0.01)


def _write_state(env: Environment, server: Server, port: int) -> None:
    path = state_file(env)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(f"port={port}\nclient={server.client_token}\nserver={server.server_token}\npid={os.getpid()}\n"
                f"version={server.version}\nenvkey={env_key(env.env)}\n")
    os.replace(tmp, path)


def _serve_until_signalled(env: Environment, server: Server, idle_exit: float | None) -> None:
    def bye(_sig: int, _frame: object) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, bye)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        server.serve(idle_exit)
    finally:
        server.flush()
        if read_state(env).get("pid") == str(os.getpid()):
            with contextlib.suppress(OSError):
                state_file(env).unlink()
        if not sys.flags.interactive:
            os._exit(0)


def _kill_stale(env: Environment) -> None:
    pid = _int(read_state(env).get("pid", ""))
    if pid <= 0:
        return
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return
    if b"vgshell" in cmdline or b"/vg\0" in cmdline or b"vg\0analyzer" in cmdline:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            state_file(env).unlink()


def stop(env: Environment) -> bool:
    pid = _int(read_state(env).get("pid", ""))
    if pid <= 0:
        return False
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGTERM)
        for _ in range(200):
            os.kill(pid, 0)
            time.sleep(0.01)
    return True
