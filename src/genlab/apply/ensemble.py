"""Geometric self-ensemble at test time ("x8" in Lim et al. 2017, EDSR §4, after Timofte, Rothe & Van Gool
2016, "Seven ways to improve example-based single image super resolution"):

    ŷ = (1/|G|) Σ_{g ∈ G} g⁻¹( f( g(x) ) )

for a fully convolutional restoration network f and G the dihedral group of the square: the 4 rotations by
multiples of 90°, each with and without a left-right flip (`d4`, 8 passes), or its flips alone (`flips`:
identity, left-right, up-down, both; 4 passes, what a non-square tile allows without a transpose). Every
input tensor (image, mask, context) goes through the same g, so the network sees 8 (4) views of one
problem; the mean of the back-transformed outputs is the prediction. It costs |G| forward passes and
needs no training; it is only valid where the data have no preferred orientation — photos, not maps (a
flipped SST field puts the Gulf Stream on the wrong coast), so callers refuse it for physical fields.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Callable, Sequence

import torch
from torch import Tensor

from ..errors import GenlabError

GROUPS = ("none", "flips", "d4")


def transforms(group: str) -> list[tuple[int, bool]]:
    """The group's elements as (k quarter turns, left-right flip first); identity first."""
    if group == "none":
        return [(0, False)]
    if group == "flips":
        return [(0, False), (0, True), (2, True), (2, False)]  # id, lr, ud (= rot180∘lr), both (= rot180)
    if group == "d4":
        return [(k, f) for k in range(4) for f in (False, True)]
    raise GenlabError(f"unknown self-ensemble {group!r}; choose one of {', '.join(GROUPS)}")


def forward(t: Tensor, k: int, flip: bool) -> Tensor:
    """g(t) on the last two axes: flip left-right (if asked), then k counter-clockwise quarter turns."""
    if flip:
        t = t.flip(-1)
    return torch.rot90(t, k, dims=(-2, -1)) if k % 4 else t


def inverse(t: Tensor, k: int, flip: bool) -> Tensor:
    """g⁻¹(t): undo the turns, then the flip."""
    if k % 4:
        t = torch.rot90(t, -k, dims=(-2, -1))
    return t.flip(-1) if flip else t


def ensemble(fn: Callable[..., Tensor], inputs: Sequence[Tensor], group: str = "d4") -> Tensor:
    """The self-ensemble mean of fn(*inputs) over `group` (module docstring); `None` inputs pass through."""
    total = None
    elements = transforms(group)
    for k, flip in elements:
        args = [None if t is None else forward(t, k, flip) for t in inputs]
        y = inverse(fn(*args), k, flip).float()
        total = y if total is None else total + y
    return total / len(elements)


class SelfEnsemble:
    """A restoration model seen through `ensemble`: the same `infill` / `upscale` / `denoise` methods (those
    the wrapped model has), each the mean over the group. `name` says which group."""

    def __init__(self, model, group: str = "d4"):
        transforms(group)  # validates
        self.model, self.group = model, group
        self.name = f"{getattr(model, 'name', 'model')}+{group}"

    def __getattr__(self, item):
        if item in ("infill", "upscale", "denoise") and hasattr(self.model, item):
            fn = getattr(self.model, item)
            return lambda *inputs: ensemble(fn, inputs, self.group)
        return getattr(self.model, item)


def for_run(r, group: str):
    """A loaded run (runs.LoadedRun) with its model seen through the self-ensemble of `group` (unchanged for
    "none"); refused in one line for runs that restore nothing and for physical fields."""
    if group == "none":
        return r
    transforms(group)
    if not r.model.capabilities() & {"infill", "upscale", "denoise"}:
        raise GenlabError(f"--self-ensemble averages a restoration network over flipped inputs; "
                          f"{r.config.model_name!r} is not an inpaint, superres or denoise model")
    if r.info.fields[r.config.model.target].kind != "image":
        raise GenlabError("--self-ensemble flips and turns the input, which is only right for photos; this run's "
                          "data are physical fields with an orientation (north, east): drop --self-ensemble")
    return replace(r, model=SelfEnsemble(r.model, group))


def add_option(p, ensemble: bool = True) -> None:
    """The --self-ensemble (and --ensemble) options of the commands that apply or evaluate a restoration run."""
    if ensemble:
        p.add_argument("--ensemble", default="", metavar="RUN2,RUN3",
                       help="average the outputs of these runs with RUN's (the same model and data, other "
                       "train.seed; apply/ensemble.py)")
    p.add_argument("--self-ensemble", choices=GROUPS, default="none",
                   help="photos only: average the network's outputs over flipped and rotated inputs (d4: 8 "
                   "passes, flips: 4; apply/ensemble.py), default none")


# --- ensembles of independently trained runs -----------------------------------------------------------

# config keys that may differ between the members of an ensemble (their training randomness, arithmetic and
# bookkeeping: a member trained in fp32 beside one in bf16 is the same model on the same data)
FREE_KEYS = {f"train.{k}" for k in ("seed", "threads", "progress", "log_every", "sample_every", "ckpt_every",
                                    "keep_checkpoints", "device", "tensorboard", "out", "steps", "precision",
                                    "channels_last", "compile")} | {"model.init_from"}
# (model.init_from: members fine-tuned from different pretraining runs, e.g. one ocean-atlas run per train.seed,
# are still one architecture on the same data; warm_start refuses a starting run of another shape)


class Average:
    """Independently trained networks of one configuration seen as one ("deep ensemble", Lakshminarayanan,
    Pritzel & Blundell 2017): ŷ = (1/M) Σ_m f_m(x). Every other attribute is the first member's."""

    def __init__(self, models: Sequence):
        self.models = list(models)
        self.name = f"{getattr(self.models[0], 'name', 'model')}x{len(self.models)}"

    def __getattr__(self, item):
        if item in ("infill", "upscale", "denoise") and hasattr(self.models[0], item):
            fns = [getattr(m, item) for m in self.models]
            return lambda *inputs: sum(f(*inputs).float() for f in fns) / len(fns)
        return getattr(self.models[0], item)


def _differences(a: dict, b: dict, prefix: str = "") -> list[str]:
    keys = sorted(set(a) | set(b))
    out = []
    for k in keys:
        va, vb = a.get(k), b.get(k)
        if isinstance(va, dict) and isinstance(vb, dict):
            out += _differences(va, vb, f"{prefix}{k}.")
        elif va != vb and f"{prefix}{k}" not in FREE_KEYS:
            out.append(f"{prefix}{k}")
    return out


def with_members(r, runs: str, *, device=None, use_ema: bool = True):
    """The loaded run `r` with its model averaged with the runs named in `runs` (comma-separated directories;
    "" = r alone). Members must be the same model on the same data: configs may differ only in FREE_KEYS
    (e.g. train.seed), else a one-line refusal naming the first differing keys."""
    from ..runs import load_run

    names = [s.strip() for s in (runs or "").split(",") if s.strip()]
    if not names:
        return r
    if not r.model.capabilities() & {"infill", "upscale", "denoise"}:
        raise GenlabError(f"--ensemble averages restoration networks; {r.config.model_name!r} is not an inpaint, "
                          "superres or denoise model")
    base = r.config.to_dict()
    members = [r.model]
    for name in names:
        m = load_run(name, device=device or "cpu", use_ema=use_ema)
        diff = _differences(base, m.config.to_dict())
        if diff:
            raise GenlabError(f"--ensemble member {name} is not the same model on the same data as {r.run_dir} "
                              f"(differs in {', '.join(diff[:4])}); ensemble runs that differ only in train.seed")
        m.model.eval()
        members.append(m.model)
    return replace(r, model=Average(members), meta={**r.meta, "ensemble": [str(r.run_dir), *names]})
