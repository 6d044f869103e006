"""Incremental (KV-cached) decoding for the reference models gpt2_torch.Gpt and llama_torch.LlamaForCausalLM.

The oracle for LmForge's inference sessions, and the model code of bench/peers/torch_generate.py. It reuses the
reference modules' own weights and submodules (layer norms, projections, MLPs, rotary helpers) and adds only what a
cache changes, so the models' files stay as they are:
  * KVCache: per layer, the keys and values of every position seen so far, in buffers preallocated for `capacity`
    positions (as transformers' StaticCache; DynamicCache concatenates instead, the math is the same). Keys are stored
    after the rotary embedding (Llama), and with the kv heads only (grouped-query attention: NKV heads, not NH), as
    transformers' past_key_values hold them;
  * forward_cached(model, tokens, cache): one forward of the T new positions past_length .. past_length + T - 1 of
    each sequence; each layer appends the new keys/values to the cache, then the new queries attend to all cached
    positions (causally within the new block). Prefill = T prompt tokens at once; decoding = T = 1 per step. It
    returns the logits of the last new position only (all_logits=True: of every new position), over the real
    vocabulary (GPT-2's padded embedding rows are not candidates);
  * greedy_generate / greedy_generate_no_cache: greedy continuation with the cache (prefill, then one position per
    step) and by full recomputation of the whole sequence at every step (the check that the cache is right).
The attention math is the models' own: scores (q k^T) * (1/sqrt(hs)), masked causally, softmax, @ v; grouped-query
attention groups the query heads of a kv head (query head h uses kv head h // (NH / NKV), as repeat_kv) instead of
repeating the keys. Works in float32 or float64 (a model moved with .to(torch.float64) gets a float64 cache).
"""

import math

import torch
import torch.nn.functional as F

from gpt2_torch import Gpt
from llama_torch import LlamaForCausalLM, apply_rotary_pos_emb, rope_cos_sin


class KVCache:
    """keys[i], values[i]: (B, NKV, capacity, hs) of layer i; positions 0 .. length - 1 are filled."""

    def __init__(self, layer_count, batch, kv_heads, head_dim, capacity, dtype, device=None):
        self.capacity = capacity
        self.length = 0
        self.keys = [torch.zeros(batch, kv_heads, capacity, head_dim, dtype=dtype, device=device) for _ in range(layer_count)]
        self.values = [torch.zeros(batch, kv_heads, capacity, head_dim, dtype=dtype, device=device) for _ in range(layer_count)]

    def append(self, layer, k, v):
        """Stores k, v (B, NKV, T, hs) at positions length .. length + T - 1 of `layer` (length advances once every
        layer has appended, in forward_cached); returns views of all keys and values so far, (B, NKV, length + T, hs)."""
        end = self.length + k.shape[2]
        self.keys[layer][:, :, self.length:end] = k
        self.values[layer][:, :, self.length:end] = v
        return self.keys[layer][:, :, :end], self.values[layer][:, :, :end]


def make_cache(model, batch, capacity=None):
    """An empty cache for `batch` sequences of up to `capacity` positions (default: the model's context length)."""
    dtype = next(model.parameters()).dtype
    if isinstance(model, Gpt):
        c = model.config
        capacity = capacity or c.context_length
        return KVCache(c.layer_count, batch, c.head_count, c.width // c.head_count, capacity, dtype)
    if isinstance(model, LlamaForCausalLM):
        c = model.config
        capacity = capacity or c.max_position_embeddings
        cache = KVCache(c.num_hidden_layers, batch, c.num_key_value_heads, c.head_dim, capacity, dtype)
        # the rotary table of every position the cache can hold, computed once: exactly rope_cos_sin's values
        cache.rope = rope_cos_sin(model.model._inv_freq, capacity, dtype)
        return cache
    raise TypeError(f"no cached forward for {type(model).__name__}")


def cached_attention(q, keys, values, past_length):
    """q (B, NH, T, hs) of the positions past_length .. past_length + T - 1; keys/values (B, NKV, past_length + T, hs).
    Returns (B, NH, T, hs). The NH / NKV query heads of one kv head are stacked as rows, so keys are not copied."""
    B, NH, T, hs = q.shape
    NKV, L = keys.shape[1], keys.shape[2]
    n_rep = NH // NKV
    q = q.reshape(B, NKV, n_rep * T, hs)  # query head h = j * n_rep + r -> group j, rows r * T .. r * T + T - 1
    scores = (q @ keys.transpose(-2, -1)) * (1.0 / math.sqrt(hs))  # (B, NKV, n_rep * T, L)
    if T > 1:  # a single new position sees every cached one
        query_positions = torch.arange(past_length, past_length + T, device=q.device)
        mask = torch.arange(L, device=q.device)[None, :] <= query_positions[:, None]  # (T, L)
        scores = scores.masked_fill(~mask.repeat(n_rep, 1), float("-inf"))
    y = F.softmax(scores, dim=-1) @ values  # (B, NKV, n_rep * T, hs)
    return y.view(B, NH, T, hs)


def _check_room(cache, T, limit):
    if cache.length + T > min(cache.capacity, limit):
        raise ValueError(f"{cache.length} cached + {T} new positions exceed the room of {min(cache.capacity, limit)}")


def gpt2_forward_cached(model: Gpt, tokens, cache: KVCache, all_logits=False):
    c = model.config
    B, T = tokens.shape
    _check_room(cache, T, c.context_length)
    past = cache.length
    positions = torch.arange(past, past + T, device=tokens.device)
    x = model.wte(tokens) + model.wpe(positions)
    hs = c.width // c.head_count
    for i, block in enumerate(model.h):
        attn = block.attn
        q, k, v = attn.c_attn(block.ln_1(x)).split(c.width, dim=2)
        q = q.view(B, T, c.head_count, hs).transpose(1, 2)  # (B, NH, T, hs)
        k = k.view(B, T, c.head_count, hs).transpose(1, 2)
        v = v.view(B, T, c.head_count, hs).transpose(1, 2)
        keys, values = cache.append(i, k, v)
        y = cached_attention(q, keys, values, past).transpose(1, 2).reshape(B, T, c.width)
        x = x + attn.c_proj(y)
        x = x + block.mlp(block.ln_2(x))
    cache.length = past + T
    if not all_logits:
        x = x[:, -1:]
    x = model.ln_f(x)
    return x @ model.wte.weight[: c.vocab_size].t()  # tied output projection, real vocabulary only


def llama_forward_cached(model: LlamaForCausalLM, tokens, cache: KVCache, all_logits=False):
    c = model.config
    B, T = tokens.shape
    _check_room(cache, T, c.max_position_embeddings)
    past = cache.length
    cos, sin = cache.rope[0][past:past + T], cache.rope[1][past:past + T]
    x = model.model.embed_tokens(tokens)
    hs, NH, NKV = c.head_dim, c.num_attention_heads, c.num_key_value_heads
    for i, layer in enumerate(model.model.layers):
        attn = layer.self_attn
        h = layer.input_layernorm(x)
        q = attn.q_proj(h).view(B, T, NH, hs).transpose(1, 2)  # (B, NH, T, hs)
        k = attn.k_proj(h).view(B, T, NKV, hs).transpose(1, 2)  # (B, NKV, T, hs)
        v = attn.v_proj(h).view(B, T, NKV, hs).transpose(1, 2)
        q, k = apply_rotary_pos_emb(q, k, cos, sin)
        keys, values = cache.append(i, k, v)
        y = cached_attention(q, keys, values, past).transpose(1, 2).reshape(B, T, NH * hs)
        x = x + attn.o_proj(y)
        x = x + layer.mlp(layer.post_attention_layernorm(x))
    cache.length = past + T
    if not all_logits:
        x = x[:, -1:]
    return model.lm_head(model.model.norm(x))


def forward_cached(model, tokens, cache, all_logits=False):
    """Logits (B, 1, V) of the last new position (all_logits: (B, T, V)); appends the T new positions to `cache`."""
    if isinstance(model, Gpt):
        return gpt2_forward_cached(model, tokens, cache, all_logits)
    return llama_forward_cached(model, tokens, cache, all_logits)


def vocab_size(model):
    return model.config.vocab_size


def top2_gap(logits):
    """(B, V) -> (B,) top-1 logit minus top-2 logit."""
    top = logits.topk(2, dim=-1).values
    return top[:, 0] - top[:, 1]


@torch.no_grad()
def greedy_generate(model, prompt, new_tokens, capacity=None):
    """prompt (B, P) -> (tokens (B, new_tokens), gaps (B, new_tokens), logits (B, new_tokens, V)): prefill the prompt
    in one forward, then one forward of one position per further token; greedy = argmax (the lowest id on a tie)."""
    cache = make_cache(model, prompt.shape[0], capacity)
    logits = forward_cached(model, prompt, cache)[:, -1]
    tokens, gaps, all_logits = [], [], []
    for step in range(new_tokens):
        token = logits.argmax(dim=-1)
        tokens.append(token)
        gaps.append(top2_gap(logits))
        all_logits.append(logits)
        if step + 1 < new_tokens:
            logits = forward_cached(model, token[:, None], cache)[:, -1]
    return torch.stack(tokens, 1), torch.stack(gaps, 1), torch.stack(all_logits, 1)


@torch.no_grad()
def greedy_generate_no_cache(model, prompt, new_tokens):
    """The same continuation by recomputing the model's plain forward over the whole sequence at every step."""
    V = vocab_size(model)
    sequence = prompt
    tokens, all_logits = [], []
    for _ in range(new_tokens):
        logits = model(sequence)[0][:, -1, :V]
        token = logits.argmax(dim=-1)
        tokens.append(token)
        all_logits.append(logits)
        sequence = torch.cat([sequence, token[:, None]], dim=1)
    return torch.stack(tokens, 1), torch.stack(all_logits, 1)
