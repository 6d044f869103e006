#!/usr/bin/python3
"""PyTorch peer of the `generate` benchmark: times prefill and KV-cached greedy decoding of a random GPT-2 or Llama.

The model is the reference GPT-2 (tests/reference/gpt2_torch.py) or Llama (llama_torch.py) with random weights
(init_weights, std 0.02), float32, torch.no_grad, --threads threads, decoded with the KV cache of
tests/reference/kv_cache_torch.py (the module tests/reference/make_generation_fixtures.py checks against full
recomputation): keys/values of past positions in preallocated per-layer buffers, each new token one forward of one
position, logits of the last position only, greedy argmax over the real vocabulary. The argmax and the feeding of the
token back are part of each timed decode step. Each measurement is preceded by an untimed warm-up run of the same
prompt shape (with at most 16 decode steps).
  (a) decode1:  a 1-token prompt (prefilled, untimed), then --new-tokens decode steps of batch 1: decode1_tokens_per_s;
  (b) prefill:  a --prompt-token prompt in one forward (prefill_tokens_per_s = prompt tokens / time), then --new-tokens
                decode steps after it (decode_after_prefill_tokens_per_s; the attention spans prompt + new positions);
  (c) --batch B (optional, > 0): B sequences with prompts of --batch-prompt tokens (default 1), prefilled together
                (batch_prefill_tokens_per_s = B * batch-prompt / time), then --new-tokens decode steps of all B
                sequences at once: batch_decode_tokens_per_s = B * new-tokens / time (aggregate).
--repeats R times every measurement R times (after the warm-up) and reports the median.
Prints one JSON line: {"family", "params", "threads", "new_tokens", "prompt_tokens", "decode1_tokens_per_s",
"decode1_ms_per_token", "prefill_tokens_per_s", "prefill_ms", "decode_after_prefill_tokens_per_s",
"decode_after_prefill_ms_per_token", "batch", "batch_prompt_tokens", "batch_prefill_tokens_per_s",
"batch_decode_tokens_per_s", "batch_decode_ms_per_step", "repeats"} (the batch figures are null without --batch).
Run with Debian's /usr/bin/python3 (python3-torch 1.13), e.g. GPT-2 124M:
  OMP_NUM_THREADS=2 OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 bench/peers/torch_generate.py --family gpt2 \
      --vocab 50257 --context 1024 --layers 12 --heads 12 --width 768 --batch 8
  ... --family llama --vocab 4096 --context 1024 --layers 4 --heads 4 --kv-heads 2 --width 128 --intermediate 344
"""
import argparse
import json
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "reference"))
import gpt2_torch  # noqa: E402  (the reference models, shared with the fixture generators)
import kv_cache_torch  # noqa: E402
import llama_torch  # noqa: E402

SEED = 20230828
WARMUP_STEPS = 16


def build_model(args):
    torch.manual_seed(SEED)
    if args.family == "gpt2":
        config = gpt2_torch.GptConfig(vocab_size=args.vocab, context_length=args.context, layer_count=args.layers,
                                      head_count=args.heads, width=args.width)
        model = gpt2_torch.Gpt(config)
    else:
        if args.intermediate is None:
            raise SystemExit("--family llama needs --intermediate")
        config = llama_torch.LlamaConfig(vocab_size=args.vocab, hidden_size=args.width,
                                         intermediate_size=args.intermediate, num_hidden_layers=args.layers,
                                         num_attention_heads=args.heads, num_key_value_heads=args.kv_heads or args.heads,
                                         max_position_embeddings=args.context, rms_norm_eps=args.rms_norm_eps,
                                         rope_theta=args.rope_theta)
        model = llama_torch.LlamaForCausalLM(config)
    model.init_weights(SEED)
    return model.eval()


def prefill(model, prompt, capacity):
    """A fresh cache with the prompt in it; returns (cache, next tokens (B,), seconds of the prefill forward)."""
    cache = kv_cache_torch.make_cache(model, prompt.shape[0], capacity)
    start = time.perf_counter()
    logits = kv_cache_torch.forward_cached(model, prompt, cache)[:, -1]
    token = logits.argmax(dim=-1)
    return cache, token, time.perf_counter() - start


def decode(model, cache, token, steps):
    """`steps` greedy decode steps of every sequence in the cache (one position each); returns seconds."""
    start = time.perf_counter()
    for _ in range(steps):
        token = kv_cache_torch.forward_cached(model, token[:, None], cache)[:, -1].argmax(dim=-1)
    return time.perf_counter() - start


def median_of(repeats, measure, steps):
    """Runs measure(steps) `repeats` times after an untimed warm-up run (the same prompt shape, at most WARMUP_STEPS
    decode steps); the median of each returned figure."""
    measure(min(steps, WARMUP_STEPS))
    runs = [measure(steps) for _ in range(repeats)]
    return [statistics.median(values) for values in zip(*runs)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", choices=["gpt2", "llama"], default="gpt2")
    parser.add_argument("--vocab", type=int, required=True, help="vocabulary size (GPT-2: padded to a multiple of 128)")
    parser.add_argument("--context", type=int, required=True, help="n_positions / max_position_embeddings")
    parser.add_argument("--layers", type=int, required=True)
    parser.add_argument("--heads", type=int, required=True)
    parser.add_argument("--kv-heads", type=int, default=None, help="llama: num_key_value_heads (default: --heads)")
    parser.add_argument("--width", type=int, required=True, help="n_embd / hidden_size")
    parser.add_argument("--intermediate", type=int, default=None, help="llama: intermediate_size of the SwiGLU MLP")
    parser.add_argument("--rope-theta", type=float, default=10000.0, help="llama")
    parser.add_argument("--rms-norm-eps", type=float, default=1e-6, help="llama")
    parser.add_argument("--new-tokens", type=int, default=256, help="decode steps timed in each measurement")
    parser.add_argument("--prompt", type=int, default=512, help="prompt tokens of the prefill measurement")
    parser.add_argument("--batch", type=int, default=0, help="sequences decoded together in (c); 0: skip (c)")
    parser.add_argument("--batch-prompt", type=int, default=1, help="prompt tokens of each sequence in (c)")
    parser.add_argument("--repeats", type=int, default=1, help="timed runs per measurement (median reported)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    for name, prompt in (("--prompt", args.prompt), ("--batch-prompt", args.batch_prompt), ("1-token prompt", 1)):
        if prompt + args.new_tokens > args.context:
            raise SystemExit(f"{name} {prompt} + --new-tokens {args.new_tokens} exceed --context {args.context}")

    torch.set_num_threads(args.threads)
    model = build_model(args)
    generator = torch.Generator().manual_seed(SEED)

    def random_prompt(batch, length):
        return torch.randint(0, args.vocab, (batch, length), generator=generator)

    with torch.no_grad():
        # (a) batch 1, 1-token prompt
        def measure_decode1(steps):
            cache, token, _ = prefill(model, random_prompt(1, 1), 1 + steps)
            return [decode(model, cache, token, steps)]
        (decode1_s,) = median_of(args.repeats, measure_decode1, args.new_tokens)

        # (b) batch 1, P-token prompt
        def measure_prefill(steps):
            cache, token, prefill_s = prefill(model, random_prompt(1, args.prompt), args.prompt + steps)
            return [prefill_s, decode(model, cache, token, steps)]
        prefill_s, decode_after_s = median_of(args.repeats, measure_prefill, args.new_tokens)

        # (c) B sequences together
        batch_prefill_s = batch_decode_s = None
        if args.batch > 0:
            def measure_batch(steps):
                cache, token, prefill_s = prefill(model, random_prompt(args.batch, args.batch_prompt),
                                                  args.batch_prompt + steps)
                return [prefill_s, decode(model, cache, token, steps)]
            batch_prefill_s, batch_decode_s = median_of(args.repeats, measure_batch, args.new_tokens)

    n = args.new_tokens
    print(json.dumps({
        "family": args.family,
        "params": sum(p.numel() for p in model.parameters()),
        "threads": torch.get_num_threads(),
        "new_tokens": n,
        "prompt_tokens": args.prompt,
        "decode1_tokens_per_s": n / decode1_s,
        "decode1_ms_per_token": 1000.0 * decode1_s / n,
        "prefill_tokens_per_s": args.prompt / prefill_s,
        "prefill_ms": 1000.0 * prefill_s,
        "decode_after_prefill_tokens_per_s": n / decode_after_s,
        "decode_after_prefill_ms_per_token": 1000.0 * decode_after_s / n,
        "batch": args.batch or None,
        "batch_prompt_tokens": args.batch_prompt if args.batch else None,
        "batch_prefill_tokens_per_s": args.batch * args.batch_prompt / batch_prefill_s if args.batch else None,
        "batch_decode_tokens_per_s": args.batch * n / batch_decode_s if args.batch else None,
        "batch_decode_ms_per_step": 1000.0 * batch_decode_s / n if args.batch else None,
        "repeats": args.repeats,
    }))


if __name__ == "__main__":
    main()
