"""The public Python API (docs/api.md): every example on that page runs here, in order, in a folder that
holds a 4-step demo run; the streaming FID equals `genlab eval` on the same images; save/load round trip;
training on a tensor and on a torch Dataset; the streaming metrics against the functional ones."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import genlab
from genlab.cli.main import main

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "api.md"


def doc_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    """A folder where `make demo` has left its run (4 steps instead of 1,500)."""
    d = tmp_path_factory.mktemp("api")
    run = d / "demo-runs" / "dcgan-fashion-mnist-1"
    assert main(["train", "--config", "dcgan-fashion-mnist", "--out", str(run), "--train.steps=4",
                 "--train.progress=false"]) == 0
    return d


@pytest.fixture(scope="module")
def doc_namespace(demo_dir):
    old = Path.cwd()
    os.chdir(demo_dir)
    try:
        ns: dict = {}
        for i, code in enumerate(doc_blocks()):
            exec(compile(code, f"{DOC}:block{i + 1}", "exec"), ns)
        return ns
    finally:
        os.chdir(old)


def test_import_genlab_is_light_and_exports_the_api():
    out = subprocess.run([sys.executable, "-c", "import sys, genlab; print('torch' in sys.modules, "
                          "sorted(genlab.__all__))"], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT / "src")}, check=True).stdout
    assert out.startswith("False")
    for name in ("load", "save", "build", "fit", "sample", "run_config", "Trainer", "metrics", "GenlabError"):
        assert f"'{name}'" in out
    assert (ROOT / "src" / "genlab" / "py.typed").is_file()


def test_doc_examples_run_and_fid_equals_genlab_eval(doc_namespace, demo_dir, capsys):
    ns = doc_namespace
    assert len(doc_blocks()) >= 6
    run = demo_dir / ns["run"]
    out = demo_dir / "eval.json"
    assert main(["eval", str(run), "--metrics", "fid", "--n", str(ns["n"]), "--extractor", "fmnist-classifier",
                 "--precision", "fp32", "--out", str(out)]) == 0
    cli = json.loads(out.read_text())["samples"]["fid"]
    api = ns["fid"].compute()
    assert abs(api - cli) <= 1e-6 * abs(cli), (api, cli)
    # torchmetrics hosting the same extractor gives the same number
    assert abs(float(ns["tm"].compute()) - cli) <= 1e-6 * abs(cli)
    assert ns["precision"] >= 0 and ns["kid_std"] >= 0


def test_streaming_metrics_equal_the_functional_ones():
    from genlab.metrics import FID, KID, DensityCoverage, PrecisionRecall
    from genlab.metrics import functional as F

    g = torch.Generator().manual_seed(0)
    real = torch.rand(300, 1, 8, 8, generator=g)
    fake = torch.randint(0, 230, (260, 1, 8, 8), generator=g) / 255  # 8-bit values
    fid, kid = FID("digits-classifier"), KID("digits-classifier", subsets=5, subset_size=50)
    pr, dc = PrecisionRecall("digits-classifier"), DensityCoverage("digits-classifier")
    for m in (fid, kid, pr, dc):
        for b in real.split(64):
            m.update(b, real=True)
        for b in fake.split(37):
            m.update(b, real=False)
    # the same batches through the extractor (bf16 results may depend on the batch composition)
    fr = torch.cat([fid.features(b)[0] for b in real.split(64)])
    ff = torch.cat([fid.features(b)[0] for b in fake.split(37)])
    assert fid.compute() == pytest.approx(F.fid(fr, ff), rel=1e-6)  # running sums vs two passes
    assert kid.compute() == pytest.approx(F.kid(fr, ff, subsets=5, subset_size=50,
                                                 generator=torch.Generator().manual_seed(0)), rel=1e-9)
    assert pr.compute() == F.precision_recall(fr, ff) and dc.compute() == F.density_coverage(fr, ff)
    before = fid.compute()
    fid.reset()  # forgets the generated side only when asked to keep the real one
    with pytest.raises(genlab.GenlabError):
        fid.compute()
    keep = FID("digits-classifier", reset_real=False)
    keep.update(real, real=True)
    keep.update(fake, real=False)
    keep.reset()
    keep.update((fake * 255).round().to(torch.uint8), real=False)  # uint8 counts are read as /255
    assert keep.compute() == pytest.approx(before, rel=1e-3)


def test_kid_warns_when_the_sets_are_not_larger_than_the_subsets():
    from genlab.metrics import functional as F

    x, y = torch.randn(100, 4), torch.randn(100, 4)
    with pytest.warns(UserWarning, match="kid_std is 0"):
        _, std = F.kid(x, y, subsets=10, subset_size=100)
    assert std < 1e-12  # the same value 10 times, up to the order of the sums
    with pytest.warns(UserWarning, match="underestimates"):
        F.kid(x, torch.randn(300, 4), subsets=10, subset_size=200)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        F.kid(torch.randn(300, 4), torch.randn(300, 4), subsets=10, subset_size=100)


def test_save_load_round_trip_and_cli_reads_a_saved_model(tmp_path, capsys):
    data = genlab.load_dataset("digits")
    vae = genlab.build("vae", data, latent_dim=3, hidden=32, train={"seed": 3})
    genlab.fit(vae, data, steps=5, batch_size=32, progress=False)
    saved = genlab.save(vae, tmp_path / "vae")
    assert {p.name for p in saved.iterdir()} >= {"config.yaml", "data_info.json", "model.safetensors"}
    with pytest.raises(genlab.GenlabError, match="already exists"):
        genlab.save(vae, saved)
    again = genlab.load(saved)
    assert genlab.info(again).step == 5 and genlab.info(again).name == "vae"
    for k, v in vae.state_dict().items():
        assert torch.equal(v, again.state_dict()[k]), k
    assert torch.equal(genlab.sample(vae, 8, seed=2), genlab.sample(again, 8, seed=2))
    assert main(["sample", str(saved), "-n", "4", "--out", str(tmp_path / "s.png")]) == 0


def test_fit_writes_a_run_directory_that_load_reads(tmp_path):
    data = torch.rand(128, 6)  # vectors in model space
    ae = genlab.build("ae", data, latent_dim=2, hidden=16)
    genlab.fit(ae, data, steps=4, batch_size=32, progress=False, run_dir=tmp_path / "run")
    loaded = genlab.load(tmp_path / "run")
    assert genlab.info(loaded).step == 4
    x = data[:5]
    assert torch.allclose(loaded.reconstruct(x), ae.reconstruct(x))
    with pytest.raises(genlab.GenlabError, match="shape"):
        genlab.fit(ae, torch.rand(64, 5), steps=1)


def test_api_errors_are_genlab_errors():
    with pytest.raises(genlab.GenlabError, match="did you mean 'vae'"):
        genlab.build("vea", torch.rand(10, 2))
    with pytest.raises(genlab.GenlabError, match="did you mean model.latent_dim"):
        genlab.run_config("vae", model={"latnet_dim": 3})
    with pytest.raises(genlab.GenlabError, match="tensor"):
        genlab.as_dataset([1, 2, 3])
