#!/usr/bin/env bash
# Builds the sandbox images the test suite uses, offline (no registry is reachable on the project's
# machines): a ~2 MB busybox image and a Debian image with Python, pip, Node and npm. Each is imported into
# Docker and Podman under the vgshell-test/ names. Tarballs are cached in $VG_IMAGE_CACHE between runs.
set -euo pipefail
cache="${VG_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vgshell-test-images}"
mkdir -p "$cache"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

busybox_tar() {
  local root="$work/busybox"
  mkdir -p "$root/bin" "$root/tmp" "$root/etc" "$root/root" "$root/proc" "$root/sys" "$root/dev"
  (cd "$work" && apt-get download -q busybox-static >/dev/null 2>&1)
  dpkg -x "$work"/busybox-static_*.deb "$work/bb"
  cp "$work/bb/bin/busybox" "$root/bin/busybox"
  for applet in $("$root/bin/busybox" --list); do
    [ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
  tar -C "$root" -c . >"$cache/busybox.tar"
}

debian_tar() {
  local root="$work/debian"
  debootstrap --variant=minbase --include=python3,python3-pip,python3-venv,ca-certificates,bash \
    bookworm "$root" >"$work/debootstrap.log" 2>&1 || { tail -20 "$work/debootstrap.log"; return 1; }
  # Node's own npm (10.x: the newest that supports bookworm's Node 18) is fast behind the TLS-inspecting proxy; Debian's npm 9 is not (ENVIRONMENT.md).
  chroot "$root" apt-get install -y -q nodejs >/dev/null
  if command -v npm >/dev/null 2>&1; then
    npm pack --silent --pack-destination "$work" npm@10 >/dev/null 2>&1 && mkdir -p "$root/usr/lib/node_modules/npm" &&
      tar -xzf "$work"/npm-*.tgz -C "$root/usr/lib/node_modules/npm" --strip-components=1 &&
      ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/bin/npm" &&
      ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/bin/npx"
  fi
  cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
  chroot "$root" apt-get clean
  rm -rf "$root"/var/lib/apt/lists/*
  tar -C "$root" -c . >"$cache/debian.tar"
}

import_all() {
  local name="$1" tag="vgshell-test/$1:latest"
  if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
    docker image inspect "$tag" >/dev/null 2>&1 || docker import "$cache/$name.tar" "$tag" >/dev/null
  fi
  if command -v podman >/dev/null 2>&1; then
    podman image exists "$tag" 2>/dev/null || podman import -q "$cache/$name.tar" "$tag" >/dev/null
  fi
}

for name in ${VG_TEST_IMAGES:-busybox debian}; do
  [ -s "$cache/$name.tar" ] || "${name}_tar"
  import_all "$name"
done
