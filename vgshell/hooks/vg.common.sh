# shellcheck shell=bash
# The parts of the vgshell hook that read the same in bash and zsh; sourced by vg.bash and vg.zsh, which
# define the dialect-specific rest (__vg_connect, __vg_exchange, __vg_unhook, the key binding or widget).

__vg_read_state() {
  local key value
  __vg_pid="" __vg_port="" __vg_ctok="" __vg_stok=""
  [[ -r $__vg_state/analyzer.env ]] || return 1
  while IFS='=' read -r key value; do
    case $key in
      port) __vg_port=$value ;;
      client) __vg_ctok=$value ;;
      server) __vg_stok=$value ;;
      pid) __vg_pid=$value ;;
    esac
  done <"$__vg_state/analyzer.env"
  [[ -n $__vg_port && -n $__vg_ctok && -n $__vg_stok ]]
}

__vg_start() {
  (command "$VG_BIN" analyzer start >/dev/null 2>&1 &)
}

# Returns 1 when the analyzer cannot answer; one that hangs (status 2) is left alone for 30 s, so a
# stopped analyzer costs one timeout, not one per line.
__vg_query() {
  local st
  ((SECONDS < ${__vg_skip_until:-0})) && return 1
  __vg_exchange "$1"
  st=$?
  ((st == 0)) && { __vg_warned=""; return 0; }
  if ((st == 2)); then
    __vg_skip_until=$((SECONDS + 30))
    __vg_disconnect
    return 1
  fi
  if [[ -n $__vg_starting ]]; then  # started with this shell: give it a moment before the first line
    local i
    for ((i = 0; i < 60; i++)); do
      __vg_connect && break
      command sleep 0.05
    done
    __vg_starting=""
  fi
  __vg_connect && __vg_exchange "$1" && { __vg_warned=""; return 0; }  # a restarted analyzer
  __vg_disconnect
  return 1
}

# The analyzer did not answer: say so once, restart it, and judge this line with the slower `vg check`.
__vg_fallback() {
  local line=$1 said st
  if [[ -z $__vg_warned ]]; then
    printf 'vgshell: the analyzer is not answering; restarting it (lines are checked the slow way meanwhile)\n' >&2
    __vg_warned=1
  fi
  __vg_start
  __vg_a_id=0 __vg_a_code=126 __vg_a_nprep=0 __vg_a_nargs=0 __vg_a_notice=""
  __vg_a_fields=()
  if ! command -v "$VG_BIN" >/dev/null 2>&1; then
    printf 'vgshell: %s cannot be found; the hook is off in this shell\n' "$VG_BIN" >&2
    __vg_give_up "$line"
    return
  fi
  said=$(printf '%s' "$line" | __vg_vg --quiet check --stdin 2>/dev/null)
  st=$?
  case $st in
    0) __vg_a_action=host ;;
    10 | 20) __vg_a_action="exec" ;;
    30) __vg_a_action=block __vg_a_notice="🛑 Blocked: ${said#*: }" ;;
    *)
      if command "$VG_BIN" --version >/dev/null 2>&1; then  # vg works: only this line could not be judged
        __vg_a_action=block __vg_a_notice="🛑 Blocked: vg check could not judge this line (status $st)"
      else
        printf 'vgshell: %s does not run (status %s); the hook is off in this shell\n' "$VG_BIN" "$st" >&2
        __vg_give_up "$line"
      fi
      ;;
  esac
}

# No working vg at all: a plain shell from now on, but the most destructive lines are still refused.
__vg_give_up() {
  local squeezed=${1//[[:space:]]/ }
  # shellcheck disable=SC2016 # a literal $HOME in the pattern
  local rm_root='(^|[;&|( ])rm +(-[a-zA-Z]*[rRf][a-zA-Z]* +)+(/|~|/\*|\$HOME)( |$|[;&|)])'
  local disk='(^|[;&| ])(mkfs[.a-z0-9]*|dd .*of=/dev/[sh]d)'
  __vg_unhook
  __vg_off=gone
  __vg_a_action=host
  if [[ $squeezed =~ $rm_root || $squeezed =~ $disk || $squeezed == *':(){'*':|:'* ]]; then
    __vg_a_action=block __vg_a_code=126 __vg_a_notice="🛑 Blocked: critical (the hook's last-resort check)"
  fi
}

# `vg` as this shell sees it when the analyzer cannot answer: with this shell's `vg mode` and `vg off`,
# so `vg check` and `vg exec` judge from the same view the analyzer would have.
__vg_vg() {
  if [[ -n $__vg_off ]]; then
    VG_GUARD_LEVEL=off VG_MODE=never command "$VG_BIN" "$@"
  elif [[ -n $__vg_mode ]]; then
    VG_MODE=$__vg_mode command "$VG_BIN" "$@"
  else
    command "$VG_BIN" "$@"
  fi
}

# The value of the answer's field NAME= (among the prepared fields) in __vg_v; 1 when there is none.
__vg_field() {
  local f
  __vg_v=""
  for f in "${__vg_a_fields[@]:0:__vg_a_nprep}"; do
    [[ $f == "$1="* ]] && { __vg_v=${f#"$1="}; return 0; }
  done
  return 1
}

# A docker or podman line: `vg exec` runs the sandbox the analyzer decided on (the token names it; nothing
# is judged again), then the analyzer records it. Without an analyzer's answer (the slow path) `vg exec`
# judges the line itself, from this shell's view.
__vg_run_decided() {
  local st t0
  if ! __vg_field decision; then
    __vg_vg --quiet exec "$__vg_line"
    return
  fi
  __vg_clock
  t0=$__vg_t
  command "$VG_BIN" --quiet exec --decision "$__vg_v"
  st=$?
  __vg_clock
  __vg_done "$st" $((__vg_t - t0)) "${1-}"
  return "$st"
}

# After a yes (y or r, $2) at the prompt, the line runs where the prompt said ($1): on the host in this
# shell (as if typed), in the prepared bubblewrap sandbox, or through `vg exec --decision`.
__vg_run_approved() {
  local st
  case $1 in
    host)
      builtin eval -- "$__vg_line"
      st=$?
      __vg_done "$st" 0 "$2"
      return "$st"
      ;;
    sandbox) __vg_run_prepared "$2" ;;
    exec) __vg_run_decided "$2" ;;
    *)
      printf '🛑 Blocked: the analyzer gave an answer this hook does not know (then=%s)\n' "$1" >&2
      return 126
      ;;
  esac
}

# The prompt's answer: y, r, or n (anything else), timeout or eof; $1 is read's status, $2 the text.
__vg_answer_word() {
  case $2 in
    [yY] | [yY][eE][sS]) __vg_v=y ;;
    [rR] | [rR][eE][mM][eE][mM][bB][eE][rR]) __vg_v=r ;;
    *) __vg_v=n ;;
  esac
  if (($1 != 0)); then
    __vg_v=eof
    ((${3:-0})) && __vg_v=timeout
  fi
}

vg() {
  case ${1-} in
    off)
      __vg_off=1
      printf 'vgshell: off in this shell (critical commands stay blocked); "vg on" turns it back on\n' >&2
      ;;
    on)
      if [[ $__vg_off == gone ]]; then
        printf 'vgshell: the hook is off because vg does not work; open a new shell once it does\n' >&2
        return 1
      fi
      __vg_off=""
      printf 'vgshell: on in this shell\n' >&2
      ;;
    mode)
      case ${2-} in
        auto | always | risky | never) __vg_mode=$2 ;;
        "") __vg_mode="" ;;
        *)
          printf 'vgshell: mode must be one of auto, always, risky, never (got %s)\n' "$2" >&2
          return 2
          ;;
      esac
      ;;
    status)
      local state=stopped guard=on
      [[ -n $__vg_off ]] && guard=off
      [[ $__vg_off == gone ]] && guard="off (vg does not work; nothing is judged)"
      __vg_read_state && kill -0 "$__vg_pid" 2>/dev/null && state="running (pid $__vg_pid)"
      printf 'vgshell: %s in this shell, mode %s, analyzer %s, session %s\n' "$guard" "${__vg_mode:-from config}" \
        "$state" "$VG_SESSION" >&2
      command "$VG_BIN" status >&2  # the config in effect: managed policy, project trust, critical rules off
      ;;
    *) command "$VG_BIN" "$@" ;;
  esac
}
