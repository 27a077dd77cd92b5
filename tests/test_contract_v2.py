"""The data contract v2: named fields, specs and normalisers, declared model needs and capabilities,
unaligned streams and derived fields with exact resume, accumulation and optimisers, and the run-directory
rules (no stubs, no-op resumes write nothing, no repeated steps in metrics.jsonl)."""
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from genlab.cli.main import main
from genlab.data import load_dataset
from genlab.data.base import FieldDataset
from genlab.data.streams import UnalignedDataset
from genlab.errors import GenlabError
from genlab.fields import Batch, DataInfo, FieldSpec, Normalizer
from genlab.models.base import CAPABILITIES, overridden_capabilities
from genlab.registry import MODELS
from genlab.training import TrainingInterrupted
from genlab.training import checkpoint as ckpt

from helpers import state, tiny_config, tiny_data, tiny_trainer

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "PYTHONUNBUFFERED": "1"}


# --- fields, specs, normalisers, batches ----------------------------------------------------------

def test_normalizer_round_trip_per_channel_and_units():
    n = Normalizer((273.15, 0.0), (10.0, 2.0), "K")
    x = torch.tensor([[[[283.15]], [[4.0]]]])  # (1, 2, 1, 1) in data units
    y = n.to_model(x)
    assert y.flatten().tolist() == pytest.approx([1.0, 2.0], abs=1e-6)
    assert n.to_data(y).flatten().tolist() == pytest.approx([283.15, 4.0], rel=1e-6)
    assert Normalizer.from_dict(n.to_dict()) == n
    with pytest.raises(ValueError):
        Normalizer((0.0,), (0.0,))


def test_old_datainfo_builds_the_x_and_y_specs_and_round_trips():
    info = DataInfo((1, 8, 8), 17, 10)
    assert info.fields["x"].kind == "image" and info.fields["x"].normalizer.scale == (16.0,)
    assert info.fields["y"].kind == "label" and info.n_classes == 10
    back = DataInfo.from_dict(json.loads(json.dumps(info.to_dict())))
    assert back.fields == info.fields and back.shape == (1, 8, 8) and back.levels == 17
    field = DataInfo.of({"x": FieldSpec((1, 4, 6), "field", periodic=(2,), valid="x_valid"),
                         "x_valid": FieldSpec((1, 4, 6), "mask")})
    assert field.shape == (1, 4, 6) and not field.bounded and field.n_classes == 0


def test_batch_fields_attributes_and_chunks():
    b = Batch(fields={"a": torch.zeros(4, 1), "b": torch.ones(4, 2)})
    assert b.a.shape == (4, 1) and b.y is None and "b" in b and len(b) == 4
    with pytest.raises(AttributeError, match="no field 'mask'"):
        b.mask
    parts = b.chunk(2)
    assert [len(p) for p in parts] == [2, 2] and torch.equal(torch.cat([p.b for p in parts]), b.b)
    assert Batch(torch.zeros(3, 2)).x.shape == (3, 2)


def test_eight_bit_images_are_bit_identical_to_the_old_scaling():
    d = load_dataset("digits")
    x = d.get(torch.arange(64))
    assert torch.equal(x, d.x[:64].float() * (1 / 16))
    f = load_dataset("fashion-mnist", "test")
    assert torch.equal(f.get(torch.arange(32)), f.x[:32].float() * (1 / 255))


# --- models declare what they need and can do -----------------------------------------------------

@pytest.mark.parametrize("name", list(MODELS))
def test_declared_capabilities_are_the_implemented_ones(name):
    cls = MODELS[name]
    assert set(cls.provides) <= set(CAPABILITIES), name
    assert set(cls.provides) == overridden_capabilities(cls), f"{name}: provides {sorted(cls.provides)}"


@pytest.mark.parametrize("name", list(MODELS))
def test_a_model_missing_a_required_field_is_refused(name):
    cfg = tiny_config(name)
    info = tiny_data(cfg).info
    required = MODELS[name].required_fields(cfg.model)
    assert required, f"{name} declares no required field"
    MODELS[name].check_data(cfg.model, info)  # its own test data are accepted
    for field in required:
        without = DataInfo.of({k: v for k, v in info.fields.items() if k != field} or
                              {"other": FieldSpec((2,), "vector")}, info.primary if field != info.primary else "other")
        with pytest.raises(GenlabError, match=repr(field)):
            MODELS[name].check_data(cfg.model, without)


@pytest.mark.parametrize("name", list(MODELS))
def test_preview_panels_are_finite_and_drawable(name, tmp_path):
    from genlab.viz.preview import save_preview

    tr = tiny_trainer(name)
    model = tr.model.eval()
    inputs = tr.data.preview_batch(4) if model.conditional else None
    panels = model.preview(inputs, n=4, generator=torch.Generator().manual_seed(0))
    assert panels and all(torch.isfinite(p.tensor.float()).all() for p in panels)
    out = save_preview(panels, tr.data.info, tmp_path / "p.png",
                       real=None if tr.data.info.is_image else tr.data.all()[:100])
    assert out.is_file() and out.stat().st_size > 100


def test_cli_refuses_a_model_whose_field_is_missing_before_the_run_directory(tmp_path, capsys):
    np.save(tmp_path / "x.npy", np.random.RandomState(0).randint(0, 256, (40, 8, 8)).astype(np.uint8))
    out = tmp_path / "run"
    need_y = [n for n in MODELS if "y" in MODELS[n].required_fields(tiny_config(n).model)]
    assert need_y, "no registered model needs labels"
    code = main(["train", need_y[0], "--data", "array", f"--data.path={tmp_path / 'x.npy'}", "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "'y'" in err[0] and not out.exists()


# --- exact resume: GAN with EMA, and two unaligned streams -----------------------------------------

def _interrupt_at(step):
    def cb(trainer, s):
        if s == step:
            os.kill(os.getpid(), signal.SIGINT)
    return cb


def _resume_matches(name, tmp_path, dataset=None, **kw):
    full = tiny_trainer(name, run_dir=tmp_path / "full", steps=6, dataset=dataset, **kw)
    full.fit()
    part = tiny_trainer(name, run_dir=tmp_path / "part", steps=6, dataset=dataset, **kw)
    part.callbacks = (_interrupt_at(2),)
    with pytest.raises(TrainingInterrupted):
        part.fit()
    resumed = tiny_trainer(name, run_dir=tmp_path / "part", steps=6, dataset=dataset, **kw)
    resumed._load(ckpt.latest_checkpoint(tmp_path / "part"))
    assert resumed.step == 2
    resumed.fit()
    a, b = state(full.model), state(resumed.model)
    assert all(torch.equal(a[k], b[k]) for k in a), name
    return full, resumed


def test_gan_with_ema_resumes_bit_exactly(tmp_path):
    full, resumed = _resume_matches("dcgan", tmp_path, train={"ema": 0.9})
    assert full.ema is not None
    assert all(torch.equal(full.ema.shadow[n][k], resumed.ema.shadow[n][k])
               for n in full.ema.shadow for k in full.ema.shadow[n])


def _two_streams(na=100, nb=37):
    digits = load_dataset("digits")
    a = digits.take(torch.arange(na))
    b_x = digits.x[na:na + nb].flip(-1)  # another "domain": mirrored digits, a different count
    b = FieldDataset("mirror", "train", {"b": b_x}, {"b": FieldSpec((1, 8, 8), "image", 17,
                                                                    Normalizer((0.0,), (16.0,)))})
    return UnalignedDataset("pair", "train", {"a": a, "b": b})


def test_unaligned_streams_keep_their_own_order_and_restore_it():
    data = _two_streams()
    assert data.info.fields.keys() >= {"x", "b"} and len(data) == 100
    bat = data.batcher(16, seed=3)
    for _ in range(5):  # stream b (37 examples) has started its second epoch, stream a has not
        bat.next()
    saved = bat.state_dict()
    want = [bat.next() for _ in range(4)]
    other = data.batcher(16, seed=3)
    other.load_state_dict(saved)
    got = [other.next() for _ in range(4)]
    for w, g in zip(want, got):
        assert torch.equal(w.x, g.x) and torch.equal(w.b, g.b)
    assert saved["a"]["pos"] == 80 and saved["b"]["pos"] == 16  # each stream its own position


def test_unaligned_training_resumes_bit_exactly(tmp_path):
    _resume_matches("vae", tmp_path, dataset=_two_streams(), train={"ema": 0.9})


def test_derived_fields_follow_the_generator_and_resume(tmp_path):
    data = load_dataset("digits", derive="mask:strokes,noise:gaussian:0.2")
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    a, b = data.batch(torch.arange(16), generator=g1), data.batch(torch.arange(16), generator=g2)
    assert torch.equal(a.mask, b.mask) and torch.equal(a.noisy, b.noisy)
    c = data.batch(torch.arange(16), generator=g1)
    assert not torch.equal(a.mask, c.mask)
    hole = 1 - a.mask.mean().item()
    assert 0.05 < hole < 0.6
    assert set(a.mask.unique().tolist()) <= {0.0, 1.0}
    _resume_matches("vae", tmp_path, dataset=data)


def test_crop_is_joint_and_lowres_is_bicubic():
    data = load_dataset("digits", derive="noise:gaussian:0.0001,crop:6,lowres:2")
    b = data.batch(torch.arange(8), generator=torch.Generator().manual_seed(0))
    assert b.x.shape == (8, 1, 6, 6) and b.noisy.shape == (8, 1, 6, 6) and b.lowres.shape == (8, 1, 3, 3)
    assert (b.noisy - b.x).abs().max() < 0.01  # the same window of both fields
    with pytest.raises(GenlabError, match="lowres:3"):
        load_dataset("digits", derive="lowres:3")
    with pytest.raises(GenlabError, match="unknown derived field"):
        load_dataset("digits", derive="blur")


# --- trainer: accumulation and optimisers -----------------------------------------------------------

def test_gradient_accumulation_matches_one_big_batch():
    """k micro-batches with loss/k give the gradient of the mean over the whole batch (a model without
    batch statistics, a deterministic loss: the squared posterior mean of an MLP encoder)."""
    from genlab.models.base import Phase

    one = tiny_trainer("vae", model={"arch": "mlp"}, train={"precision": "fp32", "accumulate": 1})
    two = tiny_trainer("vae", model={"arch": "mlp"}, train={"precision": "fp32", "accumulate": 2})
    batch = one.batcher.next(torch.Generator().manual_seed(0))

    def grads(tr):
        phase = Phase("model", lambda b: {"loss": tr.model.posterior(b.x)[0].pow(2).mean()})
        tr.optimizers["model"].zero_grad(set_to_none=True)
        out = tr._accumulate(phase, batch)
        assert out["loss"].dim() == 0
        return [p.grad.clone() for p in tr.groups["model"] if p.grad is not None]
    assert grads(one)
    for a, b in zip(grads(one), grads(two)):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("opt", ["adam", "adamw", "rmsprop", "sgd"])
def test_every_registered_optimiser_trains(opt):
    tr = tiny_trainer("vae", steps=2, train={"optimizer": opt, "weight_decay": 0.01 if opt == "adamw" else 0.0})
    before = state(tr.model)
    tr.fit()
    assert any(not torch.equal(before[k], v) for k, v in state(tr.model).items())


def test_unknown_optimiser_is_one_line(capsys):
    assert main(["train", "vae", "--data", "digits", "--train.optimizer=lion"]) == 2
    assert "train.optimizer='lion'" in capsys.readouterr().err


# --- run directories: no stubs, no-op resumes, no repeated steps -------------------------------------

TRAIN = ["train", "vae", "--data", "digits", "--model.hidden=16", "--model.latent_dim=2", "--model.channels=4",
         "--train.batch_size=32", "--train.log_every=1", "--train.progress=false", "--train.threads=1"]


@pytest.mark.parametrize("bad", ["--train.batch_size=5000", "--train.ema_networks=critic",
                                 "--train.group_lr.critic=1e-3"])
def test_a_failed_start_leaves_no_run_directory(tmp_path, capsys, bad):
    out = tmp_path / "run"
    assert main([*TRAIN, "--train.steps=2", bad, "--out", str(out)]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    assert not out.exists()
    assert main([*TRAIN, "--train.steps=2", "--out", str(out)]) == 0  # the name is still free


def test_noop_resume_writes_nothing_and_metrics_never_repeat_steps(tmp_path):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "genlab", *TRAIN, "--train.steps=4000", "--train.ckpt_every=20",
           "--out", str(out)]
    p = subprocess.Popen(cmd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    import time
    deadline = time.time() + 120
    while time.time() < deadline:  # kill -9 after two checkpoints and some logged steps past them
        rows = (out / "metrics.jsonl").read_text().splitlines() if (out / "metrics.jsonl").is_file() else []
        if ckpt.latest_checkpoint(out) and ckpt.checkpoint_step(ckpt.latest_checkpoint(out)) >= 40 and \
                len(rows) % 20 > 5:
            break
        time.sleep(0.05)
    p.kill()
    p.wait()
    at = ckpt.checkpoint_step(ckpt.latest_checkpoint(out))
    logged = [json.loads(r)["step"] for r in (out / "metrics.jsonl").read_text().splitlines() if r.strip()]
    assert max(logged) > at  # steps past the checkpoint were logged before the kill
    r = subprocess.run([sys.executable, "-m", "genlab", "train", "--resume", str(out), f"--train.steps={at + 10}"],
                       env=ENV, capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stderr
    steps = [json.loads(r)["step"] for r in (out / "metrics.jsonl").read_text().splitlines() if r.strip()]
    assert steps == sorted(set(steps)) and steps[-1] == at + 10
    config, stamp = (out / "config.yaml").read_text(), (out / "config.yaml").stat().st_mtime_ns
    r = subprocess.run([sys.executable, "-m", "genlab", "train", "--resume", str(out), f"--train.steps={at + 10}"],
                       env=ENV, capture_output=True, text=True, timeout=180)
    assert r.returncode == 0 and "already at step" in r.stdout
    assert (out / "config.yaml").read_text() == config and (out / "config.yaml").stat().st_mtime_ns == stamp


def test_vectors_with_more_than_two_dims_train_and_preview(tmp_path, capsys):
    np.save(tmp_path / "v.npy", np.random.RandomState(0).randn(300, 5).astype(np.float32))
    out = tmp_path / "run"
    code = main(["train", "gan", "--data", "array", f"--data.path={tmp_path / 'v.npy'}", "--train.steps=3",
                 "--train.batch_size=32", "--train.progress=false", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    assert list((out / "samples").glob("*.png"))


# --- every registered dataset: genlab data info and preview -------------------------------------------

def _dataset_options(name, tmp_path):
    """The --data.KEY options a dataset needs on this machine (a new dataset needing any must be added)."""
    from PIL import Image

    def img(p, value):
        p.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.full((12, 12), value, np.uint8)).save(p)
    if name in ("folder", "folder-pairs", "folder-unpaired"):
        for i in range(4):
            img(tmp_path / "plain" / f"{i}.png", 40 * i)
            img(tmp_path / "pairs" / "A" / f"{i}.png", 40 * i)
            img(tmp_path / "pairs" / "B" / f"{i}.png", 200 - 40 * i)
            img(tmp_path / "unpaired" / "trainA" / f"{i}.png", 40 * i)
            img(tmp_path / "unpaired" / "testA" / f"{i}.png", 40 * i)
        for i in range(3):
            img(tmp_path / "unpaired" / "trainB" / f"{i}.png", 100)
            img(tmp_path / "unpaired" / "testB" / f"{i}.png", 100)
        sub = {"folder": "plain", "folder-pairs": "pairs", "folder-unpaired": "unpaired"}[name]
        return [f"--data.path={tmp_path / sub}"]
    if name == "array":
        np.save(tmp_path / "a.npy", np.random.RandomState(0).rand(10, 2).astype(np.float32))
        return [f"--data.path={tmp_path / 'a.npy'}"]
    if name == "netcdf":
        return ["--data.path=/usr/share/ferret-vis/data/coads_climatology.cdf", "--data.var=airt"]
    if name in ("photos", "photo-edges"):
        return ["--data.n=8", "--data.size=32"]
    if name == "rayleigh-benard":  # a small, quick simulation (the default one takes minutes)
        return ["--data.ra=2e4", "--data.n=8", "--data.size=16"]
    if name in ("grf", "lognormal"):
        return ["--data.n=16", "--data.size=16"]
    if name in ("chorales", "folk"):  # the first pieces only (the whole corpus is parsed once, minutes)
        return ["--data.n=4", "--data.length=32"]
    if name == "chorale-audio":
        return ["--data.n=1", "--data.length=1024"]
    if name == "midi-folder":
        from genlab.data.music_io import write_midi
        from genlab.data.music_notes import Notes
        for i in range(6):
            write_midi(Notes.of([60 + i, 64 + i], [0.0, 1.0], [1.0, 2.0]), tmp_path / "midi" / f"{i}.mid")
        return [f"--data.path={tmp_path / 'midi'}", "--data.split=all"]
    return []


@pytest.mark.parametrize("name", list(__import__("genlab.registry", fromlist=["DATASETS"]).DATASETS))
def test_data_info_and_preview_work_for_every_dataset(name, tmp_path, capsys):
    opts = _dataset_options(name, tmp_path)
    assert main(["data", "info", name, *opts]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "examples" in out and "fields:" in out
    assert main(["data", "preview", name, *opts, "--out", str(tmp_path / "p.png")]) == 0, capsys.readouterr().err
    from PIL import Image
    with Image.open(tmp_path / "p.png") as im:
        assert min(im.size) >= 24


def test_coads_info_shows_units_and_the_observed_fraction(capsys):
    assert main(["data", "info", "coads", "--data.var=sst"]) == 0
    out = capsys.readouterr().out
    assert "Deg C" in out and "gaps marked by 'x_valid'" in out
    frac = float(out.split("observed fraction ")[1].split()[0].rstrip(";"))
    assert 0.52 < frac < 0.56  # COADS SST is roughly half missing (0.542 of the training months)


def test_a_field_run_samples_in_physical_units_and_refuses_image_metrics(tmp_path, capsys):
    """DCGAN on ETOPO relief tiles (metres): linear G output, samples written back in metres (.npy, .nc),
    and no FID on standardised physical fields."""
    import xarray as xr

    out = tmp_path / "relief"
    args = ["train", "dcgan", "--data", "etopo", "--data.res=120", "--data.size=16", "--train.steps=2",
            "--train.batch_size=8", "--train.progress=false", "--model.g_channels=4", "--model.d_channels=4",
            "--out", str(out)]
    assert main(args) == 0, capsys.readouterr().err
    info = json.loads((out / "data_info.json").read_text())
    norm = info["fields"]["x"]["normalizer"]
    assert info["fields"]["x"]["kind"] == "field" and norm["units"].lower() == "meters"
    assert main(["sample", str(out), "-n", "4", "--out", str(tmp_path / "s.npy")]) == 0
    metres = np.load(tmp_path / "s.npy")
    assert main(["sample", str(out), "-n", "4", "--out", str(tmp_path / "m.npy"), "--model-space"]) == 0
    model = np.load(tmp_path / "m.npy")
    np.testing.assert_allclose(metres, model * norm["scale"][0] + norm["offset"][0], rtol=1e-5, atol=1e-2)
    assert main(["sample", str(out), "-n", "4", "--out", str(tmp_path / "s.nc")]) == 0
    with xr.open_dataset(tmp_path / "s.nc") as ds:
        var = ds[list(ds.data_vars)[0]]
        assert var.attrs["units"].lower() == "meters"
        np.testing.assert_allclose(var.values, metres[:, 0], rtol=1e-5, atol=1e-2)
    capsys.readouterr()
    assert main(["eval", str(out), "--metrics", "fid"]) == 2
    assert "physical fields" in capsys.readouterr().err
