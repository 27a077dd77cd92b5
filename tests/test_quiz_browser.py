"""`genlab quiz`: the "which is fake?" page, played in a real headless Chromium (tests/browser.py drives it
over the DevTools protocol on a pipe). The answer key is re-derived from the seed through the Python API
that wrote the page (genlab.report.quiz.fake_sides), never read from the page. Chromium missing is a
failure, not a skip: `make install` installs Debian's chromium."""
import base64
import io
import re

import pytest
import torch
from browser import Browser, find_chromium
from PIL import Image
from scipy import stats

from genlab.cli.main import main
from genlab.fields import FieldSpec, Normalizer, image_spec
from genlab.report.quiz import SIDES, answer_token, build_quiz, fake_sides, hash32, render_pair

N, SEED = 6, 3
TINY = ["--train.batch_size=16", "--train.progress=false", "--device", "cpu"]


def other(side: str) -> str:
    return SIDES[1 - SIDES.index(side)]


def one_line_error(capsys, argv, *needles):
    code = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("genlab: error:"), err
    for n in needles:
        assert n in err[0], (n, err[0])


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    d = tmp_path_factory.mktemp("quiz")
    field = d / "vae-grf"
    assert main(["train", "vae", "--data", "grf", "--data.size=16", "--data.n=64", "--train.steps=5",
                 "--model.latent_dim=4", "--model.hidden=16", "--model.channels=4", "--out", str(field), *TINY]) == 0
    image = d / "dcgan-digits"
    assert main(["train", "dcgan", "--data", "digits", "--data.limit=64", "--train.steps=1", "--model.latent_dim=8",
                 "--model.g_channels=4", "--model.d_channels=4", "--out", str(image), *TINY]) == 0
    return {"field": field, "image": image, "dir": d}


@pytest.fixture(scope="module")
def page(runs):
    out = runs["dir"] / "quiz.html"
    assert main(["quiz", str(runs["field"]), "--out", str(out), "-n", str(N), "--seed", str(SEED)]) == 0
    return out


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    binary = find_chromium()
    if binary is None:
        pytest.fail("Chromium is not installed (no 'chromium' on PATH): 'make install' installs Debian's chromium "
                    "(or run: apt-get install -y chromium); GENLAB_CHROMIUM=/path/to/chrome picks another",
                    pytrace=False)
    with Browser(binary, tmp_path_factory.mktemp("chromium-profile")) as b:
        yield b


# --- in the browser -----------------------------------------------------------------------------------

@pytest.mark.parametrize("strategy", ["all-correct", "all-wrong", "alternate"])
def test_the_score_shown_counts_the_correct_clicks(browser, page, strategy):
    key = fake_sides(N, SEED)  # from the seed, as the page was written
    browser.open(page.as_uri())
    assert browser.text("#score") == "0 / 0 correct" and browser.js("document.getElementById('result').hidden")
    right = 0
    for i, fake in enumerate(key):
        good = strategy == "all-correct" or (strategy == "alternate" and i % 2 == 0)
        clicked = fake if good else other(fake)
        browser.click(f"#pair-{i} .choice[data-side={clicked}]")
        right += good
        assert browser.text("#score") == f"{right} / {i + 1} correct"
        assert browser.js(f"document.getElementById('pair-{i}').classList.contains('{'right' if good else 'wrong'}')")
        assert browser.text(f"#pair-{i} .choice[data-side={fake}] .tag") == "generated"
        assert browser.text(f"#pair-{i} .choice[data-side={other(fake)}] .tag") == "real"
        browser.click(f"#pair-{i} .choice[data-side={other(clicked)}]")  # a second answer to a pair counts nothing
        assert browser.text("#score") == f"{right} / {i + 1} correct"
    assert not browser.js("document.getElementById('result').hidden")
    assert browser.text("#final-score") == f"{right} / {N}"
    p = float(browser.js("document.getElementById('p-value').dataset.value"))
    assert p == pytest.approx(stats.binom.sf(right - 1, N, 0.5), rel=1e-9)  # P(X >= right), X ~ Bin(N, 1/2)
    assert browser.errors == []


# --- the page's source ----------------------------------------------------------------------------------

def test_the_source_holds_no_answer_list_only_salted_hashes(page):
    src = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "IMG", page.read_text())
    near = r"(fake|generated|real)\W{0,40}(left|right)|(left|right)\W{0,40}(fake|generated|real)"
    assert not re.search(near, src, re.I)
    blocks = re.findall(r'<div class="pair" .*?<div class="verdict"></div></div>', src)
    assert len(blocks) == N

    def shape(b):  # everything but the pictures, numbers and tokens: the same in every pair
        return re.sub(r"\d+(\.\d+)?(e[-+]?\d+)?|data-k=\"[0-9a-f]{8}\"", "#", b)
    assert len({shape(b) for b in blocks}) == 1
    salt = re.search(r'const SALT = "([0-9a-f]{16})"', src).group(1)
    for i, (b, fake) in enumerate(zip(blocks, fake_sides(N, SEED))):
        token = re.search(r'data-k="([0-9a-f]{8})"', b).group(1)
        assert token == answer_token(salt, i, fake) != answer_token(salt, i, other(fake))
    assert hash32("genlab") != hash32("genlac")


def _png(uri: str) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))


def test_fields_are_drawn_in_physical_units_with_one_colour_scale_per_pair():
    spec = FieldSpec((3, 8, 16), "field", normalizer=Normalizer((280.0, 0.0, 0.0), (5.0, 1.0, 1.0), "K"),
                     channels=("temperature", "u", "w"), periodic=(2,))
    g = torch.Generator().manual_seed(0)
    real, fake = torch.randn(3, 8, 16, generator=g), torch.randn(3, 8, 16, generator=g) * 0.1
    a, b, legend = render_pair(real, fake, spec)
    assert _png(a).size == _png(b).size == (16, 3 * 8 + 2 * 2)  # channels stacked with 2-pixel gaps
    assert len(legend) == 3 and legend[0].startswith("row 1 of 3: temperature [K] ")
    lo, hi = (float(v) for v in re.findall(r"(-?[\d.]+(?:e[-+]?\d+)?)", legend[0].split("[K]")[1]))
    both = torch.cat([real[0], fake[0]]) * 5 + 280  # data space
    assert lo == pytest.approx(both.quantile(0.01).item(), rel=1e-3) and hi == pytest.approx(
        both.quantile(0.99).item(), rel=1e-3)
    same_a, same_b, _ = render_pair(real, real, spec)
    assert same_a == same_b  # one colour scale: the same values give the same picture
    gaps = torch.ones(1, 8, 16)
    gaps[:, :2, :4] = 0  # the real example's gaps are shaded grey in both pictures
    a, b, _ = render_pair(real, fake, spec, gaps)
    assert _png(a).convert("RGB").getpixel((0, 7)) == _png(b).convert("RGB").getpixel((0, 7)) == (140, 140, 140)


def test_images_are_grey_or_rgb_and_the_cli_quiz_works_for_an_image_run(runs, capsys):
    grey, _, legend = render_pair(torch.rand(1, 8, 8), torch.rand(1, 8, 8), image_spec((1, 8, 8), 256))
    assert legend == [] and _png(grey).size == (8, 8)
    pix = _png(grey).convert("RGB").getpixel((3, 3))
    assert pix[0] == pix[1] == pix[2]
    rgb, _, _ = render_pair(torch.rand(3, 8, 8), torch.rand(3, 8, 8), image_spec((3, 8, 8), 256))
    assert _png(rgb).mode == "RGB" and _png(rgb).size == (8, 8)
    out = runs["dir"] / "digits-quiz.html"
    assert main(["quiz", str(runs["image"]), "--out", str(out), "-n", "4"]) == 0
    assert "wrote a quiz of 4 pairs (dcgan samples vs digits:test)" in capsys.readouterr().out
    assert out.read_text().count('class="pair"') == 4
    page = build_quiz(torch.rand(2, 1, 8, 8), torch.rand(2, 1, 8, 8), image_spec((1, 8, 8), 256), seed=0,
                      title="t", about="a")
    assert page.count('class="choice"') == 4 and "<script>" in page
    assert not re.search(r"https?:|src=\"//|<link", page)  # nothing fetched


def test_bad_inputs_are_one_line_errors(runs, tmp_path, capsys):
    run = str(runs["field"])
    existing = tmp_path / "exists.html"
    existing.write_text("mine")
    one_line_error(capsys, ["quiz", run, "--out", str(existing)], "already exists", "--force")
    one_line_error(capsys, ["quiz", run, "--out", str(tmp_path / "q.png")], "must end in .html")
    one_line_error(capsys, ["quiz", run, "--out", str(tmp_path / "q.html"), "-n", "0"], "-n=0 is invalid")
    one_line_error(capsys, ["quiz", run, "--out", str(tmp_path / "q.html"), "-n", "17"],
                   "more than the 16 examples of grf:test")
    one_line_error(capsys, ["quiz", str(tmp_path / "nope"), "--out", str(tmp_path / "q.html")], "does not exist")
    one_line_error(capsys, ["quiz", run, "--out", str(tmp_path / "q.html"), "--split", "validation"], "validation")
    p2p = tmp_path / "p2p"
    assert main(["train", "pix2pix", "--data", "digits", "--data.derive=edges", "--data.limit=32", "--model.base=4",
                 "--model.depth=3", "--model.d_base=4", "--model.d_receptive_field=16", "--model.input=edges",
                 "--model.target=x", "--train.steps=1", "--out", str(p2p), *TINY]) == 0
    one_line_error(capsys, ["quiz", str(p2p), "--out", str(tmp_path / "q.html")],
                   "cannot sample from nothing", "use a run of a model that samples")
    assert not (tmp_path / "q.html").exists()
    assert existing.read_text() == "mine"
    assert main(["quiz", run, "--out", str(existing), "-n", "2", "--force"]) == 0  # --force replaces it
    assert existing.read_text().count('class="pair"') == 2
