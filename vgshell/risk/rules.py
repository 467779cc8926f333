"""Rule packs: YAML data → validated, compiled `Rule`s.

A pack is one YAML file: `version`, `category`, optional `paths` (named path sets), `tools` (options that
take a value, so subcommands are found past them) and `rules`. Each rule has an `id`, a `level`, a
`reason` and a `match` mapping of predicates that must all hold. See docs/rules.md for every predicate.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import pickle
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vgshell.errors import RuleError
from vgshell.lazy import LazyModule
from vgshell.risk.model import Level

if TYPE_CHECKING:
    import yaml
else:
    yaml = LazyModule("yaml")  # a cached rule set needs no YAML at all

CACHE_FORMAT = 2

PREDICATES = {
    "command": "names (or globs) of the command, after wrappers are seen through",
    "command_not": "names the rule never applies to",
    "subcommand": "alternatives, each the first positional words ('stash drop'); globs allowed",
    "verb": "globs; any of the first four positional words matches",
    "flags": "{any, all, none}: option flags; short flags match inside clusters (-rf has -r and -f)",
    "args": "{any, none}: globs over every argument; {regex}: a case-insensitive regex over any argument",
    "positional_count": "{min, max}: how many non-option arguments",
    "paths": "{covers, within, match, not_within: SET or globs; outside_cwd, unknown, whole_cwd, sources, target: "
             "true}: about any non-option argument, resolved against the working directory",
    "redirects": "{to, from: SET or globs}: resolved targets of output / input redirections",
    "upstream": "names of commands earlier in the same pipeline",
    "downstream": "names of commands later in the same pipeline; [] means nothing reads its output there",
    "sends": "{match: SET or globs; any: true}: files and $VARIABLES the command sends to another host (upload "
             "options, input redirections, what earlier pipeline stages read)",
    "fed_by": "names of commands whose output this command runs as code",
    "code": "regex over inline program text (python -c, node -e, awk programs…)",
    "text": "regex over the arguments, inline code and known stdin text together",
    "params": "globs over $VARIABLE names the command expands",
    "assigns": "globs over NAME=value assignments placed before the command",
    "privileged": "true: runs under sudo/doas/pkexec",
    "remote": "true: runs on another host via ssh",
    "runs_downloaded": "true: executes a file downloaded earlier on the same line",
    "self_spawning": "true: a function that starts itself in a pipe or the background (fork bomb)",
    "glob_name": "true: the command name itself is a glob (/???/??t)",
    "unseen": "globs over what the analysis could not see for the command: 'stdin' (a shell runs text piped "
              "in that is not known), 'script' (a script file it runs could not be read)",
    "hidden_name": "globs over the command word as written when its value is only known at run time ($x)",
    "hidden_name_not": "globs over such command words that do not match ($EDITOR)",
    "remote_target": "true: an argument names a host or URL other than this machine",
    "via": "globs over how the command was reached ('bash -c', '$( )', 'xargs'…)",
    "via_not": "globs over how the command was reached that must not match ('$( ) into variables')",
    "reads_terminal": "true: nothing is piped or redirected into its stdin (no |, <, heredoc or here-string)",
}
RULE_KEYS = ("id", "level", "reason", "match", "facts", "category", "note")
FACT_KEYS = ("networked_install", "ecosystem", "leaves_guard")
PACK_KEYS = ("version", "category", "description", "paths", "tools", "rules")


@dataclass(frozen=True)
class Rule:
    id: str
    category: str
    level: Level
    reason: str
    match: Mapping[str, Any]
    networked_install: bool = False
    ecosystem: str | None = None
    source: str = ""
    leaves_guard: bool = False  # starts an interactive shell without the vgshell hook, or keeps it out


@dataclass(frozen=True)
class RuleSet:
    """All rules, indexed by command name, with the path sets and tool option tables they use."""

    rules: tuple[Rule, ...]
    paths: Mapping[str, tuple[str, ...]]
    tools: Mapping[str, frozenset[str]]
    by_name: Mapping[str, tuple[Rule, ...]] = field(default_factory=dict)
    generic: tuple[Rule, ...] = ()


PACKAGED = "vgshell/risk/rules/"  # packaged packs' regexes are compiled by the test suite, not at start-up

def _line_loader() -> Any:
    """A YAML loader (libyaml when present: 10x faster) that keeps the line of every mapping."""
    base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class LineLoader(base):  # type: ignore[misc]
        pass

    def mapping_with_line(loader: Any, node: Any) -> dict[str, Any]:
        data: dict[str, Any] = loader.construct_mapping(node, deep=True)
        data["__line__"] = node.start_mark.line + 1
        return data

    LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping_with_line)
    return LineLoader


def load_default_ruleset(extra: Iterable[Path] = (), cache_dir: Path | None = None) -> RuleSet:
    """The packaged rule packs plus the user's packs (`extra`). Packaged regexes are checked by the test
    suite; user packs are checked as they load."""
    texts: list[tuple[str, str]] = []
    folder = Path(__file__).parent / "rules"
    for entry in sorted(folder.glob("*.yaml")):
        texts.append((PACKAGED + entry.name, entry.read_text(encoding="utf-8")))
    for path in extra:
        try:
            texts.append((str(path), path.read_text(encoding="utf-8")))
        except OSError as e:
            raise RuleError(f"cannot read rule pack: {e.strerror} [{path}]") from e
    if cache_dir is None:
        return build_ruleset(texts)
    return _cached(texts, cache_dir)


def _cached(texts: list[tuple[str, str]], cache_dir: Path) -> RuleSet:
    """The compiled rule set from `cache_dir` when the packs are unchanged; else build and store it.

    The key is a hash of every pack's name and text, so an edited or added pack is never served stale;
    an unreadable or corrupt cache file is simply rebuilt.
    """
    digest = hashlib.sha256(repr((CACHE_FORMAT, texts)).encode("utf-8", "surrogateescape")).hexdigest()[:24]
    path = cache_dir / f"rules-{digest}.pickle"
    try:
        with path.open("rb") as f:
            cached = pickle.load(f)
        if isinstance(cached, RuleSet):
            return cached
    except (OSError, pickle.PickleError, EOFError, AttributeError, ValueError, TypeError):
        pass
    ruleset = build_ruleset(texts)
    _store(ruleset, cache_dir, path)
    return ruleset


def _store(ruleset: RuleSet, cache_dir: Path, path: Path) -> None:
    try:
        cache_dir.parent.mkdir(parents=True, exist_ok=True, mode=0o700)  # the state dir: 0700
        cache_dir.mkdir(exist_ok=True, mode=0o700)
        for old in cache_dir.glob("rules-*.pickle"):
            old.unlink(missing_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            pickle.dump(ruleset, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    except OSError:
        pass  # a cache that cannot be written only costs speed


def build_ruleset(texts: Iterable[tuple[str, str]]) -> RuleSet:
    rules: list[Rule] = []
    paths: dict[str, list[str]] = {}
    tools: dict[str, set[str]] = {}
    for source, text in texts:
        pack = _load_pack(source, text)
        for name, entries in (pack.get("paths") or {}).items():
            if name != "__line__":
                paths.setdefault(name, []).extend(_str_list(entries, source, f"paths.{name}"))
        for tool, valued in (pack.get("tools") or {}).items():
            if tool != "__line__":
                tools.setdefault(tool, set()).update(_str_list(valued, source, f"tools.{tool}"))
        rules.extend(_rule(r, pack.get("category", ""), source) for r in pack.get("rules") or [])
    _check_unique(rules)
    frozen_paths = {k: tuple(v) for k, v in paths.items()}
    for rule in rules:
        _check_path_sets(rule, frozen_paths)
    by_name: dict[str, list[Rule]] = {}
    generic: list[Rule] = []
    for rule in rules:
        names = rule.match.get("command")
        if names and not any(_is_glob(n) for n in names):
            for n in names:
                by_name.setdefault(n, []).append(rule)
        else:
            generic.append(rule)
    return RuleSet(tuple(rules), frozen_paths, {k: frozenset(v) for k, v in tools.items()},
                   {k: tuple(v) for k, v in by_name.items()}, tuple(generic))


def _load_pack(source: str, text: str) -> dict[str, Any]:
    try:
        data = yaml.load(text, Loader=_line_loader())
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise RuleError(f"invalid YAML: {getattr(e, 'problem', e)} [{source}{line}]") from e
    if not isinstance(data, dict):
        raise RuleError(f"a rule pack must be a mapping with 'rules' [{source}]")
    _unknown_keys(data, PACK_KEYS, "rule pack key", source)
    if not isinstance(data.get("rules", []), list):
        raise RuleError(f"'rules' must be a list [{source}:{data['__line__']}]")
    return data


def _rule(raw: Any, category: str, source: str) -> Rule:
    if not isinstance(raw, dict):
        raise RuleError(f"each rule must be a mapping; got {raw!r} [{source}]")
    where = f"[{source}:{raw.get('__line__', '?')}]"
    _unknown_keys(raw, RULE_KEYS, "rule key", where[1:-1])
    for key in ("id", "level", "reason", "match"):
        if key not in raw:
            raise RuleError(f"rule {raw.get('id', '?')!r} is missing '{key}' {where}")
    try:
        level = Level.parse(str(raw["level"]))
    except KeyError:
        raise RuleError(f"rule {raw['id']!r}: 'level' must be one of low, medium, high, critical; "
                        f"got {raw['level']!r} {where}") from None
    match = raw["match"]
    if not isinstance(match, dict):
        raise RuleError(f"rule {raw['id']!r}: 'match' must be a mapping {where}")
    _unknown_keys(match, tuple(PREDICATES), f"predicate in rule {raw['id']!r}", where[1:-1])
    facts = raw.get("facts") or {}
    _unknown_keys(facts, FACT_KEYS, f"fact in rule {raw['id']!r}", where[1:-1])
    clean = {k: _compile(k, v, raw["id"], where) for k, v in match.items() if k != "__line__"}
    return Rule(str(raw["id"]), str(raw.get("category", category)), level, str(raw["reason"]), clean,
                bool(facts.get("networked_install", False)), facts.get("ecosystem"), source,
                bool(facts.get("leaves_guard", False)))


def _compile(key: str, value: Any, rule_id: str, where: str) -> Any:
    """Normalise a predicate's value (lists to tuples, regexes compiled) and check its shape."""
    if isinstance(value, dict):
        value = {k: v for k, v in value.items() if k != "__line__"}
    if key in ("command", "command_not", "verb", "upstream", "downstream", "fed_by", "params", "assigns", "via",
               "via_not", "hidden_name",
               "hidden_name_not", "unseen"):
        return tuple(_str_list(value, where, f"{rule_id}.{key}"))
    if key == "subcommand":
        return tuple(tuple(s.split()) for s in _str_list(value, where, f"{rule_id}.{key}"))
    if key in ("code", "text"):
        return _regex(value, rule_id, key, where)
    if key in ("flags", "args", "redirects", "paths", "positional_count", "sends"):
        if not isinstance(value, dict):
            raise RuleError(f"rule {rule_id!r}: '{key}' must be a mapping {where}")
        allowed = {"flags": ("any", "all", "none"), "args": ("any", "none", "regex"),
                   "redirects": ("to", "from"), "positional_count": ("min", "max"),
                   "paths": ("covers", "within", "match", "not_within", "outside_cwd", "unknown", "whole_cwd",
                             "sources", "target"),
                   "sends": ("match", "any")}[key]
        _unknown_keys(value, allowed, f"'{key}' option in rule {rule_id!r}", where[1:-1])
        out: dict[str, Any] = {}
        for k, v in value.items():
            if k == "regex":
                out[k] = _regex(v, rule_id, f"{key}.regex", where)
            elif isinstance(v, (bool, int)):
                out[k] = v
            else:
                out[k] = tuple(_str_list(v, where, f"{rule_id}.{key}.{k}"))
        return out
    if not isinstance(value, bool):
        raise RuleError(f"rule {rule_id!r}: '{key}' must be true or false; got {value!r} {where}")
    return value


class LazyRegex:
    """A regex compiled on first use: most commands never reach most rules' regexes, and compiling all
    of them up front would cost a cold `vg check` more than the rest of the analysis."""

    __slots__ = ("_compiled", "pattern")

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self._compiled: re.Pattern[str] | None = None

    def search(self, text: str) -> re.Match[str] | None:
        if self._compiled is None:
            self._compiled = re.compile(self.pattern, re.IGNORECASE | re.DOTALL)
        return self._compiled.search(text)


def _regex(value: Any, rule_id: str, key: str, where: str) -> LazyRegex:
    try:
        if not where.startswith("[" + PACKAGED):
            re.compile(str(value), re.IGNORECASE | re.DOTALL)
    except re.error as e:
        raise RuleError(f"rule {rule_id!r}: '{key}' is not a valid regex ({e}) {where}") from e
    return LazyRegex(str(value))


def _str_list(value: Any, where: str, key: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, (str, int, float)) for v in value):
        return [str(v) for v in value]
    raise RuleError(f"'{key}' must be a string or a list of strings; got {value!r} {where}")


def _unknown_keys(data: Mapping[str, Any], valid: tuple[str, ...], what: str, where: str) -> None:
    for key in data:
        if key != "__line__" and key not in valid:
            close = difflib.get_close_matches(str(key), valid, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else f"; valid: {', '.join(valid)}"
            raise RuleError(f"unknown {what} '{key}'{hint} [{where}]")


def _check_unique(rules: list[Rule]) -> None:
    seen: dict[str, str] = {}
    for r in rules:
        if r.id in seen:
            raise RuleError(f"rule id {r.id!r} is defined twice [{seen[r.id]}] and [{r.source}]")
        seen[r.id] = r.source


def _check_path_sets(rule: Rule, paths: Mapping[str, tuple[str, ...]]) -> None:
    for key in ("paths", "redirects", "sends"):
        for sub, names in (rule.match.get(key) or {}).items():
            if isinstance(names, tuple):
                for n in names:
                    if not n.startswith(("/", "~", "*")) and n not in paths:
                        raise RuleError(f"rule {rule.id!r}: unknown path set {n!r} in {key}.{sub}; "
                                        f"known: {', '.join(sorted(paths))} [{rule.source}]")


def _is_glob(text: str) -> bool:
    return any(c in text for c in "*?[")
