"""A seccomp filter (classic BPF, built here, no libseccomp) that refuses the ioctls that type into a terminal.

A sandbox that shares the user's terminal (the shell hook runs bubblewrap directly on it, for speed) must
not be able to push keystrokes into the shell's input with TIOCSTI, nor use TIOCLINUX. bubblewrap loads
the filter from a file descriptor (`--seccomp FD`). Unknown architectures get no filter: callers then use
`--new-session`, which cuts the terminal off instead.
"""

from __future__ import annotations

import platform
import struct

TIOCSTI = 0x5412
TIOCLINUX = 0x541C
_RET_ALLOW = 0x7FFF0000
_RET_ERRNO_EPERM = 0x00050000 | 1
_RET_KILL_PROCESS = 0x80000000
# struct seccomp_data: int nr; u32 arch; u64 ip; u64 args[6]  (little-endian: args[1]'s low half at 24)
_NR, _ARCH, _ARG1 = 0, 4, 24
_LD_W_ABS, _JEQ_K, _JGE_K, _RET_K = 0x20, 0x15, 0x35, 0x06
_X32_BIT = 0x40000000
# machine → (AUDIT_ARCH_*, ioctl syscall number)
_ARCHES = {"x86_64": (0xC000003E, 16), "aarch64": (0xC00000B7, 29)}


def _op(code: int, jt: int, jf: int, k: int) -> bytes:
    return struct.pack("<HBBI", code, jt, jf, k)


def tty_filter(machine: str | None = None) -> bytes | None:
    arch_ioctl = _ARCHES.get(machine or platform.machine())
    if arch_ioctl is None:
        return None
    arch, ioctl = arch_ioctl
    prog = [
        _op(_LD_W_ABS, 0, 0, _ARCH),
        _op(_JEQ_K, 1, 0, arch),
        _op(_RET_K, 0, 0, _RET_KILL_PROCESS),
        _op(_LD_W_ABS, 0, 0, _NR),
        _op(_JGE_K, 5, 0, _X32_BIT),  # the x32 ABI's numbers: refused outright
        _op(_JEQ_K, 0, 5, ioctl),
        _op(_LD_W_ABS, 0, 0, _ARG1),
        _op(_JEQ_K, 2, 0, TIOCSTI),
        _op(_JEQ_K, 1, 0, TIOCLINUX),
        _op(_RET_K, 0, 0, _RET_ALLOW),
        _op(_RET_K, 0, 0, _RET_ERRNO_EPERM),
        _op(_RET_K, 0, 0, _RET_ALLOW),
    ]
    return b"".join(prog)
