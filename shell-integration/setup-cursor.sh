#!/usr/bin/env bash
# The cursor terminals (default, tasks, agent) run under the guard: vg setup cursor (arguments pass through:
# --profile vgshell|bash-hook, --settings PATH, --uninstall, --dry-run). Needs vg on PATH (./install.sh).
set -euo pipefail
if ! command -v vg >/dev/null 2>&1; then
  echo "vgshell: vg is not on PATH; run ./install.sh first (it puts ~/.local/bin on PATH for new shells)" >&2
  exit 127
fi
exec vg setup cursor "$@"
