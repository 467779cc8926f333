"""Records (SPEC §7): every decision and execution, in SQLite in the state dir (`records.db`, 0600).

WAL mode with a busy timeout, so any number of shells write at once; the schema carries a version
(`PRAGMA user_version`) and is brought up to date by the migrations below, in order, in one transaction.

Recording never slows or breaks a command: it happens after the command's answer, and any failure
(a locked or broken database, a full disk) is one warning line per process and nothing else.

Session ids: `VG_SESSION` when set (the shell hooks export one per shell), otherwise the parent process's
pid and start time, so the `vg` calls typed in one plain shell are one session, not one each.

sqlite3 is imported on first use, never at module load, so `vg check` does not pay for it before answering.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from vgshell.errors import VgError

if TYPE_CHECKING:
    import sqlite3

    from vgshell.analyzer import Verdict
    from vgshell.context import Environment

DB_NAME = "records.db"
BUSY_TIMEOUT = 1.0  # seconds a writer waits for another (a write takes ~0.1 ms); then: dropped, one warning
KINDS = ("exec", "check", "hook", "agent")
OUTCOMES = ("host", "sandbox", "blocked", "refused", "failed")

# Each migration is a list of statements, run in order in one transaction; a database at version k runs
# migrations k+1 … SCHEMA_VERSION. Never edit a released migration: add the next one.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (  # 1: the records
        """CREATE TABLE records (
            id INTEGER PRIMARY KEY,
            ts REAL NOT NULL,
            session TEXT NOT NULL,
            kind TEXT NOT NULL,
            cwd TEXT NOT NULL,
            command TEXT NOT NULL,
            risk TEXT NOT NULL,
            findings TEXT NOT NULL,
            decision TEXT NOT NULL,
            answer TEXT,
            outcome TEXT,
            runtime TEXT,
            cached INTEGER NOT NULL DEFAULT 0,
            duration_ms REAL,
            exit_status INTEGER,
            why TEXT NOT NULL,
            refused_connections TEXT
        )""",
        "CREATE INDEX records_ts ON records (ts)",
        "CREATE INDEX records_session ON records (session, ts)",
    ),
    (  # 2: running totals kept by triggers, so `vg metrics show` reads a few rows instead of every record
        """CREATE TABLE rollup (
            kind TEXT NOT NULL, risk TEXT NOT NULL, decision TEXT NOT NULL, outcome TEXT NOT NULL,
            runtime TEXT NOT NULL, cached INTEGER NOT NULL,
            n INTEGER NOT NULL, timed INTEGER NOT NULL, total_ms REAL NOT NULL, first REAL NOT NULL,
            last REAL NOT NULL,
            PRIMARY KEY (kind, risk, decision, outcome, runtime, cached)
        )""",
        """CREATE TABLE sandbox_rollup (
            command TEXT NOT NULL, cached INTEGER NOT NULL, n INTEGER NOT NULL, total_ms REAL NOT NULL,
            PRIMARY KEY (command, cached)
        )""",
        """INSERT INTO rollup
           SELECT kind, risk, decision, COALESCE(outcome, ''), COALESCE(runtime, ''), cached, COUNT(*),
                  COUNT(duration_ms), TOTAL(duration_ms), MIN(ts), MAX(ts)
           FROM records GROUP BY 1, 2, 3, 4, 5, 6""",
        """INSERT INTO sandbox_rollup
           SELECT command, cached, COUNT(*), TOTAL(duration_ms) FROM records
           WHERE outcome = 'sandbox' AND duration_ms IS NOT NULL AND kind != 'check' GROUP BY 1, 2""",
        """CREATE TRIGGER records_rollup AFTER INSERT ON records BEGIN
             INSERT INTO rollup VALUES (NEW.kind, NEW.risk, NEW.decision, COALESCE(NEW.outcome, ''),
                 COALESCE(NEW.runtime, ''), NEW.cached, 1, NEW.duration_ms IS NOT NULL,
                 COALESCE(NEW.duration_ms, 0), NEW.ts, NEW.ts)
             ON CONFLICT DO UPDATE SET n = n + 1, timed = timed + excluded.timed,
                 total_ms = total_ms + excluded.total_ms, first = MIN(first, excluded.first),
                 last = MAX(last, excluded.last);
             INSERT INTO sandbox_rollup SELECT NEW.command, NEW.cached, 1, NEW.duration_ms
             WHERE NEW.outcome = 'sandbox' AND NEW.duration_ms IS NOT NULL AND NEW.kind != 'check'
             ON CONFLICT DO UPDATE SET n = n + 1, total_ms = total_ms + excluded.total_ms;
           END""",
        "CREATE INDEX records_duration ON records (duration_ms, kind) WHERE duration_ms IS NOT NULL",
    ),
    (  # 3: which AI agent asked (`vg hook AGENT`), and the command it was handed to run (a sandbox rewrite)
        "ALTER TABLE records ADD COLUMN agent TEXT",
        "ALTER TABLE records ADD COLUMN ran TEXT",
        "CREATE INDEX records_agent ON records (agent, ts) WHERE agent IS NOT NULL",
    ),
    (  # 4: replays from the result cache (SPEC §8): the recorded run's duration, and a running total of the
       # time they saved; a replay's short duration stays out of the cache-mount comparison
        "ALTER TABLE records ADD COLUMN replayed_ms REAL",
        """CREATE TABLE replay_rollup (
            id INTEGER PRIMARY KEY CHECK (id = 1), n INTEGER NOT NULL, saved_ms REAL NOT NULL
        )""",
        "DROP TRIGGER records_rollup",
        """CREATE TRIGGER records_rollup AFTER INSERT ON records BEGIN
             INSERT INTO rollup VALUES (NEW.kind, NEW.risk, NEW.decision, COALESCE(NEW.outcome, ''),
                 COALESCE(NEW.runtime, ''), NEW.cached, 1, NEW.duration_ms IS NOT NULL,
                 COALESCE(NEW.duration_ms, 0), NEW.ts, NEW.ts)
             ON CONFLICT DO UPDATE SET n = n + 1, timed = timed + excluded.timed,
                 total_ms = total_ms + excluded.total_ms, first = MIN(first, excluded.first),
                 last = MAX(last, excluded.last);
             INSERT INTO sandbox_rollup SELECT NEW.command, NEW.cached, 1, NEW.duration_ms
             WHERE NEW.outcome = 'sandbox' AND NEW.duration_ms IS NOT NULL AND NEW.kind != 'check'
                   AND NEW.replayed_ms IS NULL
             ON CONFLICT DO UPDATE SET n = n + 1, total_ms = total_ms + excluded.total_ms;
             INSERT INTO replay_rollup SELECT 1, 1, MAX(NEW.replayed_ms - COALESCE(NEW.duration_ms, 0), 0)
             WHERE NEW.replayed_ms IS NOT NULL
             ON CONFLICT DO UPDATE SET n = n + 1, saved_ms = saved_ms + excluded.saved_ms;
           END""",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)

COLUMNS = ("ts", "session", "kind", "cwd", "command", "risk", "findings", "decision", "answer", "outcome",
           "runtime", "cached", "duration_ms", "exit_status", "why", "refused_connections", "agent", "ran",
           "replayed_ms")


class RecordsError(VgError):
    topic = "records"


@dataclass(frozen=True)
class Run:
    """What happened after the decision. `outcome` None means nothing ran or was refused (a `vg check`).

    outcome: host | sandbox (it ran there) | blocked (by policy) | refused (at the prompt) | failed (the
    sandbox could not start). answer: y | r | n when a human was asked. runtime: host or the sandbox runtime.
    refused_connections: None when unknown, else the hosts the sandbox refused.
    agent: the AI agent whose command this was (`vg hook AGENT`, `vg exec --agent`); ran: the command line
    actually handed over to run, when it differs from the one judged (an agent's sandbox rewrite).
    replayed_ms: set when the result cache replayed the run instead (SPEC §8).
    """

    kind: str = "exec"
    outcome: str | None = None
    answer: str | None = None
    runtime: str | None = None
    cached: bool = False
    duration_ms: float | None = None
    exit_status: int | None = None
    refused_connections: tuple[str, ...] | None = None
    agent: str | None = None
    ran: str | None = None
    replayed_ms: float | None = None  # a replay from the result cache: the duration of the run it replays


# --- sessions -----------------------------------------------------------------------------------------

_process_session: str | None = None


def session_id(env_vars: Mapping[str, str]) -> str:
    """`VG_SESSION` when set, else the calling shell's: every `vg` typed in one plain shell is one session."""
    global _process_session
    given = env_vars.get("VG_SESSION", "").strip()
    if given:
        return given[:64]
    if _process_session is None:
        _process_session = parent_session()
    return _process_session


def parent_session() -> str:
    """`sh-PID-START`: the parent's pid and start time (clock ticks since boot, so a reused pid is a new
    session); where /proc is missing, the pid alone."""
    ppid = os.getppid()
    try:
        with open(f"/proc/{ppid}/stat", "rb") as f:
            stat = f.read()
        start = stat[stat.rindex(b")") + 2:].split()[19].decode()  # field 22, after the (comm) field
    except (OSError, ValueError, IndexError):
        return f"sh-{ppid}"
    return f"sh-{ppid}-{start}"


# --- the database -------------------------------------------------------------------------------------


def db_path(state_dir: Path) -> Path:
    return state_dir / DB_NAME


def connect(path: Path, create: bool = True) -> sqlite3.Connection:
    """An autocommit connection with WAL, a busy timeout and the current schema. RecordsError if not."""
    import sqlite3

    if not path.exists():
        if not create:
            raise RecordsError(f"no records yet ({path})")
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    try:
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT, isolation_level=None)
        conn.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable against crashes of vg, not power loss
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version != SCHEMA_VERSION:
            _migrate(conn, version, path)
    except sqlite3.Error as e:
        raise RecordsError(f"cannot open {path}: {e}") from None
    return conn


def _migrate(conn: sqlite3.Connection, version: int, path: Path) -> None:
    if version > SCHEMA_VERSION:
        raise RecordsError(f"{path} has schema version {version}, newer than this vgshell's {SCHEMA_VERSION}; "
                           f"upgrade vgshell")
    if conn.execute("PRAGMA journal_mode=WAL").fetchone()[0] != "wal":
        raise RecordsError(f"cannot switch {path} to WAL mode")
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]  # another process may have migrated
        for step in range(version, SCHEMA_VERSION):
            for statement in MIGRATIONS[step]:
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


class Recorder:
    """One connection per database per process, opened on first use and reopened after a fork."""

    _open: dict[Path, tuple[int, sqlite3.Connection]] = {}  # noqa: RUF012 - a per-process cache

    @classmethod
    def connection(cls, path: Path) -> sqlite3.Connection:
        held = cls._open.get(path)
        if held is not None and held[0] == os.getpid():
            return held[1]
        conn = connect(path)
        cls._open[path] = (os.getpid(), conn)
        return conn

    @classmethod
    def forget(cls, path: Path) -> None:
        held = cls._open.pop(path, None)
        if held is not None and held[0] == os.getpid():
            held[1].close()


def row(verdict: Verdict, run: Run, *, session: str, cwd: str, at: float) -> tuple[Any, ...]:
    """The database row for one decision (and its run)."""
    a, d = verdict.assessment, verdict.decision
    findings = json.dumps([{"rule": f.rule, "level": str(f.level), "reason": f.reason} for f in a.findings],
                          ensure_ascii=False)
    refused = None if run.refused_connections is None else json.dumps(list(run.refused_connections))
    return (at, session, run.kind, cwd, a.command, str(a.risk), findings, d.action, run.answer, run.outcome,
            run.runtime, int(run.cached), run.duration_ms, run.exit_status, d.why, refused, run.agent, run.ran,
            run.replayed_ms)


_INSERT = f"INSERT INTO records ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
_warned = False


def record_decision(state_dir: Path, verdict: Verdict, run: Run | None = None, *, session: str, cwd: str,
                    at: float | None = None, warn: TextIO | None = None) -> bool:
    """Record one decision and what came of it. True when written; on any failure, False and one warning
    per process on `warn`. Never raises."""
    try:
        values = row(verdict, run or Run(kind="check"), session=session, cwd=cwd,
                     at=time.time() if at is None else at)
        path = db_path(state_dir)
        Recorder.connection(path).execute(_INSERT, values)
        return True
    except Exception as e:  # recording must never break the command
        Recorder.forget(db_path(state_dir))
        _warn_once(warn, e)
        return False


def record_values(state_dir: Path, values: Sequence[Any]) -> bool:
    """Record one row given as plain values in COLUMNS order (an agent hook has the analyzer's JSON answer,
    not a Verdict). True when written; never raises."""
    try:
        columns = COLUMNS[:len(values)]  # callers written before a column was added leave it null
        sql = f"INSERT INTO records ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
        Recorder.connection(db_path(state_dir)).execute(sql, tuple(values))
        return True
    except Exception:  # recording must never break the command
        Recorder.forget(db_path(state_dir))
        return False


def _warn_once(warn: TextIO | None, e: Exception) -> None:
    global _warned
    if warn is None or _warned:
        return
    _warned = True
    reason = str(e) if isinstance(e, VgError) else f"{type(e).__name__}: {e}"
    try:
        warn.write(f"vg: records: recording failed ({reason}); the command was not affected\n")
        warn.flush()
    except (OSError, ValueError):
        pass


def record_hook_run(env: Environment, verdict: Verdict, status: int, ms: float, *, session: str | None = None,
                    cwd: str | None = None, outcome: str | None = None, answer: str | None = None,
                    refused: tuple[str, ...] | None = None) -> bool:
    """What the shell hooks' analyzer server calls after a command it judged has finished. Pass the shell's
    `session` and `cwd` (the server's own are not the shell's); `outcome` defaults to where the decision sent
    the command, `answer` is the prompt's y / r / n / timeout / eof if one was asked, `refused` the hosts the
    egress proxy refused."""
    d = verdict.decision
    where = d.on_approve if d.action == "ask" else d.action
    ran = outcome or {"host": "host", "sandbox": "sandbox"}.get(where or "", "blocked")
    runtime = "host" if ran == "host" else d.runtime if ran == "sandbox" else None
    run = Run("hook", ran, answer, runtime, bool(verdict.cache_mounts) and ran == "sandbox", ms, status,
              refused_connections=refused)
    return record_decision(env.state_dir, verdict, run, session=session or session_id(env.env),
                           cwd=cwd or env.cwd, warn=env.stderr)


# --- reading ------------------------------------------------------------------------------------------


def to_json(r: Sequence[Any]) -> dict[str, Any]:
    """One record as `vg audit --json` prints it (documented in docs/records.md)."""
    from vgshell.trust import iso

    (rid, ts, session, kind, cwd, command, risk, findings, decision, answer, outcome, runtime, cached,
     duration, status, why, refused, agent, ran, replayed) = r
    return {"id": rid, "time": iso(ts), "session": session, "kind": kind, "cwd": cwd, "command": command,
            "risk": risk, "findings": json.loads(findings), "decision": decision, "answer": answer,
            "outcome": outcome, "runtime": runtime, "cached": bool(cached), "duration_ms": duration,
            "exit_status": status, "why": why,
            "refused_connections": None if refused is None else json.loads(refused), "agent": agent, "ran": ran,
            "replayed_ms": replayed}


def query(state_dir: Path, where: str = "", params: Sequence[Any] = (), order: str = "ts, id",
          limit: int | None = None) -> Iterator[tuple[Any, ...]]:
    """Rows (id first, then COLUMNS) matching a WHERE clause built by the caller from fixed text."""
    path = db_path(state_dir)
    if not path.exists():
        return iter(())
    conn = connect(path)
    sql = f"SELECT id, {', '.join(COLUMNS)} FROM records {('WHERE ' + where) if where else ''} ORDER BY {order}"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return iter(conn.execute(sql, tuple(params)).fetchall())


def reset(state_dir: Path) -> int:
    """Delete every record; returns how many there were."""
    path = db_path(state_dir)
    if not path.exists():
        return 0
    conn = connect(path)
    n = int(conn.execute("SELECT COUNT(*) FROM records").fetchone()[0])
    conn.execute("BEGIN IMMEDIATE")
    for name in ("records", "rollup", "sandbox_rollup", "replay_rollup"):
        conn.execute(f"DELETE FROM {name}")
    conn.execute("COMMIT")
    conn.execute("VACUUM")
    return n
