"""Inpainting and denoising (issue 15): partial convolutions by hand, the loss terms, the U-Net's blindness to
hole values, the hole-ratio bins, the metrics and baselines, `genlab inpaint` / `genlab denoise` (bad input
touches nothing) and a tiny train -> inpaint -> eval."""
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from genlab.cli.main import main
from genlab.data.masks import BINS, bin_index, evaluation_masks, hole_ratio, read_mask
from genlab.errors import GenlabError
from genlab.losses import inpainting as L
from genlab.metrics.inpainting import Biharmonic, pair_metrics
from genlab.nn.partialconv import PartialConv2d, PartialConvUNet

from helpers import tiny_trainer


def one_line(capsys, argv, *needles):
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("genlab: error:"), err
    for n in needles:
        assert n in err[0], (n, err[0])


# --- partial convolution --------------------------------------------------------------------------------

def test_all_ones_mask_is_the_plain_conv_inside_and_renormalised_at_the_zero_padded_border():
    torch.manual_seed(0)
    pc = PartialConv2d(3, 4, 3)
    x = torch.randn(2, 3, 7, 9)
    y, m = pc(x, torch.ones(2, 1, 7, 9))
    plain = F.conv2d(x, pc.weight, pc.bias, padding=1)
    assert (y - plain)[..., 1:-1, 1:-1].abs().max() < 1e-5  # sum(1)/sum(M) = 1 where the window is inside
    nobias = F.conv2d(x, pc.weight, None, padding=1)
    corner = nobias[:, :, 0, 0] * 9 / 4 + pc.bias  # 4 of the 9 window positions are inside the image
    edge = nobias[:, :, 0, 4] * 9 / 6 + pc.bias
    assert torch.allclose(y[:, :, 0, 0], corner, atol=1e-5) and torch.allclose(y[:, :, 0, 4], edge, atol=1e-5)
    assert torch.equal(m, torch.ones(2, 1, 7, 9))


def test_partial_conv_by_hand_and_the_mask_update():
    pc = PartialConv2d(1, 1, 3)
    with torch.no_grad():
        pc.weight.fill_(1.0)
        pc.bias.fill_(0.5)
    x = torch.arange(1.0, 10.0).view(1, 1, 3, 3)
    m = torch.tensor([[1.0, 0, 1], [0, 0, 0], [1, 0, 0]]).view(1, 1, 3, 3)
    with torch.no_grad():
        y, m2 = pc(x, m)
    assert y[0, 0, 1, 1] == pytest.approx((1 + 3 + 7) * 9 / 3 + 0.5)  # W^T(X⊙M)·sum(1)/sum(M) + b
    assert y[0, 0, 0, 0] == pytest.approx(1 * 9 / 1 + 0.5)
    assert y[0, 0, 2, 2] == 0 and m2[0, 0, 2, 2] == 0  # no known input in the window: 0, still a hole
    assert m2[0, 0].tolist() == [[1, 1, 1], [1, 1, 1], [1, 1, 0]]
    # a multi-channel mask: channel 1 all holes -> sum(1)/sum(M) = 18/9 and only channel 0 counts
    pc2 = PartialConv2d(2, 1, 3, bias=False)
    x2 = torch.randn(1, 2, 5, 5)
    with torch.no_grad():
        y2, _ = pc2(x2, torch.stack([torch.ones(5, 5), torch.zeros(5, 5)]).unsqueeze(0))
        ref = F.conv2d(x2[:, :1], pc2.weight[:, :1], padding=1) * 2
    assert torch.allclose(y2[..., 1:-1, 1:-1], ref[..., 1:-1, 1:-1], atol=1e-5)
    # stride 2 halves the map; one known pixel makes its windows known
    s = PartialConv2d(1, 2, 5, stride=2)
    one = torch.zeros(1, 1, 8, 8)
    one[0, 0, 4, 4] = 1
    ys, ms = s(torch.randn(1, 1, 8, 8), one)
    # output j sees input rows 2j − 2 … 2j + 2: row 4 is seen by j = 1, 2, 3
    assert ys.shape == (1, 2, 4, 4) and ms.sum() == 9 and ms[0, 0, 1:, 1:].sum() == 9


def test_periodic_axis_wraps_the_mask_and_the_field():
    torch.manual_seed(1)
    pc = PartialConv2d(1, 1, 3, periodic_axes=(3,), bias=False)
    x = torch.randn(1, 1, 6, 8)
    y, _ = pc(x, torch.ones(1, 1, 6, 8))
    ref = F.conv2d(F.pad(F.pad(x, (1, 1, 0, 0), mode="circular"), (0, 0, 1, 1)), pc.weight)
    assert torch.allclose(y[..., 1:-1, :], ref[..., 1:-1, :], atol=1e-5)  # no border in longitude
    hole = torch.ones(1, 1, 6, 8)
    hole[..., 0] = 0  # the first column is unknown: its neighbours across the seam still are
    y2, m2 = pc(x, hole)
    assert m2[..., 0].min() == 1 and y2[0, 0, 2, 0] != 0


# --- losses ---------------------------------------------------------------------------------------------

def test_valid_hole_and_tv_terms_by_hand():
    gt = torch.zeros(1, 1, 2, 3)
    out = torch.tensor([[1.0, 2, 3], [4, 5, 6]]).view(1, 1, 2, 3)
    m = torch.tensor([[1.0, 1, 0], [1, 1, 1]]).view(1, 1, 2, 3)  # one hole at (0, 2)
    valid, hole = L.valid_hole_l1(out, gt, m)
    assert valid == pytest.approx((1 + 2 + 4 + 5 + 6) / 6) and hole == pytest.approx(3 / 6)  # N = C·H·W
    w = torch.ones_like(m)
    w[..., 1, 2] = 0  # truth missing at (1, 2): that error counts nowhere
    assert L.valid_hole_l1(out, gt, m, w)[0] == pytest.approx((1 + 2 + 4 + 5) / 6)
    sq = L.valid_hole_l1(out, gt, m, w, squared=True)  # model.error=l2
    assert sq[0] == pytest.approx((1 + 4 + 16 + 25) / 6) and sq[1] == pytest.approx(9 / 6)
    comp = out * (1 - m) + gt * m  # [[0, 0, 3], [0, 0, 0]]
    # P = dilation of {(0, 2)} = columns 1-2 of both rows; pairs: (0,1)-(0,2), (1,1)-(1,2), (0,1)-(1,1), (0,2)-(1,2)
    assert L.total_variation(comp, m) == pytest.approx((3 + 0 + 0 + 3) / 6)
    f = torch.randn(2, 4, 3, 3)
    assert L.style([f], [f]) == 0 and L.style([f], [2 * f]) > 0
    assert L.gram(f).shape == (2, 4, 4)


# --- the model --------------------------------------------------------------------------------------------

def _tiny_model(**model):
    tr = tiny_trainer("inpaint", model=model)
    return tr


@pytest.mark.parametrize("train_mode", [False, True])
def test_the_unet_ignores_what_is_in_the_holes(train_mode):
    torch.manual_seed(0)
    net = PartialConvUNet(3, 3, depth=3, base=4).train(train_mode)
    x = torch.rand(2, 3, 16, 16)
    m = (torch.rand(2, 1, 16, 16) > 0.4).float()
    other = torch.where(m > 0, x, 100 * torch.randn_like(x))
    with torch.no_grad():
        a, b = net(x, m), net(other, m)
    assert torch.equal(a, b) and a.std() > 0
    assert not torch.equal(a, net(x + 0.1, m))  # known values do matter
    model = _tiny_model().model.eval()  # digits, 1 channel
    x = torch.rand(2, 1, 13, 11)  # any size: padded with holes inside infill
    m = (torch.rand(2, 1, 13, 11) > 0.5).float()
    out = model.infill(x, m)
    assert out.shape == x.shape and torch.isfinite(out).all()
    assert torch.equal(out, model.infill(torch.where(m > 0, x, torch.full_like(x, float("nan"))), m))
    per_channel = model.infill(x, m.expand(2, 1, 13, 11).clone())
    assert torch.equal(per_channel, out)
    with pytest.raises(GenlabError, match="mask"):
        model.infill(x, m[:, :, :5])


def test_gan_with_discriminator_features_trains_and_refuses_perceptual_terms_without_it(capsys, tmp_path):
    tr = tiny_trainer("inpaint", steps=1, model={"adversarial_weight": 0.01, "style_weight": 120.0,
                                                  "perceptual_weight": 0.05, "d_base": 4, "d_layers": 1})
    batch = tr.batcher.next(tr.noise)
    logs = tr.model.g_loss(batch)
    assert {"l_valid", "l_hole", "l_tv", "g_adv", "l_perc", "l_style"} <= set(logs)
    assert all(torch.isfinite(v) for v in logs.values())
    assert [p.group for p in tr.model.phases(0)] == ["discriminator", "generator"]
    one_line(capsys, ["train", "inpaint", "--data", "digits", "--model.style_weight=120", "--train.steps=1",
                      "--out", str(tmp_path / "r")], "adversarial_weight")
    one_line(capsys, ["train", "inpaint", "--data", "digits", "--data.derive=noise:gaussian:0.1", "--train.steps=1",
                      "--out", str(tmp_path / "r")], "add mask:mixed")
    assert not (tmp_path / "r").exists()


def test_an_untrained_denoiser_returns_its_input():
    tr = tiny_trainer("denoise")
    model = tr.model.eval()
    y = torch.rand(3, 1, 10, 14)
    assert torch.allclose(model.denoise(y), y, atol=1e-6)  # residual head starts at zero
    assert tr.model.loss(tr.batcher.next(tr.noise))["loss"] > 0


# --- masks and bins -------------------------------------------------------------------------------------

def test_bins_are_left_open_right_closed_and_the_mask_set_is_seeded():
    assert [bin_index(r) for r in (0.005, 0.01, 0.0100001, 0.1, 0.1000001, 0.6, 0.61)] == [-1, -1, 0, 0, 1, 5, -1]
    sets = evaluation_masks(24, 24, 5, seed=3)
    assert len(sets) == len(BINS) == 6
    for (lo, hi), ms in zip(BINS, sets):
        r = hole_ratio(ms)
        assert ms.shape == (5, 1, 24, 24) and bool(((r > lo) & (r <= hi)).all()), (lo, hi, r)
        assert set(ms.unique().tolist()) <= {0.0, 1.0}
    again, other = evaluation_masks(24, 24, 5, seed=3), evaluation_masks(24, 24, 5, seed=4)
    assert all(torch.equal(a, b) for a, b in zip(sets, again))
    assert not all(torch.equal(a, b) for a, b in zip(sets, other))


def test_user_masks_white_is_known_and_bad_arrays_are_refused(tmp_path):
    from PIL import Image

    a = np.full((6, 8), 255, np.uint8)
    a[2:4, 1:3] = 0
    Image.fromarray(a).save(tmp_path / "m.png")
    m = read_mask(tmp_path / "m.png", (6, 8))
    assert m.shape == (1, 6, 8) and m.sum() == 44 and m[0, 2, 1] == 0
    np.save(tmp_path / "two.npy", np.full((6, 8), 2.0))
    with pytest.raises(GenlabError, match="other than 0 and 1"):
        read_mask(tmp_path / "two.npy")
    with pytest.raises(GenlabError, match="6x8 but its image is 5x8"):
        read_mask(tmp_path / "m.png", (5, 8))


# --- metrics and the baseline ---------------------------------------------------------------------------

def test_hole_metrics_by_hand_and_biharmonic_recovers_a_smooth_field():
    gt = torch.rand(2, 3, 16, 16)
    m = torch.ones(2, 1, 16, 16)
    m[:, :, 4:9, 5:11] = 0
    res = pair_metrics(gt + 0.1 * (1 - m), gt, m, 1.0)
    assert res["hole_l1"] == pytest.approx([0.1, 0.1]) and res["hole_psnr"] == pytest.approx([20.0, 20.0])
    assert res["valid_psnr"] == [100.0, 100.0] and 20 < res["comp_psnr"][0] < 40
    assert all(0 < s < 1 for s in res["hole_ssim"])
    yy, xx = torch.meshgrid(torch.linspace(0, 1, 16), torch.linspace(0, 1, 16), indexing="ij")
    smooth = torch.stack([0.2 + 0.5 * xx * yy, 0.3 * xx + 0.1, 0.8 - 0.4 * yy])[None]  # (1, 3, 16, 16)
    filled = Biharmonic().infill(smooth, m[:1])
    assert (filled - smooth).abs().max() < 0.02 and torch.equal(filled * m[:1], smooth * m[:1])
    flat = pair_metrics(torch.full_like(smooth, 0.5), smooth, m[:1], 1.0)["hole_psnr"][0]
    assert pair_metrics(filled, smooth, m[:1], 1.0)["hole_psnr"][0] > flat + 15


# --- runs: train, inpaint, eval, bad input ----------------------------------------------------------------

TINY = ["--model.depth=2", "--model.base=4", "--model.max_channels=8", "--train.batch_size=8",
        "--train.progress=false", "--data.size=16", "--data.n=32"]


@pytest.fixture(scope="module")
def inpaint_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("inp") / "run"
    assert main(["train", "inpaint", "--data", "photos", "--train.steps=2", *TINY, "--out", str(out)]) == 0
    return out


def _files(tmp_path):
    from PIL import Image

    Image.fromarray((np.random.default_rng(0).random((21, 27, 3)) * 255).astype(np.uint8)).save(tmp_path / "a.png")
    m = np.full((21, 27), 255, np.uint8)
    m[5:12, 3:20] = 0
    Image.fromarray(m).save(tmp_path / "mask.png")
    Image.fromarray(np.zeros((21, 27), np.uint8)).save(tmp_path / "holes.png")
    Image.fromarray(np.full((20, 27), 255, np.uint8)).save(tmp_path / "small.png")
    return tmp_path / "a.png"


def test_inpaint_keeps_known_pixels_tiles_and_refuses_bad_input(inpaint_run, tmp_path, capsys):
    from PIL import Image

    img = _files(tmp_path)
    out = tmp_path / "out"
    assert main(["inpaint", str(inpaint_run), "--input", str(img), "--mask", str(tmp_path / "mask.png"),
                 "--out", str(out), "--raw"]) == 0
    a, b = np.asarray(Image.open(img), np.int16), np.asarray(Image.open(out / "a.png"), np.int16)
    known = np.asarray(Image.open(tmp_path / "mask.png")) > 127
    assert b.shape == a.shape and np.abs(a - b)[known].max() <= 1 and (out / "raw" / "a.png").is_file()
    before = (out / "a.png").read_bytes()
    base = ["inpaint", str(inpaint_run), "--input", str(img)]
    one_line(capsys, [*base, "--mask", str(tmp_path / "mask.png"), "--out", str(out)], "already exists", "--force")
    one_line(capsys, [*base, "--mask", str(tmp_path / "holes.png"), "--out", str(tmp_path / "x")], "no known pixel")
    one_line(capsys, [*base, "--mask", str(tmp_path / "small.png"), "--out", str(tmp_path / "x")], "20x27", "21x27")
    one_line(capsys, [*base, "--mask", str(tmp_path / "nope.png"), "--out", str(tmp_path / "x")], "does not exist")
    one_line(capsys, ["inpaint", str(inpaint_run), "--input", str(tmp_path / "nope.png"), "--mask",
                      str(tmp_path / "mask.png"), "--out", str(tmp_path / "x")], "does not exist")
    assert (out / "a.png").read_bytes() == before and not (tmp_path / "x").exists()
    t = tmp_path / "tiled"
    assert main([*base, "--mask", str(tmp_path / "mask.png"), "--out", str(t), "--tile", "8"]) == 0
    assert np.asarray(Image.open(t / "a.png")).shape == a.shape


def test_init_from_starts_from_the_runs_weights_and_refuses_another_shape(inpaint_run, tmp_path, capsys):
    from genlab.runs import load_run

    def params(run):
        return dict(load_run(run).model.network.named_parameters())

    one = ["--train.steps=1", "--train.lr=1e-10"]  # one step that moves nothing measurable
    out = tmp_path / "ft"
    assert main(["train", "inpaint", "--data", "photos", *one, *TINY, "--model.error=l2",
                 f"--model.init_from={inpaint_run}", "--out", str(out)]) == 0
    fresh = tmp_path / "fresh"
    assert main(["train", "inpaint", "--data", "photos", *one, *TINY, "--out", str(fresh)]) == 0
    a, b, c = params(inpaint_run), params(out), params(fresh)
    assert a.keys() == b.keys() == c.keys()
    moved_b = max((a[k] - b[k]).abs().max().item() for k in a)
    moved_c = max((a[k] - c[k]).abs().max().item() for k in a)  # same seed: the source's 2 steps of Adam apart
    assert moved_b < 1e-6 and moved_c > 1e-4  # the source's weights, not the seeded init
    one_line(capsys, ["train", "inpaint", "--data", "photos", *one, *TINY, "--model.base=8",
                      f"--model.init_from={inpaint_run}", "--out", str(tmp_path / "bad")], "another shape", "base")
    assert not (tmp_path / "bad").exists()


def test_eval_records_bins_beside_biharmonic_with_a_figure_in_the_report(inpaint_run, capsys):
    assert main(["eval", str(inpaint_run), "-n", "3"]) == 0
    printed = capsys.readouterr().out
    assert "| (0.5, 0.6] | 3 |" in printed
    recs = [r for r in json.loads((inpaint_run / "metrics.json").read_text())["records"] if r["kind"] == "inpaint"]
    assert len(recs) == 1
    v, p = recs[0]["values"], recs[0]["protocol"]
    assert list(v["bins"]) == ["(0.01, 0.1]", "(0.1, 0.2]", "(0.2, 0.3]", "(0.3, 0.4]", "(0.4, 0.5]", "(0.5, 0.6]"]
    for (lo, hi), row in zip(BINS, v["bins"].values()):
        assert row["n"] == 3 and lo < row["hole_ratio"] <= hi
        assert 5 < row["biharmonic_hole_psnr"] < 45 and 0 < row["hole_l1"] < 1
    assert p["data_range"] == 1.0 and "biharmonic" in p["baselines"]
    assert (inpaint_run / "inpaint" / "examples.png").is_file()
    assert "Inpainting (by hole-ratio bin)" in (inpaint_run / "report.html").read_text()


def test_denoise_trains_evaluates_beside_filters_and_applies(tmp_path, capsys):
    from PIL import Image

    run = tmp_path / "dn"
    assert main(["train", "denoise", "--data", "photos", "--data.derive=noise:gaussian:0.2", "--train.steps=2",
                 *TINY, "--out", str(run)]) == 0
    assert main(["eval", str(run), "-n", "4"]) == 0
    rec = [r for r in json.loads((run / "metrics.json").read_text())["records"] if r["kind"] == "denoise"][0]
    v = rec["values"]
    assert 10 < v["noisy_psnr"] < 20  # σ = 0.2 on [0, 1]: about 14 dB before clipping
    assert v["gaussian_psnr"] > v["noisy_psnr"] + 1 and v["tv_psnr"] > v["noisy_psnr"] + 1
    assert rec["protocol"]["noise"] == "noise:gaussian:0.2"
    img = _files(tmp_path)
    assert main(["denoise", str(run), "--input", str(img), "--out", str(tmp_path / "o")]) == 0
    assert np.asarray(Image.open(tmp_path / "o" / "a.png")).shape == (21, 27, 3)
    one_line(capsys, ["denoise", str(run), "--input", str(img), "--out", str(tmp_path / "o")], "already exists")
