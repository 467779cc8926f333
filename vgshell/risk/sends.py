"""What a command sends to another host: the files and $VARIABLES behind `curl -d @F`, `-F f=@F`, `-T F`,
`wget --post-file=F`, `nc HOST < F`, `scp F host:`, `cat F | curl --data-binary @-`… (the `sends` predicate).

Pure: an `Invocation` in, resolved paths (and `$NAME` for variables) out; nothing when the command names no
destination. A loopback destination counts like any other: `--resolve`, `-K` configs, proxy variables and
ssh tunnels redirect it off the machine, and a secret is judged by what it is, not by where it seems to go.
What a `-` (stdin) carries is what earlier pipeline stages read (`piped_in`).
"""

from __future__ import annotations

import re

from vgshell.expand import UNKNOWN
from vgshell.unwrap import Invocation, resolve

_LOCAL = re.compile(r"^(?:[a-z][a-z0-9+.-]*://)?(?:[^@/\s]+@)?(localhost|127(?:\.\d+){0,3}|\[?::1\]?|0\.0\.0\.0)"
                    r"(?::\d+)?(?:[/?#].*)?$", re.I)
_URL = re.compile(r"^(?:[a-z][a-z0-9+.-]*://|[\w.-]+\.[a-z]{2,}(?::\d+)?(?:/|$)|\d{1,3}(?:\.\d{1,3}){3})", re.I)
_REMOTE_PATH = re.compile(r"^(?:[^/\s@:]+@)?[A-Za-z0-9_.-]+:(?!//)|^rsync://|^s3://|^gs://")
_HTTP = frozenset({"curl", "wget", "http", "https", "xh", "curlie", "httpie", "lwp-request", "POST"})
_RAW = frozenset({"nc", "ncat", "netcat", "telnet", "socat", "openssl", "cryptcat", "sock", "pwncat"})
_COPY = frozenset({"scp", "rsync", "sftp", "rclone", "gsutil", "aws", "az", "s3cmd"})
# curl options whose value names data to send: `@FILE` (or `name@FILE`, `name=@FILE`, `name=<FILE`)
_CURL_DATA = frozenset({"-d", "--data", "--data-binary", "--data-ascii", "--data-urlencode", "--json", "-F",
                        "--form", "--form-string"})
_CURL_UPLOAD = frozenset({"-T", "--upload-file"})
_CURL_HEADER = frozenset({"-H", "--header", "-u", "--user", "--oauth2-bearer", "-b", "--cookie", "-A",
                          "--user-agent", "-e", "--referer", "--proxy-user", "-U"})
_WGET_FILE = frozenset({"--post-file", "--body-file"})


def sent(inv: Invocation) -> tuple[str, ...]:
    """The files (resolved) and `$VARIABLES` `inv` sends to a host other than this machine."""
    name = inv.name
    if name in _HTTP:
        return _http(inv)
    if name in _RAW:
        return _raw(inv)
    if name in _COPY:
        return _copy(inv)
    if any(op in (">", ">>", "&>", "<>", ">|") and t.startswith(("/dev/tcp/", "/dev/udp/"))
           for op, t in inv.redirects):
        return (*_operands(inv), *_stdin(inv))  # `cat F > /dev/tcp/host/port`
    return ()


def _http(inv: Invocation) -> tuple[str, ...]:
    args = inv.args
    if not any(_URL.match(a) or _LOCAL.match(a) for a in args if not a.startswith("-")) \
            and not any(a in ("-K", "--config") or a.startswith("--config=") for a in args):
        return ()
    out: list[str] = []
    i = 0
    while i < len(args):
        a = args[i]
        opt, eq, value = a.partition("=") if a.startswith("--") else (a, "", "")
        if not eq and opt in (_CURL_DATA | _CURL_UPLOAD | _WGET_FILE | _CURL_HEADER) and i + 1 < len(args):
            value = args[i + 1]
            i += 1
        if opt in _CURL_DATA:
            out += _data_value(value, inv)
        elif opt in _CURL_UPLOAD or opt in _WGET_FILE:
            out += _file(value, inv)
        elif opt == "--post-data" or opt == "--body-data":
            out += _variables(value, inv)
        elif opt in _CURL_HEADER:
            pass  # a token in a header is how an API is called; a token in the data or URL is sent away
        elif not a.startswith("-"):
            out += _variables(a, inv)
            m = re.match(r"^[\w.-]*(?:=)?@(.+)$|^[\w.-]+=<(.+)$", a)  # httpie: `field@FILE`, `field=@FILE`
            if m and not _URL.match(a) and inv.name in ("http", "https", "xh"):
                out += _file(m.group(1) or m.group(2), inv)
        i += 1
    if inv.name in ("http", "https", "xh") and inv.upstream:
        out += _stdin(inv)  # httpie sends what is piped in
    return tuple(out)


def _data_value(value: str, inv: Invocation) -> list[str]:
    m = re.match(r"^(?:[^=@<]*=)?[@<](.+)$|^[^=@]+@(.+)$", value)
    if m:
        return _file(m.group(1) or m.group(2), inv)
    return _variables(value, inv)


def _file(value: str, inv: Invocation) -> list[str]:
    value = value.split(";", 1)[0]  # curl -F 'f=@x;type=text/plain'
    if value in ("-", "."):
        return _stdin(inv)
    if not value or UNKNOWN in value:
        return [value] if value else []
    return [resolve(_home(value, inv), inv.cwd)]


def _home(path: str, inv: Invocation) -> str:
    return inv.home + path[1:] if path == "~" or path.startswith("~/") else path


def _variables(text: str, inv: Invocation) -> list[str]:
    """The `$NAME`s a value was built from (only params the command really expands)."""
    return ["$" + p for p in inv.params if UNKNOWN in text]


def _stdin(inv: Invocation) -> list[str]:
    return ["-", *inv.piped_in] if inv.upstream else ["-"]


def _raw(inv: Invocation) -> tuple[str, ...]:
    """`nc HOST PORT < F`, `cat F | nc HOST PORT`, `socat -u FILE:F TCP:HOST:PORT`."""
    positionals = [a for a in inv.args if not a.startswith("-")]
    listening = any(a in ("-l", "--listen") or re.fullmatch(r"-\w*l\w*", a) for a in inv.args)
    hosts = [a for a in positionals if re.match(r"^[\w.-]+\.[a-z]{2,}$|^\d{1,3}(\.\d{1,3}){3}$|^\[?[0-9a-f:]+\]?$", a,
                                                re.I) or _LOCAL.match(a)]
    connects = [a for a in inv.args if re.match(r"(?i)^(tcp|udp|ssl|openssl)[46]?(-connect)?:", a)]
    if not (hosts or connects or "-connect" in inv.args) and not listening:
        return ()
    out = [t for op, t in inv.redirects if op == "<"]
    out += [resolve(a.split(":", 1)[1].split(",")[0], inv.cwd) for a in inv.args
            if re.match(r"(?i)^(file|open|gopen):", a)]
    out += _stdin(inv) if inv.upstream else []
    return tuple(out)


def _copy(inv: Invocation) -> tuple[str, ...]:
    """`scp F host:`, `rsync -a DIR host:dst`, `aws s3 cp F s3://…`: local operands copied to a remote."""
    positionals = [a for a in inv.args if not a.startswith("-")]
    if inv.name in ("aws", "gsutil", "az", "s3cmd", "rclone"):
        positionals = [a for a in positionals if a not in ("s3", "cp", "sync", "mv", "copy", "put", "storage",
                                                             "blob", "upload")]
    if len(positionals) < 2 or not _REMOTE_PATH.match(positionals[-1]):
        return ()
    return tuple(resolve(_home(a, inv), inv.cwd) for a in positionals[:-1] if not _REMOTE_PATH.match(a))


def _operands(inv: Invocation) -> list[str]:
    return [resolve(_home(a, inv), inv.cwd) for a in inv.args if not a.startswith("-") and UNKNOWN not in a]
