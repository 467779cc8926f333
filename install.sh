#!/usr/bin/env bash
# Installs vgshell for the current user (no root): a virtualenv under ~/.local/share/vgshell and the
# `vg` / `vgshell` commands linked into ~/.local/bin, which is put on PATH in ~/.bashrc, ~/.zshrc and the
# bash login file (between marker comments; --no-modify-path only prints the line). Run it again to upgrade.
# --shell-hooks also adds the bash/zsh hook to ~/.bashrc and ~/.zshrc (once).
# --uninstall removes the virtualenv, the links, every line it added to rc files and the agent hooks
# `vg setup` wrote; ~/.vectra-guard (trust store, records, config) stays unless --purge is given too.
set -euo pipefail
VG_PREFIX="${VG_PREFIX:-$HOME/.local/share/vgshell}"
VG_BIN="${VG_BIN:-$HOME/.local/bin}"
VG_SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

__vg_say() { printf 'vgshell: %s\n' "$*" >&2; }
VG_DONE=()
__vg_did() { VG_DONE+=("$*"); __vg_say "$*"; }
__vg_summary() {
  local line
  printf 'vgshell: done:\n' >&2
  for line in "${VG_DONE[@]}"; do printf '  - %s\n' "$line" >&2; done
}

__vg_rc_line() {  # $1 = bash|zsh
  printf '[ -r "%s/hook.%s" ] && . "%s/hook.%s"  # vgshell hook\n' "$VG_PREFIX" "$1" "$VG_PREFIX" "$1"
}

__vg_rc_files() {
  printf '%s\n' "bash:$HOME/.bashrc"
  [ -e "$HOME/.zshrc" ] || command -v zsh >/dev/null 2>&1 && printf '%s\n' "zsh:$HOME/.zshrc"
}

# Login shells (bash -l, a desktop session) read the first of these; interactive ones read the rc files.
__vg_login_file() {
  local f
  for f in "$HOME/.bash_profile" "$HOME/.bash_login" "$HOME/.profile"; do
    [ -e "$f" ] && { printf '%s\n' "$f"; return; }
  done
  printf '%s\n' "$HOME/.profile"
}

__vg_path_files() {
  local pair
  for pair in $(__vg_rc_files); do printf '%s\n' "${pair#*:}"; done
  __vg_login_file
}

VG_PATH_BEGIN="# >>> vgshell PATH >>>"
VG_PATH_END="# <<< vgshell PATH <<<"

__vg_path_block() {
  printf '%s\n' "$VG_PATH_BEGIN" \
    "case \":\$PATH:\" in *\":$VG_BIN:\"*) ;; *) export PATH=\"$VG_BIN:\$PATH\" ;; esac" "$VG_PATH_END"
}

__vg_add_path() {
  local rc
  for rc in $(__vg_path_files); do
    if [ -f "$rc" ] && grep -qxF "$VG_PATH_BEGIN" "$rc"; then
      continue
    fi
    [ -f "$rc" ] && [ ! -e "$rc.vgshell-backup" ] && cp -p "$rc" "$rc.vgshell-backup"  # the original, once
    __vg_path_block >>"$rc"
    __vg_did "put $VG_BIN on PATH in $rc"
  done
}


__vg_add_hooks() {
  local pair shell rc
  for pair in $(__vg_rc_files); do
    shell="${pair%%:*}" rc="${pair#*:}"
    if [ -f "$rc" ] && grep -q '# vgshell hook$' "$rc"; then
      __vg_say "$rc already loads the hook"
      continue
    fi
    [ -f "$rc" ] && [ ! -e "$rc.vgshell-backup" ] && cp -p "$rc" "$rc.vgshell-backup"  # the original, once
    __vg_rc_line "$shell" >>"$rc"
    __vg_did "added the $shell hook to $rc (new shells are guarded; VG_DISABLE=1 turns it off)"
  done
}

# Takes out the hook line and the PATH block, and the backups install made (the file is as it was before).
# A file left empty was made by install: it goes too.
__vg_remove_lines() {
  local rc tmp
  for rc in $(__vg_path_files); do
    [ -f "$rc" ] || continue
    if grep -q '# vgshell hook$' "$rc" || grep -qxF "$VG_PATH_BEGIN" "$rc"; then
      tmp="$rc.vgshell-new"
      awk -v b="$VG_PATH_BEGIN" -v e="$VG_PATH_END" \
        '$0 == b { skip = 1 } !skip && !/# vgshell hook$/ { print } $0 == e { skip = 0 }' "$rc" >"$tmp"
      cat "$tmp" >"$rc" && rm -f "$tmp" "$rc.vgshell-backup"  # cat keeps the file's owner, mode and links
      __vg_did "took the vgshell lines out of $rc"
      [ -s "$rc" ] || rm -f "$rc"
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
    __vg_did "added $me to $shells: 'chsh -s $me' makes vgshell your login shell"
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
  local agent
  if [ -x "$VG_PREFIX/venv/bin/vg" ]; then  # the agent hooks `vg setup` wrote, while vg is still here
    for agent in claude-code codex cursor gemini vscode; do
      "$VG_PREFIX/venv/bin/vg" setup "$agent" --uninstall 2>&1 | grep -E '^(removed|restored) ' |
        while read -r line; do __vg_say "$agent: $line"; done || true
    done
  fi
  __vg_remove_lines
  __vg_remove_login_shell
  for name in vg vgshell; do
    if [ -L "$VG_BIN/$name" ] && [ "$(readlink "$VG_BIN/$name")" = "$VG_PREFIX/venv/bin/$name" ]; then
      rm -f "$VG_BIN/$name"
    fi
  done
  rm -rf "$VG_PREFIX"
  __vg_did "removed $VG_PREFIX and the vg/vgshell links"
  if [ "${1:-}" = purge ]; then
    rm -rf "${VG_HOME:-$HOME/.vectra-guard}"
    __vg_did "removed ${VG_HOME:-$HOME/.vectra-guard} (trust store, records, config)"
  else
    __vg_say "kept ${VG_HOME:-$HOME/.vectra-guard} (trust store, records, config); --uninstall --purge removes it"
  fi
}

# bubblewrap is the sandbox vgshell starts fastest (about 10 ms, no daemon); without it risky commands go to
# Docker or Podman when they answer, else they are asked about or blocked. Asked only at a terminal.
__vg_offer_bubblewrap() {
  local install=""
  command -v bwrap >/dev/null 2>&1 && return 0
  [ "$(uname -s)" = Linux ] || return 0  # bubblewrap is Linux only; elsewhere the sandbox is Docker or Podman
  if command -v apt-get >/dev/null 2>&1; then install="apt-get install -y bubblewrap"
  elif command -v dnf >/dev/null 2>&1; then install="dnf install -y bubblewrap"
  elif command -v pacman >/dev/null 2>&1; then install="pacman -S --noconfirm bubblewrap"
  elif command -v zypper >/dev/null 2>&1; then install="zypper install -y bubblewrap"
  elif command -v apk >/dev/null 2>&1; then install="apk add bubblewrap"
  else
    __vg_say "bubblewrap (bwrap) is not installed: it is the fastest sandbox for risky commands; install it" \
      "with your package manager"
    return 0
  fi
  [ "$(id -u)" = 0 ] || install="sudo $install"
  __vg_say "bubblewrap (bwrap) is not installed: it is the fastest sandbox for risky commands (no daemon);" \
    "without it they go to Docker or Podman, or are asked about or blocked"
  if [ -t 0 ] && [ -t 2 ] && [ -z "${VG_NONINTERACTIVE:-}" ]; then
    printf 'vgshell: install it now with "%s"? [y/N] ' "$install" >&2
    local answer=""
    read -r answer || true
    case $answer in
      y | Y | yes) $install && __vg_did "installed bubblewrap ($install)" && return 0 ;;
    esac
  fi
  __vg_say "to install it: $install"
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
  __vg_did "installed $("$VG_BIN/vg" --version) into $VG_PREFIX, linked vg and vgshell into $VG_BIN"
  if [ -n "$VG_NO_MODIFY_PATH" ]; then
    case ":$PATH:" in
      *":$VG_BIN:"*) ;;
      *) __vg_say "add this line to ~/.bashrc, ~/.zshrc and ~/.profile so 'vg' is found:" \
           "export PATH=\"$VG_BIN:\$PATH\"" ;;
    esac
  else
    __vg_add_path
    case ":$PATH:" in
      *":$VG_BIN:"*) ;;
      *) __vg_say "new shells find vg and vgshell; in this one: export PATH=\"$VG_BIN:\$PATH\"" ;;
    esac
  fi
  __vg_add_login_shell
  __vg_offer_bubblewrap
  if [ "${1:-}" = hooks ]; then
    __vg_add_hooks
  else
    __vg_say "to guard every typed line, run ./install.sh --shell-hooks, or add to ~/.bashrc: $(__vg_rc_line bash)"
  fi
}

VG_NO_MODIFY_PATH=""
action=install purge=""
for arg in "$@"; do
  case $arg in
    --uninstall) action=uninstall ;;
    --purge) purge=purge ;;
    --install) ;;
    --shell-hooks) action=hooks ;;
    --no-modify-path) VG_NO_MODIFY_PATH=1 ;;
    -h | --help) sed -n '2,8p' "$0" | sed 's/^# //'; exit 0 ;;
    *) __vg_say "unknown option '$arg' (use --shell-hooks, --no-modify-path, --uninstall [--purge] or --help)"
       exit 2 ;;
  esac
done
if [ -n "$purge" ] && [ "$action" != uninstall ]; then
  __vg_say "--purge goes with --uninstall"; exit 2
fi
case $action in
  uninstall) __vg_uninstall "$purge" ;;
  hooks) __vg_install hooks ;;
  *) __vg_install ;;
esac
__vg_summary
