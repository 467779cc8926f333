#!/usr/bin/env bash
# Installs vgshell for the current user (no root): a virtualenv under ~/.local/share/vgshell and the
# `vg` / `vgshell` commands linked into ~/.local/bin. Run it again to upgrade; --uninstall removes it all.
set -euo pipefail

VG_PREFIX="${VG_PREFIX:-$HOME/.local/share/vgshell}"
VG_BIN="${VG_BIN:-$HOME/.local/bin}"
VG_SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

__vg_say() { printf 'vgshell: %s\n' "$*" >&2; }

__vg_uninstall() {
  for name in vg vgshell; do
    if [ -L "$VG_BIN/$name" ] && [ "$(readlink "$VG_BIN/$name")" = "$VG_PREFIX/venv/bin/$name" ]; then
      rm -f "$VG_BIN/$name"
    fi
  done
  rm -rf "$VG_PREFIX"
  __vg_say "removed $VG_PREFIX and the vg/vgshell links (your ~/.vectra-guard state is kept)"
}

__vg_python() {
  for py in python3.13 python3.12 python3.11 python3; do
    if command -v "$py" >/dev/null 2>&1 &&
       "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      command -v "$py"
      return 0
    fi
  done
  __vg_say "needs Python 3.11 or newer (python3 --version says: $(python3 --version 2>&1 || echo none))"
  return 1
}

__vg_install() {
  local py
  py="$(__vg_python)"
  mkdir -p "$VG_PREFIX" "$VG_BIN"
  if [ ! -x "$VG_PREFIX/venv/bin/python" ]; then
    "$py" -m venv "$VG_PREFIX/venv"
  fi
  "$VG_PREFIX/venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade "$VG_SRC"
  for name in vg vgshell; do
    ln -sfn "$VG_PREFIX/venv/bin/$name" "$VG_BIN/$name"
  done
  __vg_say "installed $("$VG_BIN/vg" --version) into $VG_PREFIX"
  case ":$PATH:" in
    *":$VG_BIN:"*) ;;
    *) __vg_say "add this line to ~/.bashrc or ~/.zshrc so 'vg' is found: export PATH=\"$VG_BIN:\$PATH\"" ;;
  esac
  if ! command -v bwrap >/dev/null 2>&1; then
    __vg_say "optional: install bubblewrap for the fastest sandbox (sudo apt-get install bubblewrap)"
  fi
}

case "${1:-}" in
  --uninstall) __vg_uninstall ;;
  ""|--install) __vg_install ;;
  -h|--help) sed -n '2,3p' "$0" | sed 's/^# //' ;;
  *) __vg_say "unknown option '$1' (use --uninstall or --help)"; exit 2 ;;
esac
