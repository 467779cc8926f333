"""The pure sandbox spec: which host directories a sandbox may use, decided once for every runtime."""

from __future__ import annotations

import pytest

from vgshell.sandbox.spec import HostFacts, line_mounts, project_root, toolchain_dirs, workdir_shelters_home

H = "/home/dev"

TOOLCHAINS = [
    # PATH, what is bound read-only
    (f"{H}/.pyenv/shims:{H}/.pyenv/bin:/usr/bin", (f"{H}/.pyenv",)),
    (f"{H}/.nvm/versions/node/v20.1.0/bin", (f"{H}/.nvm",)),
    (f"{H}/.cargo/bin:{H}/.local/bin", (f"{H}/.cargo", f"{H}/.local/bin")),
    (f"{H}/bin:{H}/go/bin", (f"{H}/bin", f"{H}/go/bin")),
    (f"{H}/.config/tool/bin", (f"{H}/.config/tool/bin",)),
    (f"{H}/.ssh/bin:{H}/.aws:{H}/.config/gcloud/bin", ()),  # secret directories never
    (f"{H}/../root/.pyenv/bin:{H}", ()),  # no escaping $HOME, not $HOME itself
    ("/usr/local/bin:/usr/bin:/bin", ()),
    (f"/home/devil/.pyenv/bin:{H}x/bin", ()),  # a neighbour's home is not ours
    (f"{H}/.pyenv/shims:{H}/.pyenv/bin/", (f"{H}/.pyenv",)),  # one bind per toolchain
]


@pytest.mark.parametrize(("path", "bound"), TOOLCHAINS)
def test_toolchain_dirs_bind_what_path_uses_and_no_secrets(path: str, bound: tuple[str, ...]) -> None:
    assert toolchain_dirs(path, H) == bound


SHELTERS = [("/", True), (H, True), (H + "/", True), ("/home", True), (H + "/project", False), ("/tmp/x", False),
            ("/home/devil", False), (H + "x", False)]


@pytest.mark.parametrize(("cwd", "read_only"), SHELTERS)
def test_a_working_directory_holding_home_is_read_only_in_a_sandbox(cwd: str, read_only: bool) -> None:
    assert workdir_shelters_home(cwd, H) is read_only


LINE_DIRS = [  # (cwd, project root, the line's cd targets) → mounts beyond cwd: (path, read_only)
    ("/home/u/p", None, ("/home/u/other",), [("/home/u/other", False)]),
    ("/home/u/p/sub", "/home/u/p", ("/home/u/p",), [("/home/u/p", False)]),
    ("/home/u/p", None, ("/home/u/p/build",), []),  # already inside the working directory
    ("/home/u/p", None, ("/home/u",), []),  # $HOME itself never (its start-up files, its secrets)
    ("/home/u/p", None, ("/",), []),
    ("/home/u/p", None, ("/home/u/.ssh",), []),  # a secret directory, or one inside or holding one
    ("/home/u/p", None, ("/home/u/.aws/x",), []),
    ("/home/u/p", None, ("/home/u/.config",), []),
    ("/home/u/p", None, ("/etc",), [("/etc", True)]),  # outside $HOME and the project: read-only
    ("/srv/p/a", "/srv/p", ("/srv/p/b", "/srv/q"), [("/srv/p", False), ("/srv/q", True), ("/srv/p/b", False)]),
]


@pytest.mark.parametrize(("cwd", "root", "dirs", "mounts"), LINE_DIRS)
def test_a_line_that_cds_gets_its_directories_and_never_home_or_secrets(
        cwd: str, root: str | None, dirs: tuple[str, ...], mounts: list[tuple[str, bool]]) -> None:
    facts = HostFacts(cwd=cwd, home="/home/u", uid=1000, gid=1000, env={}, tty=False, project_root=root,
                      line_dirs=dirs)
    assert [(m.target, m.read_only) for m in line_mounts(facts)] == mounts


@pytest.mark.parametrize(("cwd", "marked", "root"), [
    ("/home/u/p/src/lib", "/home/u/p/.git", "/home/u/p"),
    ("/home/u/p/src", "/home/u/p/src/vectra-guard.yaml", "/home/u/p/src"),
    ("/home/u/p", "/home/u/.git", None),  # a git repository at $HOME is not a project root to mount
    ("/srv/app", "/srv/app/.git", "/srv/app"),
])
def test_the_project_root_is_the_nearest_git_or_config_directory_below_home(cwd: str, marked: str,
                                                                          root: str | None) -> None:
    assert project_root(cwd, "/home/u", lambda p: p == marked) == root


OVERLAID = [  # (cwd, project root, the line's cd targets, extra cache dir) → (mounts: (host, target, ro), project)
    ("/home/u/p", None, (), None, ([("/home/u/p", "/home/u/p", False)], "/home/u/p")),
    ("/home/u/p/sub", "/home/u/p", (), None, ([("/home/u/p", "/home/u/p", False)], "/home/u/p")),
    # a directory the line cds into outside the project: read-only, or it would take writes around the review
    ("/home/u/p", None, ("/home/u/other",), None,
     ([("/home/u/p", "/home/u/p", False), ("/home/u/other", "/home/u/other", True)], "/home/u/p")),
    ("/srv/p/a", "/srv/p", ("/srv/p/b",), None, ([("/srv/p", "/srv/p", False)], "/srv/p")),  # seen through it
    # a project directory shown elsewhere: read-only; a cache outside the project stays writable
    ("/home/u/p", None, (), "/home/u/p/build:/cache",
     ([("/home/u/p", "/home/u/p", False), ("/home/u/p/build", "/cache", True)], "/home/u/p")),
    ("/home/u/p", None, (), "/var/cache/x",
     ([("/home/u/p", "/home/u/p", False), ("/var/cache/x", "/var/cache/x", False)], "/home/u/p")),
    ("/home/u", None, (), None, ([("/home/u", "/home/u", True)], None)),  # $HOME is read-only: nothing to capture
]


@pytest.mark.parametrize(("cwd", "root", "dirs", "cache", "expected"), OVERLAID)
def test_under_review_nothing_writable_reaches_around_the_overlay(
        cwd: str, root: str | None, dirs: tuple[str, ...], cache: str | None,
        expected: tuple[list[tuple[str, str, bool]], str | None]) -> None:
    from vgshell.config import DEFAULT_CONFIG, with_overrides
    from vgshell.sandbox.spec import build_spec

    overrides: dict[str, object] = {"sandbox.project_writes": "review", "sandbox.enable_cache": True}
    if cache:
        overrides["sandbox.cache_dirs"] = [cache]
    cfg = with_overrides(DEFAULT_CONFIG, overrides)
    facts = HostFacts(cwd=cwd, home="/home/u", uid=1000, gid=1000, env={}, tty=False, project_root=root,
                      line_dirs=dirs)
    spec = build_spec("make", cfg, facts)
    assert ([(m.host, m.target, m.read_only) for m in spec.mounts], spec.project) == expected
    assert spec.captures is (expected[1] is not None)
    direct = build_spec("make", with_overrides(cfg, {"sandbox.project_writes": "direct"}), facts)
    assert not direct.captures and direct.project == expected[1]
