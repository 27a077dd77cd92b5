"""TensorBoard: scalars, sample grids and hyperparameters written by the trainer and read back with
TensorBoard's own event reader; a run resumed after a crash shows every step once."""
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import plugin_data_pb2

from genlab.runs import build_model, write_run_files
from genlab.training import Trainer

from helpers import tiny_config, tiny_data

TB = {"tensorboard": True, "ckpt_every": 2, "sample_every": 3, "log_every": 1}


def _read(run_dir):
    ea = EventAccumulator(str(run_dir / "tb"), size_guidance={"scalars": 0, "images": 0, "tensors": 0})
    ea.Reload()
    return ea


def _trainer(run_dir, *, resume=False, callbacks=()):
    cfg = tiny_config("vae", steps=6, train=TB)
    data = tiny_data(cfg)
    if not resume:
        run_dir.mkdir(parents=True, exist_ok=True)
        write_run_files(run_dir, cfg, data.info, data.meta)
    return Trainer(build_model(cfg, data.info), cfg.train, data, run_dir, resume=resume, callbacks=callbacks)


def test_scalars_images_and_hparams_read_back(tmp_path):
    _trainer(tmp_path / "run").fit()
    ea = _read(tmp_path / "run")
    tags = ea.Tags()
    assert "loss" in tags["scalars"] and "samples_per_s" in tags["scalars"]
    assert [e.step for e in ea.Scalars("loss")] == [1, 2, 3, 4, 5, 6]
    assert [e.step for e in ea.Images("samples")] == [3, 6]  # sample_every=3; the final grid once
    img = ea.Images("samples")[-1]
    assert img.width > 8 and img.height > 8 and img.encoded_image_string[:4] == b"\x89PNG"
    content = ea.PluginTagToContent("hparams")
    start = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_start_info"])
    hp = start.session_start_info.hparams
    assert hp["train/batch_size"].number_value == 16 and hp["train/optimizer"].string_value == "adam"
    assert hp["model/latent_dim"].number_value > 0
    exp = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/experiment"])
    assert "loss" in {m.name.tag for m in exp.experiment.metric_infos}


class Crash(Exception):
    pass


def test_resumed_run_has_no_duplicate_steps(tmp_path):
    run = tmp_path / "run"

    def crash(trainer, step):
        if step == 6:  # steps 1..5 are logged, the last checkpoint is step 4
            raise Crash

    with pytest.raises(Crash):
        _trainer(run, callbacks=(crash,)).fit()
    before = [e.step for e in _read(run).Scalars("loss")]
    assert before == [1, 2, 3, 4, 5]
    resumed = _trainer(run, resume=True)
    assert resumed.step == 4
    resumed.fit()
    ea = _read(run)
    for tag in ("loss", "samples_per_s"):
        steps = [e.step for e in ea.Scalars(tag)]
        assert steps == [1, 2, 3, 4, 5, 6], (tag, steps)  # step 5 of the crashed process is superseded
    assert [e.step for e in ea.Images("samples")] == [3, 6]
    assert len(list((run / "tb").glob("events.out.tfevents.*"))) == 2  # one file per session
    # hyperparameters are written by the first session only
    assert "_hparams_/session_start_info" in ea.PluginTagToContent("hparams")
    assert torch.isfinite(torch.tensor([e.value for e in ea.Scalars("loss")])).all()
