"""The timing both train-step peers share (importable module): AdamW as the C# side sets it (weight decay 0.1 on the
2-D weights, lr 3e-4, betas 0.9/0.95), random tokens, warm-up steps, then timed steps of forward, loss, backward,
clipping to norm 1.0 and update; prints one JSON line {"tokens_per_s", "ms_per_step", "params", "steps", "threads",
"loss_first", "loss_last"}."""
import json
import time

import torch

from training_step import make_optimizer, train_step


def time_train_steps(model, vocab, batch, seq, steps, warmup, target_seq=None):
    """target_seq: an encoder-decoder's target length (its inputs are `seq` tokens, its targets `target_seq` others);
    None for a single stack, whose targets are its inputs shifted by one."""
    optimizer = make_optimizer(model, learning_rate=3e-4, weight_decay=0.1, betas=(0.9, 0.95))
    generator = torch.Generator().manual_seed(20230828)
    if target_seq is None:
        tokens = torch.randint(0, vocab, (batch, seq + 1), generator=generator)
        inputs, targets = tokens[:, :-1].contiguous(), tokens[:, 1:].contiguous()
    else:
        inputs = torch.randint(0, vocab, (batch, seq), generator=generator)
        targets = torch.randint(0, vocab, (batch, target_seq), generator=generator)

    def step():
        loss, _ = train_step(model, optimizer, inputs, targets, max_grad_norm=1.0)
        return loss

    loss_first = None
    for _ in range(warmup):
        loss_first = step()
    start = time.perf_counter()
    loss_last = None
    for _ in range(steps):
        loss_last = step()
    seconds = time.perf_counter() - start

    print(json.dumps({
        "tokens_per_s": batch * seq * steps / seconds,
        "ms_per_step": 1000.0 * seconds / steps,
        "params": sum(p.numel() for p in model.parameters()),
        "steps": steps,
        "threads": torch.get_num_threads(),
        "loss_first": loss_first,
        "loss_last": loss_last,
    }))
