"""`network_mode: restricted`: the host-side egress proxy a sandbox reaches the network through.

The sandbox has no network of its own (bubblewrap `--unshare-net`, docker/podman `--network none`): only
its loopback. A forwarder started inside it (socat) listens on 127.0.0.1:3128 there and relays each
connection to a UNIX socket bound in from the host, where this proxy — threads in the `vg exec` process
or the hooks' analyzer, for the length of one run — answers HTTP CONNECT and plain HTTP requests. A
request goes out only when its host name matches the allowlist (the registries of the detected package
managers plus `sandbox.network_allowlist`); anything else gets a 403 naming vgshell, the host and that
key, and the proxy never connects out for it. Outbound connections go direct, or through the host's own proxy
(HTTPS_PROXY/HTTP_PROXY, honouring NO_PROXY) when one is configured.
"""

from __future__ import annotations

import base64
import contextlib
import ipaddress
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from vgshell.sandbox.spec import EGRESS_DIR, EGRESS_PORT

SOCKET = "proxy.sock"
PREFIX = "vgshell-egress-"
FORWARDER_DIR = "/run/vgshell-forwarder"  # where containers see the host's socat and its libraries
HEAD_LIMIT = 64 * 1024
CONNECT_TIMEOUT = 15.0
KEY = "sandbox.network_allowlist"


@dataclass(frozen=True)
class Event:
    """One connection the sandbox asked for: allowed (and whether the proxy opened one out) or refused."""

    host: str
    port: int
    method: str
    allowed: bool
    outbound: bool = False
    error: str | None = None


@dataclass(frozen=True)
class Upstream:
    """The host's own proxy, which allowed connections are chained through (CONNECT / absolute-form)."""

    host: str
    port: int
    auth: str | None = None  # a ready Proxy-Authorization value
    no_proxy: tuple[str, ...] = ()

    def bypassed(self, host: str) -> bool:
        return any(n == "*" or host == n.lstrip(".") or host.endswith("." + n.lstrip(".")) for n in self.no_proxy)


def allows(host: str, patterns: Iterable[str]) -> bool:
    """`host` matches an exact entry or a `*.domain` entry (subdomains only); IP literals only exactly."""
    host = _normal(host)
    return any(host == p or (p.startswith("*.") and host.endswith(p[1:]) and not _is_ip(host)) for p in patterns)


def _normal(host: str) -> str:
    host = host.strip().lower().rstrip(".").removeprefix("[").removesuffix("]")
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return host


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


def upstream_from_env(env: Mapping[str, str], tls: bool) -> Upstream | None:
    """The upstream proxy the host uses for https (tls) or http targets, or None to connect directly."""
    names = ("HTTPS_PROXY", "https_proxy") if tls else ("HTTP_PROXY", "http_proxy")
    url = next((env[n] for n in (*names, "ALL_PROXY", "all_proxy") if env.get(n)), None)
    if not url:
        return None
    parts = urlsplit(url if "://" in url else "http://" + url)
    if parts.scheme != "http" or not parts.hostname:
        from vgshell.sandbox.docker import SandboxError

        raise SandboxError(f"the host's proxy {url!r} is not an http:// proxy; network_mode 'restricted' can "
                           f"only chain through http:// proxies (unset it or use network_mode 'full')")
    auth = None
    if parts.username is not None:
        token = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
        auth = "Basic " + base64.b64encode(token).decode()
    no_proxy = env.get("NO_PROXY") or env.get("no_proxy") or ""
    return Upstream(parts.hostname, parts.port or 80, auth, tuple(n.strip().lower() for n in no_proxy.split(",")
                                                                 if n.strip()))


def refusal(host: str) -> bytes:
    body = (f"vgshell refused a connection to {host}: it is not on this sandbox's network allowlist "
            f"(network_mode: restricted). To allow it, add it to {KEY} in vectra-guard.yaml.\n").encode()
    reason = f"vgshell refused {host} (not in {KEY})"
    return (f"HTTP/1.1 403 {reason}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {len(body)}\r\n"
            f"X-Vgshell-Refused: {host}\r\nConnection: close\r\n\r\n").encode() + body


def _error(status: str, text: str) -> bytes:
    body = f"vgshell egress proxy: {text}\n".encode()
    return (f"HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {len(body)}\r\n"
            f"Connection: close\r\n\r\n").encode() + body


class Refused(Exception):
    pass


@dataclass
class Proxy:
    """One run's proxy: `start()` listens on a fresh UNIX socket in a private directory, `stop()` closes
    every connection and removes the directory. `events` is what the sandbox asked for."""

    allowlist: tuple[str, ...]
    env: Mapping[str, str]
    directory: str = ""
    events: list[Event] = field(default_factory=list)
    _listener: socket.socket | None = None
    _open: set[socket.socket] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def path(self) -> str:
        return os.path.join(self.directory, SOCKET)

    @property
    def refused(self) -> tuple[str, ...]:
        return tuple(e.host for e in self.events if not e.allowed)

    def start(self, parent: str | None = None) -> Proxy:
        if len(os.path.join(parent or tempfile.gettempdir(), PREFIX)) > 70:  # UNIX socket paths stop at 107 bytes
            parent = "/tmp"
        sweep_stale(parent)
        self.directory = tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-", dir=parent)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(self.path)
        return self.serve(listener)

    def serve(self, listener: socket.socket) -> Proxy:
        """Answer connections on a bound socket (UNIX for a sandbox; TCP when it stands in as an upstream)."""
        listener.listen(128)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True, name="vg-egress").start()
        return self

    def stop(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)  # wakes accept()
            self._listener.close()
            self._listener = None
        with self._lock:
            for s in list(self._open):
                _close(s)
            self._open.clear()
        if self.directory:
            shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> Proxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            self._track(client)
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _track(self, s: socket.socket) -> None:
        with self._lock:
            self._open.add(s)

    def _record(self, event: Event) -> None:
        with self._lock:
            self.events.append(event)

    def _serve(self, client: socket.socket) -> None:
        try:
            head, rest = _read_head(client)
            method, target, headers = _parse(head)
            if method == "CONNECT":
                self._tunnel(client, target, rest)
            else:
                self._forward(client, method, target, headers, rest, head)
        except Refused:
            pass
        except (OSError, ValueError) as e:
            with contextlib.suppress(OSError):
                client.sendall(_error("400 Bad Request", str(e) or type(e).__name__))
        finally:
            self._untrack(client)

    def _untrack(self, s: socket.socket) -> None:
        with self._lock:
            self._open.discard(s)
        _close(s)

    def _check(self, client: socket.socket, method: str, host: str, port: int) -> None:
        if not allows(host, self.allowlist):
            self._record(Event(_normal(host), port, method, False))
            with contextlib.suppress(OSError):
                client.sendall(refusal(_normal(host)))
            raise Refused

    def _tunnel(self, client: socket.socket, target: str, rest: bytes) -> None:
        host, port = _host_port(target, 443)
        self._check(client, "CONNECT", host, port)
        try:
            out = self._connect(host, port, tls=True)
        except OSError as e:
            self._record(Event(_normal(host), port, "CONNECT", True, error=str(e)))
            client.sendall(_error("502 Bad Gateway", f"cannot reach {host}:{port}: {e}"))
            return
        self._record(Event(_normal(host), port, "CONNECT", True, outbound=True))
        client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        self._relay(client, out, rest)

    def _forward(self, client: socket.socket, method: str, target: str, headers: list[tuple[str, str]],
                 rest: bytes, head: bytes) -> None:
        url = urlsplit(target)
        if url.scheme != "http" or not url.hostname:
            raise ValueError(f"expected an absolute http:// URL, got {target[:100]!r}")
        host, port = url.hostname, url.port or 80
        self._check(client, method, host, port)
        upstream = self._upstream(host, tls=False)
        try:
            out = self._connect(host, port, tls=False)
        except OSError as e:
            self._record(Event(_normal(host), port, method, True, error=str(e)))
            client.sendall(_error("502 Bad Gateway", f"cannot reach {host}:{port}: {e}"))
            return
        self._record(Event(_normal(host), port, method, True, outbound=True))
        path = target if upstream else (url.path or "/") + (f"?{url.query}" if url.query else "")
        keep = [(k, v) for k, v in headers if k.lower() not in _HOP_BY_HOP]
        if upstream and upstream.auth:
            keep.append(("Proxy-Authorization", upstream.auth))
        lines = [f"{method} {path} HTTP/1.1", *(f"{k}: {v}" for k, v in keep), "Connection: close"]
        out.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        self._relay(client, out, rest)

    def _upstream(self, host: str, tls: bool) -> Upstream | None:
        up = upstream_from_env(self.env, tls)
        return None if up is None or up.bypassed(_normal(host)) else up

    def _connect(self, host: str, port: int, tls: bool) -> socket.socket:
        upstream = self._upstream(host, tls)
        if upstream is None:
            return self._direct(host, port)
        s = socket.create_connection((upstream.host, upstream.port), timeout=CONNECT_TIMEOUT)
        self._track(s)
        if tls:
            auth = f"Proxy-Authorization: {upstream.auth}\r\n" if upstream.auth else ""
            s.sendall(f"CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n{auth}\r\n".encode())
            head, extra = _read_head(s)
            status = head.split(b"\r\n", 1)[0].decode("latin-1")
            if status.split(" ")[1:2] != ["200"] or extra:
                self._untrack(s)
                raise OSError(f"the host's proxy answered {status!r}")
        s.settimeout(None)
        return s

    def _direct(self, host: str, port: int) -> socket.socket:
        last: OSError = OSError(f"no address for {host}")
        for family, kind, proto, _, addr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
            ip = ipaddress.ip_address(addr[0])
            if (ip.is_loopback or ip.is_link_local or ip.is_unspecified or ip.is_multicast) and \
                    _normal(host) != str(ip):
                last = OSError(f"{host} resolves to {ip}, which a sandbox may only reach when listed by address")
                continue
            s = socket.socket(family, kind, proto)
            s.settimeout(CONNECT_TIMEOUT)
            try:
                s.connect(addr)
            except OSError as e:
                s.close()
                last = e
                continue
            s.settimeout(None)
            self._track(s)
            return s
        raise last

    def _relay(self, client: socket.socket, out: socket.socket, first: bytes) -> None:
        try:
            if first:
                out.sendall(first)
            back = threading.Thread(target=_pump, args=(out, client), daemon=True)
            back.start()
            _pump(client, out)
            back.join()
        finally:
            self._untrack(out)


_HOP_BY_HOP = frozenset({"connection", "proxy-connection", "keep-alive", "proxy-authorization", "te",
                         "trailer", "upgrade", "proxy-authenticate"})


def _pump(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    with contextlib.suppress(OSError):
        dst.shutdown(socket.SHUT_WR)


def _close(s: socket.socket) -> None:
    with contextlib.suppress(OSError):
        s.shutdown(socket.SHUT_RDWR)
    s.close()


def _read_head(s: socket.socket) -> tuple[bytes, bytes]:
    buf = b""
    while b"\r\n\r\n" not in buf:
        if len(buf) > HEAD_LIMIT:
            raise ValueError("request head too large")
        chunk = s.recv(65536)
        if not chunk:
            raise ValueError("connection closed before the request head ended")
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    return head, rest


def _parse(head: bytes) -> tuple[str, str, list[tuple[str, str]]]:
    first, *lines = head.decode("latin-1").split("\r\n")
    parts = first.split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/"):
        raise ValueError(f"not an HTTP proxy request: {first[:100]!r}")
    headers = [(k.strip(), v.strip()) for k, _, v in (line.partition(":") for line in lines) if k.strip()]
    return parts[0].upper(), parts[1], headers


def _host_port(target: str, default: int) -> tuple[str, int]:
    if target.startswith("["):
        host, _, port = target[1:].partition("]")
        port = port.removeprefix(":")
    else:
        host, _, port = target.rpartition(":") if ":" in target else (target, "", "")
    if not host or (port and not port.isdigit()):
        raise ValueError(f"bad CONNECT target {target[:100]!r}")
    return host, int(port) if port else default


def sweep_stale(parent: str | None = None) -> None:
    """Remove socket directories left by a vg that was killed outright (SIGKILL skips every cleanup)."""
    for d in Path(parent or tempfile.gettempdir()).glob(PREFIX + "*"):
        pid = d.name[len(PREFIX):].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(d, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# --- The forwarder inside the sandbox -------------------------------------------------------------------

def forwarder_command(socat: str) -> str:
    """Shell text: start the forwarder in the background and wait (builtins only) until it listens."""
    listen = f"TCP-LISTEN:{EGRESS_PORT},bind=127.0.0.1,reuseaddr,fork,backlog=128"
    local = f"0100007F:{EGRESS_PORT:04X}"
    # `sleep 0.002` (about 2 ms with its own start-up) yields the CPU to socat, whose start-up is mostly
    # loading its libraries; the loop gives up after about 3 s and lets the command see the failure itself.
    return (f"{socat} {listen} UNIX-CONNECT:{EGRESS_DIR}/{SOCKET} 2>/dev/null & "
            f"__vg_up() {{ while read -r _ __vg_a _ __vg_s _; do [ \"$__vg_a\" = {local} ] && "
            f"[ \"$__vg_s\" = 0A ] && return 0; done </proc/net/tcp; return 1; }}; __vg_i=0; "
            f"until __vg_up; do __vg_i=$((__vg_i+1)); [ $__vg_i -gt 1500 ] && break; "
            f"sleep 0.002 2>/dev/null || :; done; unset -f __vg_up; unset __vg_i __vg_a __vg_s; ")


def host_socat() -> str:
    found = shutil.which("socat")
    if found is None:
        from vgshell.sandbox.docker import SandboxError

        raise SandboxError("network_mode 'restricted' needs socat on the host for the forwarder inside the "
                           "sandbox (apt-get install socat), or use network_mode 'none' or 'full'")
    return os.path.realpath(found)


def forwarder_files(socat: str) -> list[tuple[str, str]]:
    """(host file, name inside FORWARDER_DIR) for socat, its shared libraries and the host's loader, so
    the host's socat runs in any image of the same architecture, whatever libc the image has.

    Remembered per socat binary (path, size, mtime) in the state directory's cache: `ldd` is a process
    and about 10 ms of every restricted container start; a remembered list whose files are gone is redone."""
    try:
        st = os.stat(socat)
    except OSError:
        return _forwarder_files(socat)
    key = f"{socat}:{st.st_size}:{st.st_mtime_ns}"
    state = os.environ.get("VG_HOME") or os.path.join(os.path.expanduser("~"), ".vectra-guard")
    cache = Path(state) / "cache" / "forwarder.json"
    with contextlib.suppress(OSError, ValueError, TypeError):
        known = json.loads(cache.read_text())
        if known.get("key") == key and all(os.path.exists(h) for h, _ in known["files"]):
            return [(str(h), str(n)) for h, n in known["files"]]
    files = _forwarder_files(socat)
    with contextlib.suppress(OSError):
        cache.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = cache.with_name(f"forwarder.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"key": key, "files": files}))
        os.replace(tmp, cache)
    return files


def _forwarder_files(socat: str) -> list[tuple[str, str]]:
    out = subprocess.run(["ldd", socat], capture_output=True, text=True, timeout=10).stdout
    files = [(socat, "socat")]
    for line in out.splitlines():
        words = line.split()
        if "=>" in words and len(words) >= 3 and words[2].startswith("/"):
            files.append((os.path.realpath(words[2]), words[0]))
        elif words and words[0].startswith("/") and "ld-linux" in words[0]:
            files.append((os.path.realpath(words[0]), "ld.so"))
    return files


def container_forwarder() -> str:
    return f"{FORWARDER_DIR}/ld.so --library-path {FORWARDER_DIR} {FORWARDER_DIR}/socat"


def summary(refused: tuple[str, ...]) -> str:
    hosts = ", ".join(dict.fromkeys(refused))
    n = len(refused)
    return f"vg: sandbox: {n} connection{'s' if n != 1 else ''} refused: {hosts} (allow with {KEY})"


LOG_LIMIT = 1024 * 1024


def write_log(path: Path, events: list[Event], now: float) -> None:
    """Append one JSON line per connection to the egress log (kept to ~1 MiB: the previous one is `.1`)."""

    if not events:
        return
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists() and path.stat().st_size > LOG_LIMIT:
            path.replace(path.with_name(path.name + ".1"))
        with path.open("a", encoding="utf-8") as f:
            for e in events:
                f.write(json.dumps({"ts": round(now, 3), "host": e.host, "port": e.port, "method": e.method,
                                    "allowed": e.allowed, "outbound": e.outbound, "error": e.error}) + "\n")


def container_mounts(egress_dir: str) -> list[tuple[str, str, bool]]:
    """(host, target, read_only) binds a container needs for restricted mode: the socket directory and the
    host's socat with everything it loads."""
    files = forwarder_files(host_socat())
    return [(egress_dir, EGRESS_DIR, False), *((h, f"{FORWARDER_DIR}/{name}", True) for h, name in files)]


def container_launch(script: str) -> str:
    """A container's launch script (`sh -c SCRIPT LINE`) with the forwarder started first."""
    return forwarder_command(container_forwarder()) + script
