#!/usr/bin/env bash
# Installs vgshell for the current user (no root): a virtualenv under ~/.local/share/vgshell and the
# `vg` / `vgshell` commands linked into ~/.local/bin. Run it again to upgrade; --uninstall removes it all.
# --shell-hooks also adds the bash/zsh hook to ~/.bashrc and ~/.zshrc (once; --uninstall takes it out).
set -euo pipefail

VG_PREFIX="${VG_PREFIX:-$HOME/.local/share/vgshell}"
VG_BIN="${VG_BIN:-$HOME/.local/bin}"
VG_SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

__vg_say() { printf 'vgshell: %s\n' "$*" >&2; }

__vg_rc_line() {  # $1 = bash|zsh
  printf '[ -r "%s/hook.%s" ] && . "%s/hook.%s"  # vgshell hook\n' "$VG_PREFIX" "$1" "$VG_PREFIX" "$1"
}

__vg_rc_files() {
  printf '%s\n' "bash:$HOME/.bashrc"
  [ -e "$HOME/.zshrc" ] || command -v zsh >/dev/null 2>&1 && printf '%s\n' "zsh:$HOME/.zshrc"
}

__vg_add_hooks() {
  local pair shell rc
  for pair in $(__vg_rc_files); do
    shell="${pair%%:*}" rc="${pair#*:}"
    if [ -f "$rc" ] && grep -q '# vgshell hook$' "$rc"; then
      __vg_say "$rc already loads the hook"
      continue
    fi
    [ -f "$rc" ] && cp -p "$rc" "$rc.vgshell-backup"
    __vg_rc_line "$shell" >>"$rc"
    __vg_say "added the $shell hook to $rc (new shells are guarded; VG_DISABLE=1 turns it off)"
  done
}

__vg_remove_hooks() {
  local pair rc
  for pair in $(__vg_rc_files); do
    rc="${pair#*:}"
    if [ -f "$rc" ] && grep -q '# vgshell hook$' "$rc"; then
      cp -p "$rc" "$rc.vgshell-backup"
      grep -v '# vgshell hook$' "$rc.vgshell-backup" >"$rc" || true  # grep says 1 when no line is left
      __vg_say "took the hook out of $rc (backup: $rc.vgshell-backup)"
    fi
  done
}

# chsh accepts only shells listed in /etc/shells: vgshell is added there when this user may write it.
__vg_add_login_shell() {
  local shells="${VG_SHELLS_FILE:-/etc/shells}" me="$VG_BIN/vgshell"
  if [ -f "$shells" ] && grep -qxF "$me" "$shells"; then
    return 0
  fi
  if [ -w "$shells" ] || { [ ! -e "$shells" ] && [ -w "$(dirname "$shells")" ]; }; then
    printf '%s\n' "$me" >>"$shells"
    __vg_say "added $me to $shells: 'chsh -s $me' makes vgshell your login shell"
  else
    __vg_say "to make vgshell your login shell: echo $me | sudo tee -a $shells && chsh -s $me"
  fi
}

__vg_remove_login_shell() {
  local shells="${VG_SHELLS_FILE:-/etc/shells}" me="$VG_BIN/vgshell" kept
  if [ -w "$shells" ] && grep -qxF "$me" "$shells"; then
    kept="$(grep -vxF "$me" "$shells" || true)"
    printf '%s\n' "$kept" >"$shells"
  fi
}

__vg_uninstall() {
  __vg_remove_hooks
  __vg_remove_login_shell
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
  for shell in bash zsh; do  # sourced by the rc files: no Python start-up when a shell starts
    "$VG_BIN/vg" init "$shell" >"$VG_PREFIX/hook.$shell"
  done
  __vg_say "installed $("$VG_BIN/vg" --version) into $VG_PREFIX"
  case ":$PATH:" in
    *":$VG_BIN:"*) ;;
    *) __vg_say "add this line to ~/.bashrc or ~/.zshrc so 'vg' is found: export PATH=\"$VG_BIN:\$PATH\"" ;;
  esac
  __vg_add_login_shell
  if ! command -v bwrap >/dev/null 2>&1; then
    __vg_say "optional: install bubblewrap for the fastest sandbox (sudo apt-get install bubblewrap)"
  fi
  if [ "${1:-}" = hooks ]; then
    __vg_add_hooks
  else
    __vg_say "to guard every typed line, run ./install.sh --shell-hooks, or add to ~/.bashrc: $(__vg_rc_line bash)"
  fi
}

case "${1:-}" in
  --uninstall) __vg_uninstall ;;
  ""|--install) __vg_install ;;
  --shell-hooks) __vg_install hooks ;;
  -h|--help) sed -n '2,4p' "$0" | sed 's/^# //' ;;
  *) __vg_say "unknown option '$1' (use --shell-hooks, --uninstall or --help)"; exit 2 ;;
esac
