"""Run reports: `genlab train` writes a self-contained report.html, `genlab report` regenerates it with
every metric of metrics.json and every picture embedded, `genlab compare` puts runs side by side."""
import json
from html.parser import HTMLParser

import pytest

from genlab.cli.main import main
from genlab.report.html import flatten, fmt
from genlab.report.results import load_results

METRICS = {
    "likelihood": {"nll_nats": 95.123456789, "bpd": 2.5, "n": 300,
                   "protocol": {"split": "digits:test", "n": 300, "seed": 0, "k": 100}},
    "samples": {"fid": 12.75, "kid": 0.0031, "protocol": {"extractor": "digits-classifier", "n_fake": 500}},
    "probe": {"results": {"10": {"encoder_acc": 0.8125, "pixels_acc": 0.75}}, "protocol": {"seed": 0}},
    "step": 20, "ema": False,
}


class Page(HTMLParser):
    """Collects tags, every URL-bearing attribute, and the visible text."""

    def __init__(self):
        super().__init__()
        self.tags, self.urls, self.imgs, self.text = [], [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for k, v in attrs:
            if k in ("src", "href", "srcset", "data", "poster", "action") and v is not None:
                self.urls.append(v)
            if tag == "img" and k == "src":
                self.imgs.append(v)
            if k == "style" and v and "url(" in v:
                self.urls.append(v)

    def handle_data(self, data):
        self.text.append(data)


def parse(path) -> Page:
    p = Page()
    p.feed(path.read_text())
    p.close()
    return p


def assert_self_contained(page: Page, raw: str) -> None:
    assert page.imgs, "no images at all"
    assert all(u.startswith(("data:image/png;base64,", "data:image/gif;base64,")) for u in page.imgs)
    assert all(u.startswith("data:") for u in page.urls), [u[:40] for u in page.urls if not u.startswith("data:")]
    assert "script" not in page.tags and "link" not in page.tags and "iframe" not in page.tags
    for bad in ("http://", "https://", "file:", "@import"):
        assert bad not in raw


def train(run, seed):
    rc = main(["train", "vae", "--data", "digits", "--out", str(run), "--model.latent_dim=2", "--model.hidden=16",
               "--model.arch=mlp", "--train.steps=20", "--train.batch_size=32", "--train.log_every=5",
               "--train.sample_every=10", "--train.progress=false", "--train.threads=1", f"--train.seed={seed}"])
    assert rc == 0


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    train(root / "a", 0)
    train(root / "b", 1)
    return root / "a", root / "b"


def test_training_writes_a_report(runs):
    a, _ = runs
    page = parse(a / "report.html")
    assert_self_contained(page, (a / "report.html").read_text())
    # loss curves + throughput + sample grids at steps 10 and 20
    assert len(page.imgs) == 4
    text = "".join(page.text)
    assert "step 10" in text and "step 20" in text and "samples/s" in text and "model_name: vae" in text


def test_report_embeds_every_metric_and_picture(runs, capsys):
    a, _ = runs
    (a / "metrics.json").write_text(json.dumps(METRICS))
    assert main(["explore", str(a), "interpolate", "--pairs", "2", "--steps", "4"]) == 0
    assert main(["explore", str(a), "map", "-n", "50"]) == 0
    (a / "report.html").unlink()
    assert main(["report", str(a)]) == 0
    raw = (a / "report.html").read_text()
    page = parse(a / "report.html")
    assert_self_contained(page, raw)
    assert len(page.imgs) == 4 + 3  # + interpolate.png, interpolate.gif, map.png
    assert sum(u.startswith("data:image/gif") for u in page.imgs) == 1
    text = "".join(page.text)
    records = load_results(a)  # a version-1 file: one record per kind, eval's step/ema moved onto them
    assert [(r.kind, r.step, r.protocol.get("ema")) for r in records] == [
        ("likelihood", 20, False), ("samples", 20, False), ("probe", None, None)]
    leaves = [(k, v) for r in records for k, v in flatten(r.values)]
    assert len(leaves) == 7  # 3 likelihood + 2 samples + 2 probe (protocols listed apart)
    for key, value in leaves:
        assert key in text and fmt(value) in text, (key, fmt(value))
    assert "95.1235" in text  # 6 significant digits
    for field in ("extractor", "digits-classifier", "n_fake", "likelihood · step 20 · live weights",
                  "probe · step not recorded", "protocol field", "digits:test"):
        assert field in text
    assert "genlab explore" in text  # the command that made each explore picture


def test_report_to_another_file_and_errors(runs, tmp_path, capsys):
    a, _ = runs
    out = tmp_path / "r.html"
    assert main(["report", str(a), "--out", str(out)]) == 0 and out.is_file()
    assert main(["report", str(a), "--out", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "not a genlab run directory" in err and len(err.strip().splitlines()) == 1


def test_compare_page(runs, tmp_path, capsys):
    a, b = runs
    (a / "metrics.json").write_text(json.dumps(METRICS))
    (b / "metrics.json").write_text(json.dumps({"likelihood": {"nll_nats": 101.5, "protocol": {"n": 300}}}))
    out = tmp_path / "cmp.html"
    assert main(["compare", str(a), str(b), "--out", str(out)]) == 0
    raw = out.read_text()
    page = parse(out)
    assert_self_contained(page, raw)
    text = "".join(page.text)
    assert "101.5" in text and "95.1235" in text and "train.seed" in text  # metrics and config differences
    # the two likelihoods were measured differently: shown apart, with the fields that differ
    assert "likelihood: a vs b not compared, their protocols differ in k (100 vs (absent))" in text
    assert "Results without a same-protocol counterpart" in text
    assert len(page.imgs) >= 3  # curves overlaid + one sample grid per run
    assert main(["compare", str(a), "--out", str(tmp_path / "one.html")]) == 2
    assert "at least two" in capsys.readouterr().err
