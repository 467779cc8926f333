"""`vg completion bash|zsh`: a completion script generated from the argparse tree, so it never drifts.

The script holds a table "path of subcommands → words" (subcommands, options, fixed choices such as the
presets); completing is then a lookup in the shell, with no Python started per <Tab>.
"""

from __future__ import annotations

import argparse

from vgshell.config import preset_names


def table(parser: argparse.ArgumentParser, path: str = "") -> dict[str, list[str]]:
    """"" → words after `vg`; "config" → words after `vg config`; "init --preset" → the values of that option."""
    words: list[str] = []
    out: dict[str, list[str]] = {path: words}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                words.append(name)
                out.update(table(child, f"{path} {name}".strip()))
        elif action.option_strings:
            if action.help is argparse.SUPPRESS:
                continue
            words += [s for s in action.option_strings if s.startswith("--")]
            values = list(action.choices or ())
            if not values and action.dest == "preset":
                values = list(preset_names())
            for s in action.option_strings:
                if values:
                    out[f"{path} {s}".strip()] = [str(v) for v in values]
        elif action.choices:
            words += [str(c) for c in action.choices]
    return out


def script(parser: argparse.ArgumentParser, shell: str) -> str:
    rows = table(parser)
    if shell == "bash":
        body = "\n".join(f"    {_bash_key(k)}) words={_quote(' '.join(v))} ;;" for k, v in rows.items())
        return BASH.replace("@CASES@", body)
    body = "\n".join(f"    {_bash_key(k)}) __vg_w=({' '.join(_quote(w) for w in v)}) ;;" for k, v in rows.items())
    return ZSH.replace("@CASES@", body)


def _bash_key(key: str) -> str:
    return _quote(key) if key else "''"


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


# The words typed so far are reduced to a path: the subcommand names while the table knows the longer path,
# then the last option when it takes a value; everything else (the command checked, option values) is skipped.
BASH = r"""# vg completion for bash: eval "$(vg completion bash)"
__vg_complete_words() {
  local words=""
  case $1 in
@CASES@
    *) return 1 ;;
  esac
  printf '%s' "$words"
}
_vg_complete() {
  local cur=${COMP_WORDS[COMP_CWORD]} vgpath="" i w words prev
  for ((i = 1; i < COMP_CWORD; i++)); do
    w=${COMP_WORDS[i]}
    [[ $w == -* ]] && continue
    __vg_complete_words "${vgpath:+$vgpath }$w" >/dev/null && vgpath=${vgpath:+$vgpath }$w
  done
  prev=${COMP_WORDS[COMP_CWORD-1]}
  if [[ $prev == --* ]] && words=$(__vg_complete_words "${vgpath:+$vgpath }$prev"); then
    :
  else
    words=$(__vg_complete_words "$vgpath") || return 0
  fi
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -o default -F _vg_complete vg
"""

ZSH = r"""# vg completion for zsh: eval "$(vg completion zsh)" (after compinit)
__vg_complete_words() {
  local -a __vg_w
  case $1 in
@CASES@
    *) return 1 ;;
  esac
  print -r -- "${__vg_w[@]}"
}
_vg() {
  local vgpath="" w prev known i
  local -a cands
  for ((i = 2; i < CURRENT; i++)); do
    w=${words[i]}
    [[ $w == -* ]] && continue
    __vg_complete_words "${vgpath:+$vgpath }$w" >/dev/null && vgpath=${vgpath:+$vgpath }$w
  done
  prev=${words[CURRENT-1]}
  if [[ $prev == --* ]] && known=$(__vg_complete_words "${vgpath:+$vgpath }$prev"); then
    :
  else
    known=$(__vg_complete_words "$vgpath") || return 1
  fi
  cands=(${=known})
  compadd -a cands
}
compdef _vg vg
"""
