#!/usr/bin/python3
"""Writes tests/reference/gpt2_hf_tiny/: a tiny GPT-2 checkpoint laid out exactly as Hugging Face transformers
saves GPT2LMHeadModel, and the logits PyTorch computes with it.

Regenerate: /usr/bin/python3 tests/reference/make_gpt2_hf_checkpoint.py   (needs python3-torch; tested with 1.13)

The model is tests/reference/gpt2_torch.py (LmForge's math in PyTorch) with every parameter randomized (so biases
and layer-norm gains matter). The checkpoint follows transformers' GPT-2 conventions, written here by hand because
Debian ships neither transformers nor safetensors:
  * names with the "transformer." prefix (transformer.wte.weight, transformer.h.0.attn.c_attn.weight, ...);
  * the four block matrices as Conv1D weights, shape (in, out): the transpose of nn.Linear's (out, in);
  * wte.weight with the real vocabulary rows only, and lm_head.weight tied to it;
  * the causal-mask buffers h.{i}.attn.bias (BOOL, (1, 1, n_positions, n_positions)) and h.{i}.attn.masked_bias
    (F32 scalar), which older transformers versions saved;
  * "__metadata__": {"format": "pt"}; a config.json with transformers' GPT2Config fields.
Outputs: model.safetensors, config.json, expected.json ({"tokens": [[...]], "logits": [[[...]]]} over the real
vocabulary, float32 values from a float64 forward of the float32 weights).
"""
import json
import os
import struct
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from gpt2_torch import Gpt, GptConfig  # noqa: E402

OUT = os.path.join(HERE, "gpt2_hf_tiny")
CONFIG = GptConfig(vocab_size=101, context_length=12, layer_count=2, head_count=2, width=16)  # 101 pads to 128
CONV1D = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")


def safetensors_bytes(tensors, metadata):
    header = {"__metadata__": metadata}
    blobs, offset = [], 0
    for name, (dtype, t) in tensors.items():
        t = t.detach().contiguous()
        if dtype == "BOOL":
            data = t.to(torch.uint8).numpy().tobytes()
        else:
            data = t.to(torch.float32).numpy().astype("<f4").tobytes()
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    header_bytes = json.dumps(header, separators=(",", ":")).encode("utf-8")
    header_bytes += b" " * (-len(header_bytes) % 8)
    return struct.pack("<Q", len(header_bytes)) + header_bytes + b"".join(blobs)


def main():
    torch.manual_seed(20230828)
    model = Gpt(CONFIG)
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(torch.randn(p.shape) * (0.3 if p.dim() >= 2 else 0.5) + (1.0 if ".ln_" in name or name.startswith("ln_") else 0.0))
        model.wte.weight[CONFIG.vocab_size:].zero_()  # the padding rows are not part of the checkpoint

    V, n = CONFIG.vocab_size, CONFIG.context_length
    tensors = {}
    for name, p in model.named_parameters():
        t = p.detach()
        if name == "wte.weight":
            t = t[:V]
        elif name.endswith(CONV1D):
            t = t.t()  # Conv1D stores (in, out)
        tensors["transformer." + name] = ("F32", t)
    for i in range(CONFIG.layer_count):
        tensors[f"transformer.h.{i}.attn.bias"] = ("BOOL", torch.tril(torch.ones(n, n, dtype=torch.bool)).view(1, 1, n, n))
        tensors[f"transformer.h.{i}.attn.masked_bias"] = ("F32", torch.tensor(-1e4))
    tensors["lm_head.weight"] = ("F32", model.wte.weight.detach()[:V])

    config = {
        "activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"], "attn_pdrop": 0.1,
        "bos_token_id": 100, "embd_pdrop": 0.1, "eos_token_id": 100, "initializer_range": 0.02,
        "layer_norm_epsilon": 1e-05, "model_type": "gpt2", "n_ctx": n, "n_embd": CONFIG.width,
        "n_head": CONFIG.head_count, "n_inner": None, "n_layer": CONFIG.layer_count, "n_positions": n,
        "reorder_and_upcast_attn": False, "resid_pdrop": 0.1, "scale_attn_by_inverse_layer_idx": False,
        "scale_attn_weights": True, "summary_activation": None, "summary_first_dropout": 0.1,
        "summary_proj_to_labels": True, "summary_type": "cls_index", "summary_use_proj": True,
        "torch_dtype": "float32", "transformers_version": "4.35.2", "use_cache": True, "vocab_size": V,
    }

    generator = torch.Generator().manual_seed(7)
    tokens = torch.randint(0, V, (2, n), generator=generator)
    with torch.no_grad():
        logits, _ = model.to(torch.float64)(tokens)
    logits = logits[..., :V].to(torch.float32)

    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "model.safetensors"), "wb") as f:
        f.write(safetensors_bytes(tensors, {"format": "pt"}))
    with open(os.path.join(OUT, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump({"tokens": tokens.tolist(), "logits": [[[float(v) for v in row] for row in seq] for seq in logits.tolist()]}, f)
        f.write("\n")
    print("wrote", OUT)


if __name__ == "__main__":
    main()
