"""Data inputs lose nothing silently: damaged files, 16-bit PNGs, mixed folders, array layouts and dtypes,
gaps and physical units; paired/unpaired folders; bundled photos. Bad input -> one line, exit 2, no run dir."""
import struct
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

from genlab.cli.main import main
from genlab.data import folder, load_any, load_dataset, photos
from genlab.data.streams import UnalignedDataset
from genlab.errors import GenlabError

torch.set_num_threads(1)


# --- helpers ---------------------------------------------------------------------------------------

def write_png16(path, arr):
    """A 16-bit PNG (numpy only): arr (H, W) or (H, W, K) uint16, K = 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA;
    row r uses PNG filter r % 5 (none, sub, up, average, paeth), so the decoder's unfiltering is checked."""
    arr = np.asarray(arr, dtype=np.uint16)
    arr = arr[..., None] if arr.ndim == 2 else arr
    h, w, k = arr.shape
    raw = arr.astype(">u2").view(np.uint8).reshape(h, w * k * 2).astype(np.int32)
    bpp = 2 * k
    left = np.zeros_like(raw)
    left[:, bpp:] = raw[:, :-bpp]
    up = np.zeros_like(raw)
    up[1:] = raw[:-1]
    ul = np.zeros_like(raw)
    ul[1:, bpp:] = raw[:-1, :-bpp]
    pr = left + up - ul
    pa, pb, pc = abs(pr - left), abs(pr - up), abs(pr - ul)
    paeth = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, up, ul))
    preds = [np.zeros_like(raw), left, up, (left + up) // 2, paeth]
    rows = b"".join(bytes([r % 5]) + ((raw[r] - preds[r % 5][r]) % 256).astype(np.uint8).tobytes() for r in range(h))

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", w, h, 16, {1: 0, 2: 4, 3: 2, 4: 6}[k], 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows))
                     + chunk(b"IEND", b""))


def rgb(h, w, seed=0):
    return np.random.RandomState(seed).randint(0, 256, (h, w, 3), dtype=np.uint8)


def make_folder(d, n=4, size=(12, 10), mode="RGB"):
    d.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        im = Image.fromarray(rgb(size[1], size[0], i))
        (im.convert(mode) if mode != "RGB" else im).save(d / f"{i:02d}.png")
    return d


def truncated_png(path):
    Image.fromarray(rgb(32, 32)).save(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # the header is whole, the pixel data cut off


def cli(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_exit_2(capsys, out_dir, *args, match):
    code, _, err = cli(capsys, "train", "vae", *args, "--train.steps=1", "--train.progress=false", "--out",
                       str(out_dir))
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("genlab: error:"), err
    assert match in lines[0] and "Traceback" not in err, err
    assert not out_dir.exists()  # no run directory


# --- A.1 unreadable files ----------------------------------------------------------------------------

def test_garbage_file_is_named_and_can_be_skipped(tmp_path):
    d = make_folder(tmp_path / "f")
    (d / "03.png").write_bytes(b"\x89PNG garbage, not an image")
    with pytest.raises(GenlabError, match=r"cannot read image .*03\.png .*remove it, or pass --data\.skip_bad=true"):
        load_dataset("folder", "all", path=str(d))
    with pytest.warns(UserWarning, match=r"skipped 1 unreadable image file\(s\).*03\.png"):
        ds = load_dataset("folder", "all", path=str(d), skip_bad=True)
    assert len(ds) == 3 and ds.meta["skipped"] == 1


def test_truncated_png_passes_the_header_scan_and_fails_the_decode(tmp_path):
    d = make_folder(tmp_path / "f", size=(32, 32))
    truncated_png(d / "01.png")
    headers, bad = folder.scan(sorted(d.iterdir()), skip_bad=False)  # headers only: no pixel decode
    assert not bad and len(headers) == 4
    with pytest.raises(GenlabError, match=r"cannot read image .*01\.png \(.*truncated"):
        load_dataset("folder", "all", path=str(d))
    with pytest.warns(UserWarning, match="skipped 1"):
        assert len(load_dataset("folder", "all", path=str(d), skip_bad=True)) == 3


@pytest.mark.parametrize("stage", ["header", "decode"])
@pytest.mark.parametrize("exc", [OSError("x"), SyntaxError("broken PNG file"), ValueError("x"), EOFError(),
                                 struct.error("unpack requires a buffer"), IndexError("x"), TypeError("x"),
                                 ZeroDivisionError(), "bomb", "unidentified"])
def test_every_pillow_decoding_error_is_one_line(tmp_path, monkeypatch, stage, exc):
    from PIL import UnidentifiedImageError
    if exc == "bomb":
        exc = Image.DecompressionBombError("too many pixels")
    elif exc == "unidentified":
        exc = UnidentifiedImageError("cannot identify image file")
    d = make_folder(tmp_path / "f", n=2)
    real_open = Image.open

    def fake_open(p, *a, **k):
        if str(p).endswith("01.png") and stage == "header":
            raise exc
        return real_open(p, *a, **k)
    monkeypatch.setattr(Image, "open", fake_open)
    if stage == "decode":
        real = folder._to_8bit
        monkeypatch.setattr(folder, "_to_8bit", lambda im, c: (_ for _ in ()).throw(exc)
                            if str(im.filename).endswith("01.png") else real(im, c))
    with pytest.raises(GenlabError, match=r"cannot read image .*01\.png"):
        load_dataset("folder", "all", path=str(d))


def test_a_real_decompression_bomb_is_refused(tmp_path, monkeypatch):
    d = make_folder(tmp_path / "f", n=2, size=(40, 40))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 500)  # 1600 px > 2 x 500: Pillow raises, not warns
    with pytest.raises(GenlabError, match="cannot read image .*decompression bomb"):
        load_dataset("folder", "all", path=str(d))


def test_cli_bad_file_one_line_exit_2_no_run_dir(tmp_path, capsys):
    d = make_folder(tmp_path / "f", n=8, size=(8, 8))
    (d / "05.png").write_text("not an image")
    assert_one_line_exit_2(capsys, tmp_path / "run", "--data", "folder", f"--data.path={d}",
                           match="--data.skip_bad=true")
    truncated = make_folder(tmp_path / "g", n=8, size=(32, 32))
    truncated_png(truncated / "02.png")
    assert_one_line_exit_2(capsys, tmp_path / "run", "--data", "folder", f"--data.path={truncated}",
                           "--data.split=all", match="02.png")


# --- A.2 16-bit PNGs ------------------------------------------------------------------------------

def test_16bit_gradient_round_trips_at_full_precision(tmp_path):
    d = tmp_path / "g16"
    d.mkdir()
    g = np.tile(np.linspace(0, 65535, 64).round().astype(np.uint16), (64, 1))  # (64, 64) gradient
    for i in range(3):
        Image.fromarray(g).save(d / f"{i}.png")  # Pillow writes mode I;16
    assert Image.open(d / "0.png").mode == "I;16"
    ds = load_any(str(d))
    x = ds.get(slice(None))
    assert ds.x.dtype == torch.int32 and ds.levels == 65536 and ds.specs["x"].normalizer.scale == (65535.0,)
    want = torch.from_numpy(g / 65535.0).float()
    assert torch.allclose(x[0, 0], want, atol=1e-6, rtol=0)  # two-sided
    assert (x == 1).float().mean() < 0.02  # one column of 64 is 65535 (it was 63 of 64 when clipped)
    assert torch.equal(ds.x[0, 0], torch.from_numpy(g.astype(np.int32)))


@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_16bit_png_color_types_decode_exactly(tmp_path, k):
    a = np.random.RandomState(k).randint(0, 65536, (9, 11, k)).astype(np.uint16)
    if k in (2, 4):
        a[..., -1] = 65535  # opaque: the colour values must come through exactly
    d = tmp_path / "f"
    d.mkdir()
    write_png16(d / "a.png", a)
    h = folder.read_header(d / "a.png")
    assert h.bits == 16 and h.channels == (1 if k < 3 else 3)
    pic = folder.read_image(d / "a.png", h.channels, 16)
    got = pic.array()  # (C, H, W), native size: no resampling
    assert np.array_equal(got, a[..., : (1 if k < 3 else 3)].transpose(2, 0, 1).astype(np.int32))


def test_16bit_alpha_over_white_and_gray_conversion(tmp_path):
    a = np.zeros((4, 4, 4), np.uint16)
    a[..., 0] = 40000  # red, fully transparent at the top half
    a[:2, :, 3] = 0
    a[2:, :, 3] = 65535
    write_png16(tmp_path / "a.png", a)
    got = folder.read_image(tmp_path / "a.png", 3, 16).array()
    assert (got[:, :2] == 65535).all() and (got[0, 2:] == 40000).all() and (got[1:, 2:] == 0).all()
    gray = folder.read_image(tmp_path / "a.png", 1, 16).array()
    assert (gray[0, 2:] == round(40000 * 0.299)).all()


def test_mixed_8_and_16_bit_promotes_exactly(tmp_path):
    d = tmp_path / "m"
    d.mkdir()
    g8 = np.arange(64, dtype=np.uint8).reshape(8, 8) * 4
    Image.fromarray(g8).save(d / "a8.png")
    Image.fromarray((np.arange(64, dtype=np.uint16).reshape(8, 8) * 1000)).save(d / "b16.png")
    ds = load_dataset("folder", "all", path=str(d))
    assert ds.levels == 65536 and ds.meta["bits"] == 16
    assert torch.equal(ds.x[0, 0], torch.from_numpy(g8.astype(np.int32) * 257))


def old_decode(p, size, channels):
    """The 8-bit decoder before this change (reference for bit-identity)."""
    with Image.open(p) as im:
        im = im.convert("L" if channels == 1 else "RGB")
        w, h = im.size
        s = size / min(w, h)
        im = im.resize((max(size, round(w * s)), max(size, round(h * s))), Image.BICUBIC)
        w, h = im.size
        left, top = (w - size) // 2, (h - size) // 2
        a = np.asarray(im.crop((left, top, left + size, top + size)), dtype=np.uint8)
    return a[None] if channels == 1 else a.transpose(2, 0, 1)


def test_8bit_folders_are_bit_identical_to_before(tmp_path):
    rs = np.random.RandomState(0)
    for c in ("a", "b"):
        (tmp_path / c).mkdir()
        for i in range(5):
            w, h = rs.randint(10, 30, 2)
            im = Image.fromarray(rgb(h, w, 10 * i + len(c)))
            im = im.convert("L") if i % 2 else im
            im.save(tmp_path / c / f"{i}.{'jpg' if i == 3 else 'png'}")
    files = sorted((tmp_path / "a").iterdir()) + sorted((tmp_path / "b").iterdir())
    for ch in (1, 3):
        ds = load_dataset("folder", "all", path=str(tmp_path), size=9, channels=ch)
        assert ds.x.dtype == torch.uint8 and ds.levels == 256 and ds.specs["x"].normalizer.scale == (255.0,)
        want = np.stack([old_decode(p, 9, ch) for p in files])
        assert np.array_equal(ds.x.numpy(), want)
    tr, te = (load_dataset("folder", s, path=str(tmp_path), size=9, channels=3) for s in ("train", "test"))
    assert len(tr) == 9 and len(te) == 1


# --- A.3 channels and sizes from every file ---------------------------------------------------------------

def test_mixed_modes_need_data_channels(tmp_path):
    d = make_folder(tmp_path / "f", n=1)  # 00.png is RGB and sorts first
    for i in (1, 2):
        Image.fromarray(rgb(10, 12, i)).convert("L").save(d / f"{i:02d}.png")
    with pytest.raises(GenlabError, match=r"mixes 2 grayscale and 1 colour images; pass --data.channels=1 or "
                                          r"--data.channels=3"):
        load_any(str(d))
    assert load_any(str(d), channels=3).x.shape == (3, 3, 10, 10)
    assert load_any(str(d), channels=1).x.shape == (3, 1, 10, 10)


def test_mixed_sizes_need_data_size(tmp_path):
    d = make_folder(tmp_path / "f", n=2, size=(20, 10))
    Image.fromarray(rgb(30, 40)).save(d / "big.png")
    with pytest.raises(GenlabError, match=r"smallest 20x10 .*largest 40x30 big\.png.*--data\.size=PX"):
        load_any(str(d))
    assert load_any(str(d), size=8).x.shape == (3, 3, 8, 8)


def test_uniform_non_square_size_keeps_the_shorter_side(tmp_path):
    d = make_folder(tmp_path / "f", n=2, size=(20, 10))
    assert load_any(str(d)).x.shape == (2, 3, 10, 10)


def test_transparency_is_composited_over_white(tmp_path):
    d = tmp_path / "t"
    d.mkdir()
    a = np.zeros((4, 4, 4), np.uint8)
    a[..., 0] = 200
    a[:2, :, 3] = 0  # top half transparent
    a[2:, :, 3] = 255
    Image.fromarray(a, "RGBA").save(d / "a.png")
    p = Image.new("P", (4, 4), 0)
    p.putpalette([10, 20, 30, 0, 0, 0] + [0] * 762)
    p.info["transparency"] = 1
    p.putpixel((0, 0), 1)
    p.save(d / "b.png", transparency=1)
    ds = load_any(str(d))
    x = ds.x.numpy()
    assert x.shape == (2, 3, 4, 4)
    assert (x[0, :, :2] == 255).all() and (x[0, 0, 2:] == 200).all() and (x[0, 1:, 2:] == 0).all()
    assert (x[1, :, 0, 0] == 255).all() and tuple(x[1, :, 1, 1]) == (10, 20, 30)


def test_split_folders_share_classes_and_are_settled_together(tmp_path):
    for split, classes in (("train", ("cat", "dog", "owl")), ("test", ("cat", "owl"))):
        for c in classes:
            make_folder(tmp_path / split / c, n=2, size=(8, 8))
    te = load_dataset("folder", "test", path=str(tmp_path))
    assert te.meta["classes"] == ["cat", "dog", "owl"] and te.y.tolist() == [0, 0, 2, 2]  # owl stays 2
    assert len(load_dataset("folder", "all", path=str(tmp_path))) == 10
    Image.fromarray(rgb(8, 8)).convert("L").save(tmp_path / "test" / "owl" / "gray.png")
    with pytest.raises(GenlabError, match="mixes 1 grayscale and 10 colour"):
        load_dataset("folder", "train", path=str(tmp_path))  # the test split's files count for train too


# --- A.4 array layouts -----------------------------------------------------------------------------

def test_nhwc_and_nchw_give_the_same_tensor(tmp_path):
    x = np.random.RandomState(0).randint(0, 256, (6, 3, 8, 8)).astype(np.uint8)
    np.save(tmp_path / "nchw.npy", x)
    np.save(tmp_path / "nhwc.npy", x.transpose(0, 2, 3, 1))
    a = load_dataset("array", "all", path=str(tmp_path / "nchw.npy"))
    b = load_dataset("array", "all", path=str(tmp_path / "nhwc.npy"))
    c = load_dataset("array", "all", path=str(tmp_path / "nhwc.npy"), layout="nhwc")
    assert a.x.shape == (6, 3, 8, 8) and torch.equal(a.x, b.x) and torch.equal(a.x, c.x)
    x4 = np.random.RandomState(1).rand(5, 16, 16, 4).astype(np.float32)
    np.save(tmp_path / "rgba.npy", x4)
    assert load_any(str(tmp_path / "rgba.npy")).x.shape == (5, 4, 16, 16)


def test_ambiguous_layout_is_refused(tmp_path):
    np.save(tmp_path / "amb.npy", np.zeros((4, 3, 3, 3), np.uint8))
    with pytest.raises(GenlabError, match=r"could both be channels; pass --data\.layout=nchw or --data\.layout=nhwc"):
        load_any(str(tmp_path / "amb.npy"))
    assert load_dataset("array", "all", path=str(tmp_path / "amb.npy"), layout="nchw").x.shape == (4, 3, 3, 3)
    with pytest.raises(GenlabError, match="data.layout='hwc' is invalid"):
        load_dataset("array", "all", path=str(tmp_path / "amb.npy"), layout="hwc")


# --- A.5 dtypes, gaps, physical fields -------------------------------------------------------------------

@pytest.mark.parametrize("arr,match", [
    (np.ones((4, 5, 5), np.complex64), "complex"),
    (np.ones((4, 5, 5), bool), "booleans"),
    (np.array([["ab", "cd"]] * 4), "non-numeric dtype"),
    (np.zeros((4, 2), "datetime64[s]"), "non-numeric dtype"),
])
def test_unusable_dtypes_are_refused(tmp_path, arr, match):
    np.save(tmp_path / "a.npy", arr)
    with pytest.raises(GenlabError, match=match):
        load_any(str(tmp_path / "a.npy"))


def test_cli_complex_array_one_line_exit_2_no_run_dir(tmp_path, capsys):
    np.save(tmp_path / "c.npy", np.ones((40, 8, 8), np.complex128))
    assert_one_line_exit_2(capsys, tmp_path / "run", "--data", "array", f"--data.path={tmp_path / 'c.npy'}",
                           match="complex")
    bad = np.random.RandomState(0).randn(40, 8, 8).astype(np.float32)
    bad[3, 2, 1] = np.nan
    np.save(tmp_path / "n.npy", bad)
    assert_one_line_exit_2(capsys, tmp_path / "run", "--data", "array", f"--data.path={tmp_path / 'n.npy'}",
                           match="--data.gaps=mask")


def test_physical_fields_are_standardised_in_their_units(tmp_path):
    rs = np.random.RandomState(0)
    x = np.stack([rs.randn(50, 6, 6) * 3 + 280, rs.randn(50, 6, 6) * 0.5 - 2], 1).astype(np.float32)
    np.save(tmp_path / "t.npy", x)
    tr = load_dataset("array", "train", path=str(tmp_path / "t.npy"), units="K")
    te = load_dataset("array", "test", path=str(tmp_path / "t.npy"), units="K")
    spec = tr.specs["x"]
    assert spec.kind == "field" and spec.units == "K" and spec.levels is None and not spec.bounded
    assert te.specs["x"] == spec  # one normaliser for every split: the training rows' statistics
    xt = tr.x.numpy().astype(np.float64)
    assert np.allclose(spec.normalizer.offset, xt.mean((0, 2, 3)), rtol=1e-6)
    assert np.allclose(spec.normalizer.scale, xt.std((0, 2, 3)), rtol=1e-5)
    m = tr.get(slice(None))
    assert abs(m.mean().item()) < 1e-4 and abs(m.std().item() - 1) < 1e-2
    assert torch.allclose(spec.normalizer.to_data(te.get(slice(None))), te.x, atol=1e-3)  # back in kelvin
    assert "offset" not in tr.meta and "range" not in tr.meta
    np.savez(tmp_path / "s.npz", train=x[:40], test=x[40:])
    s_te = load_dataset("array", "test", path=str(tmp_path / "s.npz"))
    assert len(s_te) == 10
    assert np.allclose(s_te.specs["x"].normalizer.offset, x[:40].astype(np.float64).mean((0, 2, 3)), rtol=1e-6)


def test_unit_interval_floats_and_integer_images_keep_their_meaning(tmp_path):
    x = np.full((4, 1, 3, 3), 0.25, np.float32)
    np.save(tmp_path / "u.npy", x)
    d = load_any(str(tmp_path / "u.npy"))
    assert d.specs["x"].kind == "image" and d.specs["x"].normalizer.is_identity and np.allclose(d.x.numpy(), x)
    np.save(tmp_path / "b.npy", np.arange(4 * 9, dtype=np.uint8).reshape(4, 1, 3, 3))
    b = load_any(str(tmp_path / "b.npy"))
    assert b.x.dtype == torch.uint8 and b.levels == 256 and b.specs["x"].normalizer.scale == (255.0,)
    np.save(tmp_path / "w.npy", np.full((4, 3, 3), 65535, np.uint16))
    w = load_any(str(tmp_path / "w.npy"))
    assert w.levels == 65536 and (w.get(slice(None)) == 1).all()


def test_nan_gaps_become_a_mask_only_when_asked(tmp_path):
    rs = np.random.RandomState(0)
    x = (rs.randn(30, 1, 5, 5) * 2 + 10).astype(np.float32)
    x[0, 0, 1, 1] = x[3, 0, 4, 0] = np.nan
    np.save(tmp_path / "g.npy", x)
    with pytest.raises(GenlabError, match=r"2 NaN value\(s\).*--data\.gaps=mask"):
        load_any(str(tmp_path / "g.npy"))
    d = load_dataset("array", "all", path=str(tmp_path / "g.npy"), gaps="mask", units="m")
    info = d.info
    assert info.spec.valid == "x_valid" and info.fields["x_valid"].kind == "mask"
    b = d.batch(torch.arange(len(d)))
    assert b.x_valid.shape == b.x.shape and b.x_valid[0, 0, 1, 1] == 0 and b.x_valid.sum() == x.size - 2
    assert b.x[0, 0, 1, 1] == 0 and b.x[3, 0, 4, 0] == 0 and torch.isfinite(b.x).all()
    off = d.specs["x"].normalizer.offset[0]
    assert abs(d.meta["observed_fraction"] - (1 - 2 / x.size)) < 1e-9
    tr = load_dataset("array", "train", path=str(tmp_path / "g.npy"), gaps="mask", units="m")
    observed = tr.x[tr.tensors["x_valid"].bool()].double()  # the normaliser: observed training values only
    assert tr.specs["x"] == d.specs["x"] and abs(observed.mean().item() - off) < 1e-5
    assert abs(observed.std(unbiased=False).item() - d.specs["x"].normalizer.scale[0]) < 1e-5
    with pytest.raises(GenlabError, match="data.gaps='fill' is invalid"):
        load_dataset("array", "all", path=str(tmp_path / "g.npy"), gaps="fill")
    inf = x.copy()
    inf[1, 0, 0, 0] = np.inf
    np.save(tmp_path / "i.npy", inf)
    with pytest.raises(GenlabError, match="inf value"):
        load_dataset("array", "all", path=str(tmp_path / "i.npy"), gaps="mask")


# --- B. paired and unpaired folders ----------------------------------------------------------------

def make_pairs(root, n=5, size=8):
    (root / "A").mkdir(parents=True)
    (root / "B").mkdir()
    for i in range(n):
        Image.fromarray(rgb(size, size, i)).convert("L").save(root / "A" / f"{i}.png")
        Image.fromarray(rgb(size, size, 100 + i)).save(root / "B" / f"{i}.jpg")
    return root


def test_pairs_from_a_and_b_dirs(tmp_path):
    root = make_pairs(tmp_path / "p", n=10)
    ds = load_dataset("folder-pairs", "all", path=str(root))
    info = ds.info
    assert info.primary == "b" and info.fields["a"].shape == (1, 8, 8) and info.fields["b"].shape == (3, 8, 8)
    want = np.asarray(Image.open(root / "A" / "3.png"))
    assert np.array_equal(ds.tensors["a"][3, 0].numpy(), want)
    b = ds.batch(torch.arange(2))
    assert set(b.fields) == {"a", "b"} and b.a.max() <= 1
    tr, te = load_dataset("folder-pairs", "train", path=str(root)), load_dataset("folder-pairs", "test", path=str(root))
    assert len(tr) == 9 and len(te) == 1
    assert load_dataset("folder-pairs", "all", path=str(root), size=4, channels=3).tensors["a"].shape == (10, 3, 4, 4)


def test_unmatched_pairs_are_listed_or_dropped(tmp_path):
    root = make_pairs(tmp_path / "p", n=4)
    for i in range(6):
        Image.fromarray(rgb(8, 8)).save(root / "B" / f"extra{i}.png")
    with pytest.raises(GenlabError, match=r"6 in B/ only \(e\.g\. extra0, extra1, extra2\).*--data\.skip_bad=true"):
        load_dataset("folder-pairs", "all", path=str(root))
    with pytest.warns(UserWarning, match="dropped unmatched"):
        ds = load_dataset("folder-pairs", "all", path=str(root), skip_bad=True)
    assert len(ds) == 4 and ds.meta["unmatched"] == 6


def test_side_by_side_pairs_and_split_dirs(tmp_path):
    root = tmp_path / "facades"
    for split, n in (("train", 4), ("val", 2)):
        (root / split).mkdir(parents=True)
        for i in range(n):
            Image.fromarray(rgb(6, 12, i)).save(root / split / f"{i}.png")  # A | B, each 6 x 6
    tr = load_dataset("folder-pairs", "train", path=str(root))
    te = load_dataset("folder-pairs", "test", path=str(root))  # val/ stands in for test/
    assert len(tr) == 4 and len(te) == 2 and len(load_dataset("folder-pairs", "all", path=str(root))) == 6
    img = rgb(6, 12, 0).transpose(2, 0, 1)
    assert np.array_equal(tr.tensors["a"][0].numpy(), img[:, :, :6])
    assert np.array_equal(tr.tensors["b"][0].numpy(), img[:, :, 6:])
    ba = load_dataset("folder-pairs", "train", path=str(root), pairs="ba")
    assert torch.equal(ba.tensors["a"], tr.tensors["b"]) and torch.equal(ba.tensors["b"], tr.tensors["a"])
    with pytest.raises(GenlabError, match="data.pairs=dirs needs A/ and B/"):
        load_dataset("folder-pairs", "train", path=str(root), pairs="dirs")


def test_a_train_b_train_layout_and_bad_pair(tmp_path):
    root = tmp_path / "p"
    for side in ("A", "B"):
        for split, n in (("train", 3), ("test", 2)):
            (root / side / split).mkdir(parents=True)
            for i in range(n):
                Image.fromarray(rgb(8, 8, i)).save(root / side / split / f"{i}.png")
    assert len(load_dataset("folder-pairs", "train", path=str(root))) == 3
    (root / "B" / "test" / "1.png").write_bytes(b"garbage")
    with pytest.raises(GenlabError, match=r"cannot read image .*B/test/1\.png"):
        load_dataset("folder-pairs", "train", path=str(root))  # headers of every split are checked
    with pytest.warns(UserWarning, match="skipped 1"):
        assert len(load_dataset("folder-pairs", "test", path=str(root), skip_bad=True)) == 1


def test_cli_unmatched_pairs_one_line_exit_2(tmp_path, capsys):
    root = make_pairs(tmp_path / "p", n=4)
    (root / "A" / "lonely.png").write_bytes((root / "A" / "0.png").read_bytes())
    assert_one_line_exit_2(capsys, tmp_path / "run", "--data", "folder-pairs", f"--data.path={root}",
                           match="1 in A/ only (e.g. lonely)")


def test_unpaired_cyclegan_layout(tmp_path):
    root = tmp_path / "horse2zebra"
    for name, n, mode in (("trainA", 3, "RGB"), ("trainB", 5, "L"), ("testA", 2, "RGB"), ("testB", 1, "L")):
        make_folder(root / name, n=n, size=(10, 10), mode=mode)
    ds = load_dataset("folder-unpaired", "train", path=str(root))
    assert isinstance(ds, UnalignedDataset) and ds.meta["streams"] == {"a": 3, "b": 5}
    assert ds.info.primary == "b" and ds.info.fields["a"].shape == (3, 10, 10)
    assert ds.info.fields["b"].shape == (1, 10, 10)
    b = ds.batcher(2, seed=0).next()
    assert b.a.shape == (2, 3, 10, 10) and b.b.shape == (2, 1, 10, 10)
    assert load_dataset("folder-unpaired", "test", path=str(root)).meta["streams"] == {"a": 2, "b": 1}
    (root / "testB" / "00.png").unlink()
    with pytest.raises(GenlabError, match="no images in testB/"):
        load_dataset("folder-unpaired", "test", path=str(root))


# --- C. bundled photos -------------------------------------------------------------------------------

def test_photos_are_deterministic_uint8_crops_with_held_out_test_regions():
    names = [n for n, _ in photos.photo_files()]
    assert "astronaut" in names and "china" in names
    tr = load_dataset("photos", "train", n=12, size=16)
    assert tr.x.shape == (12, 3, 16, 16) and tr.x.dtype == torch.uint8 and tr.levels == 256
    assert torch.equal(tr.x, load_dataset("photos", "train", n=12, size=16).x)
    te = load_dataset("photos", "test", n=12, size=16)
    assert not torch.equal(tr.x, te.x) and te.meta["photos"] == names
    for w in (64, 128, 451, 1000):
        lo_tr, hi_tr = photos._region(w, 16, "train")
        lo_te, hi_te = photos._region(w, 16, "test")
        assert lo_tr == 0 <= hi_tr and hi_tr + 16 <= lo_te <= hi_te == w - 16  # no shared column
    assert load_dataset("photos", "train", n=3, size=16, channels=1).x.shape == (3, 1, 16, 16)
    with pytest.raises(GenlabError, match="data.size=2"):
        load_dataset("photos", "train", n=3, size=2)


def test_extra_wallpaper_photos_join_the_train_split_only(monkeypatch, tmp_path):
    """data.extra=wallpapers: crops of the 10 wallpaper photos (whole photo, no held-out strip) join train;
    the test split is the bundled photos' strips, unchanged; a missing package or name is one clear error."""
    tr = load_dataset("photos", "train", n=200, size=16, extra="wallpapers")
    names = tr.meta["photos"]
    assert names[-10:] == [f"wallpaper:{w}" for w in photos.WALLPAPER_PHOTOS] and "extra" in tr.meta
    assert tr.x.shape == (200, 3, 16, 16) and not torch.equal(tr.x, load_dataset("photos", "train", n=200, size=16).x)
    te = load_dataset("photos", "test", n=12, size=16, extra="wallpapers")
    assert torch.equal(te.x, load_dataset("photos", "test", n=12, size=16).x)
    # a crop of a wallpaper is a real window of the prepared photo, anywhere in it
    _, path = photos.extra_files("wallpapers")[0]
    a = np.asarray(photos._prepare(path, 16))
    assert a.shape[1] - 16 > photos._region(a.shape[1], 16, "train")[1]  # more columns than a bundled photo's train region
    with pytest.raises(GenlabError, match="data.extra='more' is unknown"):
        photos.extra_files("more")
    monkeypatch.setattr(photos, "WALLPAPER_DIR", tmp_path)
    with pytest.raises(GenlabError, match="plasma-workspace-wallpapers"):
        load_dataset("photos", "train", n=4, size=16, extra="wallpapers")


def test_photo_edges_are_canny_edges_of_the_crop():
    ds = load_dataset("photo-edges", "test", n=6, size=32)
    info = ds.info
    assert info.primary == "b" and info.fields["a"].shape == (1, 32, 32) and info.fields["a"].levels == 2
    a, b = ds.tensors["a"], ds.tensors["b"]
    assert set(a.unique().tolist()) <= {0, 1} and 0 < a.float().mean() < 0.5
    luma = np.stack([np.asarray(Image.fromarray(c.permute(1, 2, 0).numpy()).convert("L")) for c in b])
    assert np.array_equal(photos.edges(luma), a.numpy())
    # b: of the 2n photos crops drawn, the first n whose edge map has >= 1 % edge pixels, in order
    full = load_dataset("photos", "test", n=12, size=32).x
    lum = np.stack([np.asarray(Image.fromarray(c.permute(1, 2, 0).numpy()).convert("L")) for c in full])
    busy = np.flatnonzero(photos.edges(lum).reshape(12, -1).mean(1) >= photos.MIN_EDGES)
    assert len(busy) >= 6 and torch.equal(b, full[busy[:6]])
    assert a.reshape(6, -1).float().mean(1).min() >= photos.MIN_EDGES
