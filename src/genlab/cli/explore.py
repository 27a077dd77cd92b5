"""`genlab explore RUN COMMAND [--out PATH] ...`: look inside a run's latent space.

interpolate  lerp/slerp paths between two latents or two encoded real images: grid PNG + animated GIF
arithmetic   mean latent of class A minus class B, added to images of class C ("sneaker − sandal + boot")
traverse     one latent dimension at a time over ±3σ; the full manifold grid for a 2-D latent
neighbors    generated samples beside their nearest training images (pixel and feature space)
map          2-D PCA / t-SNE map of test-set latents coloured by label
style-mix    StyleGAN style mixing: rows' coarse/middle/fine styles over columns' latents (cli/explore_style.py)
truncation   StyleGAN truncation sweep: seeds × ψ
--space w explores StyleGAN's intermediate latent space W instead of the prior's Z (interpolate, arithmetic,
traverse, neighbors and map all work there).
Without --out a picture goes to RUN/explore/COMMAND.png (replaced on re-runs), where the run report
(`genlab report RUN`) shows it.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Optional

import torch

from ..data import load_dataset
from ..errors import GenlabError
from ..training.checkpoint import atomic_write_text
from .common import add_device, add_force, add_n, add_out, device, out_path, positive_int, say

COMMANDS = ("interpolate", "arithmetic", "traverse", "neighbors", "map", "style-mix", "truncation")


def add_parser(sub) -> None:
    p = sub.add_parser("explore", help="look inside a latent space: " + ", ".join(COMMANDS))
    p.add_argument("run", help="run directory of a model with a latent space (ae, vae, GANs)")
    c = argparse.ArgumentParser(add_help=False)
    add_out(c, "output PNG (default RUN/explore/COMMAND.png)")
    add_force(c)
    c.add_argument("--seed", type=int, default=0, help="seed for every random choice (default 0)")
    c.add_argument("--split", default=None, help="split for real images (default: the run's eval split)")
    c.add_argument("--no-ema", action="store_true", help="use live weights even if EMA weights exist")
    c.add_argument("--space", choices=("z", "w"), default="z", help="latent space: z (the prior) or w "
                   "(StyleGAN's intermediate space; lerp paths there are the natural ones)")
    add_device(c)
    s = p.add_subparsers(dest="explore_command", metavar="COMMAND")
    i = s.add_parser("interpolate", parents=[c], help="lerp/slerp between latents: grid PNG + GIF")
    i.add_argument("--from-index", help="encode these images of --split (comma-separated) as start points")
    i.add_argument("--to-index", help="encode these images as end points (same count as --from-index)")
    i.add_argument("--from-seed", help="prior latents drawn with these seeds as start points")
    i.add_argument("--to-seed", help="prior latents drawn with these seeds as end points")
    i.add_argument("--pairs", type=int, default=4, help="random prior pairs when no ends are given (default 4)")
    i.add_argument("--steps", type=int, default=10, help="points per path, ends included (default 10)")
    i.add_argument("--path", choices=("lerp", "slerp", "both"), default="both",
                   help="linear or spherical interpolation, or both rows (default both)")
    a = s.add_parser("arithmetic", parents=[c], help="attribute vectors: C + s·(mean A − mean B)")
    a.add_argument("--plus", required=True, help="class A (name or number, e.g. 'Ankle boot')")
    a.add_argument("--minus", required=True, help="class B (e.g. Sandal)")
    a.add_argument("--to", required=True, help="class C whose images are moved (e.g. Sneaker)")
    add_n(a, 8, "images of class C")
    a.add_argument("--scales", default="0,0.5,1,1.5", help="multiples s of the vector (default 0,0.5,1,1.5)")
    a.add_argument("--n-mean", type=int, default=500, help="latents averaged per class (default 500)")
    a.add_argument("--pool", type=int, default=5000, help="GANs: prior samples labelled by the classifier")
    a.add_argument("--min-confidence", type=float, default=0.5, help="GANs: keep samples whose top class "
                   "probability is at least this (default 0.5)")
    a.add_argument("--classifier", default="auto", help="GANs: extractor that labels samples (default: the "
                   "dataset's registered classifier)")
    t = s.add_parser("traverse", parents=[c], help="each latent dimension across ±3σ (2-D: manifold grid)")
    t.add_argument("--dims", help="dimensions to vary (default: all, at most the first 16)")
    t.add_argument("--steps", type=int, default=0, help="values per dimension (default 11; manifold 20)")
    t.add_argument("--span", type=float, default=3.0, help="range in prior standard deviations (default 3)")
    t.add_argument("--index", type=int, help="hold the other dimensions at this encoded --split image")
    t.add_argument("--base-seed", type=int, help="hold them at the prior latent drawn with this seed (a typical "
                   "latent; the default, the prior mean, has norm 0, far from where a GAN's latents live)")
    t.add_argument("--no-manifold", action="store_true", help="2-D latents: rows per dimension instead")
    n = s.add_parser("neighbors", parents=[c], help="samples beside their nearest training images")
    add_n(n, 8, "generated samples shown")
    n.add_argument("-k", type=int, default=3, help="neighbours per space (default 3)")
    n.add_argument("--features", default="auto", help="feature space: auto (the dataset's classifier, else "
                   "the encoder), encoder, none, or an extractor name")
    n.add_argument("--n-ratio", type=int, default=200, help="samples and held-out images for the distance "
                   "ratio (default 200; 0 = skip)")
    m = s.add_parser("map", parents=[c], help="2-D map of test-set latents coloured by label")
    m.add_argument("--method", choices=("auto", "latent", "pca", "tsne"), default="auto",
                   help="auto: the latent itself if 2-D, else PCA")
    add_n(m, 2000, "points")
    from .explore_style import add_parsers as add_style_parsers

    for sp, fn in ((i, _interpolate), (a, _arithmetic), (t, _traverse), (n, _neighbors), (m, _map),
                   *add_style_parsers(s, c)):
        defaults = {act.dest: act.default for act in sp._actions}  # to echo only the options given
        sp.set_defaults(explore_func=fn, explore_defaults=defaults)
    p.set_defaults(func=run)


# --- shared plumbing ------------------------------------------------------------------------------
class Context:
    """The loaded run, its latent space and the output path(s) of one explore command."""

    def __init__(self, args, run, space, dev: torch.device, out: Path, default_out: bool):
        self.args, self.run, self.space, self.device = args, run, space, dev
        self.out, self.default_out = out, default_out

    @property
    def classes(self) -> list[str]:
        names = self.run.meta.get("classes")
        if not names:
            raise GenlabError(f"this run's data ({self.run.config.data.name}) have no class labels; "
                              f"'{self.args.explore_command}' needs a labelled dataset")
        return list(names)

    def data(self, which: Optional[str] = None):
        d = self.run.config.data
        return load_dataset(d.name, which or self.args.split or d.eval_split, **d.options())

    def sibling(self, suffix: str) -> Path:
        return out_path(str(self.out.with_suffix(suffix)), self.args.force or self.default_out, (suffix,))

    def classifier_name(self) -> Optional[str]:
        from ..explore.sources import default_classifier

        return default_classifier(self.run.config.data.name)

    def classifier(self, name: str = "auto"):
        """The registered classifier for this run's data, or None if none exists."""
        from ..explore.sources import default_classifier, load_classifier

        name = default_classifier(self.run.config.data.name) if name == "auto" else name
        return load_classifier(name, self.run.info.shape, self.device) if name else None


def run(args) -> int:
    if not getattr(args, "explore_command", None):
        raise GenlabError(f"say what to explore: genlab explore RUN {{{','.join(COMMANDS)}}}")
    from ..explore import LatentSpace
    from ..runs import load_run

    if args.out:
        out, default = out_path(args.out, args.force, (".png",)), False
    else:
        out, default = Path(args.run) / "explore" / f"{args.explore_command}.png", True
    dev = device(args.device)
    r = load_run(args.run, device=dev, use_ema=not args.no_ema)
    if not r.info.is_image:
        raise GenlabError(f"explore draws image grids, but run {args.run!r} models vectors of shape {r.info.shape}")
    ctx = Context(args, r, LatentSpace(r.model, name=r.config.model_name, space=args.space), dev, out, default)
    caption, written = args.explore_func(ctx)
    if default:
        _index(out.parent, written, caption, args)
    say(f"wrote {', '.join(map(str, written))}\n{caption}")
    if default:  # the picture went into the run: its report shows it from now on
        from ..report.results import refresh_report

        report = refresh_report(args.run)
        if report:
            say(f"report: {report}")
    return 0


def _command_line(args) -> str:
    skip = {"run", "explore_command", "explore_func", "explore_defaults", "func", "command", "overrides",
            "accepts_overrides", "device"}
    parts = [f"genlab explore {args.run} {args.explore_command}"]
    for k, v in vars(args).items():
        if k in skip or v is None or v is False or v == args.explore_defaults.get(k):
            continue
        flag = ("-" if len(k) == 1 else "--") + k.replace("_", "-")
        parts.append(flag if v is True else f"{flag} {json.dumps(v) if isinstance(v, str) and ' ' in v else v}")
    return " ".join(parts)


def _index(folder: Path, written: list[Path], caption: str, args) -> None:
    """RUN/explore/index.json: file name -> caption and command line, for the run report."""
    path = folder / "index.json"
    try:
        index = json.loads(path.read_text()) if path.is_file() else {}
    except ValueError:
        index = {}
    for w in written:
        index[w.name] = {"caption": caption, "command": _command_line(args)}
    atomic_write_text(path, json.dumps(index, indent=2))


def _ints(option: str, spec: Optional[str]) -> list[int]:
    if spec is None:
        return []
    try:
        return [int(v) for v in str(spec).split(",") if v.strip()]
    except ValueError:
        raise GenlabError(f"{option} {spec!r} is not a comma-separated list of integers, e.g. 3,7") from None


def _floats(option: str, spec: str) -> list[float]:
    try:
        return [float(v) for v in spec.split(",") if v.strip()]
    except ValueError:
        raise GenlabError(f"{option} {spec!r} is not a comma-separated list of numbers, e.g. 0.5,1") from None


def _encoded(ctx: Context, option: str, idx: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Latents and images of dataset rows `idx` (range-checked, encoder required)."""
    ctx.space.require_encoder(f"encode images for {option}", "use --from-seed/--to-seed latents instead of "
                              "--from-index/--to-index" if "index" in option else "draw latents from the prior")
    data = ctx.data()
    bad = [i for i in idx if not 0 <= i < len(data)]
    if bad:
        raise GenlabError(f"{option} {bad[0]} is out of range for {data.name}:{data.split}, which has "
                          f"{len(data)} images (valid: 0..{len(data) - 1})")
    x = data.get(torch.tensor(idx, dtype=torch.long))
    return ctx.space.encode(x), x


def _save(ctx: Context, panel, extra: list[Path] = ()) -> list[Path]:
    from ..viz.labelled import labelled_grid

    labelled_grid(panel.rows, ctx.out, row_labels=panel.row_labels, col_labels=panel.col_labels,
                  title=panel.title)
    return [ctx.out, *extra]


# --- commands: each returns (caption, files written) ---------------------------------------------
def _ends(ctx: Context, which: str, n_default: int, g: torch.Generator):
    """Latents (and real images, if encoded) for one end of the interpolation paths."""
    a = ctx.args
    idx, seeds = _ints(f"--{which}-index", getattr(a, f"{which}_index")), _ints(f"--{which}-seed",
                                                                                getattr(a, f"{which}_seed"))
    if idx and seeds:
        raise GenlabError(f"give --{which}-index or --{which}-seed, not both")
    if idx:
        z, x = _encoded(ctx, f"--{which}-index", idx)
        return z, x, [str(i) for i in idx]
    if seeds:
        return ctx.space.seeded(seeds), None, [f"seed {s}" for s in seeds]
    return ctx.space.prior(n_default, g), None, [""] * n_default


def _interpolate(ctx: Context):
    from ..explore.recipes import interpolation
    from ..viz.gif import save_gif

    a = ctx.args
    positive_int("--pairs", a.pairs)
    if a.steps < 2:
        raise GenlabError(f"--steps {a.steps} is invalid; give at least 2 points per path")
    g = torch.Generator(ctx.device).manual_seed(a.seed)
    z0, x0, n0 = _ends(ctx, "from", a.pairs, g)
    z1, x1, n1 = _ends(ctx, "to", len(z0), g)
    if len(z0) != len(z1):
        raise GenlabError(f"{len(z0)} start points but {len(z1)} end points; give as many --to-* as --from-*")
    kinds = ("lerp", "slerp") if a.path == "both" else (a.path,)
    names = [f"{s}→{e}".strip("→") if s or e else f"pair {i}" for i, (s, e) in enumerate(zip(n0, n1))]
    both_real = x0 is not None and x1 is not None
    panel = interpolation(ctx.space, z0, z1, steps=a.steps, kinds=kinds, names=names,
                          ends=(x0, x1) if both_real else None)
    src = "encoded images of " + ctx.data().split if both_real else "latents"
    panel.title = f"{ctx.run.config.model_name}: {' vs '.join(kinds)} between {src}"
    gif = ctx.sibling(".gif")
    save_gif(panel.frames, gif, nrow=len(kinds))
    st = panel.stats
    norms = ", ".join(f"{k} {st[f'{k}_mid_norm_over_sqrt_d']:.2f}" for k in kinds)
    return (f"{len(z0)} {' and '.join(kinds)} path(s) of {a.steps} points between {src} (d={ctx.space.dim}); "
            f"midpoint ‖z‖/√d: {norms} (ends {st[f'{kinds[0]}_end_norm_over_sqrt_d']:.2f})", _save(ctx, panel, [gif]))


def _class_latents(ctx: Context, labels: list[int], n_mean: int, pool: int, classifier: str):
    """Latents with labels: encoded real images (AE/VAE), or prior samples labelled by a classifier."""
    g = torch.Generator(ctx.device).manual_seed(ctx.args.seed)
    if ctx.space.can_encode:
        data = ctx.data()
        keep = torch.cat([torch.nonzero(data.y == c).flatten()[torch.randperm(int((data.y == c).sum()),
                          generator=torch.Generator().manual_seed(ctx.args.seed))][:n_mean] for c in labels])
        x = data.get(keep)
        return ctx.space.encode(x), x, data.y[keep], f"encoded {data.name}:{data.split} images"
    clf = ctx.classifier(classifier)
    if clf is None or clf.probs is None:
        raise GenlabError(f"model {ctx.run.config.model_name} has no encoder and no classifier is registered "
                          f"for {ctx.run.config.data.name} to label its samples; arithmetic needs one of them")
    conf = ctx.args.min_confidence
    z, x, y = ctx.space.labelled_prior(pool, clf.probs, g, min_confidence=conf)
    return z, x, y, f"{pool} prior samples labelled by {clf.name} (confidence ≥ {conf:g})"


def _arithmetic(ctx: Context):
    from ..explore import class_means, resolve_label
    from ..explore.recipes import arithmetic

    a = ctx.args
    positive_int("-n", a.n)
    positive_int("--n-mean", a.n_mean)
    classes = ctx.classes
    ia, ib, ic = (resolve_label(v, classes, option=o) for v, o in ((a.plus, "--plus"), (a.minus, "--minus"),
                                                                    (a.to, "--to")))
    scales = _floats("--scales", a.scales)
    if not 0 <= a.min_confidence < 1:
        raise GenlabError(f"--min-confidence {a.min_confidence} is invalid; give a probability in [0, 1)")
    z, x, y, how = _class_latents(ctx, [ia, ib, ic], a.n_mean, a.pool, a.classifier)
    empty = [classes[c] for c in (ia, ib, ic) if not bool((y == c).any())]
    if empty:
        raise GenlabError(f"no {how} have label {empty[0]!r}, so its mean latent is undefined; raise --pool "
                          "or --n-mean, or choose classes the model produces")
    means = class_means(z, y, [ia, ib, ic])
    pick = torch.nonzero(y == ic).flatten()[:a.n]
    names = (classes[ia], classes[ib], classes[ic])
    panel = arithmetic(ctx.space, z[pick], x[pick], means, scales=scales, names=names)
    panel.title = f"{ctx.run.config.model_name}: {names[2]} − {names[1]} + {names[0]}"
    counts = ", ".join(f"{classes[c]} {int((y == c).sum())}" for c in (ia, ib, ic))
    return (f"{names[2]} + s·(mean {names[0]} − mean {names[1]}), s in {scales}; means of {how} "
            f"({counts}); ‖v‖={panel.stats['vector_norm']:.2f}", _save(ctx, panel))


def _traverse(ctx: Context):
    from ..explore.recipes import manifold, traverse

    a = ctx.args
    sp = ctx.space
    if a.span <= 0:
        raise GenlabError(f"--span {a.span} is invalid; give a positive number of standard deviations")
    mean, std = sp.moments(2000, a.seed)
    if sp.dim == 2 and not a.no_manifold and a.index is None and a.base_seed is None:
        steps = a.steps or 20
        panel = manifold(sp, steps=steps, span=a.span, mean=mean, std=std)
        panel.title = f"{ctx.run.config.model_name}: {panel.title}"
        return f"{steps}×{steps} manifold grid of the 2-D latent over ±{a.span:g}σ prior quantiles", _save(ctx, panel)
    dims = _ints("--dims", a.dims) or list(range(min(sp.dim, 16)))
    bad = [d for d in dims if not 0 <= d < sp.dim]
    if bad:
        raise GenlabError(f"--dims {bad[0]} is out of range; the latent has {sp.dim} dimensions (0..{sp.dim - 1})")
    base, what = mean, "the prior mean"
    if a.index is not None and a.base_seed is not None:
        raise GenlabError("give --index or --base-seed, not both")
    if a.base_seed is not None:
        base, what = sp.seeded([a.base_seed])[0], f"the prior latent of seed {a.base_seed}"
    if a.index is not None:
        base, what = _encoded(ctx, "--index", [a.index])[0][0], f"encoded image {a.index}"
    steps = a.steps or 11
    panel = traverse(sp, base, dims, steps=steps, span=a.span, mean=mean, std=std)
    panel.title = f"{ctx.run.config.model_name}: {panel.title}, others at {what}"
    return f"{len(dims)} dimension(s) × {steps} values over ±{a.span:g}σ around {what}", _save(ctx, panel)


def _neighbors(ctx: Context):
    from ..explore import nn_distance_ratio
    from ..explore.latents import batched_features
    from ..explore.recipes import neighbours
    from .sample import draw

    a = ctx.args
    positive_int("-n", a.n)
    positive_int("-k", a.k)
    train = ctx.data(ctx.run.config.data.split)
    bank_x = train.all()
    samples = draw(ctx.run.model, max(a.n, a.n_ratio), a.seed, ctx.device).clamp(0, 1)
    shown = samples[:a.n]
    spaces = {"pixel": (shown, bank_x)}
    fname, feat = _feature_space(ctx, a.features)
    if feat is not None:
        spaces[fname] = (batched_features(feat, shown), batched_features(feat, bank_x))
    panel = neighbours(shown, bank_x, spaces, a.k)
    panel.title = f"{ctx.run.config.model_name}: samples and nearest {train.name}:{train.split} images"
    msg = (f"{a.n} samples (seed {a.seed}) and their {a.k} nearest of {len(bank_x)} training images in "
           f"{' and '.join(spaces)} space")
    if a.n_ratio:
        held = ctx.data(ctx.run.config.data.eval_split)
        held_x = held.get(torch.randperm(len(held), generator=torch.Generator().manual_seed(a.seed))[:a.n_ratio])
        r = nn_distance_ratio(samples[:a.n_ratio], held_x, bank_x)
        msg += (f"; pixel-space nearest-training distance, median over {a.n_ratio}: samples {r['samples_median']:.3f}"
                f", held-out {held.split} images {r['held_out_median']:.3f}, ratio {r['ratio']:.2f} "
                "(≪ 1 with sharp samples would suggest copying; blurry mean images also score below 1)")
    return msg, _save(ctx, panel)


def _feature_space(ctx: Context, spec: str):
    """(name, feature function) for --features, or (None, None) for pixel space only."""
    if spec == "none":
        return None, None
    if spec == "encoder" or (spec == "auto" and ctx.classifier_name() is None):
        if not ctx.space.can_encode:
            if spec == "auto":
                return None, None
            ctx.space.require_encoder("give encoder features", "use --features with an extractor name")
        return "encoder", lambda x: ctx.space.encode(x)
    try:
        clf = ctx.classifier(spec)
    except GenlabError:
        if spec != "auto" or not ctx.space.can_encode:
            raise
        return "encoder", lambda x: ctx.space.encode(x)  # the classifier's weights are not usable here
    return clf.name, clf.features


def _map(ctx: Context):
    from ..explore import embed_2d
    from ..viz.embedding import scatter_by_label

    a = ctx.args
    positive_int("-n", a.n)
    sp = ctx.space
    method = ("latent" if sp.dim == 2 else "pca") if a.method == "auto" else a.method
    if method == "latent" and sp.dim != 2:
        raise GenlabError(f"--method latent needs a 2-D latent; this one has {sp.dim} dimensions (use pca or tsne)")
    g = torch.Generator(ctx.device).manual_seed(a.seed)
    if sp.can_encode:
        data = ctx.data()
        idx = torch.randperm(len(data), generator=torch.Generator().manual_seed(a.seed))[:a.n]
        z, y, what = sp.encode(data.get(idx)), data.labels(idx), f"encoded {data.name}:{data.split} images"
    else:
        clf = ctx.classifier()
        if clf is None or clf.probs is None:
            raise GenlabError(f"model {ctx.run.config.model_name} has no encoder and no classifier is "
                              f"registered for {ctx.run.config.data.name}; map needs one of them")
        z, _, y = sp.labelled_prior(a.n, clf.probs, g)
        what = f"prior latents labelled by {clf.name}"
    if method == "latent":
        coords, info, axes = z.numpy(), {}, ("z0", "z1")
    else:
        coords, info = embed_2d(z, method, seed=a.seed)
        ev = info.get("explained_variance_ratio")
        axes = (f"PC1 ({100 * ev[0]:.0f}% var)", f"PC2 ({100 * ev[1]:.0f}% var)") if ev else ("t-SNE 1", "t-SNE 2")
    names = ctx.run.meta.get("classes") or []
    scatter_by_label(coords, None if y is None else y.numpy(), ctx.out, class_names=names,
                     title=f"{ctx.run.config.model_name}: {method} map of {len(z)} {what}",
                     xlabel=axes[0], ylabel=axes[1])
    return f"{method} map of {len(z)} {what} (latent dim {sp.dim}) coloured by label", [ctx.out]
