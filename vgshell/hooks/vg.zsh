# vgshell for zsh (SPEC §10): every accepted buffer is judged, as a whole, before any part of it runs.
#   ~/.zshrc:  eval "$(vg init zsh)"     or     source /path/to/vgshell/hooks/vg.zsh
# The accept-line widget asks the long-lived analyzer (`vg analyzer`) over one loopback connection kept
# open by this shell (zsh/net/tcp: no process is forked per line), then:
#   host       the buffer runs unchanged (history, $?, aliases, jobs, cd, export);
#   sandbox    history keeps the buffer, bubblewrap runs it on this terminal (docker/podman: vg exec);
#   block      nothing runs, the notice, $? = 126, the buffer is in history for editing;
#   ask        y / r / n at the terminal;  incomplete: a newline is inserted and editing goes on.
# VG_DISABLE=1 keeps the hook out; `vg off` / `vg on` / `vg mode M` / `vg status` act on this shell only.

[[ -o interactive ]] || return 0
[[ -z ${VG_DISABLE-} ]] || return 0
[[ -z ${__vg_loaded-} ]] || return 0
if ! zmodload zsh/net/tcp 2>/dev/null || ! zmodload zsh/datetime 2>/dev/null || ! zmodload zsh/zleparameter 2>/dev/null; then
  print -u2 'vgshell: zsh/net/tcp, zsh/datetime or zsh/zleparameter is missing; this shell is not guarded'
  return 0
fi
typeset -g __vg_loaded=1
typeset -g VG_BIN=${VG_BIN:-vg}
typeset -gx VG_SESSION="zsh-$$-${EPOCHSECONDS}"
typeset -g __vg_state=${VG_HOME:-$HOME/.vectra-guard}
typeset -g __vg_fd="" __vg_port="" __vg_ctok="" __vg_stok="" __vg_pid="" __vg_off="" __vg_mode=""
typeset -g __vg_warned="" __vg_line="" __vg_starting="" __vg_fresh="" __vg_passed="" __vg_n=0 __vg_v="" __vg_t=0
typeset -g __vg_envig=""
typeset -g __vg_a_action="" __vg_a_id=0 __vg_a_code=0 __vg_a_nprep=0 __vg_a_nargs=0 __vg_a_notice=""
typeset -ga __vg_a_fields
if ! source "${${(%):-%x}:A:h}/vg.common.sh"; then
  print -u2 "vgshell: ${${(%):-%x}:A:h}/vg.common.sh is missing; this shell is not guarded"
  return 0
fi

__vg_disconnect() {
  [[ -n $__vg_fd ]] && ztcp -c "$__vg_fd" 2>/dev/null
  __vg_fd=""
}

__vg_connect() {
  __vg_disconnect
  __vg_read_state || return 1
  ztcp 127.0.0.1 "$__vg_port" 2>/dev/null || return 1
  __vg_fd=$REPLY
}

# Write to the analyzer; a dead analyzer must not kill this shell with SIGPIPE (localtraps restores it).
__vg_send() {
  setopt localoptions localtraps
  trap '' PIPE
  print -rn -u "$__vg_fd" -- "$1" 2>/dev/null
}

# One request, one answer; sets __vg_a_*. Lengths are bytes, hence no multibyte counting.
__vg_exchange() {
  setopt localoptions nomultibyte
  local line=$1 cwd=$PWD flags=shell=zsh tok field i
  [[ -n $TTY && -t 2 ]] && flags+=,tty  # a widget's stdin is not the terminal: zsh names it in $TTY
  [[ -n $__vg_off ]] && flags+=,off
  [[ -n $__vg_mode ]] && flags+=,mode=$__vg_mode
  [[ -n $__vg_fd ]] || __vg_connect || return 1
  local nonce=$((++__vg_n))x$RANDOM junk
  flags+=,pid=$$,n=$nonce
  while read -r -t 0 -u "$__vg_fd" junk 2>/dev/null; do :; done  # nothing stale may pass for our answer
  __vg_send "VG1 $__vg_ctok $VG_SESSION $flags ${#cwd} ${#line}"$'\n'"$cwd$line" || return 1
  local t0=$EPOCHREALTIME
  if ! IFS=' ' read -r -t "${VG_HOOK_TIMEOUT:-5}" -u "$__vg_fd" tok __vg_a_action __vg_a_id __vg_a_code \
    __vg_a_nprep __vg_a_nargs __vg_a_notice 2>/dev/null; then
    (( EPOCHREALTIME - t0 >= ${VG_HOOK_TIMEOUT:-5} - 0.1 )) && return 2  # it is there but does not answer
    return 1
  fi
  [[ $tok == "$__vg_stok:$nonce" ]] || return 1
  __vg_a_fields=()
  for ((i = 0; i < __vg_a_nprep + __vg_a_nargs; i++)); do
    IFS= read -r -d $'\0' -u "$__vg_fd" field || return 1
    __vg_a_fields+=("$field")
  done
  [[ $__vg_a_notice == - ]] && __vg_a_notice=""
  [[ $__vg_a_action != error ]]
}

# Every widget that accepts a buffer (accept-line, accept-and-hold, accept-line-and-down-history,
# accept-and-infer-next-history, pound-insert) comes here first, named in $1, which original to call for
# a host line. History expansion (`!!`, `^a^b`) is done here and shown for editing, whatever HIST_VERIFY
# says (zsh would expand the accepted buffer after us); the next Enter judges what would really run.
__vg_accept_line() {
  local orig=$1
  if [[ $orig == pound-insert ]]; then  # it would toggle the comment and accept: toggle, then judge
    if [[ $BUFFER == '#'* ]]; then
      BUFFER=${${BUFFER#\#}//$'\n#'/$'\n'}
    else
      BUFFER="#${BUFFER//$'\n'/$'\n#'}"
    fi
    orig=accept-line
  fi
  if [[ -o banghist && -n $histchars ]] &&
    [[ $BUFFER == *"${histchars[1]}"* || $BUFFER == "${histchars[2]}"* ]]; then
    local before=$BUFFER
    zle .expand-history
    if [[ $BUFFER != "$before" ]]; then
      CURSOR=${#BUFFER}
      return
    fi
  fi
  local line=$BUFFER
  if [[ -z ${line//[[:space:]]/} ]] || { (( ! ${+aliases[vg]} )) &&
    [[ $line =~ '^[[:space:]]*vg[[:space:]]+(on|off|status|mode([[:space:]]+[a-z]*)?)[[:space:]]*$' ]]; }; then
    __vg_passed=$BUFFER
    __vg_orig "$orig"
    return
  fi
  __vg_query "$line" || __vg_fallback "$line"
  case $__vg_a_action in
    host)
      [[ -n $__vg_a_notice ]] && { zle -I; print -u2 -r -- "$__vg_a_notice"; }
      __vg_passed=$BUFFER
      __vg_orig "$orig"
      ;;
    incomplete)
      BUFFER+=$'\n'
      CURSOR=${#BUFFER}
      ;;
    *)
      __vg_line=$line
      __vg_fresh=1
      BUFFER=__vg_do
      __vg_passed=$BUFFER
      __vg_orig accept-line
      ;;
  esac
}

# Whatever accepted the buffer — a widget wrapped above, or one that cannot be wrapped (`.accept-line` named
# through execute-named-cmd, a plugin calling a builtin widget) — zle-line-finish comes last: a buffer the
# judge did not pass is wrapped in __vg_do, which judges it (history expansion done) before anything runs.
__vg_line_finish() {
  [[ $CONTEXT == start || $CONTEXT == cont ]] || return 0  # vared and select menus edit values, not lines
  [[ $__vg_off == gone ]] && return 0  # vg no longer runs: a plain shell (see __vg_give_up)
  if [[ -n $__vg_passed && $BUFFER == "$__vg_passed" ]]; then
    __vg_passed=""
    return 0
  fi
  __vg_passed=""
  [[ -n ${BUFFER//[[:space:]]/} ]] || return 0
  if [[ -o banghist && -n $histchars ]] &&
    [[ $BUFFER == *"${histchars[1]}"* || $BUFFER == "${histchars[2]}"* ]]; then
    zle .expand-history
  fi
  __vg_line=$BUFFER __vg_fresh=""
  BUFFER=__vg_do
}

# What an accepted buffer the shell must not run itself became; the line is in $__vg_line. The typed line
# goes into history here, after zsh has added `__vg_do` (which zshaddhistory keeps out of the history file and
# which zsh drops from the list when a line follows): the arrow keys and !! then recall what was typed.
# The terminal showed `__vg_do` after the prompt; __vg_show puts the typed line back in its place.
__vg_do() {
  local line=$__vg_line
  [[ -n $line ]] || return 126
  print -s -r -- "$line"
  __vg_show 7
  if [[ -z $__vg_fresh ]]; then  # not judged by the widget (zle-line-finish): judge it now
    __vg_query "$line" || __vg_fallback "$line"
  fi
  __vg_fresh="" __vg_line=""
  case $__vg_a_action in
    block) __vg_refuse ;;
    ask) __vg_line=$line __vg_approve ;;
    sandbox | exec) __vg_line=$line __vg_sandbox ;;
    host) builtin eval -- "$line" ;;
    *)
      print -u2 -r -- "🛑 Blocked: the analyzer gave an answer this hook does not know ($__vg_a_action)"
      return 126
      ;;
  esac
}

# Rewrite the row(s) where the shell echoed the hook's command ($1 characters after the prompt's last line)
# with the prompt and the line as typed, so the screen and scrollback show what the user typed. Only lines
# the shell does not run itself come here; a host line costs nothing.
__vg_show() {
  [[ -t 2 && -n $__vg_line ]] || return 0
  setopt localoptions extendedglob
  local p=${(%%)PS1} w
  p=${p##*$'\n'}
  w=${p//$'\e'\[[0-9;?]#[a-zA-Z]/}
  w=${w//$'\e'\][^$'\a']#$'\a'/}
  print -u2 -rn -- $'\e['$(( (${(m)#w} + $1 - 1) / ${COLUMNS:-80} + 1 ))$'A\r\e[J'"$p${__vg_line//[$'\1'-$'\10'$'\13'-$'\37'$'\177']/?}"$'\n'
}

__vg_refuse() {
  [[ -n $__vg_a_notice ]] && print -u2 -r -- "$__vg_a_notice"
  return ${__vg_a_code:-126}
}

__vg_sandbox() {
  [[ -n $__vg_a_notice ]] && print -u2 -r -- "$__vg_a_notice"
  if [[ $__vg_a_action == sandbox ]]; then
    __vg_run_prepared
  else
    __vg_run_decided
  fi
}

__vg_clock() {
  __vg_t=${$(( EPOCHREALTIME * 1000 ))%.*}
}

# Tell the analyzer a prepared run or a prompt is over: status, milliseconds, the prompt's answer ($3).
# It records it, removes the cgroup, stops the egress proxy and says what the proxy refused.
__vg_done() {
  local tok note
  (( __vg_a_id > 0 )) && [[ -n $__vg_fd ]] || return 0
  __vg_send "DONE $__vg_ctok $__vg_a_id $1 $2${3:+ $3}"$'\n' || return 0
  IFS=' ' read -r -t 2 -u "$__vg_fd" tok note 2>/dev/null || return 0
  [[ $tok == "$__vg_stok" && -n $note && $note != - ]] && print -u2 -r -- "$note"
  return 0
}

__vg_run_prepared() {
  local answer=${1-}
  local -a prep cmd
  prep=("${(@)__vg_a_fields[1,__vg_a_nprep]}")
  cmd=("${(@)__vg_a_fields[__vg_a_nprep+1,-1]}")
  local p filter=/dev/null st t0=$EPOCHREALTIME
  for p in "${prep[@]}"; do [[ $p == filter=* ]] && filter=${p#filter=}; done
  # Ctrl-Z is refused in a sandboxed line (the job would outlive the run the analyzer tracks). zsh puts the
  # job-control signals back to default when it executes a command, so coreutils' env ignores it instead.
  [[ -n $__vg_envig ]] || { command env --ignore-signal=TSTP true 2>/dev/null && __vg_envig=1 || __vg_envig=0; }
  (( __vg_envig )) && cmd=(env --ignore-signal=TSTP "${cmd[@]}")
  (
    for p in "${prep[@]}"; do
      case $p in
        cg=*) print -rn -- "$sysparams[pid]" >"${p#cg=}" || exit 126 ;;
        as=*) ulimit -v "${p#as=}" ;;
        nproc=*) ulimit -u "${p#nproc=}" ;;
      esac
    done
    exec "${cmd[@]}" 9<"$filter"
  )
  st=$?
  local ms=$(( (EPOCHREALTIME - t0) * 1000 ))
  __vg_done "$st" "${ms%.*}" "$answer"
  (( st == 124 )) && print -u2 'vg: the sandboxed command timed out and was killed'
  return $st
}

# The prompt: says where the line will run; y and r run it there. Every answer goes to the analyzer.
__vg_approve() {
  local answer field reply tok st target="" to=0 t0
  __vg_field 'then' && target=$__vg_v
  __vg_field timeout && to=$__vg_v
  [[ -n $__vg_a_notice ]] && print -u2 -r -- "$__vg_a_notice"
  for field in "${(@)__vg_a_fields[1,__vg_a_nprep]}"; do
    [[ $field == '  '* ]] && print -u2 -r -- "$field"
  done
  print -u2 -n '  y  yes, run once / r  yes, and remember / n  no (default) > '
  t0=$EPOCHREALTIME
  if (( to > 0 )); then read -r -t "$to" answer; else read -r answer; fi
  st=$?
  __vg_answer_word "$st" "$answer" $(( st != 0 && to > 0 && EPOCHREALTIME - t0 >= to - 0.05 ))
  answer=$__vg_v
  case $answer in
    timeout) print -u2 "\n  (no answer within ${to}s)" ;;
    eof) print -u2 ;;
  esac
  case $answer in
    y) ;;
    r)
      setopt localoptions nomultibyte
      __vg_send "TRUST $__vg_ctok ${#__vg_line}"$'\n'"$__vg_line" &&
        IFS=' ' read -r -t 5 -u "$__vg_fd" tok reply 2>/dev/null
      [[ $tok == "$__vg_stok" && $reply == ok ]] || print -u2 'vg: could not remember the approval'
      ;;
    *)
      print -u2 'vg: not run'
      __vg_done -1 0 "$answer"
      return 126
      ;;
  esac
  __vg_run_approved "$target" "$answer"
}

__vg_addhistory() {
  [[ $1 != __vg_do$'\n' && $1 != __vg_do ]]
}

# What each accepting widget was before the hook: `.NAME` for the builtin, else the function of the widget a
# plugin (zsh-autosuggestions, zsh-syntax-highlighting) put there. No widget of ours stands for it: those
# plugins wrap every widget they find, and they wrap a builtin-typed alias as `.ALIAS`, which does not exist.
typeset -gA __vg_origs
__vg_orig() {
  local fn=${__vg_origs[$1]:-.$1}
  if [[ $fn == .* ]]; then
    zle "$fn"
  else
    "$fn"
  fi
}

__vg_unhook() {
  local w
  for w in $__vg_widgets; do
    if [[ ${__vg_origs[$w]:-.} == .* ]]; then
      zle -A ".$w" "$w" 2>/dev/null
    else
      zle -N "$w" "${__vg_origs[$w]}" 2>/dev/null
    fi
  done
}

# Each accepting widget gets its own function, so the judge knows which original to call whatever name a
# plugin that wraps the hook later invokes it under ($WIDGET is then the plugin's `orig-…` name).
typeset -ga __vg_widgets=(accept-line accept-and-hold accept-line-and-down-history accept-and-infer-next-history
  pound-insert)
() {
  local w
  for w in $__vg_widgets; do
    [[ ${widgets[$w]-} == user:* ]] && __vg_origs[$w]=${widgets[$w]#user:}
    functions[__vg_w_$w]="__vg_accept_line $w"
    zle -N "$w" "__vg_w_$w"
  done
}
zle -N __vg_line_finish
if autoload -Uz add-zle-hook-widget 2>/dev/null && add-zle-hook-widget line-finish __vg_line_finish 2>/dev/null; then
  :
elif ! zle -l zle-line-finish; then
  zle -N zle-line-finish __vg_line_finish
else
  print -u2 'vgshell: zle-line-finish is taken and add-zle-hook-widget is missing; builtin widgets named by hand are not judged'
fi
setopt HIST_VERIFY
autoload -Uz add-zsh-hook 2>/dev/null
zshaddhistory_functions+=(__vg_addhistory)
if ! { __vg_read_state && kill -0 "$__vg_pid"; } 2>/dev/null; then
  __vg_starting=1
  __vg_start
fi
