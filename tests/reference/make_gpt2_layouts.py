#!/usr/bin/python3
"""Writes tests/reference/fixtures/gpt2_layouts/: one tiny GPT-2 in every layout LmForge reads, and PyTorch's logits.

Regenerate: OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 tests/reference/make_gpt2_layouts.py   (python3-torch, tested with 1.13)

The model is tests/reference/gpt2_torch.py (LmForge's math in PyTorch) with odd sizes (vocabulary 93, which llm.c's rule
pads to 128; context 16; 2 layers; 3 heads; width 24) and every parameter randomized, so biases and gains matter.
Outputs:
  gpt2_124M_like.bin        llm.c float32 model file (version 3), written as llm.c's train_gpt2.py write_model does:
                            256 int32 header [20240326, 3, maxT, V, L, NH, C, Vp, 0...], then wte padded with zero rows
                            to Vp, wpe, and each tensor kind for all layers in turn (ln_1.w, ln_1.b, c_attn.w, c_attn.b,
                            attn.c_proj.w, attn.c_proj.b, ln_2.w, ln_2.b, c_fc.w, c_fc.b, mlp.c_proj.w, mlp.c_proj.b),
                            then ln_f.w, ln_f.b; nn.Linear matrices as they are, (out, in)
  gpt2_124M_like_bf16.bin   the same in bfloat16 (version 5), each tensor .to(torch.bfloat16) as llm.c's write_bf16
  hf/model.safetensors      Hugging Face GPT2LMHeadModel: "transformer." prefix, Conv1D (in, out) matrices, wte with V
                            rows, h.N.attn.bias (BOOL) and h.N.attn.masked_bias buffers, lm_head.weight tied (= wte)
  hf/config.json            transformers' GPT2Config
  bare/gpt2_model.safetensors  Hugging Face GPT2Model naming: no prefix, no lm_head, masked_bias buffers only
  bare/config.json          the same config
  expected.safetensors      tokens (B, T) int32; logits (B, T, V) of the float32 weights; logits_bf16 (B, T, V) of the
                            weights rounded to bfloat16; both from a float64 forward
"""
import json
import os
import sys

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from gpt2_torch import Gpt, GptConfig  # noqa: E402
from make_gpt2_fixtures import write_safetensors  # noqa: E402
from make_gpt2_hf_checkpoint import CONV1D, safetensors_bytes  # noqa: E402

OUT = os.path.join(HERE, "fixtures", "gpt2_layouts")
CONFIG = GptConfig(vocab_size=93, context_length=16, layer_count=2, head_count=3, width=24)


# --- llm.c's file layout (train_gpt2.py: write_fp32, write_bf16, write_tensors, pad_vocab, write_model) ---

def write_fp32(tensor, file):
    file.write(tensor.detach().cpu().to(torch.float32).numpy().tobytes())


def write_bf16(tensor, file):
    file.write(tensor.detach().cpu().to(torch.bfloat16).view(torch.int16).numpy().tobytes())


def write_llmc_tensors(params, L, file, dtype):
    write = write_fp32 if dtype == "float32" else write_bf16
    write(params["transformer.wte.weight"], file)  # (Vp, C)
    write(params["transformer.wpe.weight"], file)  # (maxT, C)
    for kind in ("ln_1.weight", "ln_1.bias", "attn.c_attn.weight", "attn.c_attn.bias", "attn.c_proj.weight",
                 "attn.c_proj.bias", "ln_2.weight", "ln_2.bias", "mlp.c_fc.weight", "mlp.c_fc.bias",
                 "mlp.c_proj.weight", "mlp.c_proj.bias"):
        for i in range(L):
            write(params[f"transformer.h.{i}.{kind}"], file)
    write(params["transformer.ln_f.weight"], file)
    write(params["transformer.ln_f.bias"], file)


def pad_vocab(tensor, multiple=128):
    V, C = tensor.shape
    Vp = ((V + multiple - 1) // multiple) * multiple
    return tensor if Vp == V else F.pad(tensor, (0, 0, 0, Vp - V), value=0)


def write_llmc_model(params, path, dtype):
    """params: llm.c's named_parameters() (transformer. prefix, nn.Linear (out, in), wte with V rows)."""
    version = {"float32": 3, "bfloat16": 5}[dtype]
    header = torch.zeros(256, dtype=torch.int32)
    header[0] = 20240326
    header[1] = version
    header[2] = CONFIG.context_length
    header[3] = CONFIG.vocab_size
    header[4] = CONFIG.layer_count
    header[5] = CONFIG.head_count
    header[6] = CONFIG.width
    params = dict(params)
    params["transformer.wte.weight"] = pad_vocab(params["transformer.wte.weight"])
    header[7] = params["transformer.wte.weight"].size(0)
    with open(path, "wb") as f:
        f.write(header.numpy().tobytes())
        write_llmc_tensors(params, CONFIG.layer_count, f, dtype)


def main():
    torch.manual_seed(20240326)
    model = Gpt(CONFIG)
    with torch.no_grad():
        for name, p in model.named_parameters():
            gain = 1.0 if ".ln_" in name or name.startswith("ln_") else 0.0
            p.copy_(torch.randn(p.shape) * (0.3 if p.dim() >= 2 else 0.5) + gain)
        model.wte.weight[CONFIG.vocab_size:].zero_()
    V, n = CONFIG.vocab_size, CONFIG.context_length
    os.makedirs(os.path.join(OUT, "hf"), exist_ok=True)
    os.makedirs(os.path.join(OUT, "bare"), exist_ok=True)

    # llm.c: the model's parameters under llm.c's GPT names (wte has the real V rows there)
    llmc = {"transformer." + name: (p.detach()[:V] if name == "wte.weight" else p.detach()) for name, p in model.named_parameters()}
    write_llmc_model(llmc, os.path.join(OUT, "gpt2_124M_like.bin"), "float32")
    write_llmc_model(llmc, os.path.join(OUT, "gpt2_124M_like_bf16.bin"), "bfloat16")

    # Hugging Face, GPT2LMHeadModel and GPT2Model
    weights = {}
    for name, p in model.named_parameters():
        t = p.detach()
        weights[name] = t[:V] if name == "wte.weight" else t.t() if name.endswith(CONV1D) else t
    head = {"transformer." + k: ("F32", t) for k, t in weights.items()}
    bare = {k: ("F32", t) for k, t in weights.items()}
    for i in range(CONFIG.layer_count):
        head[f"transformer.h.{i}.attn.bias"] = ("BOOL", torch.tril(torch.ones(n, n, dtype=torch.bool)).view(1, 1, n, n))
        head[f"transformer.h.{i}.attn.masked_bias"] = ("F32", torch.tensor(-1e4))
        bare[f"h.{i}.attn.masked_bias"] = ("F32", torch.tensor(-1e4))
    head["lm_head.weight"] = ("F32", weights["wte.weight"])
    config = {
        "activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"], "attn_pdrop": 0.1, "embd_pdrop": 0.1,
        "initializer_range": 0.02, "layer_norm_epsilon": 1e-05, "model_type": "gpt2", "n_ctx": n,
        "n_embd": CONFIG.width, "n_head": CONFIG.head_count, "n_inner": None, "n_layer": CONFIG.layer_count,
        "n_positions": n, "reorder_and_upcast_attn": False, "resid_pdrop": 0.1,
        "scale_attn_by_inverse_layer_idx": False, "scale_attn_weights": True, "torch_dtype": "float32",
        "transformers_version": "4.35.2", "use_cache": True, "vocab_size": V,
    }
    for folder, file, tensors in (("hf", "model.safetensors", head), ("bare", "gpt2_model.safetensors", bare)):
        with open(os.path.join(OUT, folder, file), "wb") as f:
            f.write(safetensors_bytes(tensors, {"format": "pt"}))
        with open(os.path.join(OUT, folder, "config.json"), "w") as f:
            json.dump(config, f, indent=2)
            f.write("\n")

    # oracle: float64 forward of the float32 weights, and of the weights rounded to bfloat16
    generator = torch.Generator().manual_seed(11)
    tokens = torch.randint(0, V, (3, n), generator=generator)
    with torch.no_grad():
        model64 = model.to(torch.float64)
        logits, _ = model64(tokens)
        for p in model64.parameters():
            p.copy_(p.to(torch.float32).to(torch.bfloat16).to(torch.float64))
        logits_bf16, _ = model64(tokens)
    write_safetensors(os.path.join(OUT, "expected.safetensors"),
                      {"tokens": tokens.to(torch.int32), "logits": logits[..., :V], "logits_bf16": logits_bf16[..., :V]},
                      dict(vocab_size=V, context_length=n, layer_count=CONFIG.layer_count, head_count=CONFIG.head_count,
                           width=CONFIG.width, torch_version=torch.__version__))
    for root, _, files in os.walk(OUT):
        for file in sorted(files):
            print(os.path.join(root, file), os.path.getsize(os.path.join(root, file)), "bytes")


if __name__ == "__main__":
    main()
