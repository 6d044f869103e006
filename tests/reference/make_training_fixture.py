"""Trains a tiny GPT with PyTorch exactly as LmForge's Trainer is configured to, and writes what the C# test needs.

The oracle for tests/LmForge.Training.Tests/PyTorchAgreementTests.cs: same initial weights, same shards, same batch
order (file order, no shuffle), same schedule (linear warmup then cosine), same gradient accumulation, clipping and
AdamW (decay on matrices only). It writes into tests/LmForge.Training.Tests/Fixtures/pytorch_training/:
  train_000000.bin, val_000000.bin   llm.c uint16 shards (header: 256 int32, magic 20240520, version 1, token count)
  init/model.safetensors, init/config.json   the initial weights in Hugging Face GPT-2 layout (Conv1D weights (in, out))
  expected.json   the config, per-step training losses and gradient norms, and validation losses

Run: /usr/bin/python3 tests/reference/make_training_fixture.py   (needs python3-torch and numpy)
"""

import json
import math
import os
import struct
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gpt2_torch import Gpt, GptConfig, make_optimizer  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "LmForge.Training.Tests", "Fixtures", "pytorch_training")

VOCAB, CONTEXT, LAYERS, HEADS, WIDTH = 64, 16, 2, 2, 32
BATCH, ACCUMULATION, STEPS = 4, 2, 40
PEAK_LR, MIN_LR, WARMUP = 1e-2, 1e-3, 5
WEIGHT_DECAY, BETAS, EPS, CLIP = 0.1, (0.9, 0.95), 1e-8, 1.0
EVAL_EVERY, EVAL_BATCHES = 10, 4
SEED = 20230828


def token_stream(rng, n):
    """A learnable stream: mostly token+1 (mod VOCAB), sometimes a random jump."""
    tokens = [0]
    while len(tokens) < n:
        tokens.append((tokens[-1] + 1) % VOCAB if rng.random() < 0.85 else int(rng.integers(VOCAB)))
    return np.array(tokens, dtype=np.uint16)


def write_shard(path, tokens):
    header = np.zeros(256, dtype=np.int32)
    header[0], header[1], header[2] = 20240520, 1, len(tokens)
    with open(path, "wb") as f:
        f.write(header.tobytes())
        f.write(tokens.astype("<u2").tobytes())


def write_safetensors(path, tensors):
    header, offset, blobs = {}, 0, []
    for name, array in tensors:
        data = np.ascontiguousarray(array, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(array.shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    header["__metadata__"] = {"format": "pt"}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def hugging_face_tensors(model):
    """GPT2Model's names; Conv1D weights stored (in, out); the token embedding without padding rows."""
    conv1d = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")
    for name, p in model.named_parameters():
        array = p.detach().numpy()
        if name == "wte.weight":
            array = array[:VOCAB]
        elif name.endswith(conv1d):
            array = array.T
        yield name, array


def learning_rate(step):
    if step < WARMUP:
        return PEAK_LR * (step + 1) / WARMUP
    progress = (step - WARMUP) / max(1, STEPS - WARMUP)
    return MIN_LR + 0.5 * (1.0 + math.cos(math.pi * progress)) * (PEAK_LR - MIN_LR)


def batches(tokens, start_batch):
    """Batch i of a shard in file order: samples i*B .. i*B+B-1, sample j = tokens[j*T : j*T+T+1]; wraps at the end."""
    per_shard = ((len(tokens) - 1) // CONTEXT) // BATCH
    i = start_batch % per_shard
    rows = [tokens[(i * BATCH + b) * CONTEXT:(i * BATCH + b) * CONTEXT + CONTEXT + 1].astype(np.int64) for b in range(BATCH)]
    x = torch.tensor(np.stack([r[:-1] for r in rows]))
    y = torch.tensor(np.stack([r[1:] for r in rows]))
    return x, y


def validation_loss(model, tokens):
    with torch.no_grad():
        return float(np.mean([model(*batches(tokens, i))[1].item() for i in range(EVAL_BATCHES)]))


def main():
    torch.manual_seed(SEED)
    torch.use_deterministic_algorithms(True)
    rng = np.random.default_rng(SEED)
    train, val = token_stream(rng, 4000), token_stream(rng, 800)
    os.makedirs(os.path.join(OUT, "init"), exist_ok=True)
    write_shard(os.path.join(OUT, "train_000000.bin"), train)
    write_shard(os.path.join(OUT, "val_000000.bin"), val)

    model = Gpt(GptConfig(VOCAB, CONTEXT, LAYERS, HEADS, WIDTH))
    model.init_weights(SEED)
    write_safetensors(os.path.join(OUT, "init", "model.safetensors"), list(hugging_face_tensors(model)))
    with open(os.path.join(OUT, "init", "config.json"), "w") as f:
        json.dump({"model_type": "gpt2", "vocab_size": VOCAB, "n_positions": CONTEXT, "n_embd": WIDTH, "n_layer": LAYERS, "n_head": HEADS}, f, indent=2)

    optimizer = make_optimizer(model, PEAK_LR, WEIGHT_DECAY, betas=BETAS, eps=EPS)
    train_losses, norms, validation = [], [], {}
    batch = 0
    for step in range(STEPS):
        if step % EVAL_EVERY == 0:
            validation[step] = validation_loss(model, val)
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step)
        optimizer.zero_grad(set_to_none=False)
        total = 0.0
        for _ in range(ACCUMULATION):
            _, loss = model(*batches(train, batch))
            batch += 1
            (loss / ACCUMULATION).backward()
            total += loss.item()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)
        optimizer.step()
        train_losses.append(total / ACCUMULATION)
        norms.append(float(norm))
    validation[STEPS] = validation_loss(model, val)

    expected = {
        "config": {
            "layers": LAYERS, "heads": HEADS, "embeddingSize": WIDTH, "contextLength": CONTEXT, "vocabularySize": VOCAB,
            "microBatchSize": BATCH, "totalBatchTokens": BATCH * CONTEXT * ACCUMULATION, "shuffleTrainingData": False,
            "learningRate": PEAK_LR, "minLearningRate": MIN_LR, "warmupSteps": WARMUP, "schedule": "cosine",
            "weightDecay": WEIGHT_DECAY, "beta1": BETAS[0], "beta2": BETAS[1], "epsilon": EPS, "gradientClip": CLIP,
            "steps": STEPS, "seed": SEED, "evalEvery": EVAL_EVERY, "evalBatches": EVAL_BATCHES, "sampleEvery": 0,
            "checkpointEvery": 0,
        },
        "torch": torch.__version__,
        "trainLosses": train_losses,
        "gradientNorms": norms,
        "validationLosses": {str(k): v for k, v in validation.items()},
    }
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
    print(f"wrote {OUT}: train loss {train_losses[0]:.4f} -> {train_losses[-1]:.4f}, validation {validation[0]:.4f} -> {validation[STEPS]:.4f}")


if __name__ == "__main__":
    main()
