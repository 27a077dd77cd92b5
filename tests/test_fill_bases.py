"""The interpolants behind inpaint's model.residual=harmonic|biharmonic (nn/fill.py), checked against an
exact sparse solve and skimage, and the residual head that adds them (models/restoration/inpaint.py)."""
import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spl
import torch
from torch import nn

from genlab.cli.main import main
from genlab.nn.fill import biharmonic_fill, harmonic_fill

from helpers import tiny_trainer


def exact_harmonic(img: np.ndarray, known: np.ndarray, periodic_w: bool = False) -> np.ndarray:
    """Δu = 0 (5-point) in the holes with ∂u/∂n = 0 at the edges: the sparse linear system, solved directly."""
    h, w = img.shape
    unknown = np.argwhere(~known)
    index = -np.ones((h, w), int)
    index[~known] = np.arange(len(unknown))
    a, b = sp.lil_matrix((len(unknown), len(unknown))), np.zeros(len(unknown))
    for k, (i, j) in enumerate(unknown):
        for di, dj in ((1, 0), (-1, 0), (0, 1), (0, -1)):
            p, q = i + di, j + dj
            if periodic_w:
                q %= w
            if not (0 <= p < h and 0 <= q < w):
                continue  # mirrored edge: the neighbour is the cell itself, which cancels
            a[k, k] += 1
            if known[p, q]:
                b[k] += img[p, q]
            else:
                a[k, index[p, q]] -= 1
    u = img.copy()
    u[~known] = spl.spsolve(a.tocsr(), b)
    return u


@pytest.mark.parametrize("periodic_w", [False, True])
def test_harmonic_fill_matches_the_exact_solve_and_keeps_known_cells(periodic_w):
    rng = np.random.default_rng(0)
    img = rng.random((24, 20))
    known = rng.random((24, 20)) > 0.35
    known[4:16, 12:20] = False  # a large hole, reaching the right edge (the seam when periodic)
    known[4:16, 0:3] = False
    want = exact_harmonic(img, known, periodic_w)
    got = harmonic_fill(torch.tensor(img)[None, None], torch.tensor(known)[None, None].float(),
                        periodic_w=periodic_w, sweeps=64)[0, 0].double().numpy()
    assert np.abs(got - want).max() < 1e-4
    assert np.array_equal(got[known], img[known].astype(np.float32).astype(np.float64))
    coarse = harmonic_fill(torch.tensor(img)[None, None], torch.tensor(known)[None, None].float(),
                           periodic_w=periodic_w)[0, 0].numpy()
    assert 1e-6 < np.abs(coarse - want).max() < 1e-2  # the default 24 sweeps: close, not converged
    other = exact_harmonic(img, known, not periodic_w)
    assert np.abs(got - other).max() > 1e-2  # the wrap matters


def test_harmonic_fill_reproduces_a_plane_and_leaves_an_unknown_channel_at_zero():
    yy, xx = torch.meshgrid(torch.arange(32.0), torch.arange(32.0), indexing="ij")
    plane = (0.3 * yy - 0.2 * xx + 1.0)[None, None]
    m = torch.ones(1, 1, 32, 32)
    m[..., 8:24, 6:26] = 0  # an interior hole: a plane is harmonic, so it is the answer
    x = torch.cat([plane, torch.rand_like(plane)], 1)
    mask = torch.cat([m, torch.zeros_like(m)], 1)
    out = harmonic_fill(torch.where(mask > 0, x, torch.full_like(x, float("nan"))), mask, sweeps=48)
    assert (out[:, 0] - plane[:, 0]).abs().max() < 1e-3
    assert torch.equal(out[:, 1], torch.zeros_like(out[:, 1]))


def test_biharmonic_fill_is_skimage_per_image_and_per_channel():
    from skimage.restoration import inpaint_biharmonic

    rng = np.random.default_rng(1)
    x = torch.tensor(rng.random((2, 3, 16, 16)))
    m = torch.ones(2, 1, 16, 16)
    m[0, :, 3:9, 4:12] = 0
    out = biharmonic_fill(x, m)
    want = inpaint_biharmonic(x[0].numpy(), (m[0, 0] == 0).numpy(), channel_axis=0)
    assert np.allclose(out[0].numpy(), want) and torch.equal(out[1], x[1])  # image 1 has no hole
    per = torch.ones(1, 3, 16, 16)
    per[0, 1, 2:10, 2:10] = 0
    per[0, 2] = 0  # no known cell in channel 2
    out = biharmonic_fill(x[:1], per)
    assert np.allclose(out[0, 1].numpy(), inpaint_biharmonic(x[0, 1].numpy(), (per[0, 1] == 0).numpy()))
    assert torch.equal(out[0, 0], x[0, 0]) and torch.equal(out[0, 2], torch.zeros_like(out[0, 2]))


class _Zero(nn.Module):
    """Stands in for U: records its input and answers the output space's zero."""

    multiple, context = 4, 8

    def forward(self, xg, m):
        self.seen = (xg, m)
        return torch.zeros(xg.shape[0], 1, *xg.shape[-2:])


@pytest.mark.parametrize("residual", ["harmonic", "biharmonic"])
def test_residual_base_is_added_to_u_and_fed_to_it_with_the_mask(residual):
    model = tiny_trainer("inpaint", model={"residual": residual}).model.eval()  # digits: 1 channel, [0, 1]
    assert model.network.in_channels == 3  # image, base, mask
    torch.manual_seed(0)
    x = torch.rand(2, 1, 12, 12)
    m = (torch.rand(2, 1, 12, 12) > 0.4).float()
    base = harmonic_fill(x, m) if residual == "harmonic" else biharmonic_fill(x, m)
    trained = model.infill(torch.where(m > 0, x, torch.full_like(x, float("nan"))), m)
    assert torch.isfinite(trained).all() and not torch.allclose(trained, base.clamp(0, 1))  # U adds something
    model.network = _Zero()
    out = model.raw(x, m)
    assert torch.allclose(out, base.float(), atol=1e-6)  # b + U − U_0 with U = U_0
    xg, mm = model.network.seen
    assert torch.allclose(xg[:, 1:2], base.float() * 2 - 1, atol=1e-6) and torch.equal(xg[:, 2:3], m)
    assert torch.equal(mm[:, :1], m) and torch.equal(mm[:, 1:], torch.ones_like(mm[:, 1:]))


def test_residual_bases_train_and_a_bad_name_is_one_line(tmp_path, capsys):
    for residual in ("harmonic", "biharmonic"):
        out = tmp_path / residual
        assert main(["train", "inpaint", "--data", "digits", "--model.depth=2", "--model.base=4",
                     "--model.max_channels=8", f"--model.residual={residual}", "--train.steps=2",
                     "--out", str(out)]) == 0
        assert (out / "metrics.json").exists() or any(out.iterdir())
    capsys.readouterr()
    assert main(["train", "inpaint", "--data", "digits", "--model.residual=bilinear", "--train.steps=1",
                 "--out", str(tmp_path / "bad")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "model.residual" in err[0] and "biharmonic" in err[0]
    assert not (tmp_path / "bad").exists()
