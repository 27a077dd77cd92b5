"""`genlab translate RUN --input PATH --out DIR [--direction AtoB|BtoA] [--samples K]`: apply a trained
translation model (pix2pix, unet-l1, cyclegan, augmented-cyclegan) to images of any size.

PATH: an image, a folder of images (sub-folders kept), a .npy/.npz array (data units), or a dataset split
(NAME:SPLIT, first -n examples; paired splits add the target to the grid). Images are translated at their
own size (fully convolutional; padded to the network's multiple, or in blended tiles with --tile).
Writes DIR/<name>.png (or .npy for physical fields), DIR/<name>_s<k> for K > 1 samples, and DIR/grid.png
(input | output(s) [| target]). Existing files are never replaced unless --force.
"""
from __future__ import annotations

from pathlib import Path

import torch

from ..errors import GenlabError
from .common import add_device, add_force, add_n, add_out, device, positive_int, say


def add_parser(sub) -> None:
    p = sub.add_parser("translate", help="translate images with a trained translation run (any image size)")
    p.add_argument("run", help="run directory of a translation model")
    p.add_argument("--input", required=True, help="image, folder, .npy/.npz (data units) or NAME:SPLIT")
    add_out(p, "output directory (created; existing files in it are never replaced without --force)", required=True)
    p.add_argument("--direction", default="AtoB", help="AtoB (default) or BtoA (two-way models)")
    p.add_argument("--samples", type=int, default=1, help="outputs per input (stochastic models: "
                   "augmented-cyclegan, pix2pix with --dropout; default 1)")
    p.add_argument("--dropout", action="store_true", help="pix2pix: keep dropout at test time (the paper's noise)")
    add_n(p, 16, "examples taken from a dataset split")
    p.add_argument("--tile", type=int, default=0, help="translate in tiles of this size (pixels; 0 = whole "
                   "image, default); tiles overlap by --overlap and are blended")
    p.add_argument("--overlap", type=int, default=32, help="tile overlap in pixels (default 32)")
    p.add_argument("--seed", type=int, default=0, help="seed of the sampling noise (default 0)")
    p.add_argument("--no-ema", action="store_true", help="use live weights even if EMA weights exist")
    add_device(p)
    add_force(p)
    p.set_defaults(func=run)


def _check_free(paths: list[Path], force: bool) -> None:
    taken = [p for p in paths if p.exists()]
    if taken and not force:
        more = f" and {len(taken) - 1} more" if len(taken) > 1 else ""
        raise GenlabError(f"{taken[0]}{more} already exist(s); choose another --out or add --force to replace")


def run(args) -> int:
    from ..apply import io, tiles
    from ..runs import load_run
    from ..viz.grid import save_grid

    positive_int("--samples", args.samples)
    positive_int("-n", args.n)
    if args.tile < 0 or args.overlap < 0:
        raise GenlabError("--tile and --overlap must be >= 0")
    out_dir = Path(args.out)
    if out_dir.exists() and not out_dir.is_dir():
        raise GenlabError(f"--out {args.out!r} is a file; give a directory")
    dev = device(args.device)
    r = load_run(args.run, device=dev, use_ema=not args.no_ema)
    model = r.model
    if not model.directions:
        raise GenlabError(f"run {args.run} is a {r.config.model_name!r} model, which does not translate; "
                          "use a pix2pix, unet-l1, cyclegan or augmented-cyclegan run")
    src, dst = model.translation_fields(args.direction)
    s_spec, d_spec = r.info.fields[src], r.info.fields[dst]
    if len(s_spec.shape) != 3:
        raise GenlabError(f"field {src!r} is not an image or field on a grid; translate needs (C, H, W) inputs")
    items = io.read_inputs(args.input, s_spec, n=args.n, dataset_options=r.config.data.options(),
                           source=src, target=dst)
    k = args.samples
    ext = ".png" if d_spec.kind == "image" else ".npy"
    names = [out_dir / (f"{it.name}{ext}" if k == 1 else f"{it.name}_s{j}{ext}") for it in items for j in range(k)]
    _check_free(names + [out_dir / "grid.png"], args.force)
    kwargs = {"dropout": True} if args.dropout else {}
    if args.dropout and r.config.model_name != "pix2pix":
        raise GenlabError("--dropout applies to pix2pix runs only")
    g = torch.Generator(dev).manual_seed(args.seed)
    multiple = getattr(model, "size_multiple", 1)
    rows = []
    for it in items:
        x = it.x.to(dev).unsqueeze(0)  # (1, C, H, W)
        outs = []
        for j in range(k):
            fn = lambda t: model.translate(t, args.direction, generator=g, **kwargs)  # noqa: E731
            with torch.no_grad():
                outs.append(tiles.apply(fn, x, multiple, tile=args.tile, overlap=args.overlap)[0])
        for j, y in enumerate(outs):
            io.write_output(out_dir / (f"{it.name}{ext}" if k == 1 else f"{it.name}_s{j}{ext}"), y, d_spec)
        rows.append((it, outs))
    grid = _grid(rows, s_spec, d_spec)
    if grid is not None:
        save_grid(grid, out_dir / "grid.png", nrow=grid.shape[0] // len(rows))
    size = {tuple(it.x.shape[-2:]) for it, _ in rows}
    say(f"translated {len(items)} input(s) {src} -> {dst} ({args.direction}, {k} sample(s) each, sizes "
        f"{', '.join('x'.join(map(str, s)) for s in sorted(size))}) into {out_dir}/"
        + (" with grid.png (input | output" + ("s" if k > 1 else "") + (" | target" if rows[0][0].target is not None else "") + ")"
           if grid is not None else ""))
    return 0


def _grid(rows, s_spec, d_spec):
    """(N·cols, C, H, W) tensor of input | outputs | target rows, when every input has one size and both
    sides are images; else None."""
    if s_spec.kind != "image" or d_spec.kind != "image":
        return None
    shapes = {tuple(it.x.shape[-2:]) for it, _ in rows}
    if len(shapes) != 1 or len(rows) > 64:
        return None
    c = max(s_spec.shape[0], d_spec.shape[0])
    tiles_ = []
    for it, outs in rows:
        row = [it.x, *outs] + ([it.target] if it.target is not None else [])
        tiles_ += [t.float().cpu().expand(c, -1, -1) if t.shape[0] == 1 else t.float().cpu() for t in row]
    return torch.stack(tiles_)
