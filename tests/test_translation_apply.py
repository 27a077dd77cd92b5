"""Translation: image-quality maths, tiled application, Fashion-MNIST domains, `genlab translate`,
`genlab eval` on translation runs, and the paired/unpaired guard."""
import json

import numpy as np
import pytest
import torch

from genlab.apply import tiles
from genlab.cli.main import main
from genlab.metrics import image_quality as iq
from genlab.metrics.translation import diversity


# --- image quality ------------------------------------------------------------------------------------

def test_ssim_equals_scikit_image_gaussian_convention():
    from skimage.metrics import structural_similarity

    g = torch.Generator().manual_seed(0)
    x = torch.rand(3, 3, 32, 40, generator=g, dtype=torch.float64)
    y = (x + 0.1 * torch.randn(3, 3, 32, 40, generator=g, dtype=torch.float64)).clamp(0, 1)
    ours = iq.ssim_per_image(x, y)
    for i in range(3):
        ref = structural_similarity(x[i].numpy(), y[i].numpy(), gaussian_weights=True, sigma=1.5,
                                    use_sample_covariance=False, data_range=1.0, channel_axis=0)
        assert ours[i].item() == pytest.approx(ref, rel=1e-9, abs=1e-12)
    assert iq.ssim_per_image(x, x).tolist() == pytest.approx([1.0] * 3)
    assert 0.0 < ours.min() < ours.max() < 0.95  # noisy copies: clearly below 1


def test_psnr_and_l1_by_hand():
    x = torch.zeros(2, 1, 4, 4)
    y = x.clone()
    y[0, 0, 0, 0] = 0.4  # MSE = 0.16 / 16 = 0.01 -> PSNR 20 dB; L1 = 0.4 / 16
    y[1] = 0.5  # MSE = 0.25 -> 6.0206 dB
    assert iq.psnr_per_image(y, x).tolist() == pytest.approx([20.0, 10 * np.log10(4.0)])
    assert iq.l1_per_image(y, x).tolist() == pytest.approx([0.025, 0.5])
    assert iq.psnr_per_image(x, x).tolist() == [iq.PSNR_CAP] * 2
    assert iq.psnr_per_image(y * 255, x * 255, data_range=255.0).tolist() == pytest.approx([20.0, 10 * np.log10(4.0)])


def test_diversity_is_zero_for_repeats_and_the_mean_pairwise_distance_otherwise():
    s = torch.zeros(2, 3, 1, 2, 2)
    assert diversity(s, torch.zeros(2, 3, 4)) == {"diversity_l1": 0.0, "diversity_feature": 0.0}
    s[:, 1] = 1.0  # pairs (0,1) and (1,2) differ by 1, (0,2) by 0 -> mean 2/3
    f = torch.zeros(2, 3, 4)
    f[:, 1, 0] = 3.0
    d = diversity(s, f)
    assert d["diversity_l1"] == pytest.approx(2 / 3) and d["diversity_feature"] == pytest.approx(2.0)


# --- tiles --------------------------------------------------------------------------------------------

def test_tiles_blend_to_the_untiled_result_of_a_pointwise_map_and_pad_to_the_multiple():
    x = torch.rand(1, 2, 70, 45)
    seen = []

    def fn(t):
        seen.append(tuple(t.shape[-2:]))
        return torch.cat([2 * t, t[:, :1] - 1], 1)  # pointwise: 2 -> 3 channels

    y = tiles.apply(fn, x, 8, tile=32, overlap=8)
    assert y.shape == (1, 3, 70, 45)
    assert torch.allclose(y, torch.cat([2 * x, x[:, :1] - 1], 1), atol=1e-6)  # convex blend of equal values
    assert all(h % 8 == 0 and w % 8 == 0 and h <= 32 and w <= 32 for h, w in seen) and len(seen) > 4
    seen.clear()
    y2 = tiles.apply(fn, x, 16)  # one padded pass
    assert seen == [(80, 48)] and torch.allclose(y2, y, atol=1e-6)


def test_tiled_convolution_matches_the_whole_image_away_from_tile_borders():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.Tanh(), torch.nn.Conv2d(4, 1, 3, padding=1))
    x = torch.rand(1, 1, 64, 64)
    with torch.no_grad():
        whole, tiled = net(x), tiles.apply(net, x, 1, tile=40, overlap=16)
    err = (whole - tiled).abs()
    assert err[..., 4:-4, 4:-4].max() < 0.05 and err.mean() < 5e-3


# --- Fashion-MNIST domains ------------------------------------------------------------------------------

def test_fmnist_edges_and_unpaired_domains():
    from genlab.data import load_dataset

    e = load_dataset("fmnist-edges", split="test", classes="sneaker")
    assert len(e) == 1000 and e.info.fields["a"].levels == 2 and e.info.fields["b"].shape == (1, 32, 32)
    assert set(e.tensors["a"].unique().tolist()) == {0, 1} and (e.tensors["y"] == 7).all()
    assert e.tensors["b"][:, :, :2].max() == 0  # the 2-px zero border of the padding
    u = load_dataset("fmnist-unpaired", split="test", a="sneaker", b="ankle-boot+sandal")
    assert u.meta["streams"] == {"a": 1000, "b": 2000} and not u.info.aligned("a", "b")
    h = load_dataset("fmnist-unpaired", split="test", a="shoes", b="shoes", edges="a")
    a_src, b_img = h.streams["a"], h.streams["b"]
    assert len(a_src) + len(b_img) == 3000 and h.meta["disjoint_halves"]
    assert a_src.info.fields["a"].levels == 2  # edge maps
    with pytest.raises(Exception, match="unknown Fashion-MNIST class 'boot'"):
        load_dataset("fmnist-unpaired", split="test", a="boot")
    with pytest.raises(Exception, match="same classes"):
        load_dataset("fmnist-unpaired", split="test", a="bag", b="bag")


# --- CLI: translate, eval, bad input --------------------------------------------------------------------

@pytest.fixture(scope="module")
def p2p_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("p2p") / "run"
    code = main(["train", "pix2pix", "--data", "fmnist-edges", "--data.classes=sneaker", "--model.base=4",
                 "--model.depth=3", "--model.d_base=4", "--model.d_receptive_field=16", "--train.steps=2",
                 "--train.batch_size=4", "--train.progress=false", "--out", str(out)])
    assert code == 0
    return out


def test_translate_a_folder_of_unseen_sizes_and_never_overwrite(p2p_run, tmp_path, capsys):
    from PIL import Image

    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    Image.fromarray((np.random.default_rng(0).random((45, 70)) > 0.8).astype(np.uint8) * 255).save(src / "wide.png")
    Image.fromarray(np.zeros((20, 36, 3), np.uint8)).save(src / "sub" / "rgb.jpg")  # RGB -> 1 channel
    out = tmp_path / "out"
    assert main(["translate", str(p2p_run), "--input", str(src), "--out", str(out)]) == 0
    assert Image.open(out / "wide.png").size == (70, 45) and Image.open(out / "sub" / "rgb.png").size == (36, 20)
    before = (out / "wide.png").read_bytes()
    capsys.readouterr()
    assert main(["translate", str(p2p_run), "--input", str(src), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "already exist" in err and (out / "wide.png").read_bytes() == before
    assert main(["translate", str(p2p_run), "--input", str(src), "--out", str(tmp_path / "t"), "--tile", "16",
                 "--overlap", "4"]) == 0
    assert Image.open(tmp_path / "t" / "wide.png").size == (70, 45)


def test_translate_a_dataset_split_with_samples_writes_a_grid(p2p_run, tmp_path, capsys):
    from PIL import Image

    out = tmp_path / "grid"
    assert main(["translate", str(p2p_run), "--input", "fmnist-edges:test", "-n", "3", "--samples", "2",
                 "--dropout", "--out", str(out)]) == 0
    assert len(list(out.glob("*_s1.png"))) == 3
    w, h = Image.open(out / "grid.png").size
    assert abs(w / h - 4 / 3) < 0.05  # input | 2 samples | target, 3 rows
    assert "input | outputs | target" in capsys.readouterr().out


@pytest.mark.parametrize("argv,needle", [
    (["--direction", "BtoA"], "direction 'BtoA' is not one of this model's: AtoB"),
    (["--input", "/nope/x.png"], "does not exist"),
    (["--samples", "0"], "--samples=0 is invalid"),
])
def test_translate_bad_input_is_one_line(p2p_run, tmp_path, capsys, argv, needle):
    args = ["translate", str(p2p_run), "--input", "fmnist-edges:test", "--out", str(tmp_path / "o")]
    for k in range(0, len(argv), 2):
        i = args.index(argv[k]) if argv[k] in args else None
        if i is None:
            args += argv[k:k + 2]
        else:
            args[i + 1] = argv[k + 1]
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and needle in err, err
    assert not (tmp_path / "o").exists()


def test_eval_of_a_translation_run_records_metrics_and_the_report_shows_the_grid(p2p_run, capsys):
    assert main(["eval", str(p2p_run), "--n", "200"]) == 0
    recs = json.loads((p2p_run / "metrics.json").read_text())["records"]
    t = [r for r in recs if r["kind"] == "translation"]
    assert len(t) == 1 and t[0]["protocol"]["extractor"] == "fmnist-classifier" and t[0]["protocol"]["crop"] == 2
    v = t[0]["values"]
    assert 0 < v["psnr"] < 40 and -1 <= v["ssim"] <= 1 and v["fid"] > 0 and 0 <= v["source_label_accuracy"] <= 1
    html = (p2p_run / "report.html").read_text()
    assert "Translations (held-out inputs)" in html and "fmnist-edges-test-AtoB" in html
    assert (p2p_run / "translations" / "fmnist-edges-test-AtoB.png").is_file()


def test_translation_metrics_reuse_the_cached_real_features_with_the_same_numbers(p2p_run, tmp_path, monkeypatch):
    import genlab
    from genlab.data import load_dataset
    from genlab.metrics.translation import evaluate_translation

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    model, data = genlab.load(p2p_run), load_dataset("fmnist-edges", split="test")
    first = evaluate_translation(model, data, n=100)["AtoB"]
    again = evaluate_translation(model, data, n=100)["AtoB"]
    assert not first["protocol"]["reference_cached"] and again["protocol"]["reference_cached"]
    assert again["fid"] == first["fid"] and again["recall"] == first["recall"] and first["fid"] > 0
    other = evaluate_translation(model, data, n=60)["AtoB"]  # other real images: not the cached entry
    assert not other["protocol"]["reference_cached"] and other["fid"] != first["fid"]


def test_paired_model_on_unpaired_streams_is_refused_before_any_run_dir(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "pix2pix", "--data", "fmnist-unpaired", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "unpaired streams" in err and "cyclegan" in err
    assert not out.exists()


def test_navy_wind_domains_pair_u_with_v_and_split_seasons_by_calendar_month():
    from genlab.data import load_dataset
    from genlab.data.field_domains import months_of

    p = load_dataset("navy-uv", split="test")
    assert p.info.fields["a"].normalizer.units == "M/S" and p.info.fields["b"].shape == (1, 32, 32)
    assert len(p) == 26 * 8 and p.info.aligned("a", "b")  # 26 test months x (2 x 4) tiles
    u = load_dataset("navy-winds", split="test", var="uwnd", size=32)
    assert torch.equal(p.tensors["a"], u.tensors["x"])  # same tiles, same order
    s = load_dataset("navy-seasons", split="train")
    w = load_dataset("navy-winds", split="train", size=32)
    m = months_of(w)
    assert s.meta["streams"] == {"a": int(np.isin(m, (12, 1, 2)).sum()), "b": int(np.isin(m, (6, 7, 8)).sum())}
    assert torch.equal(s.streams["a"].tensors["a"], w.tensors["x"][torch.from_numpy(np.isin(m, (12, 1, 2)))])
    assert not s.info.aligned("a", "b")


def test_photos_unpaired_domains_come_from_the_named_photos_only():
    from genlab.data import load_dataset

    u = load_dataset("photos-unpaired", split="test", a="brick", b="grass+gravel", n=8, size=32)
    assert u.streams["a"].meta["photos"] == ["brick"] and sorted(u.streams["b"].meta["photos"]) == ["grass", "gravel"]
    assert u.info.fields["a"].shape == (3, 32, 32) and not u.info.aligned("a", "b")
    with pytest.raises(Exception, match="share photos"):
        load_dataset("photos-unpaired", split="test", a="brick", b="brick")
    with pytest.raises(Exception, match="not installed here"):
        load_dataset("photos-unpaired", split="test", a="lena")


def test_pairs_of_mismatched_sizes_are_a_one_line_error(tmp_path, capsys):
    from PIL import Image

    for side, (h, w) in (("A", (16, 16)), ("B", (20, 24))):
        (tmp_path / "p" / side).mkdir(parents=True)
        for i in range(3):
            Image.fromarray(np.zeros((h, w, 3), np.uint8)).save(tmp_path / "p" / side / f"{i}.png")
    out = tmp_path / "run"
    assert main(["train", "pix2pix", "--data", "folder-pairs", f"--data.path={tmp_path / 'p'}", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "different sizes" in err and "data.size" in err and not out.exists()


def test_y_channel_and_border_crop_follow_the_sr_convention():
    white, black = torch.ones(1, 3, 4, 4), torch.zeros(1, 3, 4, 4)
    assert iq.to_y(white).flatten()[0].item() == pytest.approx(235 / 255, abs=1e-6)
    assert iq.to_y(black).flatten()[0].item() == pytest.approx(16 / 255)
    red = torch.zeros(1, 3, 2, 2)
    red[:, 0] = 1.0
    assert iq.to_y(red).flatten()[0].item() == pytest.approx((16 + 65.481) / 255)
    x = torch.arange(36.0).view(1, 1, 6, 6)
    assert iq.crop_border(x, 2).flatten().tolist() == [14.0, 15.0, 20.0, 21.0]
    with pytest.raises(ValueError):
        iq.crop_border(x, 3)
    # PSNR on Y with range 1 equals PSNR on Y·255 with range 255 (BasicSR's scale)
    g = torch.Generator().manual_seed(1)
    a, b = torch.rand(2, 3, 8, 8, generator=g), torch.rand(2, 3, 8, 8, generator=g)
    ya, yb = iq.to_y(a), iq.to_y(b)
    assert iq.psnr_per_image(ya, yb).tolist() == pytest.approx(iq.psnr_per_image(ya * 255, yb * 255, 255.0).tolist())
