"""The pure sandbox spec: which host directories a sandbox may use, decided once for every runtime."""

from __future__ import annotations

import pytest

from vgshell.sandbox.spec import toolchain_dirs, workdir_shelters_home

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
