"""The `ocean-atlas` dataset (World Ocean Atlas monthly temperature, complete fields to pretrain the COADS
gap-filling network on, Kadow et al.'s recipe) and the pretrain -> fine-tune path through model.init_from."""
import numpy as np
import pytest

from genlab.cli.main import main
from genlab.data import load_dataset
from genlab.data.gaps import masks_on_grid
from genlab.data.netcdf import load_netcdf
from genlab.data.climate import ferret_file
from genlab.errors import GenlabError
from genlab.runs import load_run

TINY = ["--model.depth=2", "--model.base=4", "--model.max_channels=8", "--train.steps=2", "--train.batch_size=2",
        "--train.progress=false", "--model.context_field=x_months"]


def test_levels_and_splits_hold_the_files_months_of_each_level():
    d = load_dataset("ocean-atlas", "all", level="0,30")
    x, v = d.tensors["x"].numpy(), d.tensors["x_valid"].numpy().astype(bool)
    assert x.shape == (24, 1, 90, 180) and d.meta["levels_m"] == [0, 30]
    raw = load_netcdf(ferret_file("ocean_atlas_subset.nc"), "temp", split="all", level=30)
    assert np.array_equal(x[12:][v[12:]], raw.tensors["x"].numpy()[v[12:]])  # level 30 m, months in order
    assert d.meta["month"] == list(range(1, 13)) * 2 and d.meta["level_of_field"] == [0] * 12 + [30] * 12
    assert d.specs["x"].normalizer.units == "Deg C" and d.specs["x"].periodic == (2,)
    sea = v[:12].mean()
    assert 0.6 < sea < 0.7  # ocean share of the surface grid, land is a gap
    test = load_dataset("ocean-atlas", "test", level="0")
    assert len(test) == 2 and test.meta["month"] == [4, 10]
    assert len(load_dataset("ocean-atlas", "train", level="0")) == 10
    # the standardiser is fitted on the training months, whatever the split
    assert test.specs["x"].normalizer == load_dataset("ocean-atlas", "train", level="0").specs["x"].normalizer


def test_context_months_carry_the_coads_gaps_of_their_calendar_month():
    d = load_dataset("ocean-atlas", "all", level="0", context=1)
    x, v = d.tensors["x"][:, 0].numpy(), d.tensors["x_valid"][:, 0].numpy().astype(bool)
    c, cv = d.tensors["x_months"].numpy(), d.tensors["x_months_valid"].numpy().astype(bool)
    obs, _ = masks_on_grid("sst", d.meta, 90, 180)
    assert c.shape == (12, 2, 90, 180) and d.specs["x_months"].channels == ("temp[t-1]", "temp[t+1]")
    assert np.array_equal(cv[:, 0], np.roll(v & obs, 1, 0)) and np.array_equal(cv[:, 1], np.roll(v & obs, -1, 0))
    assert np.array_equal(c[:, 1][cv[:, 1]], np.roll(x, -1, 0)[cv[:, 1]])  # values of month t+1 where known
    assert 0.4 < cv.mean() < 0.6 < v.mean()  # COADS observed ~0.54 of the cells, WOA ocean ~0.65
    full = load_dataset("ocean-atlas", "all", level="0", context=1, context_gaps="none")
    assert np.array_equal(full.tensors["x_months_valid"].numpy()[:, 0].astype(bool), np.roll(v, 1, 0))


def test_bad_options_are_one_line_errors():
    for kw, pat in [({"level": "0,x"}, "data.level"), ({"level": "0,0"}, "distinct"),
                    ({"level": "7"}, "data.level"), ({"context": 9}, "data.context"),
                    ({"context": 1, "context_gaps": "foo"}, "foo")]:
        with pytest.raises(GenlabError, match=pat):
            load_dataset("ocean-atlas", "all", **kw)


def test_pretrain_on_the_atlas_then_fine_tune_on_coads(tmp_path):
    pre, ft = tmp_path / "pre", tmp_path / "ft"
    assert main(["train", "inpaint", "--data", "ocean-atlas", "--data.split=all", "--data.level=0",
                 "--data.context=1", "--data.derive=mask:coads:sst:0.2", *TINY, "--out", str(pre)]) == 0
    assert main(["train", "inpaint", "--data", "coads-holdout", "--data.context=1", "--data.derive=mask:coads:sst:0.2",
                 *TINY, "--train.steps=1", "--train.lr=1e-12", f"--model.init_from={pre}", "--out", str(ft)]) == 0
    a = dict(load_run(str(pre)).model.network.named_parameters())
    b = dict(load_run(str(ft)).model.network.named_parameters())
    assert a.keys() == b.keys() and all(np.allclose(a[k].detach().numpy(), b[k].detach().numpy(), atol=1e-9, rtol=0)
                                        for k in a)  # one Adam step of lr 1e-12 from the pretrained weights


def test_members_fine_tuned_from_different_pretraining_runs_form_an_ensemble(tmp_path):
    from genlab.apply.ensemble import with_members
    runs = []
    for seed in (0, 1):
        pre, ft = tmp_path / f"pre{seed}", tmp_path / f"ft{seed}"
        assert main(["train", "inpaint", "--data", "ocean-atlas", "--data.split=all", "--data.level=0",
                     "--data.context=1", "--data.derive=mask:coads:sst:0.2", *TINY, f"--train.seed={seed}",
                     "--out", str(pre)]) == 0
        assert main(["train", "inpaint", "--data", "coads-holdout", "--data.context=1",
                     "--data.derive=mask:coads:sst:0.2", *TINY, f"--train.seed={seed}", f"--model.init_from={pre}",
                     "--out", str(ft)]) == 0
        runs.append(str(ft))
    r = with_members(load_run(runs[0]), runs[1])
    assert len(r.model.models) == 2
    with pytest.raises(GenlabError, match="not the same model"):  # the pretraining run is another dataset
        with_members(load_run(runs[0]), str(tmp_path / "pre1"))
