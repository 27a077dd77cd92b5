"""Super-resolution benchmarks (issue 15): tiled x4 speed, fp32 vs bf16, and the srresnet / srgan / bicubic table.

    .venv/bin/python benchmarks/superres.py speed [--photo 2560x1600] [--side input|output] [--tile 128]
                                                  [--precisions fp32,bf16] [--run RUN] [--threads 0]
    .venv/bin/python benchmarks/superres.py table [--root runs/superres] [--eval-only] [--figure PNG]
                                                  [--srresnet-steps N] [--srgan-steps N] [--cpu-sized]
                                                  [--data-size 96] [--data-n 8192]

speed: one photo of --photo pixels (a bundled photo, hubble_deep_field, resized with Lanczos) super-resolved
x4 by an SRResNet (the paper's width 64 and 16 blocks with fresh weights, or the generator of --run: the
time does not depend on the weights), in tiles of --tile input pixels with the network's receptive radius
(40 px) as context (apply/tiles.py `stitched`, as `genlab superres`), once per precision in one process.
--side input (default): the photo is the input (output 4x its size); --side output: the photo is the
output (input 1/4 of it). Prints seconds and output megapixels/s per precision and the ratio to fp32.
bf16 autocast only pays off on CPUs with bf16 units (AMX, AVX-512 BF16); on AVX2-only CPUs it is emulated
and slower — the printed ratio says so, whatever it is.

table: trains (or resumes; a finished run is a no-op) srresnet x4 and then srgan x4 initialised from it
on `photos` (96 px HR crops), evaluates both with `genlab eval RUN --metrics fid,c2st` on the held-out
photo strips (docs/restoration.md) and prints a markdown table: bicubic (measured beside srresnet, same
code path) | srresnet | srgan with PSNR/SSIM on Y and RGB, patch FID and C2ST accuracy vs the HR patches.
--figure draws bicubic | srresnet | srgan | original crops of the held-out photos.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
GENLAB = [sys.executable, "-m", "genlab"]

COMMON = ["--model.scale=4", "--train.batch_size=16", "--train.log_every=50", "--train.ckpt_every=500",
          "--train.progress=false"]
PAPER = ["--model.width=64", "--model.n_blocks=16"]  # Ledig et al.'s SRResNet
CPU_SIZED = ["--model.width=32", "--model.n_blocks=8", "--model.bicubic_skip=true"]  # trains in hours on 2 cores
GAN_CPU_SIZED = ["--model.d_base=32"]  # D of 32-32-64-...-256 channels instead of 64-...-512


# --- speed -------------------------------------------------------------------------------------------

def photo(w: int, h: int):
    """(1, 3, h, w) float in [0, 1]: hubble_deep_field (or the first bundled photo) resized with Lanczos."""
    import numpy as np
    import torch
    from PIL import Image

    from genlab.data.photos import photo_files

    files = dict(photo_files())
    path = files.get("hubble_deep_field") or next(iter(files.values()))
    with Image.open(path) as im:
        a = np.asarray(im.convert("RGB").resize((w, h), Image.LANCZOS), np.float32) / 255.0
    return torch.from_numpy(a).permute(2, 0, 1).unsqueeze(0).contiguous()  # (H, W, 3) -> (1, 3, H, W)


def speed(args) -> int:
    import torch

    from genlab.apply import tiles
    from genlab.nn.superres import SRResNetGenerator
    from genlab.training.precision import autocast

    if args.threads:
        torch.set_num_threads(args.threads)
    w, h = (int(v) for v in args.photo.lower().split("x"))
    if args.run:
        from genlab.runs import load_run

        model = load_run(args.run).model
        fn, scale, context, what = model.upscale, model.scale, model.context, f"generator of {args.run}"
    else:
        torch.manual_seed(0)
        net = SRResNetGenerator(3, 3, scale=4, width=64, n_blocks=16).eval()
        fn, scale, context, what = net, 4, net.context, "SRResNet x4, width 64, 16 blocks (fresh weights)"
    x = photo(w, h) if args.side == "input" else photo(w // scale, h // scale)
    dev = torch.device("cpu")
    print(f"{what}; input {x.shape[-1]}x{x.shape[-2]} -> output {x.shape[-1] * scale}x{x.shape[-2] * scale}; "
          f"tiles of {args.tile} px with {context} px context; threads {torch.get_num_threads()}", flush=True)
    times = {}
    for prec in args.precisions.split(","):
        t0 = time.perf_counter()
        with torch.no_grad(), autocast(prec, dev):
            y = tiles.stitched(fn, x, 1, tile=args.tile, context=context, scale=scale)
        times[prec] = time.perf_counter() - t0
        mpx = y.shape[-1] * y.shape[-2] / 1e6
        print(f"  {prec:5s} {times[prec]:8.1f} s   {mpx / times[prec]:.4f} output Mpx/s"
              + (f"   {times[prec] / times['fp32']:.2f}x the fp32 time" if "fp32" in times and prec != "fp32" else ""),
              flush=True)
    return 0


# --- table -------------------------------------------------------------------------------------------

def finished(run: Path, steps: int) -> bool:
    latest = run / "checkpoints" / "latest.json"
    return latest.is_file() and json.loads(latest.read_text()).get("step", 0) >= steps


def train(run: Path, argv: list[str], steps: int) -> None:
    if (run / "config.yaml").is_file():
        cmd = GENLAB + ["train", "--resume", str(run), f"--train.steps={steps}"]
    else:
        cmd = GENLAB + ["train", *argv, f"--train.steps={steps}", "--out", str(run)]
    print("$ genlab", " ".join(cmd[3:]), flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT)


def evaluate(run: Path, self_ensemble: str = "none") -> dict:
    from genlab.report.results import load_results

    step = json.loads((run / "checkpoints" / "latest.json").read_text()).get("step")
    se = self_ensemble != "none"

    def newest():
        recs = [r for r in load_results(run) if r.kind == "superres" and r.step == step and "fid" in r.values
                and se == ("self_ensemble" in r.protocol)]
        return recs[-1] if recs else None

    if newest() is None:
        subprocess.run(GENLAB + ["eval", str(run), "--metrics", "fid,c2st", "--self-ensemble", self_ensemble],
                       check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    r = newest()
    return {**r.values, "protocol": r.protocol, "step": r.step}


def table(results: dict[str, dict]) -> str:
    cols = [("PSNR-Y dB", "psnr_y", 2), ("SSIM-Y", "ssim_y", 4), ("PSNR-RGB dB", "psnr_rgb", 2),
            ("SSIM-RGB", "ssim_rgb", 4), ("patch FID", "fid", 1), ("C2ST acc.", "c2st", 3)]
    lines = ["| method | steps | " + " | ".join(c[0] for c in cols) + " |", "|---|---|" + "---|" * len(cols)]
    rows = []
    if "srresnet" in results:
        v = results["srresnet"]
        rows.append(("bicubic", "–", {k: v.get(f"bicubic_{k}") for _, k, _ in cols}
                     | {f"{k}_se": v.get(f"bicubic_{k}_se") for _, k, _ in cols}))
    rows += [(name, str(results[name]["step"]), results[name]) for name in ("srresnet", "srgan") if name in results]
    for name, steps, v in rows:
        cells = []
        for _, key, nd in cols:
            x, se = v.get(key), v.get(f"{key}_se")
            cells.append("–" if x is None else (f"{x:.{nd}f} ± {se:.{nd}f}" if se else f"{x:.{nd}f}"))
        lines.append(f"| {name} | {steps} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def figure(runs: dict[str, Path], out: Path, k: int = 6, side: int = 96) -> Path:
    """bicubic | srresnet | srgan | original: centred crops of the first k held-out images."""
    import torch

    from genlab.metrics.superres import Bicubic, held_out_set, modcrop, quantise
    from genlab.nn.superres import bicubic_resize
    from genlab.runs import load_run
    from genlab.viz.labelled import labelled_grid

    loaded = {n: load_run(p) for n, p in runs.items()}
    first = next(iter(loaded.values()))
    spec = first.info.fields[first.config.model.target]
    images, _ = held_out_set(first.config, spec, n=k)
    scale = first.config.model.scale
    rows = []
    hrs = [modcrop(hr0, scale).unsqueeze(0) for _, hr0 in images]
    s = min(side, *(min(hr.shape[-2:]) for hr in hrs))  # one crop size for every row
    for hr in hrs:
        lr = quantise(bicubic_resize(hr, (hr.shape[-2] // scale, hr.shape[-1] // scale)), 256)
        outs = [Bicubic(scale).upscale(lr)] + [r.model.upscale(lr) for r in loaded.values()] + [hr]
        top, left = (hr.shape[-2] - s) // 2, (hr.shape[-1] - s) // 2
        rows.append(torch.cat([quantise(o, 256)[..., top:top + s, left:left + s] for o in outs]))
    return labelled_grid(rows, out, col_labels=["bicubic", *loaded, "original"],
                         title=f"x{scale} on held-out photo strips (centre crops)")


def table_main(args) -> int:
    root = Path(args.root)
    model_args = CPU_SIZED if args.cpu_sized else PAPER
    data = ["--data", "photos", f"--data.size={args.data_size}", f"--data.n={args.data_n}"] + \
        ([f"--data.extra={args.extra}"] if args.extra else [])
    sr, gan = root / "srresnet", root / "srgan"
    if not args.eval_only:
        if not finished(sr, args.srresnet_steps):
            train(sr, ["srresnet", *data, *COMMON, *model_args, *args.set], args.srresnet_steps)
        if not finished(gan, args.srgan_steps):
            gan_args = model_args + (GAN_CPU_SIZED if args.cpu_sized else [])
            train(gan, ["srgan", *data, *COMMON, *gan_args, f"--model.init_from={sr}"], args.srgan_steps)
    results = {n: evaluate(p, args.self_ensemble) for n, p in (("srresnet", sr), ("srgan", gan)) if finished(p, 1)}
    out = table(results)
    if results:
        p = next(iter(results.values()))["protocol"]
        out += (f"\n\nHeld-out set: {p.get('held_out')} ({p.get('n_images')} images); Y = {p.get('y')}; border "
                f"crop {p.get('crop_border')} px; mean ± standard error over images; patch FID and C2ST on "
                f"{p.get('n_patches')} patches of {p.get('patch')} px (docs/restoration.md).")
    print(out)
    root.mkdir(parents=True, exist_ok=True)
    (root / "table.md").write_text(out + "\n")
    if args.figure and results:
        print("figure:", figure({n: p for n, p in (("srresnet", sr), ("srgan", gan)) if n in results},
                                Path(args.figure)))
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="what", required=True)
    s = sub.add_parser("speed", help="tiled x4 of one large photo, fp32 vs bf16")
    s.add_argument("--photo", default="2560x1600", help="photo size WxH (default 2560x1600)")
    s.add_argument("--side", choices=("input", "output"), default="input",
                   help="the photo is the input (default; output 4x) or the output (input 1/4)")
    s.add_argument("--tile", type=int, default=128, help="tile side in input pixels (default 128)")
    s.add_argument("--precisions", default="fp32,bf16", help="comma-separated, timed in this order")
    s.add_argument("--run", default=None, help="time this srresnet/srgan run's generator instead")
    s.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    t = sub.add_parser("table", help="train/evaluate srresnet and srgan x4, table beside bicubic")
    t.add_argument("--root", default=str(ROOT / "runs" / "superres"), help="where the two runs live")
    t.add_argument("--srresnet-steps", type=int, default=20000, help="srresnet steps (default 20000)")
    t.add_argument("--srgan-steps", type=int, default=5000, help="srgan steps after the srresnet init (default 5000)")
    t.add_argument("--cpu-sized", action="store_true", help="width 32, 8 blocks, bicubic skip (and D base 32) "
                   "instead of the paper's 64 / 16 (and 64)")
    t.add_argument("--data-size", type=int, default=96, help="HR crop size, also the photos' scale (default 96)")
    t.add_argument("--data-n", type=int, default=8192, help="training crops (default 8192)")
    t.add_argument("--eval-only", action="store_true", help="do not train; tabulate the finished runs")
    t.add_argument("--extra", default="", help="photos data.extra for training (e.g. wallpapers; the held-out "
                   "strips stay the same)")
    t.add_argument("--set", action="append", default=[], metavar="--SECTION.KEY=VALUE",
                   help="another srresnet training flag (repeatable), e.g. --set=--model.loss=l1")
    t.add_argument("--self-ensemble", default="none", choices=("none", "flips", "d4"),
                   help="evaluate with genlab eval --self-ensemble (its own record)")
    t.add_argument("--figure", default=None, help="also draw bicubic | srresnet | srgan | original crops (PNG)")
    args = ap.parse_args(argv)
    return speed(args) if args.what == "speed" else table_main(args)


if __name__ == "__main__":
    raise SystemExit(main())
