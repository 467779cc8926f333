"""Judge a line the way the hooks do: ask the long-lived analyzer (vgshell.server) over its loopback
protocol, starting it when none runs; when it cannot answer, judge in this process with the very same
`Server.judge`, so critical lines are still blocked and the answer has the same shape either way.

Light on purpose (socket, os): `vgshell -c` imports this and nothing of the analysis unless it must.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple, TextIO

from vgshell.client import env_key, state_dir

if TYPE_CHECKING:
    import subprocess

PROTOCOL = "VG1"
RESTARTING = "vgshell: the analyzer is not answering; restarting it (lines are judged in this process meanwhile)"


class Reply(NamedTuple):
    """The analyzer's answer (see vgshell.server): action host | block | sandbox | exec | ask | incomplete."""

    action: str
    notice: str = ""
    code: int = 0
    prep: tuple[str, ...] = ()
    argv: tuple[str, ...] = ()
    run_id: int = 0
    local: bool = False  # judged in this process (its run must be reported here, not over the socket)


class Guard:
    """One client of the analyzer for one vgshell process. `off` and `mode` are this shell's guard controls.
    (A plain class: dataclasses would cost `vgshell -c` 10 ms of imports.)"""

    def __init__(self, env: Mapping[str, str], human: bool, session: str, err: TextIO | None = None) -> None:
        self.env, self.human, self.session = env, human, session
        self.err = err or sys.stderr
        self.off = False
        self.mode = ""
        self._sock: socket.socket | None = None
        self._tokens = ("", "")
        self._buf = b""
        self._local: Any = None  # an in-process vgshell.server.Server, made on first need
        self._local_conn: Any = None
        self._restarted = False
        self._started = False
        self._starter: subprocess.Popen[bytes] | None = None

    # -- judging ----------------------------------------------------------------------------------------

    def judge(self, line: str, cwd: str, pid: int | None = None) -> Reply:
        reply = self._remote(line, cwd, pid)
        if reply is None:
            reply = self._in_process(line, cwd, pid)
        return reply

    def warm(self) -> None:
        """At the start of an interactive session: start the analyzer now if none runs, so the first line
        typed is judged by it rather than by this process loading the rules."""
        if _read_state(self.env) is None and not self._started:
            self._started = True
            self._start()

    def flags(self, pid: int | None, nonce: str = "") -> str:
        parts = ["shell=bash"]
        if self.human:
            parts.append("tty")
        if self.off:
            parts.append("off")
        if self.mode:
            parts.append(f"mode={self.mode}")
        if pid:
            parts.append(f"pid={pid}")
        if nonce:
            parts.append(f"n={nonce}")
        return ",".join(parts)

    def _remote(self, line: str, cwd: str, pid: int | None) -> Reply | None:
        for _ in (0, 1):  # a connection that broke since the last line gets one fresh try
            if self._sock is None and not self._connect():
                return None
            try:
                return self._exchange(line, cwd, pid)
            except (OSError, ValueError):
                self._drop()
        return None

    def _connect(self) -> bool:
        """Connect to the running analyzer; start one when there is none, restart a dead one (once)."""
        st = _read_state(self.env)
        if st is not None and st.get("envkey") != env_key(self.env):
            return False  # it judges for other VG_* settings: this process judges instead
        if st is not None:
            try:
                self._open(st)
                return True
            except OSError:
                if not self._restarted:
                    self._restarted = True
                    self.err.write(RESTARTING + "\n")
                    self.err.flush()
                    self._start()
                return False
        if not self._started:
            self._started = True
            self._start()
        return False

    def _open(self, st: dict[str, str]) -> None:
        s = socket.create_connection(("127.0.0.1", int(st["port"])), timeout=5.0)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock, self._tokens, self._buf = s, (st["client"], st["server"]), b""

    def _start(self) -> None:
        """`vg analyzer start` in the background: this line is judged here, the next ones by it."""
        import subprocess

        with contextlib.suppress(OSError):
            argv = [sys.executable, "-m", "vgshell.cli", "analyzer", "start"]
            quiet = subprocess.DEVNULL
            self._starter = subprocess.Popen(argv, env=dict(self.env), stdin=quiet, stdout=quiet, stderr=quiet,
                                             start_new_session=True, close_fds=True)

    def _exchange(self, line: str, cwd: str, pid: int | None) -> Reply:
        assert self._sock is not None
        client, server = self._tokens
        nonce = os.urandom(4).hex()
        body = cwd.encode("utf-8", "surrogateescape"), line.encode("utf-8", "surrogateescape")
        head = f"{PROTOCOL} {client} {self.session} {self.flags(pid, nonce)} {len(body[0])} {len(body[1])}\n"
        self._sock.sendall(head.encode() + body[0] + body[1])
        words = self._read_line().split(" ", 6)
        if len(words) != 7 or words[0] != f"{server}:{nonce}":
            raise ValueError("not the analyzer's answer")
        action, run_id, code, nprep, nargs, notice = words[1], int(words[2]), int(words[3]), int(words[4]), \
            int(words[5]), words[6]
        fields = [self._read_field() for _ in range(nprep + nargs)]
        if action == "error":
            raise ValueError(notice)
        return Reply(action, "" if notice == "-" else notice, code, tuple(fields[:nprep]), tuple(fields[nprep:]),
                     run_id)

    def _read_until(self, end: bytes) -> bytes:
        assert self._sock is not None
        while end not in self._buf:
            chunk = self._sock.recv(65536)
            if not chunk:
                raise OSError("the analyzer closed the connection")
            self._buf += chunk
        data, _, self._buf = self._buf.partition(end)
        return data

    def _read_line(self) -> str:
        return self._read_until(b"\n").decode("utf-8", "surrogateescape")

    def _read_field(self) -> str:
        return self._read_until(b"\0").decode("utf-8", "surrogateescape")

    def _in_process(self, line: str, cwd: str, pid: int | None) -> Reply:
        """The analyzer's own judge, run here: slower (the rules load), the same answer."""
        from dataclasses import replace

        from vgshell import server

        cwd = server._real_cwd(str(pid) if pid else None, cwd)
        conn = self._server(cwd)[1]
        conn.session, conn.cwd, conn.judged = self.session, cwd, None
        flags = server._flags(self.flags(pid))
        try:
            answer = self._local.judge(line, cwd, flags, conn)
        except Exception as e:  # a bug in the judge must not open the gate
            answer = server.Answer("block", f"🛑 Blocked: vg: analyzer error: {type(e).__name__}: {e}", 126)
        if answer.action == "error":
            answer = replace(answer, action="block", code=126)
        if conn.judged is not None and conn.judged[2] and answer.action in ("host", "block"):
            self._local._record(conn.judged[0], self.session, cwd, None if answer.action == "host" else 126, 0,
                                answer.action if answer.action == "host" else "blocked")
        return Reply(answer.action, answer.notice, answer.code, answer.prep, answer.argv, answer.run_id, True)

    def _server(self, cwd: str) -> tuple[Any, Any]:
        """The analyzer's Server object in this process (no socket), and its one connection record."""
        if self._local is None:
            from vgshell import server
            from vgshell.context import Environment

            self._local = server.Server(Environment(env=dict(self.env), cwd=cwd), socket.socket())
            self._local_conn = server._Conn(self._local.sock)
        return self._local, self._local_conn

    def judge_whole(self, text: str, cwd: str) -> Reply:
        """A text bash will not parse whole (the analyzer said "incomplete"). bash still runs what comes before
        the error, so it is judged as it stands, here: host, block, ask, or the sandbox runner."""
        from dataclasses import replace

        from vgshell.output import notice

        analyzer = self._server(cwd)[0].analyzer(cwd, self.mode or None)
        facts = replace(analyzer.facts, human_present=self.human, guard_off=self.off)
        verdict = analyzer.check(text, cwd=cwd, facts=facts)
        d, said = verdict.decision, notice(verdict) or ""
        if d.action in ("host", "block"):
            return Reply(d.action, said, 126 if d.action == "block" else 0, local=True)
        if d.action == "ask":
            then = "host" if d.on_approve == "host" else "exec"
            a = verdict.assessment
            lines = (f"  command: {a.command}", f"  risk:    {a.risk}",
                     *(f"  - {f.reason} ({f.rule})" for f in a.findings[:5]))
            return Reply("ask", said, 0, (f"then={then}", *lines), local=True)
        return Reply("exec", said, local=True)

    # -- after a run ------------------------------------------------------------------------------------

    def done(self, reply: Reply, status: int, ms: int, answer: str | None = None) -> str:
        """A prepared run or a prompt is over (status -1: refused): records, cgroup and egress proxy released.
        Returns what the egress proxy refused, for the user to see ("" when nothing)."""
        if reply.run_id <= 0:
            return ""
        if reply.local:
            note: str = self._local.finish(self._local_conn, reply.run_id, status, ms, answer)
            return note
        if self._sock is None:
            return ""
        try:
            extra = f" {answer}" if answer else ""
            self._sock.sendall(f"DONE {self._tokens[0]} {reply.run_id} {status} {ms}{extra}\n".encode())
            tok, _, note = self._read_line().partition(" ")
        except OSError:
            self._drop()
            return ""
        return "" if tok != self._tokens[1] or note == "-" else note

    def trust(self, line: str) -> bool:
        """The user answered `r`: remember the line in the trust store."""
        if self._sock is not None:
            data = line.encode("utf-8", "surrogateescape")
            try:
                self._sock.sendall(f"TRUST {self._tokens[0]} {len(data)}\n".encode() + data)
                tok, _, word = self._read_line().partition(" ")
                return tok == self._tokens[1] and word == "ok"
            except OSError:
                self._drop()
        from vgshell import trust
        from vgshell.context import Environment

        try:
            trust.add_from_prompt(Environment(env=dict(self.env)), line)
            return True
        except Exception:
            return False

    def detach(self) -> Guard:
        """A Guard holding the connection that just answered, for reporting that run later (DONE); this one
        connects afresh for the next line. (The analyzer takes a new line on a connection to mean the runs
        it prepared there are over.)"""
        other = Guard(self.env, self.human, self.session, self.err)
        other._sock, other._tokens, other._buf = self._sock, self._tokens, self._buf
        other._local, other._local_conn = self._local, self._local_conn
        self._sock, self._buf = None, b""
        return other

    def _drop(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()
        self._sock = None

    def close(self) -> None:
        """The end of the shell: the connection, and the records judged in this process, written out."""
        self._drop()
        if self._local is not None:
            self._local.flush()
        if self._starter is not None:
            self._starter.poll()


def _read_state(env: Mapping[str, str]) -> dict[str, str] | None:
    try:
        with open(os.path.join(state_dir(env), "analyzer.env")) as f:
            st = dict(x.rstrip("\n").split("=", 1) for x in f if "=" in x)
    except OSError:
        return None
    return st if {"port", "client", "server"} <= st.keys() else None
