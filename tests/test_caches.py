"""Cache mounts (§5) with real installs from the registries reachable here, in every runtime.

The proof is what the cache avoids, not time: after one install with the network, the same npm install
succeeds in a fresh sandbox with `network_mode: none` and `--offline`; pip's built-wheel cache on the host
is filled by the first install and reused by the second (this network's proxy keeps pip's HTTP cache
empty, ENVIRONMENT.md, so built wheels are the evidence pip gives).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from tests.test_sandbox import RUNTIMES, Sandbox

DEBIAN = "vgshell-test/debian:latest"


def run(sb: Sandbox, command: str, network: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    r = sb.run(command, network=network, extra_env={"VG_IMAGE": DEBIAN, "VG_MODE": "auto", **(env or {})},
               timeout=600)
    return r.returncode, r.stdout + r.stderr


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_npm_cache_serves_an_offline_install(runtime: str, tmp_path: Path) -> None:
    sb = Sandbox(tmp_path, runtime)
    status, out = run(sb, "npm install --no-audit --no-fund is-number@7.0.0", "full")
    assert status == 0, out
    cache = sb.home / ".npm" / "_cacache"
    assert any((cache / "index-v5").rglob("*")), "npm's cache on the host was not filled"
    (sb.project / "node_modules").rename(sb.project / "first_node_modules")
    (sb.project / "package-lock.json").unlink()
    status, out = run(sb, "npm install --offline --no-audit --no-fund is-number@7.0.0", "none")
    assert status == 0, out
    assert (sb.project / "node_modules" / "is-number" / "package.json").exists()


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_pip_reuses_the_host_wheel_cache(runtime: str, tmp_path: Path) -> None:
    sb = Sandbox(tmp_path, runtime)
    # docopt 0.6.2 is published as a source archive only: every pip builds a wheel and caches it.
    # bubblewrap runs the host's tools: the base interpreter's pip (a pyenv shim would try to rehash, and a
    # virtualenv under /tmp is hidden by the sandbox's own /tmp).
    python = f"{sys.base_prefix}/bin/python3" if runtime == "bubblewrap" else "python3"
    install = python + " -m pip install --no-deps --target ./pkgs{n} docopt==0.6.2"
    path: dict[str, str] = {}
    status, first = run(sb, install.format(n=1), "full", path)
    assert status == 0, first
    assert "Building wheel for docopt" in first, first
    wheels = list((sb.home / ".cache" / "pip" / "wheels").rglob("docopt-0.6.2-*.whl"))
    assert wheels, "the built wheel did not land in the host's pip cache"
    assert all(w.stat().st_uid == os.getuid() for w in wheels)
    status, second = run(sb, install.format(n=2), "full", path)
    assert status == 0, second
    assert "Building wheel for docopt" not in second, second
    assert (sb.project / "pkgs2" / "docopt.py").exists()


def test_notice_names_the_runtime_and_says_cached(tmp_path: Path) -> None:
    sb = Sandbox(tmp_path, "bubblewrap")
    r = sb.run("npm install --offline --no-audit --no-fund is-number@7.0.0 || true", network="none",
               extra_env={"VG_MODE": "auto"}, quiet=False)
    assert r.stderr.splitlines()[0] == ("📦 Running in sandbox (bubblewrap, cached). Why: medium risk + "
                                        "networked install (pkg.npm-install)")
    assert (sb.home / ".npm").is_dir()  # a missing cache directory is created, not skipped


def test_cache_locations_follow_home_and_the_users_npmrc(tmp_path: Path) -> None:
    """The tools are asked once and remembered, but never across homes or after the user's config changed."""
    from vgshell.sandbox.caches import locate

    memo = tmp_path / "state" / "tools.json"
    homes = [tmp_path / "a", tmp_path / "b"]
    for h in homes:
        h.mkdir()
    found = [locate(("npm",), str(h), {"PATH": os.environ["PATH"], "HOME": str(h)}, memo)[0] for h in homes]
    assert found[0] != found[1]
    assert all(str(h) in dirs[0][0] for h, dirs in zip(homes, found, strict=True))
    (homes[0] / ".npmrc").write_text(f"cache={tmp_path / 'elsewhere'}\n")
    moved = locate(("npm",), str(homes[0]), {"PATH": os.environ["PATH"], "HOME": str(homes[0])}, memo)[0]
    assert moved[0][0] == str(tmp_path / "elsewhere")
