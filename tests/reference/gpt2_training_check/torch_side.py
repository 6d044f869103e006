#!/usr/bin/python3
"""PyTorch half of the GPT-2 training check (see run.sh): builds gpt2_torch's GPT-2, exports it as a Hugging Face
layout checkpoint (the same writer as make_gpt2_hf_checkpoint.py), saves a random batch, and prints the losses of
4 AdamW steps with clipping. Usage: torch_side.py OUT_DIR LAYERS VOCAB"""
import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
from gpt2_torch import Gpt, GptConfig, make_optimizer, train_step  # noqa: E402
from make_gpt2_hf_checkpoint import CONV1D, safetensors_bytes  # noqa: E402

out, layers, vocab = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
torch.set_num_threads(2)
config = GptConfig(vocab_size=vocab, context_length=1024, layer_count=layers, head_count=12, width=768)
model = Gpt(config)
model.init_weights(1)
tensors = {}
for name, p in model.named_parameters():
    t = p.detach()
    if name == "wte.weight":
        t = t[:vocab]
    elif name.endswith(CONV1D):
        t = t.t()
    tensors[name] = ("F32", t)
os.makedirs(out, exist_ok=True)
with open(os.path.join(out, "model.safetensors"), "wb") as f:
    f.write(safetensors_bytes(tensors, {"format": "pt"}))
with open(os.path.join(out, "config.json"), "w") as f:
    json.dump({"model_type": "gpt2", "vocab_size": vocab, "n_positions": 1024, "n_embd": 768, "n_layer": layers, "n_head": 12}, f)
tokens = torch.randint(0, vocab, (4, 65), generator=torch.Generator().manual_seed(5))
with open(os.path.join(out, "tokens.json"), "w") as f:
    json.dump(tokens.tolist(), f)
optimizer = make_optimizer(model, learning_rate=3e-4, weight_decay=0.1, betas=(0.9, 0.95))
losses = [train_step(model, optimizer, tokens[:, :-1], tokens[:, 1:], 1.0)[0] for _ in range(4)]
print("PyTorch losses: " + ", ".join(f"{loss:.4f}" for loss in losses))
