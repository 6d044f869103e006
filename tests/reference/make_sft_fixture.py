#!/usr/bin/env python3
"""Writes the PyTorch reference for fine-tuning on packed conversations: tests/reference/fixtures/sft_llama.safetensors.

Prerequisite: PyTorch (Debian: apt-get install python3-torch).
Regenerate:   /usr/bin/python3 tests/reference/make_sft_fixture.py

Three conversations of a tiny Llama (llama_torch.py, Hugging Face's math) are given as token ids with targets that are
-1 everywhere but their "assistant" stretches. PyTorch runs each conversation ON ITS OWN (positions from 0, attention
within it) and takes the masked loss over all three: sum of the cross-entropies of the learned targets divided by
their count, then the gradient of every parameter. The fixture also holds the same three conversations PACKED into one
row, followed by padding, with each token's document start: the layout the C# trainer feeds its model. The C# test
runs the packed row and must reproduce PyTorch's unpacked loss and gradients, which it can only do if no token attends
across conversations and positions restart in each.

Tensors: param.<hf name> (initial float32 weights), tokens / targets / document_starts (1, T) int32 (the packed row),
loss (1,), grad.<hf name>; "__metadata__" as the Llama fixtures (config fields, batch 1, seq T) plus the lengths.
"""

import os
import sys

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from llama_torch import LlamaConfig, LlamaForCausalLM  # noqa: E402
from make_gpt2_fixtures import write_safetensors  # noqa: E402

CONFIG = LlamaConfig(vocab_size=61, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                     num_key_value_heads=2, max_position_embeddings=32, rms_norm_eps=1e-5, rope_theta=10000.0)
SEED = 2718
LENGTHS = [9, 14, 6]          # tokens per conversation (inputs; targets are the next tokens)
ROW = 32                      # the packed row: 29 conversation tokens and 3 of padding


def conversations(generator):
    spans = {0: [(5, 9)], 1: [(3, 6), (9, 14)], 2: [(2, 6)]}
    result = []
    for i, n in enumerate(LENGTHS):
        data = torch.randint(0, CONFIG.vocab_size, (n + 1,), generator=generator)
        tokens, targets = data[:-1].clone(), torch.full((n,), -1, dtype=torch.long)
        for start, end in spans[i]:
            targets[start:end] = data[start + 1:end + 1]
        result.append((tokens, targets))
    return result


def main():
    torch.manual_seed(SEED)
    model = LlamaForCausalLM(CONFIG)
    model.init_weights(SEED)
    out = {f"param.{n}": p.detach().clone() for n, p in model.named_parameters()}
    model = model.to(torch.float64)
    generator = torch.Generator().manual_seed(SEED + 1)
    convs = conversations(generator)

    total, count = 0.0, 0
    for tokens, targets in convs:
        logits, _ = model(tokens.unsqueeze(0), None)
        total = total + F.cross_entropy(logits.view(-1, logits.size(-1)), targets, ignore_index=-1, reduction="sum")
        count += int((targets >= 0).sum())
    loss = total / count
    loss.backward()

    row_tokens, row_targets, row_starts = [], [], []
    for tokens, targets in convs:
        start = len(row_tokens)
        row_tokens += tokens.tolist()
        row_targets += targets.tolist()
        row_starts += [start] * len(tokens)
    pad_start = len(row_tokens)
    while len(row_tokens) < ROW:
        row_tokens.append(0)
        row_targets.append(-1)
        row_starts.append(pad_start)
    out["tokens"] = torch.tensor([row_tokens], dtype=torch.int32)
    out["targets"] = torch.tensor([row_targets], dtype=torch.int32)
    out["document_starts"] = torch.tensor([row_starts], dtype=torch.int32)
    out["loss"] = loss.detach().reshape(1)
    for n, p in model.named_parameters():
        out[f"grad.{n}"] = p.grad.detach().clone()
    metadata = dict(vocab_size=CONFIG.vocab_size, hidden_size=CONFIG.hidden_size, intermediate_size=CONFIG.intermediate_size,
                    num_hidden_layers=CONFIG.num_hidden_layers, num_attention_heads=CONFIG.num_attention_heads,
                    num_key_value_heads=CONFIG.num_key_value_heads, head_dim=CONFIG.head_dim, rms_norm_eps=CONFIG.rms_norm_eps,
                    rope_theta=CONFIG.rope_theta, max_position_embeddings=CONFIG.max_position_embeddings, batch=1, seq=ROW,
                    steps=0, lengths=",".join(map(str, LENGTHS)), learned=count, torch_version=torch.__version__)
    path = os.path.join(HERE, "fixtures", "sft_llama.safetensors")
    write_safetensors(path, out, metadata)
    print(f"{path}: {os.path.getsize(path)} bytes, masked loss {loss.item():.6f} over {count} learned tokens")


if __name__ == "__main__":
    main()
