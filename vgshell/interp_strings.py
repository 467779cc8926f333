"""String expressions of inline code, followed as far as text allows: literals joined by `+`, `.`, `..` or
juxtaposition, names assigned earlier, f-strings and interpolation, the home however it is spelled, path
helpers (`os.path.join`, `Path(…)`, `glob(…)`). Whatever only run time knows becomes `UNKNOWN`. Pure text work,
used by `vgshell.interp`.
"""

from __future__ import annotations

import re

from vgshell.expand import UNKNOWN

_STRING = re.compile(r"""(?P<prefix>[rRbBuUfF]{0,2})(?P<q>'''|\"\"\"|'|"|`)""")
_NAME = re.compile(r"[$@%]?[A-Za-z_][\w]*(?:(?:\.|::|->)[A-Za-z_]\w*)*")
_HOME = re.compile(
    r"os\.path\.expanduser\(\s*['\"]~/?['\"]\s*\)|(?:pathlib\.)?Path\.home\(\)|(?:os|require\(\s*['\"]os['\"]\s*\))"
    r"\.homedir\(\)|homedir\(\)|Dir\.home|ENV\[\s*['\"]HOME['\"]\s*\]|ENV\.fetch\(\s*['\"]HOME['\"]\s*\)|"
    r"\$ENV\{\s*['\"]?HOME['\"]?\s*\}|(?:os\.)?getenv\(\s*['\"]HOME['\"]\s*\)|os\.environ\[\s*['\"]HOME['\"]\s*\]|"
    r"os\.environ\.get\(\s*['\"]HOME['\"]\s*\)|process\.env\.HOME|process\.env\[\s*['\"]HOME['\"]\s*\]|"
    r"ENVIRON\[\s*\"HOME\"\s*\]|File\.expand_path\(\s*['\"]~['\"]\s*\)|\$_SERVER\[\s*['\"]HOME['\"]\s*\]|"
    r"os\.homedir|\$HOME")
_PASS_THROUGH = re.compile(r"(?:os\.path\.(?:expanduser|abspath|realpath|normpath)|(?:pathlib\.)?Path|glob|"
                           r"glob\.glob|glob\.iglob|Dir\.glob|"
                           r"path\.resolve|File\.expand_path|str|String|os\.fspath|Pathname\.new|"
                           r"(?:\w+\.)?Buffer\.from)$")
_JOIN = re.compile(r"(?:os\.path\.join|path\.join|path\.resolve|File\.join|Path\.join)$")


def evaluate(expr: str, env: dict[str, str], lang: str) -> str:
    """The text of a string expression, UNKNOWN where only run time knows it."""
    out: list[str] = []
    fmt = False
    i, n = 0, len(expr)
    while i < n:
        c = expr[i]
        if c in " \t\n+,":
            i += 1
            continue
        if c == "." and (lang in ("perl", "php") or expr.startswith("..", i)):
            i += 2 if expr.startswith("..", i) else 1
            continue
        if c == "/" and out:  # pathlib: Path.home() / '.ssh'
            out.append("/")
            i += 1
            continue
        if c == "%" and out:  # '%s' % x: the placeholders are run-time values
            fmt = True
            break
        sm = _STRING.match(expr, i)
        if sm and (sm.group("prefix") == "" or expr[i : sm.start("q")].isalpha()):
            text, i, raw = _string_at(expr, sm)
            prefix = sm.group("prefix").lower()
            interpolated = ("f" in prefix or sm.group("q") == "`" or
                            (sm.group("q") == '"' and lang in ("perl", "php", "ruby")))
            out.append(interpolate(text, env, lang) if interpolated else text if raw else unescape(text))
            method = re.match(r"\.(format|join|replace|strip|decode|encode|lower|upper|trim)\b", expr[i:])
            if method:
                end = balanced(expr, i + method.end()) if expr[i + method.end() : i + method.end() + 1] == "(" \
                    else i + method.end()
                if method.group(1) in ("format", "join", "replace"):
                    out[-1] = re.sub(r"\{[^{}]*\}", UNKNOWN, out[-1]) if method.group(1) == "format" else UNKNOWN
                i = end
            continue
        nm = _NAME.match(expr, i)
        if nm:
            end = nm.end()
            while end < n and expr[end] in "([{":
                end = balanced(expr, end)
            out.append(_name_value(expr[i:end], nm.group(0), env, lang))
            i = end
            continue
        if c in "([{":
            i = balanced(expr, i)
            out.append(UNKNOWN)
            continue
        if c.isdigit():
            m = re.match(r"[\w.]+", expr[i:])
            out.append(m.group(0) if m else c)
            i += len(m.group(0)) if m else 1
            continue
        i += 1
        out.append(UNKNOWN)
    text = "".join(out)
    if fmt:
        text = re.sub(r"%[-#0 +]*[0-9.]*[sdrifxo]", UNKNOWN, text)
    return re.sub(f"{UNKNOWN}+", UNKNOWN, text)


def _name_value(whole: str, name: str, env: dict[str, str], lang: str) -> str:
    """A name or call inside an expression: an assigned name, the home, a path helper, else UNKNOWN."""
    if _HOME.fullmatch(whole):
        return "~"
    bare = name.lstrip("$@%")
    if whole == name and bare in env:
        return env[bare]
    if whole == name and lang == "node" and bare in ("__dirname", "process.cwd"):
        return "."
    if whole.startswith(name + "(") and whole.endswith(")"):
        inner = split_top(whole[len(name) + 1 : -1], ",")
        if _PASS_THROUGH.match(name) and inner:
            return evaluate(inner[0], env, lang)
        if _JOIN.match(name) and inner:
            return "/".join(evaluate(a, env, lang).rstrip("/") for a in inner)
        if name in ("process.cwd", "os.getcwd", "Dir.pwd", "getcwd"):
            return "."
    return UNKNOWN


def _string_at(expr: str, m: re.Match[str]) -> tuple[str, int, bool]:
    """The body of the string literal starting at match `m`, the index after it and whether it is raw."""
    q = m.group("q")
    start = m.end()
    i = start
    while i < len(expr):
        if expr[i] == "\\" and q != "'" * 3:
            i += 2
            continue
        if expr.startswith(q, i):
            return expr[start:i], i + len(q), "r" in m.group("prefix").lower()
        i += 1
    return expr[start:], len(expr), "r" in m.group("prefix").lower()


_INTERP = {
    "python": re.compile(r"\{([^{}]*)\}"),
    "node": re.compile(r"\$\{([^{}]*)\}"),
    "ruby": re.compile(r"#\{([^{}]*)\}"),
    "perl": re.compile(r"\$\{?(\w+(?:\{[^}]*\})?)\}?|@\{?\w+\}?"),
    "php": re.compile(r"\{?\$(\w+(?:\[[^\]]*\])?)\}?"),
}


def interpolate(text: str, env: dict[str, str], lang: str) -> str:
    rx = _INTERP.get(lang if lang != "any" else "node") or _INTERP["node"]

    def value(m: re.Match[str]) -> str:
        inner = m.group(1) or ""
        whole = m.group(0)
        if lang in ("perl", "php"):
            if _HOME.fullmatch(whole) or _HOME.fullmatch("$" + inner):
                return "~"
            return env.get(inner, UNKNOWN)
        return evaluate(inner, env, lang) if inner.strip() else UNKNOWN

    return unescape(rx.sub(value, text))


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "a": "\a", "e": "\x1b"}


def unescape(s: str) -> str:
    def one(m: re.Match[str]) -> str:
        body = m.group(1)
        if body[0] == "x" and len(body) == 3:
            try:
                return chr(int(body[1:], 16))
            except ValueError:
                return body
        return _ESCAPES.get(body, body)

    return re.sub(r"\\(x[0-9a-fA-F]{2}|.)", one, s)


def assignments(code: str, lang: str) -> dict[str, str]:
    """Names given a string value in the code (`c = 'rm -rf /'`, `my $c = "…"`, `const c = …`), in order."""
    env: dict[str, str] = {}
    for m in re.finditer(r"(?:^|[;\n{(]|\b(?:my|our|local|const|let|var)\s)\s*[$@]?([A-Za-z_]\w*)\s*=(?![=~>])"
                         r"\s*([^;\n]+)", code):
        value = m.group(2).strip()
        if re.match(r"""[rRbBuUfF]{0,2}['"`]|[$A-Za-z_]""", value) and not re.match(r"(?:function|lambda)\b", value):
            env[m.group(1)] = evaluate(value, env, lang)
    return env


def balanced(text: str, i: int) -> int:
    """The index after the bracket group opening at `i`, skipping string literals."""
    pairs = {"(": ")", "[": "]", "{": "}"}
    stack = [pairs[text[i]]]
    j = i + 1
    while j < len(text) and stack:
        ch = text[j]
        if ch in "'\"`":
            k = j + 1
            while k < len(text) and text[k] != ch:
                k += 2 if text[k] == "\\" else 1
            j = k + 1
            continue
        if ch in pairs:
            stack.append(pairs[ch])
        elif ch == stack[-1]:
            stack.pop()
        j += 1
    return j


def split_top(text: str, sep: str) -> list[str]:
    """Split on `sep` outside brackets and strings."""
    parts: list[str] = []
    depth = 0
    start = 0
    j = 0
    while j < len(text):
        ch = text[j]
        if ch in "'\"`":
            k = j + 1
            while k < len(text) and text[k] != ch:
                k += 2 if text[k] == "\\" else 1
            j = k + 1
            continue
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == sep and depth == 0:
            parts.append(text[start:j])
            start = j + 1
        j += 1
    parts.append(text[start:])
    return [p for p in (x.strip() for x in parts) if p]
