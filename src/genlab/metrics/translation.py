"""Evaluation of image-to-image translation models (pix2pix, unet-l1, cyclegan, augmented-cyclegan).

For each direction d (AtoB: source field → destination field, BtoA for two-way models) on a held-out
split (`evaluate_translation`):

- **paired metrics** (only when the split pairs source and destination, e.g. `fmnist-edges`,
  `photo-edges`, `folder-pairs`): L1, PSNR and SSIM per image, then averaged (image_quality.py states the
  conventions). Images are compared in model space [0, 1] after rounding the outputs to the target's
  quantisation levels (what a saved PNG holds; data range 1). Physical fields are compared in data units:
  MAE and RMSE in the field's units, PSNR/SSIM with data range = max − min of the split's targets.
- **domain metrics**: Fréchet distance and precision/recall (k = 3) of the outputs against the real
  destination-domain images of the split, in the feature space of an extractor (default: the domain's
  classifier for 1×28×28 Fashion-MNIST — Fashion-MNIST domains padded to 32 px are centre-cropped back to
  28, stated in the protocol — else Inception). With a classifier: `target_class_accuracy` = share of
  outputs whose predicted class is one of the destination domain's classes (`meta["classes_b"]` /
  `classes_a`), and `source_label_accuracy` = share predicted as the label of their own input, where
  inputs carry one and the destination domain holds that class (edges → shoe keeps the shoe type; not
  reported for sneaker → ankle boot, where the class must change).
- **cycle L1** (two-way models): mean |F(G(x)) − x| in model space of the source.
- **diversity** (k ≥ 2 samples per input, first `n_diverse` inputs): mean over inputs of the mean pairwise
  L1 between its K outputs (model space) and of the mean pairwise Euclidean distance of their extractor
  features. A deterministic model scores exactly 0.

Randomness (stochastic models, dropout at test time) comes from one generator seeded by `seed`.
"""
from __future__ import annotations

import itertools
from typing import Optional

import torch
from torch import Tensor

from ..errors import GenlabError
from . import functional as F
from . import image_quality as iq
from .features import build, extract
from .quality import default_extractor, precision_of, real_features, set_precision


def _source_of(data, field: str):
    """The FieldDataset (stream) holding `field`."""
    streams = getattr(data, "streams", None)
    if streams is None:
        if field not in data.info.fields:
            raise GenlabError(f"dataset {data.name}:{data.split} has no field {field!r}")
        return data
    for d in streams.values():
        if field in d.info.fields:
            return d
    raise GenlabError(f"dataset {data.name}:{data.split} has no field {field!r}")


def _fields(d, names: tuple[str, ...], n: Optional[int], device) -> dict[str, Tensor]:
    """Fields `names` (plus labels) of the first n examples of FieldDataset d, in model space."""
    m = len(d) if not n else min(n, len(d))
    out: dict[str, list[Tensor]] = {}
    for i in range(0, m, 500):
        b = d.batch(slice(i, min(m, i + 500)), device)
        for k in b.fields:
            if k in names or d.info.fields[k].kind == "label":
                out.setdefault(k, []).append(b[k])
    return {k: torch.cat(v) for k, v in out.items()}


def _quantise(y: Tensor, levels: Optional[int]) -> Tensor:
    return y if not levels else torch.round(y.clamp(0, 1) * (levels - 1)) / (levels - 1)


def _translate(model, x: Tensor, direction: str, generator, batch: int) -> Tensor:
    return torch.cat([model.translate(x[i:i + batch], direction, generator=generator)
                      for i in range(0, len(x), batch)])


def _crop_for(ext, shape: tuple[int, ...], meta: dict) -> Optional[int]:
    """Border to cut so images fit an extractor of fixed input size (only for padded datasets)."""
    if ext.input_shape is None or tuple(shape) == tuple(ext.input_shape):
        return 0
    pad = int(meta.get("padding") or 0)
    if pad and shape[0] == ext.input_shape[0] and shape[1] - 2 * pad == ext.input_shape[1] \
            and shape[2] - 2 * pad == ext.input_shape[2]:
        return pad
    return None


def _cut(x: Tensor, pad: int) -> Tensor:
    return x[..., pad:x.shape[-2] - pad, pad:x.shape[-1] - pad] if pad else x


def _class_index(names, classes) -> list[int]:
    """Indices (into the classifier's classes) of domain class names such as 'ankle-boot'."""
    norm = [c.lower().replace(" ", "-").replace("/", "-") for c in classes]
    out = []
    for name in names:
        hits = [i for i, c in enumerate(norm) if c == name or c.startswith(name)]
        if hits:
            out.append(hits[0])
    return out


def paired_metrics(out: Tensor, target: Tensor, spec) -> dict:
    """L1/PSNR/SSIM (images, model space after quantisation) or MAE/RMSE/PSNR/SSIM in units (fields)."""
    if spec.kind == "image":
        y = _quantise(out, spec.levels)
        res = {"l1": iq.summary(iq.l1_per_image(y, target)), "psnr": iq.summary(iq.psnr_per_image(y, target)),
               "ssim": iq.summary(iq.ssim_per_image(y, target))}
        return {k: v["mean"] for k, v in res.items()} | {f"{k}_se": v["se"] for k, v in res.items()}
    yd, td = spec.normalizer.to_data(out), spec.normalizer.to_data(target)
    rng = float(td.max() - td.min()) or 1.0
    res = {"mae": iq.summary(iq.l1_per_image(yd, td)), "rmse": iq.summary(iq.mse_per_image(yd, td).sqrt()),
           "psnr": iq.summary(iq.psnr_per_image(yd, td, rng)), "ssim": iq.summary(iq.ssim_per_image(yd, td, rng))}
    return {k: v["mean"] for k, v in res.items()} | {f"{k}_se": v["se"] for k, v in res.items()} | \
        {"data_range": rng, "units": spec.normalizer.units}


def diversity(samples: Tensor, feats: Optional[Tensor]) -> dict:
    """samples (B, K, C, H, W), feats (B, K, D) or None -> mean pairwise L1 / feature distance."""
    b, k = samples.shape[:2]
    pairs = list(itertools.combinations(range(k), 2))
    l1 = torch.stack([(samples[:, i] - samples[:, j]).abs().flatten(1).mean(1) for i, j in pairs], 1)  # (B, P)
    out = {"diversity_l1": float(l1.mean())}
    if feats is not None:
        fd = torch.stack([(feats[:, i] - feats[:, j]).norm(dim=1) for i, j in pairs], 1)
        out["diversity_feature"] = float(fd.mean())
    return out


def evaluate_translation(model, data, *, directions: Optional[list[str]] = None, n: Optional[int] = None,
                         k: int = 1, n_diverse: int = 100, extractor: Optional[str] = None, seed: int = 0,
                         device: torch.device = torch.device("cpu"), batch: int = 250,
                         precision: Optional[str] = None) -> dict:
    """{direction: {metric: value, ..., "protocol": {...}}} on split `data` (see the module docstring)."""
    dirs = list(directions or model.directions)
    if not dirs:
        raise GenlabError(f"model {type(model).__name__} does not translate; translation metrics need one that does")
    for d in dirs:
        model.translation_fields(d)  # unknown directions: one-line error
    if k < 1:
        raise GenlabError(f"--samples {k} is invalid; expected >= 1")
    meta = getattr(data, "meta", {}) or {}
    model.eval()
    results: dict = {}
    for d in dirs:
        g = torch.Generator(device).manual_seed(seed)
        src, dst = model.translation_fields(d)
        s_data, t_data = _source_of(data, src), _source_of(data, dst)
        paired = s_data is t_data
        s = _fields(s_data, (src, dst) if paired else (src,), n, device)
        t = s if paired else _fields(t_data, (dst,), n, device)
        x = s[src]
        out = _translate(model, x, d, g, batch)
        spec = model.data.fields[dst] if dst in model.data.fields else data.info.fields[dst]
        res: dict = {}
        if paired:
            res.update(paired_metrics(out, s[dst], spec))
        if d in ("AtoB", "BtoA") and len(model.directions) == 2:
            back = "BtoA" if d == "AtoB" else "AtoB"
            res["cycle_l1"] = float((_translate(model, out, back, g, batch) - x).abs().mean())
        proto = {"split": f"{data.name}:{data.split}", "direction": d, "source": src, "target": dst,
                 "n": len(x), "paired": paired, "seed": seed}
        if spec.kind == "image" and len(spec.shape) == 3 and spec.shape[0] in (1, 3):
            res.update(_domain(out, t[dst], spec, d, s, src, meta, extractor, device, precision, proto))
        if k > 1:
            m = min(n_diverse, len(x))
            many = torch.stack([_translate(model, x[:m], d, g, batch) for _ in range(k)], 1)  # (m, K, C, H, W)
            feats = None
            if proto.get("extractor"):
                ext = _ext(proto["extractor"], device, precision)
                pad = proto.get("crop", 0)
                f, _ = extract(ext, [_cut(many.flatten(0, 1), pad)])
                feats = f.view(m, k, -1)
            res.update(diversity(many, feats))
            proto.update(samples_per_input=k, n_diverse=m)
        res["protocol"] = proto
        results[d] = res
    return results


def _ext(name: str, device, precision):
    ext = build(name, device)
    set_precision(ext, precision)
    return ext


def _domain(out, real, spec, d, s, src, meta, extractor, device, precision, proto) -> dict:
    """Fréchet distance, precision/recall and class accuracies of outputs vs real destination images."""
    shape = tuple(spec.shape)
    pad0 = int(meta.get("padding") or 0)
    name = extractor or default_extractor(shape)
    if extractor is None and pad0 and name == "inception":  # padded domain: its classifier on the unpadded size
        name = default_extractor((shape[0], shape[1] - 2 * pad0, shape[2] - 2 * pad0))
    ext = _ext(name, device, precision)
    pad = _crop_for(ext, shape, meta)
    if pad is None and extractor is None:  # the domain classifier does not fit: fall back to Inception
        ext, pad = _ext("inception", device, precision), 0
    if pad is None:
        raise GenlabError(f"extractor {name!r} takes {'x'.join(map(str, ext.input_shape))} images, these are "
                          f"{'x'.join(map(str, shape))}; use --extractor inception")
    # the real side's features are cached like genlab eval's reference (keyed by the images' content and the
    # extractor's protocol): every run evaluated on the same split reuses them
    fr, _, cached, stats = real_features(_cut(real, pad), 1.0, ext, seed=proto["seed"],
                                         source=f"{proto['split']}:{proto['target']}")
    q = _quantise(out, spec.levels)
    ff, logits = extract(ext, [_cut(q[i:i + 500], pad) for i in range(0, len(q), 500)])
    res = {"fid": F.fid(fr, ff, real_stats=stats or None)}
    res["precision"], res["recall"] = F.precision_recall(fr, ff)
    proto.update(extractor=ext.name, weights_sha256=ext.protocol().get("weights_sha256"),
                 precision_mode=precision_of(ext), n_real=len(fr), pr_k=3, crop=pad, reference_cached=cached)
    edge_maps = meta.get("a_is_edges") and d == "BtoA"  # outputs are edge maps: no classifier reading
    if logits is not None and not edge_maps:
        from ..data.fashion_mnist import CLASSES

        pred = logits.argmax(1)
        wanted = _class_index(meta.get("classes_b" if d == "AtoB" else "classes_a", ()), CLASSES)
        if wanted:
            res["target_class_accuracy"] = float(torch.isin(pred, torch.tensor(wanted)).double().mean())
        lab = s.get(f"y_{src}", s.get("y"))
        keeps_class = lab is not None and (not wanted or set(lab.unique().tolist()) <= set(wanted))
        if keeps_class and len(lab) == len(pred):  # the output should keep its input's class
            res["source_label_accuracy"] = float((pred == lab.cpu()).double().mean())
    return res


@torch.no_grad()
def save_translation_grid(model, data, direction: str, out_dir, *, n: int = 8, k: int = 3, seed: int = 0):
    """RUN/translations/<split>-<direction>.png: rows input | output(s) | cycle back (two-way models) |
    target (paired splits) of the first n examples; K samples per input for stochastic models. Returns the
    path (None for physical fields)."""
    from pathlib import Path

    from ..viz.grid import save_grid

    src, dst = model.translation_fields(direction)
    s_data, t_data = _source_of(data, src), _source_of(data, dst)
    if s_data.info.fields[src].kind != "image" or t_data.info.fields[dst].kind != "image":
        return None  # physical fields: their pictures need colour bars (genlab translate writes arrays)
    f = _fields(s_data, (src, dst) if s_data is t_data else (src,), n, "cpu")
    x = f[src].to(next(model.parameters()).device)
    g = torch.Generator(x.device).manual_seed(seed)
    outs = [model.translate(x, direction, generator=g).cpu() for _ in range(k if model.stochastic else 1)]
    back = []
    if len(model.directions) == 2:  # two-way models: the cycle F(G(x)) of the first output too
        other = "BtoA" if direction == "AtoB" else "AtoB"
        back = [model.translate(outs[0].to(x.device), other, generator=g).cpu()]
    cols = [x.cpu(), *outs, *back] + ([f[dst]] if dst in f else [])
    c = max(t.shape[1] for t in cols)
    cols = [t.expand(-1, c, -1, -1) if t.shape[1] == 1 else t for t in cols]
    grid = torch.stack(cols, 1).flatten(0, 1)  # (n·cols, C, H, W), row by row
    path = Path(out_dir) / f"{data.name}-{data.split}-{direction}.png"
    save_grid(grid, path, nrow=len(cols))
    return path
