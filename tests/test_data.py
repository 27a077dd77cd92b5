import gzip

import numpy as np
import pytest
import torch

from genlab.data import IndexBatcher, load_any, load_dataset
from genlab.data import fashion_mnist as fm
from genlab.errors import GenlabError


def test_fashion_mnist_shapes_labels_and_hash():
    d = load_dataset("fashion-mnist:test")
    assert d.x.shape == (10000, 1, 28, 28) and d.x.dtype == torch.uint8
    assert d.levels == 256 and d.n_classes == 10
    assert torch.bincount(d.y).tolist() == [1000] * 10  # the official test split is balanced
    x = d.get(torch.arange(5))
    assert x.dtype == torch.float32 and 0 <= x.min() and x.max() <= 1


def test_fashion_mnist_rejects_a_corrupt_file(tmp_path):
    for f in fm.FILES:
        (tmp_path / f).write_bytes((fm.DEBIAN_DIR / f).read_bytes() if "labels" in f else b"x")
    with pytest.raises(GenlabError, match="SHA-256"):
        load_dataset("fashion-mnist", path=str(tmp_path))


def test_fashion_mnist_missing_dir_says_how_to_get_it(tmp_path):
    with pytest.raises(GenlabError, match="not found in data.path"):
        load_dataset("fashion-mnist", path=str(tmp_path))


def test_idx_parser(tmp_path):
    arr = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    header = b"\x00\x00\x08\x03" + np.array([2, 3, 4], dtype=">i4").tobytes()
    p = tmp_path / "a.gz"
    with gzip.open(p, "wb") as f:
        f.write(header + arr.tobytes())
    assert np.array_equal(fm.read_idx(p), arr)


def test_digits_fixed_split():
    tr, te = load_dataset("digits"), load_dataset("digits:test")
    assert len(tr) == 1497 and len(te) == 300 and tr.levels == 17
    assert torch.equal(te.y, load_dataset("digits:test").y)
    assert abs(tr.get(slice(None)).max().item() - 1.0) < 1e-6


@pytest.mark.parametrize("name", ["ring8", "grid25", "two-moons", "swiss-roll", "two-gaussians"])
def test_toys(name):
    d = load_dataset(name, n=1000)
    assert d.x.shape == (1000, 2) and torch.isfinite(d.x).all()
    assert not torch.equal(d.x, load_dataset(name, split="test", n=1000).x)


def test_ring8_points_sit_on_their_modes():
    d = load_dataset("ring8", n=4000)
    c = torch.tensor(d.meta["centres"], dtype=torch.float32)
    dist = torch.cdist(d.x, c).min(1).values
    assert (dist < 3 * 0.01 * 2.5).float().mean() > 0.99  # 2-D: radius 3σ·√2-ish holds nearly all
    assert torch.bincount(torch.cdist(d.x, c).argmin(1), minlength=8).min() > 400


def test_unknown_dataset_and_option_and_split():
    with pytest.raises(GenlabError, match="unknown dataset 'fashion-mnst'.*did you mean 'fashion-mnist'"):
        load_dataset("fashion-mnst")
    with pytest.raises(GenlabError, match="does not take option"):
        load_dataset("digits", size=5)
    with pytest.raises(GenlabError, match="no split 'val'"):
        load_dataset("digits:val")


def test_image_folder_labels_resize_and_errors(tmp_path):
    from PIL import Image
    for cls, color in (("cats", 10), ("dogs", 200)):
        (tmp_path / cls).mkdir()
        for i in range(3):
            Image.new("RGB", (40 + i, 30), (color, color, color)).save(tmp_path / cls / f"{i}.png")
    d = load_any(str(tmp_path), size=16, channels=1)
    assert d.x.shape == (6, 1, 16, 16) and d.y.tolist() == [0, 0, 0, 1, 1, 1]
    assert d.meta["classes"] == ["cats", "dogs"]
    rgb = load_dataset("folder", "all", path=str(tmp_path), size=8, channels=3)
    assert rgb.x.shape == (6, 3, 8, 8)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(GenlabError, match="holds no PNG/JPEG"):
        load_any(str(empty))
    (tmp_path / "cats" / "bad.png").write_text("not an image")
    with pytest.raises(GenlabError, match="cannot read image"):
        load_any(str(tmp_path), size=8)


def test_array_dataset_fields_and_errors(tmp_path):
    x = np.random.RandomState(0).randn(20, 6, 6).astype(np.float32) * 5 + 3
    np.save(tmp_path / "f.npy", x)
    d = load_any(str(tmp_path / "f.npy"))
    assert d.x.shape == (20, 1, 6, 6) and d.levels is None
    s = d.specs["x"]  # a physical field: standardised in model space, stored and restored in data units
    assert s.kind == "field" and not s.bounded
    m = d.get(slice(None))
    assert abs(m.mean().item()) < 0.2 and 0.8 < m.std().item() < 1.2  # statistics of the training rows
    assert np.allclose(s.normalizer.to_data(m).numpy()[:, 0], x, atol=1e-3)
    np.savez(tmp_path / "s.npz", train=x[:15], test=x[15:])
    assert len(load_dataset("array", "test", path=str(tmp_path / "s.npz"))) == 5
    bad = x.copy()
    bad[0, 0, 0] = np.nan
    np.save(tmp_path / "nan.npy", bad)
    with pytest.raises(GenlabError, match="NaN"):
        load_any(str(tmp_path / "nan.npy"))
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(GenlabError, match="without pickle"):
        load_any(str(tmp_path / "obj.npy"))


def test_batcher_covers_epoch_and_restores_state():
    d = load_dataset("digits").subset(64)
    b = IndexBatcher(d, 16, seed=0)
    seen = torch.cat([b.next().x.flatten(1) for _ in range(4)])
    assert torch.equal(seen.sum(0), d.all().flatten(1).sum(0))  # one epoch = each example once
    st = b.state_dict()
    a1 = [b.next().x for _ in range(6)]
    b2 = IndexBatcher(d, 16, seed=123)
    b2.load_state_dict(st)
    a2 = [b2.next().x for _ in range(6)]
    assert all(torch.equal(u, v) for u, v in zip(a1, a2))


def test_batcher_ranks_take_disjoint_slices():
    d = load_dataset("digits").subset(64)
    parts = [IndexBatcher(d, 16, seed=0, rank=r, world_size=2).next().x for r in range(2)]
    whole = IndexBatcher(d, 16, seed=0).next().x
    assert torch.equal(torch.cat(parts).sum(0), whole.sum(0))
    with pytest.raises(GenlabError, match="divisible"):
        IndexBatcher(d, 15, seed=0, world_size=2)


def test_float_arrays_inside_unit_interval_are_not_stretched(tmp_path):
    x = np.full((4, 1, 3, 3), 0.25, dtype=np.float32)
    x[0, 0, 0, 0] = 0.75
    np.save(tmp_path / "s.npy", x)
    d = load_any(str(tmp_path / "s.npy"))
    assert np.allclose(d.x.numpy(), x) and d.specs["x"].kind == "image" and d.specs["x"].normalizer.is_identity
