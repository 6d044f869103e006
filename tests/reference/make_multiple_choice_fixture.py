#!/usr/bin/env python3
"""Writes the PyTorch oracle of multiple-choice scoring (llm.c's HellaSwag, nanochat's CORE) for the C# tests.

Prerequisite: PyTorch, e.g. on Debian/Ubuntu:  sudo apt-get install python3-torch   (tested with torch 1.13)
Regenerate:   OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 tests/reference/make_multiple_choice_fixture.py
Output:       tests/reference/fixtures/multiple_choice_gpt2.safetensors

A tiny GPT-2 (gpt2_torch.py, every parameter random) scores 12 made-up examples given as token ids: contexts of 1 to
22 tokens, 2 to 4 choices of 1 to 6 tokens. A choice is scored on the row context + choice, the context cut from the
left so the row fits the context length (16; one example's context of 22 tokens needs it): the model reads the row
without its last token and the loss is the cross-entropy of predicting the choice's tokens only. A choice's score is
the sum of those losses and their mean; acc picks the lowest sum, acc_norm the lowest mean (the first on a tie).
The fixture holds:
  param.<hf name>        the weights as Hugging Face's GPT2LMHeadModel saves them (transformer.wte.weight with the real
                         vocabulary rows, Conv1D (in, out) block matrices), float32
  context_tokens, context_offsets   the contexts flattened; example e is context_tokens[offsets[e]:offsets[e+1]]
  choice_tokens, choice_offsets     every choice flattened, in example order; choice_starts (E+1) the first choice of each example
  answers (E)            the right choice of each example
  expected_sum, expected_mean (choices)   each choice's summed and mean loss, computed in float64 from the float32 weights
  pick_sum, pick_mean (E)                 acc's and acc_norm's picks
and "__metadata__" with the config.
"""

import os
import sys

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from gpt2_torch import Gpt, GptConfig  # noqa: E402
from make_gpt2_fixtures import write_safetensors  # noqa: E402  (the same hand-written safetensors writer)

OUT = os.path.join(HERE, "fixtures", "multiple_choice_gpt2.safetensors")
CONFIG = GptConfig(vocab_size=53, context_length=16, layer_count=2, head_count=2, width=24)  # 53 pads to 128
CONV1D = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")
SEED = 4242
# (context length, choice lengths): varied; example 5's context of 22 tokens is cut to fit 16 with each choice
SHAPES = [(5, [3, 1, 4, 2]), (1, [2, 2]), (9, [6, 1, 3]), (3, [1, 1, 1, 1]), (12, [2, 3]), (22, [3, 5, 1, 2]),
          (7, [4, 4, 2]), (2, [5, 1]), (14, [1, 2, 2, 1]), (4, [3, 6]), (10, [2, 1, 4]), (6, [1, 5, 3, 2])]


def score(model, context, choice):
    """The summed and mean cross-entropy of the choice's tokens after the (left-cut) context."""
    kept = min(len(context), CONFIG.context_length - len(choice))
    row = context[len(context) - kept:] + choice
    tokens = torch.tensor([row[:-1]])
    targets = torch.full((1, len(row) - 1), -1, dtype=torch.int64)
    targets[0, kept - 1:] = torch.tensor(choice)
    logits, _ = model(tokens)
    V = CONFIG.vocab_size
    losses = F.cross_entropy(logits[0, :, :V], targets[0], ignore_index=-1, reduction="none")
    total = losses[targets[0] >= 0].sum().item()
    return total, total / len(choice)


def main():
    torch.manual_seed(SEED)
    model = Gpt(CONFIG)
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(torch.randn(p.shape) * (0.3 if p.dim() >= 2 else 0.5) + (1.0 if ".ln_" in name or name.startswith("ln_") else 0.0))
        model.wte.weight[CONFIG.vocab_size:].zero_()
    V = CONFIG.vocab_size
    out = {}
    for name, p in model.named_parameters():
        t = p.detach()
        if name == "wte.weight":
            t = t[:V]
        elif name.endswith(CONV1D):
            t = t.t()  # Conv1D stores (in, out)
        out["param.transformer." + name] = t.contiguous()

    generator = torch.Generator().manual_seed(SEED + 1)
    model = model.to(torch.float64)  # the oracle computes in double from the float32 weights
    contexts, choices, starts, answers, sums, means, pick_sum, pick_mean = [], [], [0], [], [], [], [], []
    with torch.no_grad():
        for context_length, choice_lengths in SHAPES:
            context = torch.randint(0, V, (context_length,), generator=generator).tolist()
            options = [torch.randint(0, V, (n,), generator=generator).tolist() for n in choice_lengths]
            answer = int(torch.randint(0, len(options), (1,), generator=generator))
            scores = [score(model, context, o) for o in options]
            contexts.append(context)
            choices.extend(options)
            starts.append(len(choices))
            answers.append(answer)
            sums.extend(s for s, _ in scores)
            means.extend(m for _, m in scores)
            pick_sum.append(min(range(len(scores)), key=lambda i: (scores[i][0], i)))
            pick_mean.append(min(range(len(scores)), key=lambda i: (scores[i][1], i)))

    def flat(lists):
        offsets = [0]
        for items in lists:
            offsets.append(offsets[-1] + len(items))
        return torch.tensor([t for items in lists for t in items], dtype=torch.int32), torch.tensor(offsets, dtype=torch.int32)

    out["context_tokens"], out["context_offsets"] = flat(contexts)
    out["choice_tokens"], out["choice_offsets"] = flat(choices)
    out["choice_starts"] = torch.tensor(starts, dtype=torch.int32)
    out["answers"] = torch.tensor(answers, dtype=torch.int32)
    out["expected_sum"] = torch.tensor(sums, dtype=torch.float64)
    out["expected_mean"] = torch.tensor(means, dtype=torch.float64)
    out["pick_sum"] = torch.tensor(pick_sum, dtype=torch.int32)
    out["pick_mean"] = torch.tensor(pick_mean, dtype=torch.int32)
    metadata = dict(vocab_size=V, context_length=CONFIG.context_length, layer_count=CONFIG.layer_count,
                    head_count=CONFIG.head_count, width=CONFIG.width, examples=len(SHAPES), torch_version=torch.__version__)
    write_safetensors(OUT, out, metadata)
    differ = sum(1 for a, b in zip(pick_sum, pick_mean) if a != b)
    acc = sum(1 for p, a in zip(pick_sum, answers) if p == a) / len(answers)
    acc_norm = sum(1 for p, a in zip(pick_mean, answers) if p == a) / len(answers)
    print(f"{OUT}: {os.path.getsize(OUT)} bytes, {len(SHAPES)} examples, {len(choices)} choices; acc {acc:.3f}, "
          f"acc_norm {acc_norm:.3f}; acc and acc_norm pick differently on {differ} examples")
    assert differ > 0, "no example where acc and acc_norm differ: change SEED"


if __name__ == "__main__":
    main()
