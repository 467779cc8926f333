"""Config trust: a project file may only tighten until approved; the managed file wins and fails closed;
approvals are a 0600 store that trusts nothing when corrupt. Real files, real `vg` processes, and a real
hooked bash and zsh in a PTY proving where commands ran."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.test_hooks import DONE, SANDBOX_CONFIG, SHELLS, Shell
from vgshell import approvals
from vgshell.analyzer import Analyzer
from vgshell.config import DEFAULT_CONFIG, Config, load_config, with_overrides
from vgshell.context import Environment
from vgshell.layers import NoticeLog, notices
from vgshell.policy import Facts
from vgshell.risk.model import Level
from vgshell.schema import KEYS, SCHEMA
from vgshell.tighten import Context, loosens, tighter_of, tightest


class Layout:
    """A home, a state dir, a cloned project with a nested working directory, and a managed file path."""

    def __init__(self, root: Path) -> None:
        self.home = root / "home"
        self.state = root / "state"
        self.project = self.home / "clone"
        self.cwd = self.project / "src"
        self.managed = root / "etc" / "config.yaml"
        for directory in (self.cwd, self.managed.parent):
            directory.mkdir(parents=True)
        self.state.mkdir(mode=0o700)

    @property
    def user_file(self) -> Path:
        return self.state / "config.yaml"

    @property
    def project_file(self) -> Path:
        return self.project / "vectra-guard.yaml"

    def env(self, **variables: str) -> Environment:
        return Environment(env={"HOME": str(self.home), "VG_HOME": str(self.state),
                                "VG_MANAGED_CONFIG": str(self.managed), **variables}, cwd=str(self.cwd))

    def load(self, **variables: str) -> Config:
        return load_config(self.env(**variables))

    def allow(self) -> None:
        data = self.project_file.read_bytes()
        approvals.allow(self.state, self.project_file, approvals.digest(data), "test", 0.0)


@pytest.fixture
def lay(tmp_path: Path) -> Layout:
    return Layout(tmp_path)


# --- Each loosening key: ignored until approved, applied after, revoked by an edit -----------------------

LOOSENING = [
    # (project text, key, value once approved, user file text or "")
    ("guard_level:\n  level: low\n", "guard_level.level", "low", ""),
    ("guard_level:\n  level: 'off'\n", "guard_level.level", "off", "guard_level:\n  level: high\n"),
    ("sandbox:\n  enabled: false\n", "sandbox.enabled", False, ""),
    ("sandbox:\n  mode: never\n", "sandbox.mode", "never", ""),
    ("sandbox:\n  mode: auto\n", "sandbox.mode", "auto", "sandbox:\n  mode: always\n"),
    ("sandbox:\n  security_level: permissive\n", "sandbox.security_level", "permissive", ""),
    ("sandbox:\n  network_mode: full\n", "sandbox.network_mode", "full", ""),
    ("sandbox:\n  network_mode: null\n", "sandbox.network_mode", None, "sandbox:\n  network_mode: none\n"),
    ("sandbox:\n  network_allowlist: [evil.example.com]\n", "sandbox.network_allowlist", ("evil.example.com",), ""),
    ("sandbox:\n  seccomp_profile: ./unconfined.json\n", "sandbox.seccomp_profile", "./unconfined.json", ""),
    ("sandbox:\n  env_whitelist: [PATH, GITHUB_TOKEN]\n", "sandbox.env_whitelist", ("PATH", "GITHUB_TOKEN"), ""),
    ("sandbox:\n  bind_mounts:\n    - {host_path: ~/.ssh}\n", "sandbox.bind_mounts", None, ""),
    ("sandbox:\n  enable_cache: true\n", "sandbox.enable_cache", True, "sandbox:\n  enable_cache: false\n"),
    ("sandbox:\n  project_writes: direct\n", "sandbox.project_writes", "direct",
     "sandbox:\n  project_writes: review\n"),
    ("sandbox:\n  project_writes: review\n", "sandbox.project_writes", "review",
     "sandbox:\n  project_writes: discard\n"),
    ("sandbox:\n  cache_dirs: [~/.ssh]\n", "sandbox.cache_dirs", ("~/.ssh",), ""),
    ("sandbox:\n  cache_dirs: ['/etc:/cache']\n", "sandbox.cache_dirs", ("/etc:/cache",), ""),
    ("sandbox:\n  cache_dirs: [cache/../../..]\n", "sandbox.cache_dirs", ("cache/../../..",), ""),
    ("sandbox:\n  cache_dirs: [escape]\n", "sandbox.cache_dirs", ("escape",), ""),  # a symlink out
    ("sandbox:\n  cache_strategy: aggressive\n", "sandbox.cache_strategy", "aggressive", ""),
    ("sandbox:\n  cache_strategy: smart\n", "sandbox.cache_strategy", "smart", "sandbox:\n  enable_cache: false\n"),
    ("sandbox:\n  cache_invalidation: manual\n", "sandbox.cache_invalidation", "manual", ""),
    ("sandbox:\n  cache_readonly_only: false\n", "sandbox.cache_readonly_only", False,
     "sandbox:\n  cache_readonly_only: true\n"),
    ("sandbox:\n  cache_failures: true\n", "sandbox.cache_failures", True, ""),
    ("sandbox:\n  never_cache: []\n", "sandbox.never_cache", (), "sandbox:\n  never_cache: ['npm ci']\n"),
    ("sandbox:\n  cache_key_env: [PATH]\n", "sandbox.cache_key_env", ("PATH",), ""),
    ("policies:\n  allowlist: ['curl *']\n", "policies.allowlist", ("curl *",), ""),
    ("policies:\n  denylist: []\n", "policies.denylist", (), "policies:\n  denylist: ['git push*']\n"),
    ("trust:\n  default_expiry: 2w\n", "trust.default_expiry", "2w", "trust:\n  default_expiry: 1d\n"),
    ("trust:\n  default_expiry: null\n", "trust.default_expiry", None, "trust:\n  default_expiry: 1d\n"),
    ("trust:\n  store_path: ./trust.json\n", "trust.store_path", "./trust.json", ""),
    ("metrics:\n  enabled: false\n", "metrics.enabled", False, ""),
    ("rules:\n  disabled: [git.push-force]\n", "rules.disabled", ("git.push-force",), ""),
    ("rules:\n  paths: [./rules.yaml]\n", "rules.paths", ("./rules.yaml",), ""),
]


@pytest.mark.parametrize(("text", "name", "approved", "user"), LOOSENING, ids=lambda v: str(v)[:40])
def test_a_loosening_project_setting_waits_for_approval(lay: Layout, text: str, name: str, approved: object,
                                                         user: str) -> None:
    if user:
        lay.user_file.write_text(user)
    (lay.project / "escape").symlink_to(lay.home)
    below = lay.load().get(name)
    lay.project_file.write_text(text)
    before = lay.load()
    assert before.get(name) == below
    assert [(i.name, i.where) for i in before.layers.ignored] == [(name, f"{lay.project_file}:2")]
    [said] = [n.text for n in notices(before)]
    assert f"'{name}' [{lay.project_file}:2]" in said and f"vg config allow {lay.project_file}" in said

    lay.allow()
    after = lay.load()
    assert after.get(name) != below
    if approved is not None or name == "sandbox.network_mode":
        assert after.get(name) == approved
    assert after.sources[name] == f"{lay.project_file}:2"
    assert after.layers.approved and not after.layers.ignored and notices(after) == []

    lay.project_file.write_text(text + "# an edit\n")  # any edit revokes the approval
    assert lay.load().get(name) == below


TIGHTENING = [
    ("guard_level:\n  level: high\n", "guard_level.level", "high", ""),
    ("guard_level:\n  level: paranoid\n", "guard_level.level", "paranoid", "guard_level:\n  level: low\n"),
    ("guard_level:\n  level: auto\n", "guard_level.level", "medium", ""),  # Vectra Guard's auto = medium
    ("sandbox:\n  mode: always\n", "sandbox.mode", "always", ""),
    ("sandbox:\n  mode: risky\n", "sandbox.mode", "risky", "sandbox:\n  mode: never\n"),
    ("sandbox:\n  enabled: true\n", "sandbox.enabled", True, "sandbox:\n  enabled: false\n"),
    ("sandbox:\n  security_level: paranoid\n", "sandbox.security_level", "paranoid", ""),
    ("sandbox:\n  network_mode: none\n", "sandbox.network_mode", "none", ""),
    ("sandbox:\n  network_mode: restricted\n", "sandbox.network_mode", "restricted", ""),  # balanced's own
    ("sandbox:\n  env_whitelist: [PATH]\n", "sandbox.env_whitelist", ("PATH",), ""),
    ("sandbox:\n  bind_mounts: []\n", "sandbox.bind_mounts", (),
     "sandbox:\n  bind_mounts:\n    - {host_path: /srv/data}\n"),
    ("sandbox:\n  enable_cache: false\n", "sandbox.enable_cache", False, ""),
    ("sandbox:\n  project_writes: review\n", "sandbox.project_writes", "review", ""),
    ("sandbox:\n  project_writes: discard\n", "sandbox.project_writes", "discard",
     "sandbox:\n  project_writes: review\n"),
    ("sandbox:\n  cache_dirs: [.cache/tool]\n", "sandbox.cache_dirs", (".cache/tool",), ""),
    ("sandbox:\n  cache_dirs: ['build:/cache']\n", "sandbox.cache_dirs", ("build:/cache",), ""),
    ("sandbox:\n  cache_strategy: 'off'\n", "sandbox.cache_strategy", "off", ""),
    ("sandbox:\n  cache_strategy: conservative\n", "sandbox.cache_strategy", "conservative", ""),
    ("sandbox:\n  cache_invalidation: auto\n", "sandbox.cache_invalidation", "auto",
     "sandbox:\n  cache_strategy: aggressive\n"),
    ("sandbox:\n  cache_readonly_only: true\n", "sandbox.cache_readonly_only", True, ""),
    ("sandbox:\n  never_cache: ['make *']\n", "sandbox.never_cache", ("make *",), ""),
    ("sandbox:\n  seccomp_profile: null\n", "sandbox.seccomp_profile", None, "sandbox:\n  seccomp_profile: /p.json\n"),
    ("policies:\n  denylist: ['git push*']\n", "policies.denylist", ("git push*",), ""),
    ("policies:\n  allowlist: []\n", "policies.allowlist", (), "policies:\n  allowlist: ['npm *']\n"),
    ("trust:\n  default_expiry: 1d\n", "trust.default_expiry", "1d", ""),
    ("trust:\n  default_expiry: 1h\n", "trust.default_expiry", "1h", "trust:\n  default_expiry: 1d\n"),
    ("rules:\n  disabled: [git.push-force]\n", "rules.disabled", ("git.push-force",),
     "rules:\n  disabled: [git.push-force, net.curl-pipe]\n"),
    # neither tightens nor loosens: a project may set them freely
    ("sandbox:\n  image: node:20\n", "sandbox.image", "node:20", ""),
    ("sandbox:\n  timeout: 60\n", "sandbox.timeout", 60, ""),
    ("sandbox:\n  runtime: docker\n", "sandbox.runtime", "docker", ""),
]


@pytest.mark.parametrize(("text", "name", "value", "user"), TIGHTENING, ids=lambda v: str(v)[:40])
def test_a_tightening_project_setting_applies_at_once(lay: Layout, text: str, name: str, value: object,
                                                      user: str) -> None:
    if user:
        lay.user_file.write_text(user)
    lay.project_file.write_text(text)
    cfg = lay.load()
    assert cfg.get(name) == value
    assert cfg.sources[name] == f"{lay.project_file}:2"
    assert cfg.layers.ignored == () and notices(cfg) == []


def test_only_the_loosening_settings_of_a_file_wait(lay: Layout) -> None:
    lay.project_file.write_text("guard_level:\n  level: high\nsandbox:\n  mode: never\n  network_mode: none\n")
    cfg = lay.load()
    assert (cfg.guard_level.level, cfg.sandbox.mode, cfg.sandbox.network_mode) == ("high", "auto", "none")
    assert [i.name for i in cfg.layers.ignored] == ["sandbox.mode"]


def test_every_guarding_key_has_a_direction_and_the_rest_none() -> None:
    """The table above covers every key that can loosen the guard; a new one must say which way it goes."""
    covered = {row[1] for row in LOOSENING}
    directed = {key.name for key in SCHEMA if key.tighter is not None}
    assert directed == covered
    ctx = Context({key.name: DEFAULT_CONFIG.get(key.name) for key in SCHEMA})
    for key in SCHEMA:  # a value never loosens itself
        assert not loosens(key, DEFAULT_CONFIG.get(key.name), DEFAULT_CONFIG.get(key.name), ctx)
    assert not loosens(KEYS["sandbox.image"], "ubuntu:22.04", "evil/image", ctx)
    for key in SCHEMA:  # failing closed never loosens a default, and the managed value never yields to a looser one
        default = DEFAULT_CONFIG.get(key.name)
        assert not loosens(key, default, tightest(key, default, default), ctx), key.name
    for _text, name, value, _user in LOOSENING:
        key, default = KEYS[name], DEFAULT_CONFIG.get(name)
        if value is not None and loosens(key, default, value, ctx):
            assert tighter_of(key, default, value, ctx) == default, name


def test_an_approval_is_for_one_path(lay: Layout) -> None:
    text = "sandbox:\n  mode: never\n"
    lay.project_file.write_text(text)
    lay.allow()
    other = lay.home / "other"
    other.mkdir()
    (other / "vectra-guard.yaml").write_text(text)  # the same content elsewhere is not approved
    assert load_config(Environment(env=dict(lay.env().env), cwd=str(other))).sandbox.mode == "auto"
    assert lay.load().sandbox.mode == "never"
    (other / "vectra-guard.yaml").unlink()
    (other / "vectra-guard.yaml").symlink_to(lay.project_file)  # a link to an approved file is not approved
    assert load_config(Environment(env=dict(lay.env().env), cwd=str(other))).sandbox.mode == "auto"
    linked = lay.home / "linked-clone"
    linked.symlink_to(lay.project)  # the same file reached through a linked directory is
    assert load_config(Environment(env=dict(lay.env().env), cwd=str(linked / "src"))).sandbox.mode == "never"
    assert approvals.deny(lay.state, lay.project_file)
    assert lay.load().sandbox.mode == "auto"


# --- The managed file ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("managed", "user", "project", "variables", "name", "expected"),
    [
        ("guard_level:\n  level: high\n", "guard_level:\n  level: low\n", "", {}, "guard_level.level", "high"),
        ("guard_level:\n  level: high\n", "guard_level:\n  level: paranoid\n", "", {}, "guard_level.level",
         "paranoid"),  # a lower layer may still tighten
        ("guard_level:\n  level: high\n", "", "", {"VG_GUARD_LEVEL": "off"}, "guard_level.level", "high"),
        ("sandbox:\n  mode: always\n", "sandbox:\n  mode: never\n", "", {}, "sandbox.mode", "always"),
        ("sandbox:\n  mode: always\n", "", "sandbox:\n  mode: never\n", {}, "sandbox.mode", "always"),
        ("sandbox:\n  enabled: true\n", "sandbox:\n  enabled: false\n", "", {}, "sandbox.enabled", True),
        ("policies:\n  denylist: ['curl *']\n", "policies:\n  denylist: ['wget *']\n", "", {},
         "policies.denylist", ("curl *", "wget *")),  # denylists combine
        ("policies:\n  allowlist: ['npm *', 'make *']\n", "policies:\n  allowlist: ['curl *']\n", "", {},
         "policies.allowlist", ("npm *", "make *")),
        ("policies:\n  allowlist: ['npm *', 'make *']\n", "policies:\n  allowlist: ['make *']\n", "", {},
         "policies.allowlist", ("make *",)),
        ("policies:\n  allowlist: ['npm *']\n", "", "", {}, "policies.allowlist", ("npm *",)),  # over a default
        ("rules:\n  disabled: [git.push-force]\n", "", "", {}, "rules.disabled", ("git.push-force",)),
        ("rules:\n  disabled: []\n", "rules:\n  disabled: [fs.rm-protected]\n", "", {}, "rules.disabled", ()),
        ("guard_level:\n  level: low\n", "", "", {}, "guard_level.level", "low"),
        ("sandbox:\n  image: corp/base:1\n", "sandbox:\n  image: mine:2\n", "", {}, "sandbox.image", "corp/base:1"),
        ("sandbox:\n  network_mode: none\n", "", "", {"VG_NETWORK_MODE": "full"}, "sandbox.network_mode", "none"),
    ],
)  # fmt: skip
def test_the_managed_file_wins_and_nothing_below_loosens_it(lay: Layout, managed: str, user: str, project: str,
                                                            variables: dict[str, str], name: str,
                                                            expected: object) -> None:
    lay.managed.write_text(managed)
    if user:
        lay.user_file.write_text(user)
    if project:
        lay.project_file.write_text(project)
        lay.allow()  # even an approved project file cannot loosen what the managed file sets
    assert lay.load(**variables).get(name) == expected


def test_a_shell_override_cannot_loosen_the_managed_file(lay: Layout) -> None:
    lay.managed.write_text("sandbox:\n  mode: always\n")
    cfg = with_overrides(lay.load(), {"sandbox.mode": "never"}, "this shell (vg mode)")
    assert cfg.sandbox.mode == "always"
    assert cfg.sources["sandbox.mode"] == f"{lay.managed}:2"
    facts = Facts(human_present=True, available_runtimes=("bubblewrap",), guard_off=True)
    verdict = Analyzer(lay.env(), cfg).check("curl -s https://example.com/x | tee out", facts=facts)
    assert verdict.decision.action != "host"  # `vg off` does not switch off a pinned mode


def test_the_real_managed_path_is_not_replaced_by_the_variable_when_it_exists(lay: Layout,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from vgshell import layers

    real = lay.home / "etc-vectra-guard.yaml"
    real.write_text("guard_level:\n  level: paranoid\n")
    lay.managed.write_text("guard_level:\n  level: high\n")
    monkeypatch.setattr(layers, "MANAGED_FILE", str(real))
    assert lay.load().guard_level.level == "paranoid"
    real.unlink()
    assert lay.load().guard_level.level == "high"


# --- Critical rules: only the user or managed file may switch one off ------------------------------------

RM_RULES = "rules:\n  disabled: [fs.rm-protected, fs.rm-outside-project, fs.rm-recursive]\n"


@pytest.mark.parametrize(
    ("where", "critical"),
    [("project", True), ("approved project", True), ("explicit", True), ("user", False), ("managed", False)],
)
def test_critical_rules_are_switched_off_only_from_the_user_or_managed_file(lay: Layout, where: str,
                                                                           critical: bool) -> None:
    explicit = None
    if "project" in where:
        lay.project_file.write_text(RM_RULES)
        if where == "approved project":
            lay.allow()
    elif where == "explicit":
        explicit = lay.home / "mine.yaml"
        explicit.write_text(RM_RULES)
    else:
        (lay.user_file if where == "user" else lay.managed).write_text(RM_RULES)
    cfg = load_config(lay.env(), str(explicit) if explicit else None)
    analyzer = Analyzer(lay.env(), cfg)
    assert (analyzer.check("rm -rf ~").assessment.risk is Level.CRITICAL) is critical
    assert (analyzer.kept_critical == ("fs.rm-protected",)) is (critical and where != "project")
    r = vg(lay, "status")
    assert ("CRITICAL RULE OFF: fs.rm-protected" in r.stdout) is (not critical), r.stdout


# --- A malformed managed file fails closed ------------------------------------------------------------------

BROKEN_MANAGED = [
    ("guard_level:\n  level: [high\n", 3, "invalid YAML"),
    ("guard_level:\n  levle: high\n", 2, "unknown key 'guard_level.levle'"),
    ("sandbox:\n  timeout: soon\n", 2, "'sandbox.timeout' must be an integer"),
    ("- just\n- a list\n", 1, "the top level must be a mapping"),
    ("sandbox:\n  mode: never\nsandbox:\n  mode: never\n", 4, "duplicate key"),
]


@pytest.mark.parametrize(("text", "line", "message"), BROKEN_MANAGED, ids=lambda v: str(v)[:24])
def test_a_malformed_managed_file_fails_closed(lay: Layout, text: str, line: int, message: str) -> None:
    lay.user_file.write_text("guard_level:\n  level: 'off'\nsandbox:\n  mode: never\npolicies:\n  allowlist: ['*']\n")
    lay.managed.write_text(text)
    cfg = lay.load(VG_GUARD_LEVEL="off", VG_MODE="never")
    assert cfg.layers.closed is not None and message in cfg.layers.closed
    assert cfg.layers.closed.endswith(f"[{lay.managed}:{line}]")
    assert (cfg.guard_level.level, cfg.sandbox.mode, cfg.sandbox.effective_network_mode) == ("paranoid", "always",
                                                                                           "none")
    assert cfg.policies.allowlist == () and cfg.rules.disabled == ()
    closed_facts(lay, cfg)


def test_an_unreadable_managed_file_fails_closed(lay: Layout) -> None:
    lay.managed.mkdir()  # a directory: it cannot be read as a file, whoever we are
    cfg = lay.load()
    assert cfg.layers.closed is not None and str(lay.managed) in cfg.layers.closed
    closed_facts(lay, cfg)


def closed_facts(lay: Layout, cfg: Config) -> None:
    """Critical blocked, everything else asked (human) or sandboxed (none), nothing trusted, `vg off` ignored."""
    from vgshell import trust

    trust.add(lay.state / "trust.json", trust.new_entry("ls -la", 0.0, "test"))
    analyzer = Analyzer(lay.env(), cfg)
    human = Facts(human_present=True, available_runtimes=("bubblewrap",), guard_off=True)
    nobody = Facts(human_present=False, available_runtimes=("bubblewrap",))
    no_runtime = Facts(human_present=False)
    assert analyzer.check("rm -rf /", facts=human).decision.action == "block"
    for line in ("ls -la", "echo hi", "git status", "npm install"):
        assert analyzer.check(line, facts=human).decision.action == "ask", line
        assert analyzer.check(line, facts=nobody).decision.action == "sandbox", line
        assert analyzer.check(line, facts=no_runtime).decision.action == "block", line


def test_a_malformed_managed_file_is_said_by_vg_with_file_and_line(lay: Layout) -> None:
    lay.managed.write_text("guard_level:\n  level: [high\n")
    r = vg(lay, "check", "ls")
    assert r.returncode in (10, 20, 30)  # sandbox, ask or block: never host
    assert f"invalid YAML: expected ',' or ']', but got '<stream end>' [{lay.managed}:3]" in r.stderr
    assert "every command is asked about or sandboxed" in r.stderr
    assert vg(lay, "exec", "rm -rf ~").returncode == 126


# --- The approvals store ----------------------------------------------------------------------------------


def test_the_approvals_file_is_0600_in_a_0700_directory(lay: Layout) -> None:
    lay.project_file.write_text("sandbox:\n  mode: never\n")
    os.rmdir(lay.state)
    lay.allow()
    store = approvals.store_path(lay.state)
    assert stat.S_IMODE(store.stat().st_mode) == 0o600
    assert stat.S_IMODE(lay.state.stat().st_mode) == 0o700
    data = json.loads(store.read_text())
    assert data["version"] == 1
    assert data["approvals"][0]["path"] == os.path.realpath(lay.project_file)
    assert data["approvals"][0]["sha256"] == approvals.digest(lay.project_file.read_bytes())


@pytest.mark.parametrize(
    ("content", "mode", "why"),
    [
        (b"{not json", 0o600, "not JSON"),
        (b'{"version": 2, "approvals": []}', 0o600, "not version 1"),
        (b'{"version": 1, "approvals": {}}', 0o600, "'approvals' is not a list"),
        (b'{"version": 1, "approvals": [{"path": 1}]}', 0o600, "approval 0 has no path"),
        (None, 0o644, "permissions are 0644"),  # a valid approval others could have written
    ],
)
def test_a_corrupt_approvals_file_trusts_nothing_and_is_kept_aside(lay: Layout, content: bytes | None, mode: int,
                                                                   why: str) -> None:
    lay.project_file.write_text("sandbox:\n  mode: never\n")
    lay.allow()
    store = approvals.store_path(lay.state)
    original = content if content is not None else store.read_bytes()
    store.write_bytes(original)
    store.chmod(mode)
    cfg = lay.load()
    assert cfg.sandbox.mode == "auto"  # nothing is trusted
    [problem] = cfg.layers.problems
    assert why in problem and "no project file is trusted" in problem
    [backup] = lay.state.glob("config-approvals.json.bad-*")
    assert backup.read_bytes() == original and stat.S_IMODE(backup.stat().st_mode) == 0o600
    assert not store.exists()
    assert any(n.text == f"vg: config: {problem}" for n in notices(cfg))
    lay.allow()  # approving again starts a fresh store
    assert lay.load().sandbox.mode == "never"


# --- Notices: once per file and session --------------------------------------------------------------------


def vg(lay: Layout, *args: str, session: str = "s1", stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ["PATH"], **lay.env(VG_SESSION=session).env}
    return subprocess.run([sys.executable, "-m", "vgshell.cli", *args], cwd=lay.cwd, env=env, text=True,
                          capture_output=True, input=stdin, timeout=60, check=False)


def test_the_notice_is_said_once_per_file_and_session(lay: Layout) -> None:
    lay.project_file.write_text("# cloned\nrules:\n  disabled: [git.push-force]\n")
    first = vg(lay, "check", "git push --force")
    expected = (f"vg: config: ignored 'rules.disabled' [{lay.project_file}:3]: a project file may only tighten "
                f"the guard; if you trust {lay.project_file}, approve it with: vg config allow {lay.project_file}")
    assert expected in first.stderr
    assert "git.push-force" in first.stdout  # and the rule still scores the line
    assert expected not in vg(lay, "check", "ls").stderr
    assert expected not in vg(lay, "exec", "true").stderr
    assert expected in vg(lay, "check", "ls", session="s2").stderr
    lay.project_file.write_text("# cloned, then edited\nrules:\n  disabled: [git.push-force]\n")
    assert "vg config allow" in vg(lay, "check", "ls").stderr  # another content: said again


def test_notice_log_remembers_across_processes(lay: Layout) -> None:
    lay.project_file.write_text("sandbox:\n  mode: never\n")
    pending = notices(lay.load())
    assert len(NoticeLog(lay.state).due("a", pending)) == 1
    assert NoticeLog(lay.state).due("a", pending) == []
    assert len(NoticeLog(lay.state).due("b", pending)) == 1


# --- vg config allow / deny / status -------------------------------------------------------------------------


def test_vg_config_allow_deny_status(lay: Layout) -> None:
    lay.project_file.write_text("sandbox:\n  mode: never\n")
    r = vg(lay, "config", "allow", stdin="y\n")  # a program, not a person at a terminal: nothing is approved
    assert r.returncode == 2 and "needs a person at a terminal" in r.stderr
    assert vg(lay, "config", "allow", "--yes").returncode == 2  # and there is no flag that stands in for one
    vg_bin = Path(sys.executable).with_name("vg")
    r = vg_exec(lay, f"{vg_bin} config allow", {"VG_MODE": "always", "VG_RUNTIME": "bubblewrap"})
    assert r.returncode != 0 and "inside a sandbox" in r.stderr
    assert lay.load().sandbox.mode == "auto"
    status = json.loads(vg(lay, "config", "status", "--json").stdout)
    assert status["project"] == {"path": str(lay.project_file), "approved": False,
                                 "ignored": [{"key": "sandbox.mode", "where": f"{lay.project_file}:2"}]}
    assert "not approved" in at_terminal(lay, "n")
    assert lay.load().sandbox.mode == "auto"
    out = at_terminal(lay, "y")
    assert f"sandbox.mode: never [{lay.project_file}:2]" in out and f"approved {lay.project_file}" in out
    assert lay.load().sandbox.mode == "never"
    status = json.loads(vg(lay, "config", "status", "--json").stdout)
    assert status["project"]["approved"] and status["approvals"][0]["state"] == "current"
    lay.project_file.write_text("sandbox:\n  mode: never\n# edited\n")
    status = json.loads(vg(lay, "config", "status", "--json").stdout)
    assert not status["project"]["approved"] and status["approvals"][0]["state"].startswith("changed since")
    assert vg(lay, "config", "deny").returncode == 0
    assert vg(lay, "config", "deny").returncode == 1
    assert json.loads(vg(lay, "config", "status", "--json").stdout)["approvals"] == []


def at_terminal(lay: Layout, answer: str) -> str:
    """`vg config allow` at a real terminal, answering the question; what the terminal showed."""
    import io

    import pexpect

    env = {"PATH": os.environ["PATH"], **lay.env(VG_SESSION="s1").env}
    child = pexpect.spawn(sys.executable, ["-m", "vgshell.cli", "config", "allow"], cwd=str(lay.cwd), env=env,
                          encoding="utf-8", timeout=30)
    child.logfile_read = shown = io.StringIO()
    child.expect(r"\[y/N\] ")
    child.sendline(answer)
    child.expect(pexpect.EOF)
    return shown.getvalue().replace("\r", "")


def test_vg_config_allow_refuses_a_broken_file(lay: Layout) -> None:
    lay.project_file.write_text("sandbox:\n  mode: sometimes\n")
    r = vg(lay, "config", "allow")
    assert r.returncode == 3 and f"[{lay.project_file}:2]" in r.stderr
    assert not approvals.store_path(lay.state).exists()


# --- Real bubblewrap runs: what a loosening would expose stays out until approved ----------------------------

USER_SANDBOX = "sandbox:\n  mode: always\n  runtime: bubblewrap\n  security_level: permissive\n  network_mode: none\n"
REAL = [
    # (project text, command, the evidence once approved: stdout text, or a file `~/…` written on the host)
    ("sandbox:\n  env_whitelist: [PATH, HOME, LANG, MY_TOKEN]\n", "echo tok=$MY_TOKEN", "tok=s3cret"),
    ("sandbox:\n  bind_mounts:\n    - {host_path: HOME/data, read_only: true}\n", "cat ~/data/key", "payload"),
    ("sandbox:\n  cache_dirs: [~/data]\n", "touch ~/data/written", "~/data/written"),
    ("sandbox:\n  mode: never\n", "touch ~/ran", "~/ran"),
    ("sandbox:\n  enabled: false\n", "touch ~/ran", "~/ran"),
    ("policies:\n  allowlist: ['touch *']\n", "touch ~/ran", "~/ran"),
]


@pytest.mark.parametrize(("text", "command", "evidence"), REAL, ids=[r[0].split("\n")[1].strip() for r in REAL])
def test_a_loosening_reaches_a_real_sandbox_only_once_approved(lay: Layout, text: str, command: str,
                                                               evidence: str) -> None:
    lay.user_file.write_text(USER_SANDBOX)
    (lay.home / "data").mkdir()
    (lay.home / "data" / "key").write_text("payload\n")
    lay.project_file.write_text(text.replace("HOME/", f"{lay.home}/"))

    def shown(r: subprocess.CompletedProcess[str]) -> bool:
        if evidence.startswith("~/"):
            return (lay.home / evidence[2:]).exists()
        return evidence in r.stdout

    env = {"MY_TOKEN": "s3cret", "LANG": "C.UTF-8"}
    before = vg_exec(lay, command, env)
    assert not shown(before), before.stdout + before.stderr
    assert "vg config allow" in before.stderr
    lay.allow()
    after = vg_exec(lay, command, env)
    assert after.returncode == 0 and shown(after), after.stdout + after.stderr


def vg_exec(lay: Layout, command: str, extra: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ["PATH"], **lay.env(VG_SESSION="real").env, **extra}
    return subprocess.run([sys.executable, "-m", "vgshell.cli", "exec", command], cwd=lay.cwd, env=env, text=True,
                          capture_output=True, timeout=120, check=False)


# --- End to end: a cloned project in a real hooked shell -------------------------------------------------------

CLONED = RM_RULES + "sandbox:\n  mode: never\n"


@pytest.fixture(params=SHELLS)
def cloned(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Shell]:
    sh = Shell(request.param, tmp_path, config=SANDBOX_CONFIG)  # the user's config: mode auto
    (sh.project / "vectra-guard.yaml").write_text(CLONED)
    (sh.home / "canary").write_text("still here")
    yield sh
    sh.close()


def test_a_cloned_project_cannot_disarm_the_guard_and_an_approval_applies(cloned: Shell) -> None:
    canary = cloned.home / "canary"
    status, out = cloned.run("rm -rf ~")
    assert status != 0 and canary.exists()
    assert f"vg config allow {cloned.project / 'vectra-guard.yaml'}" in out  # said once …
    status, out = cloned.run(f"rm -rf {cloned.home}")
    assert status != 0 and canary.exists() and "vg config allow" not in out  # … not on every line
    # medium risk, so sandboxed under the user's mode auto: the project's `mode: never` is not in effect
    cloned.run("chmod 777 ~/canary && touch ~/ran-before")
    assert not (cloned.home / "ran-before").exists()

    cloned.child.send("vg config allow\r")  # a person at the terminal answers
    cloned.child.expect(r"\[y/N\] ")
    cloned.child.send("y\r")
    cloned.child.expect(DONE)
    assert int(cloned.child.match.group(1)) == 0
    cloned.run("chmod 777 ~/canary && touch ~/ran-after")
    assert (cloned.home / "ran-after").exists()  # approved: `mode: never` now runs it on the host
    status, _ = cloned.run("rm -rf ~")
    assert status != 0 and canary.exists()  # fs.rm-protected is critical: no project file switches it off


@pytest.mark.parametrize("kind", SHELLS)
def test_vg_status_in_a_hooked_shell_says_a_critical_rule_is_off(tmp_path: Path, kind: str) -> None:
    sh = Shell(kind, tmp_path, config=SANDBOX_CONFIG + RM_RULES)  # the user's own file may switch it off
    try:
        status, out = sh.run("vg status")
        assert status == 0
        assert "in this shell" in out and "CRITICAL RULE OFF: fs.rm-protected" in out
    finally:
        sh.close()


@pytest.mark.parametrize("kind", SHELLS)
def test_a_hooked_shell_under_a_broken_managed_file_asks_about_everything(tmp_path: Path, kind: str) -> None:
    managed = tmp_path / "managed.yaml"
    managed.write_text("guard_level:\n  level: [high\n")
    sh = Shell(kind, tmp_path, env={"VG_MANAGED_CONFIG": str(managed)})
    try:
        (sh.home / "canary").write_text("still here")
        status, out = sh.run("rm -rf ~")
        assert status != 0 and (sh.home / "canary").exists()
        assert f"[{managed}:3]" in out and "every command is asked about or sandboxed" in out
        sh.child.send("touch ~/ran\r")  # low risk, but nothing runs unasked while the managed file is broken
        sh.child.expect("yes, and remember")
        sh.child.send("n\r")
        sh.child.expect(DONE)
        assert not (sh.home / "ran").exists()
    finally:
        sh.close()
