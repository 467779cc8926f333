"""Records (§7): what `vg exec` and `vg check` write, many writers at once, a locked or broken database,
migrations, and the reports: `vg metrics show|reset`, `vg audit`, `vg session list|show`."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.test_cli import vg
from vgshell import records
from vgshell.analyzer import Analyzer
from vgshell.config import DEFAULT_CONFIG
from vgshell.context import Environment

SUMMARY_KEYS = {"version", "runs", "first", "last", "totals", "duration_ms", "by_risk", "by_runtime", "checks",
                "time_saved"}
RECORD_KEYS = {"id", "time", "session", "kind", "cwd", "command", "risk", "findings", "decision", "answer",
               "outcome", "runtime", "cached", "duration_ms", "exit_status", "why", "refused_connections", "agent",
               "ran", "replayed_ms"}
NO_RUNTIME = {"PATH": "/nonexistent", "DOCKER_HOST": "unix:///nonexistent"}  # for vg check only


@pytest.fixture
def db(vg_home: Path) -> Path:
    return vg_home / "records.db"


def rows(db: Path, where: str = "1") -> list[dict[str, object]]:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    return [dict(r) for r in conn.execute(f"SELECT * FROM records WHERE {where} ORDER BY id")]


def test_exec_records_host_run_with_status_duration_and_session(db: Path) -> None:
    r = vg("exec", "sleep 0.2; exit 7", env={"VG_SESSION": "shell-1"})
    assert r.returncode == 7
    [rec] = rows(db)
    assert rec["kind"] == "exec" and rec["session"] == "shell-1" and rec["cwd"] == os.getcwd()
    assert (rec["command"], rec["risk"], rec["decision"], rec["outcome"]) == ("sleep 0.2; exit 7", "low", "host",
                                                                              "host")
    assert rec["runtime"] == "host" and rec["exit_status"] == 7 and rec["cached"] == 0
    assert isinstance(rec["duration_ms"], float) and 200 <= rec["duration_ms"] < 5000
    assert rec["why"] == "low risk" and json.loads(str(rec["findings"])) == []
    assert abs(float(str(rec["ts"])) - time.time()) < 60
    assert db.stat().st_mode & 0o777 == 0o600


def test_exec_records_blocked_and_check_records_decision_only(db: Path) -> None:
    assert vg("exec", "rm -rf /").returncode == 126
    assert vg("check", "git reset --hard", env=NO_RUNTIME).returncode == 30
    blocked, checked = rows(db)
    assert (blocked["outcome"], blocked["exit_status"], blocked["duration_ms"]) == ("blocked", 126, None)
    assert json.loads(str(blocked["findings"]))[0] == {"rule": "fs.rm-protected", "level": "critical",
                                                       "reason": "recursive delete of a protected directory"}
    assert (checked["kind"], checked["decision"], checked["outcome"], checked["exit_status"]) == ("check", "block",
                                                                                                  None, None)
    assert blocked["session"] == checked["session"]  # no VG_SESSION: the calling process's (here pytest's)


def test_plain_shell_is_one_session_and_another_shell_another(db: Path) -> None:
    vg_cmd = f"{sys.executable} -m vgshell.cli"
    for _ in range(2):  # `; true` keeps bash from exec'ing the last command in its own place
        subprocess.run(["bash", "-c", f"{vg_cmd} check ls; {vg_cmd} exec true; {vg_cmd} check pwd; true"],
                       check=True, capture_output=True, timeout=60)
    sessions = [r["session"] for r in rows(db)]
    assert len(sessions) == 6 and len(set(sessions[:3])) == 1 and len(set(sessions[3:])) == 1
    assert sessions[0] != sessions[3] and sessions[0].startswith("sh-")


def test_check_stream_decisions_are_counted(db: Path) -> None:
    r = vg("check", "-", stdin="ls\nrm -rf ~\n", env=NO_RUNTIME)
    assert r.returncode == 0 and len(r.stdout.splitlines()) == 2
    data = json.loads(vg("metrics", "show", "--json").stdout)
    assert data["checks"] == {"count": 2, "host": 1, "sandbox": 0, "ask": 0, "block": 1}


@pytest.mark.parametrize(("durations", "p95"), [
    ([1.0, 4.3, 63.7], 63.7),  # the average is 23 ms: a p95 below it was the median
    ([5.0], 5.0),
    ([2.0, 1.0], 2.0),
    ([float(i) for i in range(1, 20)], 19.0),
    ([float(i) for i in range(1, 21)], 19.0),  # nearest rank: ceil(0.95 × 20) = 19th
    ([float(i) for i in range(1, 101)], 95.0),
    ([float(i) for i in range(1, 102)], 96.0),
])
def test_p95_is_nearest_rank(vg_home: Path, durations: list[float], p95: float) -> None:
    for ms in reversed(durations):
        _record(vg_home, "ls", records.Run("exec", "host", runtime="host", duration_ms=ms, exit_status=0))
    data = json.loads(vg("metrics", "show", "--json").stdout)
    assert data["duration_ms"]["p95"] == p95 and data["duration_ms"]["timed_runs"] == len(durations)


def test_metrics_disabled_records_nothing(db: Path, tmp_path: Path) -> None:
    db.parent.mkdir(parents=True, exist_ok=True)
    (db.parent / "config.yaml").write_text("metrics:\n  enabled: false\n")
    assert vg("exec", "true", cwd=tmp_path).returncode == 0
    assert vg("check", "ls", cwd=tmp_path).returncode == 0
    assert vg("exec", "rm -rf /", cwd=tmp_path).returncode == 126
    assert not db.exists()


def test_a_locked_database_does_not_stop_the_command(db: Path, tmp_path: Path) -> None:
    vg("check", "ls")  # creates the database
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        r = vg("exec", f"touch {tmp_path}/ran; exit 4")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert r.returncode == 4 and (tmp_path / "ran").exists()
    assert r.stderr.splitlines() == ["vg: records: recording failed (OperationalError: database is locked); "
                                     "the command was not affected"]
    assert len(rows(db)) == 1


@pytest.mark.parametrize("content", [b"not a database at all" * 100, b""])
def test_a_broken_database_does_not_stop_the_command(db: Path, tmp_path: Path, content: bytes) -> None:
    db.parent.mkdir(mode=0o700, parents=True)
    db.write_bytes(content or os.urandom(8192))
    r = vg("exec", f"touch {tmp_path}/ran")
    assert r.returncode == 0 and (tmp_path / "ran").exists()
    [line] = r.stderr.splitlines()
    assert line.startswith("vg: records: recording failed (") and line.endswith("the command was not affected")


def test_a_newer_schema_is_not_touched(db: Path) -> None:
    db.parent.mkdir(mode=0o700, parents=True)
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA user_version=99")
    conn.close()
    r = vg("exec", "true")
    assert r.returncode == 0 and "newer than this vgshell's" in r.stderr


def test_migration_from_version_1_keeps_rows_and_rollups(db: Path) -> None:
    db.parent.mkdir(mode=0o700, parents=True)
    conn = sqlite3.connect(db, isolation_level=None)
    for statement in records.MIGRATIONS[0]:
        conn.execute(statement)
    conn.execute("PRAGMA user_version=1")
    v1 = records.COLUMNS[:16]  # the columns of schema version 1
    conn.execute(f"INSERT INTO records ({', '.join(v1)}) VALUES ({', '.join('?' * len(v1))})",
                 (time.time(), "old", "exec", "/", "make", "low", "[]", "host", None, "host", "host", 0, 12.0, 0,
                  "low risk", None))
    conn.close()
    vg("exec", "true")
    assert sqlite3.connect(db).execute("PRAGMA user_version").fetchone()[0] == records.SCHEMA_VERSION
    data = json.loads(vg("metrics", "show", "--json").stdout)
    assert data["runs"] == 2 and data["totals"]["host"] == {"count": 2, "percent": 100.0}


WRITER = """
import sys
from pathlib import Path
from vgshell import records
from vgshell.analyzer import Analyzer
from vgshell.config import DEFAULT_CONFIG
from vgshell.context import Environment
state = Path(sys.argv[1])
env = Environment(env={{"VG_HOME": str(state), "HOME": str(state.parent)}}, cwd=str(state.parent))
analyzer = Analyzer(env, DEFAULT_CONFIG)
verdict = analyzer.check("make test")
ok = sum(records.record_decision(state, verdict, records.Run("exec", "host", runtime="host", duration_ms=1.0,
                                                             exit_status=0), session=sys.argv[2], cwd="/",
                                 warn=sys.stderr) for _ in range({n}))
sys.exit(0 if ok == {n} else 1)
"""


def test_eight_writers_lose_no_record(vg_home: Path, db: Path) -> None:
    procs = [subprocess.Popen([sys.executable, "-c", WRITER.format(n=500), str(vg_home), f"w{k}"],
                              stderr=subprocess.PIPE, text=True) for k in range(8)]
    results = [(p.wait(timeout=300), p.stderr.read() if p.stderr else "") for p in procs]
    assert results == [(0, "")] * 8
    assert sqlite3.connect(db).execute("SELECT COUNT(*) FROM records").fetchone()[0] == 4000
    data = json.loads(vg("metrics", "show", "--json").stdout)
    assert data["runs"] == 4000 and data["duration_ms"]["timed_runs"] == 4000
    sessions = json.loads(vg("session", "list", "--json").stdout)
    assert sorted((s["session"], s["records"]) for s in sessions) == [(f"w{k}", 500) for k in range(8)]
    assert sqlite3.connect(db).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def _record(state: Path, command: str, run: records.Run, session: str = "s1", at: float | None = None) -> None:
    env = Environment(env={"VG_HOME": str(state), "HOME": str(state.parent)}, cwd="/home/dev/project")
    verdict = Analyzer(env, DEFAULT_CONFIG).check(command)
    assert records.record_decision(state, verdict, run, session=session, cwd=env.cwd, at=at)


@pytest.fixture
def history(vg_home: Path) -> Path:
    """A known history: 10 runs, 2 checks, over two sessions."""
    host, day = records.Run("exec", "host", runtime="host", duration_ms=10.0, exit_status=0), 86400
    sbx = [records.Run("exec", "sandbox", runtime="bubblewrap", cached=c, duration_ms=ms, exit_status=0)
           for c, ms in [(False, 1000.0), (False, 800.0), (True, 300.0), (True, 100.0)]]
    now = time.time()
    for i in range(4):
        _record(vg_home, "ls", host, at=now - 2 * day + i)
    for run in sbx:
        _record(vg_home, "npm install express", run, session="s2", at=now - 60)
    _record(vg_home, "rm -rf /", records.Run("exec", "blocked", exit_status=126), session="s2", at=now - 30)
    _record(vg_home, "git reset --hard", records.Run("exec", "refused", answer="n", exit_status=126), session="s2",
            at=now - 20)
    _record(vg_home, "ls", records.Run("check"), at=now - 10)
    _record(vg_home, "rm -rf ~", records.Run("check"), at=now - 5)
    return vg_home


def test_metrics_show_json_totals(history: Path) -> None:
    data = json.loads(vg("metrics", "show", "--json").stdout)
    assert set(data) == SUMMARY_KEYS and data["version"] == 1
    assert data["runs"] == 10
    assert data["totals"] == {"host": {"count": 4, "percent": 40.0}, "sandbox": {"count": 4, "percent": 40.0},
                              "cached": {"count": 2, "percent": 20.0}, "blocked": {"count": 2, "percent": 20.0},
                              "asked": {"count": 0, "percent": 0.0}, "replayed": {"count": 0, "percent": 0.0}}
    assert data["duration_ms"] == {"average": 280.0, "p95": 1000.0, "timed_runs": 8}  # nearest rank: the 8th of 8
    assert data["by_risk"] == {"low": 4, "medium": 4, "high": 1, "critical": 1}
    assert data["by_runtime"] == {"host": 4, "bubblewrap": 4}
    assert data["checks"] == {"count": 2, "host": 1, "sandbox": 0, "ask": 0, "block": 1}
    # npm install: uncached mean 900 ms, cached mean 200 ms, 2 cached runs → 1.4 s saved
    assert data["time_saved"]["seconds"] == 1.4 and "mean" in data["time_saved"]["method"]


def test_metrics_show_plain_text(history: Path) -> None:
    r = vg("metrics", "show")
    assert r.returncode == 0 and "\x1b[" not in r.stdout
    lines = r.stdout.splitlines()
    assert lines[0].startswith("10 runs, ") and lines[0].endswith("; 2 decisions from vg check")
    assert lines[1].split() == ["OUTCOME", "RUNS", "SHARE"]
    assert lines[2].split() == ["host", "4", "40.0%"] and lines[4].split() == ["cached", "2", "20.0%"]
    assert "duration: average 280.0 ms, p95 1000.0 ms over 8 runs" in r.stdout
    assert "by runtime: host 4, bubblewrap 4" in r.stdout
    [saved] = [x for x in lines if x.startswith("time saved: 1.4 s (replays 0.0 s, cache mounts 1.4 s; ")]
    assert "mean time without" in saved


def test_a_replay_counts_as_cached_and_saves_the_recorded_duration_minus_its_own(vg_home: Path) -> None:
    run = records.Run("exec", "sandbox", runtime="bubblewrap", duration_ms=2500.0, exit_status=0)
    replay = records.Run("exec", "sandbox", runtime="bubblewrap", cached=True, duration_ms=50.0, exit_status=0,
                         replayed_ms=2500.0)
    _record(vg_home, "npm install", run)
    _record(vg_home, "npm install", replay)
    _record(vg_home, "npm install", replay)
    data = json.loads(vg("metrics", "show", "--json").stdout)
    assert data["totals"]["cached"]["count"] == 2 and data["totals"]["replayed"]["count"] == 2
    saved = data["time_saved"]
    assert (saved["seconds"], saved["replays"], saved["cache_mounts"]) == (4.9, 4.9, 0.0)  # replays stay out of
    assert "recorded run" in saved["method"]  # the cache-mount comparison
    [row] = json.loads(vg("audit", "--json", "--limit", "1").stdout)
    assert row["replayed_ms"] == 2500.0 and row["cached"] is True


def test_metrics_on_an_empty_state_dir(vg_home: Path) -> None:
    data = json.loads(vg("metrics", "show", "--json").stdout)
    assert data["runs"] == 0 and data["duration_ms"]["average"] is None
    assert vg("audit").stdout == "no records\n"
    assert vg("session", "list").stdout == "no sessions recorded\n"


def test_metrics_reset_asks_or_takes_yes(history: Path) -> None:
    r = vg("metrics", "reset")
    assert r.returncode == 2 and "--yes" in r.stderr
    assert json.loads(vg("metrics", "show", "--json").stdout)["runs"] == 10
    r = vg("metrics", "reset", "--yes")
    assert r.stdout == "deleted 12 records\n"
    data = json.loads(vg("metrics", "show", "--json").stdout)
    assert data["runs"] == 0 and data["checks"]["count"] == 0 and data["time_saved"]["seconds"] == 0


@pytest.mark.parametrize(("args", "commands"), [
    ((), ["ls"] * 4 + ["npm install express"] * 4 + ["rm -rf /", "git reset --hard", "ls", "rm -rf ~"]),
    (("--since", "1d"), ["npm install express"] * 4 + ["rm -rf /", "git reset --hard", "ls", "rm -rf ~"]),
    (("--decision", "block"), ["rm -rf /", "rm -rf ~"]),
    (("--risk", "high"), ["rm -rf /", "git reset --hard", "rm -rf ~"]),
    (("--risk", "critical", "--since", "1h"), ["rm -rf /", "rm -rf ~"]),
    (("--limit", "2"), ["ls", "rm -rf ~"]),
])  # fmt: skip
def test_audit_filters(history: Path, args: tuple[str, ...], commands: list[str]) -> None:
    data = json.loads(vg("audit", *args, "--json").stdout)
    assert [r["command"] for r in data] == commands
    assert all(set(r) == RECORD_KEYS for r in data)


def test_audit_plain_and_bad_since(history: Path) -> None:
    r = vg("audit", "--decision", "block")
    assert r.stdout.splitlines()[0].split() == ["TIME", "SESSION", "RISK", "DECISION", "OUTCOME", "EXIT", "COMMAND",
                                                "WHY"]
    assert "critical: recursive delete of a protected directory (fs.rm-protected)" in r.stdout
    r = vg("audit", "--since", "yesterday")
    assert r.returncode == 2 and "--since must be a duration" in r.stderr


def test_sessions(history: Path) -> None:
    listed = json.loads(vg("session", "list", "--json").stdout)
    assert [(s["session"], s["records"], s["blocked"], s["sandboxed"], s["checks"]) for s in listed] == [
        ("s1", 6, 0, 0, 2), ("s2", 6, 2, 4, 0)]
    shown = json.loads(vg("session", "show", "s2", "--json").stdout)
    assert [r["outcome"] for r in shown] == ["sandbox"] * 4 + ["blocked", "refused"]
    assert shown[5]["answer"] == "n"
    assert "npm install express" in vg("session", "show", "s2").stdout
    r = vg("session", "show", "s")
    assert r.returncode == 2 and "2 sessions matches 's'" in r.stderr
    r = vg("session", "show", "nope")
    assert r.returncode == 2 and "no session matches 'nope'" in r.stderr


def test_session_id_from_env_or_the_parent_process() -> None:
    assert records.session_id({"VG_SESSION": "abc"}) == "abc"
    first = records.session_id({})
    assert first == records.session_id({}) and first.startswith(f"sh-{os.getppid()}-")
    code = "from vgshell import records; print(records.session_id({}))"
    child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip()
    assert child.startswith(f"sh-{os.getpid()}-")  # the child's parent is this process: another session


def test_record_hook_run_is_what_the_analyzer_server_calls(vg_home: Path, db: Path) -> None:
    env = Environment(env={"VG_HOME": str(vg_home), "HOME": str(vg_home.parent)}, cwd="/srv")
    verdict = Analyzer(env, DEFAULT_CONFIG).check("make test")
    assert records.record_hook_run(env, verdict, 2, 42.5, session="zsh-7", cwd="/home/dev/project")
    [rec] = rows(db)
    assert (rec["kind"], rec["session"], rec["cwd"], rec["outcome"], rec["runtime"], rec["exit_status"],
            rec["duration_ms"]) == ("hook", "zsh-7", "/home/dev/project", "host", "host", 2, 42.5)


@pytest.mark.parametrize("argv", [["audit"], ["audit", "--json"], ["session", "show", "s1"]])
def test_output_cut_short_by_the_reader_ends_quietly(vg_home: Path, argv: list[str]) -> None:
    """`vg audit | head`: the reader leaves early; vg stops without a traceback or an internal error."""
    env = Environment(env={"VG_HOME": str(vg_home), "HOME": str(vg_home.parent)}, cwd="/home/dev/project")
    verdict = Analyzer(env, DEFAULT_CONFIG).check("make test " + "x" * 200)
    for _ in range(1500):
        records.record_decision(vg_home, verdict, records.Run("exec", "host", runtime="host"), session="s1", cwd="/")
    vg_cmd = " ".join([sys.executable, "-m", "vgshell.cli", *argv])
    r = subprocess.run(f"{vg_cmd} | head -n 1; exit ${{PIPESTATUS[0]}}", shell=True, executable="/bin/bash",
                       capture_output=True, text=True, env={**os.environ, "VG_HOME": str(vg_home)})
    assert r.stderr == "" and r.returncode == 0
    assert r.stdout.count("\n") == 1
