"""The geometric self-ensemble (apply/ensemble.py): the group, exact inversion, the mean by hand for a
model that is not equivariant, and `genlab eval --self-ensemble` on a tiny inpaint run (its own record
beside the plain one; refused in one line for fields and for models that restore nothing)."""
import json

import pytest
import torch

from genlab.apply.ensemble import SelfEnsemble, ensemble, forward, inverse, transforms
from genlab.cli.main import main
from genlab.errors import GenlabError

from test_inpaint import TINY, one_line


@pytest.mark.parametrize("group,n", [("none", 1), ("flips", 4), ("d4", 8)])
def test_group_elements_are_distinct_and_invert_exactly(group, n):
    x = torch.arange(2 * 3 * 4 * 4, dtype=torch.float32).reshape(2, 3, 4, 4)
    seen = set()
    for k, flip in transforms(group):
        y = forward(x, k, flip)
        seen.add(tuple(y.flatten().tolist()))
        assert torch.equal(inverse(y, k, flip), x)
    assert len(seen) == n
    with pytest.raises(GenlabError, match="unknown self-ensemble"):
        transforms("d8")


def test_flips_handle_non_square_inputs_and_the_ud_element_is_an_up_down_flip():
    x = torch.randn(1, 1, 3, 5)
    outs = [forward(x, k, f) for k, f in transforms("flips")]
    assert all(o.shape == x.shape for o in outs)
    assert torch.equal(outs[2], x.flip(-2)) and torch.equal(outs[3], x.flip(-1).flip(-2))


def test_the_mean_by_hand_for_a_position_dependent_model():
    """f(x) = x * w with a fixed map w is not equivariant: the ensemble is x * (mean of the 8 images of w
    under the group), computed here from rot90/flip directly; an equivariant f (x²) is unchanged."""
    w = torch.rand(1, 1, 6, 6)
    x = torch.rand(2, 3, 6, 6)
    images = [torch.rot90(w, k, (-2, -1)) for k in range(4)] + [torch.rot90(w.flip(-1), k, (-2, -1)) for k in range(4)]
    want = x * torch.stack(images).mean(0)
    # f sees g(x) and multiplies by w in the transformed frame: g⁻¹(g(x) w) = x g⁻¹(w)
    got = ensemble(lambda t: t * w, [x], "d4")
    inv_images = [inverse(w, k, f) for k, f in transforms("d4")]
    assert torch.allclose(torch.stack(inv_images).mean(0), torch.stack(images).mean(0))
    assert torch.allclose(got, want, atol=1e-6)
    assert not torch.allclose(got, x * w, atol=1e-3)  # the ensemble changed a non-equivariant model
    assert torch.allclose(ensemble(lambda t: t ** 2, [x], "d4"), x ** 2)


def test_every_input_gets_the_same_transform_and_none_passes_through():
    x, m = torch.rand(1, 1, 4, 4), (torch.rand(1, 1, 4, 4) > 0.5).float()
    seen = []

    def f(a, b, c):
        assert c is None
        seen.append((a, b))
        return a * b

    out = ensemble(f, [x, m, None], "d4")
    assert torch.allclose(out, x * m)  # pointwise, hence equivariant
    assert all(torch.equal(b, forward(m, k, fl)) for (_, b), (k, fl) in zip(seen, transforms("d4")))


class _Up:
    name = "up"

    def upscale(self, x):
        return x.repeat_interleave(2, -1).repeat_interleave(2, -2) + torch.linspace(0, 1, 2 * x.shape[-1])

    def other(self):
        return 7


def test_wrapper_keeps_the_models_methods_and_averages_the_restoring_ones():
    se = SelfEnsemble(_Up(), "flips")
    assert se.name == "up+flips" and se.other() == 7
    y = se.upscale(torch.zeros(1, 1, 3, 3))
    ramp = torch.linspace(0, 1, 6)
    assert torch.allclose(y[0, 0, 0], (ramp + ramp.flip(0)) / 2)  # the left-right pair averages the ramp out


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("se") / "run"
    assert main(["train", "inpaint", "--data", "photos", "--train.steps=2", *TINY, "--out", str(out)]) == 0
    return out


def test_eval_self_ensemble_is_its_own_record_beside_the_plain_one(run, capsys):
    assert main(["eval", str(run), "-n", "2"]) == 0
    assert main(["eval", str(run), "-n", "2", "--self-ensemble", "d4"]) == 0
    recs = [r for r in json.loads((run / "metrics.json").read_text())["records"] if r["kind"] == "inpaint"]
    assert len(recs) == 2
    plain, tta = sorted(recs, key=lambda r: "self_ensemble" in r["protocol"])
    assert tta["protocol"]["self_ensemble"] == "d4 (8 passes)" and "self_ensemble" not in plain["protocol"]
    a, b = plain["values"]["bins"]["(0.2, 0.3]"], tta["values"]["bins"]["(0.2, 0.3]"]
    assert a["biharmonic_hole_psnr"] == pytest.approx(b["biharmonic_hole_psnr"])  # same images, same masks
    assert a["hole_psnr"] != pytest.approx(b["hole_psnr"], abs=1e-6)  # an untrained U-Net is not equivariant


def test_eval_self_ensemble_is_refused_for_models_that_restore_nothing(tmp_path, capsys):
    out = tmp_path / "vae"
    assert main(["train", "vae", "--data", "digits", "--train.steps=1", "--model.hidden=8", "--model.latent_dim=2",
                 "--train.progress=false", "--out", str(out)]) == 0
    before = (out / "metrics.json").read_bytes() if (out / "metrics.json").exists() else None
    one_line(capsys, ["eval", str(out), "--self-ensemble", "d4"], "--self-ensemble", "not an inpaint")
    after = (out / "metrics.json").read_bytes() if (out / "metrics.json").exists() else None
    assert before == after


def test_inpaint_command_with_the_self_ensemble_on_a_non_square_photo(run, tmp_path):
    """Quarter turns of a 21 x 27 input (and of its tiles) go through the U-Net and come back; the known
    pixels are kept exactly and the holes differ from the single pass."""
    import numpy as np
    from PIL import Image

    from test_inpaint import _files

    img = _files(tmp_path)
    outs = {}
    for group in ("none", "d4"):
        out = tmp_path / group
        assert main(["inpaint", str(run), "--input", str(img), "--mask", str(tmp_path / "mask.png"), "--out",
                     str(out), "--self-ensemble", group, "--tile", "16"]) == 0
        outs[group] = np.asarray(Image.open(out / "a.png"), dtype=np.int16)
    src = np.asarray(Image.open(img), dtype=np.int16)
    known = np.asarray(Image.open(tmp_path / "mask.png")) > 0
    assert outs["d4"].shape == src.shape
    assert np.array_equal(outs["d4"][known], src[known])
    assert np.abs(outs["d4"][~known] - outs["none"][~known]).max() > 0


class _Const:
    def __init__(self, c):
        self.c = c

    def infill(self, x, m):
        return torch.full_like(x, self.c)

    def capabilities(self):
        return {"infill"}


def test_average_is_the_mean_of_the_members_and_otherwise_the_first():
    from genlab.apply.ensemble import Average

    avg = Average([_Const(1.0), _Const(2.0), _Const(6.0)])
    assert torch.allclose(avg.infill(torch.zeros(1, 1, 2, 2), None), torch.full((1, 1, 2, 2), 3.0))
    assert avg.c == 1.0 and avg.capabilities() == {"infill"}


def test_eval_with_an_ensemble_member_records_it_and_refuses_another_model(run, tmp_path, capsys):
    run2, other = tmp_path / "seed1", tmp_path / "wide"
    assert main(["train", "inpaint", "--data", "photos", "--train.steps=2", *TINY, "--train.seed=1",
                 "--out", str(run2)]) == 0
    assert main(["eval", str(run), "-n", "2", "--ensemble", str(run2)]) == 0
    recs = [r for r in json.loads((run / "metrics.json").read_text())["records"]
            if r["kind"] == "inpaint" and "ensemble" in r["protocol"]]
    assert len(recs) == 1 and str(run2) in recs[0]["protocol"]["ensemble"]
    wide = [a if a != "--model.base=4" else "--model.base=8" for a in TINY]
    assert wide != TINY
    assert main(["train", "inpaint", "--data", "photos", "--train.steps=1", *wide, "--out", str(other)]) == 0
    one_line(capsys, ["eval", str(run), "-n", "2", "--ensemble", str(other)], "model.base", "not the same model")
