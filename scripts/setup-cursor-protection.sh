#!/usr/bin/env bash
# Vectra Guard's name for guarding Cursor: the same as vg setup cursor (arguments pass through).
set -euo pipefail
exec "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/shell-integration/setup-cursor.sh" "$@"
