#!/usr/bin/env bash
# Installs and starts what the test suite drives for real: bubblewrap, a Docker engine, Podman (with runc
# and catatonit), zsh, socat, debootstrap; then builds the offline test images. Idempotent; needs root for
# the packages and the Docker daemon (as on CI), and says so otherwise.
set -euo pipefail

need=()
for pair in bwrap:bubblewrap dockerd:docker.io podman:podman runc:runc catatonit:catatonit zsh:zsh \
            socat:socat debootstrap:debootstrap tmux:tmux shellcheck:shellcheck; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || need+=("${pair#*:}")
done
# Shell add-ons the hook must coexist with (tests/test_hooks.py sources them).
for pair in /usr/share/zsh-autosuggestions:zsh-autosuggestions \
            /usr/share/zsh-syntax-highlighting:zsh-syntax-highlighting \
            /usr/share/bash-completion/bash_completion:bash-completion; do
  [ -e "${pair%%:*}" ] || need+=("${pair#*:}")
done
if [ "${#need[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "setup: missing ${need[*]}; install them (as root: apt-get install ${need[*]})" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: the Docker engine is not answering; start it (sudo systemctl start docker)" >&2
    exit 1
  fi
  setsid dockerd >/tmp/vgshell-dockerd.log 2>&1 < /dev/null &
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
  docker info >/dev/null 2>&1 || { tail -20 /tmp/vgshell-dockerd.log >&2; exit 1; }
fi

"$(dirname "${BASH_SOURCE[0]}")/../tests/images/build.sh"
