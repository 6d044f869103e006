"""GPT-2 in PyTorch with exactly LmForge's math, the oracle for the C# model (importable module).

Same architecture and conventions as src/LmForge.Models/Gpt/GptModel.cs:
  * token + position embedding, pre-LN blocks (ln_1 -> causal self-attention -> residual, ln_2 -> MLP -> residual),
    final ln_f, output projection tied to the token embedding (logits = x @ wte.weight.T);
  * GELU in GPT-2's tanh form; LayerNorm eps 1e-5; attention scaled by 1/sqrt(head size);
  * the embedding has padded_vocab_size rows (vocab rounded up to vocab_padding); the loss is the mean cross-entropy
    over the real vocabulary only (logits[..., :vocab_size]), targets of -1 are ignored;
  * linear weights as nn.Linear, (out, in); parameter names without Hugging Face's "transformer." prefix;
  * AdamW (torch.optim.AdamW) with weight decay on the matrices (dim >= 2) only, global-norm clipping by
    torch.nn.utils.clip_grad_norm_.

Needs only torch (Debian: apt-get install python3-torch). Works in float32 or float64 (model.to(torch.float64)).
"""

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from training_step import make_optimizer, train_step  # noqa: F401  (re-exported: the shared AdamW step)


@dataclass
class GptConfig:
    vocab_size: int
    context_length: int
    layer_count: int
    head_count: int
    width: int
    vocab_padding: int = 128

    @property
    def padded_vocab_size(self) -> int:
        if self.vocab_padding <= 0:
            return self.vocab_size
        return (self.vocab_size + self.vocab_padding - 1) // self.vocab_padding * self.vocab_padding


def gelu_tanh(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x * x * x)))


class CausalSelfAttention(nn.Module):
    def __init__(self, config: GptConfig):
        super().__init__()
        self.head_count = config.head_count
        self.c_attn = nn.Linear(config.width, 3 * config.width)
        self.c_proj = nn.Linear(config.width, config.width)

    def forward(self, x):
        B, T, C = x.shape
        hs = C // self.head_count
        q, k, v = self.c_attn(x).split(C, dim=2)
        q = q.view(B, T, self.head_count, hs).transpose(1, 2)  # (B, NH, T, hs)
        k = k.view(B, T, self.head_count, hs).transpose(1, 2)
        v = v.view(B, T, self.head_count, hs).transpose(1, 2)
        scores = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hs))  # (B, NH, T, T)
        mask = torch.ones(T, T, dtype=torch.bool, device=x.device).tril()
        scores = scores.masked_fill(~mask, float("-inf"))
        y = F.softmax(scores, dim=-1) @ v  # (B, NH, T, hs)
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return self.c_proj(y)


class Mlp(nn.Module):
    def __init__(self, config: GptConfig):
        super().__init__()
        self.c_fc = nn.Linear(config.width, 4 * config.width)
        self.c_proj = nn.Linear(4 * config.width, config.width)

    def forward(self, x):
        return self.c_proj(gelu_tanh(self.c_fc(x)))


class Block(nn.Module):
    def __init__(self, config: GptConfig):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.width, eps=1e-5)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.width, eps=1e-5)
        self.mlp = Mlp(config)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class Gpt(nn.Module):
    def __init__(self, config: GptConfig):
        super().__init__()
        self.config = config
        self.wte = nn.Embedding(config.padded_vocab_size, config.width)
        self.wpe = nn.Embedding(config.context_length, config.width)
        self.h = nn.ModuleList([Block(config) for _ in range(config.layer_count)])
        self.ln_f = nn.LayerNorm(config.width, eps=1e-5)

    def init_weights(self, seed: int):
        """GPT-2 init: N(0, 0.02), residual projections N(0, 0.02/sqrt(2L)), biases 0, LN gains 1, padded rows 0."""
        generator = torch.Generator().manual_seed(seed)
        residual_std = 0.02 / math.sqrt(2 * self.config.layer_count)
        with torch.no_grad():
            for name, p in self.named_parameters():
                if name.endswith(".bias"):
                    p.zero_()
                elif ".ln_" in name or name.startswith("ln_"):
                    p.fill_(1.0)
                else:
                    std = residual_std if name.endswith("c_proj.weight") else 0.02
                    p.copy_(torch.randn(p.shape, generator=generator, dtype=torch.float32) * std)
            self.wte.weight[self.config.vocab_size:].zero_()

    def forward(self, tokens, targets=None):
        B, T = tokens.shape
        if T > self.config.context_length:
            raise ValueError(f"sequence length {T} exceeds the context length {self.config.context_length}")
        positions = torch.arange(T, device=tokens.device)
        x = self.wte(tokens) + self.wpe(positions)
        for block in self.h:
            x = block(x)
        x = self.ln_f(x)
        logits = x @ self.wte.weight.t()  # (B, T, Vp), tied output projection
        loss = None
        if targets is not None:
            V = self.config.vocab_size
            loss = F.cross_entropy(logits[..., :V].reshape(-1, V), targets.reshape(-1), ignore_index=-1)
        return logits, loss
