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
  said=$(printf '%s' "$line" | command "$VG_BIN" --quiet check --stdin 2>/dev/null)
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

# After a yes at the prompt: on the host in this shell (as if typed), in the prepared bubblewrap sandbox,
# or through `vg exec` with the approval already given.
__vg_run_approved() {
  case $1 in
    host) builtin eval -- "$__vg_line" ;;
    sandbox) __vg_run_prepared ;;
    *) VG_GUARD_LEVEL=off command "$VG_BIN" --quiet exec "$__vg_line" ;;
  esac
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
      ;;
    *) command "$VG_BIN" "$@" ;;
  esac
}
