"""The CLI end to end on tiny data, in-process, plus bad inputs -> one line and exit code 2."""
import json

import pytest

from genlab.cli.main import main

TINY = ["--model.hidden=32", "--model.latent_dim=4", "--model.channels=4", "--train.batch_size=32",
        "--train.steps=30", "--train.progress=false", "--train.log_every=10"]


def run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_help_and_list(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    code, out, _ = run(capsys, "list")
    assert code == 0 and "vae" in out and "fashion-mnist" in out and "ring8" in out
    code, out, _ = run(capsys, "train", "vae", "--help")
    assert code == 0 and "--model.latent_dim" in out and "--train.precision" in out
    code, out, _ = run(capsys, "train", "dcgan", "--help")  # the model's own trainer defaults
    assert code == 0 and "--train.lr=0.0002" in out and "--train.batch_size=64" in out


@pytest.fixture(scope="module")
def vae_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli") / "vae"
    assert main(["train", "vae", "--data", "digits", "--out", str(d), *TINY]) == 0
    return d


def test_train_writes_run_files(vae_run):
    for f in ("config.yaml", "model.safetensors", "metrics.jsonl",
              "loss_curves.png", "data_info.json"):
        assert (vae_run / f).is_file(), f
    assert (vae_run / "checkpoints" / "latest.json").is_file()


def test_sample_reconstruct_eval_probe(vae_run, tmp_path, capsys):
    code, out, err = run(capsys, "sample", str(vae_run), "-n", "16", "--out", str(tmp_path / "s.png"))
    assert code == 0 and (tmp_path / "s.png").stat().st_size > 0, err
    code, _, err = run(capsys, "sample", str(vae_run), "-n", "8", "--out", str(tmp_path / "s.npz"))
    assert code == 0, err
    code, out, err = run(capsys, "reconstruct", str(vae_run), "--out", str(tmp_path / "r.png"))
    assert code == 0 and "reconstructions" in out, err
    code, out, err = run(capsys, "eval", str(vae_run), "--k", "5", "--json", str(tmp_path / "e.json"))
    assert code == 0, err
    assert "test_nll_iwae5_bpd" in out and "test_elbo_nats" in out and "17-level" in out
    res = json.loads((tmp_path / "e.json").read_text())["likelihood"]
    assert 0 < res["test_nll_iwae5_bpd"] < 10 and res["test_nll_iwae5_nats"] <= -res["test_elbo_nats"] + 5
    code, out, err = run(capsys, "probe", str(vae_run), "--labels-per-class", "10,all", "--repeats", "2")
    assert code == 0, err
    assert "labels/class   10" in out and "labels/class  all" in out
    probe = json.loads((vae_run / "metrics.json").read_text())["probe"]["results"]
    assert 0.1 < probe["all"]["pixels_acc"] <= 1.0


def test_resume_extends_a_finished_run(vae_run, capsys):
    code, out, err = run(capsys, "train", "--resume", str(vae_run), "--train.steps=40")
    assert code == 0, err
    rows = (vae_run / "metrics.jsonl").read_text().splitlines()
    assert json.loads(rows[-1])["step"] == 40


BAD = [
    (["train", "vea", "--data", "digits"], "unknown model 'vea'"),
    (["train", "vae", "--data", "digitz"], "unknown dataset 'digitz'"),
    (["train", "vae", "--data", "digits", "--model.latent_dim=0"], "model.latent_dim=0"),
    (["train", "vae", "--data", "digits", "--train.lr=abc"], "train.lr='abc'"),
    (["train", "vae", "--data", "digits", "--model.nope=1"], "unknown key"),
    (["train", "vae", "--data", "digits", "--config", "/nonexistent.yaml"], "not found"),
    (["train", "vae", "--data", "digits", "--train.batch_size=5000"], "exceeds the dataset size"),
    (["train", "vae"], "name a dataset"),
    (["sample", "/nonexistent-run", "--out", "x.png"], "does not exist"),
    (["probe", "/nonexistent-run"], "does not exist"),
    (["eval"], "give a run directory"),
    (["eval", "--real", "fashion-mnist:test"], "go together"),
]


@pytest.mark.parametrize("args,message", BAD)
def test_bad_input_is_one_line_exit_2(args, message, capsys):
    code, out, err = run(capsys, *args)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("genlab: error:") and message in lines[0], err
    assert "Traceback" not in err


def test_outputs_never_overwrite(vae_run, tmp_path, capsys):
    target = tmp_path / "mine.png"
    target.write_bytes(b"precious")
    code, _, err = run(capsys, "sample", str(vae_run), "--out", str(target))
    assert code == 2 and "already exists" in err and target.read_bytes() == b"precious"
    code, _, err = run(capsys, "train", "vae", "--data", "digits", "--out", str(vae_run), *TINY)
    assert code == 2 and "already exists" in err
    code, _, err = run(capsys, "sample", str(vae_run), "-n", "0", "--out", str(tmp_path / "z.png"))
    assert code == 2 and "positive" in err


@pytest.mark.parametrize("model", ["ae", "vae"])
@pytest.mark.parametrize("data", ["two-moons", "fashion-mnist"])
def test_autoencoders_train_on_toys_and_fashion_mnist(model, data, tmp_path, capsys):
    out = tmp_path / "run"
    code, _, err = run(capsys, "train", model, "--data", data, "--out", str(out), *TINY, "--train.steps=5",
                       "--data.limit=256")
    assert code == 0, err
    code, text, err = run(capsys, "eval", str(out), "--n", "64", "--k", "3")
    assert code == 0, err
    assert "test_rec_mse_per_dim" in text
    if model == "vae":
        conv = "exact probability of the 256-level data" if data == "fashion-mnist" else "differential density"
        assert conv in text


def test_download_verifies_hashes(tmp_path, monkeypatch):
    from genlab.data import fashion_mnist as fm
    monkeypatch.setattr(fm, "URL", fm.DEBIAN_DIR.as_uri() + "/")  # a local mirror stands in for the network
    dest = fm.download(tmp_path / "cache")
    assert sorted(p.name for p in dest.iterdir()) == sorted(fm.FILES)
    monkeypatch.setattr(fm, "URL", (tmp_path / "nowhere").as_uri() + "/")
    from genlab.errors import GenlabError
    with pytest.raises(GenlabError, match="could not download"):
        fm.download(tmp_path / "other")
