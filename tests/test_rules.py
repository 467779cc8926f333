"""Rule packs: every packaged pack is valid, and a broken user pack gets one clear error."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from vgshell.errors import RuleError
from vgshell.risk.rules import PREDICATES, LazyRegex, build_ruleset, load_default_ruleset

ROOT = Path(__file__).resolve().parent.parent


def test_packaged_packs_load_and_every_regex_compiles() -> None:
    rs = load_default_ruleset()
    assert len(rs.rules) > 150
    for rule in rs.rules:
        for value in rule.match.values():
            items = value.values() if isinstance(value, dict) else [value]
            for item in items:
                if isinstance(item, LazyRegex):
                    re.compile(item.pattern)


def test_every_category_of_the_spec_has_rules() -> None:
    cats = {r.category for r in load_default_ruleset().rules}
    for needed in ("fs-destruction", "disk-wipe", "fork-bomb", "remote-code-exec", "network-exfil",
                   "privilege-escalation", "permission-weakening", "credential-access", "git-destructive",
                   "container-destructive", "cloud-destructive", "db-destructive", "package-removal",
                   "package-install", "network-fetch"):
        assert needed in cats


def test_docs_list_every_predicate() -> None:
    doc = (ROOT / "docs" / "rules.md").read_text()
    for name in PREDICATES:
        assert f"| `{name}` |" in doc


def test_compiled_rule_set_cache_is_rebuilt_when_a_pack_changes(tmp_path: Path) -> None:
    pack = tmp_path / "mine.yaml"
    pack.write_text("version: 1\nrules:\n  - {id: a.one, level: high, reason: r, match: {command: [one]}}\n")
    first = load_default_ruleset([pack], cache_dir=tmp_path / "cache")
    assert "a.one" in {r.id for r in first.rules}
    pack.write_text("version: 1\nrules:\n  - {id: a.two, level: high, reason: r, match: {command: [two]}}\n")
    second = load_default_ruleset([pack], cache_dir=tmp_path / "cache")
    assert {"a.two"} <= {r.id for r in second.rules} and "a.one" not in {r.id for r in second.rules}
    (next((tmp_path / "cache").glob("*.pickle"))).write_bytes(b"garbage")
    assert "a.two" in {r.id for r in load_default_ruleset([pack], cache_dir=tmp_path / "cache").rules}


RULE = "version: 1\nrules:\n  - id: my.rule\n    level: high\n    reason: r\n    match:\n"
ERRORS = [
    (RULE + "      comand: [x]\n", "unknown predicate in rule 'my.rule' 'comand' (did you mean 'command'?) [u.yaml:3]"),
    (RULE.replace("high", "hgh") + "      command: [x]\n",
     "rule 'my.rule': 'level' must be one of low, medium, high, critical; got 'hgh' [u.yaml:3]"),
    (RULE + "      paths: {covers: nowhere}\n", "rule 'my.rule': unknown path set 'nowhere' in paths.covers"),
    (RULE + "      text: '(unclosed'\n", "rule 'my.rule': 'text' is not a valid regex"),
    (RULE + "      flags: {some: [-f]}\n", "unknown 'flags' option in rule 'my.rule' 'some'"),
    (RULE + "      privileged: yes please\n", "rule 'my.rule': 'privileged' must be true or false"),
    ("version: 1\nrules: [\n", "invalid YAML:"),
    ("- a\n- b\n", "a rule pack must be a mapping with 'rules' [u.yaml]"),
    ("version: 1\nrulez: []\n", "unknown rule pack key 'rulez' (did you mean 'rules'?) [u.yaml]"),
    ("version: 1\nrules:\n  - {id: r, level: low, reason: x}\n", "rule 'r' is missing 'match' [u.yaml:3]"),
]


@pytest.mark.parametrize(("text", "message"), ERRORS, ids=[e[1][:40] for e in ERRORS])
def test_broken_user_pack_errors(text: str, message: str) -> None:
    with pytest.raises(RuleError) as err:
        build_ruleset([("u.yaml", text)])
    assert message in str(err.value)


def test_duplicate_rule_ids_are_refused() -> None:
    text = RULE + "      command: [x]\n"
    with pytest.raises(RuleError, match=r"rule id 'my\.rule' is defined twice"):
        build_ruleset([("a.yaml", text), ("b.yaml", text)])
