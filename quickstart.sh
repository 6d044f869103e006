#!/usr/bin/env bash
# The main job: train a small model on a default corpus and show what it learned.
set -euo pipefail
cd "$(dirname "$0")"
exec dotnet run -c Release --project src/LmForge.Cli -- quickstart "$@"
