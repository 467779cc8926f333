"""Callees inline code hides: import aliases (`import os as o`), names given a function (`f = os.system`,
`const {execSync: x} = …`), callees computed from strings (`__import__('o'+'s')`, `getattr(os, 'sys'+'tem')`,
`cp['exec'+'Sync']`, `Kernel.send(:system, …)`, `call_user_func('system', …)`, php's `$f(…)`) and
shell-running functions handed around as values (`map(os.system, …)`, perl's `\\&CORE::system`).

`resolve` rewrites the code so each call is written under the name it really has, where text allows; what only
run time knows is returned as a reason, judged like a shell line built at run time (high). Pure text work.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from vgshell.expand import UNKNOWN

# modules whose attributes start processes: a dynamic lookup on one of them hides which one is called
_PROCESS_MODULES = r"os|subprocess|pty|posix|commands|child_process|Kernel|Process|Open3|IO|builtins"
# shell-running functions named without a call: passed as a value, they may be called with anything
_AS_VALUE = {
    "python": r"os\.(?:system|popen|exec\w*|spawn\w*|posix_spawnp?)|subprocess\.(?:run|call|check_call|"
              r"check_output|Popen|getoutput|getstatusoutput)|pty\.spawn",
    "node": r"child_process\.\w+",
    "perl": r"\\&(?:CORE::(?:GLOBAL::)?)?(?:system|exec|readpipe)\b",
    "ruby": r"(?<![\w:.])(?:[\w:]+\.)?method\(\s*[:'\"](?:system|exec|spawn|`)",
    "php": r"(?<![\w$])['\"](?:system|exec|shell_exec|passthru|popen|proc_open|pcntl_exec)['\"]",
}

Evaluator = Callable[[str], str]


def resolve(code: str, lang: str, evaluate: Evaluator) -> tuple[str, tuple[str, ...]]:
    """`code` with hidden callees written out, and a reason for each one only run time knows."""
    hidden: list[str] = []
    code = _computed(code, lang, evaluate, hidden)
    code = _aliases(code, lang)
    value = _AS_VALUE.get(lang)
    if value:
        for m in re.finditer(rf"(?<![\w.$])(?:{value})(?!\s*[\w(.])", code):
            if lang in ("python", "node") and re.search(r"(?<![=!<>])=\s*$", code[max(0, m.start() - 8):m.start()]):
                continue  # `f = os.system`: an alias, followed where it is called
            hidden.append(f"a shell-running function passed as a value ({m.group(0).strip()})")
    return code, tuple(dict.fromkeys(hidden))


def _computed(code: str, lang: str, evaluate: Evaluator, hidden: list[str]) -> str:
    """Callees spelled as strings: replaced by the name when the string is known, else a reason."""
    table = _alias_table(code, lang)  # `getattr(o, x)` with `import os as o` is a lookup on os

    def known(expr: str, what: str) -> str | None:
        text = evaluate(expr).strip()
        if UNKNOWN in text or not re.fullmatch(r"[\w.:/-]+", text):
            hidden.append(f"{what} computed at run time ({expr.strip()[:60]})")
            return None
        return text

    def sub(rx: str, build: Callable[[re.Match[str]], str | None]) -> None:
        nonlocal code
        out, last = [], 0
        for m in re.finditer(rx, code):
            new = build(m)
            if new is not None:
                out += [code[last:m.start()], new]
                last = m.end()
        code = "".join(out) + code[last:]

    # names start only where a name starts and brackets are bounded: scanning long code stays linear
    arg = r"((?:[^()]|\([^()]*\))+?)"
    if lang == "python":
        sub(rf"(?:__import__|importlib\.import_module)\(\s*{arg}\s*\)",
            lambda m: (name if (name := known(m.group(1), "a module imported by a name")) else None))
        sub(rf"getattr\(\s*([\w.]+)\s*,\s*{arg}\s*\)", lambda m: _attr_of(m.group(1), m.group(2), known, table))
        sub(r"sys\.modules\[\s*([^\]]{1,200})\]",
            lambda m: (name if (name := known(m.group(1), "a module looked up by a name")) else None))
        sub(r"(?<![\w.])(?:([\w.]+)\.__dict__|vars\(\s*([\w.]+)\s*\))\[\s*([^\]]{1,200})\]",
            lambda m: _attr_of(m.group(1) or m.group(2), m.group(3), known, table))
        if re.search(r"\b(?:globals|locals)\(\)\s*\[|__builtins__", code):
            hidden.append("a function looked up by name at run time (globals()/__builtins__)")
    elif lang == "node":
        sub(rf"require\(\s*{arg}\s*\)", lambda m: _required(m.group(1), known))
        sub(r"(?<![\w$.])([\w$.]+)\[\s*((?:[^\[\]]|\[[^\[\]]{0,80}\]){1,200}?)\s*\](?=\s*\()",
            lambda m: _attr_of(m.group(1), m.group(2), known, table))
        # const {execSync: x} = child_process  →  x names child_process.execSync
        for m in re.finditer(r"\{([^{}]*)\}\s*=\s*(child_process|[\w$]+)\b", code):
            for pair in m.group(1).split(","):
                orig, _, alias = pair.partition(":")
                if alias.strip() and re.fullmatch(r"[\w$]+", alias.strip()):
                    code += f"\n{alias.strip()} = {m.group(2)}.{orig.strip()}"
    elif lang == "ruby":
        sub(r"(?<![\w:.])(?:[\w:]+\.)?(?:send|public_send|__send__)\(\s*([^,)]+)\s*,?",
            lambda m: (f"{name}(" if (name := known(_symbol(m.group(1)), "a method sent by name")) else None))
    elif lang == "perl":  # symbolic code references: &{"CORE::system"}(…), &$name(…)
        sub(r"&\s*(?:\{\s*([^{}]+?)\s*\}|(\$\w+))\s*(?=\()",
            lambda m: (name if (name := known(m.group(1) or m.group(2), "a function called by a name")) else None))
    elif lang == "php":
        sub(r"call_user_func_array\(\s*((?:[^,()]|\([^()]*\))+)\s*,\s*\[((?:[^\[\]]|\[[^\]]*\])*)\]\s*\)",
            lambda m: (f"{name}({m.group(2)})" if (name := known(m.group(1), "a function called by name")) else None))
        sub(r"(?:call_user_func(?:_array)?|array_map|array_walk)\(\s*((?:[^,()]|\([^()]*\))+)\s*,",
            lambda m: (f"{name}(" if (name := known(m.group(1), "a function called by name")) else None))
        sub(r"(\$\w+)(?=\s*\()", lambda m: (name if (name := known(m.group(1), "a function called through "
                                                                               f"{m.group(1)}")) else None))
    return code


def _symbol(expr: str) -> str:
    """ruby's `:system` as the string it names."""
    expr = expr.strip()
    return repr(expr[1:]) if re.fullmatch(r":\w+", expr) else expr


def _required(expr: str, known: Callable[[str, str], str | None]) -> str | None:
    if re.fullmatch(r"\s*['\"][^'\"]*['\"]\s*", expr):
        return None  # a plain literal: already read as it is
    name = known(expr, "a module required by a name")
    return name.removeprefix("node:") if name else None


def _attr_of(obj: str, expr: str, known: Callable[[str, str], str | None], table: dict[str, str]) -> str | None:
    """`getattr(os, 'system')`, `os.__dict__['system']`, `cp['execSync']` → `os.system`; only a lookup on a
    process module whose name is not known is a reason."""
    base = table.get(obj, obj).rsplit(".", 1)[-1]
    if re.fullmatch(r"\s*['\"][\w$]+['\"]\s*", expr):
        return f"{obj}.{expr.strip()[1:-1]}"
    if not re.fullmatch(_PROCESS_MODULES + r"|cp|sp|\w*process\w*", base):
        return None
    name = known(expr, f"an attribute of {obj}")
    return f"{obj}.{name}" if name else None


def _aliases(code: str, lang: str) -> str:
    """Names another name stands for, written out: `import os as o` → `o.` means `os.`; `f = os.system`."""
    table = _alias_table(code, lang)
    if not table:
        return code
    names = "|".join(re.escape(k) for k in sorted(table, key=len, reverse=True))
    return re.sub(rf"(?<![\w.$'\"])\$?({names})(?=\s*[.(\[])(?!\s*\.\.)",
                  lambda m: table[m.group(1)], code)


def _alias_table(code: str, lang: str) -> dict[str, str]:
    """name → the dotted name it stands for."""
    table: dict[str, str] = {}
    if lang == "python":
        table.update(posix="os", nt="os")  # os re-exports these: posix.system is os.system
        for m in re.finditer(r"\bimport\s+([\w.]+(?:\s+as\s+\w+)?(?:\s*,\s*[\w.]+(?:\s+as\s+\w+)?)*)", code):
            if code[max(0, m.start() - 40):m.start()].rstrip().split()[-2:-1] == ["from"] or \
                    re.search(r"\bfrom\s+[\w.]+\s*$", code[max(0, m.start() - 60):m.start()]):
                continue
            for part in m.group(1).split(","):
                mod, _, alias = part.strip().partition(" as ")
                if alias.strip():
                    table[alias.strip()] = mod.strip()
        for m in re.finditer(r"\bfrom\s+([\w.]+)\s+import\s+\(?([\w\s,]+)\)?", code):
            for part in m.group(2).split(","):
                name, _, alias = part.strip().partition(" as ")
                name = name.strip()
                if name:
                    table[(alias or name).strip()] = f"{m.group(1)}.{name}"
    for m in re.finditer(r"(?:^|[;\n{(]|\b(?:my|our|local|const|let|var)\s)\s*[$]?([A-Za-z_]\w*)\s*=\s*"
                         r"([A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*)\s*(?=[;\n]|$)", code):
        head = m.group(2).split(".", 1)
        table[m.group(1)] = ".".join([table.get(head[0], head[0]), *head[1:]])
    if lang == "node":
        for m in re.finditer(r"\b(?:const|let|var)\s+([\w$]+)\s*=\s*(child_process)\b(?!\.)", code):
            table[m.group(1)] = m.group(2)
    return {k: v for k, v in table.items() if k != v}
