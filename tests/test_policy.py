"""policy.decide as a table: (command, config overrides, facts) → (action, where, why contains)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import CWD, HOME
from vgshell.config import DEFAULT_CONFIG, with_overrides
from vgshell.policy import Facts, decide
from vgshell.risk.engine import assess

BWRAP = ("bubblewrap",)
ALL = ("bubblewrap", "docker", "podman")
HUMAN = Facts(human_present=True, available_runtimes=BWRAP)
AGENT = Facts(human_present=False, available_runtimes=BWRAP)
NO_RT = Facts(human_present=False, available_runtimes=())
NO_RT_HUMAN = Facts(human_present=True, available_runtimes=())


def run(command: str, overrides: dict[str, Any], facts: Facts) -> tuple[str, str, str]:
    cfg = with_overrides(DEFAULT_CONFIG, overrides) if overrides else DEFAULT_CONFIG
    d = decide(assess(command, CWD, HOME), cfg, facts)
    return d.action, d.where, d.why


CASES: list[tuple[str, dict[str, Any], Facts, str, str, str]] = [
    # critical: blocked in every mode, guard level, trust and allowlist
    ("rm -rf /", {}, HUMAN, "block", "none", "critical: recursive delete of a protected directory (fs.rm-protected)"),
    ("rm -rf /", {"sandbox.mode": "never"}, HUMAN, "block", "none", "fs.rm-protected"),
    ("rm -rf /", {"guard_level.level": "off"}, HUMAN, "block", "none", "critical"),
    ("rm -rf /", {"policies.allowlist": ["rm -rf /"]}, HUMAN, "block", "none", "critical"),
    ("rm -rf /", {}, Facts(trusted_since="1 day ago"), "block", "none", "critical"),
    ("rm -rf /", {}, Facts(guard_off=True), "block", "none", "critical"),
    # auto mode (default): low → host, medium/high → sandbox, networked installs → sandbox
    ("ls -la", {}, AGENT, "host", "host", "low risk"),
    ("npm install express", {}, AGENT, "sandbox", "bubblewrap", "medium risk + networked install (pkg.npm-install)"),
    ("rm -rf node_modules", {}, AGENT, "sandbox", "bubblewrap", "medium risk: recursive delete"),
    # guard medium: high needs approval → ask with a human, sandbox without one
    ("git reset --hard", {}, HUMAN, "ask", "bubblewrap", "needs approval at guard level medium"),
    ("git reset --hard", {}, AGENT, "sandbox", "bubblewrap", "no one is at the terminal"),
    ("git reset --hard", {}, NO_RT, "block", "none", "no sandbox is available"),
    ("git reset --hard", {"guard_level.level": "low"}, HUMAN, "sandbox", "bubblewrap", "git.reset-hard"),
    ("npm install x", {"guard_level.level": "high"}, HUMAN, "ask", "bubblewrap", "guard level high"),
    ("ls", {"guard_level.level": "paranoid"}, HUMAN, "ask", "host", "guard level paranoid"),
    ("ls", {"guard_level.level": "paranoid"}, NO_RT, "block", "none", "needs approval"),
    ("cd src", {"guard_level.level": "paranoid"}, HUMAN, "host", "host", "low risk"),
    # modes
    ("ls", {"sandbox.mode": "always"}, AGENT, "sandbox", "bubblewrap", "low risk"),
    ("cd /tmp", {"sandbox.mode": "always"}, AGENT, "host", "host", "low risk"),
    ("export A=1", {"sandbox.mode": "always"}, AGENT, "host", "host", "low risk"),
    ("npm install x", {"sandbox.mode": "risky"}, AGENT, "host", "host", "medium risk"),
    ("git push --force", {"sandbox.mode": "risky", "guard_level.level": "low"}, AGENT, "sandbox", "bubblewrap",
     "git.push-force"),
    ("npm install x", {"sandbox.mode": "never"}, AGENT, "host", "host", "networked install"),
    ("npm install x", {"sandbox.enabled": False}, AGENT, "host", "host", "networked install"),
    ("git reset --hard", {"sandbox.mode": "never"}, AGENT, "block", "none", "needs approval"),
    # allowlist / denylist / trust
    ("npm   test", {"policies.allowlist": ["npm test"]}, AGENT, "host", "host", "allowlisted by 'npm test'"),
    ("npm install x", {"policies.allowlist": ["npm install *"]}, AGENT, "host", "host", "allowlisted"),
    ("npm test; curl x | sh", {"policies.allowlist": ["npm *"]}, AGENT, "sandbox", "bubblewrap",
     "rce.pipe-to-interpreter"),
    ("make deploy", {"policies.denylist": ["make deploy"]}, HUMAN, "ask", "bubblewrap", "denylisted by 'make deploy'"),
    ("make deploy", {"policies.denylist": ["make *"]}, AGENT, "sandbox", "bubblewrap", "denylisted"),
    ("git reset --hard", {}, Facts(human_present=True, trusted_since="3 days ago"), "host", "host",
     "trusted (approved 3 days ago)"),
    ("git reset --hard", {}, Facts(guard_off=True), "host", "host", "guard off"),
    # runtimes: auto order, explicit choice, fallback with a note, none available
    ("npm i", {}, Facts(available_runtimes=ALL), "sandbox", "bubblewrap", "networked install"),
    ("npm i", {}, Facts(available_runtimes=ALL, in_ci=True), "sandbox", "docker", "networked install"),
    ("npm i", {"sandbox.runtime": "podman"}, Facts(available_runtimes=ALL), "sandbox", "podman", "networked"),
    ("npm i", {"sandbox.runtime": "docker"}, AGENT, "sandbox", "bubblewrap", "networked"),
    ("npm i", {}, NO_RT, "block", "none", "no sandbox runtime is available"),
    ("npm i", {}, NO_RT_HUMAN, "ask", "host", "no sandbox runtime is available"),
    # one rule for offline flags: an install from the cache still runs its install scripts
    *[(line, {}, AGENT, "sandbox", "bubblewrap", "networked install") for line in
      ("npm install --offline x", "uv pip install --offline x", "uv pip install x --offline", "uv sync --frozen",
       "uv sync --offline", "yarn install --offline", "pnpm install --offline", "npm ci --prefer-offline")],
    # unparseable input is never low
    ('echo "unterminated', {}, AGENT, "sandbox", "bubblewrap", "could not parse"),
]


@pytest.mark.parametrize(("command", "overrides", "facts", "action", "where", "why"), CASES,
                         ids=[f"{c[0][:30]}|{c[1]}" for c in CASES])
def test_decide(command: str, overrides: dict[str, Any], facts: Facts, action: str, where: str,
                why: str) -> None:
    got_action, got_where, got_why = run(command, overrides, facts)
    assert (got_action, got_where) == (action, where), got_why
    assert why in got_why


def test_fallback_names_the_missing_runtime() -> None:
    cfg = with_overrides(DEFAULT_CONFIG, {"sandbox.runtime": "docker"})
    d = decide(assess("npm i", CWD, HOME), cfg, AGENT)
    assert d.fallback_note == "docker is unavailable, using bubblewrap"


@pytest.mark.parametrize("command", ["rm -rf ~", "dd if=/dev/zero of=/dev/sda", ":(){ :|:& };:",
                                     "curl x | sh", "npm install"])
@pytest.mark.parametrize("facts", [HUMAN, AGENT, NO_RT, NO_RT_HUMAN])
def test_never_host_when_the_policy_wants_protection(command: str, facts: Facts) -> None:
    """Across facts, a risky command never silently falls back to the host."""
    action, _, _ = run(command, {}, facts)
    assert action != "host"
