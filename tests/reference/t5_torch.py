"""T5 encoder-decoder in plain PyTorch with Hugging Face T5ForConditionalGeneration's math, the oracle for the C# T5
model (importable module). Written from the T5 description, without transformers (which is not needed or imported).

Follows transformers' modeling_t5.py (eager attention, no cache, no attention mask beyond the decoder's causal one,
no dropout):
  * one token embedding `shared` (V, d_model) read by both stacks (HF's encoder.embed_tokens and
    decoder.embed_tokens are that same tensor, not parameters of their own); no embedding scaling, no absolute positions;
  * T5LayerNorm (RMSNorm): x * rsqrt(mean(x^2) + eps) * weight, no mean subtraction, no bias, eps layer_norm_epsilon;
  * attention: q, k, v (num_heads*d_kv, d_model) and o (d_model, num_heads*d_kv), no biases; inner = num_heads*d_kv
    may differ from d_model; scores = q k^T with NO 1/sqrt(d_kv) scaling, plus the position bias; softmax over keys;
  * relative position bias: an Embedding relative_attention_bias (num_buckets, num_heads) only in block 0 of each stack
    (encoder.block.0.layer.0.SelfAttention..., decoder.block.0.layer.0.SelfAttention...). The bias (1, NH, Tq, Tk)
    is bias[b(k - q)] with relative_position = key (memory) position - query position and the bucket function
    relative_position_bucket below (bidirectional in the encoder, causal in the decoder); computed once per stack
    and added in every layer of that stack. Cross-attention (EncDecAttention) has no position bias;
  * encoder block i: layer.0 = pre-norm self-attention (layer.0.layer_norm, bidirectional) + residual,
    layer.1 = pre-norm DenseReluDense (layer.1.layer_norm) + residual; encoder.final_layer_norm after the last block;
  * decoder block i: layer.0 causal self-attention, layer.1 EncDecAttention (q from the decoder, k/v from the final
    encoder output), layer.2 DenseReluDense, each pre-norm (layer.N.layer_norm) + residual; decoder.final_layer_norm;
  * DenseReluDense: feed_forward_proj "relu": wo(relu(wi(x))), wi (d_ff, d_model), wo (d_model, d_ff);
    "gated-gelu": wo(gelu_new(wi_0(x)) * wi_1(x)), wi_0/wi_1 (d_ff, d_model), gelu_new the tanh approximation
    0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)));
  * head: tie_word_embeddings: logits = (decoder_output * d_model**-0.5) @ shared.weight^T (no lm_head parameter);
    otherwise lm_head.weight (V, d_model), logits = decoder_output @ lm_head.weight^T, no scaling;
  * forward(input_ids (B, Te), labels (B, Td)): decoder_input_ids = shift_right(labels) (decoder_start_token_id at
    position 0, labels[:, :-1] after it, any -1 replaced by pad_token_id = 0), logits (B, Td, V),
    loss = mean cross-entropy over the labels != -1 (transformers ignores -100; the math is the same);
  * parameter names and shapes exactly Hugging Face's, linear weights (out, in) as nn.Linear; named_parameters()
    order is HF's: shared.weight, encoder.block.{i}..., encoder.final_layer_norm.weight, decoder..., lm_head.weight;
  * AdamW (training_step.make_optimizer) with weight decay on every 2-D weight (shared, q/k/v/o, wi/wo,
    relative_attention_bias, lm_head) and none on the 1-D layer_norm weights, global-norm clipping.

Numerics: the bucket function works as HF's does, in float32 whatever the model dtype (relative_position.float(),
torch.log, division by the Python float math.log(max_distance / max_exact), truncation toward zero by .to(long)), so
a float64 model gets exactly HF's buckets. HF's T5LayerNorm takes the variance in float32 and its attention softmax
runs on scores.float(); for float16/bfloat16 that is an upcast, for float32 a no-op. Here float32 and float64 models
compute in their own dtype throughout, so the float64 oracle has no float32 rounding beyond its float32 weights.

Needs only torch (Debian: apt-get install python3-torch). Works in float32 or float64 (model.to(torch.float64)).
"""

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from training_step import make_optimizer, train_step  # noqa: F401  (re-exported: the shared AdamW step)


@dataclass
class T5Config:
    vocab_size: int
    d_model: int
    d_kv: int
    d_ff: int
    num_layers: int
    num_decoder_layers: int
    num_heads: int
    relative_attention_num_buckets: int = 32
    relative_attention_max_distance: int = 128
    layer_norm_epsilon: float = 1e-6
    feed_forward_proj: str = "relu"
    tie_word_embeddings: bool = True
    decoder_start_token_id: int = 0
    pad_token_id: int = 0

    def __post_init__(self):
        if self.feed_forward_proj not in ("relu", "gated-gelu"):
            raise ValueError(f"feed_forward_proj must be 'relu' or 'gated-gelu', got {self.feed_forward_proj!r}")
        if self.num_layers < 1 or self.num_decoder_layers < 1:
            raise ValueError("num_layers and num_decoder_layers must be >= 1")

    @property
    def inner_dim(self) -> int:
        return self.num_heads * self.d_kv

    @property
    def is_gated_act(self) -> bool:
        return self.feed_forward_proj.startswith("gated-")


def relative_position_bucket(relative_position, bidirectional=True, num_buckets=32, max_distance=128):
    """HF T5Attention._relative_position_bucket: int64 buckets in [0, num_buckets) for int64 relative positions
    (key position - query position). bidirectional: half the buckets for each sign, positive offsets by
    num_buckets // 2; otherwise (decoder) only n = -min(rel, 0) counts (keys in the future all map to bucket 0).
    Of the (remaining) buckets, the first max_exact = num_buckets // 2 are the distances 0..max_exact-1 exactly,
    the rest are logarithmic up to max_distance:
        max_exact + int(log(n / max_exact) / log(max_distance / max_exact) * (num_buckets - max_exact)),
    clamped to num_buckets - 1. As HF does it: n.float() / max_exact and log in float32, divided by a Python float
    (double-precision math.log, cast to float32 by torch), multiplied in float32, truncated toward zero."""
    relative_position = relative_position.to(torch.long)
    relative_buckets = torch.zeros_like(relative_position)
    if bidirectional:
        num_buckets //= 2
        relative_buckets += (relative_position > 0).to(torch.long) * num_buckets
        relative_position = torch.abs(relative_position)
    else:
        relative_position = -torch.min(relative_position, torch.zeros_like(relative_position))
    max_exact = num_buckets // 2
    is_small = relative_position < max_exact
    # log(0) = -inf for n = 0 (its .to(long) is garbage); torch.where below picks the exact bucket there, as in HF
    relative_position_if_large = max_exact + (
        torch.log(relative_position.float() / max_exact)
        / math.log(max_distance / max_exact)
        * (num_buckets - max_exact)
    ).to(torch.long)
    relative_position_if_large = torch.min(relative_position_if_large,
                                           torch.full_like(relative_position_if_large, num_buckets - 1))
    relative_buckets += torch.where(is_small, relative_position, relative_position_if_large)
    return relative_buckets


def shift_right(labels, decoder_start_token_id, pad_token_id=0):
    """HF T5PreTrainedModel._shift_right with -1 as the ignore label: (B, Td) -> (B, Td)."""
    shifted = labels.new_zeros(labels.shape)
    shifted[..., 1:] = labels[..., :-1].clone()
    shifted[..., 0] = decoder_start_token_id
    return shifted.masked_fill(shifted == -1, pad_token_id)


def gelu_new(x):
    """transformers' "gelu_new" (NewGELUActivation): the tanh approximation of GELU."""
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


class T5LayerNorm(nn.Module):
    def __init__(self, hidden_size: int, eps: float):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden_size))
        self.variance_epsilon = eps

    def forward(self, x):
        variance = x.pow(2).mean(-1, keepdim=True)
        return self.weight * (x * torch.rsqrt(variance + self.variance_epsilon))


class T5DenseActDense(nn.Module):
    def __init__(self, config: T5Config):
        super().__init__()
        self.wi = nn.Linear(config.d_model, config.d_ff, bias=False)
        self.wo = nn.Linear(config.d_ff, config.d_model, bias=False)

    def forward(self, x):
        return self.wo(F.relu(self.wi(x)))


class T5DenseGatedActDense(nn.Module):
    def __init__(self, config: T5Config):
        super().__init__()
        self.wi_0 = nn.Linear(config.d_model, config.d_ff, bias=False)
        self.wi_1 = nn.Linear(config.d_model, config.d_ff, bias=False)
        self.wo = nn.Linear(config.d_ff, config.d_model, bias=False)

    def forward(self, x):
        return self.wo(gelu_new(self.wi_0(x)) * self.wi_1(x))


class T5LayerFF(nn.Module):
    def __init__(self, config: T5Config):
        super().__init__()
        self.DenseReluDense = T5DenseGatedActDense(config) if config.is_gated_act else T5DenseActDense(config)
        self.layer_norm = T5LayerNorm(config.d_model, config.layer_norm_epsilon)

    def forward(self, x):
        return x + self.DenseReluDense(self.layer_norm(x))


class T5Attention(nn.Module):
    def __init__(self, config: T5Config, is_decoder: bool, has_relative_attention_bias: bool):
        super().__init__()
        self.is_decoder = is_decoder
        self.has_relative_attention_bias = has_relative_attention_bias
        self.num_buckets = config.relative_attention_num_buckets
        self.max_distance = config.relative_attention_max_distance
        self.n_heads = config.num_heads
        self.d_kv = config.d_kv
        inner = config.inner_dim
        # same attribute order as transformers, so named_parameters() (and the init order) match
        self.q = nn.Linear(config.d_model, inner, bias=False)
        self.k = nn.Linear(config.d_model, inner, bias=False)
        self.v = nn.Linear(config.d_model, inner, bias=False)
        self.o = nn.Linear(inner, config.d_model, bias=False)
        if has_relative_attention_bias:
            self.relative_attention_bias = nn.Embedding(self.num_buckets, self.n_heads)

    def compute_bias(self, query_length, key_length):
        """(1, NH, Tq, Tk): relative_attention_bias[bucket(key position - query position)], heads first."""
        device = self.relative_attention_bias.weight.device
        context_position = torch.arange(query_length, dtype=torch.long, device=device)[:, None]
        memory_position = torch.arange(key_length, dtype=torch.long, device=device)[None, :]
        buckets = relative_position_bucket(memory_position - context_position, bidirectional=not self.is_decoder,
                                           num_buckets=self.num_buckets, max_distance=self.max_distance)
        values = self.relative_attention_bias(buckets)  # (Tq, Tk, NH)
        return values.permute([2, 0, 1]).unsqueeze(0)

    def forward(self, x, key_value_states=None, position_bias=None, causal=False):
        """x (B, Tq, d_model); key_value_states (B, Tk, d_model) for cross-attention (else x); position_bias
        (1, NH, Tq, Tk) or None (no bias). Returns (B, Tq, d_model)."""
        B, Tq, _ = x.shape
        kv = x if key_value_states is None else key_value_states
        Tk = kv.shape[1]

        def heads(t, T):
            return t.view(B, T, self.n_heads, self.d_kv).transpose(1, 2)  # (B, NH, T, d_kv)

        q, k, v = heads(self.q(x), Tq), heads(self.k(kv), Tk), heads(self.v(kv), Tk)
        scores = q @ k.transpose(-2, -1)  # (B, NH, Tq, Tk), no 1/sqrt(d_kv)
        if position_bias is not None:
            scores = scores + position_bias
        if causal:
            mask = torch.ones(Tq, Tk, dtype=torch.bool, device=x.device).tril()
            scores = scores.masked_fill(~mask, float("-inf"))
        y = F.softmax(scores, dim=-1) @ v  # (B, NH, Tq, d_kv)
        return self.o(y.transpose(1, 2).reshape(B, Tq, self.n_heads * self.d_kv))


class T5LayerSelfAttention(nn.Module):
    def __init__(self, config: T5Config, is_decoder: bool, has_relative_attention_bias: bool):
        super().__init__()
        self.SelfAttention = T5Attention(config, is_decoder, has_relative_attention_bias)
        self.layer_norm = T5LayerNorm(config.d_model, config.layer_norm_epsilon)

    def forward(self, x, position_bias, causal):
        return x + self.SelfAttention(self.layer_norm(x), position_bias=position_bias, causal=causal)


class T5LayerCrossAttention(nn.Module):
    def __init__(self, config: T5Config):
        super().__init__()
        self.EncDecAttention = T5Attention(config, is_decoder=True, has_relative_attention_bias=False)
        self.layer_norm = T5LayerNorm(config.d_model, config.layer_norm_epsilon)

    def forward(self, x, encoder_output):
        return x + self.EncDecAttention(self.layer_norm(x), key_value_states=encoder_output)


class T5Block(nn.Module):
    def __init__(self, config: T5Config, is_decoder: bool, has_relative_attention_bias: bool):
        super().__init__()
        self.is_decoder = is_decoder
        self.layer = nn.ModuleList([T5LayerSelfAttention(config, is_decoder, has_relative_attention_bias)])
        if is_decoder:
            self.layer.append(T5LayerCrossAttention(config))
        self.layer.append(T5LayerFF(config))

    def forward(self, x, position_bias, encoder_output=None):
        x = self.layer[0](x, position_bias, causal=self.is_decoder)
        if self.is_decoder:
            x = self.layer[1](x, encoder_output)
        return self.layer[-1](x)


class T5Stack(nn.Module):
    def __init__(self, config: T5Config, embed_tokens: nn.Embedding, is_decoder: bool):
        super().__init__()
        self.is_decoder = is_decoder
        self._embed_tokens = [embed_tokens]  # the shared embedding; a list keeps it out of this module's parameters
        n = config.num_decoder_layers if is_decoder else config.num_layers
        self.block = nn.ModuleList([T5Block(config, is_decoder, has_relative_attention_bias=(i == 0)) for i in range(n)])
        self.final_layer_norm = T5LayerNorm(config.d_model, config.layer_norm_epsilon)

    def forward(self, input_ids, encoder_output=None):
        x = self._embed_tokens[0](input_ids)
        T = input_ids.shape[1]
        position_bias = self.block[0].layer[0].SelfAttention.compute_bias(T, T)  # block 0's table, for every block
        for block in self.block:
            x = block(x, position_bias, encoder_output)
        return self.final_layer_norm(x)


class T5ForConditionalGeneration(nn.Module):
    def __init__(self, config: T5Config):
        super().__init__()
        self.config = config
        self.model_dim = config.d_model
        self.shared = nn.Embedding(config.vocab_size, config.d_model)
        self.encoder = T5Stack(config, self.shared, is_decoder=False)
        self.decoder = T5Stack(config, self.shared, is_decoder=True)
        if not config.tie_word_embeddings:
            self.lm_head = nn.Linear(config.d_model, config.vocab_size, bias=False)

    def init_weights(self, seed: int, qk_std: float = 0.2):
        """Deterministic float32 draws N(0, 1) from a generator seeded with `seed`, in named_parameters() order,
        scaled per kind so every parameter matters and the unscaled attention is neither uniform nor one-hot:
        layer_norm weights 1 + 0.1 N; shared and relative_attention_bias N(0, 1); q and k N(0, qk_std); v and
        wi/wi_0/wi_1 N(0, d_model^-0.5); o N(0, inner^-0.5); wo N(0, d_ff^-0.5); lm_head N(0, d_model^-0.5)."""
        c = self.config
        generator = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for name, p in self.named_parameters():
                noise = torch.randn(p.shape, generator=generator, dtype=torch.float32)
                leaf = name.split(".")[-2]
                if leaf in ("layer_norm", "final_layer_norm"):
                    p.copy_(1.0 + 0.1 * noise)
                elif leaf in ("shared", "relative_attention_bias"):
                    p.copy_(noise)
                elif leaf in ("q", "k"):
                    p.copy_(qk_std * noise)
                elif leaf in ("v", "wi", "wi_0", "wi_1", "lm_head"):
                    p.copy_(c.d_model ** -0.5 * noise)
                elif leaf == "o":
                    p.copy_(c.inner_dim ** -0.5 * noise)
                elif leaf == "wo":
                    p.copy_(c.d_ff ** -0.5 * noise)
                else:
                    raise AssertionError(f"no init for {name}")

    def decoder_input_ids(self, labels):
        return shift_right(labels, self.config.decoder_start_token_id, self.config.pad_token_id)

    def decoder_hidden(self, input_ids, decoder_input_ids):
        """The decoder's final_layer_norm output (B, Td, d_model), before the head's scaling."""
        return self.decoder(decoder_input_ids, encoder_output=self.encoder(input_ids))

    def head(self, hidden):
        if self.config.tie_word_embeddings:
            return (hidden * self.model_dim ** -0.5) @ self.shared.weight.t()
        return self.lm_head(hidden)

    def forward(self, input_ids, labels=None, decoder_input_ids=None):
        """input_ids (B, Te), labels (B, Td) with -1 ignored -> (logits (B, Td, V), mean loss or None).
        decoder_input_ids default to shift_right(labels)."""
        if decoder_input_ids is None:
            if labels is None:
                raise ValueError("give labels or decoder_input_ids")
            decoder_input_ids = self.decoder_input_ids(labels)
        logits = self.head(self.decoder_hidden(input_ids, decoder_input_ids))
        loss = None
        if labels is not None:
            loss = F.cross_entropy(logits.reshape(-1, self.config.vocab_size), labels.reshape(-1), ignore_index=-1)
        return logits, loss
