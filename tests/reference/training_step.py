"""The optimizer and training step every PyTorch reference model here shares (importable module).

AdamW (torch.optim.AdamW) with weight decay on every 2-D weight (embeddings, projections, heads) and none on biases and
norm parameters, as LmForge's trainer decays a matrices-first prefix of its parameter buffer; one step zeroes the
gradients, runs forward and backward, clips the global gradient norm (torch.nn.utils.clip_grad_norm_) and updates.
A model is anything whose forward(tokens, targets) returns (logits, mean loss).
"""

import torch


def make_optimizer(model, learning_rate, weight_decay, betas=(0.9, 0.999), eps=1e-8):
    """AdamW with weight decay on every 2-D weight, none on the 1-D parameters (biases, norm gains)."""
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=learning_rate, betas=betas, eps=eps)


def train_step(model, optimizer, tokens, targets, max_grad_norm):
    """zero grads, forward, backward, clip the global norm, AdamW; returns (loss, gradient norm before clipping)."""
    optimizer.zero_grad(set_to_none=False)
    _, loss = model(tokens, targets)
    loss.backward()
    norm = torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
    optimizer.step()
    return loss.item(), float(norm)


def reference_run(model, next_batch, spec, steps):
    """What a model fixture holds besides its initial weights, in file order: a first batch's tokens, targets, logits,
    loss and every parameter's gradient, then `steps` clipped AdamW steps on the next batches (their tokens, targets,
    losses and gradient norms before clipping) and the parameters after them. next_batch() gives (tokens, targets)."""
    tokens, targets = next_batch()
    logits, loss = model(tokens, targets)
    loss.backward()
    out = {"tokens": tokens.to(torch.int32), "targets": targets.to(torch.int32), "logits": logits,
           "loss": loss.detach().reshape(1)}
    for n, p in model.named_parameters():
        out[f"grad.{n}"] = p.grad.detach().clone()

    optimizer = make_optimizer(model, spec["lr"], spec["weight_decay"], spec["betas"], spec["eps"])
    step_tokens, step_targets, losses, norms = [], [], [], []
    for _ in range(steps):
        x, y = next_batch()
        loss_value, norm = train_step(model, optimizer, x, y, spec["max_grad_norm"])
        step_tokens.append(x)
        step_targets.append(y)
        losses.append(loss_value)
        norms.append(norm)
    out["train.tokens"] = torch.stack(step_tokens).to(torch.int32)
    out["train.targets"] = torch.stack(step_targets).to(torch.int32)
    out["train.losses"] = torch.tensor(losses)
    out["train.grad_norms"] = torch.tensor(norms)
    for n, p in model.named_parameters():
        out[f"param_after.{n}"] = p.detach().clone()
    return out
