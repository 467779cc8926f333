"""What Vectra Guard's users type and write works here: its documented config examples load, its
`sandbox.auto_detect_env` / `prefer_fast` steer `runtime: auto`, and its `vg exec` / `vg trust` flags act."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_doctor import BUSYBOX, doctor

COMPLETE_SANDBOX = """\
sandbox:
  enabled: true
  mode: auto
  security_level: balanced
  runtime: docker
  image: ubuntu:22.04
  timeout: 300
  enable_cache: true
  cache_dirs:
    - ~/.npm
    - ~/.cargo
    - ~/go/pkg
  network_mode: restricted
  seccomp_profile: /path/to/seccomp.json
  env_whitelist: [HOME, USER, PATH, SHELL, TERM, PWD]
  bind_mounts:
    - host_path: /path/on/host
      container_path: /path/in/container
      read_only: false
  enable_metrics: true
  log_output: false
  trust_store_path: ~/.vectra-guard/trust.json
"""

# Vectra Guard's documentation (SANDBOX.md, its presets): each example as its users copy it.
EXAMPLES = {
    "complete sandbox config": (COMPLETE_SANDBOX, {"sandbox.runtime": "docker", "metrics.enabled": "true"}),
    "runtime selection": ("sandbox:\n  runtime: auto\n  auto_detect_env: true\n  prefer_fast: true\n",
                          {"sandbox.auto_detect_env": "true", "sandbox.prefer_fast": "true"}),
    "developer preset": ("guard_level:\n  level: low\nsandbox:\n  enabled: true\n  mode: auto\n"
                         "  security_level: permissive\n  enable_cache: true\n  network_mode: full\n",
                         {"guard_level.level": "low", "sandbox.network_mode": "full"}),
    "process runtime": ("sandbox:\n  runtime: process\n", {"sandbox.runtime": "bubblewrap"}),
    "custom cache mounts": ("sandbox:\n  enable_cache: true\n  cache_dirs:\n    - ~/.custom-cache:/.custom-cache\n"
                            "    - /opt/shared-cache:/cache\n", {"sandbox.enable_cache": "true"}),
    "custom security profile": ("sandbox:\n  security_level: strict\n  seccomp_profile: /etc/x/seccomp.json\n"
                                "  network_mode: none\n  bind_mounts:\n    - host_path: /readonly/data\n"
                                "      container_path: /data\n      read_only: true\n",
                                {"sandbox.security_level": "strict"}),
    "allowlist": ('policies:\n  allowlist:\n    - "npm test"\n    - "git status"\n', {}),
    "denylist": ('policies:\n  denylist:\n    - "rm -rf"\n    - "curl * | sh"\n', {}),
}


def vg(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vgshell.cli", *args], capture_output=True, text=True,
                          env={**os.environ, "NO_COLOR": "1", **(env or {})}, cwd=cwd, timeout=120,
                          stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_documented_examples_load(vg_home: Path, name: str) -> None:
    text, expected = EXAMPLES[name]
    vg_home.mkdir(parents=True, exist_ok=True)
    (vg_home / "config.yaml").write_text(text)
    r = vg("config", "show", "--json")
    assert r.returncode == 0 and "vg: config" not in r.stderr, r.stderr
    data = json.loads(r.stdout)
    for key, value in expected.items():
        assert data[key]["value"] == value


@pytest.mark.parametrize(("config", "ci", "chosen"), [
    ("", False, "bubblewrap"),
    ("", True, "docker"),
    ("sandbox:\n  prefer_fast: false\n", False, "docker"),
    ("sandbox:\n  auto_detect_env: false\n", True, "bubblewrap"),
    ("sandbox:\n  auto_detect_env: false\n  prefer_fast: false\n", True, "docker"),
])
def test_auto_detect_env_and_prefer_fast_steer_auto(vg_home: Path, config: str, ci: bool, chosen: str) -> None:
    vg_home.mkdir(parents=True, exist_ok=True)
    (vg_home / "config.yaml").write_text(config)
    _, runtimes = doctor({"CI": "true"} if ci else {"CI": ""})
    used = [name for name, c in runtimes.items() if "(the sandbox vgshell uses here)" in c["detail"]]
    assert used == [chosen]


def test_exec_interactive_asks_about_high_risk_and_without_a_person_runs_nothing(tmp_path: Path) -> None:
    line = "touch canary; base64 -d nothing | sh"  # high risk: decoded text run
    r = vg("exec", "--interactive", line, cwd=tmp_path)
    assert r.returncode == 126 and "--interactive: high risk is asked about" in r.stderr
    assert not (tmp_path / "canary").exists()
    r = vg("exec", line, "--interactive", cwd=tmp_path)  # after the quoted line too
    assert r.returncode == 126 and not (tmp_path / "canary").exists()
    r = vg("exec", line, cwd=tmp_path, env={"VG_IMAGE": BUSYBOX})  # without it: the policy's sandbox
    assert (tmp_path / "canary").exists() and "Running in sandbox" in r.stderr


def test_exec_interactive_leaves_low_risk_alone(tmp_path: Path) -> None:
    r = vg("exec", "--interactive", "touch ok", cwd=tmp_path)
    assert r.returncode == 0 and (tmp_path / "ok").exists()


def test_exec_session_names_the_records(vg_home: Path, tmp_path: Path) -> None:
    assert vg("exec", "--session", "build-42", "true", cwd=tmp_path).returncode == 0
    sessions = json.loads(vg("session", "list", "--json").stdout)
    assert [s["session"] for s in sessions] == ["build-42"]


def test_trust_add_with_note_after_the_command(vg_home: Path) -> None:
    r = vg("trust", "add", "npm install express", "--note", "Common package")
    assert r.returncode == 0, r.stderr
    entries = json.loads(vg("trust", "list", "--json").stdout)["entries"]
    assert [(e["command"], e["note"]) for e in entries] == [("npm install express", "Common package")]
