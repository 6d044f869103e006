#!/usr/bin/python3
"""PyTorch peer of the `train-step` benchmark: times GPT-2 training steps on random tokens.

One step = forward, cross-entropy loss, backward, gradient clipping to norm 1.0, AdamW update, exactly as the
LmForge trainer does it. The model is the reference GPT-2 of tests/reference/gpt2_torch.py (the same module the
correctness fixtures come from), built with the same configuration as the C# side.
Prints one JSON line: {"tokens_per_s", "ms_per_step", "params", "steps", "threads", "loss_first", "loss_last"}.
Run with Debian's /usr/bin/python3 (python3-torch 1.13), e.g.
  OMP_NUM_THREADS=2 OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 bench/peers/torch_train_step.py --layers 4 ...
"""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "reference"))
import gpt2_torch  # noqa: E402  (the reference model, shared with the fixture generators)
from train_step_timing import time_train_steps  # noqa: E402  (bench/peers/train_step_timing.py)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vocab", type=int, required=True, help="real vocabulary size (padded to a multiple of 128)")
    parser.add_argument("--context", type=int, required=True, help="n_positions")
    parser.add_argument("--layers", type=int, required=True)
    parser.add_argument("--heads", type=int, required=True)
    parser.add_argument("--width", type=int, required=True)
    parser.add_argument("--batch", type=int, required=True)
    parser.add_argument("--seq", type=int, required=True, help="tokens per sequence in a step")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(20230828)
    config = gpt2_torch.GptConfig(vocab_size=args.vocab, context_length=args.context, layer_count=args.layers,
                                  head_count=args.heads, width=args.width)
    model = gpt2_torch.Gpt(config)
    model.init_weights(20230828)
    model.train()
    time_train_steps(model, args.vocab, args.batch, args.seq, args.steps, args.warmup)


if __name__ == "__main__":
    main()
