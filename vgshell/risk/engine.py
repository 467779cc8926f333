"""Match rules against Invocations and sum the findings into an Assessment. Pure."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Mapping
from fnmatch import fnmatchcase
from functools import lru_cache
from typing import Any

from vgshell.expand import UNKNOWN
from vgshell.parse import parse
from vgshell.risk.model import Assessment, Finding, Level
from vgshell.risk.rules import LazyRegex, Rule, RuleSet, load_default_ruleset
from vgshell.unwrap import Files, Invocation, flatten

MAX_FINDINGS = 50
MAX_INPUT = 64 * 1024  # a typed line or agent command is far smaller; beyond this, refuse rather than guess
_LOOPBACK = re.compile(r"^(localhost|127(\.\d+){0,3}|\[?::1\]?|0\.0\.0\.0)$", re.I)
_HOSTLIKE = re.compile(r"^(?:[a-z][a-z0-9+.-]*://)?(?:[^@/\s]+@)?([A-Za-z0-9_.-]+\.[A-Za-z]{2,}|localhost|"
                       r"\d{1,3}(?:\.\d{1,3}){3}|\[[0-9a-fA-F:]+\])(?::\d+)?(?:[/?#].*)?$")


@lru_cache(maxsize=1)
def default_ruleset() -> RuleSet:
    return load_default_ruleset()


def assess(command: str, cwd: str | None, home: str, ruleset: RuleSet | None = None,
           env: Mapping[str, str] | None = None, files: Files | None = None) -> Assessment:
    """Parse `command` as run from `cwd` and score it. Never raises on any input text. With `files`, the
    scripts the line runs are read and judged with it (see `vgshell.files`)."""
    rules = ruleset or default_ruleset()
    if len(command) > MAX_INPUT:
        reason = f"over {MAX_INPUT // 1024} KiB: too large to analyse safely; run it as a script file instead"
        return Assessment(command, Level.CRITICAL, (Finding("parse.too-large", "parse", Level.CRITICAL,
                          command[:120], reason),), parse_error=reason)
    script = parse(command)
    flat = flatten(script, cwd, home, env, files)
    findings: list[Finding] = []
    seen: set[str] = set()
    memo = _memo_for(rules)
    for inv in flat.invocations:
        matched = memo.get(inv)
        if matched is None:
            view = _View(inv, rules)
            matched = [r for r in (*rules.by_name.get(inv.name, ()), *_generic_for(inv, rules)) if _matches(r, view)]
            if len(memo) > MAX_MEMO:
                memo.clear()
            memo[inv] = matched
        for rule in _strongest_per_category(matched):
            if rule.id not in seen:
                seen.add(rule.id)
                findings.append(Finding(rule.id, rule.category, rule.level, _display(inv),
                                        rule.reason, inv.via, inv.where))
        if len(findings) >= MAX_FINDINGS:
            break
    findings.sort(key=lambda f: -f.level)
    error = flat.errors[0] if flat.errors else None
    if error:
        findings.append(Finding("parse.error", "parse", Level.MEDIUM, command[:120],
                                error if error.startswith("could not parse") else f"could not parse: {error}"))
    fired = {f.rule for f in findings}
    by_id = {r.id: r for r in rules.rules}
    ecosystems = tuple(dict.fromkeys(e for rid in fired if (r := by_id.get(rid)) and (e := r.ecosystem)))
    risk = max((f.level for f in findings), default=Level.LOW)
    return Assessment(command, risk, tuple(findings),
                      networked_install=any(by_id[m].networked_install for m in fired if m in by_id),
                      ecosystems=ecosystems, state_change=flat.state_change, parse_error=error,
                      workdirs=_workdirs(flat.invocations, cwd),
                      leaves_guard=any(by_id[m].leaves_guard for m in fired if m in by_id))


def _workdirs(invocations: tuple[Invocation, ...], cwd: str | None) -> tuple[str, ...]:
    """Where the line's own `cd`s take its commands (known absolute directories only), for the sandbox."""
    dirs = dict.fromkeys(i.cwd for i in invocations if i.cwd and i.cwd != cwd and i.cwd.startswith("/")
                         and UNKNOWN not in i.cwd)
    return tuple(dirs)[:MAX_WORKDIRS]


MAX_MEMO = 4096
_MEMOS: dict[int, tuple[RuleSet, dict[Invocation, list[Rule]]]] = {}


def _memo_for(rules: RuleSet) -> dict[Invocation, list[Rule]]:
    """The rules each Invocation matched, remembered per rule set: a script judged again (or the same
    command in many lines) is matched once. The RuleSet is held so its id is never reused while cached."""
    found = _MEMOS.get(id(rules))
    if found is None or found[0] is not rules:
        if len(_MEMOS) > 8:
            _MEMOS.clear()
        found = _MEMOS[id(rules)] = (rules, {})
    return found[1]


# a generic rule (no command name to index it by) with one of these predicates can only match an
# Invocation whose attribute is non-empty: those rules are skipped without evaluating them
_GATES = ("redirects", "code", "assigns", "params", "unseen", "hidden_name", "privileged", "self_spawning",
          "glob_name", "runs_downloaded", "remote")
_GATED: dict[int, _Gated] = {}


class _Gated:
    """The generic rules of one rule set, split by the attribute that gates them, and those open to any
    Invocation narrowed per command name (their `command` globs, `python*`, are matched once per name)."""

    def __init__(self, rules: RuleSet) -> None:
        self.rules = rules  # held so its id is never reused while cached
        self.open: list[Rule] = []
        gated: dict[str, list[Rule]] = {}
        for r in rules.generic:
            gate = next((g for g in _GATES if g in r.match and r.match[g] not in ((), False, None)), None)
            (gated.setdefault(gate, []) if gate else self.open).append(r)
        self.gated = tuple((g, tuple(rs)) for g, rs in gated.items())
        self.by_name: dict[str, tuple[Rule, ...]] = {}

    def named(self, name: str) -> tuple[Rule, ...]:
        found = self.by_name.get(name)
        if found is None:
            if len(self.by_name) > 4096:
                self.by_name.clear()
            found = self.by_name[name] = tuple(
                r for r in self.open if "command" not in r.match or _name_matches(r.match["command"], name))
        return found


def _generic_for(inv: Invocation, rules: RuleSet) -> list[Rule]:
    found = _GATED.get(id(rules))
    if found is None or found.rules is not rules:
        if len(_GATED) > 8:
            _GATED.clear()
        found = _GATED[id(rules)] = _Gated(rules)
    out = list(found.named(inv.name))
    for gate, rs in found.gated:
        if getattr(inv, gate) not in (None, (), False):
            out.extend(rs)
    return out


def _name_matches(names: tuple[str, ...], name: str) -> bool:
    literal, globs = _name_index(names)
    return name in literal or bool(globs and globs.match(name))


MAX_WORKDIRS = 16


def _strongest_per_category(matched: list[Rule]) -> list[Rule]:
    """For one command, only the highest-level rule of each category: `rm -rf /` is one finding, not four."""
    best: dict[str, Rule] = {}
    for r in matched:
        if r.category not in best or r.level > best[r.category].level:
            best[r.category] = r
    return list(best.values())


def _display(inv: Invocation) -> str:
    text = inv.text
    return text if len(text) <= 120 else text[:117] + "..."


class _View:
    """An Invocation with the derived facts rules ask about, computed once and only when asked."""

    def __init__(self, inv: Invocation, rules: RuleSet) -> None:
        self.inv = inv
        self.rules = rules
        self._positionals: list[str] | None = None
        self._paths: list[str] | None = None
        self._flags: tuple[set[str], set[str]] | None = None
        self._sent: tuple[str, ...] | None = None

    @property
    def positionals(self) -> list[str]:
        if self._positionals is None:
            self._positionals = _positionals(self.inv.args, self.rules.tools.get(self.inv.name, frozenset()))
        return self._positionals

    @property
    def paths(self) -> list[str]:
        if self._paths is None:
            self._paths = [_resolve(p, self.inv.cwd) for p in self.positionals if p]
            self._paths += [_resolve(p, self.inv.cwd) for p in _option_paths(self.inv.args, self.inv.home)]
        return self._paths

    @property
    def flags(self) -> tuple[set[str], set[str]]:
        """(long options and whole words, short letters found in clusters)."""
        if self._flags is None:
            words: set[str] = set()
            letters: set[str] = set()
            for a in self.inv.args:
                if a == "--":
                    break
                if a.startswith("--"):
                    words.add(a.partition("=")[0])
                elif a.startswith("-") and len(a) > 1:
                    words.add(a)
                    if a[1:].isalpha():
                        letters.update(a[1:])
            self._flags = (words, letters)
        return self._flags

    def has_flag(self, flag: str) -> bool:
        words, letters = self.flags
        if flag in words:
            return True
        return len(flag) == 2 and flag[0] == "-" and flag[1] in letters

    def expand_set(self, names: tuple[str, ...]) -> tuple[str, ...]:
        return _expand_set(names, self.rules.paths.get, self.inv.home)

    @property
    def sent(self) -> tuple[str, ...]:
        if self._sent is None:
            from vgshell.risk.sends import sent

            self._sent = sent(self.inv)
        return self._sent


def _positionals(args: tuple[str, ...], valued: frozenset[str]) -> list[str]:
    out: list[str] = []
    skip = False
    ended = False
    for a in args:
        if skip:
            skip = False
            continue
        if ended or not a.startswith("-") or a == "-":
            out.append(a)
        elif a == "--":
            ended = True
        elif a in valued:
            skip = True
    return out


_OPTION_PATH = re.compile(r"(?:--[\w-]+|if|of)=(/|~/|\.\.?/)")


def _option_paths(args: tuple[str, ...], home: str) -> list[str]:
    """Paths given as option values: `--file=/etc/x`, `--target-directory=~/bin`, dd's `if=`/`of=`
    (`~/` read as the home directory: bash expands it after `if=`, and a program may)."""
    found = []
    for a in args:
        m = _OPTION_PATH.match(a)
        if m is not None:
            value = a[m.start(1):]
            found.append(home + value[1:] if value.startswith("~/") else value)
    return found


def _resolve(path: str, cwd: str | None) -> str:
    from vgshell.unwrap import resolve  # one definition of path resolution

    return resolve(path, cwd)


# ------------------------------------------------------------------ predicates


def _matches(rule: Rule, v: _View) -> bool:
    checks = _CHECKS.get(rule.id)
    if checks is None or checks[0] is not rule:
        checks = _CHECKS[rule.id] = (rule, tuple((_PREDICATES[key], want) for key, want in _ordered(rule)))
    for check, want in checks[1]:  # noqa: SIM110 - a plain loop: all(generator) costs twice as much here
        if not check(v, want):
            return False
    return True


_CHECKS: dict[str, tuple[Rule, tuple[tuple[Callable[[_View, Any], bool], Any], ...]]] = {}


_COST = {"self_spawning": 0, "unseen": 0,
         "runs_downloaded": 0, "glob_name": 0, "privileged": 0, "remote": 0, "hidden_name": 0,
         "reads_terminal": 1,
         "hidden_name_not": 1, "via_not": 1,
         "command": 1, "command_not": 1, "assigns": 1, "fed_by": 1, "upstream": 1, "downstream": 1, "params": 1,
         "via": 1,
         "redirects": 2, "code": 2, "subcommand": 3, "verb": 3, "flags": 3, "positional_count": 3,
         "args": 4, "remote_target": 4, "text": 5, "paths": 6, "sends": 7}
_ORDER_CACHE: dict[str, tuple[tuple[str, Any], ...]] = {}


def _ordered(rule: Rule) -> tuple[tuple[str, Any], ...]:
    """The rule's predicates, cheapest and most selective first (computed once per rule)."""
    found = _ORDER_CACHE.get(rule.id)
    if found is None or found[0][1] is not rule.match.get(found[0][0]):
        found = tuple(sorted(rule.match.items(), key=lambda kv: _COST.get(kv[0], 9)))
        _ORDER_CACHE[rule.id] = found
    return found


def _p_command(v: _View, names: tuple[str, ...]) -> bool:
    literal, globs = _name_index(names)
    name = v.inv.name
    return name in literal or bool(globs and globs.match(name))


@lru_cache(maxsize=1024)
def _name_index(names: tuple[str, ...]) -> tuple[frozenset[str], re.Pattern[str] | None]:
    globs = [n for n in names if any(c in n for c in "*?[")]
    rx = re.compile("|".join(fnmatch.translate(g) for g in globs)) if globs else None
    return frozenset(n for n in names if n not in globs), rx


def _p_command_not(v: _View, names: tuple[str, ...]) -> bool:
    return not _p_command(v, names)


def _p_subcommand(v: _View, alternatives: tuple[tuple[str, ...], ...]) -> bool:
    pos = v.positionals
    if not pos:
        return any(not alt for alt in alternatives)
    first = pos[0]
    for alt in alternatives:
        if not alt:
            return True
        head = alt[0]
        if (head == first or (_has_glob(head) and fnmatchcase(first, head))) and len(pos) >= len(alt) and \
                all(_word_match(p, a) for p, a in zip(pos[1:], alt[1:], strict=False)):
            return True
    return False


def _word_match(word: str, pattern: str) -> bool:
    """fnmatchcase, without its cost for the usual literal pattern (`git push`)."""
    return word == pattern if not _has_glob(pattern) else fnmatchcase(word, pattern)


@lru_cache(maxsize=4096)
def _has_glob(pattern: str) -> bool:
    return any(c in pattern for c in "*?[")


def _p_verb(v: _View, globs: tuple[str, ...]) -> bool:
    return any(_word_match(p, g) for p in v.positionals[:4] for g in globs)


def _p_flags(v: _View, want: dict[str, tuple[str, ...]]) -> bool:
    if "any" in want and not any(v.has_flag(f) for f in want["any"]):
        return False
    if "all" in want and not all(v.has_flag(f) for f in want["all"]):
        return False
    return not ("none" in want and any(v.has_flag(f) for f in want["none"]))


def _p_args(v: _View, want: dict[str, Any]) -> bool:
    args = v.inv.args
    if "any" in want and not any(fnmatchcase(a, g) for a in args for g in v.expand_set(want["any"])):
        return False
    if "none" in want and any(fnmatchcase(a, g) for a in args for g in v.expand_set(want["none"])):
        return False
    return not ("regex" in want and not any(want["regex"].search(a) for a in args))


def _p_positional_count(v: _View, want: dict[str, int]) -> bool:
    n = len(v.positionals)
    return want.get("min", 0) <= n <= want.get("max", 10**9)


def _p_paths(v: _View, want: dict[str, Any]) -> bool:
    paths = v.paths
    if len(paths) >= 2 and (want.get("sources") or want.get("target")):
        # `cp A B DIR`, `mv F ~/`: the last operand is where things go, the others what is moved
        paths = paths[:-1] if want.get("sources") else paths[-1:]
    return any(_path_ok(v, p, want) for p in paths)


def _path_ok(v: _View, p: str, want: dict[str, Any]) -> bool:
    if "covers" in want and not _covers_set(p, v.expand_set(want["covers"])):
        return False
    if "within" in want and not _set_regex(v.expand_set(want["within"]), True).match(p):
        return False
    if "match" in want and not _set_regex(v.expand_set(want["match"]), False).match(p):
        return False
    if "not_within" in want and _set_regex(v.expand_set(want["not_within"]), True).match(p):
        return False
    if want.get("unknown") and UNKNOWN not in p:
        return False
    if want.get("outside_cwd") and not _outside(p, v.inv.project or v.inv.cwd):  # outside the project
        return False
    return not (want.get("whole_cwd") and not _whole_cwd(p, v.inv.cwd))


# credentials are credentials in any user's home, not only in the one vgshell runs as (`cat /root/.ssh/id_rsa`)
_ANY_HOME_SETS = frozenset({"secrets"})
_OTHER_HOMES = ("/root", "/home/*", "/Users/*")
_SET_CACHE: dict[tuple[int, str], tuple[tuple[str, ...], tuple[str, ...]]] = {}


def _expand_set(names: tuple[str, ...], lookup: Callable[[str], tuple[str, ...] | None],
                home: str) -> tuple[str, ...]:
    # keyed by the identity of the rule's own tuple: hashing a long tuple of globs on every check costs more
    # than the lookup saves
    key = (id(names), home)
    found = _SET_CACHE.get(key)
    if found is None or found[0] is not names:
        out = [h + e[1:] if e.startswith("~") else e for n in names for e in (lookup(n) or (n,))
               for h in ((home, *_OTHER_HOMES) if n in _ANY_HOME_SETS and e.startswith("~") else (home,))]
        found = _SET_CACHE[key] = (names, tuple(out))
        if len(_SET_CACHE) > 512:
            _SET_CACHE.clear()
    return found[1]


@lru_cache(maxsize=256)
def _set_regex(entries: tuple[str, ...], within: bool) -> re.Pattern[str]:
    """One regex for a whole path set: `*` within a component, `**` across; `within` adds any subpath."""
    tail = "(?:/.*)?" if within else "/?"
    keep = [e for e in entries if not e.startswith("!")]
    drop = [e[1:] for e in entries if e.startswith("!")]  # `!**/*.pub`: never part of the set
    body = "(?:" + "|".join(f"(?:{_glob_to_regex(e)}){tail}" for e in keep) + ")\\Z"
    if drop:
        body = "(?!(?:" + "|".join(f"(?:{_glob_to_regex(e)})" for e in drop) + ")/?\\Z)" + body
    return re.compile(body, re.S)


def _glob_to_regex(pattern: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = pattern.find("]", i + 2)
            if end < 0:
                out.append("\\[")
            else:
                out.append("[" + pattern[i + 1 : end].replace("!", "^", 1) + "]")
                i = end
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


def _pathmatch(p: str, pattern: str) -> bool:
    """Glob over paths: `*` stays within one component, `**` spans any number of them."""
    if "*" not in pattern and "?" not in pattern and "[" not in pattern:
        return p == pattern
    return _segments_match(p.strip("/").split("/"), pattern.strip("/").split("/"))


def _segments_match(parts: list[str], pats: list[str]) -> bool:
    if not pats:
        return not parts
    if pats[0] == "**":
        return any(_segments_match(parts[i:], pats[1:]) for i in range(len(parts) + 1))
    return bool(parts) and fnmatchcase(parts[0], pats[0]) and _segments_match(parts[1:], pats[1:])


def _covers_set(p: str, entries: tuple[str, ...]) -> bool:
    """`_covers` for a whole set: O(1) for the usual literal path via precomputed ancestors."""
    if UNKNOWN in p:
        return False
    if any(c in p for c in "*?["):
        return any(_covers(p, e) for e in entries if not e.startswith("!"))
    ancestors, globs = _covers_index(entries)
    return p.rstrip("/") in ancestors or p == "/" or bool(globs and globs.match(p))


@lru_cache(maxsize=64)
def _covers_index(entries: tuple[str, ...]) -> tuple[frozenset[str], re.Pattern[str] | None]:
    """Every literal entry and each of its ancestors; the glob entries (and their literal parents) as
    one regex."""
    ancestors: set[str] = set()
    globs: list[str] = []
    for e in entries:
        if e.startswith("!"):
            continue  # an exclusion names no path whose deletion destroys the set
        literal = e
        if any(c in e for c in "*?["):
            globs.append(e)
            literal = e[: min(e.index(c) for c in "*?[" if c in e)].rsplit("/", 1)[0]
        parts = literal.strip("/").split("/")
        for i in range(len(parts) + 1):
            ancestors.add("/" + "/".join(parts[:i]) if i else "/")
    ancestors.discard("")
    return frozenset(a.rstrip("/") or "/" for a in ancestors), (_set_regex(tuple(globs), False) if globs else None)


def _covers(p: str, entry: str) -> bool:
    """Deleting `p` destroys `entry`: p is the entry, an ancestor of it, or a glob over its contents."""
    if UNKNOWN in p:
        return False
    if any(c in p for c in "*?["):
        base = p[: min(p.index(c) for c in "*?[" if c in p)].rsplit("/", 1)[0] or "/"
        return _covers(base, entry) or _pathmatch(entry, p)
    if any(c in entry for c in "*?["):
        return _pathmatch(p, entry) or _is_prefix(p, entry.split("*")[0].rsplit("/", 1)[0] or "/")
    return p == entry or _is_prefix(p, entry)


def _is_prefix(parent: str, child: str) -> bool:
    return parent == "/" or child.startswith(parent.rstrip("/") + "/")


def _within(p: str, entry: str) -> bool:
    if any(c in entry for c in "*?["):
        return _pathmatch(p, entry) or _pathmatch(p, entry + "/**")
    return p == entry or _is_prefix(entry, p)


def _glob_match(p: str, entry: str) -> bool:
    return _pathmatch(p.rstrip("/") or "/", entry)


def _outside(p: str, cwd: str | None) -> bool:
    if cwd is None or p.startswith(UNKNOWN):
        return True
    return not (p == cwd or _is_prefix(cwd, p))


def _whole_cwd(p: str, cwd: str | None) -> bool:
    if cwd is None:
        return p.startswith(UNKNOWN) and p.rstrip("/").endswith(("/.", "/*", "/.."))
    if UNKNOWN in p:
        return False
    if any(c in p for c in "*?[") and p.rsplit("/", 1)[0] in (cwd, ""):
        # `*`, `.*`, `*.*` select everything; `*.egg-info` only the entries so named
        return re.fullmatch(r"[*?.\[\]!]*", p.rsplit("/", 1)[1]) is not None
    return p == cwd or _is_prefix(p, cwd)


def _p_redirects(v: _View, want: dict[str, tuple[str, ...]]) -> bool:
    for key, ops in (("to", (">", ">>", ">|", "&>", "&>>", "<>", ">&")), ("from", ("<", "<>"))):
        if key in want:
            targets = [t for op, t in v.inv.redirects if op in ops and not t.isdigit() and t != "-"]
            rx = _set_regex(v.expand_set(want[key]), True)
            if not any(rx.match(t) for t in targets):
                return False
    return True


def _p_names(attr: str) -> Callable[[_View, tuple[str, ...]], bool]:
    def check(v: _View, names: tuple[str, ...]) -> bool:
        if not names:  # `fed_by: []` means "fed by nothing"
            return not getattr(v.inv, attr)
        return any(fnmatchcase(x, n) for x in getattr(v.inv, attr) for n in names)

    return check


_p_hidden_name = _p_names("hidden_name")


def _p_params(v: _View, names: tuple[str, ...]) -> bool:
    """$VARIABLE names, globs or a named set of them (`secret_variables`)."""
    return any(fnmatchcase(x, n) for x in v.inv.params for n in v.expand_set(names))


def _p_sends(v: _View, want: dict[str, Any]) -> bool:
    sent = v.sent
    if not sent:
        return False
    if "match" not in want:
        return bool(want.get("any", True))
    rx = _set_regex(v.expand_set(want["match"]), True)
    return any(rx.match(x) for x in sent)


def _p_code(v: _View, rx: LazyRegex) -> bool:
    return v.inv.code is not None and rx.search(v.inv.code) is not None


def _p_text(v: _View, rx: LazyRegex) -> bool:
    parts = [" ".join(v.inv.args), v.inv.code or "", v.inv.stdin_text or ""]
    return rx.search("\n".join(parts)) is not None


def _p_bool(attr: str) -> Callable[[_View, bool], bool]:
    def check(v: _View, want: bool) -> bool:
        return bool(getattr(v.inv, attr)) == want

    return check


def _p_reads_terminal(v: _View, want: bool) -> bool:
    inv = v.inv
    piped = bool(inv.upstream) or inv.stdin_text is not None or any(op in ("<", "<>", "<<", "<<-", "<<<")
                                                                      for op, _ in inv.redirects)
    return (not piped) == want


def _p_remote_target(v: _View, want: bool) -> bool:
    found = False
    for a in v.positionals:
        m = _HOSTLIKE.match(a)
        if m and not _LOOPBACK.match(m.group(1).strip("[]")):
            found = True
            break
    return found == want


_PREDICATES: dict[str, Callable[[_View, Any], bool]] = {
    "command": _p_command,
    "command_not": _p_command_not,
    "subcommand": _p_subcommand,
    "verb": _p_verb,
    "flags": _p_flags,
    "args": _p_args,
    "positional_count": _p_positional_count,
    "paths": _p_paths,
    "redirects": _p_redirects,
    "upstream": _p_names("upstream"),
    "fed_by": _p_names("fed_by"),
    "params": _p_params,
    "downstream": _p_names("downstream"),
    "sends": _p_sends,
    "assigns": _p_names("assigns"),
    "via": _p_names("via"),
    "via_not": lambda v, names: not _p_names("via")(v, names),
    "code": _p_code,
    "text": _p_text,
    "privileged": _p_bool("privileged"),
    "remote": _p_bool("remote"),
    "runs_downloaded": _p_bool("runs_downloaded"),
    "self_spawning": _p_bool("self_spawning"),
    "glob_name": _p_bool("glob_name"),
    "unseen": _p_names("unseen"),
    "hidden_name": _p_hidden_name,
    "hidden_name_not": lambda v, names: not _p_hidden_name(v, names),
    "remote_target": _p_remote_target,
    "reads_terminal": _p_reads_terminal,
}
