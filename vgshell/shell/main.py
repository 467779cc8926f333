"""`vgshell` argv → how the shell runs: `-c CMD [ARG0 ARGS…]`, `SCRIPT [ARGS]`, commands on stdin, or the REPL.

Options read as bash reads them (`-lc`, `-l -c`, `--login`, `-i`, `-s`, `-o NAME`, `-e` …); those that are
bash's own are handed to the bash that runs the judged text. Only the REPL imports prompt_toolkit.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from vgshell.shell.guard import Guard

USAGE = """usage: vgshell [-l] [-i] [-c CMD [ARG0 ARGS…] | SCRIPT [ARGS…] | -s [ARGS…]] [bash options]
  vgshell                the interactive shell (a terminal), or commands read from stdin (not a terminal)
  vgshell -c CMD         judge CMD, then run it on the host, in the sandbox, or not at all (status 126)
  vgshell SCRIPT [ARGS]  judge the script's text as a whole, then run it with $1 $2 … = ARGS
  -l, --login            read the profile files a login bash reads
  -i                     interactive, even when stdin is not a terminal
Every other bash option (-e, -x, -u, -o NAME, +o NAME, -O NAME …) is passed to bash.
"""
_WITH_VALUE = {"o", "O"}
_LONG_FOR_BASH = {"--norc", "--noprofile", "--posix", "--noediting", "--restricted", "--verbose"}


class Usage(Exception):
    pass


class Invocation:
    """What argv asked for (a plain class: no dataclasses import on the `-c` path)."""

    def __init__(self) -> None:
        self.command: str | None = None
        self.args: list[str] = []
        self.login = False
        self.interactive = False
        self.stdin = False
        self.rcfile: str | None = None
        self.bash_options: list[str] = []


def parse(argv: Sequence[str]) -> Invocation:
    inv = Invocation()
    want_command = False
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--":
            i += 1
            break
        if a in ("--login",):
            inv.login = True
        elif a in ("--help", "--version"):
            raise Usage(a)
        elif a in ("--rcfile", "--init-file"):
            if i + 1 >= len(argv):
                raise Usage(f"{a}: option requires an argument")
            inv.rcfile = argv[i + 1]
            i += 1
        elif a in _LONG_FOR_BASH:
            inv.bash_options.append(a)
        elif a.startswith("--"):
            raise Usage(f"{a}: invalid option")
        elif len(a) > 1 and a[0] in "-+":
            sign = a[0]
            for j, letter in enumerate(a[1:]):
                if sign == "-" and letter == "c":
                    want_command = True
                elif sign == "-" and letter == "l":
                    inv.login = True
                elif sign == "-" and letter == "i":
                    inv.interactive = True
                elif sign == "-" and letter == "s":
                    inv.stdin = True
                elif letter in _WITH_VALUE:
                    if j != len(a) - 2 or i + 1 >= len(argv):
                        raise Usage(f"{sign}{letter}: option requires an argument")
                    inv.bash_options += [f"{sign}{letter}", argv[i + 1]]
                    i += 1
                else:
                    inv.bash_options.append(f"{sign}{letter}")
        else:
            break
        i += 1
    rest = list(argv[i:])
    if want_command:
        if not rest:
            raise Usage("-c: option requires an argument")
        inv.command, inv.args = rest[0], rest[1:]
    elif rest and not inv.stdin:
        inv.args = rest  # SCRIPT ARGS
    else:
        inv.args = rest
    return inv


def main(argv: Sequence[str] | None = None) -> int:
    try:
        inv = parse(list(sys.argv[1:] if argv is None else argv))
    except Usage as e:
        what = str(e)
        if what in ("--help", "--version"):
            from vgshell import __version__

            sys.stdout.write(f"vgshell {__version__}\n" if what == "--version" else USAGE)
            return 0
        sys.stderr.write(f"vgshell: {what}\n{USAGE}")
        return 2
    if inv.command is not None:
        return run_text(inv.command, inv.args or ["bash"], inv)
    if inv.args and not inv.stdin:
        return run_script(inv.args[0], inv.args[1:], inv)
    if inv.interactive or (sys.stdin.isatty() and sys.stderr.isatty()):
        if _has_terminal():
            from vgshell.shell.repl import run_repl

            return run_repl(inv)
        sys.stderr.write("vgshell: -i: no terminal to be interactive on; reading commands from stdin\n")
    return run_stdin(inv)


def _has_terminal() -> bool:
    try:
        os.close(os.open("/dev/tty", os.O_RDWR))
        return True
    except OSError:
        return False


def make_guard() -> Guard:
    env = dict(os.environ)
    session = env.get("VG_SESSION") or f"vgshell-{os.getpid()}"
    human = sys.stdin.isatty() and sys.stderr.isatty()
    return Guard(env, human, session)


def _options(inv: Invocation) -> list[str]:
    return [*(["-l"] if inv.login else []), *inv.bash_options]


def run_text(text: str, args: Sequence[str], inv: Invocation) -> int:
    """Judge `text` whole, then run it ($0 $1 … = `args`); a host line becomes bash (this process execs)."""
    from vgshell.shell.run import carry_out

    guard = make_guard()
    cwd = os.getcwd()
    try:
        reply = guard.judge(text, cwd, os.getpid())
        return carry_out(guard, reply, text, cwd, args, _options(inv))
    finally:
        guard.close()


def run_script(path: str, args: Sequence[str], inv: Invocation) -> int:
    """The script's text judged as one multi-line script; bash then runs that very text (read once), so what
    ran is what was judged, even if the file changes meanwhile."""
    try:
        with open(path, "rb") as f:
            text = f.read().decode("utf-8", "surrogateescape")
    except OSError as e:
        sys.stderr.write(f"vgshell: {path}: {e.strerror}\n")
        return 127 if isinstance(e, FileNotFoundError) else 126
    return run_text(text, [path, *args], inv)


def run_stdin(inv: Invocation) -> int:
    """Not a terminal: like `bash -s`, the commands on stdin, each judged before bash reads it."""
    from vgshell.shell.stream import run_stream

    return run_stream(make_guard(), inv.args, _options(inv))


if __name__ == "__main__":
    raise SystemExit(main())
