# shellcheck shell=bash source-path=SCRIPTDIR
# vgshell for bash (SPEC §10): every accepted line is judged, as a whole, before any part of it runs.
#   ~/.bashrc:  eval "$(vg init bash)"     or     source /path/to/vgshell/hooks/vg.bash
# Enter runs __vg_judge (bind -x) and then accept-line. The judgement comes from the long-lived analyzer
# (`vg analyzer`) over one loopback connection kept open by this shell, so no process is forked per line.
#   host       the line runs unchanged, as bash runs it (history, $?, aliases, jobs, cd, export);
#   sandbox    history keeps the line, bubblewrap runs it on this terminal (docker/podman: vg exec);
#   block      nothing runs, the notice, $? = 126, the line is in history for editing;
#   ask        y / r / n at the terminal;  incomplete: a newline is inserted and editing goes on.
# VG_DISABLE=1 keeps the hook out; `vg off` / `vg on` / `vg mode M` / `vg status` act on this shell only.

[[ $- == *i* ]] || return 0
[[ -z ${VG_DISABLE-} ]] || return 0
[[ -z ${__vg_loaded-} ]] || return 0
if ((BASH_VERSINFO[0] < 4 || (BASH_VERSINFO[0] == 4 && BASH_VERSINFO[1] < 4))); then
  printf 'vgshell: the hook needs bash 4.4 or newer; this shell is not guarded\n' >&2
  return 0
fi
__vg_loaded=1
VG_BIN=${VG_BIN:-vg}
VG_SESSION="bash-$$-${EPOCHSECONDS:-0}"
export VG_SESSION
__vg_state=${VG_HOME:-$HOME/.vectra-guard}
__vg_fd=""
__vg_ctok=""
__vg_stok=""
__vg_pid=""
__vg_off=""
__vg_mode=""
__vg_warned=""
__vg_line=""
__vg_ps0=""
__vg_expanded=""
__vg_a_action=""
__vg_a_id=0
__vg_a_code=0
__vg_a_nprep=0
__vg_a_nargs=0
__vg_a_notice=""
__vg_a_fields=()
__vg_v=""
__vg_t=0
# shellcheck source=vg.common.sh
if ! source "${BASH_SOURCE[0]%/*}/vg.common.sh"; then
  printf 'vgshell: %s is missing; this shell is not guarded\n' "${BASH_SOURCE[0]%/*}/vg.common.sh" >&2
  return 0
fi

__vg_disconnect() {
  [[ -n $__vg_fd ]] && exec {__vg_fd}>&-
  __vg_fd=""
}

__vg_connect() {
  __vg_disconnect
  __vg_read_state || return 1
  exec {__vg_fd}<>"/dev/tcp/127.0.0.1/$__vg_port" || { __vg_fd=""; return 1; }
} 2>/dev/null

# Write to the analyzer. A dead analyzer must not kill this shell with SIGPIPE: ignore it while writing
# only (an ignored SIGPIPE would be inherited by every command the user runs), then put back the user's.
__vg_send() {
  local st msg
  # shellcheck disable=SC2059
  printf -v msg "$@"
  trap '' PIPE
  printf '%s' "$msg" 1>&"$__vg_fd" 2>/dev/null
  st=$?
  if [[ -n $__vg_pipe_trap ]]; then eval "$__vg_pipe_trap"; else trap - PIPE; fi
  return "$st"
}

# One request, one answer; sets __vg_a_*. Lengths are bytes, hence LC_ALL=C. The answer must carry this
# request's nonce (anything else queued on the connection is stale or forged); the analyzer reads the
# working directory from /proc by our pid, $PWD is only a fallback. Returns 2 when it did not answer in time.
__vg_exchange() {
  local LC_ALL=C line=$1 cwd=$PWD flags=shell=bash tok nonce=$((++__vg_n))x$RANDOM
  [[ -t 0 && -t 2 ]] && flags+=,tty
  [[ -n $__vg_off ]] && flags+=,off
  [[ -n $__vg_mode ]] && flags+=,mode=$__vg_mode
  flags+=,pid=$$,n=$nonce
  [[ -n $__vg_fd ]] || __vg_connect || return 1
  while read -r -t 0 -u "$__vg_fd" 2>/dev/null; do read -r -t 0.01 -u "$__vg_fd" _ 2>/dev/null || break; done
  __vg_send 'VG1 %s %s %s %d %d\n%s%s' "$__vg_ctok" "$VG_SESSION" "$flags" "${#cwd}" "${#line}" "$cwd" "$line" ||
    return 1
  IFS=' ' read -r -t "${VG_HOOK_TIMEOUT:-5}" -u "$__vg_fd" tok __vg_a_action __vg_a_id __vg_a_code \
    __vg_a_nprep __vg_a_nargs __vg_a_notice 2>/dev/null
  case $? in 0) ;; 1) return 1 ;; *) return 2 ;; esac
  [[ $tok == "$__vg_stok:$nonce" ]] || return 1
  __vg_a_fields=()
  if ((__vg_a_nprep + __vg_a_nargs > 0)); then
    mapfile -d '' -n $((__vg_a_nprep + __vg_a_nargs)) -u "$__vg_fd" __vg_a_fields
  fi
  [[ $__vg_a_notice == - ]] && __vg_a_notice=""
  [[ $__vg_a_action != error ]]
}

# Enter: judge the buffer, then let the macro's second key accept it (or only redraw, when incomplete).
# That key does nothing between lines: the macro's third key (__vg_rearm) disarms it, and readline keeps a
# macro's unread keys across accept-line, so it runs first thing at the next prompt (and in `read -e`),
# before anything typed — whatever the lines in between did to PROMPT_COMMAND, PS1 or traps.
# History expansion (`!!`, `^a^b`) is done here and shown for editing, whatever histverify says; the next
# Enter judges what would really run.
__vg_judge() {
  local line=$READLINE_LINE
  __vg_ps0=""
  if [[ $- == *H* ]] && __vg_expand_history "$line"; then
    READLINE_LINE=$__vg_expanded
    READLINE_POINT=${#READLINE_LINE}
    return 0
  fi
  if [[ -z ${line//[[:space:]]/} ]] || { [[ -z ${BASH_ALIASES[vg]-} ]] &&
    [[ $line =~ ^[[:space:]]*vg[[:space:]]+(on|off|status|mode([[:space:]]+[a-z]*)?)[[:space:]]*$ ]]; }; then
    bind '"\C-x\C-v9": accept-line'
    return 0
  fi
  __vg_query "$line" || __vg_fallback "$line"
  [[ $__vg_a_action == incomplete ]] || bind '"\C-x\C-v9": accept-line'
  case $__vg_a_action in
    host)
      [[ -n $__vg_a_notice ]] && __vg_ps0="$__vg_a_notice"$'\n'
      ;;
    incomplete)
      READLINE_LINE+=$'\n'
      READLINE_POINT=${#READLINE_LINE}
      ;;
    *)
      builtin history -s -- "$line"
      __vg_line=$line
      case $__vg_a_action in
        sandbox | exec) READLINE_LINE=__vg_sandbox ;;
        ask) READLINE_LINE=__vg_approve ;;
        block) READLINE_LINE=__vg_refuse ;;
        *)
          __vg_a_code=126 __vg_a_notice="🛑 Blocked: the analyzer gave an answer this hook does not know ($__vg_a_action)"
          READLINE_LINE=__vg_refuse
          ;;
      esac
      READLINE_POINT=${#READLINE_LINE}
      ;;
  esac
}

# The line's history expansion, when it has one: bash expands what readline returns before running it, so
# the judge must see the same text (`history -p` is the very same expansion, histchars included).
__vg_expand_history() {
  local hc=${histchars-'!^'} out
  [[ -n $hc && ($1 == *"${hc:0:1}"* || $1 == "${hc:1:1}"*) ]] || return 1
  out=$(builtin history -p -- "$1" && printf .) || return 1  # no such event: bash refuses it too
  __vg_expanded=${out%$'\n.'}
  [[ $__vg_expanded != "$1" ]]
}

__vg_rearm() {
  local st=$?  # the next line's $? must stay the last line's status
  bind -m emacs '"\C-x\C-v9": redraw-current-line'
  bind -m vi-insert '"\C-x\C-v9": redraw-current-line'
  bind -m vi-command '"\C-x\C-v9": redraw-current-line'
  return "$st"
}

# Rewrite the row(s) where readline echoed the hook's command ($1) after the prompt's last line with the
# prompt and the line as typed, so the screen and scrollback show what the user typed. Only lines bash does
# not run itself come here; a host line costs nothing.
__vg_show() {
  [[ -t 2 && -n $__vg_line ]] || return 0
  local p=${PS1@P} w a
  p=${p##*$'\n'}
  w=$p
  while [[ $w == *$'\001'*$'\002'* ]]; do # \[ … \] in PS1: what takes no room on the screen
    a=${w%%$'\001'*}
    w=${w#*$'\001'}
    w=$a${w#*$'\002'}
  done
  p=${p//[$'\001'$'\002']/}
  printf '\e[%dA\r\e[J%s%s\n' $(((${#w} + ${#1} - 1) / ${COLUMNS:-80} + 1)) "$p" \
    "${__vg_line//[$'\001'-$'\010'$'\013'-$'\037'$'\177']/?}" >&2
}

__vg_refuse() {
  __vg_show __vg_refuse
  [[ -n $__vg_a_notice ]] && printf '%s\n' "$__vg_a_notice" >&2
  return "${__vg_a_code:-126}"
}

__vg_sandbox() {
  __vg_show __vg_sandbox
  [[ -n $__vg_a_notice ]] && printf '%s\n' "$__vg_a_notice" >&2
  if [[ $__vg_a_action == sandbox ]]; then
    __vg_run_prepared
  else
    __vg_run_decided
  fi
}

__vg_clock() {
  __vg_t=$((${EPOCHREALTIME/[.,]/} / 1000))
}

# Tell the analyzer a prepared run or a prompt is over: status, milliseconds, the prompt's answer ($3).
# It records it, removes the cgroup, stops the egress proxy and says what the proxy refused.
__vg_done() {
  local tok note
  ((__vg_a_id > 0)) && [[ -n $__vg_fd ]] || return 0
  __vg_send 'DONE %s %s %s %s%s\n' "$__vg_ctok" "$__vg_a_id" "$1" "$2" "${3:+ $3}" || return 0
  IFS=' ' read -r -t 2 -u "$__vg_fd" tok note 2>/dev/null || return 0
  [[ $tok == "$__vg_stok" && -n $note && $note != - ]] && printf '%s\n' "$note" >&2
  return 0
}

# bubblewrap's argv prepared by the analyzer, run on this terminal: cgroup or rlimits first, the seccomp
# filter that refuses TIOCSTI on fd 9; then tell the analyzer the outcome ($1: the prompt's answer, if any).
__vg_run_prepared() {
  local -a prep=("${__vg_a_fields[@]:0:__vg_a_nprep}") argv=("${__vg_a_fields[@]:__vg_a_nprep}")
  local p filter=/dev/null status t0=${EPOCHREALTIME/[.,]/} t1
  for p in "${prep[@]}"; do [[ $p == filter=* ]] && filter=${p#filter=}; done
  (
    trap '' TSTP # Ctrl-Z is refused in a sandboxed line: the job would outlive the run the analyzer tracks
    for p in "${prep[@]}"; do
      case $p in
        cg=*) printf '%s' "$BASHPID" >"${p#cg=}" || exit 126 ;;
        as=*) ulimit -v "${p#as=}" ;;
        nproc=*) ulimit -u "${p#nproc=}" ;;
      esac
    done
    exec "${argv[@]}" 9<"$filter"
  )
  status=$?
  t1=${EPOCHREALTIME/[.,]/}
  __vg_done "$status" $(((t1 - t0) / 1000)) "${1-}"
  ((status == 124)) && printf 'vg: the sandboxed command timed out and was killed\n' >&2
  return "$status"
}

# The prompt: says where the line will run; y and r run it there. Every answer goes to the analyzer.
__vg_approve() {
  local answer target="" to=0 field reply tok st
  __vg_show __vg_approve
  __vg_field 'then' && target=$__vg_v
  __vg_field timeout && to=$__vg_v
  [[ -n $__vg_a_notice ]] && printf '%s\n' "$__vg_a_notice" >&2
  for field in "${__vg_a_fields[@]:0:__vg_a_nprep}"; do
    [[ $field == '  '* ]] && printf '%s\n' "$field" >&2
  done
  printf '  y  yes, run once / r  yes, and remember / n  no (default) > ' >&2
  if ((to > 0)); then read -r -t "$to" answer; else read -r answer; fi
  st=$?
  __vg_answer_word "$st" "$answer" $((st > 128))
  answer=$__vg_v
  case $answer in
    timeout) printf '\n  (no answer within %ss)\n' "$to" >&2 ;;
    eof) printf '\n' >&2 ;;
  esac
  case $answer in
    y) ;;
    r)
      local LC_ALL=C
      __vg_send 'TRUST %s %d\n%s' "$__vg_ctok" "${#__vg_line}" "$__vg_line" &&
        IFS=' ' read -r -t 5 -u "$__vg_fd" tok reply 2>/dev/null
      [[ $tok == "$__vg_stok" && $reply == ok ]] || printf 'vg: could not remember the approval\n' >&2
      ;;
    *)
      printf 'vg: not run\n' >&2
      __vg_done -1 0 "$answer"
      return 126
      ;;
  esac
  __vg_run_approved "$target" "$answer"
}

__vg_unhook() {
  local map
  for map in emacs vi-insert vi-command; do
    bind -m "$map" '"\C-m": accept-line'
    bind -m "$map" '"\C-j": accept-line'
  done
}

# Every key that would accept a line goes through the judge: Enter, Ctrl-J, operate-and-get-next (Ctrl-O)
# and any other key an inputrc bound to them (asked of readline with `bind -q`, one subshell at start-up).
# edit-and-execute-command (Ctrl-X Ctrl-E, vi `v`) would run the edited text unjudged, so it is unbound;
# insert-comment (M-#, vi `#`) with an argument would uncomment and accept, so it only comments, then Enter.
__vg_hook() {
  local map enter='"\C-x\C-v1\C-x\C-v9\C-x\C-v0"' fn keys key
  for map in emacs vi-insert vi-command; do
    bind -m "$map" -x '"\C-x\C-v1": __vg_judge'
    bind -m "$map" -x '"\C-x\C-v0": __vg_rearm'
    bind -m "$map" '"\C-x\C-v9": redraw-current-line'
    bind -m "$map" '"\C-x\C-v2": beginning-of-line'
    bind -m "$map" "\"\\C-m\": $enter"
    bind -m "$map" "\"\\C-j\": $enter"
  done
  bind -m emacs "\"\\C-o\": $enter"
  bind -m emacs -r '\C-x\C-e'
  bind -m vi-command -r 'v'
  bind -m emacs "\"\\e#\": \"\\C-x\\C-v2#${enter:1}"
  bind -m vi-command "\"#\": \"\\C-x\\C-v2i#${enter:1}"
  while read -r map fn keys; do
    [[ $keys == *'invoked via '* ]] || continue
    keys=${keys#*invoked via }
    keys=${keys%.}
    while [[ $keys =~ ^\"(([^\"\\]|\\.)*)\"(,\ )?(.*)$ ]]; do
      key=${BASH_REMATCH[1]} keys=${BASH_REMATCH[4]}
      case $fn in
        accept-line | operate-and-get-next) bind -m "$map" "\"$key\": $enter" ;;
        insert-comment) bind -m "$map" "\"$key\": \"\\C-x\\C-v2#${enter:1}" ;;
        *) bind -m "$map" -r "$key" ;;
      esac
    done
  done <<<"$(for map in emacs vi-insert vi-command; do
    for fn in accept-line operate-and-get-next edit-and-execute-command vi-edit-and-execute-command insert-comment; do
      printf '%s %s ' "$map" "$fn"
      bind -m "$map" -q "$fn"
    done
  done 2>/dev/null)"
}

__vg_pipe_trap=$(trap -p PIPE)
__vg_n=0
shopt -s histverify
HISTIGNORE="${HISTIGNORE:+$HISTIGNORE:}__vg_refuse:__vg_sandbox:__vg_approve"
PS0="${PS0-}\${__vg_ps0}"
__vg_hook
__vg_starting=""
if ! { __vg_read_state && kill -0 "$__vg_pid"; } 2>/dev/null; then
  __vg_starting=1
  __vg_start
fi
