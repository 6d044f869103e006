#!/usr/bin/env python3
"""Writes the PyTorch reference fixtures for the C# GPT-2 tests (tests/LmForge.Models.Tests).

Prerequisite: PyTorch, e.g. on Debian/Ubuntu:  sudo apt-get install python3-torch   (tested with torch 1.13)
Regenerate:   /usr/bin/python3 tests/reference/make_gpt2_fixtures.py
Output:       tests/reference/fixtures/gpt2_odd.safetensors, gpt2_regular.safetensors

Each fixture holds, for a tiny GPT-2 built by gpt2_torch.py:
  param.<name>         initial weights (float32; the C# test loads exactly these)
  tokens, targets      (B, T) int32 batch; targets may hold -1 (ignored position)
  logits               (B, T, Vp) for that batch, loss (1,), grad.<name> for every parameter
  train.tokens/targets (S, B, T) int32 batches of S AdamW steps with clipping and weight decay
  train.losses, train.grad_norms  (S,) per step (norm before clipping), param_after.<name> after the S steps
and "__metadata__" with the config and the optimizer settings.
The reference math runs in float64 from the float32 weights, so the fixtures measure only the C# float32 error.
Format: safetensors (8-byte little-endian header length, JSON header, raw little-endian data), written by hand.
"""

import json
import os
import struct
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gpt2_torch import Gpt, GptConfig  # noqa: E402
from training_step import reference_run  # noqa: E402

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
STEPS = 5

FIXTURES = [
    # odd sizes everywhere: width 48 (3 heads of 16), vocab 97 padded to 128, batch 3, context 16.
    # Clipping at 0.5 bites on every step (the gradient norm of this model is well above it); weight decay 1.0 is
    # large so that decaying the wrong parameters (or none) moves them far beyond the test tolerance; eps 1e-6 keeps
    # Adam from blowing float32 rounding in near-zero gradients (e.g. the key bias, analytically 0) up to lr-sized steps.
    dict(name="gpt2_odd", config=GptConfig(vocab_size=97, context_length=16, layer_count=2, head_count=3, width=48),
         batch=3, seq=16, seed=1234, lr=1e-2, weight_decay=1.0, betas=(0.9, 0.95), eps=1e-6, max_grad_norm=0.5,
         ignore_positions=[(1, 5)]),
    # regular sizes: width 32 (2 heads of 16), vocab 256 (no padding), shorter sequence than the context.
    dict(name="gpt2_regular", config=GptConfig(vocab_size=256, context_length=32, layer_count=2, head_count=2, width=32),
         batch=2, seq=24, seed=5678, lr=3e-3, weight_decay=0.2, betas=(0.9, 0.999), eps=1e-8, max_grad_norm=1e9,
         ignore_positions=[]),
]


def write_safetensors(path, tensors, metadata):
    header = {"__metadata__": {k: str(v) for k, v in metadata.items()}}
    blobs = []
    offset = 0
    for name, tensor in tensors.items():
        tensor = tensor.detach().contiguous().cpu()
        if tensor.dtype == torch.int32:
            dtype, data = "I32", tensor.numpy().astype("<i4").tobytes()
        else:
            dtype, data = "F32", tensor.to(torch.float32).numpy().astype("<f4").tobytes()
        header[name] = {"dtype": dtype, "shape": list(tensor.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    header_bytes = json.dumps(header, separators=(",", ":")).encode("utf-8")
    header_bytes += b" " * ((8 - len(header_bytes) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(header_bytes)))
        f.write(header_bytes)
        for blob in blobs:
            f.write(blob)
    os.replace(tmp, path)


def batch(generator, spec):
    config = spec["config"]
    data = torch.randint(0, config.vocab_size, (spec["batch"], spec["seq"] + 1), generator=generator)
    tokens, targets = data[:, :-1].clone(), data[:, 1:].clone()
    for b, t in spec["ignore_positions"]:
        targets[b, t] = -1
    return tokens, targets


def make(spec):
    config = spec["config"]
    torch.manual_seed(spec["seed"])
    model = Gpt(config)
    model.init_weights(spec["seed"])
    out = {f"param.{n}": p.detach().clone() for n, p in model.named_parameters()}

    model = model.to(torch.float64)  # the oracle computes in double from the float32 weights
    generator = torch.Generator().manual_seed(spec["seed"] + 1)
    out.update(reference_run(model, lambda: batch(generator, spec), spec, STEPS))
    loss, losses, norms = out["loss"], out["train.losses"].tolist(), out["train.grad_norms"].tolist()

    metadata = dict(vocab_size=config.vocab_size, padded_vocab_size=config.padded_vocab_size,
                    context_length=config.context_length, layer_count=config.layer_count,
                    head_count=config.head_count, width=config.width, batch=spec["batch"], seq=spec["seq"],
                    steps=STEPS, lr=spec["lr"], weight_decay=spec["weight_decay"], beta1=spec["betas"][0],
                    beta2=spec["betas"][1], eps=spec["eps"], max_grad_norm=spec["max_grad_norm"],
                    torch_version=torch.__version__)
    path = os.path.join(OUT_DIR, spec["name"] + ".safetensors")
    write_safetensors(path, out, metadata)
    clipped = sum(1 for n in norms if n > spec["max_grad_norm"])
    print(f"{path}: {os.path.getsize(path)} bytes, loss {loss.item():.6f}, step losses {[round(v, 5) for v in losses]}, "
          f"grad norms {[round(v, 4) for v in norms]} (clipping bit on {clipped}/{STEPS} steps)")


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    for spec in FIXTURES:
        make(spec)


if __name__ == "__main__":
    main()
