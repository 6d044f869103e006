#!/usr/bin/env bash
# Tokenizer tests need Node.js + npm to run the tiktoken oracle (tests/oracles, installed by test.sh's `npm ci`).
# Idempotent: does nothing when node and npm are already there.
set -euo pipefail
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
  exit 0
fi
source "$(dirname "$0")/lib/debian-packages.sh"
install_missing --with-recommends nodejs npm
