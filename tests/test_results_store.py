"""metrics.json keeps every evaluation as its own record keyed by its protocol (genlab.report.results):
a second evaluation never erases the first, the same protocol replaces only its own record, version-1
files load, the run report shows every record with its protocol and step, and `genlab compare` sets side
by side only results measured the same way."""
import json
import shutil
from concurrent.futures import ThreadPoolExecutor
from html.parser import HTMLParser

import pytest
import torch

from genlab.cli.main import main
from genlab.errors import GenlabError
from genlab.metrics.features import Extractor
from genlab.registry import EXTRACTORS, Entry
from genlab.report.html import flatten, fmt
from genlab.report.results import latest_result, load_results, record_result, refresh_report
from helpers import tiny_trainer


class Text(HTMLParser):
    def __init__(self):
        super().__init__()
        self.parts = []

    def handle_data(self, data):
        self.parts.append(data)


def page_text(path) -> str:
    t = Text()
    t.feed(path.read_text())
    return "".join(t.parts)


class PixelFeatures(Extractor):
    """Raw pixels as features: a second, cheap extractor for 8x8 digits (Inception is slow on CPU)."""

    name = "test-pixels"
    sha256 = "0" * 64
    feature_dim = 64
    input_shape = (1, 8, 8)

    def __init__(self, device):
        self.device = device

    def protocol(self) -> dict:
        return {"extractor": self.name, "weights_sha256": self.sha256, "input": "1x8x8 raw pixels"}

    def prepare(self, x):
        return x

    def forward(self, x):
        return x.flatten(1), None


@pytest.fixture(autouse=True)
def _env(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setitem(EXTRACTORS._entries, "test-pixels", Entry("test-pixels", PixelFeatures, {}))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Two tiny VAE runs on digits (2 steps each), copied afresh by each test that uses them."""
    root = tmp_path_factory.mktemp("trained")
    for name, seed in (("a", 0), ("b", 1)):
        tiny_trainer("vae", run_dir=root / name, steps=2, seed=seed).fit()
    return root


def _copy(trained, tmp_path, name="a"):
    return shutil.copytree(trained / name, tmp_path / name)


def _eval(run, extractor, *extra):
    argv = ["eval", str(run), "--metrics", "fid,kid", "--extractor", extractor, "--n", "150", "--k", "2", *extra]
    assert main(argv) == 0


def test_two_extractors_both_kept_and_both_reported(trained, tmp_path, capsys):
    run = _copy(trained, tmp_path)
    _eval(run, "digits-classifier")
    first = {(r.kind, r.protocol.get("extractor")): r for r in load_results(run)}
    _eval(run, "test-pixels")
    recs = load_results(run)
    assert sorted((r.kind, r.protocol.get("extractor")) for r in recs) == [
        ("likelihood", None), ("samples", "digits-classifier"), ("samples", "test-pixels")]
    assert all(r.step == 2 and r.protocol["ema"] is False and r.recorded_at for r in recs)
    text = page_text(run / "report.html")  # eval redrew the report: both evaluations, with protocol and step
    for r in recs:
        for key, value in flatten(r.values):
            assert key in text and fmt(value) in text, (r.kind, key)
    assert "digits-classifier" in text and "test-pixels" in text and "step 2" in text and "weights_sha256" in text
    assert "samples · step 2 · live weights · extractor=digits-classifier" in text
    assert "No metrics yet" not in text

    # the same protocol again replaces its own record only
    pixels = latest_result(run, "samples", extractor="test-pixels")
    _eval(run, "digits-classifier")
    again = load_results(run)
    assert len(again) == 3
    assert latest_result(run, "samples", extractor="test-pixels") == pixels  # untouched
    new = latest_result(run, "samples", extractor="digits-classifier")
    old = first[("samples", "digits-classifier")]
    assert new.recorded_at >= old.recorded_at and new.identity() == old.identity()
    assert old.protocol["reference_cached"] is False and new.protocol["reference_cached"] is True
    assert new.values == pytest.approx(old.values)
    # another metric set or --seed is another evaluation: kept beside the first
    _eval(run, "digits-classifier", "--seed", "1")
    assert len([r for r in load_results(run) if r.kind == "samples"]) == 3
    # readers of the version-1 layout still find the latest result of each kind at the top level
    raw = json.loads((run / "metrics.json").read_text())
    assert raw["version"] == 2 and raw["samples"]["protocol"]["seed"] == 1 and "fid" in raw["samples"]


def test_record_result_replaces_only_same_identity(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    p1 = {"extractor": "x", "n_fake": 10, "reference_cached": False}
    record_result(run, "samples", p1, {"fid": 1.0}, 5, refresh=False)
    record_result(run, "samples", {**p1, "n_fake": 20}, {"fid": 2.0}, 5, refresh=False)
    record_result(run, "samples", p1, {"fid": 3.0}, 6, refresh=False)  # another step: another record
    record_result(run, "translation", {"direction": "a->b", "split": "test", "n": 4, "extractor": "x"},
                  {"l1": torch.tensor(0.5), "psnr": 21.25, "per_channel": [0.1, 0.2]}, 6, refresh=False)
    record_result(run, "samples", {**p1, "reference_cached": True}, {"fid": 1.5}, 5, refresh=False)
    recs = load_results(run)
    assert [(r.kind, r.step, r.values.get("fid")) for r in recs] == [
        ("samples", 5, 2.0), ("samples", 6, 3.0), ("translation", 6, None), ("samples", 5, 1.5)]
    assert recs[2].values == {"l1": 0.5, "psnr": 21.25, "per_channel": [0.1, 0.2]}
    with pytest.raises(ValueError):
        record_result(run, "records", {}, {"x": 1}, refresh=False)
    assert len(load_results(run)) == 4


def test_concurrent_writers_keep_every_record(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: record_result(run, "translation", {"direction": f"d{i}"}, {"l1": i / 10},
                                              refresh=False), range(16)))
    assert sorted(r.protocol["direction"] for r in load_results(run)) == sorted(f"d{i}" for i in range(16))


def test_version1_file_loads_and_is_upgraded_without_loss(trained, tmp_path):
    run = _copy(trained, tmp_path)
    v1 = {"likelihood": {"test_elbo_nats": -95.5, "protocol": {"split": "digits:test", "n": 300, "seed": 0}},
          "samples": {"fid": 12.75, "protocol": {"extractor": "digits-classifier", "n_fake": 500}},
          "probe": {"results": {"10": {"encoder_acc": 0.8125}}, "protocol": {"seed": 0}},
          "probe_knn": {"results": {"10": {"encoder_acc": 0.5}}, "protocol": {"seed": 0, "classifier": "1-NN"}},
          "step": 20, "ema": True}
    (run / "metrics.json").write_text(json.dumps(v1))
    recs = load_results(run)
    assert [(r.kind, r.step) for r in recs] == [("likelihood", 20), ("samples", 20), ("probe", None), ("probe", None)]
    assert recs[1].values == {"fid": 12.75} and recs[1].protocol == {"extractor": "digits-classifier",
                                                                       "n_fake": 500, "ema": True}
    assert refresh_report(run) == run / "report.html"
    text = page_text(run / "report.html")
    assert "12.75" in text and "0.8125" in text and "recorded before results format 2" in text
    record_result(run, "samples", {"extractor": "test-pixels"}, {"fid": 3.5}, 20)
    after = load_results(run)
    assert after[:4] == recs and after[4].values == {"fid": 3.5}
    assert "3.5" in page_text(run / "report.html") and "12.75" in page_text(run / "report.html")


def test_corrupt_metrics_json_is_a_one_line_error_and_left_alone(trained, tmp_path, capsys):
    run = _copy(trained, tmp_path)
    bad = b'{"samples": {"fid": 12.5,'
    (run / "metrics.json").write_bytes(bad)
    assert main(["eval", str(run), "--metrics", "fid", "--n", "50", "--k", "2"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("genlab: error:") and "\n" not in err
    assert str(run / "metrics.json") in err and "not valid JSON" in err and "mv " in err
    with pytest.raises(GenlabError, match="move it aside"):
        record_result(run, "samples", {"extractor": "x"}, {"fid": 1.0})
    assert (run / "metrics.json").read_bytes() == bad
    assert main(["report", str(run)]) == 2 and "not valid JSON" in capsys.readouterr().err
    with pytest.warns(UserWarning, match="could not be redrawn"):
        assert refresh_report(run) is None  # best effort: a warning, never an error
    (run / "metrics.json").write_text(json.dumps([1, 2]))
    with pytest.raises(GenlabError, match="not a genlab results file"):
        load_results(run)
    (run / "metrics.json").write_text(json.dumps({"format": "genlab-results", "version": 9, "records": []}))
    with pytest.raises(GenlabError, match="newer genlab"):
        load_results(run)


def test_compare_sets_side_by_side_only_same_protocol(trained, tmp_path, capsys):
    a, b = _copy(trained, tmp_path, "a"), _copy(trained, tmp_path, "b")
    _eval(a, "digits-classifier")
    _eval(b, "test-pixels")
    for run, l1 in ((a, 0.25), (b, 0.5)):  # a new family's kind, same protocol in both runs
        record_result(run, "translation", {"direction": "a->b", "split": "test", "n": 4}, {"l1": l1}, 2,
                      refresh=False)
    capsys.readouterr()
    out = tmp_path / "cmp.html"
    assert main(["compare", str(a), str(b), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    text = page_text(out)
    why = [line for line in printed.splitlines() if line.startswith("samples:")]
    assert len(why) == 1 and "a vs b not compared" in why[0], printed
    assert "extractor (digits-classifier vs test-pixels)" in why[0] and "weights_sha256" in why[0]
    assert why[0] in text
    # likelihood (same split, n, seed, k) and translation are set side by side; samples are not
    assert "likelihood: 2 runs, same protocol" in text and "translation: 2 runs, same protocol" in text
    assert "samples: 2 runs" not in text and "Results without a same-protocol counterpart" in text
    fa = latest_result(a, "samples").values["fid"]
    fb = latest_result(b, "samples").values["fid"]
    assert fmt(fa) in text and fmt(fb) in text  # each shown apart, with its own protocol
    assert "a (step 2, live weights)" in text
    # once both are measured the same way, they are compared
    _eval(b, "digits-classifier")
    assert main(["compare", str(a), str(b), "--out", str(out), "--force"]) == 0
    text = page_text(out)
    assert "samples: 2 runs, same protocol" in text
    printed = capsys.readouterr().out  # b's pixel FID still has no counterpart, and is said so
    assert "samples: b's result with no counterpart in a (not compared)" in printed
    assert "extractor (test-pixels vs digits-classifier)" in printed
