"""Llama in plain PyTorch with Hugging Face LlamaForCausalLM's math, the oracle for the C# Llama model (importable module).

Follows transformers' modeling_llama.py (eager attention, no cache, no rope_scaling):
  * token embedding model.embed_tokens (V, C), vocabulary not padded; untied output head lm_head (V, C);
  * pre-norm decoder layers: input_layernorm -> self_attn -> residual, post_attention_layernorm -> mlp -> residual;
    final model.norm, then logits = lm_head(x), (B, T, V);
  * RMSNorm: x * rsqrt(mean(x^2) + eps) then * weight (HF upcasts half precision to float32 first; float32 and
    float64 inputs are computed in their own dtype here, so a float64 model stays float64 throughout);
  * attention: q_proj (NH*hs, C), k_proj/v_proj (NKV*hs, C), o_proj (C, NH*hs), no biases; rotary embedding in the
    rotate_half convention on q and k at positions 0..T-1; grouped-query attention by repeat_kv (query head h uses
    kv head h // (NH / NKV)); causal softmax of q k^T / sqrt(hs);
  * MLP: down_proj(silu(gate_proj(x)) * up_proj(x)), gate/up (I, C), down (C, I), no biases;
  * loss: mean cross-entropy of logits (B, T, V) against targets (B, T) given separately (no shift inside the
    model, as in gpt2_torch.py), targets of -1 ignored;
  * parameter names and shapes exactly Hugging Face's (model.layers.{i}.self_attn.q_proj.weight, ..., lm_head.weight),
    linear weights (out, in) as nn.Linear; the rotary inv_freq is a buffer, not a parameter (not in checkpoints);
  * AdamW (torch.optim.AdamW) with weight decay on every 2-D weight (embedding, projections, lm_head) and none on the
    RMSNorm weights, global-norm clipping by torch.nn.utils.clip_grad_norm_.

RoPE numerics: inv_freq = 1 / (rope_theta ** (arange(0, hs, 2) / hs)) is computed exactly as transformers does it, in
float32 (int64 arange -> float32, then float32 division, power and reciprocal), whatever the model's dtype; the
angles position * inv_freq and their cos/sin are then computed in the model's dtype (HF computes them in float32 even
for a float64 model; here a float64 model takes the float32 inv_freq as a constant, like a weight, and does the rest
in float64, so the float64 oracle has no float32 rounding beyond that of its inputs).

Needs only torch (Debian: apt-get install python3-torch). Works in float32 or float64 (model.to(torch.float64)).
"""

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from training_step import make_optimizer, train_step  # noqa: F401  (re-exported: the shared AdamW step)


@dataclass
class LlamaConfig:
    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    max_position_embeddings: int
    rms_norm_eps: float = 1e-6
    rope_theta: float = 10000.0
    initializer_range: float = 0.02

    def __post_init__(self):
        if self.hidden_size % self.num_attention_heads != 0:
            raise ValueError(f"hidden_size {self.hidden_size} is not a multiple of num_attention_heads {self.num_attention_heads}")
        if self.num_attention_heads % self.num_key_value_heads != 0:
            raise ValueError(f"num_attention_heads {self.num_attention_heads} is not a multiple of num_key_value_heads {self.num_key_value_heads}")
        if self.head_dim % 2 != 0:
            raise ValueError(f"head_dim {self.head_dim} must be even for the rotary embedding")

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads


def rope_inv_freq(head_dim: int, theta: float) -> torch.Tensor:
    """transformers' _compute_default_rope_parameters: float32, (head_dim / 2,)."""
    return 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim))


def rope_cos_sin(inv_freq: torch.Tensor, seq_len: int, dtype, device=None):
    """cos and sin (T, hs) of the angles position * inv_freq, duplicated over both halves (emb = cat(freqs, freqs))."""
    positions = torch.arange(seq_len, device=device).to(dtype)
    freqs = positions[:, None] * inv_freq.to(device=device, dtype=dtype)[None, :]  # (T, hs/2)
    emb = torch.cat((freqs, freqs), dim=-1)  # (T, hs)
    return emb.cos(), emb.sin()


def rotate_half(x):
    x1 = x[..., : x.shape[-1] // 2]
    x2 = x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def apply_rotary_pos_emb(q, k, cos, sin):
    """q (B, NH, T, hs), k (B, NKV, T, hs), cos/sin (T, hs)."""
    return q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin


def repeat_kv(x, n_rep: int):
    """(B, NKV, T, hs) -> (B, NKV * n_rep, T, hs); kv head j serves query heads j*n_rep .. j*n_rep + n_rep - 1."""
    if n_rep == 1:
        return x
    B, nkv, T, hs = x.shape
    return x[:, :, None, :, :].expand(B, nkv, n_rep, T, hs).reshape(B, nkv * n_rep, T, hs)


class LlamaRMSNorm(nn.Module):
    def __init__(self, hidden_size: int, eps: float):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden_size))
        self.variance_epsilon = eps

    def forward(self, x):
        input_dtype = x.dtype
        h = x.float() if input_dtype in (torch.float16, torch.bfloat16) else x
        variance = h.pow(2).mean(-1, keepdim=True)
        h = h * torch.rsqrt(variance + self.variance_epsilon)
        return self.weight * h.to(input_dtype)


class LlamaAttention(nn.Module):
    def __init__(self, config: LlamaConfig):
        super().__init__()
        self.num_heads = config.num_attention_heads
        self.num_key_value_heads = config.num_key_value_heads
        self.head_dim = config.head_dim
        C = config.hidden_size
        self.q_proj = nn.Linear(C, self.num_heads * self.head_dim, bias=False)
        self.k_proj = nn.Linear(C, self.num_key_value_heads * self.head_dim, bias=False)
        self.v_proj = nn.Linear(C, self.num_key_value_heads * self.head_dim, bias=False)
        self.o_proj = nn.Linear(self.num_heads * self.head_dim, C, bias=False)

    def forward(self, x, cos, sin):
        B, T, _ = x.shape
        hs = self.head_dim
        q = self.q_proj(x).view(B, T, self.num_heads, hs).transpose(1, 2)  # (B, NH, T, hs)
        k = self.k_proj(x).view(B, T, self.num_key_value_heads, hs).transpose(1, 2)  # (B, NKV, T, hs)
        v = self.v_proj(x).view(B, T, self.num_key_value_heads, hs).transpose(1, 2)
        q, k = apply_rotary_pos_emb(q, k, cos, sin)
        n_rep = self.num_heads // self.num_key_value_heads
        k, v = repeat_kv(k, n_rep), repeat_kv(v, n_rep)
        scores = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hs))  # (B, NH, T, T)
        mask = torch.ones(T, T, dtype=torch.bool, device=x.device).tril()
        scores = scores.masked_fill(~mask, float("-inf"))
        y = F.softmax(scores, dim=-1) @ v  # (B, NH, T, hs)
        y = y.transpose(1, 2).reshape(B, T, self.num_heads * hs)
        return self.o_proj(y)


class LlamaMLP(nn.Module):
    def __init__(self, config: LlamaConfig):
        super().__init__()
        self.gate_proj = nn.Linear(config.hidden_size, config.intermediate_size, bias=False)
        self.up_proj = nn.Linear(config.hidden_size, config.intermediate_size, bias=False)
        self.down_proj = nn.Linear(config.intermediate_size, config.hidden_size, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class LlamaDecoderLayer(nn.Module):
    def __init__(self, config: LlamaConfig):
        super().__init__()
        # same attribute order as transformers, so named_parameters() (and the init order) match
        self.self_attn = LlamaAttention(config)
        self.mlp = LlamaMLP(config)
        self.input_layernorm = LlamaRMSNorm(config.hidden_size, config.rms_norm_eps)
        self.post_attention_layernorm = LlamaRMSNorm(config.hidden_size, config.rms_norm_eps)

    def forward(self, x, cos, sin):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin)
        return x + self.mlp(self.post_attention_layernorm(x))


class LlamaModel(nn.Module):
    def __init__(self, config: LlamaConfig):
        super().__init__()
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size)
        self.layers = nn.ModuleList([LlamaDecoderLayer(config) for _ in range(config.num_hidden_layers)])
        self.norm = LlamaRMSNorm(config.hidden_size, config.rms_norm_eps)
        # float32 whatever the model dtype (model.to(float64) must not recompute it): kept outside the module tree
        self._inv_freq = rope_inv_freq(config.head_dim, config.rope_theta)

    def forward(self, tokens):
        T = tokens.shape[1]
        x = self.embed_tokens(tokens)
        cos, sin = rope_cos_sin(self._inv_freq, T, x.dtype, x.device)
        for layer in self.layers:
            x = layer(x, cos, sin)
        return self.norm(x)


class LlamaForCausalLM(nn.Module):
    def __init__(self, config: LlamaConfig):
        super().__init__()
        self.config = config
        self.model = LlamaModel(config)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)

    def init_weights(self, seed: int):
        """Hugging Face Llama init: every matrix N(0, initializer_range) (no residual scaling), RMSNorm weights 1.
        Deterministic: float32 draws from a generator seeded with `seed`, in named_parameters() order."""
        generator = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for name, p in self.named_parameters():
                if name.endswith("norm.weight"):  # input_layernorm, post_attention_layernorm, model.norm
                    p.fill_(1.0)
                else:
                    p.copy_(torch.randn(p.shape, generator=generator, dtype=torch.float32) * self.config.initializer_range)

    def forward(self, tokens, targets=None):
        B, T = tokens.shape
        if T > self.config.max_position_embeddings:
            raise ValueError(f"sequence length {T} exceeds max_position_embeddings {self.config.max_position_embeddings}")
        logits = self.lm_head(self.model(tokens))  # (B, T, V)
        loss = None
        if targets is not None:
            V = self.config.vocab_size
            loss = F.cross_entropy(logits.reshape(-1, V), targets.reshape(-1), ignore_index=-1)
        return logits, loss
