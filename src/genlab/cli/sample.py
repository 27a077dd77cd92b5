"""`genlab sample RUN -n 64 --out grid.png|x.npy|x.npz|x.nc [--seed S] [--class NAME]`: draw from a
trained model. Arrays are written in data space: physical units for fields (the run's normaliser), [0, 1]
for images; `.nc` keeps the training data's lat/lon grid and units."""
from __future__ import annotations

import numpy as np
import torch

from ..errors import GenlabError
from ..runs import load_run
from .common import device, out_path, positive_int, say


def add_parser(sub) -> None:
    p = sub.add_parser("sample", help="draw samples from a trained run into a PNG grid, .npy/.npz or .nc")
    p.add_argument("run", help="run directory")
    p.add_argument("-n", type=int, default=64, help="number of samples (default 64)")
    p.add_argument("--out", required=True, help="output .png (grid), .npy/.npz (arrays in data units; images "
                   "in [0, 1]) or .nc (netCDF on the data's grid, physical units)")
    p.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    p.add_argument("--class", dest="cls", metavar="NAME", help="class-conditional models: a class name "
                   "(e.g. 'ankle boot') or index; default: every class in turn")
    p.add_argument("--model-space", action="store_true", help="write arrays in model space (standardised)")
    p.add_argument("--no-ema", action="store_true", help="use live weights even if EMA weights exist")
    p.add_argument("--device", default="cpu", help="cpu, cuda or auto (default cpu)")
    p.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    p.set_defaults(func=run)


def class_index(value: str, info) -> int:
    """A class name (case-insensitive; '/' and '-' optional) or index -> index, checked against the run."""
    names = list(info.classes)
    k = info.n_classes
    if value.strip().lstrip("-").isdigit():
        i = int(value)
        if not 0 <= i < k:
            raise GenlabError(f"--class {value} is out of range; this run has classes 0..{k - 1}")
        return i
    norm = lambda s: "".join(ch for ch in s.lower() if ch.isalnum())  # noqa: E731
    for i, name in enumerate(names):
        if norm(name) == norm(value) or norm(value) in norm(name).split():
            return i
    raise GenlabError(f"--class {value!r} is not a class of this run; choose one of: "
                      f"{', '.join(repr(n) for n in names) or f'0..{k - 1}'}")


@torch.no_grad()
def draw(model, n: int, seed: int, dev: torch.device, batch: int = 500, cond: dict | None = None) -> torch.Tensor:
    """n samples in chunks, from one seeded generator (so the result does not depend on the chunking)."""
    g = torch.Generator(dev).manual_seed(seed)
    parts = []
    for i in range(0, n, batch):
        m = min(batch, n - i)
        if cond:
            part = model.sample(m, generator=g, cond={k: v[i:i + m].to(dev) for k, v in cond.items()})
        else:
            part = model.sample(m, generator=g)
        parts.append(part.float().cpu())
    return torch.cat(parts, 0)


def run(args) -> int:
    positive_int("-n", args.n)
    out = out_path(args.out, args.force, (".png", ".npy", ".npz", ".nc"))
    dev = device(args.device)
    r = load_run(args.run, device=dev, use_ema=not args.no_ema)
    if r.model.conditional:
        raise GenlabError(f"model {r.config.model_name!r} maps inputs to outputs and cannot sample from nothing; "
                          "use the command for its task (e.g. genlab translate)")
    cond = None
    if args.cls is not None:
        if "y" not in r.model.sample_conditions:
            raise GenlabError(f"--class needs a class-conditional model (e.g. cdcgan, cvae); "
                              f"{r.config.model_name!r} is not")
        cond = {"y": torch.full((args.n,), class_index(args.cls, r.info), dtype=torch.long)}
    x = draw(r.model, args.n, args.seed, dev, cond=cond)
    spec = r.info.spec
    what = ""
    if out.suffix == ".png":
        from ..models.base import Panel
        from ..viz.preview import save_preview
        save_preview([Panel(f"{r.config.model_name} samples", x, r.info.primary)], r.info, out,
                     title=f"{r.config.model_name} samples")
    else:
        values = x if args.model_space or spec.bounded or spec.kind == "label" else spec.normalizer.to_data(x)
        what = "model space" if args.model_space else (f"units {spec.units}" if spec.units and not spec.bounded
                                                       else "data space")
        if out.suffix == ".npy":
            np.save(out, values.numpy())
        elif out.suffix == ".npz":
            np.savez_compressed(out, x=values.numpy())
        else:
            _write_nc(out, values, r, force=args.force)
    say(f"wrote {args.n} samples from {r.run_dir} (step {r.step}{', EMA weights' if r.ema else ''}) to {out}"
        + (f" ({what})" if what else ""))
    return 0


def _write_nc(out, values: torch.Tensor, r, *, force: bool) -> None:
    if values.dim() != 4:
        raise GenlabError("--out .nc needs a run on (C, H, W) fields; use .npy for vectors")
    from ..data.netcdf import write_netcdf

    spec = r.info.spec
    name = (r.meta.get("variable") or (spec.channels[0] if spec.channels else "x")).split(",")[0]
    write_netcdf(out, {name: values.numpy()}, r.meta, units=spec.units or None, time=False, force=force)
