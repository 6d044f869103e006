#!/usr/bin/env python3
"""Writes the PyTorch reference fixtures for the C# T5 (encoder-decoder) tests.

Prerequisite: PyTorch, e.g. on Debian/Ubuntu:  sudo apt-get install python3-torch   (tested with torch 1.13)
Regenerate:   OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 tests/reference/make_t5_fixtures.py [--check]
Output:       tests/reference/fixtures/t5_relu_tied.safetensors, t5_gated_odd.safetensors
--check also runs the oracle's self-checks (float32 against float64, gradcheck, the position bias and the tied head's
scaling matter, causality, the bucket function against a plain scalar one) and prints their results.

The two models, built by t5_torch.py (Hugging Face T5ForConditionalGeneration's math and names):
  t5_relu_tied   feed_forward_proj "relu", tied head (logits = decoder output * d_model^-0.5 @ shared^T), vocab 61,
                 d_model 24, 3 heads of d_kv 8 (inner 24), d_ff 40, 2 encoder + 2 decoder layers, 8 buckets, max
                 distance 20; batch B=3, encoder length Te=11, target length Td=7; labels row 2 ends in two -1
  t5_gated_odd   feed_forward_proj "gated-gelu" (gelu_new), untied lm_head, vocab 53, d_model 20, 3 heads of d_kv 7
                 (inner 21 != d_model), d_ff 18, 2 encoder + 1 decoder layer, 6 buckets, max distance 12 (Te=13 >
                 12, so the logarithmic buckets and the clamp are used); B=2, Te=13, Td=6; labels row 0 ends in one
                 -1, row 1 in three
Each fixture holds, in this order (F32 unless said; V vocab, C d_model, I = num_heads*d_kv, S = 5 steps):
  param.<hf name>      initial weights, exactly the parameters the C# model has, in HF named_parameters() order:
                         param.shared.weight (V, C)
                         param.encoder.block.{i}.layer.0.SelfAttention.{q,k,v}.weight (I, C), ...o.weight (C, I)
                         param.encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight (buckets, NH)
                         param.encoder.block.{i}.layer.0.layer_norm.weight (C)
                         param.encoder.block.{i}.layer.1.DenseReluDense.wi.weight (d_ff, C)     [relu]
                         param.encoder.block.{i}.layer.1.DenseReluDense.wi_0/wi_1.weight (d_ff, C)  [gated-gelu]
                         param.encoder.block.{i}.layer.1.DenseReluDense.wo.weight (C, d_ff)
                         param.encoder.block.{i}.layer.1.layer_norm.weight (C), param.encoder.final_layer_norm.weight (C)
                         param.decoder.block.{i}.layer.0.SelfAttention.* as the encoder's (relative_attention_bias in
                           block 0 only), layer.0.layer_norm.weight (C)
                         param.decoder.block.{i}.layer.1.EncDecAttention.{q,k,v}.weight (I, C), ...o.weight (C, I)
                           (no relative_attention_bias), layer.1.layer_norm.weight (C)
                         param.decoder.block.{i}.layer.2.DenseReluDense.* and layer.2.layer_norm.weight as the
                           encoder's layer.1; param.decoder.final_layer_norm.weight (C)
                         param.lm_head.weight (V, C)   only in t5_gated_odd (untied); t5_relu_tied has no lm_head
  input_ids            (B, Te) int32 encoder tokens in [1, V)
  labels               (B, Td) int32 targets in [1, V), -1 (ignored) in the tail of some rows
  decoder_input_ids    (B, Td) int32 what the decoder read: labels shifted right by one, decoder_start_token_id 0 at
                       position 0, every -1 replaced by the pad id 0
  logits               (B, Td, V), loss (1,) = mean cross-entropy over the labels != -1
  grad.<hf name>       the gradient of loss for every param.<hf name>, same shape
  train.input_ids      (S, B, Te) int32, train.labels (S, B, Td) int32: the batches of S AdamW steps (each step: zero
                       grads, forward with decoder_input_ids = shift of its labels, backward, clip the global gradient
                       norm to max_grad_norm, AdamW with weight decay on every 2-D parameter - shared, q/k/v/o,
                       relative_attention_bias, wi*/wo, lm_head - and none on the 1-D layer_norm weights)
  train.losses, train.grad_norms  (S,) the loss of each step and its gradient norm before clipping
  param_after.<hf name> every parameter after the S steps
  buckets.bidirectional, buckets.causal      (601,) int32: relative_position_bucket(rel) for rel = key position -
                       query position = -300..300 (index rel + 300), with the fixture's buckets and max distance
                       (bidirectional: the encoder's; causal: the decoder's)
  buckets32.bidirectional, buckets32.causal  (2001,) int32: the same for T5's defaults (32 buckets, max distance
                       128) over rel = -1000..1000 (index rel + 1000)
and "__metadata__", all values strings: the config in HF's field names (model_type t5, vocab_size, d_model, d_kv,
d_ff, num_layers, num_decoder_layers, num_heads, relative_attention_num_buckets, relative_attention_max_distance,
layer_norm_epsilon, feed_forward_proj, tie_word_embeddings and is_encoder_decoder "true"/"false",
decoder_start_token_id, pad_token_id), the shapes (batch, encoder_length, decoder_length, steps) and the optimizer
settings (lr, weight_decay, beta1, beta2, eps, max_grad_norm), seed and torch_version.
The reference math runs in float64 from the float32 weights, so the fixtures measure only the C# float32 error.
The bucket tables are computed as HF computes them (float32 log), see t5_torch.relative_position_bucket.
"""

import math
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from t5_torch import T5Config, T5ForConditionalGeneration, relative_position_bucket, shift_right  # noqa: E402
from training_step import reference_run  # noqa: E402
from make_gpt2_fixtures import write_safetensors  # noqa: E402  (the same hand-written safetensors writer)

OUT_DIR = os.path.join(HERE, "fixtures")
STEPS = 5
BUCKET_RANGE = 300
BUCKET32_RANGE = 1000

FIXTURES = [
    dict(name="t5_relu_tied",
         config=T5Config(vocab_size=61, d_model=24, d_kv=8, d_ff=40, num_layers=2, num_decoder_layers=2, num_heads=3,
                         relative_attention_num_buckets=8, relative_attention_max_distance=20,
                         feed_forward_proj="relu", tie_word_embeddings=True),
         # clipping at 0.5 bites on every step (gradient norms 2-4); weight decay 0.5 is large so that decaying the
         # wrong parameters (or none) shows; eps 1e-6 as the other fixtures
         batch=3, encoder_length=11, decoder_length=7, ignore_tail={2: 2},
         seed=3141, lr=1e-2, weight_decay=0.5, betas=(0.9, 0.95), eps=1e-6, max_grad_norm=0.5),
    dict(name="t5_gated_odd",
         config=T5Config(vocab_size=53, d_model=20, d_kv=7, d_ff=18, num_layers=2, num_decoder_layers=1, num_heads=3,
                         relative_attention_num_buckets=6, relative_attention_max_distance=12,
                         feed_forward_proj="gated-gelu", tie_word_embeddings=False),
         # clipping at 4.5 bites on steps 3 and 4 only (norms 4.01, 3.60, 5.08, 4.99, 3.77: >10% from the threshold),
         # so both branches of the clip are tested
         batch=2, encoder_length=13, decoder_length=6, ignore_tail={0: 1, 1: 3},
         seed=1618, lr=5e-3, weight_decay=0.2, betas=(0.9, 0.999), eps=1e-6, max_grad_norm=4.5),
]


def batch(generator, spec):
    """input_ids (B, Te) and labels (B, Td), ids in [1, V) (0 is the pad / decoder start); labels end in -1 as
    spec["ignore_tail"] says ({row: count})."""
    V = spec["config"].vocab_size
    input_ids = torch.randint(1, V, (spec["batch"], spec["encoder_length"]), generator=generator)
    labels = torch.randint(1, V, (spec["batch"], spec["decoder_length"]), generator=generator)
    for row, count in spec["ignore_tail"].items():
        labels[row, -count:] = -1
    return input_ids, labels


def build(spec):
    """The fixture's model with its initial float32 weights."""
    torch.manual_seed(spec["seed"])
    model = T5ForConditionalGeneration(spec["config"])
    model.init_weights(spec["seed"])
    return model


def run(spec, dtype=torch.float64):
    """Everything the fixture holds but the initial weights and bucket tables, in the fixture's names."""
    model = build(spec).to(dtype)  # the oracle computes in double from the float32 weights
    generator = torch.Generator().manual_seed(spec["seed"] + 1)
    result = reference_run(model, lambda: batch(generator, spec), spec, STEPS)
    renamed = {"tokens": "input_ids", "targets": "labels", "train.tokens": "train.input_ids",
               "train.targets": "train.labels"}
    out = {renamed.get(k, k): v for k, v in result.items()}
    out["decoder_input_ids"] = model.decoder_input_ids(out["labels"].to(torch.long)).to(torch.int32)
    return out


def bucket_tables(config):
    rel = torch.arange(-BUCKET_RANGE, BUCKET_RANGE + 1)
    rel32 = torch.arange(-BUCKET32_RANGE, BUCKET32_RANGE + 1)
    nb, md = config.relative_attention_num_buckets, config.relative_attention_max_distance
    return {
        "buckets.bidirectional": relative_position_bucket(rel, True, nb, md).to(torch.int32),
        "buckets.causal": relative_position_bucket(rel, False, nb, md).to(torch.int32),
        "buckets32.bidirectional": relative_position_bucket(rel32, True, 32, 128).to(torch.int32),
        "buckets32.causal": relative_position_bucket(rel32, False, 32, 128).to(torch.int32),
    }


def metadata(spec):
    c = spec["config"]
    flag = {True: "true", False: "false"}
    return dict(model_type="t5", is_encoder_decoder="true", vocab_size=c.vocab_size, d_model=c.d_model, d_kv=c.d_kv,
                d_ff=c.d_ff, num_layers=c.num_layers, num_decoder_layers=c.num_decoder_layers, num_heads=c.num_heads,
                relative_attention_num_buckets=c.relative_attention_num_buckets,
                relative_attention_max_distance=c.relative_attention_max_distance,
                layer_norm_epsilon=c.layer_norm_epsilon, feed_forward_proj=c.feed_forward_proj,
                tie_word_embeddings=flag[c.tie_word_embeddings], decoder_start_token_id=c.decoder_start_token_id,
                pad_token_id=c.pad_token_id, batch=spec["batch"], encoder_length=spec["encoder_length"],
                decoder_length=spec["decoder_length"], steps=STEPS, lr=spec["lr"], weight_decay=spec["weight_decay"],
                beta1=spec["betas"][0], beta2=spec["betas"][1], eps=spec["eps"], max_grad_norm=spec["max_grad_norm"],
                seed=spec["seed"], torch_version=torch.__version__)


def make(spec):
    model = build(spec)
    out = {f"param.{n}": p.detach().clone() for n, p in model.named_parameters()}
    result = run(spec)
    order = ["input_ids", "labels", "decoder_input_ids", "logits", "loss"]
    out.update({k: result[k] for k in order})
    out.update({k: v for k, v in result.items() if k not in order})
    out.update(bucket_tables(spec["config"]))
    path = os.path.join(OUT_DIR, spec["name"] + ".safetensors")
    write_safetensors(path, out, metadata(spec))
    losses, norms = result["train.losses"].tolist(), result["train.grad_norms"].tolist()
    clipped = sum(1 for n in norms if n > spec["max_grad_norm"])
    print(f"{path}: {os.path.getsize(path)} bytes, {len(out)} tensors, loss {result['loss'].item():.6f}, "
          f"step losses {[round(v, 5) for v in losses]}, grad norms {[round(v, 4) for v in norms]} "
          f"(clipping bit on {clipped}/{STEPS} steps)")


# ---------------------------------------------------------------------------------------------------------------------
# self-checks (--check)

def scalar_bucket(rel, bidirectional, num_buckets, max_distance):
    """The bucket rule written out for one int in double precision, independent of the tensor code."""
    offset = 0
    if bidirectional:
        num_buckets //= 2
        offset = num_buckets if rel > 0 else 0
        n = abs(rel)
    else:
        n = max(-rel, 0)
    max_exact = num_buckets // 2
    if n < max_exact:
        return offset + n
    large = max_exact + int(math.log(n / max_exact) / math.log(max_distance / max_exact) * (num_buckets - max_exact))
    return offset + min(large, num_buckets - 1)


def max_rel(a, b):
    a, b = a.double(), b.double()
    return ((a - b).abs().max() / b.abs().max().clamp_min(1e-30)).item()


def check_float32_vs_float64(spec):
    r64, r32 = run(spec, torch.float64), run(spec, torch.float32)
    worst = {"logits": max_rel(r32["logits"], r64["logits"]), "loss": max_rel(r32["loss"], r64["loss"]),
             "train.losses": max_rel(r32["train.losses"], r64["train.losses"])}
    worst["grad.*"] = max(max_rel(r32[k], r64[k]) for k in r64 if k.startswith("grad."))
    worst["param_after.*"] = max(max_rel(r32[k], r64[k]) for k in r64 if k.startswith("param_after."))
    ok = worst["logits"] < 1e-5 and worst["grad.*"] < 1e-4 and worst["param_after.*"] < 1e-4
    print(f"  float32 vs float64 (max |diff| / max |ref|): " + ", ".join(f"{k} {v:.2e}" for k, v in worst.items()))
    return ok


def check_gradcheck(config):
    """torch.autograd.gradcheck (float64, central differences) of the loss in some parameters of a tiny model."""
    from torch.nn.utils.stateless import functional_call
    model = T5ForConditionalGeneration(config)
    model.init_weights(7)
    model = model.to(torch.float64)
    g = torch.Generator().manual_seed(8)
    x = torch.randint(1, config.vocab_size, (2, 5), generator=g)
    y = torch.randint(1, config.vocab_size, (2, 4), generator=g)
    y[1, -1] = -1
    params = dict(model.named_parameters())
    names = ["shared.weight", "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight",
             "decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight",
             "encoder.block.0.layer.0.SelfAttention.q.weight", "decoder.block.0.layer.1.EncDecAttention.k.weight",
             "decoder.block.0.layer.1.layer_norm.weight", "encoder.final_layer_norm.weight",
             [n for n in params if n.startswith("decoder.block.0.layer.2.DenseReluDense.wi")][0]]
    if not config.tie_word_embeddings:
        names.append("lm_head.weight")
    inputs = tuple(params[n].detach().clone().requires_grad_(True) for n in names)

    def loss_of(*tensors):
        return functional_call(model, dict(zip(names, tensors)), (x, y))[1]

    ok = torch.autograd.gradcheck(loss_of, inputs, eps=1e-6, atol=1e-7, rtol=1e-5)
    print(f"  gradcheck ({config.feed_forward_proj}, tied {config.tie_word_embeddings}) on "
          f"{sum(t.numel() for t in inputs)} elements of {len(names)} parameters: {ok}")
    return ok


def check_model_properties(spec):
    c = spec["config"]
    model = build(spec).to(torch.float64)
    generator = torch.Generator().manual_seed(spec["seed"] + 1)
    x, y = batch(generator, spec)
    ok = True
    with torch.no_grad():
        logits, loss = model(x, y)
        # the relative position bias matters, in each stack
        for stack in ("encoder", "decoder"):
            table = getattr(model, stack).block[0].layer[0].SelfAttention.relative_attention_bias.weight
            saved = table.clone()
            table.add_(torch.randn(table.shape, generator=generator, dtype=table.dtype))
            changed = model(x, y)[1]
            table.copy_(saved)
            print(f"  {stack} relative bias table perturbed: loss {loss.item():.6f} -> {changed.item():.6f}")
            ok &= abs(changed.item() - loss.item()) > 1e-3
        has_table = [n for n, _ in model.named_parameters() if "relative_attention_bias" in n]
        ok &= has_table == ["encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight",
                            "decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight"]
        # the head: tied scales by d_model^-0.5, untied does not
        hidden = model.decoder_hidden(x, shift_right(y, c.decoder_start_token_id))
        if c.tie_word_embeddings:
            expected = hidden @ model.shared.weight.t() / math.sqrt(c.d_model)
            unscaled = hidden @ model.shared.weight.t()
            print(f"  tied head: |logits - h C^-1/2 E^T| {(logits - expected).abs().max().item():.1e}, "
                  f"|logits - h E^T| {(logits - unscaled).abs().max().item():.2f}")
            ok &= (logits - expected).abs().max().item() < 1e-12 and (logits - unscaled).abs().max().item() > 0.1
        else:
            expected = hidden @ model.lm_head.weight.t()
            print(f"  untied head: |logits - h W^T| {(logits - expected).abs().max().item():.1e}")
            ok &= (logits - expected).abs().max().item() < 1e-12
        # decoder causal, encoder bidirectional
        t = 2
        y2 = y.clone()
        y2[:, t] = (y2[:, t] % (c.vocab_size - 1)) + 1 if y2[0, t] >= 0 else 1
        logits2 = model(x, y2)[0]
        causal_ok = (logits2[:, :t + 1] - logits[:, :t + 1]).abs().max().item() == 0.0 and \
            (logits2[:, t + 1] - logits[:, t + 1]).abs().max().item() > 1e-6
        x2 = x.clone()
        x2[:, -1] = (x2[:, -1] % (c.vocab_size - 1)) + 1
        logits3 = model(x2, y)[0]
        bidir_ok = ((logits3 - logits).abs().amax(dim=-1) > 1e-9).all().item()
        print(f"  decoder causal (label {t} moves only logits after {t}): {causal_ok}; encoder bidirectional "
              f"(last input token moves every logit): {bidir_ok}")
        ok &= causal_ok and bidir_ok
        # compute_bias against a loop over (query, key) with the scalar bucket rule
        for stack, bidirectional in (("encoder", True), ("decoder", False)):
            att = getattr(model, stack).block[0].layer[0].SelfAttention
            T = spec["encoder_length"]
            bias = att.compute_bias(T, T)[0]
            loop = torch.stack([torch.stack([att.relative_attention_bias.weight[
                scalar_bucket(kpos - qpos, bidirectional, c.relative_attention_num_buckets,
                              c.relative_attention_max_distance)] for kpos in range(T)]) for qpos in range(T)])
            ok &= torch.equal(bias, loop.permute(2, 0, 1))
        # decoder_input_ids
        shifted = shift_right(y, 0)
        ok &= shifted[:, 0].eq(0).all().item() and torch.equal(shifted[:, 1:].masked_fill(y[:, :-1] == -1, -1), y[:, :-1])
    print(f"  model properties ({spec['name']}): {ok}")
    return ok


def check_buckets():
    ok = True
    for nb, md, span in ((8, 20, BUCKET_RANGE), (6, 12, BUCKET_RANGE), (32, 128, BUCKET32_RANGE)):
        rel = torch.arange(-span, span + 1)
        for bidirectional in (True, False):
            table = relative_position_bucket(rel, bidirectional, nb, md).tolist()
            scalar = [scalar_bucket(r, bidirectional, nb, md) for r in rel.tolist()]
            diffs = [(r, a, b) for r, a, b in zip(rel.tolist(), table, scalar) if a != b]
            print(f"  buckets {nb}/{md} {'bidirectional' if bidirectional else 'causal'}: float32 (HF) vs double "
                  f"scalar differ at {len(diffs)} positions {diffs[:5]}; buckets used {sorted(set(table))}")
            ok &= not diffs
    return ok


def self_check():
    results = [check_buckets()]
    for spec in FIXTURES:
        results.append(check_float32_vs_float64(spec))
        results.append(check_model_properties(spec))
    results.append(check_gradcheck(T5Config(vocab_size=11, d_model=6, d_kv=4, d_ff=7, num_layers=2, num_decoder_layers=2,
                                            num_heads=2, relative_attention_num_buckets=6,
                                            relative_attention_max_distance=8)))
    results.append(check_gradcheck(T5Config(vocab_size=9, d_model=5, d_kv=3, d_ff=4, num_layers=1, num_decoder_layers=2,
                                            num_heads=2, relative_attention_num_buckets=4,
                                            relative_attention_max_distance=6, feed_forward_proj="gated-gelu",
                                            tie_word_embeddings=False)))
    print("self-check:", "PASS" if all(results) else "FAIL")
    return all(results)


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    for spec in FIXTURES:
        make(spec)
    if "--check" in sys.argv[1:] and not self_check():
        sys.exit(1)


if __name__ == "__main__":
    main()
