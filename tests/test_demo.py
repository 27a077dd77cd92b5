"""`make demo` (scripts/demo.py) end to end at a tiny budget: every CLI step runs, the summary it
prints comes from the run's own metrics.json, and the run's report.html shows those same numbers."""
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from genlab.report.html import fmt
from genlab.report.results import latest_result

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import demo  # noqa: E402


@pytest.mark.parametrize("model,n", [("dcgan", 500), ("vae", 100)])
def test_demo_runs_and_reports_its_metrics(tmp_path, capsys, model, n):
    demo.demo(["--model", model, "--out", str(tmp_path), "--n", str(n), "--",
               "--train.steps=6", "--train.progress=false", "--train.sample_every=3", "--train.ckpt_every=3"])
    out = capsys.readouterr().out
    run = next(tmp_path.iterdir())
    assert f"run directory: {run}" in out and (run / "samples.png").is_file()
    report = _text(run / "report.html")
    assert "No metrics yet" not in report
    if model == "dcgan":
        rec = latest_result(run, "samples")
        s, p = rec.values, rec.protocol
        assert p["n_fake"] == n and p["extractor"] == "fmnist-classifier" and rec.step == 6
        assert f"FID {s['fid']:.2f}," in out and f"coverage {s['coverage']:.3f}" in out
        # the report was redrawn after the evaluation: the printed FID/KID/PR/DC are in it, with the step
        for key in ("fid", "kid_mean", "kid_std", "precision", "recall", "density", "coverage"):
            assert fmt(s[key]) in report, key
        assert "samples · step 6 · EMA weights" in report and "fmnist-classifier" in report
    else:
        lik = latest_result(run, "likelihood").values
        assert f"{lik['test_elbo_bpd']:.3f} bits/dim" in out
        assert fmt(lik["test_elbo_bpd"]) in report
        assert (run / "reconstructions.png").is_file()


def _text(path: Path) -> str:
    parts: list[str] = []
    p = HTMLParser()
    p.handle_data = parts.append
    p.feed(path.read_text())
    return "".join(parts)
