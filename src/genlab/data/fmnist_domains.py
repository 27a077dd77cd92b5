"""Fashion-MNIST as translation domains: paired edges -> shoes, and unpaired class <-> class.

`fmnist-edges` (pix2pix's edges2shoes on Fashion-MNIST): field `a` = Canny edges of each image
(skimage.feature.canny, sigma `EDGE_SIGMA` = 1.0 px, default thresholds; uint8 0/1, 2 levels), field `b`
= the image (256 levels, the primary field), field `y` = its Fashion-MNIST label. Classes: data.classes
(default `shoes` = sandal + sneaker + ankle-boot: 18,000 train / 3,000 test images).

`fmnist-unpaired` (CycleGAN's two domains): stream "a" holds field `a` (images of data.a, default
sneaker) and stream "b" field `b` (images of data.b, default ankle-boot), each with its own length and
order (data/streams.py); `meta["classes_a"]`, `meta["classes_b"]` name the classes (for the
target-class accuracy of the fmnist-classifier). With data.edges=a, domain A is the Canny edge maps of
its classes (an edges -> shoe task with many outputs per edge map, for augmented-cyclegan); when A and B
then share classes, their images are split into disjoint halves (even / odd index within the class) so
no B image is the source of an A edge map.

Class names (data.classes, data.a, data.b; several joined with `+`): t-shirt, trouser, pullover, dress,
coat, sandal, shirt, sneaker, bag, ankle-boot, and the groups `shoes` (sandal+sneaker+ankle-boot),
`tops` (t-shirt+pullover+coat+shirt), `all`.

Size: data.size = 32 (default: zero-padded by 2 px on every side, the background of Fashion-MNIST is 0,
so U-Nets can halve 5 times) or 28 (as stored). Splits: Fashion-MNIST's own train / test.
"""
from __future__ import annotations

from typing import Optional

import numpy as np
import torch

from ..errors import GenlabError
from ..fields import FieldSpec, Normalizer
from ..registry import DATASETS
from . import fashion_mnist
from .base import FieldDataset
from .streams import UnalignedDataset

NAMES = ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle-boot"]
GROUPS = {"shoes": (5, 7, 9), "tops": (0, 2, 4, 6), "all": tuple(range(10))}
EDGE_SIGMA = 1.0
SIZES = (28, 32)


def parse_classes(spec: str, key: str) -> tuple[int, ...]:
    """'sneaker+ankle-boot' or 'shoes' -> sorted class indices; unknown names are a one-line error."""
    out: set[int] = set()
    for part in str(spec).lower().replace(" ", "").split("+"):
        if part in GROUPS:
            out.update(GROUPS[part])
        elif part in NAMES:
            out.add(NAMES.index(part))
        elif part.isdigit() and int(part) < 10:
            out.add(int(part))
        else:
            raise GenlabError(f"data.{key}={spec!r}: unknown Fashion-MNIST class {part!r}; use "
                              f"{', '.join(NAMES)} or {', '.join(GROUPS)} (join several with +)")
    return tuple(sorted(out))


def _size(size: Optional[int]) -> int:
    s = int(size or 32)
    if s not in SIZES:
        raise GenlabError(f"data.size={size} is not supported here; use 32 (padded) or 28")
    return s


def _images(split: str, classes: tuple[int, ...], size: int, path: Optional[str]):
    """uint8 images (N, 1, size, size) and int64 labels (N,) of `classes` from Fashion-MNIST `split`."""
    full = fashion_mnist.load(split, path)
    keep = torch.isin(full.y, torch.tensor(classes))
    x, y = full.x[keep], full.y[keep]
    if size == 32:
        x = torch.nn.functional.pad(x, (2, 2, 2, 2))
    return x.contiguous(), y.contiguous()


def edges(x: torch.Tensor) -> torch.Tensor:
    """(N, 1, H, W) uint8 -> (N, 1, H, W) uint8 Canny edge maps (1 = edge)."""
    try:
        from skimage.feature import canny
    except ImportError:
        raise GenlabError("Fashion-MNIST edge maps need scikit-image (pip install scikit-image)") from None
    a = x[:, 0].numpy().astype(np.float32) / 255.0
    out = np.stack([canny(im, sigma=EDGE_SIGMA) for im in a]).astype(np.uint8)
    return torch.from_numpy(out).unsqueeze(1)


def _specs(size: int, name: str, edge: bool) -> FieldSpec:
    if edge:
        return FieldSpec((1, size, size), "image", 2, Normalizer((0.0,), (1.0,)))
    return FieldSpec((1, size, size), "image", 256, Normalizer((0.0,), (255.0,)))


def _label_spec() -> FieldSpec:
    return FieldSpec((), "label", n_classes=10, classes=tuple(fashion_mnist.CLASSES))


@DATASETS.register("fmnist-edges", splits=("train", "test"), options=("classes", "size", "path"),
                   help="pairs edges -> image of Fashion-MNIST (pix2pix's edges2shoes): a = Canny edges, b = the image, "
                        "y = label; data.classes=shoes (default)|sneaker+...; data.size=32 (padded)|28")
def load_edges(split: str, classes: Optional[str] = None, size: Optional[int] = None,
               path: Optional[str] = None) -> FieldDataset:
    cls, s = parse_classes(classes or "shoes", "classes"), _size(size)
    x, y = _images(split, cls, s, path)
    meta = {"classes": [NAMES[c] for c in cls], "source": "Fashion-MNIST " + split,
            "edges": f"skimage.feature.canny(image / 255, sigma={EDGE_SIGMA})", "padding": 2 if s == 32 else 0}
    return FieldDataset("fmnist-edges", split, {"a": edges(x), "b": x, "y": y},
                        {"a": _specs(s, "a", True), "b": _specs(s, "b", False), "y": _label_spec()},
                        primary="b", meta=meta)


@DATASETS.register("fmnist-unpaired", splits=("train", "test"), options=("a", "b", "edges", "size", "path"),
                   help="unpaired Fashion-MNIST domains a <-> b (CycleGAN): data.a=sneaker, data.b=ankle-boot (defaults; "
                        "class names joined with +); data.edges=a makes A Canny edge maps; data.size=32|28")
def load_unpaired(split: str, a: Optional[str] = None, b: Optional[str] = None, edges: Optional[str] = None,
                  size: Optional[int] = None, path: Optional[str] = None) -> UnalignedDataset:
    ca, cb, s = parse_classes(a or "sneaker", "a"), parse_classes(b or "ankle-boot", "b"), _size(size)
    e = str(edges or "none").lower()
    if e not in ("none", "a"):
        raise GenlabError(f"data.edges={edges!r} is invalid; use none or a (domain A as edge maps)")
    if e == "none" and ca == cb:
        raise GenlabError(f"data.a and data.b are the same classes ({a or 'sneaker'}); name two domains, "
                          "or set data.edges=a to translate edge maps into images")
    xa, ya = _images(split, ca, s, path)
    xb, yb = _images(split, cb, s, path)
    halves = e == "a" and bool(set(ca) & set(cb))
    if halves:  # disjoint halves within each shared class: no B image is the source of an A edge map
        keep_a, keep_b = _halves(ya, set(ca) & set(cb), 0), _halves(yb, set(ca) & set(cb), 1)
        xa, ya, xb, yb = xa[keep_a], ya[keep_a], xb[keep_b], yb[keep_b]
    da = FieldDataset("fmnist-unpaired", split, {"a": edges_of(xa) if e == "a" else xa, "y_a": ya},
                      {"a": _specs(s, "a", e == "a"), "y_a": _label_spec()}, primary="a")
    db = FieldDataset("fmnist-unpaired", split, {"b": xb, "y_b": yb},
                      {"b": _specs(s, "b", False), "y_b": _label_spec()}, primary="b")
    meta = {"classes_a": [NAMES[c] for c in ca], "classes_b": [NAMES[c] for c in cb], "a_is_edges": e == "a",
            "source": "Fashion-MNIST " + split, "padding": 2 if s == 32 else 0,
            "disjoint_halves": halves}
    return UnalignedDataset("fmnist-unpaired", split, {"a": da, "b": db}, primary="b", meta=meta)


edges_of = edges  # the option name `edges` shadows the function inside load_unpaired


def _halves(y: torch.Tensor, shared: set[int], parity: int) -> torch.Tensor:
    """Boolean mask: classes not in `shared` kept whole; shared classes keep every other image (parity 0/1)."""
    keep = torch.ones(len(y), dtype=torch.bool)
    for c in shared:
        idx = torch.nonzero(y == c).flatten()
        keep[idx[(torch.arange(len(idx)) % 2) != parity]] = False
    return keep
