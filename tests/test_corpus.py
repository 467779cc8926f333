"""The labelled corpora (shared/corpus, copied to tests/data) and a developer's ordinary day, as tables.

Dangerous rows: every critical one is blocked; >= 97% of high/medium rows reach their level and do not run
on the host in `auto` mode. Benign rows: >= 99% run on the host and none is blocked. Accepted misses are
listed with a reason in tests/known_misses.yaml and asserted to still miss.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import yaml

from tests.conftest import CWD, HOME, load_jsonl
from vgshell.config import DEFAULT_CONFIG
from vgshell.policy import Facts, decide
from vgshell.risk.engine import assess
from vgshell.risk.model import Level

DANGEROUS = load_jsonl("dangerous.jsonl")
BENIGN = load_jsonl("benign.jsonl")
KNOWN = {m["command"]: m["reason"]
         for m in yaml.safe_load((Path(__file__).parent / "known_misses.yaml").read_text())["misses"]}
FACTS = Facts(human_present=False, available_runtimes=("bubblewrap",))


def verdict(command: str) -> tuple[Level, str]:
    a = assess(command, CWD, HOME)
    return a.risk, decide(a, DEFAULT_CONFIG, FACTS).action


@pytest.mark.parametrize("row", [r for r in DANGEROUS if r["expected_min_level"] == "critical"],
                         ids=lambda r: r["command"][:60])
def test_every_critical_row_is_blocked(row: dict[str, str]) -> None:
    risk, action = verdict(row["command"])
    assert (risk, action) == (Level.CRITICAL, "block")


def _misses() -> list[dict[str, str]]:
    out = []
    for r in DANGEROUS:
        risk, action = verdict(r["command"])
        if risk < Level.parse(r["expected_min_level"]) or action == "host":
            out.append(r)
    return out


def test_high_and_medium_rows_reach_their_level_and_leave_the_host() -> None:
    rows = [r for r in DANGEROUS if r["expected_min_level"] in ("high", "medium")]
    misses = _misses()
    unexplained = [r["command"] for r in misses if r["command"] not in KNOWN]
    assert unexplained == [], "misses not listed in tests/known_misses.yaml"
    assert len(misses) / len(rows) <= 0.03


@pytest.mark.parametrize("command", sorted(KNOWN))
def test_known_misses_still_miss(command: str) -> None:
    """When one of these starts meeting its label, delete it from known_misses.yaml."""
    row = next(r for r in DANGEROUS if r["command"] == command)
    risk, action = verdict(command)
    assert risk < Level.parse(row["expected_min_level"]) or action == "host"


def test_benign_rows_run_on_the_host_and_none_is_blocked() -> None:
    results = Counter()
    blocked = []
    off_host = []
    for r in BENIGN:
        _, action = verdict(r["command"])
        results[action] += 1
        if action == "block":
            blocked.append(r["command"])
        elif action != "host":
            off_host.append(r["command"])
    assert blocked == []
    assert len(off_host) / len(BENIGN) <= 0.01, off_host


def test_results_by_category_are_reported(capsys: pytest.CaptureFixture[str]) -> None:
    """Prints the per-category table used in docs (run with -s); asserts every category is covered."""
    by_cat: dict[str, list[int]] = {}
    missed = {r["command"] for r in _misses()}
    for r in DANGEROUS:
        hit, total = by_cat.setdefault(r["category"], [0, 0]), None
        hit[1] += 1
        if r["command"] not in missed:
            hit[0] += 1
        del total
    with capsys.disabled():
        for cat, (ok, n) in sorted(by_cat.items()):
            print(f"{cat:<24} {ok:>3}/{n:<3}")
    assert all(ok > 0 for ok, _ in by_cat.values())


DEVELOPER_DAY = [
    "ls -la", "cd src", "cd ..", "pwd", "git status", "git diff", "git diff --staged", "git add -A",
    "git add src/main.py", 'git commit -m "fix: handle empty input"', "git switch main",
    "git switch -c feature/x", "git stash list", "git log --oneline -n 20", "git branch", "git stash",
    "git checkout main", "git checkout -b topic", "git restore --staged src/x.py", "git show HEAD",
    "git blame src/main.py", "git fetch origin", "make", "make test", "make -j4", "pytest",
    "pytest -x tests/test_cli.py", "python3 -m pytest -q", "cargo build", "cargo test", "cargo build --release",
    "go test ./...", "go build ./...", "go vet ./...", "npm run build", "npm test", "npm run lint",
    "terraform plan", "terraform fmt", "terraform validate", "docker ps", "docker ps -a",
    "docker logs web", "docker images", "docker compose ps", "kubectl get pods", "kubectl describe pod web",
    "kubectl logs web", "ps aux", "top -b -n 1", "htop", "vim src/main.py", "less README.md",
    "cat README.md", "head -n 20 src/main.py", "grep -rn TODO src", "rg TODO", "find . -name '*.py'",
    "mkdir -p build/out", "cp src/a.py src/b.py", "mv notes.txt docs/notes.txt", "rm build/output.txt",
    "rm -f src/__pycache__/x.pyc", "touch src/new.py", "chmod +x scripts/run.sh", "./scripts/run.sh",
    "python3 script.py", "python3 -m venv .venv", "source .venv/bin/activate", "pip list", "pip show rich",
    "ruff check .", "mypy src", "black --check .", "tar xzf release.tar.gz", "du -sh .", "df -h",
    "export PATH=$HOME/.local/bin:$PATH", "echo $PATH", "which python3", "code .", "tree -L 2",
    "wc -l src/*.py", "diff -u a.txt b.txt", "jq .name package.json", "curl -s localhost:8080/health",
    "ssh-keygen -t ed25519 -C me@example.com -f ./id_test", "history | tail", "clear",
]


@pytest.mark.parametrize("command", DEVELOPER_DAY)
def test_a_developers_ordinary_day_runs_on_the_host_with_no_notice(command: str) -> None:
    from vgshell.analyzer import Verdict
    from vgshell.output import notice

    a = assess(command, CWD, HOME)
    d = decide(a, DEFAULT_CONFIG, FACTS)
    assert (a.risk, d.action) == (Level.LOW, "host"), [f.rule for f in a.findings]
    assert notice(Verdict(a, d, ())) is None
