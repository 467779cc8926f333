"""One place that turns a command line into an assessment and a decision: what `vg check`, `vg exec`,
the hooks' analyzer server and the interactive shell all call. Load once, call many times.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from vgshell.config import Config
from vgshell.context import Environment
from vgshell.files import HostFiles
from vgshell.policy import Decision, Facts, decide
from vgshell.risk.engine import assess
from vgshell.risk.model import Assessment, Level
from vgshell.risk.rules import Rule, RuleSet, load_default_ruleset
from vgshell.sandbox.caches import cache_paths
from vgshell.sandbox.detect import available_runtimes
from vgshell.trust import Entry, TrustIndex, ago, store_path
from vgshell.unwrap import Files


@dataclass(frozen=True)
class Verdict:
    """`trusted` is the trust-store entry the decision rests on ("trusted (approved … ago)"), if any."""

    assessment: Assessment
    decision: Decision
    cache_mounts: tuple[str, ...]
    trusted: Entry | None = None

    def to_json(self) -> dict[str, Any]:
        a, d = self.assessment, self.decision
        return {
            "command": a.command,
            "risk": str(a.risk),
            "decision": d.action,
            "runtime": d.where,
            "reason": d.why,
            "findings": [f.to_json() for f in a.findings],
            "networked_install": a.networked_install,
            "cache_mounts": list(self.cache_mounts),
        }


PINNED_BY_MANAGED = frozenset({"guard_level.level", "sandbox.mode", "sandbox.enabled"})


class Analyzer:
    """Holds the rules, config and machine facts; `check()` is pure given those."""

    def __init__(self, env: Environment, cfg: Config, rules: RuleSet | None = None,
                 files: Files | None = None) -> None:
        self.env = env
        self.cfg = cfg
        extra = [_path(p, env) for p in cfg.rules.paths]
        user_dir = env.state_dir / "rules"
        if user_dir.is_dir():
            extra.extend(sorted(user_dir.glob("*.yaml")))
        self.rules = rules or load_default_ruleset(extra, cache_dir=env.state_dir / "cache")
        # critical rules named in `rules.disabled` stay on unless the user or managed file names them
        self.kept_critical: tuple[str, ...] = ()
        if cfg.rules.disabled and not cfg.layers.disable_critical:
            critical = {r.id for r in self.rules.rules if r.level is Level.CRITICAL}
            self.kept_critical = tuple(rule for rule in cfg.rules.disabled if rule in critical)
        if cfg.rules.disabled:
            self.rules = _without(self.rules, tuple(r for r in cfg.rules.disabled if r not in self.kept_critical))
        self.facts = Facts(human_present=env.human_present,
                           available_runtimes=available_runtimes(env.env), in_ci=env.in_ci)
        layers = cfg.layers
        # `vg off` in a shell does not switch off what the managed config pins, nor a config that failed closed
        self._pinned = layers.closed is not None or bool(PINNED_BY_MANAGED & set(layers.managed))
        self.trust = TrustIndex(store_path(env.state_dir, cfg.trust.store_path, env.home), env.stderr)
        self.files = files if files is not None else HostFiles()  # scripts the line runs, globbed names

    def check(self, command: str, cwd: str | None = None, env: Mapping[str, str] | None = None,
              facts: Facts | None = None) -> Verdict:
        a = assess(command, cwd or self.env.cwd, self.env.home, self.rules, files=self.files)
        facts = facts or self.facts
        if facts.guard_off and self._pinned:
            facts = replace(facts, guard_off=False)
        entry = None
        if facts.trusted_since is None and self.cfg.layers.closed is None:  # failed closed: nothing is trusted
            now = self.env.clock()
            entry = self.trust.lookup(command, now)
            if entry is not None:
                facts = replace(facts, trusted_since=ago(now - entry.approved_at))
        d = decide(a, self.cfg, facts)
        mounts: tuple[str, ...] = ()
        if self.cfg.sandbox.enable_cache and d.where not in ("host", "none") and a.ecosystems:
            mounts = cache_paths(a.ecosystems, self.env.home, self.env.env)
        used = entry if entry is not None and d.why.startswith("trusted (") else None
        return Verdict(a, d, mounts, used)


def _path(p: str, env: Environment) -> Path:
    return Path(p.replace("~", env.home, 1) if p.startswith("~") else p)


def _without(rules: RuleSet, disabled: tuple[str, ...]) -> RuleSet:
    """The rule set less the rules the user switched off (`rules.disabled`)."""
    off = set(disabled)

    def keep(rs: tuple[Rule, ...]) -> tuple[Rule, ...]:
        return tuple(r for r in rs if r.id not in off)

    return RuleSet(keep(rules.rules), rules.paths, rules.tools,
                   {k: keep(v) for k, v in rules.by_name.items()}, keep(rules.generic))
