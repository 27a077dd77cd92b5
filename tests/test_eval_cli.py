"""`genlab eval` for sample metrics: --real/--fake sets, a trained run, the reference-statistics cache,
and one-line errors for bad inputs."""
import json

import numpy as np
import pytest
import torch

from genlab.cli.main import main
from genlab.data import load_dataset
from genlab.metrics import quality
from helpers import tiny_trainer


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def _npz(path, x):
    np.savez(path, x=x)
    return str(path)


def _lines(capsys):
    out = capsys.readouterr().out
    return dict(line.split(": ", 1) for line in out.splitlines() if ": " in line and not line.startswith("protocol"))


def test_real_vs_fake_npz_prints_metrics_and_writes_json(tmp_path, capsys):
    test = load_dataset("fashion-mnist:train").subset(600, seed=3)
    fake = _npz(tmp_path / "fake.npz", test.x.numpy())  # uint8 (N, 1, 28, 28)
    out = tmp_path / "res.json"
    rc = main(["eval", "--real", "fashion-mnist:test", "--fake", fake, "--n", "600", "--metrics", "fid,kid,pr,dc,is",
               "--json", str(out)])
    assert rc == 0
    printed = _lines(capsys)
    res = json.loads(out.read_text())
    for k in ("fid", "kid_mean", "kid_std", "precision", "recall", "density", "coverage", "is_mean", "is_std"):
        assert k in res and f"{res[k]:.4f}" == printed[k]
    p = res["protocol"]
    assert p["extractor"] == "fmnist-classifier" and len(p["weights_sha256"]) == 64
    assert (p["n_real"], p["n_fake"], p["real"], p["reference_cached"]) == (600, 600, "fashion-mnist:test", False)
    assert 0 < res["fid"] < 5  # real vs real (train vs test): a low floor
    assert 0.5 < res["precision"] <= 1 and 0.5 < res["recall"] <= 1
    assert 5 < res["is_mean"] <= 10
    # second call: reference statistics from the cache, identical numbers
    assert main(["eval", "--real", "fashion-mnist:test", "--fake", fake, "--n", "600", "--json", str(out)]) == 0
    res2 = json.loads(out.read_text())
    assert res2["protocol"]["reference_cached"] is True and res2["fid"] == res["fid"]
    # a different n is a different protocol: recomputed
    assert main(["eval", "--real", "fashion-mnist:test", "--fake", fake, "--n", "500", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["protocol"]["reference_cached"] is False
    # so is another arithmetic: fp32 features never meet cached bf16 statistics (the default is bf16 only
    # where the CPU has bf16 units)
    from genlab.training.precision import bf16_supported

    default, other = ("bf16", "fp32") if bf16_supported(torch.device("cpu")) else ("fp32", "bf16")
    assert res["protocol"]["precision"] == default
    assert main(["eval", "--real", "fashion-mnist:test", "--fake", fake, "--n", "600", "--precision", other,
                 "--json", str(out)]) == 0
    res3 = json.loads(out.read_text())
    assert res3["protocol"]["precision"] == other and res3["protocol"]["reference_cached"] is False
    assert res3["fid"] != res["fid"] and abs(res3["fid"] - res["fid"]) < 0.05 * res["fid"]


def test_noise_is_worse_than_real(tmp_path):
    real = load_dataset("fashion-mnist:test").subset(500, seed=0)
    g = torch.Generator().manual_seed(0)
    x = real.all()
    noisy = (x + 0.3 * torch.randn(x.shape, generator=g)).clamp(0, 1).numpy()
    a = quality.evaluate_paths("fashion-mnist:train", _npz(tmp_path / "n.npz", noisy), metrics=["fid"],
                               extractor=None, n=500, device=torch.device("cpu"), seed=0)
    b = quality.evaluate_paths("fashion-mnist:train", _npz(tmp_path / "r.npz", x.numpy()), metrics=["fid"],
                               extractor=None, n=500, device=torch.device("cpu"), seed=0)
    assert b["fid"] < 0.2 * a["fid"]


def _err(capsys, argv):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("genlab: error:") and "\n" not in err
    return err


def test_bad_inputs_are_one_line_errors(tmp_path, capsys):
    small = _npz(tmp_path / "small.npz", np.zeros((50, 1, 8, 8), np.uint8))
    assert "1x28x28 but generated images are 1x8x8" in _err(
        capsys, ["eval", "--real", "fashion-mnist:test", "--fake", small, "--n", "50"])
    rgb = _npz(tmp_path / "rgb.npz", np.zeros((50, 3, 28, 28), np.uint8))
    assert "same size and channels" in _err(capsys, ["eval", "--real", "fashion-mnist:test", "--fake", rgb])
    (tmp_path / "empty").mkdir()
    assert "holds no PNG/JPEG images" in _err(
        capsys, ["eval", "--real", "fashion-mnist:test", "--fake", str(tmp_path / "empty")])
    assert "needs class logits" in _err(capsys, ["eval", "--real", small, "--fake", small, "--metrics", "is",
                                                 "--extractor", "inception"])
    assert "unknown metric" in _err(capsys, ["eval", "--real", small, "--fake", small, "--metrics", "fid,bogus"])
    assert "unknown extractor" in _err(capsys, ["eval", "--real", small, "--fake", small, "--extractor", "vgg"])


def test_few_samples_warn(tmp_path, capsys):
    x = load_dataset("digits:test").x[:60].numpy()
    f = _npz(tmp_path / "d.npz", x)
    assert main(["eval", "--real", "digits:test", "--fake", f, "--n", "60"]) == 0
    out, err = capsys.readouterr()
    assert "fid:" in out
    warning = [l for l in err.splitlines() if "covariance is singular" in l]
    assert len(warning) == 2  # one for the real set, one for the generated set, one line each
    assert all(w.startswith("genlab: warning:") for w in warning)


def test_eval_run_samples_and_list(tmp_path, capsys):
    run = tmp_path / "run"
    tr = tiny_trainer("vae", run_dir=run, steps=2)
    tr.fit()
    assert main(["eval", str(run), "--metrics", "fid,kid,pr,dc,is", "--n", "300"]) == 0
    printed = _lines(capsys)
    assert float(printed["fid"]) > 0 and "is_mean" in printed
    saved = json.loads((run / "metrics.json").read_text())["samples"]
    assert saved["protocol"]["extractor"] == "digits-classifier" and saved["protocol"]["n_fake"] == 300
    assert main(["list", "extractors"]) == 0
    listed = capsys.readouterr().out
    assert all(n in listed for n in ("fmnist-classifier", "digits-classifier", "inception"))
