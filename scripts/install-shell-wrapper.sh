#!/usr/bin/env bash
# Vectra Guard's name for hooking the shells: the same as ./install.sh --shell-hooks (arguments pass through).
set -euo pipefail
exec "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/install.sh" --shell-hooks "$@"
