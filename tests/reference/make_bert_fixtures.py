#!/usr/bin/env python3
"""Writes the PyTorch reference fixture for the C# BERT tests.

Prerequisite: PyTorch, e.g. on Debian/Ubuntu:  sudo apt-get install python3-torch   (tested with torch 1.13)
Regenerate:   OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 tests/reference/make_bert_fixtures.py
Output:       tests/reference/fixtures/bert_tiny.safetensors

The fixture holds, for a tiny BERT built by bert_torch.py (Hugging Face BertForMaskedLM's math and names) with odd
dimensions (vocabulary 67, hidden 40 = 4 heads of 10, intermediate 72, 2 layers, 16 positions, 2 token types):
  param.<hf name>      initial weights (float32; the C# test loads exactly these), e.g.
                       param.bert.embeddings.word_embeddings.weight (V, C),
                       param.bert.encoder.layer.0.attention.self.query.weight (C, C), ..., param.cls.predictions.bias (V)
  tokens, targets      (B, T) int32 masked batch: ids 0-4 are special ([PAD], [UNK], [CLS], [SEP], [MASK] = 4); in each
                       row a few positions are chosen, most become [MASK], one a random token, one stays; targets hold
                       the original token there and -1 everywhere else (token types all 0)
  logits               (B, T, V), loss (1,) = mean cross-entropy over the chosen positions, grad.<hf name> for every parameter
  train.tokens/targets (S, B, T) int32 masked batches of S AdamW steps with clipping (global norm) and weight decay (on
                       every 2-D weight, none on biases and LayerNorm parameters)
  train.losses, train.grad_norms  (S,) per step (norm before clipping), param_after.<hf name> after the S steps
and "__metadata__" with the config (Hugging Face's field names) and the optimizer settings, all values as strings.
The reference math runs in float64 from the float32 weights, so the fixture measures only the C# float32 error.
"""

import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from bert_torch import BertConfig, BertForMaskedLM  # noqa: E402
from training_step import reference_run  # noqa: E402
from make_gpt2_fixtures import write_safetensors  # noqa: E402  (the same hand-written safetensors writer)

OUT_DIR = os.path.join(HERE, "fixtures")
STEPS = 5
MASK_ID = 4
FIRST_ORDINARY_ID = 5

SPEC = dict(name="bert_tiny",
            config=BertConfig(vocab_size=67, hidden_size=40, num_hidden_layers=2, num_attention_heads=4,
                              intermediate_size=72, max_position_embeddings=16, type_vocab_size=2, layer_norm_eps=1e-12),
            # a sequence shorter than the position table (rows 13-15 get no gradient); 4 chosen positions per row
            batch=3, seq=13, chosen=4, seed=2718, lr=1e-2, weight_decay=0.5, betas=(0.9, 0.95), eps=1e-6, max_grad_norm=0.5)


def masked_batch(generator, spec):
    """tokens (B, T) with chosen positions masked as BERT does (first chosen -> [MASK], second -> a random token, third
    unchanged, the rest -> [MASK]); targets the original token at the chosen positions, -1 elsewhere."""
    config = spec["config"]
    B, T = spec["batch"], spec["seq"]
    original = torch.randint(FIRST_ORDINARY_ID, config.vocab_size, (B, T), generator=generator)
    tokens = original.clone()
    targets = torch.full((B, T), -1, dtype=torch.int64)
    for b in range(B):
        chosen = torch.randperm(T, generator=generator)[: spec["chosen"]].tolist()
        for k, t in enumerate(chosen):
            targets[b, t] = original[b, t]
            if k == 1:
                tokens[b, t] = int(torch.randint(FIRST_ORDINARY_ID, config.vocab_size, (1,), generator=generator))
            elif k != 2:
                tokens[b, t] = MASK_ID
    return tokens, targets


def build(spec):
    """The fixture's model with its initial float32 weights."""
    torch.manual_seed(spec["seed"])
    model = BertForMaskedLM(spec["config"])
    model.init_weights(spec["seed"])
    return model


def run(spec, dtype=torch.float64):
    """Everything the fixture holds except the initial weights: one forward/backward, then STEPS training steps."""
    model = build(spec).to(dtype)  # the oracle computes in double from the float32 weights
    generator = torch.Generator().manual_seed(spec["seed"] + 1)
    return reference_run(model, lambda: masked_batch(generator, spec), spec, STEPS)


def metadata(spec):
    config = spec["config"]
    return dict(vocab_size=config.vocab_size, hidden_size=config.hidden_size, num_hidden_layers=config.num_hidden_layers,
                num_attention_heads=config.num_attention_heads, intermediate_size=config.intermediate_size,
                max_position_embeddings=config.max_position_embeddings, type_vocab_size=config.type_vocab_size,
                layer_norm_eps=config.layer_norm_eps, mask_token_id=MASK_ID, batch=spec["batch"], seq=spec["seq"],
                steps=STEPS, lr=spec["lr"], weight_decay=spec["weight_decay"], beta1=spec["betas"][0],
                beta2=spec["betas"][1], eps=spec["eps"], max_grad_norm=spec["max_grad_norm"],
                torch_version=torch.__version__)


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    spec = SPEC
    model = build(spec)
    out = {f"param.{n}": p.detach().clone() for n, p in model.named_parameters()}
    result = run(spec)
    order = ["tokens", "targets", "logits", "loss"]
    out.update({k: result[k] for k in order})
    out.update({k: v for k, v in result.items() if k not in order})
    path = os.path.join(OUT_DIR, spec["name"] + ".safetensors")
    write_safetensors(path, out, metadata(spec))
    losses, norms = result["train.losses"].tolist(), result["train.grad_norms"].tolist()
    clipped = sum(1 for n in norms if n > spec["max_grad_norm"])
    print(f"{path}: {os.path.getsize(path)} bytes, loss {result['loss'].item():.6f}, "
          f"step losses {[round(v, 5) for v in losses]}, grad norms {[round(v, 4) for v in norms]} "
          f"(clipping bit on {clipped}/{STEPS} steps)")


if __name__ == "__main__":
    main()
