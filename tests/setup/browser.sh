#!/usr/bin/env bash
# The web chat page test (tests/oracles/web-chat.mjs) drives a real Chromium through playwright-core,
# which cannot download its own browser here, so it uses Debian's chromium at /usr/bin/chromium.
# Idempotent: does nothing when /usr/bin/chromium is already there.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
source "$(dirname "$0")/lib/debian-packages.sh"
install_missing --with-recommends chromium
