#!/usr/bin/env bash
# The main job: raw text to a chat model that answers what it knows and says "I don't know" to what it does not
# (--base-only: just pretrain a small GPT and sample from it).
set -euo pipefail
cd "$(dirname "$0")"
exec dotnet run -c Release --project src/LmForge.Cli -- quickstart "$@"
