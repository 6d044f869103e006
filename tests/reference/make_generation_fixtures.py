#!/usr/bin/python3
"""Writes tests/reference/generation/{gpt2,llama}/: random models as Hugging Face checkpoints, and their greedy
continuations computed by PyTorch with a KV cache: the reference for LmForge's inference sessions.

Prerequisite: PyTorch, e.g. on Debian/Ubuntu:  sudo apt-get install python3-torch   (tested with torch 1.13)
Regenerate:   OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 tests/reference/make_generation_fixtures.py   (a few seconds)

Each directory holds
  config.json, model.safetensors   the model, in exactly the layout LmForge's checkpoint loaders read:
      gpt2/   as make_gpt2_hf_checkpoint.py writes it (transformers' GPT2LMHeadModel: "transformer." names, Conv1D
              (in, out) block matrices, wte with the real vocabulary rows only, tied lm_head.weight, the attn.bias /
              attn.masked_bias mask buffers; model_type "gpt2"); vocab 300, n_positions 128, 2 layers, 4 heads,
              n_embd 64;
      llama/  as make_llama_fixtures.py writes llama_hf_tiny (transformers' LlamaForCausalLM, tensors by name;
              model_type "llama"); vocab 300, max_position_embeddings 128, 2 layers, 4 heads, 2 kv heads (grouped-
              query attention), hidden 64, intermediate 160, rope_theta 10000, rms_norm_eps 1e-5, untied lm_head;
  expected.json   {"family", "dtype", "max_new_tokens", "seed", "min_top1_top2_gap", ..., "cases": [{"prompt":
      [token ids], "continuation": [32 token ids], "top1_top2_gaps": [32 floats], "first_logits": [V floats]}]}
      for prompts of 1, 5, 17, 40 and 96 tokens (96 + 32 = 128 fills the context exactly).
The continuation is greedy (argmax over the real vocabulary) in float32 with a KV cache (kv_cache_torch.py): the prompt
prefilled in one forward, then one forward of one position per token; 32 new tokens (the last one is not fed back).
top1_top2_gaps[i] is the float32 top-1 logit minus the top-2 logit at step i (first_logits: the prefill's logits, the
distribution of continuation[0]); every gap is at least MIN_GAP, so an implementation within float32 rounding of this
one makes the same choices. A sequence is independent of the others in a batch: batching the cases (padded or of
equal lengths) must give the same continuations.
Weights are random with a fixed seed and a large init std (INIT_STD; the layer-norm / RMSNorm gains 1 + N(0, 0.1),
GPT-2's biases N(0, 0.1)) so that the continuations are varied, not one token repeated. The seeds were picked among
0..29 for the largest smallest gap. Checked before writing: the cached continuation equals a no-cache recomputation of
the whole sequence at every step in float32 and in float64, cached logits agree with the no-cache ones, batching two
sequences gives the same continuation, and every continuation has at least MIN_DISTINCT distinct tokens.
"""

import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import kv_cache_torch  # noqa: E402
from gpt2_torch import Gpt, GptConfig  # noqa: E402
from llama_torch import LlamaConfig, LlamaForCausalLM  # noqa: E402
from make_gpt2_fixtures import write_safetensors  # noqa: E402
from make_gpt2_hf_checkpoint import CONV1D, safetensors_bytes  # noqa: E402
from make_llama_fixtures import hf_config as llama_hf_config  # noqa: E402

OUT = os.path.join(HERE, "generation")
PROMPT_LENGTHS = [1, 5, 17, 40, 96]
NEW_TOKENS = 32
INIT_STD = 0.3
MIN_GAP = 1e-3
MIN_DISTINCT = 8

GPT2_SEED = 3
GPT2_CONFIG = GptConfig(vocab_size=300, context_length=128, layer_count=2, head_count=4, width=64)
LLAMA_SEED = 24
LLAMA_CONFIG = LlamaConfig(vocab_size=300, hidden_size=64, intermediate_size=160, num_hidden_layers=2,
                           num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
                           rms_norm_eps=1e-5, rope_theta=10000.0)


def gpt2_model(seed):
    model = Gpt(GPT2_CONFIG)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            r = torch.randn(p.shape, generator=generator, dtype=torch.float32)
            if p.dim() >= 2:
                p.copy_(r * INIT_STD)
            elif name.endswith("weight"):  # ln_1, ln_2, ln_f gains
                p.copy_(1.0 + 0.1 * r)
            else:  # biases, layer-norm shifts included
                p.copy_(0.1 * r)
        model.wte.weight[GPT2_CONFIG.vocab_size:].zero_()  # the padding rows are not part of the checkpoint
    return model


def llama_model(seed):
    model = LlamaForCausalLM(LLAMA_CONFIG)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            r = torch.randn(p.shape, generator=generator, dtype=torch.float32)
            p.copy_(1.0 + 0.1 * r if name.endswith("norm.weight") else r * INIT_STD)
    return model


def write_gpt2_checkpoint(model, directory):
    """make_gpt2_hf_checkpoint.py's layout, for this model."""
    c = model.config
    V, n = c.vocab_size, c.context_length
    tensors = {}
    for name, p in model.named_parameters():
        t = p.detach()
        if name == "wte.weight":
            t = t[:V]
        elif name.endswith(CONV1D):
            t = t.t()  # Conv1D stores (in, out)
        tensors["transformer." + name] = ("F32", t)
    for i in range(c.layer_count):
        tensors[f"transformer.h.{i}.attn.bias"] = ("BOOL", torch.tril(torch.ones(n, n, dtype=torch.bool)).view(1, 1, n, n))
        tensors[f"transformer.h.{i}.attn.masked_bias"] = ("F32", torch.tensor(-1e4))
    tensors["lm_head.weight"] = ("F32", model.wte.weight.detach()[:V])
    config = {
        "activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"], "attn_pdrop": 0.1,
        "bos_token_id": V - 1, "embd_pdrop": 0.1, "eos_token_id": V - 1, "initializer_range": 0.02,
        "layer_norm_epsilon": 1e-05, "model_type": "gpt2", "n_ctx": n, "n_embd": c.width,
        "n_head": c.head_count, "n_inner": None, "n_layer": c.layer_count, "n_positions": n,
        "reorder_and_upcast_attn": False, "resid_pdrop": 0.1, "scale_attn_by_inverse_layer_idx": False,
        "scale_attn_weights": True, "summary_activation": None, "summary_first_dropout": 0.1,
        "summary_proj_to_labels": True, "summary_type": "cls_index", "summary_use_proj": True,
        "torch_dtype": "float32", "transformers_version": "4.35.2", "use_cache": True, "vocab_size": V,
    }
    with open(os.path.join(directory, "model.safetensors"), "wb") as f:
        f.write(safetensors_bytes(tensors, {"format": "pt"}))
    with open(os.path.join(directory, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")


def write_llama_checkpoint(model, directory):
    """make_llama_fixtures.py's llama_hf_tiny layout, for this model."""
    tensors = {n: p.detach().clone() for n, p in sorted(model.named_parameters())}
    write_safetensors(os.path.join(directory, "model.safetensors"), tensors, {"format": "pt"})
    with open(os.path.join(directory, "config.json"), "w") as f:
        f.write(llama_hf_config(model.config))


def prompts(seed, vocab):
    generator = torch.Generator().manual_seed(seed + 1000)
    return [torch.randint(0, vocab, (1, length), generator=generator) for length in PROMPT_LENGTHS]


def cases(family, model, seed):
    """The expected continuations, after checking them against the no-cache and float64 computations."""
    V = model.config.vocab_size
    model64 = Gpt(model.config) if family == "gpt2" else LlamaForCausalLM(model.config)
    model64.load_state_dict(model.state_dict())
    model64 = model64.to(torch.float64)
    out, worst_logit_diff = [], 0.0
    for prompt in prompts(seed, V):
        tokens, gaps, logits = kv_cache_torch.greedy_generate(model, prompt, NEW_TOKENS)
        label = f"{family} prompt of {prompt.shape[1]}"

        plain_tokens, plain_logits = kv_cache_torch.greedy_generate_no_cache(model, prompt, NEW_TOKENS)
        assert torch.equal(tokens, plain_tokens), f"{label}: cached {tokens.tolist()} != no-cache {plain_tokens.tolist()}"
        worst_logit_diff = max(worst_logit_diff, (logits - plain_logits).abs().max().item())
        tokens64, _, logits64 = kv_cache_torch.greedy_generate(model64, prompt, NEW_TOKENS)
        plain64, _ = kv_cache_torch.greedy_generate_no_cache(model64, prompt, NEW_TOKENS)
        assert torch.equal(tokens, tokens64) and torch.equal(tokens, plain64), f"{label}: float32 and float64 differ"
        # a batch of two sequences of the same length (the prompt and its reverse) decodes each as alone
        batch = torch.cat([prompt, prompt.flip(1)], dim=0)
        batch_tokens, _, _ = kv_cache_torch.greedy_generate(model, batch, NEW_TOKENS)
        assert torch.equal(batch_tokens[:1], tokens), f"{label}: batched continuation differs"

        assert gaps.min().item() >= MIN_GAP, f"{label}: top-1/top-2 gap {gaps.min().item()} < {MIN_GAP}"
        distinct = len(set(tokens[0].tolist()))
        assert distinct >= MIN_DISTINCT, f"{label}: only {distinct} distinct tokens"
        out.append({
            "prompt": prompt[0].tolist(),
            "continuation": tokens[0].tolist(),
            "top1_top2_gaps": [float(g) for g in gaps[0].tolist()],
            "first_logits": [float(v) for v in logits[0, 0].tolist()],
            "distinct_tokens": distinct,
            "max_abs_logit": float(logits.abs().max()),
            "max_float64_logit_diff": float((logits.double() - logits64).abs().max()),
        })
    return out, worst_logit_diff


def expected_json(expected):
    """JSON with one field per line and each list on one line (diffable, readable)."""
    lines = []
    for key, value in expected.items():
        if key == "cases":
            cases_text = ",\n".join("  {\n" + ",\n".join(f"   {json.dumps(k)}: {json.dumps(v)}" for k, v in case.items())
                                    + "\n  }" for case in value)
            lines.append(f" {json.dumps(key)}: [\n{cases_text}\n ]")
        else:
            lines.append(f" {json.dumps(key)}: {json.dumps(value)}")
    text = "{\n" + ",\n".join(lines) + "\n}\n"
    assert json.loads(text) == expected
    return text


def make(family, model, seed, write_checkpoint):
    directory = os.path.join(OUT, family)
    os.makedirs(directory, exist_ok=True)
    model.eval()
    out, worst_logit_diff = cases(family, model, seed)
    min_gap = min(min(c["top1_top2_gaps"]) for c in out)
    expected = {
        "family": family,
        "dtype": "float32",
        "decoding": "greedy (argmax over the real vocabulary), KV cache: prompt prefilled in one forward, then one "
                    "forward of one position per new token",
        "max_new_tokens": NEW_TOKENS,
        "seed": seed,
        "init_std": INIT_STD,
        "min_top1_top2_gap": min_gap,
        "torch_version": torch.__version__,
        "cases": out,
    }
    write_checkpoint(model, directory)
    with open(os.path.join(directory, "expected.json"), "w") as f:
        f.write(expected_json(expected))
    sizes = {name: os.path.getsize(os.path.join(directory, name)) for name in sorted(os.listdir(directory))}
    print(f"{directory}: {sizes}")
    print(f"  prompts {[len(c['prompt']) for c in out]}, min top-1/top-2 gap {min_gap:.5f}, distinct tokens "
          f"{[c['distinct_tokens'] for c in out]}, max |logit| {max(c['max_abs_logit'] for c in out):.2f}, "
          f"cached vs no-cache logits max diff {worst_logit_diff:.2e}, "
          f"vs float64 {max(c['max_float64_logit_diff'] for c in out):.2e}")


def main():
    torch.set_num_threads(min(2, torch.get_num_threads()))
    torch.manual_seed(0)  # the modules' default init is overwritten; this only makes their construction reproducible
    make("gpt2", gpt2_model(GPT2_SEED), GPT2_SEED, write_gpt2_checkpoint)
    make("llama", llama_model(LLAMA_SEED), LLAMA_SEED, write_llama_checkpoint)


if __name__ == "__main__":
    main()
