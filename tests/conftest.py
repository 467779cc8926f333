from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
CWD = "/home/dev/project"
HOME = "/home/dev"


def load_jsonl(name: str) -> list[dict[str, str]]:
    with (DATA / name).open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


@pytest.fixture
def vg_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private state dir (VG_HOME) and HOME, so no test touches the real home."""
    home = tmp_path / "home"
    state = home / ".vectra-guard"
    home.mkdir()
    monkeypatch.setenv("VG_HOME", str(state))
    monkeypatch.setenv("HOME", str(home))
    return state


def pytest_configure(config: pytest.Config) -> None:
    """The suite models a developer's machine, where `auto` tries bubblewrap first. CI=true (set by the CI
    runner) would make every spawned vg prefer Docker, as `sandbox.auto_detect_env` promises; tests of that
    behaviour set CI themselves."""
    del config
    os.environ.pop("CI", None)
