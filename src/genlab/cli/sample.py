"""`genlab sample RUN -n 64 --out grid.png|x.npy|x.npz|x.nc [--seed S] [--class NAME]`: draw from a
trained model. Arrays are written in data space: physical units for fields (the run's normaliser), [0, 1]
for images; `.nc` keeps the training data's lat/lon grid and units. Sequence runs (music, audio, series):
`--out piece.mid|piece.wav|rolls.png`, continuations of `--prompt FILE.mid` (apply/music.py)."""
from __future__ import annotations

import numpy as np
import torch

from ..errors import GenlabError
from ..runs import class_index, draw, load_run  # noqa: F401  (draw, class_index: used by other commands)
from .common import add_device, add_force, add_n, add_out, device, out_path, positive_int, say


def add_parser(sub) -> None:
    p = sub.add_parser("sample", help="draw samples from a trained run into a PNG grid, .npy/.npz or .nc")
    p.add_argument("run", help="run directory")
    add_n(p, None, "number of samples (default 64; 1 for sequence runs)")
    add_out(p, "output .png (grid), .npy/.npz (arrays in data units; images in [0, 1]) or .nc (netCDF on the "
            "data's grid, physical units); sequence runs: .mid, .wav or .png (piano rolls)", required=True)
    p.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    p.add_argument("--class", dest="cls", metavar="NAME", help="class-conditional models: a class name "
                   "(e.g. 'ankle boot') or index; default: every class in turn")
    p.add_argument("--model-space", action="store_true", help="write arrays in model space (standardised)")
    p.add_argument("--no-ema", action="store_true", help="use live weights even if EMA weights exist")
    p.add_argument("--prompt", metavar="FILE.mid", help="sequence runs: continue this MIDI file")
    p.add_argument("--bars", type=int, help="sequence runs: bars to generate (default: with --prompt 4, else the "
                   "data's length)")
    p.add_argument("--prompt-bars", type=int, help="use only the first K bars of --prompt")
    p.add_argument("--prompt-notes", type=int, help="use only the first N notes of --prompt")
    p.add_argument("--temperature", type=float, default=1.0, help="sequence runs: sampling temperature (default 1)")
    p.add_argument("--seconds", type=float, help="audio runs: seconds of audio to generate (default: the data's "
                   "example length)")
    add_device(p)
    add_force(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from ..apply.music import MUSIC_OUT

    if args.n is not None:
        positive_int("-n", args.n)
    out = out_path(args.out, args.force, (".png", ".npy", ".npz", ".nc") + MUSIC_OUT)
    dev = device(args.device)
    r = load_run(args.run, device=dev, use_ema=not args.no_ema)
    if r.info.spec.kind in ("sequence", "tokens"):
        return _sequences(args, r, out, dev)
    args.n = args.n or 64
    if out.suffix.lower() in MUSIC_OUT[:3] or args.prompt:
        raise GenlabError(f"--out {out.suffix} and --prompt are for runs on sequences (music, audio); "
                          f"{r.config.model_name!r} was trained on {r.info.spec.kind} data")
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


def _sequences(args, r, out, dev) -> int:
    """Sequence runs: .mid/.wav/.png through apply/music.py (with --prompt), .npy/.npz arrays as samples."""
    from ..apply import music

    n = args.n or 1
    if args.temperature <= 0 or (args.seconds is not None and args.seconds <= 0) or \
            any(v is not None and v < 1 for v in (args.bars, args.prompt_bars, args.prompt_notes)):
        raise GenlabError("--temperature and --seconds must be > 0, --bars/--prompt-bars/--prompt-notes >= 1")
    x, info = music.generate(r, n, args.seed, dev, prompt=args.prompt, bars=args.bars, prompt_bars=args.prompt_bars,
                             prompt_notes=args.prompt_notes, temperature=args.temperature, seconds=args.seconds)
    if out.suffix.lower() in (".npy", ".npz"):
        spec = r.info.spec
        values = x.float().cpu()
        values = values if spec.kind == "tokens" or spec.levels else spec.normalizer.to_data(values, 2)
        (np.save(out, values.numpy()) if out.suffix == ".npy" else np.savez_compressed(out, x=values.numpy()))
        what = f"{n} array(s) of shape {tuple(x.shape[1:])}"
    else:
        what = music.write(r, x, out, info, force=args.force)
    lead = f" after a prompt of {info['prompt_steps']} steps" if info.get("prompt_steps") else ""
    say(f"wrote {what} from {r.run_dir} (step {r.step}{', EMA weights' if r.ema else ''}){lead} to {out}"
        + (f" (and {out.stem}-NN{out.suffix})" if n > 1 and out.suffix not in (".png", ".npy", ".npz") else ""))
    return 0


def _write_nc(out, values: torch.Tensor, r, *, force: bool) -> None:
    if values.dim() != 4:
        raise GenlabError("--out .nc needs a run on (C, H, W) fields; use .npy for vectors")
    from ..data.netcdf import write_netcdf

    spec = r.info.spec
    name = (r.meta.get("variable") or (spec.channels[0] if spec.channels else "x")).split(",")[0]
    write_netcdf(out, {name: values.numpy()}, r.meta, units=spec.units or None, time=False, force=force)
