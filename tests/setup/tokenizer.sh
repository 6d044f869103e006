#!/usr/bin/env bash
# Tokenizer tests need Node.js + npm to run the tiktoken oracle (tests/oracles, installed by test.sh's `npm ci`).
# Idempotent: does nothing when node and npm are already there.
set -euo pipefail
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
  exit 0
fi
if ! apt-get -o DPkg::Lock::Timeout=600 install -y nodejs npm; then
  apt-get -o DPkg::Lock::Timeout=600 update
  apt-get -o DPkg::Lock::Timeout=600 install -y nodejs npm
fi
