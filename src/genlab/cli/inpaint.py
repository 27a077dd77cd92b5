"""`genlab inpaint RUN --input IMG|DIR|.npy --mask MASK|DIR --out DIR [--raw] [--tile N --overlap M]`: fill the
holes of images or fields of any size with a trained inpaint run.

Inputs are read like `genlab superres`'s (apply/io.py: an image, a folder of images, a .npy/.npz array in data
units). Masks (data/masks.py `read_mask`): a PNG/JPEG/… (white = known, black = hole) or a .npy 0/1 array
((H, W), (1, H, W) or (C, H, W); 1 = known) — one mask file for every input, or a folder holding a mask of the
same relative name (any mask extension) for each input image. Each input becomes DIR/<name>.png (.npy for
physical fields): the composite out · (1 − m) + x · m; `--raw` also writes the network's raw output to
DIR/raw/<name>.png. Large inputs are processed in tiles of N x N pixels with M pixels of context each
(apply/tiles.py `stitched`; default M = the network's receptive radius).
Refused in one line before anything is written: a missing input or mask, a mask of another size than its
image, a mask without any known pixel, a mask of a channel count other than 1 or the image's, and an --out
that already holds files (unless --force).
"""
from __future__ import annotations

import time
from pathlib import Path

import torch

from ..errors import GenlabError
from ..apply.ensemble import add_option as add_self_ensemble
from .common import add_device, add_force, add_n, add_out, say
from .superres import open_tiled_run

MASK_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".npy")


def add_parser(sub) -> None:
    p = sub.add_parser("inpaint", help="fill holes of images/fields of any size with an inpaint run (tiled)")
    p.add_argument("run", help="run directory of an inpainting model (inpaint)")
    p.add_argument("--input", required=True, help="image, folder of images, or .npy/.npz array ((C, H, W) or "
                   "(N, C, H, W) in data units)")
    p.add_argument("--mask", required=True, help="mask file (PNG: white = known; .npy: 1 = known, 0 = hole) used "
                   "for every input, or a folder with a mask of the same name for each input image")
    add_out(p, "output directory (created; one that already holds files is refused unless --force)", required=True)
    p.add_argument("--raw", action="store_true", help="also write the raw network outputs to OUT/raw/")
    p.add_argument("--tile", type=int, default=0, help="process inputs in tiles of N x N pixels (0 = whole, default)")
    p.add_argument("--overlap", type=int, default=None, help="context in pixels computed around every tile and "
                   "discarded (default: the network's receptive radius)")
    add_n(p, 0, "use only the first N inputs of a folder or array (default: all)")
    add_self_ensemble(p)
    p.add_argument("--no-ema", action="store_true", help="use live weights even if EMA weights exist")
    add_device(p)
    add_force(p)
    p.set_defaults(func=run)


def mask_for(mask: Path, name: str) -> Path:
    """The mask file of input `name`: `mask` itself, or mask/<name>.<any mask suffix> for a folder."""
    if not mask.is_dir():
        return mask
    for suffix in MASK_SUFFIXES:
        f = mask / f"{name}{suffix}"
        if f.is_file():
            return f
    raise GenlabError(f"mask folder {str(mask)!r} has no mask for input {name!r} (looked for {name}.png, .npy, …); "
                      "give one mask per input image, of the same name")


def read_pairs(args, spec) -> list[tuple[str, torch.Tensor, torch.Tensor]]:
    """[(name, x (C, H, W) model space, mask (1|C, H, W))], every file read and checked."""
    from ..apply import io
    from ..data.masks import read_mask

    mask = Path(args.mask)
    if not mask.exists():
        raise GenlabError(f"--mask {args.mask!r} does not exist; give a PNG (white = known), a .npy 0/1 array or "
                          "a folder of them")
    items = io.read_inputs(args.input, spec, n=args.n or None)
    pairs, cache = [], {}
    for it in items:
        f = mask_for(mask, it.name)
        if f not in cache:
            cache[f] = read_mask(f)
        m = cache[f]
        c, h, w = it.x.shape
        if tuple(m.shape[-2:]) != (h, w):
            raise GenlabError(f"mask {f} is {m.shape[-2]}x{m.shape[-1]} but input {it.name} is {h}x{w}; give a "
                              "mask of the image's size")
        if m.shape[0] not in (1, c):
            raise GenlabError(f"mask {f} has {m.shape[0]} channels; give 1 or {c} (the input's)")
        if not bool((m > 0).any()):
            raise GenlabError(f"mask {f} has no known pixel (all holes); nothing to inpaint from — white (or 1) "
                              "marks the known pixels")
        pairs.append((it.name, it.x, m))
    return pairs


def run(args) -> int:
    from ..apply import io, tiles

    r, out_dir, dev = open_tiled_run(args, "infill", "which does not inpaint; use an inpaint run")
    model = r.model
    spec = r.info.fields[r.config.model.target]
    pairs = read_pairs(args, spec)  # everything read and checked before anything is written
    ext = ".png" if spec.kind == "image" else ".npy"
    context = model.context if args.overlap is None else args.overlap
    t0, holes = time.perf_counter(), []
    for name, x, m in pairs:
        c, cm = x.shape[0], m.shape[0]
        xm = torch.cat([torch.where(m > 0, x, torch.zeros(())), m]).unsqueeze(0).to(dev)  # (1, C + C_m, H, W)
        with torch.no_grad():
            raw = tiles.stitched(lambda t: model.infill(t[:, :c], t[:, c:c + cm]), xm, 1, tile=args.tile,
                                 context=context)[0].cpu()
        comp = raw * (1 - m) + x * m
        io.write_output(out_dir / f"{name}{ext}", comp, spec)
        if args.raw:
            io.write_output(out_dir / "raw" / f"{name}{ext}", raw, spec)
        holes.append(1.0 - float(m.float().mean()))
    took = time.perf_counter() - t0
    how = f", tiles of {args.tile} px with {context} px context" if args.tile else ""
    say(f"inpainted {len(pairs)} input(s) (hole ratio {min(holes):.3f}–{max(holes):.3f}) into {out_dir}/ in "
        f"{took:.1f} s{how}")
    return 0
