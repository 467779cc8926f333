"""The normalized form of a command line: one canonical text for allow/deny lists and the trust store.

Whitespace between words collapses to one space and the ends are trimmed; quoted text is kept exactly, so
`npm   test` and `npm test` are the same command but `echo "a  b"` keeps its two spaces.
"""

from __future__ import annotations

import hashlib


def normalize(command: str) -> str:
    out: list[str] = []
    quote = ""
    pending_space = False
    i = 0
    while i < len(command):
        c = command[i]
        if quote:
            out.append(c)
            if c == "\\" and quote == '"' and i + 1 < len(command):
                out.append(command[i + 1])
                i += 1
            elif c == quote:
                quote = ""
        elif c in " \t":
            pending_space = bool(out)
        else:
            if pending_space:
                out.append(" ")
                pending_space = False
            out.append(c)
            if c == "\\" and i + 1 < len(command):
                out.append(command[i + 1])
                i += 1
            elif c in "'\"":
                quote = c
        i += 1
    return "".join(out).strip()


def command_hash(command: str) -> str:
    """sha256 of the normalized command (the trust store's key)."""
    return hashlib.sha256(normalize(command).encode("utf-8", "surrogateescape")).hexdigest()
