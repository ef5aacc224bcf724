#!/usr/bin/env bash
# Installs what the dashboard's browser test needs: Debian's headless Chromium and its
# WebDriver (chromedriver). Idempotent: does nothing when both are already there.
set -euo pipefail

if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-browser-deps: no apt-get here; install chromium and chromedriver yourself" >&2
    exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends chromium chromium-driver fonts-dejavu-core >/dev/null
command -v chromium >/dev/null && command -v chromedriver >/dev/null
echo "install-browser-deps: $(chromium --version 2>/dev/null), $(chromedriver --version 2>/dev/null | head -1)"
