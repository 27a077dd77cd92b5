"""Class-label plumbing shared by the class-conditional models (`cvae`, `cdcgan`): the label as input
channels/features, the number of classes of the data, the labels of `sample(n, cond=...)` (checked), and
a preview with one row per class."""
from __future__ import annotations

from typing import Mapping, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import GenlabError
from .base import DataInfo, GenerativeModel, Panel


class LabelInput(nn.Module):
    """`net([x, onehot(y)])`: a class label as K constant extra channels of an image, (B, C + K, H, W)
    (spatial=True), or as K extra features of the flattened input, (B, D + K)."""

    def __init__(self, net: nn.Module, n_classes: int, *, spatial: bool):
        super().__init__()
        self.net, self.n_classes, self.spatial = net, n_classes, spatial

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        onehot = F.one_hot(y, self.n_classes).to(x.dtype)  # (B, K)
        if self.spatial:
            planes = onehot[:, :, None, None].expand(-1, -1, *x.shape[2:])  # (B, K, H, W)
            return self.net(torch.cat([x, planes], 1))  # (B, C + K, H, W)
        return self.net(torch.cat([x.flatten(1), onehot], 1))  # (B, D + K)


def class_count(data: DataInfo, model: str) -> int:
    """K, the number of classes of the data's label field `y` (GenlabError if it has none)."""
    spec = data.fields.get("y")
    if spec is None or spec.kind != "label" or spec.n_classes < 1:
        raise GenlabError(f"model {model} needs class labels 'y' with a known number of classes; choose a "
                          "labelled dataset ('genlab data info NAME' lists a dataset's fields)")
    return spec.n_classes


def class_labels(n: int, cond: Optional[Mapping], *, n_classes: int, device, model: str) -> Tensor:
    """The (n,) int64 labels of `sample(n, cond=...)`: cond["y"] (a LongTensor or list of n class
    indices, or one int for all n), checked; without it 0, 1, ..., K−1, 0, 1, ... ."""
    cond = dict(cond or {})
    extra = sorted(set(cond) - {"y"})
    if extra:
        raise GenlabError(f"model {model} samples conditioned on 'y' only, not {extra}; pass cond={{'y': labels}}")
    if cond.get("y") is None:
        return torch.arange(n, device=device) % n_classes
    y = torch.as_tensor(cond["y"])
    if y.is_floating_point() or y.is_complex() or y.dtype == torch.bool:
        raise GenlabError(f"cond['y'] has dtype {y.dtype}; expected integer class indices (a LongTensor)")
    if y.dim() == 0:
        y = y.expand(n)
    if y.dim() != 1 or len(y) != n:
        raise GenlabError(f"cond['y'] has shape {tuple(y.shape)}; expected ({n},), one class per sample")
    bad = (y < 0) | (y >= n_classes)
    if bool(bad.any()):
        raise GenlabError(f"cond['y'] holds class {int(y[bad][0])}, outside 0..{n_classes - 1}; expected class "
                          f"indices of the model's {n_classes} classes")
    return y.to(device=device, dtype=torch.long)


def class_preview(model: GenerativeModel, n: int, generator: Optional[torch.Generator]) -> list[Panel]:
    """Images: a k x k grid, row r = class r (k = min(K, 16) classes, k samples each, n is ignored);
    vectors: n samples with cycling labels."""
    if not model.data.is_image:
        return [Panel("samples", model.sample(n, generator=generator), model.data.primary)]
    k = min(model.n_classes, 16)
    y = torch.arange(k, device=model.device).repeat_interleave(k)  # (k*k,): row r of the grid = class r
    x = model.sample(k * k, generator=generator, cond={"y": y})
    return [Panel(f"samples, row = class 0..{k - 1}", x, model.data.primary)]
