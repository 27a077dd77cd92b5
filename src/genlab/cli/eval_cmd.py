"""`genlab eval RUN` (likelihood, reconstruction, sample quality, toy modes, physics metrics of fields, c2st,
super-resolution PSNR/SSIM beside bicubic, COADS gap filling beside kriging/linear/nearest, inpainting by
hole-ratio bin beside biharmonic, denoising beside filters)
and `genlab eval --real PATH --fake PATH` (sample-quality metrics between two image sets; physics metrics
and c2st between two sets of fields or images: cli/eval_fields.py)."""
from __future__ import annotations

import json
from pathlib import Path

import torch

from ..apply.ensemble import add_option as add_self_ensemble, for_run, transforms, with_members
from ..data import load_dataset
from ..errors import GenlabError
from ..report.results import load_results, record_result, refresh_report
from ..training.checkpoint import atomic_write_text
from .common import add_device, add_n, add_out, device, out_path, progress, say


def add_parser(sub) -> None:
    p = sub.add_parser("eval", help="evaluate a run, or compare two image sets (--real/--fake)")
    p.add_argument("run", nargs="?", help="run directory")
    p.add_argument("--split", default=None, help="dataset split to evaluate on (default: the run's eval split)")
    add_n(p, 0, "examples/samples to use (default: likelihood: whole split; sample metrics: 10000)")
    p.add_argument("--k", type=int, default=100, help="importance samples for the IWAE bound (default 100)")
    p.add_argument("--metrics", default=None, help="comma-separated: sample quality fid,kid,pr,dc,is; physics of "
                   "fields spectrum,histogram,minkowski,peaks,convection; c2st (classifier two-sample test); ppl "
                   "(perceptual path length in Z and W, docs/stylegan.md). "
                   "Default: fid,kid for images, the physics set for fields (docs/science.md); super-resolution runs: "
                   "fid,c2st on patches (PSNR/SSIM always; docs/restoration.md)")
    p.add_argument("--extractor", default=None, help="feature extractor for sample metrics (genlab list extractors)")
    p.add_argument("--real", help="real set: image folder, .npy/.npz, or dataset split (fashion-mnist:test, "
                   "lognormal:test)")
    p.add_argument("--fake", help="generated set: image folder, .npy/.npz, or dataset split")
    p.add_argument("--seed", type=int, default=0, help="seed of the samples and subsets (default 0)")
    p.add_argument("--direction", default=None, help="translation models: AtoB or BtoA (default: every direction)")
    p.add_argument("--samples", type=int, default=1, help="translation models: outputs per input for the "
                   "diversity of stochastic models (default 1 = no diversity)")
    p.add_argument("--masks", default=None, help="inpainting runs: user masks instead of the seeded set, a PNG "
                   "(white = known) or .npy 0/1 file or a folder of them, each on every image, binned by hole ratio")
    add_out(p, "also write the results to this .json file (replaced if it exists)", aliases=("--json",))
    p.add_argument("--rk-anomaly", action="store_true", help="COADS gap-fill runs: also score model+nb+ak+rk, "
                   "anomaly-kriging's estimate as a further residual-kriging predictor fitted on its leave-out "
                   "estimates (one more kriging of every known cell: minutes)")
    p.add_argument("--no-ema", action="store_true", help="use live weights even if EMA weights exist")
    add_self_ensemble(p)  # recorded as its own result, beside the plain evaluation
    add_device(p)
    p.add_argument("--batch", type=int, default=250, help="evaluation batch size")
    p.add_argument("--precision", choices=("auto", "fp32", "bf16"), default="auto",
                   help="feature-extractor arithmetic (default: the extractor's own, recorded in the "
                   "protocol; see docs/evaluation.md)")
    p.set_defaults(func=run)


def _print(results: dict, prefix: str = "") -> None:
    for k, v in results.items():
        if k == "protocol" or isinstance(v, dict):
            continue
        say(f"{prefix}{k}: {v:.4f}" if isinstance(v, float) else f"{prefix}{k}: {v}")


def _protocol_lines(results: dict) -> None:
    proto = results.get("protocol")
    if proto:
        say("protocol: " + "; ".join(f"{k}={v}" for k, v in proto.items() if v is not None))


def run(args) -> int:
    json_out = out_path(args.out, True, (".json",)) if args.out else None
    if args.n < 0 or args.k < 1:
        raise GenlabError("--n must be >= 0 and --k >= 1")
    dev = device(args.device)
    if args.real or args.fake:
        if args.run:
            raise GenlabError("give either RUN or --real/--fake, not both")
        if not (args.real and args.fake):
            raise GenlabError("--real and --fake go together: genlab eval --real PATH --fake PATH")
        quality, fields = _groups(args.metrics) if args.metrics else _pair_defaults(args.real)
        if PPL in _metrics(args.metrics or ""):
            raise GenlabError("ppl walks a model's latent space; give a run (genlab eval RUN --metrics ppl), "
                              "not --real/--fake")
        if quality and fields:
            raise GenlabError("--real/--fake takes either sample-quality metrics (fid,kid,pr,dc,is) or physics "
                              "metrics and c2st, not both at once; run genlab eval twice")
        if fields:
            from .eval_fields import pair

            return pair(args, fields, dev, json_out)
        from ..metrics.quality import evaluate_paths

        with progress(0, "eval samples") as bar:
            res = evaluate_paths(args.real, args.fake, metrics=quality, extractor=args.extractor,
                                 n=args.n or None, device=dev, seed=args.seed, precision=args.precision,
                                 progress=bar)
        _print(res)
        _protocol_lines(res)
        if json_out:
            atomic_write_text(json_out, json.dumps(res, indent=2))
        return 0
    if not args.run:
        raise GenlabError("give a run directory (genlab eval RUN) or two sets (--real PATH --fake PATH)")
    return _eval_run(args, dev, json_out)


PPL = "ppl"  # perceptual path length (metrics/ppl.py): a property of a run's latent space, not of a sample set


def _metrics(spec: str | None) -> list[str]:
    return [m.strip() for m in (spec or "fid,kid").split(",") if m.strip()]


def _groups(spec: str) -> tuple[list[str], list[str]]:
    """--metrics split into (sample-quality metrics, physics metrics and c2st); unknown names are an error."""
    from ..metrics.physics import METRICS as PHYSICS
    from ..metrics.quality import METRICS as QUALITY
    from .eval_fields import C2ST

    names = _metrics(spec)
    known = (*QUALITY, *PHYSICS, C2ST, PPL)
    bad = [m for m in names if m not in known]
    if bad or not names:
        raise GenlabError(f"unknown metric(s) {', '.join(bad) or '(none)'}; choose from {','.join(known)}")
    names = [m for m in dict.fromkeys(names) if m != PPL]  # ppl is run on its own (_eval_run)
    return [m for m in names if m in QUALITY], [m for m in names if m not in QUALITY]


def _pair_defaults(real: str) -> tuple[list[str], list[str]]:
    """No --metrics for --real/--fake: fid,kid for images, the physics set for physical fields."""
    from ..data import load_any

    spec = load_any(real).info.spec
    return ([], ["default"]) if spec.kind == "field" and spec.spatial else (["fid", "kid"], [])


def _run_defaults(r, caps: set) -> tuple[list[str], list[str]]:
    """No --metrics for a run: fid,kid for unconditional image models without a likelihood; the physics set
    for unconditional models of (C, H, W) physical fields."""
    uncond = not r.model.conditional and not r.model.directions
    quality = (["fid", "kid"] if r.info.is_image and r.info.bounded and uncond and not caps & {"nll", "reconstruct"}
               else [])
    spec = r.info.spec
    return quality, (["default"] if uncond and spec.kind == "field" and spec.spatial else [])


def _eval_run(args, dev: torch.device, json_out) -> int:
    from ..metrics import likelihood
    from ..runs import load_run

    r = load_run(args.run, device=dev, use_ema=not args.no_ema)
    r = for_run(with_members(r, args.ensemble, device=dev, use_ema=not args.no_ema), args.self_ensemble)
    load_results(args.run)  # an unreadable metrics.json stops us here, before the evaluation, not after
    d = r.config.data
    split = args.split or d.eval_split
    data = load_dataset(d.name, split, **d.options())
    results: dict = {}
    caps = r.model.capabilities()
    quality, fields = _groups(args.metrics) if args.metrics else _run_defaults(r, caps)
    from ..metrics.gapfill import gapfill_setup

    if args.rk_anomaly and not ("infill" in caps and gapfill_setup(r.config)):
        raise GenlabError("--rk-anomaly belongs to the COADS gap-fill evaluation, and this run was not trained "
                          "for it (data coads-holdout or data.derive=mask:coads); drop --rk-anomaly")
    if "infill" in caps and gapfill_setup(r.config):  # COADS gap filling: hidden real observations, baselines
        from ..metrics.gapfill import evaluate_gapfill, summary_lines

        res = evaluate_gapfill(r, figure_dir=Path(args.run) / "gapfill", command=f"genlab eval {args.run}",
                               stack_anomaly=args.rk_anomaly)
        results["gap-fill"] = res
        for line in summary_lines(res):
            say(line)
        _protocol_lines(res)
        quality, fields = [], []
    if "infill" in caps and "gap-fill" not in results:  # inpainting by hole-ratio bin (metrics/inpainting.py)
        from ..metrics.inpainting import evaluate_run as evaluate_inpainting, table_lines

        res = evaluate_inpainting(r, n=args.n or None, seed=args.seed, device=dev, split=args.split,
                                  figure_dir=Path(args.run) / "inpaint", masks=args.masks)
        results["inpaint"] = res
        for line in table_lines(res):
            say(line)
        _protocol_lines(res)
        quality, fields = [], []
    if "denoise" in caps:  # denoising beside the noisy input and tuned filters (metrics/denoising.py)
        from ..metrics.denoising import evaluate_run as evaluate_denoising

        res = evaluate_denoising(r, n=args.n or None, seed=args.seed, device=dev, split=args.split)
        results["denoise"] = res
        _print(res)
        _protocol_lines(res)
        quality, fields = [], []
    if "upscale" in caps:  # super-resolution: held-out full images, model beside bicubic (metrics/superres.py)
        from ..metrics.superres import evaluate_run as evaluate_superres

        res = evaluate_superres(r, quality + fields, n=args.n or None, device=dev, seed=args.seed, split=args.split,
                                precision=args.precision, crops_dir=Path(args.run) / "superres")
        results["superres"] = res
        _print(res)
        _protocol_lines(res)
        quality, fields = [], []
    if fields:
        from .eval_fields import check_run

        check_run(r, data, fields, args.n)  # before the (possibly long) likelihood evaluation
    if r.info.spec.kind in ("sequence", "tokens"):  # sequence models: exact NLL per frame/token (metrics/sequence.py)
        from ..metrics.sequence import evaluate_sequence

        with progress(0, "eval sequence NLL") as bar:
            res = evaluate_sequence(r.model, data, n=args.n, batch=min(args.batch, 64), seed=args.seed, device=dev,
                                    progress=bar)
        results["sequence-nll"] = res
        _print(res)
        _protocol_lines(res)
    elif caps & {"nll", "reconstruct"}:
        with progress(0, "eval likelihood") as bar:
            res = likelihood.evaluate(r.model, data, n=args.n, k=args.k, batch=args.batch, seed=args.seed,
                                      device=dev, progress=bar)
        results["likelihood"] = res
        _print(res)
        _protocol_lines(res)
    if r.meta.get("centres") and not r.info.is_image:
        from ..metrics.toy import evaluate_toy

        from .sample import draw

        fake = draw(r.model, args.n or 2500, args.seed, dev)
        res = evaluate_toy(fake, torch.tensor(r.meta["centres"]), float(r.meta["std"]))
        res["protocol"] = {"n_fake": len(fake), "seed": args.seed, "modes": len(r.meta["centres"]),
                           "std": float(r.meta["std"]), "high_quality": "within 3 std of the nearest mode",
                           "covered": "at least 1 high-quality sample"}
        results["modes"] = res
        _print(res)
    if r.model.directions:
        from ..metrics.translation import evaluate_translation, save_translation_grid

        dirs = [args.direction] if args.direction else None
        res = evaluate_translation(r.model, data, directions=dirs, n=args.n or None, k=args.samples,
                                   extractor=args.extractor, seed=args.seed, device=dev, precision=args.precision)
        for direction, v in res.items():
            say(f"[{direction}]")
            _print(v, "  ")
            results[f"translation {direction}"] = v
            save_translation_grid(r.model, data, direction, Path(args.run) / "translations", seed=args.seed)
    elif quality:
        from ..metrics.quality import evaluate_run_samples

        with progress(0, "eval samples") as bar:
            res = evaluate_run_samples(r, data, metrics=quality, extractor=args.extractor,
                                       n=args.n or 10000, device=dev, seed=args.seed,
                                       precision=args.precision, progress=bar)
        results["samples"] = res
        _print(res)
        _protocol_lines(res)
    if PPL in _metrics(args.metrics or ""):
        from ..metrics.ppl import evaluate_ppl

        with progress(0, "eval ppl") as bar:
            res = evaluate_ppl(r.model, n=args.n or 10000, extractor=args.extractor, seed=args.seed,
                               batch=args.batch, device=dev, progress=bar)
        results["ppl"] = res
        _print(res)
        _protocol_lines(res)
    curves: dict = {}
    if fields:
        from .eval_fields import run_metrics

        more, curves = run_metrics(args, r, data, fields, dev)
        results.update(more)
    if not results:
        if r.model.conditional or not r.info.bounded:
            what = "maps inputs to outputs" if r.model.conditional else f"models {r.info.spec.describe()}"
            raise GenlabError(f"genlab eval has no metric yet for model {r.config.model_name!r}, which {what}; "
                              "write its outputs with genlab sample (or the task's command) and compare them")
        raise GenlabError(f"nothing to evaluate for model {r.config.model_name!r} on this data; "
                          "ask for sample metrics with --metrics")
    if curves:
        from .eval_fields import save_run_plots

        save_run_plots(Path(args.run), curves, results["physics"], r)
    for res in results.values():
        if args.self_ensemble != "none":
            res["protocol"]["self_ensemble"] = f"{args.self_ensemble} ({len(transforms(args.self_ensemble))} passes)"
        if args.ensemble:
            res["protocol"]["ensemble"] = "mean of runs " + ", ".join(r.meta["ensemble"])
    for kind, res in results.items():
        kind = kind.split()[0]  # "translation AtoB" -> kind translation (the direction is in its protocol)
        record_result(args.run, kind, _run_protocol(kind, res, r.ema, quality),
                      {k: v for k, v in res.items() if k != "protocol"}, r.step, refresh=False)
    report = refresh_report(args.run)
    say(f"kept in {Path(args.run) / 'metrics.json'} with its protocol (step {r.step})"
        + (f"; report: {report}" if report else ""))
    results["step"] = r.step
    results["ema"] = r.ema
    if curves:
        from ..metrics.physics import jsonable

        results["physics_curves"] = jsonable(curves)
    if json_out:
        atomic_write_text(json_out, json.dumps(results, indent=2))
    return 0


def _run_protocol(kind: str, res: dict, ema: bool, quality: list[str]) -> dict:
    """The protocol a result is kept under in metrics.json: the evaluator's, plus which weights (EMA or
    live) and, for sample metrics, the metric set. The samples' source is the run itself at the recorded
    step, so the run's path (which changes when a run is moved) is not part of it."""
    proto = {**res.get("protocol", {}), "ema": ema}
    if kind == "samples":
        proto["fake"] = "samples of this run"
        from ..metrics.quality import METRICS

        asked = set(quality)
        proto["metrics"] = ",".join(m for m in METRICS if m in asked)  # a set: the order asked does not matter
    return proto
