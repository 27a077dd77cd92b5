"""Causal self-attention with a key/value cache, pre-LN Transformer blocks, sinusoidal positions.

Attention (Vaswani et al. 2017), per head h with d_h = d / H:

    Attn(Q, K, V) = softmax(Q Kᵀ / √d_h + M) V,     M_ij = 0 if j ≤ i else −∞   (causal mask),

computed by `torch.nn.functional.scaled_dot_product_attention` (fused kernels; bf16 under autocast).
Pre-LN block (GPT-2 / Xiong et al. 2020): x ← x + Attn(LN(x)), x ← x + MLP(LN(x)), MLP = Linear(d, 4d) →
GELU → Linear(4d, d).

Key/value cache (incremental decoding): at step t only the new position's q, k, v are computed; k, v are
written into preallocated (B, H, T_max, d_h) buffers and q attends to positions 0..t — no mask is needed,
and the output equals the full causal pass at position t (up to float rounding; tests/test_sequences.py).
"""
from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class KVCache:
    """Preallocated keys and values of every layer: k[l], v[l] (B, H, T_max, d_h); `length` positions filled."""

    def __init__(self, layers: int, batch: int, heads: int, max_len: int, head_dim: int, *, device, dtype):
        shape = (batch, heads, max_len, head_dim)
        self.k = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(layers)]
        self.v = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(layers)]
        self.max_len, self.length = max_len, 0


class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention on (B, T, d)."""

    def __init__(self, dim: int, heads: int, dropout: float = 0.0):
        super().__init__()
        if dim % heads:
            raise ValueError(f"model width {dim} is not divisible by {heads} heads")
        self.heads, self.head_dim, self.dropout = heads, dim // heads, dropout
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def _split(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        b, t, _ = x.shape
        qkv = self.qkv(x).view(b, t, 3, self.heads, self.head_dim)  # (B, T, 3, H, d_h)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)  # each (B, H, T, d_h)
        return q, k, v

    def forward(self, x: Tensor) -> Tensor:
        """Full causal pass: (B, T, d) -> (B, T, d); position t sees positions ≤ t."""
        q, k, v = self._split(x)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True,
                                           dropout_p=self.dropout if self.training else 0.0)  # (B, H, T, d_h)
        b, _, t, _ = y.shape
        return self.proj(y.transpose(1, 2).reshape(b, t, -1))  # (B, T, d)

    def step(self, x: Tensor, cache: KVCache, layer: int) -> Tensor:
        """One new position x (B, 1, d) at index cache.length, attending to the cached ones and itself."""
        q, k, v = self._split(x)  # (B, H, 1, d_h)
        t = cache.length
        cache.k[layer][:, :, t:t + 1] = k.to(cache.k[layer].dtype)
        cache.v[layer][:, :, t:t + 1] = v.to(cache.v[layer].dtype)
        keys, values = cache.k[layer][:, :, :t + 1], cache.v[layer][:, :, :t + 1]
        y = F.scaled_dot_product_attention(q, keys.to(q.dtype), values.to(q.dtype))  # (B, H, 1, d_h)
        return self.proj(y.transpose(1, 2).reshape(x.shape[0], 1, -1))  # (B, 1, d)


class TransformerBlock(nn.Module):
    """Pre-LN block: x + Attn(LN x), then x + MLP(LN x)."""

    def __init__(self, dim: int, heads: int, *, mlp_ratio: int = 4, dropout: float = 0.0):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = CausalSelfAttention(dim, heads, dropout)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp_ratio * dim), nn.GELU(), nn.Linear(mlp_ratio * dim, dim))
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.drop(self.attn(self.ln1(x)))
        return x + self.drop(self.mlp(self.ln2(x)))

    def step(self, x: Tensor, cache: KVCache, layer: int) -> Tensor:
        x = x + self.attn.step(self.ln1(x), cache, layer)
        return x + self.mlp(self.ln2(x))


def sinusoidal(length: int, dim: int) -> Tensor:
    """(length, dim) positions: PE[t, 2i] = sin(t / 10000^(2i/d)), PE[t, 2i+1] = cos(t / 10000^(2i/d))."""
    pos = torch.arange(length, dtype=torch.float64)[:, None]
    freq = torch.exp(-math.log(10000.0) * torch.arange(0, dim, 2, dtype=torch.float64) / dim)
    pe = torch.zeros(length, dim, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(pos * freq)
    pe[:, 1::2] = torch.cos(pos * freq[: dim // 2])
    return pe.float()


class CausalTransformer(nn.Module):
    """Positions + a stack of pre-LN blocks + a final LayerNorm: (B, T, d) -> (B, T, d), causal.

    positions: 'learned' (an embedding of `context` positions) or 'sinusoidal' (fixed). `step` runs one
    position with a KVCache (`new_cache`)."""

    def __init__(self, dim: int, heads: int, layers: int, context: int, *, positions: str = "learned",
                 dropout: float = 0.0):
        super().__init__()
        self.context, self.dim = context, dim
        if positions == "learned":
            self.pos = nn.Parameter(torch.randn(context, dim) * 0.02)
        else:
            self.register_buffer("pos", sinusoidal(context, dim), persistent=False)
        self.blocks = nn.ModuleList([TransformerBlock(dim, heads, dropout=dropout) for _ in range(layers)])
        self.ln = nn.LayerNorm(dim)
        self.drop = nn.Dropout(dropout)

    def forward(self, h: Tensor) -> Tensor:
        t = h.shape[1]
        x = self.drop(h + self.pos[:t].to(h.dtype))
        for block in self.blocks:
            x = block(x)
        return self.ln(x)

    def new_cache(self, batch: int, max_len: Optional[int] = None, *, device=None, dtype=torch.float32) -> KVCache:
        attn = self.blocks[0].attn if len(self.blocks) else None
        heads, hd = (attn.heads, attn.head_dim) if attn is not None else (1, self.dim)
        return KVCache(len(self.blocks), batch, heads, max_len or self.context, hd, device=device, dtype=dtype)

    def step(self, h: Tensor, cache: KVCache) -> Tensor:
        """h (B, 1, d) at position cache.length -> (B, 1, d); advances the cache."""
        t = cache.length
        x = h + self.pos[t:t + 1].to(h.dtype)
        for i, block in enumerate(self.blocks):
            x = block.step(x, cache, i)
        cache.length += 1
        return self.ln(x)
