"""`network_mode: restricted` in real sandboxes: the egress proxy lets the registries through and nothing else.

Every runtime (bubblewrap, a real Docker engine, real Podman) runs the real `vg`. Traffic only ever goes to
the package registries (PyPI, the npm registry) or to servers this suite starts on this machine: refused
hosts are refused before any lookup, and direct connections target the host's own addresses, where a
listener of the suite's counts what arrives.
"""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.test_sandbox import RUN_SESSION, RUNTIMES, VG_PIDS, Sandbox, leftovers
from vgshell import records
from vgshell.sandbox import egress
from vgshell.schema import host_pattern

DEBIAN = "vgshell-test/debian:latest"
NOTICE = "vg: sandbox: 3 connections refused: evil.example, 203.0.113.7 (allow with sandbox.network_allowlist)"

FETCH = """
import sys, urllib.error, urllib.request
for url in sys.argv[1:]:
    try:
        urllib.request.urlopen(url, timeout=20)
        print("OPENED", url)
    except urllib.error.HTTPError as e:
        print("HTTP", e.code, e.read().decode().strip())
    except Exception as e:
        print("ERROR", e)
"""

DIRECT = """
import socket, sys, time
port = int(sys.argv[1])
for host in sys.argv[2:]:
    start = time.monotonic()
    try:
        socket.create_connection((host, port), timeout=3).close()
        print("CONNECTED", host)
    except OSError as e:
        print("FAILED", host, round(time.monotonic() - start, 1))
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        u.sendto(b"vgshell-dns-probe", (host, port))
        print("SENT", host)
    except OSError:
        print("UNSENT", host)
start = time.monotonic()
try:
    print("RESOLVED", socket.getaddrinfo("pypi.org", 443))
except OSError as e:
    print("NO-DNS", round(time.monotonic() - start, 1))
"""


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    """A short TMPDIR for vg: the proxy's socket path must stay under the 108-byte UNIX socket limit."""
    d = Path(tempfile.mkdtemp(prefix="vgeg-", dir="/tmp"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(params=RUNTIMES)
def sb(request: pytest.FixtureRequest, tmp_path: Path) -> Sandbox:
    return Sandbox(tmp_path, request.param)


def run(sb: Sandbox, command: str, tmp: Path, level: str = "balanced", env: dict[str, str] | None = None,
        timeout: int = 600) -> subprocess.CompletedProcess[str]:
    return sb.run(command, level=level, network=None, timeout=timeout,
                  extra_env={"VG_IMAGE": DEBIAN, "TMPDIR": str(tmp), **(env or {})})


def python(sb: Sandbox) -> str:
    # bubblewrap runs the host's tools: the base interpreter (a pyenv shim would try to rehash)
    return f"{sys.base_prefix}/bin/python3" if sb.runtime == "bubblewrap" else "python3"


def script(sb: Sandbox, name: str, text: str) -> str:
    (sb.project / name).write_text(text)
    return f"{python(sb)} {name}"


def log(sb: Sandbox) -> list[dict[str, object]]:
    path = sb.state / "egress.log"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


# --- Real installs through the proxy -------------------------------------------------------------------


def test_pip_and_npm_install_from_the_registries(sb: Sandbox, short_tmp: Path) -> None:
    pip = f"{python(sb)} -m pip install --no-deps --target ./pkgs six==1.16.0"
    r = run(sb, pip, short_tmp)
    assert r.returncode == 0, r.stdout + r.stderr
    assert (sb.project / "pkgs" / "six.py").exists()
    r = run(sb, "npm install --no-audit --no-fund is-number@7.0.0", short_tmp)
    assert r.returncode == 0, r.stdout + r.stderr
    assert (sb.project / "node_modules" / "is-number" / "package.json").exists()
    went = {(e["host"], e["allowed"], e["outbound"]) for e in log(sb)}
    assert {("pypi.org", True, True), ("files.pythonhosted.org", True, True),
            ("registry.npmjs.org", True, True)} <= went
    assert all(e["allowed"] for e in log(sb))


# --- Refusals ------------------------------------------------------------------------------------------


def test_a_host_off_the_allowlist_is_refused_without_the_proxy_connecting_out(sb: Sandbox, short_tmp: Path) -> None:
    fetch = script(sb, "fetch.py", FETCH)
    r = run(sb, f"{fetch} https://evil.example/ http://evil.example/x https://203.0.113.7/", short_tmp,
            level="strict")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("ERROR") and "403 vgshell refused evil.example (not in sandbox.network_allowlist)" \
        in lines[0]
    assert lines[1] == ("HTTP 403 vgshell refused a connection to evil.example: it is not on this sandbox's "
                        "network allowlist (network_mode: restricted). To allow it, add it to "
                        "sandbox.network_allowlist in vectra-guard.yaml.")
    assert "403 vgshell refused 203.0.113.7" in lines[2]
    assert NOTICE in r.stderr.splitlines()
    events = log(sb)
    assert [(e["host"], e["allowed"], e["outbound"]) for e in events] == [
        ("evil.example", False, False), ("evil.example", False, False), ("203.0.113.7", False, False)]
    rows = list(records.query(sb.state))
    assert records.to_json(rows[-1])["refused_connections"] == ["evil.example", "evil.example", "203.0.113.7"]


def test_configured_hosts_are_allowed_but_never_towards_loopback(sb: Sandbox, short_tmp: Path) -> None:
    with Listener() as server:
        sb.config("sandbox:\n  network_allowlist: [localhost]\n")
        fetch = script(sb, "fetch.py", FETCH)
        # NO_PROXY emptied: ask the proxy itself for the host's loopback (the default sends localhost direct,
        # to the sandbox's own loopback)
        r = run(sb, f"NO_PROXY= no_proxy= {fetch} http://localhost:{server.port}/ http://127.0.0.1:{server.port}/",
                short_tmp)
        assert r.returncode == 0, r.stderr
        first, second = r.stdout.splitlines()
        assert first.startswith("HTTP 502") and "resolves to 127.0.0.1" in first
        assert second.startswith("HTTP 403") and "127.0.0.1" in second
        assert server.seen == []


def test_a_direct_connection_that_ignores_the_proxy_fails(sb: Sandbox, short_tmp: Path) -> None:
    with Listener() as server:
        direct = script(sb, "direct.py", DIRECT)
        targets = host_addresses()
        assert "127.0.0.1" in targets and len(targets) >= 2  # loopback plus at least one real interface
        r = run(sb, f"{direct} {server.port} {' '.join(targets)}", short_tmp)
        assert r.returncode == 0, r.stderr
        out = r.stdout.split("\n")
        assert not [line for line in out if line.startswith(("CONNECTED", "RESOLVED"))], r.stdout
        assert any(line.startswith("NO-DNS") for line in out), r.stdout
        time.sleep(0.5)  # any datagram that got out has long arrived
        assert server.seen == []


# --- Lifecycle -----------------------------------------------------------------------------------------


def test_nothing_is_left_after_a_run_an_interrupt_and_a_timeout(sb: Sandbox, short_tmp: Path) -> None:
    before = engine_networks(sb.runtime)
    namespaces = net_namespaces()
    r = run(sb, "echo ran", short_tmp)
    assert r.stdout == "ran\n", r.stderr
    assert_clean(sb, short_tmp, before, namespaces)

    vg = interruptible(sb, short_tmp, "touch started; sleep 60")
    wait_for(sb.project / "started")
    vg.send_signal(signal.SIGINT)
    assert vg.wait(timeout=30) != 0
    assert_clean(sb, short_tmp, before, namespaces)

    sb.config("sandbox:\n  timeout: 2\n")
    r = run(sb, "sleep 60", short_tmp)
    assert r.returncode == 124, r.stderr
    assert_clean(sb, short_tmp, before, namespaces)


def interruptible(sb: Sandbox, tmp: Path, command: str) -> subprocess.Popen[str]:
    import os

    env = {"PATH": os.environ["PATH"], "HOME": str(sb.home), "VG_HOME": str(sb.state), "VG_MODE": "always",
           "VG_RUNTIME": sb.runtime, "VG_SECURITY_LEVEL": "balanced", "VG_IMAGE": DEBIAN, "TMPDIR": str(tmp),
           "VG_SESSION": RUN_SESSION}
    proc = subprocess.Popen([sys.executable, "-m", "vgshell.cli", "--quiet", "exec", command], cwd=sb.project,
                            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    VG_PIDS.add(proc.pid)
    return proc


def wait_for(path: Path, limit: float = 60) -> None:
    deadline = time.monotonic() + limit
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def assert_clean(sb: Sandbox, tmp: Path, networks: set[str], namespaces: set[str]) -> None:
    assert list(tmp.glob(egress.PREFIX + "*")) == []  # the socket directory
    assert leftovers(sb.runtime) == []  # containers, bwrap processes, cgroups
    # only this run's: a sandbox of this run names its proxy directory, under `tmp`, on its command line
    ours = subprocess.run(["pgrep", "-a", "-f", str(tmp)], capture_output=True, text=True).stdout.splitlines()
    assert [p for p in ours if "bwrap" in p or "socat" in p] == []
    assert engine_networks(sb.runtime) <= networks
    assert not [ns for ns in net_namespaces() - namespaces if str(tmp) in ns]
    assert not [t for t in threading.enumerate() if t.name == "vg-egress"]


def engine_networks(runtime: str) -> set[str]:
    if runtime == "bubblewrap":
        return set()
    out = subprocess.run([runtime, "network", "ls", "-q"], capture_output=True, text=True, check=True).stdout
    return set(out.split())


def net_namespaces() -> set[str]:
    out = subprocess.run(["lsns", "-t", "net", "-n", "-o", "NS,COMMAND"], capture_output=True, text=True).stdout
    return {line.strip() for line in out.splitlines()}


# --- The host's own proxy ------------------------------------------------------------------------------


def test_allowed_connections_chain_through_the_hosts_proxy(tmp_path: Path, short_tmp: Path) -> None:
    sb = Sandbox(tmp_path, "bubblewrap")
    upstream = egress.Proxy(("pypi.org", "files.pythonhosted.org"), {})
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    upstream.serve(listener)
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    try:
        fetch = script(sb, "fetch.py", FETCH)
        r = run(sb, f"{python(sb)} -m pip download --no-deps -d dl six==1.16.0 && {fetch} https://evil.example/",
                short_tmp, env={"HTTPS_PROXY": url, "HTTP_PROXY": url})
    finally:
        upstream.stop()
    assert r.returncode == 0, r.stdout + r.stderr
    assert list((sb.project / "dl").glob("six-1.16.0*"))
    assert {(e.host, e.outbound) for e in upstream.events} >= {("pypi.org", True), ("files.pythonhosted.org", True)}
    assert all(e.allowed for e in upstream.events)  # evil.example never reached the host's proxy
    assert "403 vgshell refused evil.example" in r.stdout


# --- Matching and validation ---------------------------------------------------------------------------


@pytest.mark.parametrize(("host", "patterns", "expected"), [
    ("pypi.org", ("pypi.org",), True),
    ("PyPI.org.", ("pypi.org",), True),
    ("evil-pypi.org", ("pypi.org",), False),
    ("pypi.org.evil.example", ("pypi.org",), False),
    ("a.corp.example", ("*.corp.example",), True),
    ("a.b.corp.example", ("*.corp.example",), True),
    ("corp.example", ("*.corp.example",), False),
    ("xcorp.example", ("*.corp.example",), False),
    ("203.0.113.7", ("*.113.7",), False),
    ("203.0.113.7", ("203.0.113.7",), True),
    ("[::1]", ("::1",), True),
    ("127.0.0.1", (), False),
])
def test_allowlist_matching(host: str, patterns: tuple[str, ...], expected: bool) -> None:
    assert egress.allows(host, patterns) is expected


@pytest.mark.parametrize(("text", "expected"), [
    ("Git.Example.com.", "git.example.com"), ("*.corp.example", "*.corp.example"), ("10.0.0.1", "10.0.0.1"),
    ("[2001:db8::1]", "2001:db8::1"), ("*.com", None), ("*", None), ("https://x.example", None),
    ("x.example:443", None), ("x.example/path", None), ("-x.example", None), ("", None),
])
def test_allowlist_entries_are_validated(text: str, expected: str | None) -> None:
    assert host_pattern(text) == expected


def test_a_bad_allowlist_entry_is_a_config_error(tmp_path: Path, short_tmp: Path) -> None:
    sb = Sandbox(tmp_path, "bubblewrap")
    sb.config("sandbox:\n  network_allowlist:\n    - https://git.example.com\n")
    r = run(sb, "true", short_tmp)
    assert r.returncode == 3
    assert "'sandbox.network_allowlist[0]' must be a host name" in r.stderr
    assert f"{sb.state / 'config.yaml'}:3" in r.stderr


# --- A listener on every host address ------------------------------------------------------------------


def host_addresses() -> list[str]:
    out = subprocess.run(["ip", "-4", "-o", "addr", "show"], capture_output=True, text=True, check=True).stdout
    return sorted({line.split()[3].split("/")[0] for line in out.splitlines()})


class Listener:
    """TCP and UDP on 0.0.0.0:PORT of the host; `seen` lists every peer that reached it."""

    def __init__(self) -> None:
        self.tcp = socket.socket()
        self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.tcp.bind(("0.0.0.0", 0))
        self.port = self.tcp.getsockname()[1]
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("0.0.0.0", self.port))
        self.seen: list[str] = []

    def __enter__(self) -> Listener:
        self.tcp.listen(16)
        threading.Thread(target=self._tcp, daemon=True).start()
        threading.Thread(target=self._udp, daemon=True).start()
        return self

    def _tcp(self) -> None:
        while True:
            try:
                conn, peer = self.tcp.accept()
            except OSError:
                return
            self.seen.append(f"tcp {peer[0]}")
            conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 7\r\n\r\nreached")
            conn.close()

    def _udp(self) -> None:
        while True:
            try:
                _, peer = self.udp.recvfrom(2048)
            except OSError:
                return
            if peer is None:  # shut down
                return
            self.seen.append(f"udp {peer[0]}")

    def __exit__(self, *exc: object) -> None:
        for s in (self.tcp, self.udp):
            with __import__("contextlib").suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()
