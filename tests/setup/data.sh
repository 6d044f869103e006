#!/usr/bin/env bash
# Test prerequisites of LmForge.Data.Tests: real web pages for the end-to-end pipeline test (the Debian Reference
# in eight languages, HTML under /usr/share/debian-reference/). Idempotent: does nothing when already installed.
set -euo pipefail
source "$(dirname "$0")/lib/debian-packages.sh"
install_missing debian-reference-en debian-reference-fr debian-reference-de debian-reference-ja \
  debian-reference-es debian-reference-it debian-reference-pt debian-reference-zh-cn
