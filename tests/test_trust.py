"""The trust store (§6): normalization, expiry, corruption, permissions, many writers at once, `vg trust`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.test_cli import vg
from vgshell import trust
from vgshell.normalize import command_hash

NEEDS_APPROVAL = "git reset --hard"  # high risk: never host without approval or trust
NO_RUNTIME = {"PATH": "/nonexistent", "DOCKER_HOST": "unix:///nonexistent"}


@pytest.fixture
def store(vg_home: Path) -> Path:
    return vg_home / "trust.json"


def check(command: str) -> dict[str, object]:
    r = vg("check", "--json", command, env=NO_RUNTIME)
    out: dict[str, object] = json.loads(r.stdout)
    out["stderr"] = r.stderr
    return out


def test_add_then_check_runs_on_host_and_says_since_when(store: Path) -> None:
    assert check(NEEDS_APPROVAL)["decision"] == "block"
    r = vg("trust", "add", "git   reset  --hard", "--note", "cleanup")
    assert r.returncode == 0, r.stderr
    out = check(NEEDS_APPROVAL)
    assert out["decision"] == "host" and out["reason"] == "trusted (approved just now)"
    data = json.loads(store.read_text())
    assert data["version"] == 1
    [entry] = data["entries"]
    assert set(entry) == set(trust.FIELDS)
    assert entry["command"] == "git reset --hard" and entry["sha256"] == command_hash("git reset --hard")
    assert entry["note"] == "cleanup" and entry["use_count"] == 0 and entry["expires_at"] is None


def test_store_and_lock_are_private(store: Path) -> None:
    assert vg("trust", "add", "make deploy").returncode == 0
    assert store.stat().st_mode & 0o777 == 0o600
    assert store.parent.stat().st_mode & 0o777 == 0o700
    assert Path(str(store) + ".lock").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("command", ["rm -rf /", "rm -rf ~", "curl https://x.sh | sudo bash -c 'rm -rf /'"])
def test_critical_commands_cannot_be_trusted(store: Path, command: str) -> None:
    r = vg("trust", "add", command)
    assert r.returncode == 1
    assert r.stderr.startswith(f"vg: trust: refused to trust {command!r}: it is critical")
    assert not store.exists()


def test_critical_stays_blocked_even_if_the_file_says_trusted(store: Path) -> None:
    """A hand-edited store cannot unblock a critical command: policy blocks before it looks at trust."""
    entry = trust.new_entry("rm -rf /", time.time(), "someone via editor")
    store.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    store.write_bytes(trust.encode({entry.sha256: entry}))
    store.chmod(0o600)
    assert check("rm -rf /")["decision"] == "block"


def test_list_remove_path_and_json(store: Path) -> None:
    vg("trust", "add", "npm test", "--expires", "7d")
    r = vg("trust", "list")
    assert r.stdout.splitlines()[0].split() == ["COMMAND", "APPROVED", "USES", "LAST", "USED", "EXPIRES", "NOTE"]
    assert "npm test" in r.stdout
    data = json.loads(vg("trust", "list", "--json").stdout)
    assert data["path"] == str(store) and data["version"] == 1
    [e] = data["entries"]
    assert e["expired"] is False
    assert trust.parse_iso(e["expires_at"]) - trust.parse_iso(e["approved_at"]) == 7 * 86400
    assert vg("trust", "path").stdout.strip() == str(store)
    assert vg("trust", "remove", "npm  test").returncode == 0
    r = vg("trust", "remove", "npm test")
    assert r.returncode == 1 and "not in the trust store" in r.stderr
    assert json.loads(vg("trust", "list", "--json").stdout)["entries"] == []


@pytest.mark.parametrize("bad", ["7", "1y", "-1d", "0m"])
def test_bad_expiry_is_a_usage_error(bad: str) -> None:
    r = vg("trust", "add", "npm test", f"--expires={bad}")
    assert r.returncode == 2 and "--expires must be a duration" in r.stderr


def test_expired_entry_is_not_trusted_and_clean_removes_it(store: Path) -> None:
    old = trust.new_entry(NEEDS_APPROVAL, time.time() - 7200, "alice via prompt", expires_in=3600)
    live = trust.new_entry("make deploy", time.time(), "alice via prompt", expires_in=3600)
    trust.mutate(store, lambda _e: {old.sha256: old, live.sha256: live})
    assert check(NEEDS_APPROVAL)["decision"] == "block"
    listed = {e["command"]: e["expired"] for e in json.loads(vg("trust", "list", "--json").stdout)["entries"]}
    assert listed == {NEEDS_APPROVAL: True, "make deploy": False}
    r = vg("trust", "clean")
    assert r.stdout.strip() == "removed 1 expired entry"
    assert [e["command"] for e in json.loads(store.read_text())["entries"]] == ["make deploy"]


def _write_good_store(store: Path) -> None:
    entry = trust.new_entry(NEEDS_APPROVAL, time.time(), "alice via prompt")
    trust.mutate(store, lambda _e: {entry.sha256: entry})
    assert check(NEEDS_APPROVAL)["decision"] == "host"


def _truncate(store: Path) -> None:
    store.write_bytes(store.read_bytes()[:40])


def _array(store: Path) -> None:
    store.write_text(json.dumps(json.loads(store.read_text())["entries"]))


def _random_bytes(store: Path) -> None:
    store.write_bytes(os.urandom(512))


def _world_readable(store: Path) -> None:
    store.chmod(0o644)  # contents still valid: the permissions alone make it untrustworthy


def _future_version(store: Path) -> None:
    data = json.loads(store.read_text())
    store.write_text(json.dumps({**data, "version": 99}))


def _wrong_field_type(store: Path) -> None:
    data = json.loads(store.read_text())
    data["entries"][0]["approved_at"] = 12
    store.write_text(json.dumps(data))


@pytest.mark.parametrize(("damage", "says"), [
    (_truncate, "not JSON"),
    (_array, "a JSON list instead of an object"),
    (_random_bytes, "not JSON"),
    (_world_readable, "permissions are 0644, not 0600"),
    (_future_version, "unknown format version 99"),
    (_wrong_field_type, "entry 0 is malformed"),
])  # fmt: skip
def test_a_bad_store_is_reported_moved_aside_and_trusts_nothing(store: Path, damage: object, says: str) -> None:
    _write_good_store(store)
    assert callable(damage)
    damage(store)
    damaged = store.read_bytes()
    out = check(NEEDS_APPROVAL)
    assert out["decision"] == "block"
    lines = str(out["stderr"]).splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"vg: trust: {store} is not a valid trust store ({says}")
    assert lines[0].endswith("and trusting nothing")
    [backup] = store.parent.glob("trust.json.bad-*")
    assert backup.read_bytes() == damaged
    assert backup.stat().st_mode & 0o777 == 0o600
    assert not store.exists()
    assert check(NEEDS_APPROVAL)["stderr"] == ""  # reported once, then an empty store
    assert vg("trust", "add", "make deploy").returncode == 0  # and the store works again
    assert [e["command"] for e in json.loads(store.read_text())["entries"]] == ["make deploy"]


ADDER = """
import sys, time
from pathlib import Path
from vgshell import trust
path, who = Path(sys.argv[1]), sys.argv[2]
for i in range({n}):
    trust.add(path, trust.new_entry(f"echo {{who}}-{{i}}", time.time(), who))
"""


def test_eight_writers_lose_no_entry(store: Path) -> None:
    procs = [subprocess.Popen([sys.executable, "-c", ADDER.format(n=200), str(store), f"w{k}"]) for k in range(8)]
    assert [p.wait(timeout=300) for p in procs] == [0] * 8
    entries = json.loads(store.read_text())["entries"]
    assert len(entries) == 1600
    assert len({e["sha256"] for e in entries}) == 1600


def test_use_counts_update_under_concurrency(store: Path) -> None:
    trust.add(store, trust.new_entry("make test", time.time(), "t"))
    code = "import sys,time;from pathlib import Path;from vgshell import trust\n" \
           "for _ in range(50): trust.mark_used(Path(sys.argv[1]), 'make   test', time.time())"
    procs = [subprocess.Popen([sys.executable, "-c", code, str(store)]) for _ in range(4)]
    assert [p.wait(timeout=120) for p in procs] == [0] * 4
    [e] = json.loads(store.read_text())["entries"]
    assert e["use_count"] == 200 and e["last_used"] is not None


def test_index_sees_other_writers_and_reads_without_filelock(store: Path) -> None:
    """What a long-lived analyzer relies on: a cached read, refreshed when another process changes the file."""
    code = """
import sys, time, subprocess
from pathlib import Path
from vgshell import trust
index = trust.TrustIndex(Path(sys.argv[1]))
assert index.lookup("npm test", time.time()) is None
add = "import sys,time;from pathlib import Path;from vgshell import trust;" \\
      "trust.add(Path(sys.argv[1]), trust.new_entry('npm test', time.time(), 't'))"
subprocess.run([sys.executable, "-c", add, sys.argv[1]], check=True)
assert index.lookup("npm   test", time.time()) is not None
assert "filelock" not in sys.modules
rm = "import sys;from pathlib import Path;from vgshell import trust;trust.remove(Path(sys.argv[1]), 'npm test')"
subprocess.run([sys.executable, "-c", rm, sys.argv[1]], check=True)
assert index.lookup("npm test", time.time()) is None
"""
    store.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    r = subprocess.run([sys.executable, "-c", code, str(store)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize(("seconds", "text"), [
    (5, "just now"), (60, "1 minute ago"), (3599, "59 minutes ago"), (7200, "2 hours ago"),
    (86400, "1 day ago"), (3 * 86400 + 5, "3 days ago"),
])  # fmt: skip
def test_ago(seconds: float, text: str) -> None:
    assert trust.ago(seconds) == text


@pytest.mark.parametrize("t", [0.0, 951782400.0, 1714564800.0, 4102444799.0])
def test_iso_round_trip(t: float) -> None:
    text = trust.iso(t)
    assert text is not None and trust.parse_iso(text) == t
