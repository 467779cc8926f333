"""`vg completion bash|zsh`: the printed script completes subcommands, options and presets in a real shell."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest

from vgshell.cli import build_parser
from vgshell.completion import table


def _script(shell: str) -> str:
    r = subprocess.run([sys.executable, "-m", "vgshell.cli", "completion", shell], capture_output=True, text=True,
                       check=True)
    return r.stdout


@pytest.mark.parametrize(("words", "expected"), [
    (["vg", ""], {"check", "exec", "config", "doctor", "completion", "--quiet", "--config"}),
    (["vg", "con"], {"config"}),
    (["vg", "config", ""], {"show", "path", "allow", "deny", "status"}),
    (["vg", "init", "--preset", ""], {"developer", "ci-cd", "production"}),
    (["vg", "init", "--preset", "d"], {"developer"}),
    (["vg", "check", "--"], {"--json", "--cwd", "--stdin", "--quiet"}),
    (["vg", "--quiet", "exec", "--s"], {"--sandbox"}),
    (["vg", "setup", "cursor", "--u"], {"--uninstall", "--user"}),
    (["vg", "completion", ""], {"bash", "zsh"}),
    (["vg", "trust", "add", "--n"], {"--note"}),
])
def test_bash_completion_table(tmp_path: Path, words: list[str], expected: set[str]) -> None:
    script = tmp_path / "vg.bash"
    script.write_text(_script("bash"))
    quoted = " ".join(f"'{w}'" for w in words)
    probe = (f'source {script}; COMP_WORDS=({quoted}); COMP_CWORD={len(words) - 1}; _vg_complete; '
             'printf "%s\\n" "${COMPREPLY[@]}"')
    got = set(subprocess.run(["bash", "--norc", "-c", probe], capture_output=True, text=True,
                             check=True).stdout.split())
    assert expected <= got and all(w.startswith(words[-1]) for w in got)


def test_tab_in_an_interactive_bash_with_bash_completion(tmp_path: Path) -> None:
    rc = tmp_path / "rc"
    rc.write_text(f"source /usr/share/bash-completion/bash_completion\nPS1='$ '\nvg() {{ :; }}\n"
                  f"source {tmp_path / 'vg.bash'}\n")
    (tmp_path / "vg.bash").write_text(_script("bash"))
    child = pexpect.spawn("bash", ["--rcfile", str(rc), "-i"], env={**os.environ, "TERM": "dumb"},
                          encoding="utf-8", timeout=20)
    try:
        child.expect_exact("$ ")
        child.send("vg init --preset deve\t")
        child.expect_exact("developer")
        child.send("\x15vg metr\t")
        child.expect_exact("metrics")
    finally:
        child.close(force=True)


def test_zsh_script_loads_and_completes(tmp_path: Path) -> None:
    script = tmp_path / "vg.zsh"
    script.write_text(_script("zsh"))
    probe = f"autoload -Uz compinit; compinit -u -D; source {script}; __vg_complete_words 'init --preset'"
    r = subprocess.run(["zsh", "-f", "-c", probe], capture_output=True, text=True,
                       env={**os.environ, "HOME": str(tmp_path)})
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["ci-cd", "developer", "production"]


def test_table_follows_the_parser() -> None:
    rows = table(build_parser())
    assert set(rows[""]) >= {"check", "explain", "exec", "setup", "config", "trust", "metrics", "audit"}
    assert "--json" in rows["metrics show"] and "--note" in rows["trust add"]
