import pytest

from genlab.config import TrainConfig, coerce, parse_overrides, read_yaml, resolve
from genlab.errors import GenlabError


def test_overrides_parse_dotted_and_nested():
    o = parse_overrides(["--train.lr=2e-4", "--model.latent_dim", "8", "--train.group_lr.discriminator=4e-4"])
    assert o["train"] == {"lr": "2e-4", "group_lr": {"discriminator": "4e-4"}}
    assert o["model"] == {"latent_dim": "8"}


@pytest.mark.parametrize("bad", [["--lr=1"], ["--foo.lr=1"], ["train.lr=1"], ["--train.lr"]])
def test_bad_overrides_are_user_errors(bad):
    with pytest.raises(GenlabError):
        parse_overrides(bad)


def test_resolve_types_and_model_defaults():
    cfg = resolve("vae", [{"model": {"latent_dim": "8"}, "train": {"betas": "0.5,0.99", "steps": "1e3"}}])
    assert cfg.model.latent_dim == 8 and cfg.train.betas == (0.5, 0.99) and cfg.train.steps == 1000


def test_unknown_key_lists_valid_ones():
    with pytest.raises(GenlabError, match="model.latent_dimm.*valid keys.*model.latent_dim"):
        resolve("vae", [{"model": {"latent_dimm": 3}}])


@pytest.mark.parametrize("section,key,value", [("train", "lr", "-1"), ("train", "precision", "fp8"),
                                               ("model", "likelihood", "poisson"), ("train", "steps", "1.5")])
def test_invalid_values_name_the_key(section, key, value):
    with pytest.raises(GenlabError, match=f"{section}.{key}"):
        resolve("vae", [{section: {key: value}}])


def test_coerce_bool_and_optional():
    from typing import Optional
    assert coerce("false", bool, "k") is False
    assert coerce("none", Optional[int], "k") is None
    with pytest.raises(ValueError):
        coerce("maybe", bool, "k")


def test_yaml_preset_errors(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("model: {latent_dim: 3}\nextra: 1\n")
    with pytest.raises(GenlabError, match="unknown section"):
        read_yaml(p)
    p.write_text("model: [1, 2\n")
    with pytest.raises(GenlabError, match="not valid YAML"):
        read_yaml(p)
    with pytest.raises(GenlabError, match="not found"):
        read_yaml(tmp_path / "missing.yaml")


def test_dump_roundtrip():
    cfg = resolve("vae", [{"train": {"group_lr": {"model": 1e-3}}}])
    import yaml
    raw = yaml.safe_load(cfg.dump())
    again = resolve(raw["model_name"], [{s: raw[s] for s in ("model", "train", "data")}])
    assert again == cfg
    assert isinstance(TrainConfig().betas, tuple)


def _presets():
    from genlab.cli.train import PRESET_DIR

    return sorted(PRESET_DIR.glob("*.yaml"))


@pytest.mark.parametrize("path", _presets(), ids=lambda p: p.stem)
def test_every_bundled_preset_resolves(path):
    import genlab.components  # noqa: F401  (registers the models)

    raw = read_yaml(path)
    cfg = resolve(raw["model_name"], [raw])
    assert cfg.data.name  # every preset names its data
    for key, value in (raw.get("train") or {}).items():  # what the file says is what the run gets
        got = getattr(cfg.train, key)
        assert (list(got) if isinstance(got, tuple) else got) == value, key


def test_model_train_defaults_sit_under_presets_and_overrides():
    import genlab.components  # noqa: F401
    from genlab.models.gans.gan import GAN

    cfg = resolve("gan", [{"data": {"name": "ring8"}}])
    assert cfg.train.lr == GAN.train_defaults["lr"] and cfg.train.steps == GAN.train_defaults["steps"]
    cfg = resolve("gan", [{"train": {"steps": 7}}, {"train": {"group_lr": {"generator": 1e-4}}}])
    assert cfg.train.steps == 7
    assert cfg.train.group_lr == {**GAN.train_defaults["group_lr"], "generator": 1e-4}  # merged one level down


def test_per_loss_defaults_layer_under_what_is_given(monkeypatch):
    import genlab.components  # noqa: F401
    from genlab.models.gans.gan import GAN

    monkeypatch.setattr(GAN, "loss_defaults", {"hinge": {"model": {"n_critic": 2}, "train": {"lr": 1e-4}}})
    cfg = resolve("gan", [{"model": {"loss": "hinge"}}])
    assert cfg.model.n_critic == 2 and cfg.train.lr == 1e-4
    assert cfg.train.group_lr == GAN.train_defaults["group_lr"]  # the model's other defaults stay
    cfg = resolve("gan", [{"model": {"loss": "hinge", "n_critic": 3}}, {"train": {"lr": 5e-4}}])
    assert cfg.model.n_critic == 3 and cfg.train.lr == 5e-4  # given values win
    cfg = resolve("gan", [{"model": {"loss": "lsgan"}}])  # other losses: the model's defaults
    assert cfg.model.n_critic == 0 and cfg.train.lr == GAN.train_defaults["lr"]


def test_every_dataset_option_is_a_data_flag():
    """Each option a dataset registers reaches it from the command line (`--data.KEY`): data.runs of
    rayleigh-benard once existed only in the Python API."""
    import genlab.data  # noqa: F401  (registers the datasets)
    from dataclasses import fields

    from genlab.config import DataConfig
    from genlab.registry import DATASETS

    flags = {f.name for f in fields(DataConfig)}
    missing = {e.name: sorted(set(e.meta.get("options", ())) - flags) for e in DATASETS.entries()}
    assert not {k: v for k, v in missing.items() if v}
    cfg = resolve("inpaint", [{"data": {"name": "coads-holdout", "context": "1"}}])
    assert cfg.data.options()["context"] == 1 and list(cfg.data.options())[-1:] != ["limit"]
    assert resolve("vae", [{"data": {"name": "rayleigh-benard", "runs": "8"}}]).data.options()["runs"] == 8
