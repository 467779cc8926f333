"""What inline interpreter code (`python -c`, `perl -e`, `node -e`, `ruby -e`, `php -r`, `lua -e`, awk) hands
to the system: the shell lines and argv it runs, the paths it deletes, writes and reads, and the code it
evaluates. Pure text analysis, no code is run.

String expressions are followed as far as text allows: literals joined by `+`, `.`, `..` or juxtaposition,
names assigned earlier in the code, f-strings and interpolation, the home directory however it is spelled
(`os.path.expanduser('~')`, `Dir.home`, `$ENV{HOME}`, `os.homedir()`), `os.path.join`. Whatever only run time
knows becomes `UNKNOWN`, so a shell line built at run time is seen as such, its literal parts still judged
(`vgshell.interp_strings`). Calls are read under the names they really have (`vgshell.interp_callees`).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import re
import shlex
from dataclasses import dataclass

from vgshell.expand import UNKNOWN
from vgshell.interp_callees import resolve
from vgshell.interp_strings import assignments as _assignments
from vgshell.interp_strings import balanced as _balanced
from vgshell.interp_strings import evaluate as _eval
from vgshell.interp_strings import interpolate as _interpolate
from vgshell.interp_strings import split_top as _split_top
from vgshell.parse import parse

MAX_CODE = 20_000  # inline code longer than this is read only for its first part
MAX_CALLS = 64


@dataclass(frozen=True)
class Effects:
    """What one piece of inline code does: shell lines (UNKNOWN where built at run time), deletes as
    (path, recursive), files written and read, and code it evaluates (language, text)."""

    shell: tuple[str, ...] = ()
    deleted: tuple[tuple[str, bool], ...] = ()
    written: tuple[str, ...] = ()
    read: tuple[str, ...] = ()
    evaluated: tuple[tuple[str, str], ...] = ()
    network: bool = False  # the code also talks to the network: what it reads may be sent
    runtime_code: bool = False  # it evaluates code only known when it runs (`exec(base64.b64decode(x))`)
    hidden: tuple[str, ...] = ()  # callees only run time names (`getattr(os, x)(…)`), each with what is unseen
    moved: tuple[tuple[str, str], ...] = ()  # renames (source, destination): moving the home away deletes it


def family(key: str) -> str:
    """The language family of an interpreter key (`nodejs` → `node`); `any` when unknown."""
    if key in ("node", "nodejs", "bun", "deno"):
        return "node"
    if key in ("awk", "gawk", "mawk", "nawk"):
        return "awk"
    return key if key in ("python", "perl", "ruby", "php", "lua") else "any"


# ------------------------------------------------------------------ call tables (data)

# language → (regex of call names that run a shell line or argv, regex of calls that evaluate code)
_SHELL_CALLS = {
    "python": r"os\.system|os\.popen|subprocess\.(?:run|call|check_call|check_output|Popen|getoutput|"
              r"getstatusoutput)|commands\.getoutput|pty\.spawn|os\.exec[lv]p?e?|os\.spawn[lv]p?e?|"
              r"os\.posix_spawnp?",
    "perl": r"system|exec|readpipe",
    "ruby": r"system|exec|spawn|IO\.popen|Open3\.\w+|Kernel\.(?:system|exec|spawn)|Process\.spawn",
    "node": r"execSync|exec|spawnSync|spawn|execFileSync|execFile|Bun\.spawn",
    "php": r"system|exec|shell_exec|passthru|popen|proc_open|pcntl_exec",
    "lua": r"os\.execute|io\.popen",
    "awk": r"system",
    "any": r"system|popen|exec[lv]?p?e?|spawn\w*|shell_exec|passthru|proc_open|os\.execute|io\.popen|"
           r"execSync|execFileSync|spawnSync",
}
_EVAL_CALLS = {"python": r"exec|eval", "perl": r"eval", "ruby": r"eval|instance_eval|class_eval",
               "node": r"eval|Function", "php": r"eval", "lua": r"loadstring|load|dostring"}
# python names that run a shell only when imported bare (`from subprocess import run`)
_PY_BARE = {"subprocess": "run|call|check_call|check_output|Popen|getoutput|getstatusoutput",
            "os": "system|popen"}
_BACKTICK_LANGS = frozenset({"perl", "ruby", "php", "any"})

_DELETE_RECURSIVE = r"shutil\.rmtree|rmtree|rm_rf|rm_r|remove_tree|rmSync|rimraf\w*|remove_dir_all|" \
                    r"FileUtils\.rm_rf|FileUtils\.remove_dir|fs\.rm|fsPromises\.rm|fs\.promises\.rm"
_DELETE_ONE = r"os\.remove|os\.unlink|os\.rmdir|os\.removedirs|unlinkSync|rmdirSync|unlink|rmdir|" \
              r"File\.delete|FileUtils\.rm|\.unlink"
_MOVE_CALLS = r"os\.rename|os\.renames|os\.replace|shutil\.move|renameSync|fs\.rename|File\.rename|FileUtils\.mv|" \
              r"FileUtils\.move|rename"
_WRITE_CALLS = r"os\.truncate|truncateSync|File\.truncate|writeFileSync|appendFileSync|createWriteStream|" \
               r"fs\.writeFile|fs\.appendFile|File\.write|" \
               r"file_put_contents|IO\.write|write_text|write_bytes"
_READ_CALLS = r"readFileSync|createReadStream|fs\.readFile|File\.read|IO\.read|file_get_contents|read_text|" \
              r"read_bytes|readfile"

_CALL_RX: dict[str, re.Pattern[str]] = {}


def _call_rx(lang: str) -> re.Pattern[str]:
    """One regex finding every interesting call of a language, by kind (shell, eval, rm_r, rm, write, read,
    open)."""
    rx = _CALL_RX.get(lang)
    if rx is None:
        kinds = [("shell", _SHELL_CALLS[lang]), ("eval", _EVAL_CALLS.get(lang, r"(?!)")),
                 ("rm_r", _DELETE_RECURSIVE), ("rm", _DELETE_ONE), ("mv", _MOVE_CALLS), ("write", _WRITE_CALLS),
                 ("read", _READ_CALLS),
                 ("open", r"open|fopen|File\.open|io\.open|Path\(.*?\)\.open")]
        body = "|".join(f"(?P<{k}>{v})" for k, v in kinds)
        # `obj.name(` counts too (`require('fs').rmSync(…)`, `cp.exec(…)`): the prefix is part of the name
        rx = _CALL_RX[lang] = re.compile(rf"(?<![\w$@.])(?:[A-Za-z_$][\w$]*\.)*(?:{body})(?![\w])"
                                         rf"(?=\s*\(|\s+[\"'$@\[`\w])")
    return rx


# ------------------------------------------------------------------ the analysis


def analyse(code: str, lang: str) -> Effects:
    """Everything `code` (in language family `lang`) runs, deletes, writes, reads or evaluates."""
    code = code[:MAX_CODE]
    if lang == "node":  # require('fs').rmSync → fs.rmSync; shell calls only where child_process is used
        code = re.sub(r"require\(\s*['\"](?:node:)?(\w+)['\"]\s*\)", r"\1", code)
    env = _assignments(code, lang)
    code, hidden = resolve(code, lang, lambda expr: _eval(expr, env, lang))
    shell: list[str] = []
    deleted: list[tuple[str, bool]] = []
    written: list[str] = []
    read: list[str] = []
    evaluated: list[tuple[str, str]] = []
    moved: list[tuple[str, str]] = []
    runtime_code = False
    rx = _call_rx(lang)
    bare = _python_bare(code) if lang == "python" else None
    for n, m in enumerate(_calls(code, rx, bare)):
        if n >= MAX_CALLS:
            break
        kind, name, args = m
        if kind == "shell" and lang == "node" and "child_process" not in code and not name.startswith("Bun."):
            continue  # `/re/.exec(s)`, `db.exec(sql)`: not a process
        if kind == "shell":
            line = _shell_line(name, args, env, lang)
            if line is not None:
                shell.append(line)
        elif kind == "eval" and args and not (lang == "perl" and args[0].startswith("{")):  # perl's eval BLOCK
            text = _eval(args[0], env, lang)
            if text.replace(UNKNOWN, "").strip():
                evaluated.append((lang, text))
            else:
                runtime_code = True
        elif kind in ("rm_r", "rm") and args:
            # node's rm/rmSync delete a directory only when told `recursive`
            recursive = kind == "rm_r" and (not re.search(r"(?:^|\.)rm(?:Sync)?$", name)
                                            or "recursive" in ",".join(args[1:]))
            path = _eval(args[0], env, lang)
            deleted.append((path, recursive or "*" in path))  # a glob deletes many at once, like a tree walk
        elif kind == "mv" and len(args) >= 2:
            moved.append((_eval(args[0], env, lang), _eval(args[1], env, lang)))
        elif kind == "write" and args:
            written.append(_eval(args[0], env, lang))
        elif kind == "read" and args:
            read.append(_eval(args[0], env, lang))
        elif kind == "open" and args:
            _open(args, env, lang, written, read, shell)
    if lang in _BACKTICK_LANGS:
        for tick in _BACKTICKS.finditer(code):
            shell.append(_interpolate(next(g for g in tick.groups() if g is not None), env, lang))
    if lang == "awk":
        shell += _awk_pipes(code, env)
    shell += _decoded_literals(code)
    if _DELETE_IN_CODE.search(code):  # a delete inside a walk of a tree deletes the tree, file by file
        deleted += [(_eval(m.group(1) or m.group(2), env, lang), True) for m in _TREE_WALK.finditer(code)]
    shell += [f"kill -9 {m.group(1) or m.group(2)}" for m in _KILL_ALL.finditer(code)]
    return Effects(tuple(dict.fromkeys(s for s in shell if s.strip())), tuple(dict.fromkeys(deleted)),
                   tuple(dict.fromkeys(written)), tuple(dict.fromkeys(read)), tuple(evaluated),
                   _NETWORK.search(code) is not None, runtime_code, hidden, tuple(dict.fromkeys(moved)))


# a signal to every process (pid -1) or to the caller's own process group (pid 0, killpg(0)), as `kill` would
_KILL_ALL = re.compile(r"(?:os\.kill|process\.kill|posix_kill|os\.killpg)\(\s*(-1|0)\s*[,)]|"
                       r"Process\.kill\(\s*[^,()]+,\s*(?:\[\s*)?(-1|0)\s*[,)\]]")


# walks of a tree: `os.walk(root)`, `Path(root).rglob(…)`, `glob.glob(root + '/**', recursive=True)`
_TREE_WALK = re.compile(r"(?:os\.walk|Find\.find|File\.find|find)\(\s*((?:[^()]|\([^()]*\))+?)\s*[,)]|"
                        r"((?:pathlib\.)?Path(?:\.home\(\)|\((?:[^()]|\([^()]*\))*\)))\.(?:rglob|walk|glob)\(")
_DELETE_IN_CODE = re.compile(r"\b(?:unlink|remove|rmtree|rmdir|delete|unlinkSync|rmSync)\b")
_NETWORK = re.compile(r"requests\.(?:post|put|patch|request)|urlopen|urllib\.request|http\.client|httpx\.|"
                      r"\bfetch\s*\(|https?\.request|axios|Net::HTTP|LWP|HTTP::Tiny|\bsocket\b|Socket|"
                      r"curl_exec|RestClient|Faraday|smtplib|ftplib|paramiko|XMLHttpRequest|sendall|\.send\(")


def _python_bare(code: str) -> re.Pattern[str] | None:
    names = [_PY_BARE[mod] for mod in _PY_BARE if re.search(rf"\bfrom\s+{mod}\s+import\b", code)]
    return re.compile(rf"(?<![\w.])({'|'.join(names)})(?=\s*\()") if names else None


def _calls(code: str, rx: re.Pattern[str], bare: re.Pattern[str] | None) -> list[tuple[str, str, list[str]]]:
    """(kind, name, argument texts) for every call `rx` finds, plus bare python imports as shell calls."""
    found: list[tuple[int, str, str, int]] = []
    for m in rx.finditer(code):
        kind = m.lastgroup or ""
        found.append((m.start(), kind, m.group(0), m.end()))
    if bare is not None:
        found += [(m.start(), "shell", m.group(0), m.end()) for m in bare.finditer(code)]
    out = []
    for _, kind, name, end in sorted(found):
        out.append((kind, name, _arguments(code, end)))
    return out


def _arguments(code: str, i: int) -> list[str]:
    """The top-level arguments of the call whose name ends at `i`: `(a, b)` or, paren-less (perl, ruby), up to
    the end of the statement."""
    while i < len(code) and code[i] in " \t":
        i += 1
    if i < len(code) and code[i] == "(":
        end = _balanced(code, i)
        inner = code[i + 1 : end - 1]
    else:  # up to the end of the statement, brackets and strings skipped (`unlink glob("$ENV{HOME}/*")`)
        end = i
        while end < len(code) and code[end] not in ";\n}":
            end = _balanced(code, end) if code[end] in "([{" else _skip_string(code, end)
        inner = code[i:end]
    return _split_top(inner, ",")


def _skip_string(code: str, i: int) -> int:
    """The index after the string literal starting at `i`, or after the one character there."""
    if code[i] not in "'\"":
        return i + 1
    k = i + 1
    while k < len(code) and code[k] != code[i]:
        k += 2 if code[k] == "\\" else 1
    return k + 1


def _shell_line(name: str, args: list[str], env: dict[str, str], lang: str) -> str | None:
    """The shell line a shell-running call runs: a string is a shell line; a list, or several arguments where
    the language takes an argv (perl `system LIST`, `spawn(cmd, [args])`), become a quoted argv."""
    args = [a for a in args if not re.match(r"\s*(shell|env|cwd|stdout|stderr|check|text|capture_output|"
                                            r"encoding|input|timeout|universal_newlines)\s*=", a)]
    if not args:
        return None
    if re.match(r"os\.(?:exec[lv]|spawn[lv]|posix_spawn)|pcntl_exec", name):
        lists = [a for a in args if a.strip().startswith(("[", "("))]
        argv = _list_items(lists[0], env, lang) if lists else [_eval(a, env, lang) for a in args[1:]]
        if name.startswith("pcntl_exec"):
            argv = [_eval(args[0], env, lang), *argv]
        return _argv_line(argv)
    first = args[0].strip()
    if first.startswith("[") or (lang == "node" and first.startswith("[")):
        return _argv_line(_list_items(first, env, lang))
    if len(args) > 1 and lang in ("perl", "ruby") and not first.startswith("{"):
        return _argv_line([_eval(a, env, lang) for a in args if not a.strip().startswith("{")])
    if len(args) > 1 and lang == "node" and re.search(r"spawn|execFile", name) and args[1].strip().startswith("["):
        shell = any(re.search(r"shell\s*:\s*true", a) for a in args[2:])
        items = [_eval(args[0], env, lang), *_list_items(args[1], env, lang)]
        return " ".join(items) if shell else _argv_line(items)
    if lang == "node" and re.search(r"spawn|execFile", name):
        return _argv_line([_eval(first, env, lang)])
    return _eval(first, env, lang)


def _open(args: list[str], env: dict[str, str], lang: str, written: list[str], read: list[str],
          shell: list[str]) -> None:
    """`open(path, 'w')`, perl's `open(F, ">path")` / `open(F, '>', path)` / `open(F, "cmd |")`."""
    if lang == "perl" and len(args) >= 2:
        mode_and = _eval(args[1], env, lang).strip()
        if len(args) >= 3:
            target = _eval(args[2], env, lang)
            if mode_and in ("|-", "-|"):
                shell.append(_fed(" ".join([target, *(_eval(a, env, lang) for a in args[3:])]), mode_and))
            elif mode_and.startswith((">", "+<", "+>")):
                written.append(target)
            else:
                read.append(target)
            return
        if mode_and.startswith("|") or mode_and.endswith("|"):
            shell.append(_fed(mode_and.strip("|").strip(), "|-" if mode_and.startswith("|") else "-|"))
        elif mode_and.startswith((">", "+<", "+>")):
            written.append(mode_and.lstrip(">+<").strip())
        else:
            read.append(mode_and.lstrip("<").strip())
        return
    path = _eval(args[0], env, lang)
    mode = _eval(args[1], env, lang) if len(args) > 1 and not re.match(r"\s*\w+\s*=", args[1]) else ""
    mode_kw = next((a for a in args[1:] if re.match(r"\s*mode\s*=", a)), None)
    if mode_kw is not None:
        mode = _eval(mode_kw.partition("=")[2], env, lang)
    (written if any(c in mode for c in "wax+") else read).append(path)


# ------------------------------------------------------------------ awk


def _awk_pipes(code: str, env: dict[str, str]) -> list[str]:
    """awk's `print … | "cmd"`, `"cmd" | getline` and `|&`: the command runs through the shell."""
    out = []
    for m in re.finditer(r"(?:print|printf)\b[^|;}\n]{0,400}\|&?\s*([^;}\n]{1,400})", code):
        out.append(_fed(_eval(m.group(1), env, "awk"), "|-"))
    for m in re.finditer(r"\|&?\s*getline", code):
        # the command is what stands before the pipe, back to the enclosing `(`, `;`, `{` or `=`
        before = re.split(r"[({;=\n]|&&|\|\|", code[max(0, m.start() - 400) : m.start()])[-1]
        out.append(_eval(before, env, "awk"))
    return out


def _fed(command: str, mode: str) -> str:
    """A command the code writes into (`print | "sh"`, perl's `open(P, "|-", "sh")`): a shell there runs
    whatever the code prints, known only when it runs."""
    if mode == "|-" and re.fullmatch(r"\s*(?:\S*/)?(?:ba|da|z|k)?sh(?:\s+-s)?\s*", command):
        return UNKNOWN
    return command


_BACKTICKS = re.compile(r"`([^`]+)`|qx\s*[{(\[/|!]([^})\]/|!]*)[})\]/|!]|%x\{([^}]*)\}")


def _decoded_literals(code: str) -> list[str]:
    """Hex and base64 literals decoded where they feed a call (`bytes.fromhex('726d…')`, `atob('…')`)."""
    out = []
    for m in _HEX.finditer(code):
        with contextlib.suppress(ValueError, binascii.Error):
            out.append(binascii.unhexlify((m.group(1) or m.group(2)).replace(" ", "")).decode("utf-8", "replace"))
    for m in _B64.finditer(code):
        with contextlib.suppress(ValueError, binascii.Error):
            out.append(base64.b64decode(m.group(1) or m.group(2)).decode("utf-8", "replace"))
    return out


_HEX = re.compile(r"""pack\s*\(\s*["']H\*["']\s*,\s*["']([0-9a-fA-F]+)["']|fromhex\(\s*["']([0-9a-fA-F ]+)["']""")
_B64 = re.compile(r"""(?:b64decode|atob|decode_base64|Base64\.decode64)\s*\(\s*b?["']([A-Za-z0-9+/=]+)["']"""
                  r"""|Buffer\.from\(\s*["']([A-Za-z0-9+/=]+)["']\s*,\s*["']base64""")


# ------------------------------------------------------------------ small readers


def _list_items(text: str, env: dict[str, str], lang: str) -> list[str]:
    text = text.strip()
    if text[:1] in "[(" and text[-1:] in "])":
        text = text[1:-1]
    return [_eval(item, env, lang) for item in _split_top(text, ",")]


def _argv_line(argv: list[str]) -> str:
    """A shell line running exactly `argv`; a leading `~` stays unquoted so it still means the home."""
    return " ".join(_quote(a) for a in argv)


def _quote(arg: str) -> str:
    if arg.startswith("~") and (len(arg) == 1 or arg[1] == "/"):
        return "~" + (shlex.quote(arg[1:]) if len(arg) > 1 else "")
    return shlex.quote(arg)


# code words, and perl/sed regex operators (`s/foo.*/bar/`, `tr/a-z/A-Z/`, `m{…}`) a shell would read as a glob
_NOT_SHELL = re.compile(r"^\s*(?:(?:import|from|print|console|require|use|let|const|var|def|class|puts|my|if|for)\b|"
                        r"(?:s|y|tr|m|qr)[/|#!,{])")


def looks_like_shell(code: str) -> bool:
    """Inline 'code' that is really a shell line (`node -e "rm -rf /"`): bash parses it whole."""
    if _NOT_SHELL.match(code) or len(code) > 2000:
        return False
    script = parse(code)
    return script.error is None and script.parser in ("bashlex", "words")
