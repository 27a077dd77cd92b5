"""PixelCNN: causality (exact zero gradients from the pixel itself onwards), the blind spot of the plain
masked stack vs none in the gated stacks, exact normalisation, and the cached sampler."""
import itertools

import pytest
import torch

from genlab.models.autoregressive.pixelcnn import PixelCNN, PixelCNNConfig
from genlab.models.base import DataInfo


def model(arch="gated", output="categorical", levels=17, size=6, layers=6, kernel=3, channels=8):
    torch.manual_seed(0)
    cfg = PixelCNNConfig(arch=arch, channels=channels, layers=layers, kernel_size=kernel, head_hidden=8,
                         output=output)
    return PixelCNN(cfg, DataInfo((1, size, size), levels)).eval()


def dependency(m, size=6):
    """dep[p, q] = True where the output at raster position p has a non-zero gradient w.r.t. pixel q."""
    x = torch.rand(1, 1, size, size, generator=torch.Generator().manual_seed(0), requires_grad=True)
    out = m(x)
    n = size * size
    dep = torch.zeros(n, n, dtype=torch.bool)
    for p in range(n):
        i, j = divmod(p, size)
        (g,) = torch.autograd.grad(out[0, :, i, j].sum(), x, retain_graph=True)
        dep[p] = g.reshape(-1) != 0
    return dep


@pytest.mark.parametrize("arch", ["gated", "masked"])
def test_no_dependence_on_current_or_later_pixels(arch):
    dep = dependency(model(arch))
    n = dep.shape[0]
    later = torch.triu(torch.ones(n, n, dtype=torch.bool))  # q >= p
    assert not (dep & later).any(), "output depends on the pixel itself or a later one"


def test_gated_has_no_blind_spot_masked_has_one():
    n = 36
    earlier = torch.tril(torch.ones(n, n, dtype=torch.bool), -1)  # q < p
    gated = dependency(model("gated"))
    assert (gated | ~earlier).all(), "gated PixelCNN misses an earlier pixel"
    masked = dependency(model("masked"))
    blind = earlier & ~masked
    assert blind.any(), "expected the blind spot of stacked masked convolutions"
    # the classic blind spot: the output at (3, 2) does not see (2, 5) above-right of it, though it is earlier
    assert blind[3 * 6 + 2, 2 * 6 + 5]


@pytest.mark.parametrize("output", ["categorical", "logistic"])
def test_probabilities_sum_to_one(output):
    m = model(output=output, levels=3, size=2, layers=2)
    grid = torch.tensor(list(itertools.product(range(3), repeat=4)), dtype=torch.float32) / 2
    x = grid.view(-1, 1, 2, 2)  # all 81 images of 2x2 pixels with 3 levels
    total = torch.exp(-m.nll(x).double()).sum().item()
    assert abs(total - 1.0) < 1e-4


def test_cached_sampler_matches_naive_and_full_forward():
    m = model(size=6)
    a = m.sample(3, generator=torch.Generator().manual_seed(5), sampler="naive")
    b = m.sample(3, generator=torch.Generator().manual_seed(5), sampler="cached")
    assert torch.equal(a, b)
    # the horizontal stack on one row, from the vertical rows, reproduces the full forward pass
    x = torch.rand(2, 1, 6, 6, generator=torch.Generator().manual_seed(1))
    full = m.stack(2 * x - 1)
    v_rows = m.stack.vertical_rows(2 * x[:, :, :3] - 1)  # inputs of row 3
    row = m.stack.horizontal_row(2 * x[:, :, 3:4] - 1, v_rows)
    assert torch.allclose(row, full[:, :, 3:4], atol=1e-5)


def test_completion_keeps_known_pixels():
    m = model(size=6)
    x = torch.randint(0, 17, (2, 1, 6, 6), generator=torch.Generator().manual_seed(0)).float() / 16
    mask = torch.zeros(6, 6)
    mask[:3] = 1  # top half known
    out = m.complete(x, mask, generator=torch.Generator().manual_seed(1))
    assert torch.equal(out[:, :, :3], x[:, :, :3])
    assert not torch.equal(out[:, :, 3:], x[:, :, 3:])
    levels = out * 16
    assert torch.equal(levels, levels.round())


def test_nll_is_exact_and_discrete():
    m = model()
    assert m.nll_convention == "discrete"
    x = torch.randint(0, 17, (4, 1, 6, 6), generator=torch.Generator().manual_seed(0)).float() / 16
    nll = m.nll(x)
    manual = -m.log_prob_map(x).flatten(1).sum(1)
    assert torch.allclose(nll, manual) and (nll > 0).all()


def test_cli_complete(tmp_path):
    from genlab.cli.main import main

    run = tmp_path / "px"
    assert main(["train", "pixelcnn", "--data", "digits", "--out", str(run), "--train.steps=2",
                 "--train.batch_size=8", "--train.progress=false", "--model.channels=4", "--model.layers=2",
                 "--model.kernel_size=3", "--model.head_hidden=4"]) == 0
    out = tmp_path / "c.png"
    assert main(["complete", str(run), "--out", str(out), "-n", "2", "--samples", "2"]) == 0
    assert out.stat().st_size > 100
    assert main(["complete", str(run), "--out", str(tmp_path / "d.png"), "--mask", "diagonal"]) == 2
