"""install.sh, the README's first command, on a fresh $HOME: installs, puts ~/.local/bin on PATH for new
shells, hooks the shells once, and uninstalls without a trace."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _files(home: Path) -> dict[str, bytes]:
    return {str(p.relative_to(home)): p.read_bytes() for p in sorted(home.rglob("*")) if p.is_file()}


def _install(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    r = subprocess.run([str(ROOT / "install.sh"), *args], env=env, capture_output=True, text=True, timeout=600,
                       stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    return r


def test_install_path_hooks_and_uninstall_in_a_fresh_home(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / ".bashrc").write_text("# my own settings\nalias ll='ls -l'\n")
    (home / ".profile").write_text("umask 022\n")
    before = _files(home)
    shells = tmp_path / "shells"
    shells.write_text("/bin/sh\n/bin/bash\n")
    # PATH holds python and the system, not ~/.local/bin nor any other vg: new shells must find vgshell alone
    path = f"{Path(sys.executable).resolve().parent}:/usr/local/bin:/usr/bin:/bin"
    env = {"HOME": str(home), "PATH": path, "LANG": "C.UTF-8", "XDG_CACHE_HOME": str(tmp_path / "cache"),
           "VG_SHELLS_FILE": str(shells), "TERM": "dumb"}
    r = _install(env)
    assert "vgshell: done:" in r.stderr and f"put {home}/.local/bin on PATH in {home}/.profile" in r.stderr
    vg = home / ".local/bin/vg"
    for shell in (["bash", "-lc"], ["bash", "-ic"], ["zsh", "-ic"]):
        r = subprocess.run([*shell, "command -v vgshell; vgshell -c 'echo ok'"], env=env, capture_output=True,
                           text=True, timeout=60, stdin=subprocess.DEVNULL)
        assert r.stdout == f"{home}/.local/bin/vgshell\nok\n", (shell, r.stderr)
    assert shells.read_text().splitlines() == ["/bin/sh", "/bin/bash", str(home / ".local/bin/vgshell")]
    r = subprocess.run([str(home / ".local/bin/vgshell"), "-c", "rm -rf ~"], env=env, capture_output=True, text=True)
    assert r.returncode == 126 and home.exists()

    for _ in range(2):  # idempotent
        _install(env, "--shell-hooks")
    r = subprocess.run([str(vg), "check", "rm -rf ~"], env=env, capture_output=True, text=True)
    assert r.returncode == 30 and "block (critical)" in r.stdout
    rc = (home / ".bashrc").read_text()
    assert rc.count("# vgshell hook") == 1 and rc.count("# >>> vgshell PATH >>>") == 1
    assert rc.startswith("# my own settings\nalias ll='ls -l'\n")
    assert (home / ".zshrc").read_text().count("# >>> vgshell PATH >>>") == 1
    r = subprocess.run(["bash", "-ic", "type -t __vg_judge; vg analyzer stop >/dev/null"], env=env,
                       capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert r.stdout.split()[:1] == ["function"], r.stderr
    r = subprocess.run([str(vg), "setup", "claude-code"], env=env, capture_output=True, text=True)
    assert r.returncode == 0 and (home / ".claude/settings.json").exists()

    r = _install(env, "--uninstall")
    assert not vg.exists() and not (home / ".local/share/vgshell").exists()
    assert (home / ".vectra-guard").is_dir() and "kept" in r.stderr
    claude = home / ".claude/settings.json"
    assert not claude.exists() or "hook claude-code" not in claude.read_text()  # `vg setup`'s own undo
    assert shells.read_text().splitlines() == ["/bin/sh", "/bin/bash"]
    _install(env, "--uninstall", "--purge")
    after = {name: data for name, data in _files(home).items() if not name.startswith(".claude/")}
    assert after == before  # the rc files byte for byte, nothing else left (the agent's own backups aside)


def test_no_modify_path_only_says_what_to_add_and_bubblewrap_is_offered(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    path = f"{Path(sys.executable).resolve().parent}:/usr/bin:/bin"
    nobwrap = tmp_path / "bin"  # a PATH with every tool but bwrap
    nobwrap.mkdir()
    for d in path.split(":"):
        for tool in Path(d).iterdir():
            if tool.name != "bwrap" and not (nobwrap / tool.name).exists():
                (nobwrap / tool.name).symlink_to(tool)
    env = {"HOME": str(home), "PATH": str(nobwrap), "LANG": "C.UTF-8", "XDG_CACHE_HOME": str(tmp_path / "cache"),
           "VG_SHELLS_FILE": str(tmp_path / "shells")}
    r = _install(env, "--no-modify-path")
    assert f'export PATH="{home}/.local/bin:$PATH"' in r.stderr
    assert not (home / ".bashrc").exists() and not (home / ".profile").exists()
    assert "bubblewrap (bwrap) is not installed: it is the fastest sandbox" in r.stderr
    assert "to install it: " in r.stderr and "install -y bubblewrap" in r.stderr  # said, not run
