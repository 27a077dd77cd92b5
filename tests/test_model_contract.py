"""Registry-parametrised contract tests: every registered model, tiny config, one or two steps."""
import pytest
import torch

from genlab.errors import GenlabError
from genlab.registry import MODELS
from genlab.runs import load_run

from helpers import state, tiny_trainer

MODEL_NAMES = list(MODELS)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_each_phase_moves_only_its_group(name):
    tr = tiny_trainer(name)
    batch = tr.batcher.next(tr.noise)
    phases = tr.model.phases(0)
    assert phases, f"{name} has no phase at step 0"
    for phase in phases:
        before = {id(p): p.detach().clone() for ps in tr.groups.values() for p in ps}
        for ps in tr.groups.values():
            for p in ps:
                p.grad = None
        tr._run_phase(phase, batch)
        mine = {id(p) for p in tr.groups[phase.group]}
        moved = [p for p in tr.groups[phase.group] if not torch.equal(before[id(p)], p.detach())]
        assert moved, f"{name}: phase {phase.group} changed none of its parameters"
        for g, ps in tr.groups.items():
            for p in ps:
                if id(p) in mine:
                    continue
                assert torch.equal(before[id(p)], p.detach()), f"{name}: phase {phase.group} moved group {g}"
                assert p.grad is None, f"{name}: frozen group {g} received a gradient in phase {phase.group}"


def draw(model, data, seed: int):
    """What the model makes: n = 4 unconditional samples, or outputs for the data's first 4 inputs."""
    g = torch.Generator().manual_seed(seed)
    if model.conditional:
        return model.generate(data.preview_batch(4), generator=g)
    return model.sample(4, generator=g)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_sample_changes_nothing_and_is_seeded(name):
    tr = tiny_trainer(name)
    model = tr.model.eval()
    before = state(model)
    a = draw(model, tr.data, 3)
    b = draw(model, tr.data, 3)
    assert torch.equal(a, b)
    if model.conditional:
        assert a.shape[0] == 4
        with pytest.raises(GenlabError):
            model.sample(4, generator=torch.Generator().manual_seed(3))
    else:
        assert a.shape == (4, *tr.data.info.shape)
    assert torch.isfinite(a).all()
    for k, v in state(model).items():
        assert torch.equal(before[k], v), f"{name}: sample() changed {k}"


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_same_seed_same_weights(name):
    runs = []
    for _ in range(2):
        tr = tiny_trainer(name, steps=2)
        tr.fit()
        runs.append(state(tr.model))
    for k in runs[0]:
        assert torch.equal(runs[0][k], runs[1][k]), f"{name}: {k} differs between identical seeded runs"
    other = tiny_trainer(name, steps=2, seed=1)
    other.fit()
    assert any(not torch.equal(runs[0][k], v) for k, v in state(other.model).items())


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_save_load_identical_outputs(name, tmp_path):
    tr = tiny_trainer(name, run_dir=tmp_path / "run", steps=2)
    tr.fit()
    loaded = load_run(tmp_path / "run", use_ema=False)
    tr.model.eval()
    a = draw(tr.model, tr.data, 0)
    b = draw(loaded.model, tr.data, 0)
    assert torch.equal(a, b)
    for k, v in loaded.model.state_dict().items():
        assert torch.equal(v, tr.model_state()[k])


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_measuring_the_precision_leaves_training_unchanged(name, monkeypatch):
    """train.precision=auto's timing (training/precision.py) runs on a copy of the model with the data order,
    noise and global RNG restored: the run equals one at the chosen precision, for every model."""
    from genlab.training import trainer as T
    from genlab.training.precision import MEASURE

    monkeypatch.setattr(T, "_PICKED", {})
    measured = tiny_trainer(name, steps=2)
    measured.precision = MEASURE
    measured.fit()
    assert measured.precision in ("fp32", "bf16") and "measured" in measured.precision_why, measured.precision_why
    fixed = tiny_trainer(name, steps=2)
    fixed.precision = measured.precision
    fixed.fit()
    a, b = state(measured.model), state(fixed.model)
    for k in a:
        assert torch.equal(a[k], b[k]), f"{name}: measuring the precision changed {k}"
