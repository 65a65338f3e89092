#!/usr/bin/env bash
# Installs Debian's Chromium for the explorer's browser test when it is missing and we may.
set -euo pipefail
if command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ]; then exit 0; fi
if [ "$(id -u)" != "0" ]; then
  echo "chromium is not installed and this is not root: run 'sudo apt-get install -y chromium'" >&2
  exit 1
fi
echo "installing Debian chromium for the browser test ..." >&2
apt-get update -qq >/dev/null
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
