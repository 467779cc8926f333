"""Reports over the records (SPEC §7): `vg metrics show`, `vg audit`, `vg session list|show`.

Queries return plain dicts (the `--json` shapes, documented in docs/records.md); rendering for people goes
through `output.table` (rich on a terminal, plain text otherwise).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TextIO

from vgshell import records
from vgshell.context import Environment
from vgshell.output import table
from vgshell.trust import iso

JSON_VERSION = 1
RUNS = "kind != 'check'"
NOT_RUN = "outcome IN ('blocked', 'refused', 'failed')"
RISKS = ("low", "medium", "high", "critical")
DECISIONS = ("host", "sandbox", "ask", "block")
SAVED_METHOD = ("result-cache replays: (the recorded run's duration − the replay's), summed; plus cache mounts: for "
                "each command sandboxed both with and without them, (mean time without − mean time with) × runs "
                "with, summed")


def summary(state_dir: Path) -> dict[str, Any]:
    """`vg metrics show --json`."""
    path = records.db_path(state_dir)
    if not path.exists():
        return _summary_of(None)
    return _summary_of(records.connect(path))


def _summary_of(conn: Any) -> dict[str, Any]:
    groups = [] if conn is None else conn.execute(
        "SELECT kind, risk, decision, outcome, runtime, cached, n, timed, total_ms, first, last FROM rollup"
    ).fetchall()
    runs = [g for g in groups if g[0] != "check"]
    total = sum(g[6] for g in runs)
    timed = sum(g[7] for g in runs)

    def count(keep: Any) -> int:
        return sum(g[6] for g in runs if keep(g))

    def share(n: int) -> dict[str, Any]:
        return {"count": n, "percent": round(100 * n / total, 1) if total else 0.0}

    by_runtime: dict[str, int] = {}
    for g in runs:
        if g[4]:
            by_runtime[g[4]] = by_runtime.get(g[4], 0) + g[6]
    checks = {d: sum(g[6] for g in groups if g[0] == "check" and g[2] == d) for d in DECISIONS}
    replays, replay_saved = (0, 0.0) if conn is None else _replays(conn)
    mounts_saved = 0.0 if conn is None else _time_saved(conn)
    return {
        "version": JSON_VERSION,
        "runs": total,
        "first": iso(min((g[9] for g in runs), default=None)), "last": iso(max((g[10] for g in runs), default=None)),
        "totals": {"host": share(count(lambda g: g[3] == "host")),
                   "sandbox": share(count(lambda g: g[3] == "sandbox")),
                   "cached": share(count(lambda g: g[3] == "sandbox" and g[5])),
                   "blocked": share(count(lambda g: g[3] in ("blocked", "refused", "failed"))),
                   "asked": share(count(lambda g: g[2] == "ask")),
                   "replayed": share(replays)},
        "duration_ms": {"average": round(sum(g[8] for g in runs) / timed, 3) if timed else None,
                        "p95": _p95(conn, timed), "timed_runs": timed},
        "by_risk": {r: count(lambda g, r=r: g[1] == r) for r in RISKS},
        "by_runtime": dict(sorted(by_runtime.items(), key=lambda kv: -kv[1])),
        "checks": {"count": sum(checks.values()), **checks},
        "time_saved": {"seconds": round((mounts_saved + replay_saved) / 1000, 3), "method": SAVED_METHOD,
                       "replays": round(replay_saved / 1000, 3), "cache_mounts": round(mounts_saved / 1000, 3)},
    }  # fmt: skip


def _p95(conn: Any, timed: int) -> float | None:
    """Nearest rank: the smallest duration at least 95 % of the runs do not exceed (the slowest of < 20)."""
    if timed == 0:
        return None
    offset = (95 * timed + 99) // 100 - 1  # ceil(0.95 n) - 1, in integers
    value = conn.execute(f"SELECT duration_ms FROM records WHERE duration_ms IS NOT NULL AND {RUNS} "
                         f"ORDER BY duration_ms LIMIT 1 OFFSET ?", (offset,)).fetchone()[0]
    return round(float(value), 3)


def _time_saved(conn: Any) -> float:
    """Milliseconds; see SAVED_METHOD."""
    value = conn.execute("""
        SELECT TOTAL(MAX(u.total_ms / u.n - c.total_ms / c.n, 0) * c.n)
        FROM sandbox_rollup AS c JOIN sandbox_rollup AS u ON c.command = u.command
        WHERE c.cached = 1 AND u.cached = 0""").fetchone()[0]
    return float(value or 0.0)


def _replays(conn: Any) -> tuple[int, float]:
    """Replays from the result cache and the milliseconds they saved (replay_rollup's one row)."""
    found = conn.execute("SELECT n, saved_ms FROM replay_rollup").fetchone()
    return (0, 0.0) if found is None else (int(found[0]), float(found[1]))


def show_summary(env: Environment, out: TextIO, data: dict[str, Any]) -> None:
    runs = data["runs"]
    checks = data["checks"]["count"]
    span = f", {data['first']} to {data['last']}" if runs else ""
    out.write(f"{runs} run{'s' if runs != 1 else ''}{span}; {checks} decision{'s' if checks != 1 else ''} "
              f"from vg check\n")
    indent = {"cached": "  cached", "replayed": "    replayed"}
    totals = [(indent.get(name, name), str(v["count"]), f"{v['percent']:.1f}%") for name, v in data["totals"].items()]
    table(env, out, ("OUTCOME", "RUNS", "SHARE"), totals)
    d = data["duration_ms"]
    if d["timed_runs"]:
        out.write(f"duration: average {d['average']:.1f} ms, p95 {d['p95']:.1f} ms over {d['timed_runs']} runs\n")
    out.write("by risk: " + ", ".join(f"{k} {v}" for k, v in data["by_risk"].items()) + "\n")
    if data["by_runtime"]:
        out.write("by runtime: " + ", ".join(f"{k} {v}" for k, v in data["by_runtime"].items()) + "\n")
    saved = data["time_saved"]
    out.write(f"time saved: {saved['seconds']:.1f} s (replays {saved['replays']:.1f} s, cache mounts "
              f"{saved['cache_mounts']:.1f} s; {saved['method']})\n")


# --- audit and sessions -----------------------------------------------------------------------------------


def audit(state_dir: Path, since: float | None = None, decision: str | None = None, risk: str | None = None,
          limit: int | None = None, agent: str | None = None) -> list[dict[str, Any]]:
    """Records, oldest first (the newest `limit` when given). `risk` means that level or above."""
    where: list[str] = []
    params: list[object] = []
    if agent is not None:
        where.append("agent = ?")
        params.append(agent)
    if since is not None:
        where.append("ts >= ?")
        params.append(since)
    if decision is not None:
        where.append("decision = ?")
        params.append(decision)
    if risk is not None:
        levels = RISKS[RISKS.index(risk):]
        where.append(f"risk IN ({', '.join('?' * len(levels))})")
        params.extend(levels)
    rows = records.query(state_dir, " AND ".join(where), params, order="ts DESC, id DESC", limit=limit)
    return [records.to_json(r) for r in reversed(list(rows))]


def sessions(state_dir: Path) -> list[dict[str, Any]]:
    path = records.db_path(state_dir)
    if not path.exists():
        return []
    conn = records.connect(path)
    rows = conn.execute(f"""
        SELECT session, MIN(ts), MAX(ts), COUNT(*), TOTAL({NOT_RUN}), TOTAL(outcome = 'sandbox'),
               TOTAL(kind = 'check')
        FROM records GROUP BY session ORDER BY MAX(ts) DESC""").fetchall()
    return [{"session": s, "first": iso(a), "last": iso(b), "records": n, "blocked": int(blk),
             "sandboxed": int(sbx), "checks": int(chk)} for s, a, b, n, blk, sbx, chk in rows]


def session(state_dir: Path, sid: str) -> list[dict[str, Any]]:
    """The records of one session, by its id or a unique prefix of it."""
    ids = [s["session"] for s in sessions(state_dir)]
    matches = [s for s in ids if s == sid] or [s for s in ids if s.startswith(sid)]
    if len(matches) != 1:
        from vgshell.errors import UsageError

        found = "no session" if not matches else f"{len(matches)} sessions"
        raise UsageError(f"{found} matches {sid!r} (see 'vg session list')")
    return [records.to_json(r) for r in records.query(state_dir, "session = ?", (matches[0],))]


def show_records(env: Environment, out: TextIO, rows: list[dict[str, Any]]) -> None:
    if not rows:
        out.write("no records\n")
        return
    if any(r.get("agent") for r in rows):  # agent hooks: whose command, and what it was rewritten to
        wide = [(r["time"], r.get("agent") or "", r["session"][:12], r["risk"], r["decision"], _outcome(r), _exit(r),
                 r["command"], r.get("ran") or "", r["why"]) for r in rows]
        table(env, out, ("TIME", "AGENT", "SESSION", "RISK", "DECISION", "OUTCOME", "EXIT", "COMMAND", "RAN", "WHY"),
              wide)
        return
    body = [(r["time"], r["session"][:12], r["risk"], r["decision"], _outcome(r), _exit(r), r["command"], r["why"])
            for r in rows]
    table(env, out, ("TIME", "SESSION", "RISK", "DECISION", "OUTCOME", "EXIT", "COMMAND", "WHY"), body)


def _outcome(r: dict[str, Any]) -> str:
    if r["outcome"] is None:
        return "(check)"
    where = r["runtime"] if r["outcome"] == "sandbox" and r["runtime"] else r["outcome"]
    answer = f" [{r['answer']}]" if r["answer"] else ""
    return f"{where}{' cached' if r['cached'] else ''}{answer}"


def _exit(r: dict[str, Any]) -> str:
    return "" if r["exit_status"] is None else str(r["exit_status"])


def show_sessions(env: Environment, out: TextIO, rows: list[dict[str, Any]]) -> None:
    if not rows:
        out.write("no sessions recorded\n")
        return
    body = [(s["session"], s["first"], s["last"], str(s["records"]), str(s["sandboxed"]), str(s["blocked"]),
             str(s["checks"])) for s in rows]
    table(env, out, ("SESSION", "FIRST", "LAST", "RECORDS", "SANDBOXED", "BLOCKED", "CHECKS"), body)
