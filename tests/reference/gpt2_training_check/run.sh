#!/usr/bin/env bash
# GPT-2 at full width end to end against PyTorch: PyTorch initializes GPT-2 (12 layers, 768 wide, vocabulary 50257
# padded to 50304 by default), exports it as a Hugging Face-layout model.safetensors + config.json, and trains 4 AdamW
# steps; LmForge loads that checkpoint through Gpt2Checkpoint and trains the same 4 steps. The two loss lines should
# agree to 4 decimals. Needs /usr/bin/python3 with python3-torch; takes a few minutes on 2 cores.
# Usage: tests/reference/gpt2_training_check/run.sh [LAYERS=12] [VOCAB=50257]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
/usr/bin/python3 "$here/torch_side.py" "$work" "${1:-12}" "${2:-50257}"
dotnet run -c Release "$here/lmforge_side.cs" -- "$work"
