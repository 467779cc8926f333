"""install.sh, the README's first command, on a fresh $HOME: installs, hooks the shells once, uninstalls."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_install_hooks_and_uninstall_in_a_fresh_home(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / ".bashrc").write_text("# my own settings\nalias ll='ls -l'\n")
    shells = tmp_path / "shells"
    shells.write_text("/bin/sh\n/bin/bash\n")
    env = {"HOME": str(home), "PATH": os.environ["PATH"], "LANG": "C.UTF-8",
           "VG_PREFIX": str(home / ".local/share/vgshell"), "VG_BIN": str(home / ".local/bin"),
           "VG_SHELLS_FILE": str(shells)}
    for _ in range(2):  # idempotent
        r = subprocess.run([str(ROOT / "install.sh"), "--shell-hooks"], env=env, capture_output=True, text=True,
                           timeout=600)
        assert r.returncode == 0, r.stderr
    vg = home / ".local/bin/vg"
    assert shells.read_text().splitlines() == ["/bin/sh", "/bin/bash", str(home / ".local/bin/vgshell")]
    r = subprocess.run([str(home / ".local/bin/vgshell"), "-c", "rm -rf ~"], env=env, capture_output=True, text=True)
    assert r.returncode == 126 and home.exists()
    r = subprocess.run([str(vg), "check", "rm -rf ~"], env=env, capture_output=True, text=True)
    assert r.returncode == 30 and "block (critical)" in r.stdout
    rc = (home / ".bashrc").read_text()
    assert rc.count("# vgshell hook") == 1 and "alias ll='ls -l'" in rc
    r = subprocess.run(["bash", "-ic", "type -t __vg_judge; vg analyzer stop >/dev/null"], env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.stdout.split()[:1] == ["function"], r.stderr
    r = subprocess.run([str(ROOT / "install.sh"), "--uninstall"], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert not vg.exists() and not (home / ".local/share/vgshell").exists()
    assert shells.read_text().splitlines() == ["/bin/sh", "/bin/bash"]
    assert "# vgshell hook" not in (home / ".bashrc").read_text()
    assert "alias ll='ls -l'" in (home / ".bashrc").read_text()
