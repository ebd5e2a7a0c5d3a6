#!/usr/bin/env bash
# Install what the browser tests (tests/test_browser.py) need: Chromium from Debian and Playwright from PyPI.
# Playwright's own browser download is not used: the tests launch /usr/bin/chromium (or $CHROMIUM_PATH).
# Safe to run again: each step is skipped when its part is already there.
set -euo pipefail
PYTHON=${PYTHON:-python3}

if [ ! -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ]; then
  if ! command -v apt-get >/dev/null; then
    echo "Please install Chromium (the tests look for ${CHROMIUM_PATH:-/usr/bin/chromium}, or set CHROMIUM_PATH)." >&2; exit 1
  fi
  SUDO=""; if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi

if ! "$PYTHON" -c "import playwright.sync_api" 2>/dev/null; then
  "$PYTHON" -m pip install --disable-pip-version-check -q playwright
fi
echo "browser tests ready: $("${CHROMIUM_PATH:-/usr/bin/chromium}" --version 2>/dev/null || echo chromium), playwright $("$PYTHON" -c 'from importlib.metadata import version; print(version("playwright"))')"
