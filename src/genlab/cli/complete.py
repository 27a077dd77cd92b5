"""`genlab complete RUN --out completion.png [--mask top|bottom|left|right|center|FILE.npy]`: keep part
of real test images and sample the rest (image completion / inpainting) with a model that can."""
from __future__ import annotations

import numpy as np
import torch

from ..data import load_dataset
from ..errors import GenlabError
from ..runs import load_run
from ..viz.grid import save_grid
from .common import add_device, add_force, add_n, add_out, device, out_path, positive_int, say

MASKS = ("top", "bottom", "left", "right", "center")


def add_parser(sub) -> None:
    p = sub.add_parser("complete", help="complete partly hidden real test images (top half given by default)")
    p.add_argument("run", help="run directory of a model that can complete images (e.g. pixelcnn)")
    add_out(p, "output .png: rows of (masked input, samples..., original)", required=True)
    p.add_argument("--mask", default="top", help=f"which pixels are KNOWN: {', '.join(MASKS)} half/centre, or a "
                   ".npy file of an HxW 0/1 array (1 = known); default top")
    add_n(p, 8, "number of test images")
    p.add_argument("--samples", type=int, default=4, help="completions per image (default 4)")
    p.add_argument("--split", default=None, help="dataset split to take images from (default: the run's eval split)")
    p.add_argument("--seed", type=int, default=0, help="which test images, and the sampling noise (default 0)")
    p.add_argument("--no-ema", action="store_true", help="use live weights even if EMA weights exist")
    add_device(p)
    add_force(p)
    p.set_defaults(func=run)


def make_mask(spec: str, h: int, w: int) -> torch.Tensor:
    """(H, W) bool mask, True = known pixel."""
    m = torch.zeros(h, w, dtype=torch.bool)
    if spec == "top":
        m[: h // 2] = True
    elif spec == "bottom":
        m[h // 2:] = True
    elif spec == "left":
        m[:, : w // 2] = True
    elif spec == "right":
        m[:, w // 2:] = True
    elif spec == "center":
        m[:] = True
        m[h // 4: h - h // 4, w // 4: w - w // 4] = False
    elif spec.endswith(".npy"):
        try:
            a = np.load(spec, allow_pickle=False)
        except (OSError, ValueError) as e:
            raise GenlabError(f"--mask {spec!r} could not be read as a .npy array ({e}); save an HxW 0/1 array "
                              "with numpy.save") from None
        if a.shape != (h, w):
            raise GenlabError(f"--mask {spec!r} has shape {a.shape}; this run's images are {h}x{w}")
        m = torch.from_numpy(a != 0)
    else:
        raise GenlabError(f"--mask {spec!r} is invalid; use one of {', '.join(MASKS)} or a .npy file")
    return m


def run(args) -> int:
    positive_int("-n", args.n)
    positive_int("--samples", args.samples)
    out = out_path(args.out, args.force, (".png",))
    dev = device(args.device)
    r = load_run(args.run, device=dev, use_ema=not args.no_ema)
    if "complete" not in r.model.capabilities():
        raise GenlabError(f"model {r.config.model_name!r} cannot complete images; use a pixelcnn run")
    if not r.info.is_image:
        raise GenlabError("genlab complete works on image runs only")
    d = r.config.data
    data = load_dataset(d.name, args.split or d.eval_split, **d.options())
    x = data.subset(args.n, seed=args.seed).all(dev)[: args.n]  # (n, C, H, W)
    mask = make_mask(args.mask, *x.shape[2:])
    g = torch.Generator(dev).manual_seed(args.seed)
    reps = x.repeat_interleave(args.samples, 0)  # (n * samples, C, H, W)
    filled = r.model.complete(reps, mask, generator=g).float().cpu()
    shown = x.cpu() * mask + 0.5 * ~mask  # hidden pixels shown grey
    rows = torch.cat([shown.unsqueeze(1), filled.view(args.n, args.samples, *x.shape[1:]),
                      x.cpu().unsqueeze(1)], 1)  # (n, samples + 2, C, H, W)
    save_grid(rows.reshape(-1, *x.shape[1:]), out, nrow=args.samples + 2)
    say(f"wrote {args.n} x {args.samples} completions ({args.mask} known) from {r.run_dir} to {out}; "
        "each row: masked input, completions, original")
    return 0
