#!/usr/bin/env bash
# Runs the whole test suite from a clean clone: installs and starts the real sandbox engines the tests drive
# (scripts/setup-test-host.sh), a .venv with the test extras, then ruff, mypy and pytest.
# Extra arguments go to pytest (e.g. ./test.sh -k corpus).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

echo "== setting up the test host (bubblewrap, docker, podman, images)"
scripts/setup-test-host.sh

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
.venv/bin/python -m compileall -q vgshell

echo "== ruff"
.venv/bin/ruff check vgshell tests bench
echo "== mypy"
.venv/bin/mypy vgshell
echo "== pytest"
# pytest exits 5 when no test ran: that fails this script too.
.venv/bin/python -m pytest -q "$@"
