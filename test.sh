#!/usr/bin/env bash
# The test command: sets up what the tests need (Debian packages, the node oracle packages), builds, runs every test,
# then re-runs the compute tests with AVX2 switched off so the scalar fallback is proven too.
set -euo pipefail
cd "$(dirname "$0")"

# Each area installs what its tests need (Debian packages, services) from its own idempotent script.
for setup in tests/setup/*.sh; do
  [ -e "$setup" ] && bash "$setup"
done

if [ -f tests/oracles/package.json ]; then
  (cd tests/oracles && npm ci --no-audit --no-fund --loglevel=error)
fi

dotnet build LmForge.slnx -c Release
dotnet test LmForge.slnx -c Release --no-build
DOTNET_EnableAVX2=0 dotnet test tests/LmForge.Tensors.Tests -c Release --no-build
DOTNET_EnableAVX2=0 dotnet test tests/LmForge.Models.Tests -c Release --no-build
