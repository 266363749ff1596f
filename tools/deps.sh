#!/usr/bin/env bash
# tools/deps.sh -- install the Debian packages rhailib needs, idempotently.
# Installs only what is missing; uses sudo when not root. Safe to re-run.
set -euo pipefail

PKGS=(build-essential clang cmake pkg-config libhiredis-dev libuv1-dev libmujs-dev
      libsqlite3-dev libjansson-dev libcmocka-dev libmicrohttpd-dev libsystemd-dev systemd
      libsodium-dev libncurses-dev libseccomp-dev libssl-dev openssl
      postgresql libpq-dev pgbouncer
      redis-server redis-tools tmux python3
      libedit-dev
      chromium chromium-driver nodejs)

missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "deps: all ${#PKGS[@]} packages present"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
    SUDO="sudo"
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Do not let the package start a system-wide redis-server on 6379; tests
# and the quickstart start their own on a free port.
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod +x /usr/sbin/policy-rc.d
    trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
fi
$SUDO apt-get update -qq || true
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
