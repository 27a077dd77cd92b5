"""Derived fields drawn in the data layer from the run's generator (DESIGN §4b).

`--data.derive=mask:strokes,lowres:4` adds fields to any dataset of (C, H, W) fields, per batch, in model
space, from the trainer's noise stream, so they are reproducible and a resumed run draws the same ones:

    mask[:boxes|strokes|mixed]     `mask` (1, H, W): 1 = known, 0 = hole. Boxes: one rectangle with sides
                                   U(1/8, 1/2) of the image; strokes: free-form brush strokes (3 random
                                   walks of 8 vertices, brush 1/16–1/8 of the side), in the spirit of the
                                   partial-convolution and DeepFill masks; mixed: either, 50/50.
    mask:coads[:VAR[:EXTRA]]       `mask` from real observation gaps: a random COADS month's observed cells
                                   on the data's grid, times the field's validity, minus an extra random
                                   share EXTRA of scattered cells and 10° blocks (data/gaps.py).
    lowres[:F]                     `lowres` (C, H/F, W/F): antialiased bicubic downsampling by F (default 4),
                                   the super-resolution input (SRGAN's protocol; nn/superres.py bicubic_resize).
    noise[:gaussian:σ | poisson:peak | saltpepper:p]
                                   `noisy`: x + σ ε; Poisson(peak · x) / peak for photon-limited images;
                                   salt-and-pepper with probability p per pixel. Default gaussian 0.1.
    edges                          `edges` (1, H, W): Sobel gradient magnitude of the luminance, scaled to
                                   [0, 1] per image (deterministic).
    crop:S                         random S×S crops of every spatial field jointly (train on crops,
                                   translate at full size).
"""
from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import GenlabError
from ..fields import FieldSpec
from ..nn.superres import bicubic_resize
from .base import Derivation, FieldDataset


def _rand(shape, g: Optional[torch.Generator], device) -> Tensor:
    return torch.rand(shape, generator=g, device=device)


# --- masks -------------------------------------------------------------------------------------------

def box_masks(n: int, h: int, w: int, g: Optional[torch.Generator], device) -> Tensor:
    """(n, 1, h, w) float masks with one hole rectangle each (0 inside)."""
    u = _rand((n, 4), g, device)
    bh = (h * (0.125 + 0.375 * u[:, 0])).round().clamp(min=1)
    bw = (w * (0.125 + 0.375 * u[:, 1])).round().clamp(min=1)
    top = ((h - bh) * u[:, 2]).floor()
    left = ((w - bw) * u[:, 3]).floor()
    rows = torch.arange(h, device=device).view(1, h, 1)
    cols = torch.arange(w, device=device).view(1, 1, w)
    inside = ((rows >= top.view(-1, 1, 1)) & (rows < (top + bh).view(-1, 1, 1))
              & (cols >= left.view(-1, 1, 1)) & (cols < (left + bw).view(-1, 1, 1)))  # (n, h, w)
    return (~inside).float().unsqueeze(1)


def stroke_masks(n: int, h: int, w: int, g: Optional[torch.Generator], device, *, strokes: int = 3,
                 vertices: int = 8) -> Tensor:
    """(n, 1, h, w) free-form masks: `strokes` brush strokes per image, each a random walk of `vertices`
    points with steps of 1/20–1/4 of the side, drawn with a square brush of width 1/16, 3/32 or 1/8 of
    the side (dense points along each segment, dilated by max-pooling: O(n·h·w), no per-pixel distances)."""
    side = float(min(h, w))
    start = _rand((n, strokes, 1, 2), g, device) * torch.tensor([h - 1.0, w - 1.0], device=device)
    angle = _rand((n, strokes, vertices - 1), g, device) * 2 * math.pi
    step = (0.05 + 0.2 * _rand((n, strokes, vertices - 1), g, device)) * side
    delta = torch.stack([angle.sin(), angle.cos()], -1) * step.unsqueeze(-1)  # (n, S, V-1, 2)
    pts = torch.cat([start, start + delta.cumsum(2)], 2)  # (n, S, V, 2) as (row, col)
    dense = int(math.ceil(0.25 * side)) + 2  # points per segment: at most 1 px apart
    t = torch.linspace(0, 1, dense, device=device).view(1, 1, 1, dense, 1)
    a, b = pts[:, :, :-1].unsqueeze(3), pts[:, :, 1:].unsqueeze(3)  # (n, S, V-1, 1, 2)
    line = (a + t * (b - a)).round()  # (n, S, V-1, P, 2)
    ok = (line[..., 0] >= 0) & (line[..., 0] < h) & (line[..., 1] >= 0) & (line[..., 1] < w)
    flat = (line[..., 0].clamp(0, h - 1) * w + line[..., 1].clamp(0, w - 1)).long()  # (n, S, V-1, P)
    widths = sorted({max(1, int(round(side * f))) | 1 for f in (1 / 16, 3 / 32, 1 / 8)})  # odd sizes
    which = (_rand((n, strokes), g, device) * len(widths)).long().clamp(max=len(widths) - 1)  # (n, S)
    hole = torch.zeros(n, 1, h, w, device=device)
    for k, width in enumerate(widths):
        use = ok & (which == k).view(n, strokes, 1, 1)
        canvas = torch.zeros(n, h * w, device=device)
        canvas.scatter_add_(1, flat.flatten(1), use.flatten(1).float())  # (n, HW) stroke centres
        canvas = (canvas > 0).float().view(n, 1, h, w)
        r = width // 2  # a square brush is separable: dilate the rows, then the columns
        hole = torch.maximum(hole, _dilate(_dilate(canvas, r, 2), r, 3))
    return 1.0 - hole


def _dilate(x: Tensor, r: int, dim: int) -> Tensor:
    """Binary dilation by a window of 2r + 1 along `dim`: a window sum from a cumulative sum (> 0), O(size)
    whatever r is (max-pooling with a large kernel is ~50x slower on CPU)."""
    if r == 0:
        return x
    pad = [0, 0] * (x.dim() - dim - 1) + [r + 1, r]  # F.pad lists the last dim first
    c = F.pad(x, pad).cumsum(dim)
    n = x.shape[dim]
    window = c.narrow(dim, 2 * r + 1, n) - c.narrow(dim, 0, n)  # sum over [i − r, i + r]
    return (window > 0.5).float()


def make_masks(kind: str, n: int, h: int, w: int, g, device) -> Tensor:
    if kind == "boxes":
        return box_masks(n, h, w, g, device)
    if kind == "strokes":
        return stroke_masks(n, h, w, g, device)
    both = torch.cat([box_masks(n, h, w, g, device), stroke_masks(n, h, w, g, device)], 1)  # (n, 2, h, w)
    pick = (_rand((n, 1, 1, 1), g, device) < 0.5).float()
    return pick * both[:, :1] + (1 - pick) * both[:, 1:]


def mask_derivation(primary: str, spec: FieldSpec, kind: str = "mixed") -> Derivation:
    if kind not in ("boxes", "strokes", "mixed"):
        raise GenlabError(f"data.derive mask:{kind} is invalid; use mask:boxes, mask:strokes or mask:mixed")
    _, h, w = spec.shape

    def fn(fields, g):
        x = fields[primary]
        return {"mask": make_masks(kind, len(x), h, w, g, x.device)}
    return Derivation(f"mask:{kind}", fn, {"mask": FieldSpec((1, h, w), "mask")})


# --- degradations ------------------------------------------------------------------------------------

def lowres_derivation(primary: str, spec: FieldSpec, factor: int = 4) -> Derivation:
    c, h, w = spec.shape
    if factor < 2 or h % factor or w % factor:
        raise GenlabError(f"data.derive lowres:{factor} needs a factor >= 2 dividing the field size {h}x{w}; "
                          "choose another factor or crop the data (data.derive=crop:S)")

    def fn(fields, g):
        x = fields[primary]
        return {"lowres": bicubic_resize(x, (h // factor, w // factor))}
    return Derivation(f"lowres:{factor}", fn, {"lowres": FieldSpec((c, h // factor, w // factor), spec.kind,
                                                                   None, spec.normalizer, spec.periodic,
                                                                   channels=spec.channels)})


def noise_derivation(primary: str, spec: FieldSpec, kind: str = "gaussian", amount: float = 0.1) -> Derivation:
    if kind not in ("gaussian", "poisson", "saltpepper") or not amount > 0:
        raise GenlabError(f"data.derive noise:{kind}:{amount} is invalid; use noise:gaussian:SIGMA, "
                          "noise:poisson:PEAK or noise:saltpepper:P with a positive number")
    if kind != "gaussian" and not spec.bounded:
        raise GenlabError(f"noise:{kind} needs images in [0, 1]; use noise:gaussian for physical fields")

    def fn(fields, g):
        x = fields[primary]
        if kind == "gaussian":
            noisy = x + amount * torch.randn(x.shape, generator=g, device=x.device)
        elif kind == "poisson":
            noisy = torch.poisson(x.clamp(min=0) * amount, generator=g) / amount
        else:
            u = _rand(x.shape, g, x.device)
            noisy = torch.where(u < amount / 2, torch.zeros_like(x), torch.where(u > 1 - amount / 2,
                                                                                 torch.ones_like(x), x))
        return {"noisy": noisy}
    return Derivation(f"noise:{kind}:{amount:g}", fn, {"noisy": FieldSpec(spec.shape, spec.kind, None,
                                                                          spec.normalizer, spec.periodic,
                                                                          channels=spec.channels)})


def edges_derivation(primary: str, spec: FieldSpec) -> Derivation:
    c, h, w = spec.shape
    kx = torch.tensor([[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]])

    def fn(fields, g):
        x = fields[primary]
        lum = x.mean(1, keepdim=True)  # (B, 1, H, W)
        k = torch.stack([kx, kx.t()]).unsqueeze(1).to(x)  # (2, 1, 3, 3)
        gxy = F.conv2d(F.pad(lum, (1, 1, 1, 1), mode="replicate"), k)  # (B, 2, H, W)
        mag = gxy.pow(2).sum(1, keepdim=True).sqrt()
        return {"edges": mag / mag.flatten(1).amax(1).clamp(min=1e-6).view(-1, 1, 1, 1)}
    return Derivation("edges", fn, {"edges": FieldSpec((1, h, w), "image")})


def crop_derivation(specs: dict[str, FieldSpec], size: int) -> Derivation:
    spatial = {k: s for k, s in specs.items() if s.spatial}
    shapes = {s.shape[1:] for s in spatial.values()}
    if len(shapes) != 1:
        raise GenlabError(f"data.derive crop needs spatial fields of one size, got {sorted(shapes)}")
    h, w = next(iter(shapes))
    if not 1 <= size <= min(h, w):
        raise GenlabError(f"data.derive crop:{size} is invalid for {h}x{w} fields; use 1..{min(h, w)}")

    def fn(fields, g):
        first = fields[next(iter(spatial))]
        n, dev = len(first), first.device
        top = (_rand((n,), g, dev) * (h - size + 1)).long().clamp(max=h - size)
        left = (_rand((n,), g, dev) * (w - size + 1)).long().clamp(max=w - size)
        r = (top.view(n, 1) + torch.arange(size, device=dev)).view(n, 1, size, 1)  # (n, 1, S, 1)
        c = (left.view(n, 1) + torch.arange(size, device=dev)).view(n, 1, 1, size)  # (n, 1, 1, S)
        out = {}
        for k in spatial:
            v = fields[k]
            rows = v.gather(2, r.expand(n, v.shape[1], size, w))  # (n, C, S, W)
            out[k] = rows.gather(3, c.expand(n, v.shape[1], size, size))  # (n, C, S, S)
        return out
    new = {k: FieldSpec((s.shape[0], size, size), s.kind, s.levels, s.normalizer, (), s.valid, s.classes,
                        s.n_classes, s.channels) for k, s in spatial.items()}
    return Derivation(f"crop:{size}", fn, new)


# --- parsing -----------------------------------------------------------------------------------------

def parse(spec: str, data: FieldDataset) -> list[Derivation]:
    """'mask:strokes,lowres:4' -> Derivations for `data` (checked against its fields now)."""
    out: list[Derivation] = []
    for item in [s.strip() for s in spec.split(",") if s.strip()]:
        name, *args = item.split(":")
        info = data.info.with_fields(**{k: v for d in out for k, v in d.specs.items()})
        p = info.spec
        if name != "crop" and not p.spatial:
            raise GenlabError(f"data.derive {item} needs (C, H, W) data; {data.name} has shape {p.shape}")
        try:
            if name == "mask" and args[:1] == ["coads"]:  # real observation gaps (data/gaps.py)
                from .gaps import coads_mask_derivation
                out.append(coads_mask_derivation(info.primary, p, data.meta, *args[1:3]))
            elif name == "mask":
                out.append(mask_derivation(info.primary, p, *(args[:1] or ["mixed"])))
            elif name == "lowres":
                out.append(lowres_derivation(info.primary, p, int(args[0]) if args else 4))
            elif name == "noise":
                out.append(noise_derivation(info.primary, p, args[0] if args else "gaussian",
                                            float(args[1]) if len(args) > 1 else 0.1))
            elif name == "edges":
                out.append(edges_derivation(info.primary, p))
            elif name == "crop":
                if not args:
                    raise ValueError
                out.append(crop_derivation(dict(info.fields), int(args[0])))
            else:
                raise GenlabError(f"unknown derived field {name!r} in data.derive={spec!r}; use mask, lowres, "
                                  "noise, edges or crop (see docs/data.md)")
        except ValueError:
            raise GenlabError(f"data.derive item {item!r} has a bad argument; e.g. mask:strokes, lowres:4, "
                              "noise:gaussian:0.1, edges, crop:64") from None
    return out


def with_derived(data: FieldDataset, spec: str) -> FieldDataset:
    """`data` plus the derived fields of `spec`, applied after its own."""
    if not hasattr(data, "derived"):
        raise GenlabError(f"data.derive is not supported for {data.name} (unpaired streams)")
    extra = parse(spec, data)
    return FieldDataset(data.name, data.split, data.tensors, data.specs, derived=data.derived + tuple(extra),
                        primary=data.primary, meta=dict(data.meta))
