"""The change set of an overlay's upper directory: read from real overlay mounts (the kernel's, in a user
namespace, and fuse-overlayfs), applied to the real tree, refused where the real tree moved or a link leads
out of the project. Every round trip is checked against the same script run on a plain copy of the tree."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from vgshell.changes.changeset import Change, apply, read_upper, render, summary

MOUNTERS = ("kernel", "fuse")


def make_project(root: Path) -> Path:
    files = {"README.md": "hello\n", "run.sh": "#!/bin/sh\necho run\n", "src/a.txt": "a\n",
             "src/sub/b.txt": "b\n", "docs/guide.md": "# Guide\n\nline\n", "build/keep.txt": "k\n"}
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    (root / "build/old.o").write_bytes(b"\x7fELF\0\0\x01\x02")
    (root / "run.sh").chmod(0o644)
    (root / "src/link").symlink_to("a.txt")
    (root / "vendor").symlink_to("/usr/share")  # the user's own link out of the project
    return root


def snapshot(root: Path) -> dict[str, tuple[str, int, bytes | str]]:
    """Every entry under root: type, permission bits, content (a link's target)."""
    out: dict[str, tuple[str, int, bytes | str]] = {}
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            p = Path(dirpath) / name
            st = p.lstat()
            rel = str(p.relative_to(root))
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", 0, os.readlink(p))
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir", stat.S_IMODE(st.st_mode), "")
            else:
                out[rel] = ("file", stat.S_IMODE(st.st_mode), p.read_bytes())
    return out


def run_in_overlay(lower: Path, tmp: Path, script: str, mounter: str) -> Path:
    """Run `script` in the merged view of `lower` + a fresh upper directory; return the upper directory."""
    upper, work, merged = tmp / "upper", tmp / "work", tmp / "merged"
    for d in (upper, work, merged):
        d.mkdir()
    opts = f"lowerdir={lower},upperdir={upper},workdir={work}"
    if mounter == "kernel":
        inner = f"mount -t overlay overlay -o {opts},userxattr {merged} && cd {merged} && {{ {script}\n}}"
    else:
        inner = (f"fuse-overlayfs -o {opts} {merged} 2>/dev/null && (cd {merged} && {{ {script}\n}}); s=$?; "
                 f"fusermount3 -u {merged}; exit $s")
    r = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "sh", "-ec", inner],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return upper


def run_direct(tree: Path, script: str) -> None:
    subprocess.run(["sh", "-ec", f"{{ {script}\n}}"], cwd=tree, check=True)


# (script, the changes it must read as) — each also round-trips: applied, the tree equals the script run directly
CASES = [
    ("rm -rf src", {("src", "deleted")}),
    ("echo new >> src/a.txt", {("src/a.txt", "changed")}),
    ("echo x > new.txt", {("new.txt", "added")}),
    ("chmod 755 run.sh", {("run.sh", "mode")}),
    ("chmod 700 docs", {("docs", "mode")}),
    ("rm -rf build && mkdir build && echo o > build/out", {("build", "opaque"), ("build/out", "added")}),
    ("rm -rf build && mkdir build", {("build", "opaque")}),
    ("ln -s ../README.md docs/readme", {("docs/readme", "symlink")}),
    ("ln -sfn sub src/link", {("src/link", "symlink")}),
    ("rm src/link", {("src/link", "deleted")}),
    (": >> README.md; touch docs/guide.md; cat run.sh >/dev/null", set()),  # copied up or touched, not changed
    ("rm README.md && mkdir README.md && echo in > README.md/x", {("README.md", "added"), ("README.md/x", "added")}),
    ("rm -rf src/sub && echo f > src/sub", {("src/sub", "changed")}),
    ("mv run.sh run2.sh", {("run.sh", "deleted"), ("run2.sh", "added")}),
    ("mkdir -p new/deep && echo z > new/deep/z", {("new", "added"), ("new/deep", "added"), ("new/deep/z", "added")}),
    ("printf '\\001\\002' > build/old.o && rm build/keep.txt",
     {("build/old.o", "changed"), ("build/keep.txt", "deleted")}),
    ("x=$(mktemp -p .) && rm $x", set()),  # created and removed inside the run: nothing to apply
]


@pytest.mark.parametrize("mounter", MOUNTERS)
@pytest.mark.parametrize(("script", "expected"), CASES, ids=[c[0] for c in CASES])
def test_round_trip(tmp_path: Path, mounter: str, script: str, expected: set[tuple[str, str]]) -> None:
    project = make_project(tmp_path / "project")
    direct = tmp_path / "direct"
    shutil.copytree(project, direct, symlinks=True)
    run_direct(direct, script)
    before = snapshot(project)
    upper = run_in_overlay(project, tmp_path, script, mounter)
    assert snapshot(project) == before  # the run wrote only to the upper directory

    changes = read_upper(upper, project, dot_wh=mounter == "fuse")
    assert {(c.path, c.kind) for c in changes} == expected
    result = apply(changes, upper, project)
    assert result.ok, result.refused
    assert snapshot(project) == snapshot(direct)


def test_whiteouts_and_opaque_dirs_are_what_the_upper_dir_holds(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project")
    upper = run_in_overlay(project, tmp_path, "rm -rf src && rm -rf build && mkdir build", "kernel")
    st = (upper / "src").lstat()
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == 0
    assert os.getxattr(upper / "build", "user.overlay.opaque") == b"y"
    by_path = {c.path: c for c in read_upper(upper, project)}
    assert by_path["src"].base is not None and by_path["src"].base.type == "dir"
    assert by_path["build"].kind == "opaque"


def test_discard_leaves_the_tree_byte_identical(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project")
    before = snapshot(project)
    upper = run_in_overlay(project, tmp_path, "rm -rf src build && echo x > README.md && chmod 777 run.sh", "kernel")
    assert read_upper(upper, project)  # there was something to discard
    shutil.rmtree(upper)
    assert snapshot(project) == before


# (script in the run, what the host then does to the real tree, the paths apply must refuse)
MOVED = [
    ("echo new >> src/a.txt", "echo host >> src/a.txt", {"src/a.txt"}),
    ("rm -rf src", "echo host > src/extra", {"src"}),
    ("rm -rf src", "chmod 700 src/sub", {"src"}),
    ("rm -rf build && mkdir build && echo o > build/out", "echo host > build/more", {"build", "build/out"}),
    ("echo x > new.txt", "echo host > new.txt", {"new.txt"}),
    ("chmod 755 run.sh", "echo host >> run.sh", {"run.sh"}),
    ("rm README.md", "echo host > README.md", {"README.md"}),
    ("ln -sfn sub src/link", "ln -sfn sub/b.txt src/link", {"src/link"}),
]


@pytest.mark.parametrize(("script", "host", "refused"), MOVED, ids=[f"{m[0]} / {m[1]}" for m in MOVED])
def test_apply_refuses_what_changed_on_the_host(tmp_path: Path, script: str, host: str, refused: set[str]) -> None:
    project = make_project(tmp_path / "project")
    upper = run_in_overlay(project, tmp_path, f"{script} && echo also > also.txt", "kernel")
    changes = read_upper(upper, project)
    run_direct(project, host)
    after_host = snapshot(project)
    result = apply(changes, upper, project)
    assert {r.path for r in result.refused} == refused
    assert all(r.reason for r in result.refused)
    assert (project / "also.txt").read_text() == "also\n"  # the rest still applies
    now = snapshot(project)
    for path in refused:  # what the host did is kept
        assert {k: v for k, v in now.items() if k == path or k.startswith(path + "/")} == \
               {k: v for k, v in after_host.items() if k == path or k.startswith(path + "/")}


# Links in the upper directory: out of the project refused, look-alikes inside applied
LINKS = [
    ("ln -s /etc/passwd evil", False),
    ("ln -s ../../../../../../../etc/passwd src/evil", False),
    ("ln -s .. up", False),
    ("ln -s src/../../x escape", False),
    ("ln -s sub/../../.. src/deep", False),
    ("ln -s vendor/.. via", False),  # inside by its text, out through the real tree's link
    ("ln -s vendor/doc docs2", False),
    ("ln -s sub/../a.txt src/ok", True),
    ("ln -s ./README.md readme", True),
    ("ln -s docs d", True),
    ("ln -s . self", True),
]


@pytest.mark.parametrize(("script", "allowed"), LINKS, ids=[x[0] for x in LINKS])
def test_links_out_of_the_project_are_refused(tmp_path: Path, script: str, allowed: bool) -> None:
    project = make_project(tmp_path / "project")
    upper = run_in_overlay(project, tmp_path, script, "kernel")
    changes = read_upper(upper, project)
    (link,) = changes
    result = apply(changes, upper, project)
    assert result.ok is allowed
    assert os.path.lexists(project / link.path) is allowed
    if not allowed:
        assert "outside the project" in result.refused[0].reason


def test_absolute_link_inside_the_project_is_applied(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project")
    upper = run_in_overlay(project, tmp_path, f"ln -s {project}/src/a.txt abs", "kernel")
    assert apply(read_upper(upper, project), upper, project).ok
    assert (project / "abs").read_text() == "a\n"


def test_a_link_in_the_real_parent_path_is_not_followed(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project")
    outside = tmp_path / "outside"
    outside.mkdir()
    upper = run_in_overlay(project, tmp_path, "echo pwned > src/sub/new && rm src/sub/b.txt", "kernel")
    changes = read_upper(upper, project)
    shutil.rmtree(project / "src/sub")
    (project / "src/sub").symlink_to(outside)
    (outside / "b.txt").write_text("b\n")
    result = apply(changes, upper, project)
    assert {r.path for r in result.refused} == {"src/sub/new", "src/sub/b.txt"}
    assert sorted(os.listdir(outside)) == ["b.txt"]


def test_a_link_in_the_upper_dir_is_not_followed_when_applying(tmp_path: Path) -> None:
    """The captured directory is swapped for a link to a secret after reading: apply reads nothing through it."""
    project = make_project(tmp_path / "project")
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "x").write_text("secret\n")
    upper = run_in_overlay(project, tmp_path, "mkdir new && echo x > new/x", "kernel")
    changes = read_upper(upper, project)
    shutil.rmtree(upper / "new")
    (upper / "new").symlink_to(secret)
    result = apply(changes, upper, project)
    assert "new/x" in {r.path for r in result.refused}
    assert not (project / "new/x").exists()


def test_content_changed_in_the_upper_dir_after_reading_is_refused(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project")
    upper = run_in_overlay(project, tmp_path, "echo good > f", "kernel")
    changes = read_upper(upper, project)
    (upper / "f").write_text("evil\n")
    result = apply(changes, upper, project)
    assert [r.path for r in result.refused] == ["f"]
    assert not (project / "f").exists()
    assert not [n for n in os.listdir(project) if ".vg-" in n]  # no temporary file left


def test_applied_files_keep_the_time_the_command_wrote_them(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project")
    upper = run_in_overlay(project, tmp_path, "echo x > new && touch -d '2001-02-03 04:05:06' new", "kernel")
    assert apply(read_upper(upper, project), upper, project).ok
    assert (project / "new").stat().st_mtime_ns == (upper / "new").stat().st_mtime_ns
    assert (project / "new").stat().st_mtime < 1e9 + 2e8


def test_setuid_bits_are_not_applied(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project")
    upper = run_in_overlay(project, tmp_path, "echo x > s && chmod 4755 s && chmod 2755 run.sh", "kernel")
    assert apply(read_upper(upper, project), upper, project).ok
    assert stat.S_IMODE((project / "s").stat().st_mode) == 0o755
    assert stat.S_IMODE((project / "run.sh").stat().st_mode) == 0o755


def test_redirected_directories_are_refused(tmp_path: Path) -> None:
    from vgshell.changes.changeset import ChangeSetError

    project = make_project(tmp_path / "project")
    upper = run_in_overlay(project, tmp_path, "echo x > src/n", "kernel")
    os.setxattr(upper / "src", "user.overlay.redirect", b"/docs")
    with pytest.raises(ChangeSetError, match="redirect_dir"):
        read_upper(upper, project)


def test_summary_and_diff(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project")
    upper = run_in_overlay(project, tmp_path, "echo more >> docs/guide.md && rm -rf src && chmod 755 run.sh && "
                           "printf '\\0\\1' > build/old.o && echo n > new.txt && rm -rf build && mkdir build",
                           "kernel")
    changes = read_upper(upper, project)
    text = summary(changes)
    assert text.splitlines()[0] == "1 added, 1 changed, 1 deleted, 1 replaced whole, 1 mode changes"
    assert "  - src/ (directory)" in text and "  m run.sh 644 → 755" in text and "  ! build/ (replaced whole)" in text
    assert "  ~ docs/guide.md (14 B → 19 B)" in text
    full = render(changes, upper, project)
    assert "--- a/docs/guide.md\n+++ b/docs/guide.md\n" in full and "+more\n" in full
    assert "+++ b/new.txt" in full


def test_binary_files_are_shown_by_size(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project")
    upper = run_in_overlay(project, tmp_path, "printf 'a\\0b' > build/old.o", "kernel")
    (change,) = read_upper(upper, project)
    assert isinstance(change, Change)
    assert "build/old.o: binary or large, 8 B → 3 B" in render((change,), upper, project)


def test_an_unreadable_upper_dir_is_an_error_never_half_a_change_set(tmp_path: Path) -> None:
    from vgshell.changes.changeset import ChangeSetError

    project = make_project(tmp_path / "project")
    with pytest.raises(ChangeSetError, match="could not read what the command wrote"):
        read_upper(tmp_path / "gone", project)
