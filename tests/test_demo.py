"""`make demo` (scripts/demo.py) end to end at a tiny budget: every CLI step runs and the summary it
prints comes from the run's own metrics.json."""
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import demo  # noqa: E402


@pytest.mark.parametrize("model,n", [("dcgan", 500), ("vae", 100)])
def test_demo_runs_and_reports_its_metrics(tmp_path, capsys, model, n):
    demo.demo(["--model", model, "--out", str(tmp_path), "--n", str(n), "--",
               "--train.steps=6", "--train.progress=false", "--train.sample_every=3", "--train.ckpt_every=3"])
    out = capsys.readouterr().out
    run = next(tmp_path.iterdir())
    assert f"run directory: {run}" in out and (run / "samples.png").is_file()
    m = json.loads((run / "metrics.json").read_text())
    if model == "dcgan":
        s = m["samples"]
        assert s["protocol"]["n_fake"] == n and s["protocol"]["extractor"] == "fmnist-classifier"
        assert f"FID {s['fid']:.2f}," in out and f"coverage {s['coverage']:.3f}" in out
    else:
        assert f"{m['likelihood']['test_elbo_bpd']:.3f} bits/dim" in out
        assert (run / "reconstructions.png").is_file()
