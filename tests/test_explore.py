"""Latent-space exploration: the maths (lerp/slerp, arithmetic, traversals, neighbours, maps) against
closed forms, and `genlab explore` end to end on a tiny digits VAE, including bad inputs (exit 2)."""
import math

import pytest
import torch
from PIL import Image

from genlab.cli.main import main
from genlab.errors import GenlabError
from genlab.explore import (apply_vector, attribute_vector, class_means, embed_2d, interpolation_path,
                            lerp, manifold_grid, nearest, resolve_label, slerp, traversal)

@pytest.fixture(autouse=True)
def _one_openmp_thread():
    """t-SNE's OpenMP threads spin-wait; on a loaded 2-core machine that made one 60-point t-SNE take 80 s."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="openmp"):
        yield


CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
           "Ankle boot"]


# --- paths -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("d", [2, 16, 128])
def test_slerp_keeps_the_prior_norm_and_lerp_does_not(d):
    g = torch.Generator().manual_seed(0)
    z0, z1 = torch.randn(500, d, generator=g), torch.randn(500, d, generator=g)
    steps = 11
    t = torch.linspace(0, 1, steps)
    paths = {k: interpolation_path(z0, z1, steps, k) for k in ("lerp", "slerp")}  # (P, steps, D)
    rel = {k: p.norm(dim=-1) / math.sqrt(d) for k, p in paths.items()}  # ‖z‖ / √d, (P, steps)
    mid = steps // 2
    # the prior's typical norm: E‖z‖ ≈ √d (a little less for small d); slerp keeps it all along the path
    typical = float(torch.cat([rel["slerp"][:, 0], rel["slerp"][:, -1]]).mean())
    assert 0.85 < typical < 1.01, typical
    s_mean = rel["slerp"].mean(0)  # (steps,)
    assert ((s_mean > typical - 0.03) & (s_mean < typical + 0.03)).all(), s_mean
    # per path: the norm moves linearly between the endpoint norms (never leaves the shell, never blows up)
    ends = (1 - t) * z0.norm(dim=1, keepdim=True) + t * z1.norm(dim=1, keepdim=True)  # (P, steps)
    ratio = paths["slerp"].norm(dim=-1) / ends
    assert ((ratio > 0.999) & (ratio < 1.001)).float().mean() > 0.99, ratio
    # lerp's midpoint falls to ≈ √(1/2) of the shell (independent endpoints): far inside it
    l_mid = float(rel["lerp"][:, mid].mean()) / typical
    assert 0.62 < l_mid < 0.78, l_mid
    assert float((paths["lerp"].norm(dim=-1)[:, mid] / ends[:, mid]).mean()) < 0.8
    # ... while both paths agree at the ends
    assert torch.allclose(paths["lerp"][:, [0, -1]], paths["slerp"][:, [0, -1]], atol=1e-5)


def test_slerp_is_the_great_circle_for_equal_norms():
    g = torch.Generator().manual_seed(1)
    z0 = torch.randn(4, 8, generator=g, dtype=torch.float64)
    z1 = torch.randn(4, 8, generator=g, dtype=torch.float64)
    z1 = z1 / z1.norm(dim=1, keepdim=True) * z0.norm(dim=1, keepdim=True)
    omega = torch.acos((z0 * z1).sum(1) / (z0.norm(dim=1) * z1.norm(dim=1)))
    t = torch.tensor([0.0, 0.3, 0.5, 1.0], dtype=torch.float64)
    p = slerp(z0, z1, t)  # (T, 4, 8)
    assert torch.allclose(p[0], z0) and torch.allclose(p[-1], z1)
    assert torch.allclose(p.norm(dim=-1), z0.norm(dim=1).expand(4, 4), atol=1e-10)
    angle = torch.acos(((p * z0).sum(-1) / (p.norm(dim=-1) * z0.norm(dim=-1))).clamp(-1, 1))  # (T, 4)
    assert torch.allclose(angle, t[:, None] * omega[None], atol=1e-6)


def test_slerp_of_parallel_vectors_falls_back_to_lerp():
    z0 = torch.tensor([[1.0, 2.0, 3.0]])
    z1 = 2 * z0
    assert torch.allclose(slerp(z0, z1, 0.25), lerp(z0, z1, 0.25))
    assert torch.isfinite(slerp(z0, z0, 0.5)).all()


# --- arithmetic, labels, traversals -------------------------------------------------------------------
def test_attribute_vector_and_apply_by_hand():
    z = torch.tensor([[0.0, 0.0], [2.0, 0.0], [0.0, 4.0], [0.0, 2.0], [9.0, 9.0]])
    y = torch.tensor([0, 0, 1, 1, 2])
    assert torch.allclose(class_means(z, y, [0, 1]), torch.tensor([[1.0, 0.0], [0.0, 3.0]]))
    v = attribute_vector(z, y, plus=0, minus=1)
    assert torch.allclose(v, torch.tensor([1.0, -3.0]))
    moved = apply_vector(z[4:], v, [0.0, 1.0, 2.0])  # (S, N, D)
    assert torch.allclose(moved[:, 0], torch.tensor([[9.0, 9.0], [10.0, 6.0], [11.0, 3.0]]))
    with pytest.raises(GenlabError, match="no examples with label 7"):
        class_means(z, y, [7])


def test_resolve_label():
    assert resolve_label("Sneaker", CLASSES) == 7
    assert resolve_label("ankle-boot", CLASSES) == 9
    assert resolve_label("boot", CLASSES) == 9  # unique word match
    assert resolve_label("shirt", CLASSES) == 6  # an exact name beats the T-shirt/top word match
    assert resolve_label("3", CLASSES) == 3
    with pytest.raises(GenlabError, match=r"--plus 'hat' does not exist; valid labels: 'T-shirt/top'.*'Ankle boot'"):
        resolve_label("hat", CLASSES, option="--plus")


def test_traversal_moves_one_dimension_over_plus_minus_span():
    base = torch.tensor([0.5, -1.0, 2.0])
    mean, std = torch.tensor([0.0, 1.0, 0.0]), torch.tensor([1.0, 2.0, 0.5])
    z = traversal(base, [1, 2], mean, std, steps=7, span=3.0)  # (2, 7, 3)
    assert z.shape == (2, 7, 3)
    assert torch.allclose(z[0, :, 1], torch.linspace(1 - 6, 1 + 6, 7))
    assert torch.allclose(z[0, :, [0, 2]], base[[0, 2]].expand(7, 2))
    assert torch.allclose(z[1, :, 2], torch.linspace(-1.5, 1.5, 7))


def test_manifold_grid_spans_plus_minus_three_sigma_by_quantiles():
    g = manifold_grid(9, torch.zeros(2), torch.ones(2), span=3.0)  # (9, 9, 2)
    assert g.shape == (9, 9, 2)
    assert abs(float(g[0, 0, 0]) + 3) < 1e-4 and abs(float(g[0, -1, 0]) - 3) < 1e-4  # z0 left → right
    assert abs(float(g[0, 0, 1]) - 3) < 1e-4 and abs(float(g[-1, 0, 1]) + 3) < 1e-4  # z1 top → bottom
    q = g[0, :, 0].double()
    p = torch.special.ndtr(q)  # equal prior mass between neighbouring columns
    assert torch.allclose(p.diff(), p.diff()[0].expand(8), atol=1e-6)
    assert abs(float(g[4, 4, 0])) < 1e-6


# --- neighbours and maps ------------------------------------------------------------------------------
def test_nearest_matches_brute_force_in_chunks():
    g = torch.Generator().manual_seed(2)
    bank = torch.randn(103, 5, generator=g)
    query = torch.cat([bank[[7, 50]], torch.randn(4, 5, generator=g)])
    d, i = nearest(query, bank, k=3, chunk=10)
    ref = torch.cdist(query.double(), bank.double())
    rd, ri = ref.topk(3, dim=1, largest=False)
    assert torch.equal(i, ri) and torch.allclose(d, rd, atol=1e-6)
    assert i[0, 0] == 7 and i[1, 0] == 50 and float(d[0, 0]) < 1e-6


def test_embed_2d_pca_and_tsne():
    g = torch.Generator().manual_seed(3)
    z = torch.randn(60, 6, generator=g) * torch.tensor([5.0, 1, 1, 1, 1, 0.1])
    y, info = embed_2d(z, "pca")
    assert y.shape == (60, 2) and 0.6 < info["explained_variance_ratio"][0] < 0.98
    y2, info2 = embed_2d(z, "tsne", seed=0)
    assert y2.shape == (60, 2) and info2["perplexity"] == pytest.approx(59 / 3)
    with pytest.raises(GenlabError, match="choose one of: pca, tsne"):
        embed_2d(z, "umap")


# --- the CLI on a tiny trained VAE --------------------------------------------------------------------
@pytest.fixture(scope="module")
def vae_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("explore") / "vae"
    rc = main(["train", "vae", "--data", "digits", "--out", str(run), "--model.latent_dim=2", "--model.hidden=32",
               "--model.arch=mlp", "--train.steps=30", "--train.batch_size=32", "--train.progress=false",
               "--train.threads=1"])
    assert rc == 0
    return run


def _one_line_error(capsys, argv, *needles):
    rc = main(argv)
    err = capsys.readouterr().err.strip()
    assert rc == 2, err
    assert len(err.splitlines()) == 1 and err.startswith("genlab: error: "), err
    for n in needles:
        assert n in err, err
    return err


def test_every_explore_command_writes_its_picture(vae_run, capsys):
    r = str(vae_run)
    assert main(["explore", r, "interpolate", "--from-index", "0,5", "--to-index", "9,3", "--steps", "6"]) == 0
    gif = Image.open(vae_run / "explore" / "interpolate.gif")
    # 6 steps forward, 4 back (boomerang); the held end frames are merged by Pillow into longer ones
    assert gif.n_frames == 6 + 4 and gif.info["duration"] == 5 * 90
    assert gif.size == ((2 * (8 + 2) + 2) * 2,) * 2  # 2 pairs as rows, lerp | slerp as columns, 2x upscale
    assert main(["explore", r, "interpolate", "--from-seed", "1", "--to-seed", "2", "--path", "slerp",
                 "--out", str(vae_run / "seeds.png")]) == 0
    assert (vae_run / "seeds.gif").is_file()
    assert main(["explore", r, "arithmetic", "--plus", "7", "--minus", "1", "--to", "4", "-n", "4",
                 "--n-mean", "20"]) == 0
    assert main(["explore", r, "traverse", "--steps", "5"]) == 0  # 2-D latent: the manifold grid
    assert main(["explore", r, "traverse", "--no-manifold", "--out", str(vae_run / "dims.png")]) == 0
    assert main(["explore", r, "traverse", "--base-seed", "4", "--out", str(vae_run / "seed.png")]) == 0
    assert "prior latent of seed 4" in capsys.readouterr().out
    assert main(["explore", r, "neighbors", "-n", "4", "-k", "2", "--features", "encoder", "--n-ratio", "50"]) == 0
    assert "ratio" in capsys.readouterr().out
    assert main(["explore", r, "map", "--method", "tsne", "-n", "60"]) == 0
    for name in ("interpolate.png", "arithmetic.png", "traverse.png", "neighbors.png", "map.png"):
        with Image.open(vae_run / "explore" / name) as im:
            assert im.size[0] > 100 and im.size[1] > 100
    index = (vae_run / "explore" / "index.json").read_text()
    assert "--from-index 0,5" in index and "--method tsne" in index
    # the explore pictures appear in the regenerated report
    assert main(["report", r]) == 0
    html = (vae_run / "report.html").read_text()
    assert html.count('alt="interpolate.gif"') == 1 and 'alt="map.png"' in html


def test_bad_inputs_are_one_line_errors(vae_run, capsys):
    r = str(vae_run)
    _one_line_error(capsys, ["explore", r, "interpolate", "--from-index", "0", "--to-index", "300"],
                    "--to-index 300 is out of range", "digits:test", "0..299")
    _one_line_error(capsys, ["explore", r, "traverse", "--index", "-1", "--no-manifold"], "--index -1 is out of range")
    _one_line_error(capsys, ["explore", r, "arithmetic", "--plus", "seven", "--minus", "1", "--to", "2"],
                    "--plus 'seven' does not exist", "valid labels: '0', '1'")
    _one_line_error(capsys, ["explore", r, "interpolate", "--from-index", "1,x", "--to-index", "2"],
                    "--from-index '1,x' is not a comma-separated list")
    _one_line_error(capsys, ["explore", r, "traverse", "--dims", "5", "--no-manifold"], "--dims 5 is out of range")
    _one_line_error(capsys, ["explore", r, "traverse", "--index", "1", "--base-seed", "2"], "not both")
    _one_line_error(capsys, ["explore", r, "map", "--method", "latent", "-n", "0"], "-n=0 is invalid")
    _one_line_error(capsys, ["explore", r], "say what to explore")
    _one_line_error(capsys, ["explore", str(vae_run / "nope"), "map"], "does not exist")
    out = vae_run / "taken.png"
    out.write_bytes(b"x")
    _one_line_error(capsys, ["explore", r, "map", "--out", str(out)], "already exists")


def test_model_without_encoder_is_told_to_use_seeds(vae_run, capsys, monkeypatch):
    from genlab.models.autoencoders.vae import VAE

    # a GAN-like view of the same run: it can decode and sample latents but has no encoder
    monkeypatch.setattr(VAE, "capabilities", lambda self: {"decode", "sample_latent"})
    r = str(vae_run)
    _one_line_error(capsys, ["explore", r, "interpolate", "--from-index", "1", "--to-index", "2"],
                    "model vae has no encoder", "use --from-seed/--to-seed latents instead of --from-index")
    _one_line_error(capsys, ["explore", r, "traverse", "--index", "3", "--no-manifold"], "model vae has no encoder")
    _one_line_error(capsys, ["explore", r, "neighbors", "--features", "encoder"], "model vae has no encoder")
    # ...while prior latents still work
    assert main(["explore", r, "interpolate", "--from-seed", "3", "--to-seed", "4", "--out",
                 str(vae_run / "noenc.png")]) == 0


def test_labelled_prior_for_models_without_encoder(vae_run):
    """GAN arithmetic/maps: prior latents labelled by a classifier; unsure samples get label −1."""
    from genlab.explore import LatentSpace
    from genlab.runs import load_run

    space = LatentSpace(load_run(vae_run).model, name="vae")
    assert space.dim == 2 and space.shape == (2,)

    def classify(x):  # two "classes" by brightness rank: confident for the darkest/brightest thirds only
        rank = x.flatten(1).mean(1).argsort().argsort().float() / (len(x) - 1)  # 0..1
        p1 = torch.where(rank > 2 / 3, 0.95, torch.where(rank < 1 / 3, 0.05, 0.5))
        return torch.stack([1 - p1, p1], 1)

    z, x, y = space.labelled_prior(64, classify, torch.Generator().manual_seed(0), min_confidence=0.9)
    assert z.shape == (64, 2) and x.shape == (64, 1, 8, 8) and y.shape == (64,)
    conf = classify(x).max(1).values
    assert torch.equal(y == -1, conf < 0.9) and 15 <= int((y == -1).sum()) <= 25
    assert set(y.tolist()) <= {-1, 0, 1} and (y == 0).any() and (y == 1).any()
    # the same seed gives the same latents; decode(z) is what was classified
    z2, x2, _ = space.labelled_prior(64, classify, torch.Generator().manual_seed(0))
    assert torch.equal(z, z2) and torch.allclose(space.decode(z), x)
