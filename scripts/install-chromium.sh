#!/usr/bin/env bash
# Install Debian's headless-capable Chromium for the report test (tests/report/test_browser.py).
# CI must call this before the tests; it fails loudly when the package cannot be installed.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-chromium: apt-get is not available; install Debian's 'chromium' package by hand" >&2
  # Outside CI the browser test skips itself; in CI it must run, so fail here.
  [ -n "${CI:-}" ] && exit 1
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null
command -v chromium >/dev/null || { echo "install-chromium: chromium still missing" >&2; exit 1; }
