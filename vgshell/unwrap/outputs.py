"""Files a command writes that are named in its options or its program text rather than by a redirection:
`sort -o FILE`, `curl -o FILE`, `find -fprintf FILE`, sed's `w FILE`, awk's `print > f`, `tar x -C DIR`.
They are added to the command's redirections (`>`), so every rule about writes — start-up files, persistence
targets, system files — sees them as it sees `> FILE`. Which option names an output is data (`OUTPUT_OPTIONS`).
"""

from __future__ import annotations

import re
from dataclasses import replace

from vgshell.expand import UNKNOWN
from vgshell.unwrap.argv import resolve
from vgshell.unwrap.model import Invocation

# program → options whose value is a file it writes (`-o FILE` or `-oFILE`/`--output=FILE`)
OUTPUT_OPTIONS: dict[str, frozenset[str]] = {
    "find": frozenset({"-fprintf", "-fprint", "-fprint0", "-fls"}),
    "sort": frozenset({"-o", "--output"}),
    "gpg": frozenset({"-o", "--output"}),
    "gpg2": frozenset({"-o", "--output"}),
    "openssl": frozenset({"-out"}),
    "curl": frozenset({"-o", "--output"}),
    "wget": frozenset({"-O", "--output-document", "-o", "--output-file", "-a", "--append-output"}),
    "base64": frozenset({"-o", "--output"}),
    "tar": frozenset({"-f", "--file"}),  # on create only, see _ARCHIVE_CREATE
}
# program → options naming the directory an archive is extracted into (its files are written there)
EXTRACT_INTO: dict[str, frozenset[str]] = {
    "unzip": frozenset({"-d"}),
    "tar": frozenset({"-C", "--directory"}),
    "bsdtar": frozenset({"-C", "--directory"}),
    "7z": frozenset({"-o"}),
}
# program → the positional operand (0-based, after options) it writes to when given
OUTPUT_OPERAND: dict[str, int] = {"uniq": 1}
_SED_WRITE = re.compile(r"(?:^|[;\n{}/0-9$])\s*[wW]\s*([^;\n}]+)")
_AWK_WRITE = re.compile(r"print[f]?\b[^>|;}\n]*>>?\s*(\"[^\"]+\"|[A-Za-z_]\w*)")


def with_outputs(inv: Invocation) -> Invocation:
    """`inv` with the files its options or program text write added as `>` redirections."""
    name = inv.name
    args = list(inv.args)
    found: list[str] = []
    if name == "tar" and not _tar_creates(args):
        found += _option_values(args, frozenset())
    else:
        found += _option_values(args, OUTPUT_OPTIONS.get(name, frozenset()))
    into = EXTRACT_INTO.get(name)
    if into and (name != "tar" or _tar_extracts(args)) and (name != "7z" or args[:1] == ["x"]):
        found += [d.rstrip("/") + "/*" for d in _option_values(args, into, glued=name == "7z")]
    if name in OUTPUT_OPERAND:
        operands = [a for a in args if not a.startswith("-")]
        if len(operands) > OUTPUT_OPERAND[name]:
            found.append(operands[OUTPUT_OPERAND[name]])
    if name == "sed":
        found += [m.group(1).strip() for a in _program_texts(args, "-e") for m in _SED_WRITE.finditer(a)]
        if any(a.startswith(("-i", "--in-place")) or (a[:1] == "-" and a[1:2] != "-" and "i" in a) for a in args):
            found += _sed_files(args)  # `sed -i d /etc/hosts` rewrites the files it is given
    if name in ("awk", "gawk", "mawk", "nawk"):
        found += _awk_writes(args)
    targets = [resolve(f, inv.cwd) for f in found if f and f not in ("-", "/dev/stdout") and UNKNOWN not in f]
    if not targets:
        return inv
    return replace(inv, redirects=inv.redirects + tuple((">", t) for t in targets))


def _option_values(args: list[str], options: frozenset[str], glued: bool = False) -> list[str]:
    out = []
    for i, a in enumerate(args):
        if a in options and i + 1 < len(args):
            out.append(args[i + 1])
        elif "=" in a and a.partition("=")[0] in options:
            out.append(a.partition("=")[2])
        elif glued or (len(a) > 2 and not a.startswith("--")):
            short = next((o for o in options if len(o) == 2 and a.startswith(o) and len(a) > 2), None)
            if short is not None:
                out.append(a[2:])
    return out


def _tar_extracts(args: list[str]) -> bool:
    first = args[0] if args else ""
    return (not first.startswith("-") and "x" in first) or any(
        a in ("--extract", "--get") or (a.startswith("-") and not a.startswith("--") and "x" in a) for a in args)


def _tar_creates(args: list[str]) -> bool:
    first = args[0] if args else ""
    return (not first.startswith("-") and "c" in first) or any(
        a == "--create" or (a.startswith("-") and not a.startswith("--") and "c" in a) for a in args)


def _program_texts(args: list[str], option: str) -> list[str]:
    """sed's scripts: the `-e` values, or the first operand when there is none."""
    given = [args[i + 1] for i, a in enumerate(args[:-1]) if a in (option, "--expression")]
    if given:
        return given
    operands = [a for a in args if not a.startswith("-")]
    return operands[:1]


def _sed_files(args: list[str]) -> list[str]:
    """The files `sed -i` edits: its operands after the script (which is the first operand without `-e`)."""
    scripted = any(a in ("-e", "--expression", "-f", "--file") or a.startswith(("--expression=", "--file="))
                   for a in args)
    operands = [a for i, a in enumerate(args) if not a.startswith("-")
                and (i == 0 or args[i - 1] not in ("-e", "--expression", "-f", "--file", "-l"))]
    return operands if scripted else operands[1:]


def _awk_writes(args: list[str]) -> list[str]:
    variables = {}
    for i, a in enumerate(args[:-1]):
        if a == "-v" and "=" in args[i + 1]:
            k, _, v = args[i + 1].partition("=")
            variables[k] = v
    program = next((a for i, a in enumerate(args) if not a.startswith("-") and (i == 0 or args[i - 1] != "-v")
                    and "=" not in a[:1]), "")
    out = []
    for m in _AWK_WRITE.finditer(program):
        target = m.group(1)
        out.append(target[1:-1] if target.startswith('"') else variables.get(target, UNKNOWN))
    return out


OUTPUT_PROGRAMS = frozenset(OUTPUT_OPTIONS) | frozenset(EXTRACT_INTO) | frozenset(OUTPUT_OPERAND) | frozenset(
    {"sed", "awk", "gawk", "mawk", "nawk"})
