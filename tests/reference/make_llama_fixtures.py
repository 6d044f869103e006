#!/usr/bin/env python3
"""Writes the PyTorch reference fixtures for the C# Llama tests, and a tiny Hugging Face Llama checkpoint.

Prerequisite: PyTorch, e.g. on Debian/Ubuntu:  sudo apt-get install python3-torch   (tested with torch 1.13)
Regenerate:   /usr/bin/python3 tests/reference/make_llama_fixtures.py
Output:       tests/reference/fixtures/llama_odd.safetensors, llama_regular.safetensors,
              tests/reference/llama_hf_tiny/{config.json, model.safetensors}

Each fixture holds, for a tiny Llama built by llama_torch.py (Hugging Face LlamaForCausalLM's math and names):
  param.<hf name>      initial weights (float32; the C# test loads exactly these), e.g. param.model.embed_tokens.weight,
                       param.model.layers.0.self_attn.q_proj.weight (NH*hs, C), ..., param.lm_head.weight (V, C)
  tokens, targets      (B, T) int32 batch; targets may hold -1 (ignored position; llama_odd has one)
  logits               (B, T, V) for that batch (not shifted: targets are given separately), loss (1,),
                       grad.<hf name> for every parameter
  train.tokens/targets (S, B, T) int32 batches of S AdamW steps with clipping (global norm) and weight decay (on every
                       2-D weight, none on the RMSNorm weights)
  train.losses, train.grad_norms  (S,) per step (norm before clipping), param_after.<hf name> after the S steps
and "__metadata__" with the config (Hugging Face's field names) and the optimizer settings, all values as strings.
The reference math runs in float64 from the float32 weights (the rotary inv_freq is float32 as in transformers, the
angles and their cos/sin float64; see llama_torch.py), so the fixtures measure only the C# float32 error.

tests/reference/llama_hf_tiny/ is the llama_odd model's initial weights as transformers' save_pretrained lays out a
LlamaForCausalLM in float32: config.json (LlamaConfig.to_json_string of transformers 4.45) and model.safetensors
(HF names, tensors in name order, "__metadata__": {"format": "pt"}); the llama_odd fixture's logits are its expected
output for the fixture's tokens.
Format: safetensors (8-byte little-endian header length, JSON header, raw little-endian data), written by hand.
"""

import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from llama_torch import LlamaConfig, LlamaForCausalLM  # noqa: E402
from training_step import reference_run  # noqa: E402
from make_gpt2_fixtures import write_safetensors  # noqa: E402  (the same hand-written safetensors writer)

OUT_DIR = os.path.join(HERE, "fixtures")
HF_DIR = os.path.join(HERE, "llama_hf_tiny")
STEPS = 5

FIXTURES = [
    # odd sizes everywhere: hidden 48 (4 heads of 12), grouped-query attention with 2 kv heads, intermediate 100,
    # vocab 97, batch 3, sequence 16 = max_position_embeddings. Clipping at 0.5 bites on every step (the gradient norm
    # of this model is well above it); weight decay 1.0 is large so that decaying the wrong parameters (the RMSNorm
    # weights) or none moves them far beyond the test tolerance; eps 1e-6 as gpt2_odd.
    dict(name="llama_odd",
         config=LlamaConfig(vocab_size=97, hidden_size=48, intermediate_size=100, num_hidden_layers=2,
                            num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=16,
                            rms_norm_eps=1e-6, rope_theta=10000.0),
         batch=3, seq=16, seed=4321, lr=1e-2, weight_decay=1.0, betas=(0.9, 0.95), eps=1e-6, max_grad_norm=0.5,
         ignore_positions=[(1, 5)]),
    # regular sizes: hidden 64 (4 heads of 16), plain multi-head attention (4 kv heads), Llama 3's rope_theta, a
    # shorter sequence than max_position_embeddings, no clipping.
    dict(name="llama_regular",
         config=LlamaConfig(vocab_size=256, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                            num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=32,
                            rms_norm_eps=1e-5, rope_theta=500000.0),
         batch=2, seq=24, seed=8765, lr=3e-3, weight_decay=0.2, betas=(0.9, 0.999), eps=1e-8, max_grad_norm=1e9,
         ignore_positions=[]),
]


def batch(generator, spec):
    config = spec["config"]
    data = torch.randint(0, config.vocab_size, (spec["batch"], spec["seq"] + 1), generator=generator)
    tokens, targets = data[:, :-1].clone(), data[:, 1:].clone()
    for b, t in spec["ignore_positions"]:
        targets[b, t] = -1
    return tokens, targets


def build(spec):
    """The fixture's model with its initial float32 weights."""
    torch.manual_seed(spec["seed"])
    model = LlamaForCausalLM(spec["config"])
    model.init_weights(spec["seed"])
    return model


def run(spec, dtype=torch.float64):
    """Everything the fixture holds except the initial weights: one forward/backward, then STEPS training steps."""
    model = build(spec).to(dtype)  # the oracle computes in double from the float32 weights
    generator = torch.Generator().manual_seed(spec["seed"] + 1)
    return reference_run(model, lambda: batch(generator, spec), spec, STEPS)


def metadata(spec):
    config = spec["config"]
    return dict(vocab_size=config.vocab_size, hidden_size=config.hidden_size,
                intermediate_size=config.intermediate_size, num_hidden_layers=config.num_hidden_layers,
                num_attention_heads=config.num_attention_heads, num_key_value_heads=config.num_key_value_heads,
                head_dim=config.head_dim, rms_norm_eps=config.rms_norm_eps, rope_theta=config.rope_theta,
                max_position_embeddings=config.max_position_embeddings, batch=spec["batch"], seq=spec["seq"],
                steps=STEPS, lr=spec["lr"], weight_decay=spec["weight_decay"], beta1=spec["betas"][0],
                beta2=spec["betas"][1], eps=spec["eps"], max_grad_norm=spec["max_grad_norm"],
                torch_version=torch.__version__)


def make(spec):
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
    return model


def hf_config(config: LlamaConfig):
    """What transformers 4.45's LlamaConfig(...).to_json_string() writes (save_pretrained's config.json) for these
    settings: every Llama field, plus the PretrainedConfig fields that differ from their defaults, keys sorted."""
    fields = {
        "architectures": ["LlamaForCausalLM"],
        "attention_bias": False,
        "attention_dropout": 0.0,
        "bos_token_id": 1,
        "eos_token_id": 2,
        "head_dim": config.head_dim,
        "hidden_act": "silu",
        "hidden_size": config.hidden_size,
        "initializer_range": config.initializer_range,
        "intermediate_size": config.intermediate_size,
        "max_position_embeddings": config.max_position_embeddings,
        "mlp_bias": False,
        "model_type": "llama",
        "num_attention_heads": config.num_attention_heads,
        "num_hidden_layers": config.num_hidden_layers,
        "num_key_value_heads": config.num_key_value_heads,
        "pretraining_tp": 1,
        "rms_norm_eps": config.rms_norm_eps,
        "rope_scaling": None,
        "rope_theta": float(config.rope_theta),
        "tie_word_embeddings": False,
        "torch_dtype": "float32",
        "transformers_version": "4.45.2",
        "use_cache": True,
        "vocab_size": config.vocab_size,
    }
    return json.dumps(fields, indent=2, sort_keys=True) + "\n"


def make_hf_checkpoint(spec, model):
    os.makedirs(HF_DIR, exist_ok=True)
    tensors = {n: p.detach().clone() for n, p in sorted(model.named_parameters())}  # safetensors' order: by name
    write_safetensors(os.path.join(HF_DIR, "model.safetensors"), tensors, {"format": "pt"})
    tmp = os.path.join(HF_DIR, "config.json.tmp")
    with open(tmp, "w") as f:
        f.write(hf_config(spec["config"]))
    os.replace(tmp, os.path.join(HF_DIR, "config.json"))
    print(f"{HF_DIR}: config.json, model.safetensors ({os.path.getsize(os.path.join(HF_DIR, 'model.safetensors'))} bytes)"
          f" = {spec['name']}'s initial weights")


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    for spec in FIXTURES:
        model = make(spec)
        if spec["name"] == "llama_odd":
            make_hf_checkpoint(spec, model)


if __name__ == "__main__":
    main()
