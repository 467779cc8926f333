"""The result cache's parts on real files (SPEC §8): the key, the store, the strategies and the replay of a
captured change set. The runs themselves (real sandboxes, real installs) are in test_resultcache_runs.py."""

from __future__ import annotations

import hashlib
import io
import json
import multiprocessing
import os
import shutil
import stat
import time
from pathlib import Path

import pytest

from vgshell.changes.changeset import read_upper
from vgshell.config import config_from_mapping
from vgshell.resultcache import key as keys
from vgshell.resultcache import replay as rp
from vgshell.resultcache.store import CacheError, Entry, Store, has_content
from vgshell.resultcache.strategy import Policy, fresh, matches, outside_writable, policy, refuse_line, refuse_result

# --- the key ----------------------------------------------------------------------------------------------


def _key(project: Path, memo: keys.HashMemo, **over: object) -> str:
    args: dict[str, object] = dict(command="npm install", argv=("bash", "-c", "npm install"), cwd=str(project),
                                   project=str(project), ecosystems=("npm",), env={"PATH": "/usr/bin", "HOME": "/h"},
                                   env_names=keys.DEFAULT_ENV, runtime="bubblewrap", image="/usr/bin/npm:1:2",
                                   memo=memo)
    args.update(over)
    return keys.digest(keys.gather(**args))  # type: ignore[arg-type]


@pytest.fixture
def npm_project(tmp_path: Path) -> Path:
    p = tmp_path / "proj"
    p.mkdir()
    (p / "package.json").write_text('{"name": "x", "dependencies": {"left-pad": "1.3.0"}}\n')
    (p / "package-lock.json").write_text('{"lockfileVersion": 3, "packages": {"": {}}}\n')
    (p / "index.js").write_text("console.log(1)\n")
    return p


def _later_memo(tmp_path: Path) -> keys.HashMemo:
    """A memo whose clock runs 10 s ahead, so files written by the test are not "racily clean" for it."""
    return keys.HashMemo(tmp_path / "hashes.json", lambda: time.time_ns() + 10_000_000_000)


def test_one_byte_in_a_lock_file_is_a_new_key_even_with_the_same_size_and_mtime(npm_project: Path,
                                                                               tmp_path: Path) -> None:
    memo = _later_memo(tmp_path)
    before = _key(npm_project, memo)
    memo.save()
    lock = npm_project / "package-lock.json"
    st = lock.stat()
    lock.write_text(lock.read_text().replace("3", "4"))  # same size
    os.utime(lock, ns=(st.st_atime_ns, st.st_mtime_ns))  # same mtime: only the ctime tells
    assert lock.stat().st_size == st.st_size
    assert _key(npm_project, keys.HashMemo(tmp_path / "hashes.json", memo.now_ns)) != before


def test_the_memo_is_used_only_for_an_unchanged_file(npm_project: Path, tmp_path: Path) -> None:
    memo = _later_memo(tmp_path)
    _key(npm_project, memo)
    memo.save()
    saved = json.loads((tmp_path / "hashes.json").read_text())["files"]
    assert str(npm_project / "package-lock.json") in saved
    racy = keys.HashMemo(tmp_path / "racy.json", time.time_ns)  # files written just now are hashed every time
    _key(npm_project, racy)
    assert racy.known == {}


@pytest.mark.parametrize(("change", "same"), [
    (lambda p: (p / "index.js").write_text("console.log(2)\n"), True),  # not an input
    (lambda p: (p / "README.md").write_text("hi\n"), True),
    (lambda p: (p / "package.json").write_text("{}\n"), False),
    (lambda p: (p / "package-lock.json").unlink(), False),
    (lambda p: (p / "npm-shrinkwrap.json").write_text("{}\n"), False),  # a new input appears
])  # fmt: skip
def test_only_the_inputs_change_the_key(npm_project: Path, tmp_path: Path, change: object, same: bool) -> None:
    before = _key(npm_project, _later_memo(tmp_path))
    change(npm_project)  # type: ignore[operator]
    assert (_key(npm_project, _later_memo(tmp_path)) == before) is same


@pytest.mark.parametrize("over", [
    {"command": "npm ci"}, {"argv": ("bash", "-c", "npm ci")}, {"cwd": "/elsewhere"},
    {"env": {"PATH": "/usr/bin", "NODE_ENV": "production"}}, {"env": {"PATH": "/opt/bin"}},
    {"runtime": "docker"}, {"image": "node:20-bookworm"},
])  # fmt: skip
def test_command_place_env_runtime_and_image_are_in_the_key(npm_project: Path, tmp_path: Path, over: dict) -> None:
    assert _key(npm_project, _later_memo(tmp_path), **over) != _key(npm_project, _later_memo(tmp_path))


def test_a_variable_outside_the_chosen_ones_is_not(npm_project: Path, tmp_path: Path) -> None:
    base = _key(npm_project, _later_memo(tmp_path))
    assert _key(npm_project, _later_memo(tmp_path), env={"PATH": "/usr/bin", "HOME": "/other"}) == base


def test_manual_invalidation_leaves_the_inputs_out(npm_project: Path, tmp_path: Path) -> None:
    before = _key(npm_project, _later_memo(tmp_path), manual=True)
    (npm_project / "package-lock.json").write_text("{}\n")
    assert _key(npm_project, _later_memo(tmp_path), manual=True) == before


@pytest.mark.parametrize(("line", "names"), [
    ("pip install -r requirements-dev.txt", ["requirements-dev.txt"]),
    ("pip install --requirement=requirements-dev.txt", ["requirements-dev.txt"]),
    ("cat notes.txt missing.txt", ["notes.txt"]),
    ("pip install requests", []),
    ("ls sub", []),  # a directory is not an input file
])  # fmt: skip
def test_files_named_on_the_line(tmp_path: Path, line: str, names: list[str]) -> None:
    for n in ("requirements-dev.txt", "notes.txt"):
        (tmp_path / n).write_text("x\n")
    (tmp_path / "sub").mkdir()
    assert keys.named_files(line, str(tmp_path)) == tuple(str(tmp_path / n) for n in names)


def test_ecosystem_inputs_include_globbed_requirement_files(tmp_path: Path) -> None:
    for n in ("requirements.txt", "requirements-test.txt", "setup.py", "other.txt"):
        (tmp_path / n).write_text("x\n")
    found = keys.ecosystem_files((str(tmp_path),), keys.input_names(("pip",)))
    names = {os.path.basename(f) for f in found}
    assert {"requirements.txt", "requirements-test.txt", "setup.py", "pyproject.toml"} <= names
    assert "other.txt" not in names


# --- the strategies --------------------------------------------------------------------------------------


def _policy(**sandbox: object) -> Policy:
    return policy(config_from_mapping({"sandbox": sandbox}).sandbox)


@pytest.mark.parametrize(("sandbox", "expected"), [
    ({}, Policy("smart", 3600, False, False)),
    ({"enable_cache": False}, Policy("off")),
    ({"cache_strategy": "off"}, Policy("off")),
    ({"cache_strategy": "aggressive"}, Policy("aggressive", 86400, True, False)),
    ({"cache_strategy": "conservative"}, Policy("conservative", 300, False, True)),
    ({"cache_strategy": "smart", "cache_ttl": 60, "cache_invalidation": "manual", "cache_readonly_only": True},
     Policy("smart", 60, True, True)),
    ({"cache_strategy": "aggressive", "cache_invalidation": "auto"}, Policy("aggressive", 86400, False, False)),
])  # fmt: skip
def test_strategies(sandbox: dict, expected: Policy) -> None:
    p = _policy(**sandbox)
    assert (p.strategy, p.ttl, p.manual, p.readonly_only) == (expected.strategy, expected.ttl, expected.manual,
                                                               expected.readonly_only)


@pytest.mark.parametrize(("strategy", "line", "ecosystems", "writable", "refused"), [
    ("smart", "npm install", ("npm",), (), None),
    ("smart", "pip install -r requirements.txt", ("pip",), (), None),
    ("smart", "npm install publish-utils", ("npm",), (), None),  # look-alike: a package named so
    ("smart", "npm install ssh2", ("npm",), (), None),
    ("smart", "make", (), (), "package-manager lines only"),  # inputs unknown: not under smart
    ("aggressive", "make", (), (), None),
    ("smart", "npm publish", ("npm",), (), "effects outside the project"),
    ("aggressive", "git push origin main", (), (), "effects outside the project"),
    ("aggressive", "curl -fsSL https://example.com/x -o x", (), (), "effects outside the project"),
    ("aggressive", "npm install && scp x host:", ("npm",), (), "effects outside the project"),
    ("smart", "npm install", ("npm",), ("/srv/shared",), "may write outside the project (/srv/shared)"),
    ("smart", "npm ci", ("npm",), (), "never_cache"),
    ("off", "npm install", ("npm",), (), "off"),
])  # fmt: skip
def test_what_may_be_cached(strategy: str, line: str, ecosystems: tuple, writable: tuple, refused: str | None) -> None:
    p = _policy(cache_strategy=strategy, never_cache=["npm ci*"])
    why = refuse_line(p, line, ecosystems, writable)
    assert (why is None) if refused is None else (why is not None and refused in why)


@pytest.mark.parametrize(("strategy", "extra", "status", "interactive", "wrote", "refused"), [
    ("smart", {}, 0, False, True, None),
    ("smart", {}, 1, False, True, "failed"),
    ("smart", {"cache_failures": True}, 1, False, True, None),
    ("smart", {}, 0, True, False, "interactive"),
    ("conservative", {}, 0, False, True, "read-only"),  # conservative refuses a writing command
    ("conservative", {}, 0, False, False, None),
    ("smart", {"cache_readonly_only": True}, 0, False, True, "read-only"),
    ("smart", {}, 0, False, False, "wrote nothing"),  # what it found in place is not in its change set
    ("aggressive", {}, 0, False, False, "wrote nothing"),
])  # fmt: skip
def test_what_is_recorded(strategy: str, extra: dict, status: int, interactive: bool, wrote: bool,
                          refused: str | None) -> None:
    why = refuse_result(_policy(cache_strategy=strategy, **extra), status=status, interactive=interactive, wrote=wrote)
    assert (why is None) if refused is None else (why is not None and refused in why)


def test_ttl() -> None:
    p = _policy(cache_strategy="smart")
    assert fresh(p, 1000.0, 1000.0 + 3599)
    assert not fresh(p, 1000.0, 1000.0 + 3600)
    assert not fresh(p, 1000.0, 999.0)  # recorded in the future: the clock went back


def test_writable_places_outside_the_project() -> None:
    mounts = (("/p", False, True), ("/p/sub", False, True), ("/home/u/.npm", False, False),
              ("/etc/ca.crt", True, False))
    assert outside_writable(mounts, "/p", ()) == ("/p/sub",)
    assert outside_writable(mounts, "/p", ("/srv",)) == ("/p/sub", "/srv")


@pytest.mark.parametrize(("pattern", "command", "hit"), [
    ("npm:*", "npm install", True), ("npm:*", "npx foo", False), ("npm:install*", "npm ci", False),
    ("pip:install *", "pip install -r r.txt", True), ("*install*", "pip install x", True),
])  # fmt: skip
def test_invalidate_patterns(pattern: str, command: str, hit: bool) -> None:
    assert matches(pattern, command) is hit


# --- the store -------------------------------------------------------------------------------------------


def _entry(key: str, store: Store, created: float = 1000.0, out: bytes = b"hello\n", writes: tuple = ()) -> Entry:
    return Entry(key=key, command="npm install", cwd="/p", project="/p", runtime="bubblewrap", image="i",
                 strategy="smart", created=created, duration_ms=2500.0, exit_status=0, stdout=store.put_bytes(out),
                 writes=writes)


def test_an_entry_round_trips_and_a_corrupt_one_is_skipped_with_a_warning(tmp_path: Path) -> None:
    warn = io.StringIO()
    store = Store(tmp_path / "rc", warn)
    store.commit(_entry("k1", store))
    assert store.get("k1") == _entry("k1", store)
    path = store.entry_path("k1")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    path.write_text(path.read_text().replace("npm install", "npm instalL"))
    assert store.get("k1") is None
    assert "corrupt" in warn.getvalue() and not path.exists()


def test_a_corrupt_blob_is_detected(tmp_path: Path) -> None:
    store = Store(tmp_path / "rc")
    digest = store.put_bytes(b"content")
    store.blob_path(digest).write_bytes(b"contenT")
    with pytest.raises(CacheError, match="corrupt"):
        store.read_blob(digest)


def test_a_half_written_entry_is_never_served(tmp_path: Path) -> None:
    store = Store(tmp_path / "rc")
    store.commit(_entry("k1", store))
    whole = store.entry_path("k1").read_bytes()
    store.entry_path("k1").write_bytes(whole[: len(whole) // 2])
    assert store.get("k1") is None
    with pytest.raises(CacheError, match="not stored"):
        store.commit(_entry("k2", store, writes=(_file_change("a", "0" * 64),)))
    assert store.get("k2") is None


def _file_change(path: str, digest: str) -> object:
    from vgshell.changes.model import Change

    return Change(path, "added", 0o644, 1, digest, None)


def _commit_many(root: str, n: int) -> None:
    store = Store(Path(root))
    for i in range(n):
        store.commit(_entry("same", store, out=b"x" * (i % 7 + 1) * 1000))


def test_concurrent_identical_runs_leave_one_consistent_entry(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_commit_many, args=(str(tmp_path / "rc"), 40)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    store = Store(tmp_path / "rc", io.StringIO())
    entry = store.get("same")
    assert entry is not None and store.read_blob(entry.stdout).startswith(b"x")
    assert sorted(os.listdir(store.entry_dir)) == ["same.json", "same.used"]  # no temp file left either


def test_lru_eviction_keeps_the_recently_used(tmp_path: Path) -> None:
    now = [1000.0]
    store = Store(tmp_path / "rc", clock=lambda: now[0])
    for i, k in enumerate(("a", "b", "c")):
        now[0] = 1000.0 + i
        store.commit(_entry(k, store, out=k.encode() * 1000))
    now[0] = 1010.0
    store.touch("a")
    assert store.evict(2000) == 1
    assert [e.key for e in store.entries()] == ["a", "c"]


def test_prune_removes_entries_and_their_blobs(tmp_path: Path) -> None:
    now = [1000.0]
    store = Store(tmp_path / "rc", clock=lambda: now[0])
    store.commit(_entry("old", store, created=0.0, out=b"old output"))
    store.commit(_entry("new", store, created=990.0, out=b"new output"))
    old_blob = store.blob_path(hashlib.sha256(b"old output").hexdigest())
    os.utime(old_blob, (0, 0))
    assert store.prune(lambda e: e.created > 500) == 1
    assert [e.key for e in store.entries()] == ["new"] and not old_blob.exists()


# --- the replay of a captured change set ------------------------------------------------------------------


def _tree(root: Path) -> dict[str, tuple[str, int, str]]:
    """Every path under root: (type, mode, content digest or link target)."""
    out: dict[str, tuple[str, int, str]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = p.lstat()
            rel = str(p.relative_to(root))
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", 0, os.readlink(p))
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir", stat.S_IMODE(st.st_mode), "")
            else:
                out[rel] = ("file", stat.S_IMODE(st.st_mode), hashlib.sha256(p.read_bytes()).hexdigest())
    return out


@pytest.fixture
def captured(tmp_path: Path) -> tuple[Path, Path, object]:
    """A project and an upper directory as a run behind an overlay leaves it: new files and directories, a
    changed file, a mode change, a deletion (whiteout), a link."""
    project, upper = tmp_path / "project", tmp_path / "upper"
    (project / "src").mkdir(parents=True)
    (project / "src" / "a.py").write_text("a = 1\n")
    (project / "old.txt").write_text("old\n")
    (project / "run.sh").write_text("echo\n")
    (upper / "node_modules" / "pkg" / "lib").mkdir(parents=True)
    (upper / "node_modules" / "pkg" / "lib" / "index.js").write_text("module.exports = 1\n")
    (upper / "node_modules" / "pkg" / "package.json").write_text("{}\n")
    (upper / "node_modules" / ".bin").mkdir()
    os.symlink("../pkg/lib/index.js", upper / "node_modules" / ".bin" / "pkg")
    (upper / "src").mkdir()
    (upper / "src" / "a.py").write_text("a = 2\n")
    shutil.copy(project / "run.sh", upper / "run.sh")
    os.chmod(upper / "run.sh", 0o755)
    os.mknod(upper / "old.txt", stat.S_IFCHR | 0o000, 0)  # an overlay whiteout: deleted
    return project, upper, read_upper(upper, project)


def _record(store: Store, upper: Path, changes: object) -> Entry:
    for c in changes:  # type: ignore[attr-defined]
        if has_content(c):
            store.put_file(str(upper / c.path))
    entry = Entry(key="k", command="npm install", cwd="/p", project="/p", runtime="bubblewrap", image="",
                  strategy="smart", created=0.0, duration_ms=1.0, exit_status=0, stdout=store.put_bytes(b"out\n"),
                  stderr=store.put_bytes(b"err\n"), writes=changes)  # type: ignore[arg-type]
    store.commit(entry)
    got = store.get("k")
    assert got is not None
    return got


def _applied(project: Path, upper: Path, changes: object, tmp_path: Path) -> dict:
    """The tree the run leaves: the change set applied to a copy of the project."""
    from vgshell.changes.changeset import apply

    expected = tmp_path / "expected"
    shutil.copytree(project, expected, symlinks=True)
    assert apply(changes, upper, expected).ok  # type: ignore[arg-type]
    return _tree(expected)


def test_a_replay_restores_the_run_exactly(captured: tuple, tmp_path: Path) -> None:
    project, upper, changes = captured
    assert {c.kind for c in changes} >= {"added", "changed", "mode", "deleted", "symlink"}
    store = Store(tmp_path / "rc")
    entry = _record(store, upper, changes)
    expected = _applied(project, upper, changes, tmp_path)
    plan = rp.plan(entry, store, str(project))
    assert not isinstance(plan, str)
    for blob in store.blob_dir.glob("*/*"):
        os.utime(blob, (0, 0))  # stored long ago
    started = time.time()
    rp.apply(plan, store, str(project))
    assert _tree(project) == expected
    assert (project / "src/a.py").stat().st_mtime >= started - 1  # written now, as a run would have
    out, err = io.BytesIO(), io.BytesIO()
    streams = io.TextIOWrapper(out), io.TextIOWrapper(err)
    rp.write_output(plan, entry, *streams)
    assert (out.getvalue(), err.getvalue()) == (b"out\n", b"err\n")
    again = rp.plan(entry, store, str(project))  # already as the run left it: nothing to do, still a hit
    assert not isinstance(again, str) and again.pending == ()


@pytest.mark.parametrize("edit", [
    lambda p: (p / "src" / "a.py").write_text("a = 3\n"),  # a file it overwrites changed
    lambda p: (p / "old.txt").write_text("new\n"),  # a file it deletes changed
    lambda p: (p / "node_modules" / "pkg").mkdir(parents=True) or (p / "node_modules" / "pkg" / "package.json")
    .write_text("[]"),  # a file it adds is there with other content
])  # fmt: skip
def test_a_replay_over_files_that_moved_on_is_a_miss_and_writes_nothing(captured: tuple, tmp_path: Path,
                                                                         edit: object) -> None:
    project, upper, changes = captured
    store = Store(tmp_path / "rc")
    entry = _record(store, upper, changes)
    edit(project)  # type: ignore[operator]
    before = _tree(project)
    assert isinstance(rp.plan(entry, store, str(project)), str)
    assert _tree(project) == before


def test_an_unrelated_change_does_not_stop_a_replay(captured: tuple, tmp_path: Path) -> None:
    project, upper, changes = captured
    store = Store(tmp_path / "rc")
    entry = _record(store, upper, changes)
    (project / "README.md").write_text("unrelated\n")
    assert not isinstance(rp.plan(entry, store, str(project)), str)


def test_a_replay_with_a_corrupt_blob_writes_nothing(captured: tuple, tmp_path: Path) -> None:
    project, upper, changes = captured
    store = Store(tmp_path / "rc")
    entry = _record(store, upper, changes)
    change = next(c for c in changes if c.path == "src/a.py")
    store.blob_path(change.digest).write_text("a = 9\n")
    before = _tree(project)
    plan = rp.plan(entry, store, str(project))
    assert not isinstance(plan, str)
    with pytest.raises(CacheError):
        rp.apply(plan, store, str(project))
    assert _tree(project)["src/a.py"] == before["src/a.py"]


def test_notice_wording() -> None:
    assert rp.ago(180) == "3 min ago" and rp.ago(7200) == "2 h ago" and rp.ago(5) == "5 s ago"


# --- vg cache ---------------------------------------------------------------------------------------------


@pytest.fixture
def filled(vg_home: Path) -> Store:
    """Three entries in two projects, recorded 10 days, 1 hour and just now ago."""
    now = time.time()
    store = Store.at(vg_home)
    for key, command, project, age in (("a" * 64, "npm install", "/work/p1", 10 * 86400),
                                       ("b" * 64, "pip install -r requirements.txt", "/work/p1", 3600),
                                       ("c" * 64, "npm ci", "/work/p2", 0)):
        entry = _entry(key, store, created=now - age, out=command.encode())
        store.commit(Entry(**{**entry.__dict__, "command": command, "project": project, "cwd": project}))
    store.count("hits", "/work/p1")
    store.count("misses", "/work/p1")
    store.count("misses", "/work/p2")
    return store


def test_cache_stats(filled: Store) -> None:
    from tests.test_cli import vg

    data = json.loads(vg("cache", "stats", "--json").stdout)
    assert (data["entries"], data["hits"], data["misses"], data["hit_rate"]) == (3, 1, 2, 33.3)
    assert data["location"] == str(filled.root) and data["bytes"] > 0 and data["oldest"] < data["newest"]
    one = json.loads(vg("cache", "stats", "--path", "/work/p1", "--json").stdout)
    assert (one["entries"], one["hits"], one["misses"], one["hit_rate"]) == (2, 1, 1, 50.0)
    text = vg("cache", "stats").stdout
    assert "hit rate" in text and "33.3%" in text and str(filled.root) in text


@pytest.mark.parametrize(("args", "left"), [
    (("invalidate", "--pattern", "npm:*"), {"pip install -r requirements.txt"}),
    (("invalidate", "--pattern", "pip:*"), {"npm install", "npm ci"}),
    (("clear", "--command", "npm  ci"), {"npm install", "pip install -r requirements.txt"}),
    (("clear",), set()),
    (("prune", "--max-age", "7d"), {"pip install -r requirements.txt", "npm ci"}),
    (("prune", "--max-age", "30m"), {"npm ci"}),
])  # fmt: skip
def test_cache_clear_invalidate_prune(filled: Store, args: tuple[str, ...], left: set[str]) -> None:
    from tests.test_cli import vg

    r = vg("cache", *args)
    assert r.returncode == 0 and r.stdout.startswith("removed "), r.stderr
    assert {e.command for e in filled.entries()} == left


def test_cache_prune_by_size_keeps_the_most_recently_used(filled: Store) -> None:
    from tests.test_cli import vg

    filled.touch("a" * 64)
    assert vg("cache", "prune", "--max-size", "15").returncode == 0
    assert [e.key for e in filled.entries()] == ["a" * 64]


@pytest.mark.parametrize("args", [("prune",), ("prune", "--max-age", "soon"), ("prune", "--max-size", "big")])
def test_cache_usage_errors(vg_home: Path, args: tuple[str, ...]) -> None:
    from tests.test_cli import vg

    r = vg("cache", *args)
    assert r.returncode == 2 and r.stderr.startswith("vg: ")


@pytest.mark.parametrize(("now", "allowed"), [
    (("dnode_modules", "fREADME.md", "fpackage.json"), True),  # as the run left it
    (("fREADME.md", "fpackage.json"), True),  # as the run found it (node_modules removed since)
    (("fREADME.md", "fpackage.json", "fnotes.txt"), True),  # a new unrelated name: ignored
    (("fREADME.md",), False),  # package.json, which the run saw, is gone
    (("dnode_modules", "dREADME.md", "fpackage.json"), False),  # README.md is now a directory
    (None, False),  # the directory itself is gone
])  # fmt: skip
def test_what_a_directory_the_run_wrote_into_must_still_list(now: tuple | None, allowed: bool) -> None:
    before, after = ("fREADME.md", "fpackage.json"), ("dnode_modules", "fREADME.md", "fpackage.json")
    assert rp.listing_allows(now, before, after) is allowed


def test_written_dirs_are_the_existing_parents_of_the_writes(captured: tuple) -> None:
    _project, _upper, changes = captured
    assert rp.written_dirs(changes) == ("", "src")  # node_modules and what is under it are the run's own


def test_a_replay_never_writes_through_a_link_in_the_project(captured: tuple, tmp_path: Path) -> None:
    project, upper, changes = captured
    store = Store(tmp_path / "rc")
    entry = _record(store, upper, changes)
    outside = tmp_path / "outside"
    shutil.move(str(project / "src"), outside)  # src is now a link to a directory outside the project
    os.symlink(outside, project / "src")
    plan = rp.plan(entry, store, str(project))
    assert not isinstance(plan, str)  # what the link shows is as the run found it …
    with pytest.raises(CacheError, match="src: missing, a link or not a directory"):
        rp.apply(plan, store, str(project))
    assert (outside / "a.py").read_text() == "a = 1\n"  # … but nothing is written through it


def test_a_recorded_link_out_of_the_project_is_refused(tmp_path: Path) -> None:
    project, upper = tmp_path / "project", tmp_path / "upper"
    project.mkdir()
    upper.mkdir()
    os.symlink("/etc/passwd", upper / "evil")
    os.symlink("../../etc", upper / "up")
    store = Store(tmp_path / "rc")
    entry = _record(store, upper, read_upper(upper, project))
    plan = rp.plan(entry, store, str(project))
    assert not isinstance(plan, str)
    with pytest.raises(CacheError, match="outside the project"):
        rp.apply(plan, store, str(project))
    assert not os.path.lexists(project / "evil") and not os.path.lexists(project / "up")


def test_a_recorded_file_is_adopted_only_with_the_content_it_was_read_with(tmp_path: Path) -> None:
    store = Store(tmp_path / "rc")
    f = tmp_path / "upper-file"
    f.write_text("content\n")
    digest = hashlib.sha256(b"content\n").hexdigest()
    assert not store.adopt(str(f), hashlib.sha256(b"other\n").hexdigest())
    assert store.adopt(str(f), digest)
    f.unlink()  # the upper directory is dropped after recording: the blob stays
    assert store.read_blob(digest) == b"content\n"
    assert stat.S_IMODE(store.blob_path(digest).stat().st_mode) == 0o600
