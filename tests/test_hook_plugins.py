"""The hooks among the shell plugins users load around them, in real interactive shells on a real PTY.

zsh-syntax-highlighting's README says to source it last, zsh-autosuggestions rebinds widgets at every
prompt, oh-my-zsh keeps its hooks in the precmd/preexec arrays: every order of the hook and the two plugins
must keep Enter working, host lines on the host, sandboxed lines in the sandbox and critical lines refused —
checked by where each line really ran (its mount namespace), not by what the notice says.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import pytest
from test_hooks import Shell

HOST_NS = os.readlink("/proc/self/ns/mnt")
PLUGINS = {
    "highlighting": "source /usr/share/zsh-syntax-highlighting/zsh-syntax-highlighting.zsh",
    "autosuggestions": "source /usr/share/zsh-autosuggestions/zsh-autosuggestions.zsh",
    "omz-arrays": ("autoload -Uz add-zsh-hook\n__omz_pre() { print -r -- \"OMZ-PREEXEC<$1>\" }\n"
                   "__omz_cmd() { print -r -- OMZ-PRECMD }\nadd-zsh-hook preexec __omz_pre\n"
                   "precmd_functions+=(__omz_cmd)"),
}
ORDERS = [order for order in itertools.permutations(["hook", "highlighting", "autosuggestions"])]
PROBE = "readlink /proc/self/ns/mnt > ns-{t}"


def ran(sh: Shell, tag: str) -> str:
    ns = sh.project / f"ns-{tag}"
    if not ns.exists():
        return "nowhere"
    return "sandbox" if ns.read_text().strip() != HOST_NS else "host"


@pytest.mark.parametrize("arrays", [False, True], ids=["plain", "omz-arrays"])
@pytest.mark.parametrize("order", ORDERS, ids=["-".join(o) for o in ORDERS])
def test_every_order_of_hook_and_zsh_plugins_keeps_the_judge(order: tuple[str, ...], arrays: bool,
                                                             tmp_path: Path) -> None:
    at = order.index("hook")
    before = [PLUGINS[p] for p in order[:at]]
    after = [PLUGINS[p] for p in order[at + 1:]]
    if arrays:
        before.insert(0, PLUGINS["omz-arrays"])
    sh = Shell("zsh", tmp_path, extra_rc="\n".join(before), after_rc="\n".join(after))
    try:
        status, out = sh.run("echo typed; " + PROBE.format(t="host"), timeout=10)
        assert status == 0 and "\ntyped\n" in out and ran(sh, "host") == "host"
        status, out = sh.run("curl -s https://example.invalid/x; " + PROBE.format(t="sandbox"), timeout=20)
        assert ran(sh, "sandbox") == "sandbox", out
        status, out = sh.run(PROBE.format(t="critical") + "; rm -rf ~", timeout=10)
        assert status == 126 and "Blocked" in out and ran(sh, "critical") == "nowhere"
        assert sh.answer("git reset --hard 2>/dev/null; " + PROBE.format(t="asked"), "y") == 0
        assert ran(sh, "asked") == "sandbox"
        if arrays:  # oh-my-zsh's hooks still run, and see the line as typed
            out = sh.run("echo omz")[1]
            assert "OMZ-PREEXEC<echo omz>" in out and "OMZ-PRECMD" in out
        assert "typed" in sh.history(8)
    finally:
        sh.close()
