"""A copy of what a sandboxed command printed, kept for the result cache (SPEC §8), and whether the run was
interactive (keyboard input reached it). Bounded: past `limit` bytes the copy is dropped, not the output."""

from __future__ import annotations

LIMIT = 16 * 1024 * 1024


class Tee:
    def __init__(self, limit: int = LIMIT) -> None:
        self.limit = limit
        self.out = bytearray()
        self.err = bytearray()
        self.overflow = False  # more than `limit` bytes: the copy is incomplete and must not be replayed
        self.typed = False  # input from the keyboard reached the command
        self.tty = False  # the command ran on a terminal: its stdout and stderr are one stream, in `out`

    def add(self, stream: int, data: bytes) -> None:
        if self.overflow:
            return
        target = self.err if stream == 2 else self.out
        if len(self.out) + len(self.err) + len(data) > self.limit:
            self.overflow = True
            self.out.clear()
            self.err.clear()
            return
        target += data
