"""`genlab denoise RUN --input IMG|DIR|.npy --out DIR [--tile N --overlap M]`: denoise images or fields of any
size with a trained denoise run.

Inputs are read like `genlab superres`'s (apply/io.py); each becomes DIR/<name>.png (.npy in data units for
physical fields) of its own size. Large inputs are processed in tiles of N x N pixels with M pixels of context
each (apply/tiles.py `stitched`; default M = the network's receptive radius). An --out that holds files is
refused without --force; nothing is written unless every input was read.
"""
from __future__ import annotations

import time

import torch

from ..apply.ensemble import add_option as add_self_ensemble
from .common import add_device, add_force, add_n, add_out, say
from .superres import open_tiled_run


def add_parser(sub) -> None:
    p = sub.add_parser("denoise", help="denoise images/fields of any size with a denoise run (tiled)")
    p.add_argument("run", help="run directory of a denoising model (denoise)")
    p.add_argument("--input", required=True, help="image, folder of images, or .npy/.npz array ((C, H, W) or "
                   "(N, C, H, W) in data units)")
    add_out(p, "output directory (created; one that already holds files is refused unless --force)", required=True)
    p.add_argument("--tile", type=int, default=0, help="process inputs in tiles of N x N pixels (0 = whole, default)")
    p.add_argument("--overlap", type=int, default=None, help="context in pixels computed around every tile and "
                   "discarded (default: the network's receptive radius)")
    add_n(p, 0, "use only the first N inputs of a folder or array (default: all)")
    add_self_ensemble(p)
    p.add_argument("--no-ema", action="store_true", help="use live weights even if EMA weights exist")
    add_device(p)
    add_force(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from ..apply import io, tiles

    r, out_dir, dev = open_tiled_run(args, "denoise", "which does not denoise; use a denoise run")
    model = r.model
    cfg = r.config.model
    spec = r.info.fields[cfg.target]
    items = io.read_inputs(args.input, r.info.fields[cfg.input], n=args.n or None)
    ext = ".png" if spec.kind == "image" else ".npy"
    context = model.context if args.overlap is None else args.overlap
    t0 = time.perf_counter()
    for it in items:
        with torch.no_grad():
            y = tiles.stitched(model.denoise, it.x.unsqueeze(0).to(dev), 1, tile=args.tile, context=context)[0]
        io.write_output(out_dir / f"{it.name}{ext}", y.cpu(), spec)
    how = f", tiles of {args.tile} px with {context} px context" if args.tile else ""
    say(f"denoised {len(items)} input(s) into {out_dir}/ in {time.perf_counter() - t0:.1f} s{how}")
    return 0
