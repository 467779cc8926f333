"""Option grammars of the programs that run another command (data for `vgshell.unwrap`).

For each wrapper: the options that take a value (so the value is not mistaken for the command), and how
many leading operands come before the command (`timeout 10 cmd`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class WrapperSpec:
    valued: frozenset[str] = frozenset()  # options whose value is the next word (or attached: -uroot)
    operands: int = 0  # leading non-option words before the wrapped command
    assignments: bool = False  # NAME=value words may precede the command (env, sudo)
    privileged: bool = False


def _spec(valued: str = "", operands: int = 0, assignments: bool = False, privileged: bool = False) -> WrapperSpec:
    return WrapperSpec(frozenset(valued.split()), operands, assignments, privileged)


WRAPPERS: dict[str, WrapperSpec] = {
    "sudo": _spec("-u --user -g --group -h --host -p --prompt -C --close-from -D --chdir -r --role "
                  "-t --type -U --other-user -T --command-timeout", assignments=True, privileged=True),
    "doas": _spec("-u -C", privileged=True),
    "pkexec": _spec("--user", privileged=True),
    "run0": _spec("--user -u --unit --property --description --slice --nice -D --chdir --setenv",
                  privileged=True),
    "env": _spec("-u --unset -C --chdir -S --split-string -P --block-signal --default-signal "
                 "--ignore-signal", assignments=True),
    "command": _spec(""),
    "builtin": _spec(""),
    "exec": _spec("-a"),
    "nohup": _spec(""),
    "noglob": _spec(""),  # zsh precommand modifiers
    "nocorrect": _spec(""),
    "time": _spec("-f --format -o --output"),
    "nice": _spec("-n --adjustment"),
    "ionice": _spec("-c --class -n --classdata -p --pid -P --pgid -u --uid"),
    "chrt": _spec("", operands=1),
    "taskset": _spec("", operands=1),
    "timeout": _spec("-s --signal -k --kill-after", operands=1),
    "stdbuf": _spec("-i --input -o --output -e --error"),
    "setsid": _spec(""),
    "unbuffer": _spec(""),
    "caffeinate": _spec("-t -w"),
    "flock": _spec("-w --timeout -E --conflict-exit-code", operands=1),
    "chroot": _spec("--userspec --groups", operands=1),
    "strace": _spec("-e -o -p -s -u -E -P -I -b -a -X"),
    "ltrace": _spec("-e -o -p -s -u -n -a"),
    "firejail": _spec(""),
    "proxychains": _spec("-f"),
    "proxychains4": _spec("-f"),
    "torsocks": _spec("-u -p -a -P"),
    "fakeroot": _spec("-l --lib --faked -s -i"),
    "eatmydata": _spec(""),
    "dbus-launch": _spec(""),
    "catchsegv": _spec(""),
    "busybox": _spec(""),
    "toybox": _spec(""),
    "xvfb-run": _spec("-n --server-num -s --server-args -f --auth-file -e --error-file -p --xauth-protocol"),
    # reserved words tree-sitter-bash reads as command names (`time { …; }`, `coproc cmd`)
    "coproc": _spec(""),
    "{": _spec(""),
    "npx": _spec(""),  # handled as a package runner too, see risk rules
    "doppler": _spec(""),
}

SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "fish", "tcsh", "csh", "yash", "rbash",
                    "busybox-sh"})

# interpreter → the options that carry inline program text
INTERPRETERS: dict[str, frozenset[str]] = {
    "python": frozenset({"-c"}),
    "perl": frozenset({"-e", "-E"}),
    "ruby": frozenset({"-e"}),
    "node": frozenset({"-e", "--eval", "-p", "--print"}),
    "nodejs": frozenset({"-e", "--eval", "-p", "--print"}),
    "bun": frozenset({"-e", "--eval"}),
    "deno": frozenset({"eval"}),
    "php": frozenset({"-r"}),
    "lua": frozenset({"-e"}),
    "luajit": frozenset({"-e"}),
    "Rscript": frozenset({"-e"}),
    "osascript": frozenset({"-e"}),
    "pwsh": frozenset({"-c", "-Command", "-command"}),
    "powershell": frozenset({"-c", "-Command", "-command"}),
    "tclsh": frozenset(),
    "awk": frozenset(),
    "gawk": frozenset(),
    "mawk": frozenset(),
    "nawk": frozenset(),
    "gdb": frozenset({"-ex", "--eval-command", "-iex"}),
    "expect": frozenset({"-c"}),
    "emacs": frozenset({"--eval"}),
    "vim": frozenset({"-c", "--cmd"}),
    "jshell": frozenset(),
    "irb": frozenset(),
}

AWK = frozenset({"awk", "gawk", "mawk", "nawk"})

# environment variables whose value a program (or the shell itself) runs as a command line
COMMAND_VARIABLES = frozenset({"PROMPT_COMMAND", "GIT_SSH_COMMAND", "GIT_SSH", "GIT_EDITOR", "GIT_PAGER",
                               "GIT_SEQUENCE_EDITOR", "GIT_EXTERNAL_DIFF", "GIT_ASKPASS", "SSH_ASKPASS",
                               "SUDO_ASKPASS", "PAGER", "MANPAGER", "EDITOR", "VISUAL", "BROWSER", "LESSOPEN",
                               "LESSCLOSE", "RSYNC_RSH", "CVS_RSH", "FCEDIT", "PERL5DB"})

# git config keys (`git -c KEY=VALUE`, `git config KEY VALUE`) whose value git runs through the shell;
# an `alias.*` value runs only when it starts with `!`
GIT_COMMAND_KEYS = re.compile(r"(core\.(sshcommand|pager|editor|fsmonitor|askpass)|sequence\.editor|"
                              r"diff\.external|pager\.[\w.-]+|(diff|merge)\.[\w.-]+\.(textconv|command|driver)|"
                              r"filter\.[\w.-]+\.(clean|smudge|process)|credential\.helper|"
                              r"uploadpack\.packobjectshook|alias\.[\w.-]+)", re.I)


def interpreter_key(name: str) -> str | None:
    """`python3.11` → `python`; None when `name` is not an interpreter."""
    if name in INTERPRETERS:
        return name
    for base in ("python", "perl", "ruby", "php", "lua", "node"):
        if name.startswith(base) and name[len(base) :].replace(".", "").isdigit():
            return base
    return None
