"""Super-resolution (issue 15, part 1): SRResNet/SRGAN shapes, the bicubic degradation against PIL and a
MATLAB-imresize reference, the evaluation conventions, srgan's init run, an overfit check, `genlab superres`
(sizes, tiles, bad input) and `genlab eval` on a super-resolution run."""
import json

import numpy as np
import pytest
import torch

from genlab.apply import tiles
from genlab.cli.main import main
from genlab.errors import GenlabError
from genlab.metrics import image_quality as iq
from genlab.metrics.superres import Bicubic, evaluate_superres, modcrop
from genlab.nn.superres import SRResNetGenerator, SubPixelUpsample, bicubic_resize, pixel_shuffle_reference

from helpers import tiny_trainer


def one_line(capsys, argv, *needles):
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("genlab: error:"), err
    for n in needles:
        assert n in err[0], (n, err[0])
    return err[0]


# --- networks ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("scale", [2, 3, 4])
def test_srresnet_upscales_any_size_by_its_scale(scale):
    torch.manual_seed(0)
    net = SRResNetGenerator(3, 3, scale=scale, width=4, n_blocks=1).eval()
    for h, w in [(5, 7), (12, 9)]:
        assert net(torch.rand(2, 3, h, w)).shape == (2, 3, scale * h, scale * w)
    assert len(net.upsample) == {2: 1, 3: 1, 4: 2}[scale]  # x4 = two x2 sub-pixel steps


def test_pixel_shuffle_moves_channels_to_positions():
    x = torch.arange(2 * 8 * 3 * 5, dtype=torch.float32).view(2, 8, 3, 5)
    y = torch.nn.PixelShuffle(2)(x)
    assert y.shape == (2, 2, 6, 10) and torch.equal(y, pixel_shuffle_reference(x, 2))
    # output (c, r y + i, r x + j) <- input (c r² + i r + j, y, x), here c = 1, i = 1, j = 0, y = 1, x = 3
    assert y[0, 1, 2 * 1 + 1, 2 * 3 + 0] == x[0, 1 * 4 + 1 * 2 + 0, 1, 3]
    assert SubPixelUpsample(4, 2)(torch.rand(1, 4, 3, 5)).shape == (1, 4, 6, 10)


def test_bicubic_skip_starts_exactly_at_bicubic():
    net = SRResNetGenerator(3, 3, scale=4, width=4, n_blocks=1, bicubic_skip=True).eval()
    x = torch.rand(1, 3, 6, 5)
    with torch.no_grad():
        assert torch.allclose(net(x), bicubic_resize(x, (24, 20)), atol=1e-6)


# --- the degradation --------------------------------------------------------------------------------------

def _cubic(t):
    a = np.abs(t)
    outer = np.where(a <= 2, -0.5 * a ** 3 + 2.5 * a ** 2 - 4 * a + 2, 0.0)  # Keys, a = -0.5
    return np.where(a <= 1, 1.5 * a ** 3 - 2.5 * a ** 2 + 1, outer)


def _matlab_resize_1d(x, n_out, axis):
    """MATLAB imresize's 'bicubic' with antialiasing along one axis (its `contributions`, 0-based), with
    MATLAB's symmetric edge extension."""
    n_in = x.shape[axis]
    s = n_out / n_in
    width = 4.0 / s if s < 1 else 4.0
    kernel = (lambda t: s * _cubic(s * t)) if s < 1 else _cubic
    u = (np.arange(n_out) + 0.5) / s - 0.5  # source coordinate of each output pixel
    left = np.floor(u - width / 2).astype(int)
    idx = left[:, None] + np.arange(int(np.ceil(width)) + 2)[None]
    wts = kernel(u[:, None] - idx)
    wts = wts / wts.sum(1, keepdims=True)
    sym = np.concatenate([np.arange(n_in), np.arange(n_in)[::-1]])
    idx = sym[np.mod(idx, 2 * n_in)]
    xm = np.moveaxis(x, axis, 0)
    out = np.einsum("ok,ok...->o...", wts, xm[idx])
    return np.moveaxis(out, 0, axis)


def test_bicubic_degradation_matches_pil_and_matlab_and_nearest_does_not():
    from PIL import Image

    a = np.random.default_rng(0).random((48, 40)).astype(np.float32)
    t = torch.from_numpy(a)[None, None]
    for size in [(12, 10), (24, 20), (96, 80)]:  # x4 and x2 down, x2 up
        ref = np.asarray(Image.fromarray(a, mode="F").resize(size[::-1], Image.BICUBIC))
        ours = bicubic_resize(t, size)[0, 0].numpy()
        assert np.abs(ours - ref).max() < 1e-5, size
    mat = _matlab_resize_1d(_matlab_resize_1d(a.astype(np.float64), 12, 0), 10, 1)
    ours = bicubic_resize(t, (12, 10))[0, 0].numpy()
    assert np.abs(ours - mat)[2:-2, 2:-2].max() < 1e-5  # the same kernel; only the edge rule differs
    nearest = a[1::4, 1::4]  # (12, 10) point samples: aliased, not the SR degradation
    assert np.abs(nearest - ours).mean() > 0.05
    torch_cubic = torch.nn.functional.interpolate(t, size=(12, 10), mode="bicubic", align_corners=False)
    assert (torch_cubic[0, 0].numpy() - ours).std() > 0.05  # no antialiasing (and a = -0.75): not it either


def test_the_lowres_field_is_the_bicubic_degradation_of_the_crop():
    from genlab.data import load_dataset

    d = load_dataset("photos", "train", size=16, n=8, derive="lowres:4")
    b = d.batch(torch.arange(8))
    assert b.lowres.shape == (8, 3, 4, 4) and torch.allclose(b.lowres, bicubic_resize(b.x, (4, 4)))


# --- evaluation conventions -------------------------------------------------------------------------------

class _Oracle:
    """An 'upscaler' that returns a known image (identity on the HR)."""

    def __init__(self, hr):
        self.hr = hr

    def upscale(self, x):
        return self.hr.unsqueeze(0).to(x)


def test_bicubic_psnr_on_a_real_photo_is_plausible_and_identity_is_capped():
    from genlab.data.photos import held_out_photos
    from genlab.fields import FieldSpec, Normalizer

    name, a = held_out_photos(32)[0]  # astronaut's held-out strip, 128 x 32
    hr = modcrop(torch.from_numpy(a).float() / 255.0, 4)
    spec = FieldSpec(tuple(hr.shape), "image", 256, Normalizer((0.0,), (255.0,)))
    res = evaluate_superres(_Oracle(hr), [(name, hr)], scale=4, spec=spec)
    assert 20 < res["bicubic_psnr_y"] < 40 and 0.3 < res["bicubic_ssim_y"] < 0.95
    assert res["psnr_y"] == iq.PSNR_CAP and res["ssim_y"] == pytest.approx(1.0) and res["gain_psnr_y"] > 30
    assert res["bicubic_psnr_y"] != pytest.approx(res["bicubic_psnr_rgb"], abs=0.05)  # Y and RGB are reported apart
    p = res["protocol"]
    assert p["crop_border"] == 4 and p["data_range"] == 1.0 and "BT.601" in p["y"]


def test_y_psnr_is_torchmetrics_psnr_on_basicsr_y_with_the_scale_cropped():
    from skimage.color import rgb2ycbcr
    from torchmetrics.functional.image import peak_signal_noise_ratio

    from genlab.metrics.superres import quality

    g = torch.Generator().manual_seed(0)
    hr = torch.rand(1, 3, 20, 24, generator=g, dtype=torch.float64)
    out = (hr + 0.05 * torch.randn(1, 3, 20, 24, generator=g, dtype=torch.float64)).clamp(0, 1)
    q = quality(out, hr, 4, True)
    y = lambda t: torch.from_numpy(rgb2ycbcr(t[0].permute(1, 2, 0).numpy())[..., 0] / 255.0)[4:-4, 4:-4]  # noqa: E731
    ref = peak_signal_noise_ratio(y(out), y(hr), data_range=1.0)
    assert q["psnr_y"] == pytest.approx(float(ref), abs=1e-5)  # torchmetrics works in float32
    full = peak_signal_noise_ratio(out[..., 4:-4, 4:-4], hr[..., 4:-4, 4:-4], data_range=1.0)
    assert q["psnr_rgb"] == pytest.approx(float(full), abs=1e-5)
    assert quality(out, hr, 0, True)["psnr_y"] != pytest.approx(q["psnr_y"], abs=1e-3)  # the crop matters


def test_the_held_out_strips_never_meet_a_train_crop():
    from genlab.data import photos

    size = 32
    for (name, path), (name2, strip) in zip(photos.photo_files(), photos.held_out_photos(size)):
        im = photos._prepare(path, size)
        lo, hi = photos._region(im.size[0], size, "train")
        assert name == name2 and strip.shape[1] == im.size[1]
        assert hi + size <= im.size[0] - strip.shape[2]  # the last train column lies left of the strip


# --- training ------------------------------------------------------------------------------------------

def test_tiny_srresnet_overfits_one_repeated_batch():
    from helpers import tiny_config, tiny_data

    kw = dict(steps=40, train={"lr": 3e-3, "batch_size": 8}, model={"width": 8})
    data = tiny_data(tiny_config("srresnet", **kw)).subset(8)  # the same 8 crops every step
    tr = tiny_trainer("srresnet", dataset=data, **kw)
    batch = data.batch(torch.arange(8))
    with torch.no_grad():  # train mode (batch statistics) on the same batch before and after
        before = float(tr.model.train().loss(batch)["loss"])
    tr.fit()
    with torch.no_grad():
        after = float(tr.model.train().loss(batch)["loss"])
    assert after < 0.5 * before, (before, after)


# --- runs: srgan's init, genlab superres, genlab eval -------------------------------------------------------

TINY = ["--model.width=4", "--model.n_blocks=1", "--train.batch_size=8", "--train.progress=false",
        "--data.size=16", "--data.n=32"]


@pytest.fixture(scope="module")
def sr_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("sr") / "srresnet"
    assert main(["train", "srresnet", "--data", "photos", "--model.scale=2", "--train.steps=2", *TINY,
                 "--out", str(out)]) == 0
    return out


def test_srgan_starts_from_the_srresnet_run_and_refuses_another_scale(sr_run, tmp_path, capsys):
    from genlab.runs import build_model, load_run, warm_start
    from helpers import tiny_config, tiny_data

    cfg = tiny_config("srgan", model={"init_from": str(sr_run), "width": 4, "n_blocks": 1, "scale": 2})
    model = build_model(cfg, tiny_data(cfg).info)
    warm_start(model)
    ref = load_run(sr_run).model.generator.state_dict()
    assert all(torch.equal(v, ref[k]) for k, v in model.generator.state_dict().items())
    out = tmp_path / "gan"
    one_line(capsys, ["train", "srgan", "--data", "photos", "--model.scale=4", f"--model.init_from={sr_run}",
                      "--model.d_stages=2", "--train.steps=1", *TINY, "--out", str(out)],
             "scale 2 vs 4", "srresnet")
    assert not out.exists()
    one_line(capsys, ["train", "srgan", "--data", "photos", "--model.scale=2", "--model.width=8",
                      f"--model.init_from={sr_run}", "--model.d_stages=2", "--train.steps=1",
                      "--data.size=16", "--data.n=32", "--out", str(out)], "width 4 vs 8")
    assert not out.exists()
    assert main(["train", "srgan", "--data", "photos", "--model.scale=2", f"--model.init_from={sr_run}",
                 "--model.d_base=4", "--model.d_stages=2", "--model.d_dense=8", "--train.steps=1", *TINY,
                 "--out", str(out)]) == 0
    assert load_run(out).model.upscale(torch.rand(1, 3, 5, 6)).shape == (1, 3, 10, 12)


def test_a_lowres_factor_that_is_not_the_scale_is_refused(capsys, tmp_path):
    one_line(capsys, ["train", "srresnet", "--data", "photos", "--data.derive=lowres:2", "--model.scale=4", *TINY,
                      "--out", str(tmp_path / "r")], "model.scale=4", "lowres:4")
    one_line(capsys, ["train", "srresnet", "--data", "photos", "--data.derive=crop:8", *TINY,
                      "--out", str(tmp_path / "r")], "add lowres:4 to data.derive")
    assert not (tmp_path / "r").exists()


def test_superres_writes_scale_times_size_and_tiles_match_the_whole_image(sr_run, tmp_path, capsys):
    from PIL import Image

    from genlab.runs import load_run

    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray((np.random.default_rng(0).random((37, 53, 3)) * 255).astype(np.uint8)).save(src / "odd.png")
    assert main(["superres", str(sr_run), "--input", str(src / "odd.png"), "--out", str(tmp_path / "o")]) == 0
    assert Image.open(tmp_path / "o" / "odd.png").size == (106, 74)  # never-seen 53 x 37 -> x2
    assert main(["superres", str(sr_run), "--input", str(src), "--out", str(tmp_path / "t"), "--tile", "16",
                 "--precision", "fp32"]) == 0  # default context: the network's receptive radius
    whole = np.asarray(Image.open(tmp_path / "o" / "odd.png"), np.int16)
    tiled = np.asarray(Image.open(tmp_path / "t" / "odd.png"), np.int16)
    assert tiled.shape == whole.shape and np.abs(tiled - whole).max() <= 1  # 8-bit rounding at most
    # raw outputs of a net with random weights (not a near-constant output): exact with enough context only
    torch.manual_seed(1)
    net = SRResNetGenerator(3, 3, scale=2, width=8, n_blocks=1).eval()
    x = torch.rand(1, 3, 37, 53)
    with torch.no_grad():
        a = net(x)
        b = tiles.stitched(net, x, 1, tile=16, context=net.context, scale=2)
        c = tiles.stitched(net, x, 1, tile=16, context=2, scale=2)
    assert net.context == 10 and a.std() > 0.01
    assert (a - b).abs().max() < 1e-5 and (a - c).abs().max() > 1e-2
    model = load_run(sr_run).model
    y = model.upscale(torch.rand(2, 3, 9, 11))
    assert y.shape == (2, 3, 18, 22) and 0 <= y.min() and y.max() <= 1


def test_superres_bad_inputs_are_one_line_and_touch_nothing(sr_run, tmp_path, capsys):
    from PIL import Image

    img = tmp_path / "a.png"
    Image.fromarray(np.zeros((10, 12, 3), np.uint8)).save(img)
    out = tmp_path / "out"
    assert main(["superres", str(sr_run), "--input", str(img), "--out", str(out)]) == 0
    before = (out / "a.png").read_bytes()
    one_line(capsys, ["superres", str(sr_run), "--input", str(img), "--out", str(out)], "already exists", "--force")
    one_line(capsys, ["superres", str(sr_run), "--input", str(tmp_path / "nope.png"), "--out", str(tmp_path / "x")],
             "does not exist")
    np.save(tmp_path / "two.npy", np.zeros((2, 10, 12), np.float32))
    one_line(capsys, ["superres", str(sr_run), "--input", str(tmp_path / "two.npy"), "--out", str(tmp_path / "x")],
             "(3, H, W)")
    (tmp_path / "f").write_text("x")
    one_line(capsys, ["superres", str(sr_run), "--input", str(img), "--out", str(tmp_path / "f")], "is a file")
    other = tmp_path / "unet"
    assert main(["train", "unet-l1", "--data", "digits", "--data.derive=noise:gaussian:0.3", "--model.input=noisy",
                 "--model.target=x", "--model.base=4", "--model.depth=1", "--train.steps=1", "--train.progress=false",
                 "--out", str(other)]) == 0
    one_line(capsys, ["superres", str(other), "--input", str(img), "--out", str(tmp_path / "x")],
             "does not super-resolve")
    assert (out / "a.png").read_bytes() == before and not (tmp_path / "x").exists()
    assert main(["superres", str(sr_run), "--input", str(img), "--out", str(out), "--force"]) == 0


def test_eval_records_superres_beside_bicubic_with_crops_in_the_report(sr_run, capsys):
    assert main(["eval", str(sr_run)]) == 0
    rec = [r for r in json.loads((sr_run / "metrics.json").read_text())["records"] if r["kind"] == "superres"]
    assert len(rec) == 1
    v, p = rec[0]["values"], rec[0]["protocol"]
    assert {"psnr_y", "ssim_y", "psnr_rgb", "ssim_rgb", "bicubic_psnr_y", "gain_psnr_y"} <= set(v)
    assert 15 < v["bicubic_psnr_y"] < 45 and len(v["per_image"]) == p["n_images"] >= 10
    assert p["scale"] == p["crop_border"] == 2 and "held-out" in p["held_out"]
    assert (sr_run / "superres" / "crops.png").is_file()
    html = (sr_run / "report.html").read_text()
    assert "Super-resolution (held-out images)" in html and "bicubic | srresnet | original" in html
    with pytest.raises(GenlabError, match="fid,c2st"):
        evaluate_superres(Bicubic(2), [("x", torch.rand(3, 16, 16))], scale=2, spec=None, metrics=["kid"])


def test_eval_with_the_self_ensemble_is_a_second_record_with_bicubic_unchanged(sr_run):
    assert main(["eval", str(sr_run), "-n", "2", "--self-ensemble", "flips"]) == 0
    recs = [r for r in json.loads((sr_run / "metrics.json").read_text())["records"]
            if r["kind"] == "superres" and r["protocol"].get("self_ensemble") == "flips (4 passes)"]
    assert len(recs) == 1
    assert main(["eval", str(sr_run), "-n", "2"]) == 0
    plain = [r for r in json.loads((sr_run / "metrics.json").read_text())["records"]
             if r["kind"] == "superres" and "self_ensemble" not in r["protocol"] and r["protocol"]["n_images"] == 2]
    a, b = plain[-1]["values"], recs[0]["values"]
    assert a["bicubic_psnr_y"] == pytest.approx(b["bicubic_psnr_y"])  # same images, same baseline
    assert a["psnr_y"] != pytest.approx(b["psnr_y"], abs=1e-6)  # 4 views of an untrained net average differently
