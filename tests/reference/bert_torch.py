"""BERT for masked-LM in plain PyTorch with Hugging Face BertForMaskedLM's math, the oracle for the C# BERT model (importable module).

Follows transformers' modeling_bert.py (eager attention, absolute positions, no attention mask, no dropout):
  * embeddings: word_embeddings (V, C) + position_embeddings (P, C) at positions 0..T-1 + token_type_embeddings
    (type_vocab_size, C) at token types (all 0 unless given), then embeddings.LayerNorm;
  * post-norm encoder layers: h = attention.output.LayerNorm(x + attention.output.dense(self_attention(x))),
    y = output.LayerNorm(h + output.dense(gelu(intermediate.dense(h))));
  * self-attention: attention.self.query/key/value (C, C) with biases, bidirectional softmax of q k^T / sqrt(hs);
  * LayerNorm eps layer_norm_eps (1e-12 in BERT), GELU exact (erf): hidden_act "gelu";
  * masked-LM head (cls.predictions): transform.dense (C, C) + gelu + transform.LayerNorm, then the decoder tied to
    word_embeddings with its own bias cls.predictions.bias (V): logits (B, T, V);
  * loss: mean cross-entropy over the positions whose target is not -1 (transformers uses -100; the math is the same);
  * parameter names and shapes exactly Hugging Face's, linear weights (out, in) as nn.Linear; the tied
    cls.predictions.decoder.weight is word_embeddings.weight itself, so it is not a parameter of its own;
  * AdamW (torch.optim.AdamW) with weight decay on every 2-D weight (embeddings, projections) and none on biases and
    LayerNorm parameters, global-norm clipping by torch.nn.utils.clip_grad_norm_.

Needs only torch (Debian: apt-get install python3-torch). Works in float32 or float64 (model.to(torch.float64)).
"""

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from training_step import make_optimizer, train_step  # noqa: F401  (re-exported: the shared AdamW step)


@dataclass
class BertConfig:
    vocab_size: int
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    intermediate_size: int
    max_position_embeddings: int
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12

    def __post_init__(self):
        if self.hidden_size % self.num_attention_heads != 0:
            raise ValueError(f"hidden_size {self.hidden_size} is not a multiple of num_attention_heads {self.num_attention_heads}")

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads


class BertEmbeddings(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        C = config.hidden_size
        self.word_embeddings = nn.Embedding(config.vocab_size, C)
        self.position_embeddings = nn.Embedding(config.max_position_embeddings, C)
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, C)
        self.LayerNorm = nn.LayerNorm(C, eps=config.layer_norm_eps)

    def forward(self, tokens, token_types):
        T = tokens.shape[1]
        positions = torch.arange(T, device=tokens.device)[None, :]
        x = self.word_embeddings(tokens) + self.token_type_embeddings(token_types) + self.position_embeddings(positions)
        return self.LayerNorm(x)


class BertSelfAttention(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        C = config.hidden_size
        self.num_heads = config.num_attention_heads
        self.head_dim = config.head_dim
        self.query = nn.Linear(C, C)
        self.key = nn.Linear(C, C)
        self.value = nn.Linear(C, C)

    def forward(self, x):
        B, T, C = x.shape
        hs = self.head_dim

        def heads(t):
            return t.view(B, T, self.num_heads, hs).transpose(1, 2)  # (B, NH, T, hs)

        q, k, v = heads(self.query(x)), heads(self.key(x)), heads(self.value(x))
        scores = (q @ k.transpose(-2, -1)) / math.sqrt(hs)  # (B, NH, T, T), no mask: bidirectional
        y = F.softmax(scores, dim=-1) @ v
        return y.transpose(1, 2).reshape(B, T, C)


class BertSelfOutput(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, hidden, residual):
        return self.LayerNorm(self.dense(hidden) + residual)


class BertAttention(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.self = BertSelfAttention(config)
        self.output = BertSelfOutput(config)

    def forward(self, x):
        return self.output(self.self(x), x)


class BertIntermediate(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.intermediate_size)

    def forward(self, x):
        return F.gelu(self.dense(x))  # exact erf GELU, transformers' "gelu"


class BertOutput(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.dense = nn.Linear(config.intermediate_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, hidden, residual):
        return self.LayerNorm(self.dense(hidden) + residual)


class BertLayer(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.attention = BertAttention(config)
        self.intermediate = BertIntermediate(config)
        self.output = BertOutput(config)

    def forward(self, x):
        h = self.attention(x)
        return self.output(self.intermediate(h), h)


class BertEncoder(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.layer = nn.ModuleList([BertLayer(config) for _ in range(config.num_hidden_layers)])

    def forward(self, x):
        for layer in self.layer:
            x = layer(x)
        return x


class BertModel(nn.Module):
    """BertForMaskedLM's bert: no pooler (add_pooling_layer=False)."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.embeddings = BertEmbeddings(config)
        self.encoder = BertEncoder(config)

    def forward(self, tokens, token_types):
        return self.encoder(self.embeddings(tokens, token_types))


class BertPredictionHeadTransform(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, x):
        return self.LayerNorm(F.gelu(self.dense(x)))


class BertLMPredictionHead(nn.Module):
    def __init__(self, config: BertConfig, word_embeddings: nn.Embedding):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(config.vocab_size))
        self.transform = BertPredictionHeadTransform(config)
        self._word_embeddings = [word_embeddings]  # the tied decoder weight; a list keeps it out of this module's parameters

    def forward(self, x):
        return F.linear(self.transform(x), self._word_embeddings[0].weight, self.bias)


class BertOnlyMLMHead(nn.Module):
    def __init__(self, config: BertConfig, word_embeddings: nn.Embedding):
        super().__init__()
        self.predictions = BertLMPredictionHead(config, word_embeddings)

    def forward(self, x):
        return self.predictions(x)


class BertForMaskedLM(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.config = config
        self.bert = BertModel(config)
        self.cls = BertOnlyMLMHead(config, self.bert.embeddings.word_embeddings)

    def init_weights(self, seed: int, std: float = 0.05):
        """Deterministic float32 draws from a generator seeded with `seed`, in named_parameters() order. Every matrix,
        embedding and bias N(0, std), LayerNorm weights 1 + N(0, 0.1): unlike BERT's init (zero biases, unit gains) every
        parameter then changes the output, so a wrong gradient of any of them shows."""
        generator = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for name, p in self.named_parameters():
                noise = torch.randn(p.shape, generator=generator, dtype=torch.float32)
                if name.endswith("LayerNorm.weight"):
                    p.copy_(1.0 + 0.1 * noise)
                else:
                    p.copy_(std * noise)

    def forward(self, tokens, targets=None, token_types=None):
        B, T = tokens.shape
        if T > self.config.max_position_embeddings:
            raise ValueError(f"sequence length {T} exceeds max_position_embeddings {self.config.max_position_embeddings}")
        if token_types is None:
            token_types = torch.zeros_like(tokens)
        logits = self.cls(self.bert(tokens, token_types))  # (B, T, V)
        loss = None
        if targets is not None:
            V = self.config.vocab_size
            loss = F.cross_entropy(logits.reshape(-1, V), targets.reshape(-1), ignore_index=-1)
        return logits, loss
