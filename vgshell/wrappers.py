"""Option grammars of the programs that run another command (data for `vgshell.unwrap`).

For each wrapper: the options that take a value (so the value is not mistaken for the command), and how
many leading operands come before the command (`timeout 10 cmd`). `CARRIERS` lists the programs that take a
command line as the value of an option (`tar --to-command=CMD`, `ssh -o ProxyCommand=CMD`, `vim -c '!CMD'`)
and the language that value is written in; `vgshell.unwrap.carriers` reads each language.
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
    subcommand: frozenset[str] = frozenset()  # the command follows one of these words (`uv run CMD`)
    pairs: frozenset[str] = frozenset()  # options that take two values (`bwrap --bind SRC DEST`)


def _spec(valued: str = "", operands: int = 0, assignments: bool = False, privileged: bool = False,
          subcommand: str = "", pairs: str = "") -> WrapperSpec:
    return WrapperSpec(frozenset(valued.split()), operands, assignments, privileged, frozenset(subcommand.split()),
                       frozenset(pairs.split()))


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
    "flock": _spec("-w --timeout -E --conflict-exit-code -c --command", operands=1),
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
    # run a command as root, in other namespaces or under a supervisor
    "systemd-run": _spec("-u --unit -p --property --description --slice -E --setenv --uid --gid --nice "
                         "--working-directory -M --machine -H --host --on-active --on-boot --on-startup "
                         "--on-unit-active --on-unit-inactive --on-calendar --timer-property --path-property "
                         "--socket-property -r --remain-after-exit --service-type --wait --pty -G",
                         privileged=True),
    "unshare": _spec("-S --setuid -G --setgid -R --root -w --wd --propagation --setgroups --map-user "
                     "--map-group --map-users --map-groups"),
    "nsenter": _spec("-t --target -S --setuid -G --setgid", privileged=True),
    "runuser": _spec("-c --command -u -g --group -G --supp-group -s --shell -w --whitelist-environment",
                     privileged=True),
    "sg": _spec("", operands=1),
    "setarch": _spec("--uname-2.6 -B -F -I -L -R -S -T -X -Z", operands=1),
    "setpriv": _spec("--reuid --regid --ruid --rgid --euid --egid --groups --inh-caps --ambient-caps "
                     "--bounding-set --securebits --selinux-label --apparmor-profile --pdeathsig "
                     "--landlock-access --landlock-rule"),
    "logsave": _spec("", operands=1),
    "rlwrap": _spec("-a -b -C -D -e -f -H -l -O -o -p -P -q -S -t -w -z"),
    "valgrind": _spec(""),
    "prlimit": _spec("-p --pid"),
    "numactl": _spec("-C -N -m -p -i --physcpubind --cpunodebind --membind --preferred --interleave"),
    "cpulimit": _spec("-l --limit -p --pid -e --exe"),
    "screen": _spec("-S -c -e -h -p -T -t -Logfile"),
    "dtach": _spec("-c -n -A -e -r", operands=1),
    "entr": _spec(""),
    "bwrap": _spec("--dev --proc --tmpfs --mqueue --dir --chdir --unsetenv --uid --gid --hostname --seccomp "
                   "--remount-ro --perms --size --lock-file --sync-fd --info-fd --userns --userns2 --pidns "
                   "--cap-add --cap-drop --exec-label --file-label --args --block-fd --userns-block-fd "
                   "--json-status-fd --argv0",
                   pairs="--bind --ro-bind --dev-bind --bind-try --ro-bind-try --dev-bind-try --symlink --setenv "
                         "--file --bind-data --ro-bind-data --chmod"),
    # project tools that run any command they are given
    "uv": _spec("--directory --project --python -p --with --with-requirements --env-file --package "
                "--extra --group", subcommand="run"),
    "poetry": _spec("-C --directory -P --project", subcommand="run"),
    "pipenv": _spec("", subcommand="run"),
    "pdm": _spec("-p --project", subcommand="run"),
    "hatch": _spec("-e --env", subcommand="run"),
    "conda": _spec("-n --name -p --prefix", subcommand="run"),
    "bundle": _spec("--gemfile", subcommand="exec"),
    "pnpm": _spec("-C --dir --filter", subcommand="exec"),
    "direnv": _spec("", subcommand="exec", operands=1),
    "aws-vault": _spec("-d --duration --region", subcommand="exec", operands=1),
    "op": _spec("--env-file --account", subcommand="run"),
    "doppler": _spec("-p --project -c --config", subcommand="run"),
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

# Programs that run a command line given as an option's value (GTFOBins' "shell" and "command"), as
# program → option → the language of the value: `sh` a shell line, `exec=` a shell line after that prefix,
# `ssh-o` an ssh option (ProxyCommand, LocalCommand), `ex` a vim command, `gdb` a gdb command, `elisp`,
# `make` makefile text, `sql` a client's shell escape (sqlite3 `.shell`, mysql and psql `\\!`),
# `rpm` a macro (`%(CMD)`, `%{lua:…}`), `apt-o` an apt option (`DPkg::Pre-Invoke`), `less` a
# less command (`+!CMD`). Options are matched as `-x V`, `-xV`, `--long=V` and
# `--long V`; "+" is vim's `+CMD`.
CARRIERS: dict[str, dict[str, str]] = {
    "ssh": {"-o": "ssh-o"},
    "scp": {"-o": "ssh-o", "-S": "sh"},
    "sftp": {"-o": "ssh-o", "-S": "sh"},
    "tar": {"--to-command": "sh", "--checkpoint-action": "exec=", "-I": "sh", "--use-compress-program": "sh",
            "--rsh-command": "sh", "-F": "sh", "--info-script": "sh", "--new-volume-script": "sh"},
    "zip": {"-TT": "sh", "--unzip-command": "sh"},
    "rsync": {"-e": "sh", "--rsh": "sh"},
    "flock": {"-c": "sh", "--command": "sh"},
    "runuser": {"-c": "sh", "--command": "sh"},
    "sg": {"-c": "sh"},
    "vim": {"-c": "ex", "--cmd": "ex", "+": "ex"},
    "vi": {"-c": "ex", "--cmd": "ex", "+": "ex"},
    "nvim": {"-c": "ex", "--cmd": "ex", "+": "ex"},
    "view": {"-c": "ex", "--cmd": "ex", "+": "ex"},
    "vimdiff": {"-c": "ex", "--cmd": "ex", "+": "ex"},
    "ex": {"-c": "ex", "--cmd": "ex", "+": "ex"},
    "gdb": {"-ex": "gdb", "--eval-command": "gdb", "-iex": "gdb", "--init-eval-command": "gdb"},
    "emacs": {"--eval": "elisp", "-eval": "elisp"},
    "make": {"--eval": "make", "-E": "make"},
    "gmake": {"--eval": "make", "-E": "make"},
    "sqlite3": {"-cmd": "sql"},
    "mysql": {"-e": "sql", "--execute": "sql"},
    "mariadb": {"-e": "sql", "--execute": "sql"},
    "psql": {"-c": "sql", "--command": "sql"},
    "rpm": {"--eval": "rpm", "-E": "rpm"},
    "scrot": {"-e": "sh", "--exec": "sh"},
    "npx": {"-c": "sh", "--call": "sh"},
    "nodemon": {"--exec": "sh", "-x": "sh"},
    "apt-get": {"-o": "apt-o"},
    "apt": {"-o": "apt-o"},
    "less": {"+": "less"},
    "man": {"-P": "sh", "--pager": "sh", "-H": "sh", "--html": "sh"},
}

# environment variables whose value a program (or the shell itself) runs as a command line
COMMAND_VARIABLES = frozenset({"PROMPT_COMMAND", "GIT_SSH_COMMAND", "GIT_SSH", "GIT_EDITOR", "GIT_PAGER",
                               "GIT_SEQUENCE_EDITOR", "GIT_EXTERNAL_DIFF", "GIT_ASKPASS", "SSH_ASKPASS",
                               "SUDO_ASKPASS", "PAGER", "MANPAGER", "EDITOR", "VISUAL", "BROWSER", "LESSOPEN",
                               "LESSCLOSE", "RSYNC_RSH", "CVS_RSH", "FCEDIT", "PERL5DB",
                               "npm_config_script_shell", "NPM_CONFIG_SCRIPT_SHELL"})

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
