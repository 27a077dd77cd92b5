"""`genlab superres RUN --input IMG|DIR|.npy --out DIR [--tile N --overlap M] [--precision auto|fp32|bf16]`:
super-resolve images of any size with a trained srresnet or srgan run.

Inputs are read like `genlab translate`'s (apply/io.py): an image, a folder of images (sub-folders kept)
or a .npy/.npz array ((C, H, W) or (N, C, H, W), data units); images are decoded to the run's channel
count (grey <-> RGB), arrays of another channel count are refused. Each input of h x w becomes
DIR/<name>.png (or .npy for physical fields) of exactly scale·h x scale·w. Large inputs are processed in
tiles of N x N input pixels, each computed with M pixels of context around it that are then discarded
(apply/tiles.py `stitched`); M defaults to the network's receptive radius, so the tiled result equals the
whole-image pass (up to float rounding) while memory stays bounded.
Nothing is written unless every input was read, and an --out that holds files is refused without --force.
"""
from __future__ import annotations

import time
from pathlib import Path

import torch

from ..apply.ensemble import add_option as add_self_ensemble, for_run, with_members
from ..errors import GenlabError
from .common import add_device, add_force, add_n, add_out, device, say


def add_parser(sub) -> None:
    p = sub.add_parser("superres", help="super-resolve images of any size with an srresnet/srgan run (tiled)")
    p.add_argument("run", help="run directory of a super-resolution model (srresnet, srgan)")
    p.add_argument("--input", required=True, help="image, folder of images, or .npy/.npz array ((C, H, W) or "
                   "(N, C, H, W) in data units)")
    add_out(p, "output directory (created; one that already holds files is refused unless --force)", required=True)
    p.add_argument("--tile", type=int, default=0, help="process inputs in tiles of N x N input pixels, which "
                   "bounds memory (0 = each image in one pass, default)")
    p.add_argument("--overlap", type=int, default=None, help="context in input pixels computed around every "
                   "tile and discarded (default: the network's receptive radius, so tiled outputs equal the "
                   "whole-image pass)")
    p.add_argument("--precision", choices=("auto", "fp32", "bf16"), default="auto",
                   help="arithmetic of the network: auto = bf16 where the hardware runs it fast (CUDA, "
                   "AVX-512 BF16 CPUs), else fp32")
    add_n(p, 0, "use only the first N inputs of a folder or array (default: all)")
    add_self_ensemble(p)
    p.add_argument("--no-ema", action="store_true", help="use live weights even if EMA weights exist")
    add_device(p)
    add_force(p)
    p.set_defaults(func=run)


def check_out(out_dir: Path, force: bool) -> None:
    """--out must be a directory that does not exist or holds nothing, unless --force."""
    if out_dir.exists() and not out_dir.is_dir():
        raise GenlabError(f"--out {str(out_dir)!r} is a file; give a directory")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not force:
        raise GenlabError(f"--out {str(out_dir)!r} already exists and holds files; choose another --out or add "
                          "--force (files of the same name are replaced)")


def open_tiled_run(args, capability: str, refusal: str):
    """The shared start of the tiled apply commands (superres, inpaint, denoise): check --tile/--overlap/-n
    and --out, load the run and refuse a model without `capability` (refusal: "which does not …; use …").
    Returns (run, out_dir, device)."""
    from ..runs import load_run

    if args.tile < 0 or (args.overlap or 0) < 0 or args.n < 0:
        raise GenlabError("--tile, --overlap and -n must be >= 0")
    out_dir = Path(args.out)
    check_out(out_dir, args.force)
    dev = device(args.device)
    r = load_run(args.run, device=dev, use_ema=not args.no_ema)
    if capability not in r.model.capabilities():
        raise GenlabError(f"run {args.run} is a {r.config.model_name!r} model, {refusal}")
    return for_run(with_members(r, args.ensemble, device=dev, use_ema=not args.no_ema), args.self_ensemble), out_dir, dev


def run(args) -> int:
    from ..apply import io, tiles
    from ..training.precision import autocast, resolve_precision

    r, out_dir, dev = open_tiled_run(args, "upscale", "which does not super-resolve; use an srresnet or srgan run")
    model = r.model
    cfg = r.config.model
    s_spec, d_spec = r.info.fields[cfg.input], r.info.fields[cfg.target]
    items = io.read_inputs(args.input, s_spec, n=args.n or None, dataset_options=r.config.data.options(),
                           source=cfg.input, target=cfg.target)
    ext = ".png" if d_spec.kind == "image" else ".npy"
    precision = resolve_precision(args.precision, dev)
    scale = model.scale
    context = model.context if args.overlap is None else args.overlap
    t0 = time.perf_counter()
    sizes = []
    for it in items:
        x = it.x.to(dev).unsqueeze(0)  # (1, C, h, w)
        try:
            with torch.no_grad(), autocast(precision, dev):
                y = tiles.stitched(model.upscale, x, 1, tile=args.tile, context=context, scale=scale)[0]
        except ValueError as e:  # e.g. reflect padding on an input smaller than the kernel
            raise GenlabError(f"cannot super-resolve {it.name} ({x.shape[-2]}x{x.shape[-1]}): {e}") from None
        io.write_output(out_dir / f"{it.name}{ext}", y.float(), d_spec)
        sizes.append((tuple(x.shape[-2:]), tuple(y.shape[-2:])))
    took = time.perf_counter() - t0
    shown = ", ".join(f"{h}x{w} -> {hh}x{ww}" for (h, w), (hh, ww) in sorted(set(sizes))[:4])
    how = f", tiles of {args.tile} px with {context} px context" if args.tile else ""
    say(f"super-resolved {len(items)} input(s) x{scale} ({shown}{', ...' if len(set(sizes)) > 4 else ''}) into "
        f"{out_dir}/ in {took:.1f} s ({precision}{how})")
    return 0
