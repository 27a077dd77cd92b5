"""`genlab reconstruct RUN --out recon.png`: test images (upper row) above their reconstructions."""
from __future__ import annotations

import torch

from ..data import load_dataset
from ..errors import GenlabError
from ..runs import load_run
from ..viz import save_grid
from .common import add_device, add_force, add_n, add_out, device, out_path, positive_int, say


def add_parser(sub) -> None:
    p = sub.add_parser("reconstruct", help="encode and decode real images: inputs above outputs")
    p.add_argument("run", help="run directory")
    add_out(p, "output PNG", required=True)
    add_n(p, 16, "number of images")
    p.add_argument("--split", default=None, help="dataset split (default: the run's eval split)")
    p.add_argument("--seed", type=int, default=0, help="which images: a seeded random choice")
    add_device(p)
    add_force(p)
    p.set_defaults(func=run)


@torch.no_grad()
def run(args) -> int:
    positive_int("-n", args.n)
    out = out_path(args.out, args.force, (".png",))
    dev = device(args.device)
    r = load_run(args.run, device=dev)
    if "reconstruct" not in r.model.capabilities():
        raise GenlabError(f"model {r.config.model_name!r} has no encoder, so it cannot reconstruct; use "
                          "an ae, vae or flow run")
    if not r.info.is_image:
        raise GenlabError("reconstruct draws image grids; this run's data are vectors")
    d = r.config.data
    data = load_dataset(d.name, args.split or d.eval_split, **d.options())
    idx = torch.randperm(len(data), generator=torch.Generator().manual_seed(args.seed))[:args.n]
    x = data.get(idx, dev)
    x_hat = r.model.reconstruct(x).float().clamp(0, 1)
    per_row = min(8, args.n)
    rows = []
    for i in range(0, len(x), per_row):  # pairs of rows: inputs, then their reconstructions
        rows += [x[i:i + per_row].cpu(), x_hat[i:i + per_row].cpu()]
    save_grid(torch.cat(rows, 0), out, nrow=per_row)
    mse = (x_hat - x).pow(2).mean().item()
    say(f"wrote {len(x)} inputs (upper rows) and reconstructions (lower rows) to {out}; mse/dim {mse:.5f}")
    return 0
