"""Domain classifiers as feature extractors: `fmnist-classifier` (1x28x28) and `digits-classifier` (1x8x8).

A small CNN trained by `scripts/train_classifier.py`; its weights are committed under
`genlab/weights/` with the SHA-256 pinned below. The penultimate layer (128-d) gives the features for
the Fréchet distance (a domain-specific FID) and the softmax gives the classifier score, the Inception
Score analogue  CS = exp(E_x KL(p(y|x) || p(y))).

Input convention: (B, 1, H, W) floats in [0, 1] at exactly the training resolution (no resizing: a
different size is a GenlabError); the network maps to (x - 0.5) / 0.5 internally.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ...registry import EXTRACTORS
from ..features import Extractor, load_weights, weights_path


@dataclass(frozen=True)
class ClassifierSpec:
    """Architecture and weights of one domain classifier."""

    name: str
    size: int  # input height = width
    widths: tuple[int, ...]  # channels per stage; each stage halves the resolution (ceil)
    file: str  # file name under genlab/weights/
    sha256: str
    dataset: str  # training dataset (for the protocol record)


SPECS = {
    "fmnist-classifier": ClassifierSpec("fmnist-classifier", 28, (32, 64, 128), "fmnist_classifier.safetensors",
                                        "1cf6d413cda4108e7946641ab87194c3b124649e30714c9441d1de185b7e0b65", "fashion-mnist"),
    "digits-classifier": ClassifierSpec("digits-classifier", 8, (32, 64), "digits_classifier.safetensors",
                                        "3e9c0b2108426efce512c22347f0b3a07cc4d044837c84124bf270febf365e56", "digits"),
}
FEATURE_DIM = 128


def _stage(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out),
                         nn.ReLU(inplace=True), nn.MaxPool2d(2, ceil_mode=True))


class ClassifierNet(nn.Module):
    """[conv3x3-BN-ReLU-maxpool] per width -> flatten -> Linear(., 128) + ReLU (features) -> Linear(128, K).

    One conv per stage keeps it cheap (about 7.5 MMAC per 28x28 image): 10k images in seconds on a CPU.
    """

    def __init__(self, *, size: int, widths: tuple[int, ...], n_classes: int = 10, dropout: float = 0.3):
        super().__init__()
        chans = (1,) + tuple(widths)
        self.body = nn.Sequential(*[_stage(a, b) for a, b in zip(chans[:-1], chans[1:])])
        side = size
        for _ in widths:
            side = -(-side // 2)  # ceil-mode pooling
        self.neck = nn.Sequential(nn.Linear(widths[-1] * side * side, FEATURE_DIM), nn.ReLU(inplace=True))
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(FEATURE_DIM, n_classes)

    def forward_features(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """x: (B, 1, H, W) in [0, 1] -> (features (B, 128), logits (B, classes))."""
        h = self.body((x - 0.5) / 0.5).flatten(1)  # (B, C, h, w) -> (B, C*h*w)
        f = self.neck(h)
        return f, self.head(self.drop(f))

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_features(x)[1]


class ClassifierExtractor(Extractor):
    """Penultimate features + logits of a committed domain classifier."""

    has_logits = True
    allow_bf16 = True
    feature_dim = FEATURE_DIM

    def __init__(self, spec: ClassifierSpec, device: torch.device):
        self.name, self.spec = spec.name, spec
        self.input_shape = (1, spec.size, spec.size)
        path = weights_path(spec.file, name=spec.name)
        self.sha256 = spec.sha256
        self.net = ClassifierNet(size=spec.size, widths=spec.widths)
        self.net.load_state_dict(load_weights(path, spec.sha256, name=spec.name))
        self.net.eval().to(device)
        self.device = device
        # bf16 by default only where the hardware has bf16 matrix units (AMX / AVX-512 BF16, CUDA): on an
        # AVX2-only CPU PyTorch emulates bf16 and this network runs about 10x slower than in fp32
        from ...training.precision import bf16_supported

        self.allow_bf16 = bf16_supported(device)

    def protocol(self) -> dict:
        return {"extractor": self.name, "weights_sha256": self.sha256, "input": f"1x{self.spec.size}x"
                f"{self.spec.size} in [0,1], no resize", "feature_dim": FEATURE_DIM,
                "trained_on": f"{self.spec.dataset}:train"}

    def prepare(self, x: Tensor) -> Tensor:
        return x

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return self.net.forward_features(x)


def _register(spec: ClassifierSpec) -> None:
    EXTRACTORS.register(spec.name, lambda device=torch.device("cpu"): ClassifierExtractor(spec, device),
                        help=f"CNN trained on {spec.dataset} train; 128-d penultimate features + softmax; "
                        f"input 1x{spec.size}x{spec.size}", weights=spec.file, sha256=spec.sha256,
                        input_shape=(1, spec.size, spec.size))


for _s in SPECS.values():
    _register(_s)
