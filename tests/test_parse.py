"""parse() → frozen values, expand() → words as bash sees them, flatten() → the commands that would run."""

from __future__ import annotations

import pytest

from vgshell.expand import UNKNOWN, braces, expand
from vgshell.parse import Compound, Function, Pipeline, Script, Sequence, Simple, parse
from vgshell.unwrap import flatten

CWD = "/home/dev/project"
HOME = "/home/dev"
U = UNKNOWN


def simples(script: Script) -> list[Simple]:
    """Every simple command of a parsed script, depth first (substitutions not included)."""
    found: list[Simple] = []

    def walk(node: object) -> None:
        if isinstance(node, Simple):
            found.append(node)
        elif isinstance(node, Pipeline):
            for s in node.stages:
                walk(s)
        elif isinstance(node, Sequence):
            for s in node.items:
                walk(s)
        elif isinstance(node, Compound):
            for s in node.body:
                walk(s)
        elif isinstance(node, Function):
            walk(node.body)

    for n in script.body:
        walk(n)
    return found


def argvs(command: str, cwd: str | None = CWD) -> list[tuple[str, ...]]:
    """The commands that would run (assignments `=` and function definitions `()` are not commands)."""
    return [i.argv for i in flatten(parse(command), cwd, HOME).invocations if i.argv[0] not in ("=", "()")]


# --------------------------------------------------------------------------------------------- parse()

# (command, parser that must read it, the words of its simple commands)
PARSED = [
    ("ls -la", "words", [["ls", "-la"]]),
    ("", "none", []),
    ("echo 'a b' \"c\"", "bashlex", [["echo", "'a b'", '"c"']]),
    ("ls | grep x", "bashlex", [["ls"], ["grep", "x"]]),
    ("ls && echo; pwd", "bashlex", [["ls"], ["echo"], ["pwd"]]),
    ("x=1 y=2 cmd a", "bashlex", [["cmd", "a"]]),
    ("f() { ls; }", "bashlex", [["ls"]]),
    ("function g { pwd; }", "bashlex", [["pwd"]]),
    ("if true; then ls; else pwd; fi", "bashlex", [["true"], ["ls"], ["pwd"]]),
    ("(cd /; ls)", "bashlex", [["cd", "/"], ["ls"]]),
    # where bashlex cannot: tree-sitter
    ("[[ -f x ]] && rm y", "tree-sitter", [["rm", "y"]]),
    ("case $x in a) ls;; *) pwd;; esac", "tree-sitter", [["ls"], ["pwd"]]),
    ("echo $((1+2))", "tree-sitter", [["echo", "$((1+2))"]]),
    ("arr=(a b c); echo ${arr[0]}", "tree-sitter", [[], ["echo", "${arr[0]}"]]),
    ("time { ls; }", "tree-sitter", [["time", "{", "ls"], ["}"]]),
    ("select x in a b; do echo $x; done", "tree-sitter", [["echo", "$x"]]),
    ("for ((i=0;i<3;i++)); do echo; done", "tree-sitter", [[], ["echo"]]),
]


@pytest.mark.parametrize(("command", "parser", "words"), PARSED)
def test_parse_reads_simple_commands(command: str, parser: str, words: list[list[str]]) -> None:
    script = parse(command)
    assert script.error is None
    assert script.parser == parser
    assert [[w.raw for w in s.words] for s in simples(script)] == words


def test_parse_values_are_frozen() -> None:
    script = parse("echo hi")
    with pytest.raises(AttributeError):
        script.body[0].words = ()  # type: ignore[misc, union-attr]


@pytest.mark.parametrize("command", ["echo 'unterminated", "if then fi", "ls &&& pwd", "echo $(", "done"])
def test_parse_error_gives_a_script_with_error_set(command: str) -> None:
    script = parse(command)
    assert isinstance(script, Script)
    assert script.error


def test_parse_drops_nul_bytes() -> None:
    assert [w.raw for w in simples(parse("ls\x00 -la"))[0].words] == ["ls", "-la"]


# (command, raw heredoc body, quoted delimiter)
HEREDOCS = [
    ("cat <<EOF\nhello $USER\nEOF", "hello $USER\n", False),
    ("cat <<'EOF'\nhi\nEOF", "hi\n", True),
    ('cat <<"EOF"\nhi\nEOF', "hi\n", True),
    ("cat <<-EOF\n\tx\n\tEOF", "x\n", False),  # <<- strips leading tabs
    ("cat <<EOF | sh\nrm -rf /\nEOF", "rm -rf /\n", False),
]


@pytest.mark.parametrize(("command", "body", "quoted"), HEREDOCS)
def test_heredoc_bodies(command: str, body: str, quoted: bool) -> None:
    redirect = next(r for s in simples(parse(command)) for r in s.redirects if r.heredoc is not None)
    assert (redirect.heredoc, redirect.heredoc_quoted) == (body, quoted)


def test_substitutions_are_parsed_into_their_words() -> None:
    word = simples(parse("echo $(rm -rf /) `id` <(ls)"))[0].words
    assert [len(w.subs) for w in word] == [0, 1, 1, 1]
    assert [w.process_subs for w in word] == [False, False, False, True]
    assert [s.raw for s in simples(word[1].subs[0])[0].words] == ["rm", "-rf", "/"]


# --------------------------------------------------------------------------------------------- expand()

VARS = {"HOME": HOME, "D": "/etc", "C": "rm -rf", "E": ""}

# (raw word, expected value, expected fields)
EXPANDED = [
    ("rm", "rm", ("rm",)),
    ("r''m", "rm", ("rm",)),
    ('r""m', "rm", ("rm",)),
    ("\\rm", "rm", ("rm",)),
    ('"rm"', "rm", ("rm",)),
    ("'rm -rf'", "rm -rf", ("rm -rf",)),
    ("$'\\x72m'", "rm", ("rm",)),
    ("$'\\162m'", "rm", ("rm",)),
    ("$'\\u0072m'", "rm", ("rm",)),
    ("$'a\\tb'", "a\tb", ("a\tb",)),
    ('$"rm"', "rm", ("rm",)),
    ("~", HOME, (HOME,)),
    ("~/x", HOME + "/x", (HOME + "/x",)),
    ("~root", "/root", ("/root",)),
    ("'~'", "~", ("~",)),
    ("$HOME", HOME, (HOME,)),
    ("${HOME}/.ssh", HOME + "/.ssh", (HOME + "/.ssh",)),
    ('"$D"', "/etc", ("/etc",)),
    ("$D/", "/etc/", ("/etc/",)),
    ("${NOPE:-/tmp}", "/tmp", ("/tmp",)),
    ("${E:-/}", "/", ("/",)),
    ("${HOME:0:1}", "/", ("/",)),
    ("${D: -3}", "etc", ("etc",)),
    ("$NOPE", U, (U,)),
    ("${NOPE}x", U + "x", (U + "x",)),
    ("${#D}", "4", ("4",)),
    ("${#NOPE}", U, (U,)),
    ("$1", U, (U,)),
    ("$(date)", U, (U,)),
    ("`date`", U, (U,)),
    ("$((1+2))", U, (U,)),
    ("$C", "rm -rf", ("rm", "-rf")),
    ('"$C"', "rm -rf", ("rm -rf",)),
    ("'$C'", "$C", ("$C",)),
    ("a$C", "arm -rf", ("arm", "-rf")),
    ("$E", "", ("",)),
    ("\\$HOME", "$HOME", ("$HOME",)),
]


@pytest.mark.parametrize(("raw", "value", "fields"), EXPANDED)
def test_expand(raw: str, value: str, fields: tuple[str, ...]) -> None:
    e = expand(raw, VARS, HOME)
    assert (e.value, e.fields) == (value, fields)


@pytest.mark.parametrize(("raw", "glob"), [("*", True), ("a?b", True), ("[ab]c", True), ("[", False),
                                           ("'*'", False), ('"*"', False), ("\\*", False), ("x", False)])
def test_expand_reports_unquoted_globs(raw: str, glob: bool) -> None:
    assert expand(raw, {}, HOME).glob is glob


def test_expand_uses_known_substitution_outputs() -> None:
    assert expand("$(echo rm)", {}, HOME, {"$(echo rm)": "rm\n"}).value == "rm"
    assert expand("`x`", {}, HOME, {"`x`": "a b\n"}).fields == ("a", "b")
    assert expand('"$(x)"', {}, HOME, {"$(x)": "a b\n"}).fields == ("a b",)


@pytest.mark.parametrize(("raw", "words"), [
    ("/{etc,usr}", ["/etc", "/usr"]),
    ("a{,.bak}", ["a", "a.bak"]),
    ("{a,b}{c,d}", ["ac", "ad", "bc", "bd"]),
    ("{}", ["{}"]),
    ("{a}", ["{a}"]),
    ("'{a,b}'", ["'{a,b}'"]),
    ("${x,,}", ["${x,,}"]),
])
def test_brace_expansion(raw: str, words: list[str]) -> None:
    assert braces(raw) == words


# --------------------------------------------------------------------------------------------- flatten()

# (command, every argv that would run, in order)
FLATTENED = [
    ("ls -la", [("ls", "-la")]),
    ("sudo -u root env FOO=1 rm x", [("sudo", "-u", "root", "env", "FOO=1", "rm", "x"),
                                     ("env", "FOO=1", "rm", "x"), ("rm", "x")]),
    ("bash -c 'ls; pwd'", [("bash", "-c", "ls; pwd"), ("ls",), ("pwd",)]),
    ("eval 'ls -a'", [("eval", "ls -a"), ("ls", "-a")]),
    ("echo $(whoami)", [("whoami",), ("echo", U)]),
    ("echo $(echo hi)", [("echo", "hi"), ("echo", "hi")]),
    ("x=/tmp; ls $x", [("ls", "/tmp")]),
    ("export D=/etc; ls \"$D\"", [("export", "D=/etc"), ("ls", "/etc")]),
    ("c='ls -la'; $c", [("ls", "-la")]),
    ("cd /tmp && ls *", [("cd", "/tmp"), ("ls", "*")]),
    ("ls /{a,b}", [("ls", "/a", "/b")]),
    ("for d in a b; do rm $d; done", [("rm", "a"), ("rm", "b")]),
    ("sh -c 'ls \"$1\"' _ /x", [("sh", "-c", 'ls "$1"', "_", "/x"), ("ls", "/x")]),
    ("echo ls | sh", [("echo", "ls"), ("sh",), ("ls",)]),
    ("bash <<< 'pwd'", [("bash",), ("pwd",)]),
    ("find . -name x -exec rm {} +", [("find", ".", "-name", "x", "-exec", "rm", "{}", "+"),
                                     ("rm", "--find-filtered", ".")]),
    ("echo a b | xargs rm", [("echo", "a", "b"), ("xargs", "rm"), ("rm", "a", "b")]),
    ("ssh host ls /", [("ssh", "host", "ls", "/"), ("ls", "/")]),
    ("echo pwd > x.sh; sh x.sh", [("echo", "pwd"), ("sh", "x.sh"), ("pwd",)]),
    ("python3 -c \"import os; os.system('ls')\"", [("python3", "-c", "import os; os.system('ls')"), ("ls",)]),
]


@pytest.mark.parametrize(("command", "expected"), FLATTENED)
def test_flatten(command: str, expected: list[tuple[str, ...]]) -> None:
    assert argvs(command) == expected


# (command, the cwd each invocation runs in: `cd` itself runs where it starts; None is "unknown")
CWDS = [
    ("ls", [CWD]),
    ("cd /tmp && ls", [CWD, "/tmp"]),
    ("cd .. && ls", [CWD, HOME]),
    ("cd && ls", [CWD, HOME]),
    ("cd ~/x; ls", [CWD, HOME + "/x"]),
    ("cd $HOME/y; ls", [CWD, HOME + "/y"]),
    ("cd /tmp; cd -; ls", [CWD, "/tmp", None]),
    ("cd $(mktemp -d); ls", [CWD, CWD, "/tmp/tmp.XXXXXXXXXX"]),  # a temp directory, known by its template
    ("(cd /tmp); ls", [CWD, CWD]),
    ("pushd /srv; ls", [CWD, "/srv"]),
    ("env -C /opt ls", [CWD, "/opt"]),
    ("sudo -D / ls", [CWD, "/"]),
    ("cd /a; bash -c 'cd b; ls'; ls", [CWD, "/a", "/a", "/a/b", "/a"]),
]


@pytest.mark.parametrize(("command", "cwds"), CWDS)
def test_flatten_follows_cd(command: str, cwds: list[str | None]) -> None:
    assert [i.cwd for i in flatten(parse(command), CWD, HOME).invocations] == cwds


def test_flatten_tracks_variables_and_marks_state_changes() -> None:
    flat = flatten(parse("export A=1"), CWD, HOME)
    assert flat.state_change
    assert flatten(parse("A=1"), CWD, HOME).state_change
    assert flatten(parse("f() { make; }"), CWD, HOME).state_change
    assert [i.argv for i in flatten(parse("A=1; f() { :; }"), CWD, HOME).invocations][:2] == [("=",), ("()", "f")]
    assert not flatten(parse("export A=1; ls"), CWD, HOME).state_change
    assert flatten(parse("ls $A", ), CWD, HOME, env={"A": "/x"}).invocations[0].argv == ("ls", "/x")


def test_flatten_reports_nested_parse_errors() -> None:
    assert flatten(parse("bash -c 'echo \"unterminated'"), CWD, HOME).errors
