#!/usr/bin/env bash
# Test prerequisites of LmForge.Data.Tests: real web pages for the end-to-end pipeline test (the Debian Reference
# in eight languages, HTML under /usr/share/debian-reference/). Idempotent: does nothing when already installed.
set -euo pipefail
packages=(debian-reference-en debian-reference-fr debian-reference-de debian-reference-ja
          debian-reference-es debian-reference-it debian-reference-pt debian-reference-zh-cn)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
export DEBIAN_FRONTEND=noninteractive
if ! apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "${missing[@]}"; then
  apt-get -o DPkg::Lock::Timeout=600 update
  apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "${missing[@]}"
fi
