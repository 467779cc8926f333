"""Per-command handlers: what `cd`, `eval`, `ssh`, `find -exec`, `xargs`, `git -c alias.x='!…'`… run or change."""

from __future__ import annotations

import os.path
import re
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING
from urllib.parse import unquote

from vgshell.expand import UNKNOWN
from vgshell.parse import Word
from vgshell.unwrap.argv import (
    fed_by,
    option_anywhere,
    option_value,
    resolve,
    split_words,
    strip_options,
)
from vgshell.unwrap.model import ANYWHERE, Ctx, Invocation, State
from vgshell.unwrap.scripts import data_lines, run_file, run_make
from vgshell.unwrap.variables import VARIABLE_HANDLERS
from vgshell.wrappers import GIT_COMMAND_KEYS, SHELLS, WRAPPERS

if TYPE_CHECKING:
    from vgshell.unwrap.walker import Walker



def _h_cd(w: Walker, inv: Invocation, st: State, ctx: Ctx, words: list[Word]) -> None:
    w.emit(inv, ctx)
    target = next((a for a in inv.args if not a.startswith("-") or a == "-"), None)
    if target is None:
        st.cwd = st.home
    elif target == "-" or UNKNOWN in target:
        st.cwd = None
    else:
        st.cwd = resolve(target, st.cwd)


def _h_popd(w: Walker, inv: Invocation, st: State, ctx: Ctx, words: list[Word]) -> None:
    w.emit(inv, ctx)
    st.cwd = None


def _h_unset(w: Walker, inv: Invocation, st: State, ctx: Ctx, words: list[Word]) -> None:
    w.emit(inv, ctx)
    for a in inv.args:
        st.vars.pop(a, None)


def _h_eval(w: Walker, inv: Invocation, st: State, ctx: Ctx, words: list[Word]) -> None:
    code = " ".join(inv.args)
    w.emit(replace(inv, code=code, fed_by=fed_by(words, ctx)), ctx)
    if code.replace(UNKNOWN, "").strip():
        w.text(code.replace(UNKNOWN, ""), st, ctx, "eval")


def _h_source(w: Walker, inv: Invocation, st: State, ctx: Ctx, words: list[Word]) -> None:
    target = resolve(inv.args[0], st.cwd) if inv.args else ""
    w.emit(replace(inv, fed_by=fed_by(words, ctx), runs_downloaded=target in st.downloaded), ctx)
    if not w.written_script(target, st, ctx, inv.name) and w.process_sub_code(words, st, ctx, inv.name) is None \
            and inv.args:
        run_file(w, inv.args[0], st, ctx, f"{inv.name} {inv.args[0]}", inv, sourced=True)  # state stays


def _h_make(w: Walker, inv: Invocation, st: State, ctx: Ctx, words: list[Word]) -> None:
    w.emit(inv, ctx)
    run_make(w, inv, st, ctx)


def _h_alias(w: Walker, inv: Invocation, st: State, ctx: Ctx, words: list[Word]) -> None:
    w.emit(inv, ctx)
    for a in inv.args:
        name, eq, value = a.partition("=")
        if eq and value:
            st.aliases[name] = value  # later commands named `name` run `value` (see Walker.command)
            w.text(value, st.copy(), ctx, "alias")


def _h_trap(w: Walker, inv: Invocation, st: State, ctx: Ctx, words: list[Word]) -> None:
    w.emit(inv, ctx)
    if len(inv.args) >= 2 and not inv.args[0].startswith("-"):
        line = inv.where.rsplit(":", 1)[1] if inv.where and ctx.source else ""
        w.text(inv.args[0], st.copy(), ctx, "trap", int(line) if line.isdigit() else None)


def _h_ssh(w: Walker, inv: Invocation, st: State, ctx: Ctx, words: list[Word]) -> None:
    w.emit(inv, ctx)
    rest, _, _ = strip_options(list(inv.args), _SSH_SPEC)
    command = rest[2:] if rest[1:2] == ["--"] else rest[1:]
    if command:
        remote = State(None, {"HOME": UNKNOWN}, UNKNOWN)
        w.text(" ".join(command), remote, replace(ctx, remote=True, privileged=False), "ssh")


def _h_su(w: Walker, inv: Invocation, st: State, ctx: Ctx, words: list[Word]) -> None:
    w.emit(inv, ctx)
    code = option_anywhere(list(inv.args), {"-c", "--command"}, clustered="c")
    if code is not None:
        w.text(code, st.copy(), replace(ctx, privileged=True), "su -c")


def _h_watch(w: Walker, inv: Invocation, st: State, ctx: Ctx, words: list[Word]) -> None:
    w.emit(inv, ctx)
    rest, _, _ = strip_options(list(inv.args), _WATCH_SPEC)
    if rest:
        w.text(" ".join(rest), st.copy(), ctx, "watch")


def _h_script(w: Walker, inv: Invocation, st: State, ctx: Ctx, words: list[Word]) -> None:
    w.emit(inv, ctx)
    code = option_anywhere(list(inv.args), {"-c", "--command"}, clustered="c")
    if code is not None:
        w.text(code, st.copy(), ctx, "script -c")


def _h_tmux(w: Walker, inv: Invocation, st: State, ctx: Ctx, words: list[Word]) -> None:
    w.emit(inv, ctx)
    args = list(inv.args)
    if "send-keys" in args or "send" in args:
        i = args.index("send-keys") if "send-keys" in args else args.index("send")
        rest, _, _ = strip_options(args[i + 1 :], WRAPPERS_SEND_KEYS)
        keys = [k for k in rest if k not in ("Enter", "C-m", "KPEnter")]
        if keys:
            w.text(" ".join(keys), st.copy(), ctx, "tmux send-keys")
    elif (args and args[0] in ("new-session", "new", "new-window", "neww", "split-window", "splitw",
                              "respawn-pane")) or "-c" in args:
        tail = [a for a in args[1:] if not a.startswith("-")]
        code = option_value(args, {"-c"}, attached=False)
        if code is not None:
            w.text(code, st.copy(), ctx, "tmux -c")
        elif tail:
            w.text(" ".join(tail[-1:]), st.copy(), ctx, "tmux")


def _h_at(w: Walker, inv: Invocation, st: State, ctx: Ctx, words: list[Word]) -> None:
    w.emit(replace(inv, fed_by=fed_by(words, ctx)), ctx)
    if ctx.stdin_text is not None:
        w.text(ctx.stdin_text, st.copy(), replace(ctx, stdin_text=None), inv.name)


def _h_find(w: Walker, inv: Invocation, st: State, ctx: Ctx, words: list[Word]) -> None:
    args = list(inv.args)
    roots = []
    for a in args:
        if a.startswith(("-", "(", "!")) and a not in ("-",):
            break
        roots.append(a)
    roots = roots or ["."]
    # a test narrows what is found (`-name '*'` does not): {} is then some entries under the root
    filtered = any(a in _FIND_TESTS and args[i + 1 : i + 2] != ["*"] for i, a in enumerate(args))
    w.emit(inv, ctx)
    i = 0
    while i < len(args):
        a = args[i]
        if a in ("-exec", "-execdir", "-ok", "-okdir"):
            end = next((j for j in range(i + 1, len(args)) if args[j] in (";", "+", "\\;")), len(args))
            cmd = args[i + 1 : end]
            for root in roots:
                argv = tuple(c.replace("{}", root) for c in cmd)
                if filtered and argv and os.path.basename(argv[0]) == "rm":
                    argv = (argv[0], "--find-filtered", *argv[1:])
                if argv:
                    w.command(Invocation(argv, st.cwd, home=st.home), st.copy(), ctx.deeper(f"find {a}"), [])
            i = end
        elif a == "-delete":
            for root in roots:
                argv = ("rm", "-r", root) if not filtered else ("rm", "-r", "--find-filtered", root)
                w.command(Invocation(argv, st.cwd, home=st.home), st.copy(), ctx.deeper("find -delete"), [])
        i += 1


def _h_xargs(w: Walker, inv: Invocation, st: State, ctx: Ctx, words: list[Word]) -> None:
    w.emit(inv, ctx)
    args = list(inv.args)
    replace_token: str | None = None
    arg_file: str | None = None
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--":
            i += 1
            break
        if not a.startswith("-"):
            break
        if a in ("-I", "-J", "--replace") or a.startswith("--replace="):  # -J: BSD xargs
            valued = a in ("-I", "-J")
            replace_token = a.partition("=")[2] or (args[i + 1] if valued and i + 1 < len(args) else "{}")
            i += 2 if valued else 1
            continue
        if a.startswith("-I") or a == "-i" or a.startswith("-i"):
            replace_token = a[2:] or "{}"
        elif a in ("-a", "--arg-file") or a.startswith("--arg-file="):
            arg_file = a.partition("=")[2] or (args[i + 1] if i + 1 < len(args) else "")
            i += 0 if "=" in a else 1
        elif a in _XARGS_VALUED:
            i += 1
        i += 1
    cmd = args[i:] or ["echo"]
    text = ctx.stdin_text
    if arg_file is not None:  # `xargs -a FILE`: the items come from FILE, not stdin
        lines_read = data_lines(w, arg_file, st)
        text = "\n".join(lines_read) + "\n" if lines_read is not None else None
    items = split_words(text) if text is not None else [UNKNOWN]
    if replace_token is not None:
        lines = text.splitlines() if text is not None else [UNKNOWN]
        argvs = [tuple(c.replace(replace_token, line.strip()) for c in cmd) for line in lines[:20] or [""]]
    elif os.path.basename(cmd[0]) in SHELLS and cmd[-1] == "-c":
        argvs = [tuple([*cmd, text.strip() if text is not None else UNKNOWN])]
    else:
        argvs = [tuple(cmd + items[:200])]
    for argv in argvs:
        w.command(Invocation(argv, st.cwd, home=st.home), st.copy(), ctx.deeper("xargs", stdin_text=None), [])


def _h_parallel(w: Walker, inv: Invocation, st: State, ctx: Ctx, words: list[Word]) -> None:
    w.emit(inv, ctx)
    args = list(inv.args)
    groups: list[list[str]] = []
    cmd: list[str] = []
    i = 0
    while i < len(args) and args[i].startswith("-") and args[i] not in (":::", "::::"):
        i += 2 if args[i] in _PARALLEL_VALUED else 1
    from_files = False
    while i < len(args):
        if args[i] in (":::", ":::+", "::::", "::::+"):
            groups.append([])
            from_files = args[i].startswith("::::")
        elif groups and from_files:  # `:::: FILE`: the inputs are FILE's lines
            groups[-1].extend(data_lines(w, args[i], st) or [UNKNOWN])
        elif groups:
            groups[-1].append(args[i])
        else:
            cmd.append(args[i])
        i += 1
    inputs = [x for g in groups for x in g] or (
        ctx.stdin_text.splitlines() if ctx.stdin_text is not None else [UNKNOWN])
    template = cmd or ["{}"]
    for item in inputs[:50]:
        if any("{" in c for c in template):
            argv = [re.sub(r"\{[0-9./#%]*\}", lambda _m, it=item: it, c) for c in template]  # type: ignore[misc]
        else:
            argv = [*template, item]
        joined = " ".join(argv)
        if len(template) == 1 and not cmd:
            w.text(joined, st.copy(), ctx, "parallel")
        else:
            w.command(Invocation(tuple(argv), st.cwd, home=st.home), st.copy(),
                      ctx.deeper("parallel", stdin_text=None), [])


def _h_fetch(w: Walker, inv: Invocation, st: State, ctx: Ctx, words: list[Word]) -> None:
    w.emit(inv, ctx)
    args = list(inv.args)
    for a in args:
        if a.lower().startswith("file://"):  # `curl file:///etc/shadow` reads a local file
            path = unquote(a[7:].partition("?")[0])
            path = path if path.startswith("/") else "/" + path.partition("/")[2]  # file://host/path
            w.command(Invocation(("cat", path), st.cwd, home=st.home), st, ctx.deeper("file://"), [])
    out = option_anywhere(args, {"-o", "--output"} if inv.name == "curl" else {"-O", "--output-document"})
    if out and out != "-":
        st.downloaded.add(resolve(out, st.cwd))
    elif inv.name == "wget" and out is None:
        urls = [a for a in args if "://" in a]
        if urls:
            st.downloaded.add(resolve(urls[0].rstrip("/").rsplit("/", 1)[-1] or "index.html", st.cwd))
    elif inv.name == "curl" and ("-O" in args or "--remote-name" in args):
        urls = [a for a in args if "://" in a]
        if urls:
            st.downloaded.add(resolve(urls[0].rstrip("/").rsplit("/", 1)[-1], st.cwd))


def _h_git(w: Walker, inv: Invocation, st: State, ctx: Ctx, words: list[Word]) -> None:
    """`git -c alias.x='!CMD' x`, `git -c core.pager=CMD log`, `git config core.sshCommand CMD`: walk CMD."""
    w.emit(inv, ctx)
    args = list(inv.args)
    if any(a in ("clone", "pull", "checkout", "switch", "restore", "apply", "am", "merge") for a in args):
        st.made[ANYWHERE] = ""  # files of names not written on the line appear
    settings = [args[i + 1] for i, a in enumerate(args[:-1]) if a == "-c"]
    settings += [a[2:] for a in args if a.startswith("-c") and "=" in a]
    # `--config-env=KEY=VAR`: KEY takes the value of $VAR (`X='rm -rf ~' git --config-env=core.pager=X log`)
    envs = [args[i + 1] for i, a in enumerate(args[:-1]) if a == "--config-env"]
    envs += [a.partition("=")[2] for a in args if a.startswith("--config-env=")]
    settings += [key + "=" + st.vars.get(var, "$" + var) for key, _, var in (e.rpartition("=") for e in envs)
                 if key and var]
    if "config" in args:
        rest = [a for a in args[args.index("config") + 1 :] if not a.startswith("-")]
        if rest and rest[0] in ("set", "add"):  # git 2.46: `git config set KEY VALUE`
            rest = rest[1:]
        if len(rest) >= 2:
            settings.append(rest[0] + "=" + rest[1])
    for setting in settings:
        key, _, value = setting.partition("=")
        if not GIT_COMMAND_KEYS.fullmatch(key) or not value:
            continue
        if key.lower().startswith(("alias.", "credential.")):
            if not value.startswith("!"):
                continue
            value = value[1:]
        w.text(value, st.copy(), ctx, f"git {key}")


def _h_ln(w: Walker, inv: Invocation, st: State, ctx: Ctx, words: list[Word]) -> None:
    """`ln -s TARGET LINK`: later paths through LINK reach TARGET (`ln -s ~ x; rm -rf x/`)."""
    w.emit(inv, ctx)
    args = list(inv.args)
    if not any(a in ("-s", "--symbolic") or re.fullmatch(r"-[a-zA-Z]*s[a-zA-Z]*", a) for a in args):
        operands = [a for a in args if not a.startswith("-")]
        if len(operands) == 2 and not any(UNKNOWN in a for a in operands):
            st.made[resolve(operands[1], st.cwd)] = resolve(operands[0], st.cwd)  # a hard link: the same file
        return
    operands = [a for a in args if not a.startswith("-")]
    if len(operands) != 2 or any(UNKNOWN in a for a in operands) or st.cwd is None:
        return
    link = resolve(operands[1], st.cwd)
    st.links[link] = resolve(operands[0], os.path.dirname(link))


def _h_copy(w: Walker, inv: Invocation, st: State, ctx: Ctx, words: list[Word]) -> None:
    """`cp SRC DST`, `mv`, `install`, `ln` (hard): DST holds what SRC held, so a script or program run from DST
    later on the line is SRC's (`cp /bin/rm ./safe; ./safe -rf ~`, `cp .x.sh z.sh; bash z.sh`)."""
    w.emit(inv, ctx)
    args = list(inv.args)
    valued = _COPY_VALUED.get(inv.name, frozenset())
    operands: list[str] = []
    into: str | None = None
    recursive = False
    i = 0
    while i < len(args):
        a = args[i]
        if a in valued and i + 1 < len(args):
            if a in ("-t", "--target-directory"):
                into = args[i + 1]
            i += 2
            continue
        if a.startswith("--target-directory="):
            into = a.partition("=")[2]
        elif a.startswith("-") and a != "-":
            recursive = recursive or a in ("--recursive", "--archive") or (
                not a.startswith("--") and any(c in a for c in "rRa"))
        else:
            operands.append(a)
        i += 1
    if into is None and len(operands) >= 2:
        into = operands.pop()
    if into is None or not operands or UNKNOWN in into or any(UNKNOWN in a for a in operands):
        st.made[ANYWHERE] = ""
        return
    if recursive or inv.name == "mv":
        st.made[ANYWHERE] = ""  # a tree copied or moved: its files appear under names not written here
    dest = resolve(into, st.cwd)
    for src in operands:
        source = resolve(src, st.cwd)
        source = st.links.get(source, st.made.get(source, source)) or ""
        if len(operands) == 1:
            st.made[dest] = source
        st.made[os.path.join(dest, os.path.basename(src.rstrip("/")))] = source


def _h_dd(w: Walker, inv: Invocation, st: State, ctx: Ctx, words: list[Word]) -> None:
    """`dd if=SRC of=DST`: DST holds SRC's bytes (unknown without `if=`: dd copies its stdin)."""
    w.emit(inv, ctx)
    ops = dict(a.partition("=")[::2] for a in inv.args if "=" in a)
    if "of" in ops and UNKNOWN not in ops["of"]:
        src = ops.get("if", "")
        st.made[resolve(ops["of"], st.cwd)] = resolve(src, st.cwd) if src and UNKNOWN not in src else ""


def _h_unpack(w: Walker, inv: Invocation, st: State, ctx: Ctx, words: list[Word]) -> None:
    """`tar x`, `unzip`, `7z x`, `cpio -i`, `rsync`, `scp`: files of names not written on the line appear."""
    w.emit(inv, ctx)
    args = inv.args
    extracts = (args[:1] and not args[0].startswith("-") and "x" in args[0]) or any(
        a in ("--extract", "--get") or (a.startswith("-") and not a.startswith("--") and "x" in a) for a in args)
    if inv.name not in ("tar", "bsdtar") or extracts:
        st.made[ANYWHERE] = ""


def _h_chmod(w: Walker, inv: Invocation, st: State, ctx: Ctx, words: list[Word]) -> None:
    w.emit(inv, ctx)


Handler = Callable[["Walker", Invocation, "State", "Ctx", list[Word]], None]
HANDLERS: dict[str, Handler] = {
    "cd": _h_cd, "pushd": _h_cd, "popd": _h_popd,
    "unset": _h_unset, **VARIABLE_HANDLERS,
    "eval": _h_eval, "source": _h_source, ".": _h_source,
    "alias": _h_alias, "trap": _h_trap,
    "ssh": _h_ssh, "su": _h_su, "runuser": _h_su, "watch": _h_watch, "script": _h_script,
    "tmux": _h_tmux, "at": _h_at, "batch": _h_at,
    "find": _h_find, "xargs": _h_xargs, "parallel": _h_parallel,
    "ln": _h_ln, "cp": _h_copy, "mv": _h_copy, "install": _h_copy, "dd": _h_dd,
    "tar": _h_unpack, "bsdtar": _h_unpack, "unzip": _h_unpack, "7z": _h_unpack, "7za": _h_unpack,
    "cpio": _h_unpack, "rsync": _h_unpack, "scp": _h_unpack,
    "curl": _h_fetch, "wget": _h_fetch, "git": _h_git, "make": _h_make, "gmake": _h_make,
}


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_COPY_VALUED = {"cp": _words("-t --target-directory -S --suffix"),
                "mv": _words("-t --target-directory -S --suffix"),
                "install": _words("-t --target-directory -S --suffix -m --mode -o --owner -g --group")}
_SSH_SPEC = WRAPPERS["sudo"].__class__(_words("-b -c -D -E -e -F -I -i -J -L -l -m -O -o -p -Q -R -S -W -w -B"))
_WATCH_SPEC = WRAPPERS["sudo"].__class__(_words("-n --interval -d --differences -q --equexit --chgexit -s "
                                                "--shotsdir"))
WRAPPERS_SEND_KEYS = WRAPPERS["sudo"].__class__(_words("-t -N -c -F"))
_XARGS_VALUED = _words("-a --arg-file -d --delimiter -E -e -L -l -n --max-args -P --max-procs -s "
                       "--max-chars --process-slot-var")
_PARALLEL_VALUED = _words("-S --sshlogin -j --jobs -P --results --joblog --tmpdir -a --arg-file "
                          "--colsep -C -d --delimiter -n --max-args -N --timeout --workdir --wd")
_FIND_TESTS = _words("-name -iname -path -ipath -wholename -regex -iregex -type -mtime -mmin -atime "
                     "-amin -ctime -cmin -newer -size -empty -user -group -perm -links -inum "
                     "-samefile -lname -ilname")


