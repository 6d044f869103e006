#!/usr/bin/env bash
# The web chat page test (tests/oracles/web-chat.mjs) drives a real Chromium through playwright-core,
# which cannot download its own browser here, so it uses Debian's chromium at /usr/bin/chromium.
# Idempotent: does nothing when /usr/bin/chromium is already there.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
if ! apt-get -o DPkg::Lock::Timeout=600 install -y chromium; then
  apt-get -o DPkg::Lock::Timeout=600 update
  apt-get -o DPkg::Lock::Timeout=600 install -y chromium
fi
