"""Trainer: exact resume after SIGINT, crash safety under SIGKILL during a checkpoint write, the
divergence guard, EMA, and run-directory rules."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from genlab.errors import GenlabError
from genlab.runs import load_run
from genlab.training import TrainingInterrupted
from genlab.training import checkpoint as ckpt

from helpers import state, tiny_trainer

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "PYTHONUNBUFFERED": "1"}


def test_sigint_then_resume_is_bit_identical(tmp_path):
    full = tiny_trainer("vae", run_dir=tmp_path / "full", steps=8, train={"ema": 0.9})
    full.fit()

    def interrupt(trainer, step):
        if step == 3:
            os.kill(os.getpid(), signal.SIGINT)

    part = tiny_trainer("vae", run_dir=tmp_path / "part", steps=8, train={"ema": 0.9})
    part.callbacks = (interrupt,)
    with pytest.raises(TrainingInterrupted) as e:
        part.fit()
    assert e.value.step == 3 and e.value.signum == signal.SIGINT
    assert ckpt.latest_checkpoint(tmp_path / "part").name == "step-00000003"
    resumed = tiny_trainer("vae", run_dir=tmp_path / "part", steps=8, train={"ema": 0.9})
    resumed._load(ckpt.latest_checkpoint(tmp_path / "part"))
    assert resumed.step == 3
    resumed.fit()
    a, b = state(full.model), state(resumed.model)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert all(torch.equal(full.ema.shadow[n][k], resumed.ema.shadow[n][k])
               for n in full.ema.shadow for k in full.ema.shadow[n])


def _cli(*args, **kw):
    return subprocess.run([sys.executable, "-m", "genlab", *args], env=ENV, cwd=kw.pop("cwd", None),
                          capture_output=True, text=True, timeout=kw.pop("timeout", 180), **kw)


TRAIN = ["train", "vae", "--data", "digits", "--model.hidden=32", "--model.latent_dim=4",
         "--model.channels=4", "--train.batch_size=32", "--train.log_every=1", "--train.progress=false",
         "--train.threads=1"]


def test_real_sigint_through_the_cli_then_resume(tmp_path):
    steps = "--train.steps=300"
    ref = _cli(*TRAIN, steps, "--out", str(tmp_path / "ref"))
    assert ref.returncode == 0, ref.stderr
    proc = subprocess.Popen([sys.executable, "-m", "genlab", *TRAIN, steps, "--out", str(tmp_path / "run")],
                            env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    metrics = tmp_path / "run" / "metrics.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and (not metrics.exists() or len(metrics.read_text().splitlines()) < 20):
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "checkpoint saved" in out and "Traceback" not in err
    stopped = ckpt.latest_checkpoint(tmp_path / "run")
    assert 0 < int(stopped.name.split("-")[1]) < 300
    res = _cli("train", "--resume", str(tmp_path / "run"))
    assert res.returncode == 0, res.stderr
    a = load_file(tmp_path / "ref" / "model.safetensors")
    b = load_file(tmp_path / "run" / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


CRASHER = r"""
import os, sys, time
from genlab.cli.main import main
from genlab.training import checkpoint as ck
calls = {"n": 0}
original = ck._write_checkpoint_files
def slow(tmp, *a):
    calls["n"] += 1
    if calls["n"] == 2:  # second checkpoint: write half of it, then hang until killed
        (tmp / "model.safetensors").write_bytes(b"partial")
        print("WRITING", flush=True)
        time.sleep(600)
    return original(tmp, *a)
ck._write_checkpoint_files = slow
sys.exit(main(sys.argv[1:]))
"""


def test_sigkill_during_checkpoint_write_keeps_last_good_one(tmp_path):
    args = [*TRAIN, "--train.steps=12", "--train.ckpt_every=4"]
    ref = _cli(*args, "--out", str(tmp_path / "ref"))
    assert ref.returncode == 0, ref.stderr
    script = tmp_path / "crasher.py"
    script.write_text(CRASHER)
    proc = subprocess.Popen([sys.executable, str(script), *args, "--out", str(tmp_path / "run")], env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = ""
    deadline = time.time() + 120
    while "WRITING" not in line and time.time() < deadline:
        line = proc.stdout.readline()
        assert line or proc.poll() is None, proc.stderr.read()
    proc.kill()
    proc.wait(timeout=30)
    run = tmp_path / "run"
    latest = ckpt.latest_checkpoint(run)
    assert latest.name == "step-00000004"  # the half-written step-8 checkpoint never became current
    assert any(p.name.startswith(".tmp-") for p in (run / "checkpoints").iterdir())
    ckpt.load_weights(latest / "model.safetensors")  # readable, not corrupt
    res = _cli("train", "--resume", str(run))
    assert res.returncode == 0, res.stderr
    a, b = load_file(tmp_path / "ref" / "model.safetensors"), load_file(run / "model.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not any(p.name.startswith(".tmp-") for p in (run / "checkpoints").iterdir())


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path):
    tr = tiny_trainer("ae", run_dir=tmp_path / "run", steps=20, train={"ckpt_every": 2, "log_every": 1})
    original = tr.model.loss

    def poisoned(batch):
        out = original(batch)
        if tr.step >= 5:
            out["loss"] = out["loss"] * float("nan")
        return out
    tr.model.loss = poisoned
    with pytest.raises(GenlabError, match="diverged.*step 6.*last good checkpoint \\(step 4\\)"):
        tr.fit()
    good = load_run(tmp_path / "run")
    assert good.step == 4
    assert all(torch.isfinite(v).all() for v in good.model.state_dict().values())


def test_nan_rollback_halves_lr_and_gives_up_after_three(tmp_path):
    tr = tiny_trainer("ae", run_dir=tmp_path / "run", steps=20,
                      train={"ckpt_every": 2, "log_every": 1, "on_nan": "rollback"})
    original = tr.model.loss

    def poisoned(batch):
        out = original(batch)
        if tr.step == 5:
            out["loss"] = out["loss"] * float("inf")
        return out
    tr.model.loss = poisoned
    with pytest.raises(GenlabError, match="diverged"):
        tr.fit()  # step 5 always poisons: three rollbacks, then a clear stop (never loops)
    assert tr.rollbacks == 3 and tr.lr_scale == 0.125


def test_run_dir_never_reused(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "keep.txt").write_text("mine")
    with pytest.raises(GenlabError, match="already exists"):
        ckpt.new_run_dir(tmp_path / "x")
    assert (tmp_path / "x" / "keep.txt").read_text() == "mine"


def test_metrics_jsonl_has_losses_and_speed(tmp_path):
    tr = tiny_trainer("vae", run_dir=tmp_path / "run", steps=3)
    tr.fit()
    rows = [json.loads(l) for l in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3]
    assert all({"loss", "kl", "elbo", "samples_per_s"} <= set(r) for r in rows)
    assert (tmp_path / "run" / "samples" / "step-00000003.png").is_file()


def test_ema_tracks_the_definition():
    tr = tiny_trainer("vae", steps=1, train={"ema": 0.5, "ema_networks": "decoder"})
    before = {k: v.clone() for k, v in tr.ema.shadow["decoder"].items()}
    tr.fit()
    live = tr.raw["decoder"].state_dict()
    for k, p in tr.raw["decoder"].named_parameters():
        beta = min(0.5, 1 / 10)  # warm-up: β_0 = (1 + 0) / (10 + 0)
        assert torch.allclose(tr.ema.shadow["decoder"][k], beta * before[k] + (1 - beta) * live[k])
        assert not torch.allclose(tr.ema.shadow["decoder"][k], live[k])


@pytest.mark.parametrize("schedule,mid,end", [("constant", 1.0, 1.0), ("linear", 0.5, 0.1), ("cosine", 0.5, 0.0245)])
def test_lr_schedules(schedule, mid, end):
    tr = tiny_trainer("ae", steps=10, train={"lr_schedule": schedule})
    assert tr.lr_factor(5) == pytest.approx(mid, abs=1e-3)
    assert tr.lr_factor(9) == pytest.approx(end, abs=1e-3)
    warm = tiny_trainer("ae", steps=10, train={"lr_schedule": schedule, "warmup": 4})
    assert warm.lr_factor(0) == pytest.approx(0.25) and warm.lr_factor(3) == pytest.approx(1.0)
    warm.fit()
    lr = warm.optimizers["model"].param_groups[0]["lr"]
    assert lr == pytest.approx(warm.cfg.lr * warm.lr_factor(9))


@pytest.mark.parametrize("decay_start", [5, 0.5])
def test_constant_then_linear_schedule(decay_start):
    """The pix2pix/CycleGAN schedule: lr constant for steps < 5, then 1 − (step − 5) / 5 to 0 at step 10."""
    tr = tiny_trainer("ae", steps=10, train={"lr_schedule": "linear", "decay_start": decay_start})
    assert [tr.lr_factor(s) for s in (0, 4, 5)] == [1.0, 1.0, 1.0]
    assert tr.lr_factor(7) == pytest.approx(0.6) and tr.lr_factor(9) == pytest.approx(0.2)
    tr.fit()
    assert tr.optimizers["model"].param_groups[0]["lr"] == pytest.approx(tr.cfg.lr * 0.2)


@pytest.mark.parametrize("bad", [10, 2.5, -1])
def test_decay_start_outside_the_run_is_refused(bad):
    with pytest.raises(GenlabError, match="train.decay_start"):
        tiny_trainer("ae", steps=10, train={"lr_schedule": "linear", "decay_start": bad})
