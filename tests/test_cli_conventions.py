"""The CLI's conventions: help with one line and the allowed values of every key, "did you mean" for
keys, options, commands and presets, `genlab list presets`, one spelling of -n/--n, --out and --device,
one-line errors from argparse too, the progress line, and `genlab --help` / `genlab list` without torch."""
import io
import os
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest

from genlab.cli.main import COMMANDS, build_parser, main, options_of
from genlab.config import DataConfig, TrainConfig
from genlab.config_help import key_help
from genlab.progress import Progress

ROOT = Path(__file__).resolve().parents[1]


def run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(capsys, args, *needles):
    code, out, err = run(capsys, *args)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("genlab: error:"), err
    for n in needles:
        assert n in lines[0], (n, lines[0])
    return lines[0]


# --- help: one line and the allowed values of every key ------------------------------------------
def test_train_help_lists_allowed_values_and_a_line_per_key(capsys):
    code, out, _ = run(capsys, "train", "vae", "--help")
    assert code == 0
    lines = out.splitlines()
    line = next(ln for ln in lines if ln.strip().startswith("--model.likelihood="))
    assert "auto|bernoulli|gaussian|logistic" in line  # from the source comment of VAEConfig
    line = next(ln for ln in lines if ln.strip().startswith("--train.precision="))
    assert "auto|bf16|fp32" in line and "arithmetic" in line  # TrainConfig field metadata
    assert "true|false" in next(ln for ln in lines if ln.strip().startswith("--train.tensorboard="))
    assert "adam|adamw|rmsprop|sgd" in next(ln for ln in lines if ln.strip().startswith("--train.optimizer="))
    for f in fields(TrainConfig) + fields(DataConfig):  # every key is shown, with its own help
        section = "train" if f in fields(TrainConfig) else "data"
        shown = [ln for ln in lines if ln.strip().startswith(f"--{section}.{f.name}=")]
        assert len(shown) == 1 and f.metadata.get("help") and f.metadata["help"] in shown[0], f.name
    code, out, _ = run(capsys, "train", "dcgan", "--help")  # a key naming a registered component
    loss = next(ln for ln in out.splitlines() if ln.strip().startswith("--model.loss="))
    assert "hinge" in loss and "wgan-gp" in loss and "nonsaturating" in loss


def test_choices_in_metadata_are_enforced_with_a_suggestion(capsys):
    one_line_error(capsys, ["train", "vae", "--data", "digits", "--train.precision=fp3"],
                   "train.precision='fp3' is invalid; expected auto, bf16 or fp32", "did you mean fp32?")
    one_line_error(capsys, ["train", "vae", "--data", "digits", "--data.layout=nwhc"], "data.layout", "nhwc")
    rows = {k.key: k for k in key_help(TrainConfig)}
    assert rows["on_nan"].choices == ("stop", "rollback") and rows["compile"].choices == (True, False)


# --- did you mean --------------------------------------------------------------------------------
@pytest.mark.parametrize("args,needles", [
    (["train", "vae", "--data", "digits", "--model.latnet_dim=3"], ["unknown key", "did you mean model.latent_dim?"]),
    (["train", "vae", "--data", "digits", "--train.precison=fp32"], ["did you mean train.precision?"]),
    (["train", "vae", "--data", "digits", "--trian.lr=1e-3"], ["did you mean --train.lr?"]),
    (["train", "vae", "--data", "digits", "--ouut=runs/x"], ["unrecognised option --ouut", "did you mean --out?"]),
    (["train", "--config", "vae-fasion-mnist"], ["unknown preset", "did you mean vae-fashion-mnist?"]),
    (["trian", "vae"], ["unknown command 'trian'", "did you mean train?"]),
    (["list", "model"], ["invalid choice", "did you mean models?"]),
    (["eval", "--real", "digits:test", "--fake", "digits:test", "--precision", "fp16"], ["did you mean bf16?"]),
    (["train", "vea", "--data", "digits"], ["did you mean 'vae'?"]),
    (["report", "x", "--froce"], ["--froce", "did you mean --force?"]),
])
def test_misspellings_get_a_suggestion(capsys, args, needles):
    one_line_error(capsys, args, *needles)


def test_argparse_errors_are_one_line(capsys):
    one_line_error(capsys, ["sample"], "the following arguments are required", "genlab sample --help")
    one_line_error(capsys, ["sample", "r", "-n", "many", "--out", "x.png"], "invalid int value")
    one_line_error(capsys, ["sample", "r", "--out", "x.png", "--device", "gpu"], "--device 'gpu' is invalid")


# --- list ----------------------------------------------------------------------------------------
def test_list_presets(capsys):
    code, out, _ = run(capsys, "list", "presets")
    assert code == 0
    for p in (ROOT / "src" / "genlab" / "configs").glob("*.yaml"):
        assert p.stem in out
    assert "(model dcgan) The demo GAN" in out and "(model vae)" in out
    code, out, _ = run(capsys, "list")
    assert "presets:" in out and "models:" in out and "optimizers:" in out


# --- one spelling of -n/--n, --out, --device -----------------------------------------------------
COUNTS = {  # command line up to the count -> command
    "sample": ["sample", "r", "--out", "x.png"],
    "reconstruct": ["reconstruct", "r", "--out", "x.png"],
    "complete": ["complete", "r", "--out", "x.png"],
    "density": ["density", "r", "--out", "x.png"],
    "eval": ["eval", "r"],
    "data": ["data", "preview", "digits", "--out", "x.png"],
    "explore": ["explore", "r", "neighbors"],
    "quiz": ["quiz", "r", "--out", "x.html"],
}


@pytest.mark.parametrize("command", sorted(COUNTS))
@pytest.mark.parametrize("flag", ["-n", "--n"])
def test_n_is_spelt_both_ways_everywhere(command, flag):
    args, _ = build_parser(command).parse_known_args([*COUNTS[command], flag, "7"])
    assert args.n == 7


@pytest.mark.parametrize("command", ["sample", "reconstruct", "complete", "density", "eval", "probe", "explore",
                                     "quiz"])
def test_device_has_one_default_and_out_one_name(command):
    parser = build_parser(command)
    opts = options_of(parser, command)
    assert "--device" in opts and "--out" in opts or command == "probe"
    argv = {"explore": ["explore", "r", "map"], "eval": ["eval", "r"], "probe": ["probe", "r"]}.get(
        command, [command, "r", "--out", "x.png"])
    args, _ = parser.parse_known_args(argv)
    assert args.device == "auto"
    assert not [o for o in opts if o in ("--json", "--output", "--dest")] or command == "eval"  # eval: --json = --out


def test_every_command_is_listed_with_one_line(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for name in COMMANDS:
        assert f"    {name}" in out


def test_train_device_is_train_device(capsys, tmp_path):
    code, _, err = run(capsys, "train", "vae", "--data", "digits", "--device", "cpu", "--out", str(tmp_path / "r"),
                       "--train.steps=1", "--train.progress=false", "--data.limit=64", "--train.batch_size=16")
    assert code == 0, err
    assert "device: cpu" in (tmp_path / "r" / "config.yaml").read_text()


# --- fast: no torch for --help and list ----------------------------------------------------------
def test_help_and_list_import_no_torch(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "XDG_CACHE_HOME": str(tmp_path)}
    check = ("import sys\nfrom genlab.cli.main import main\n"
             "try:\n    main({argv})\nexcept SystemExit:\n    pass\n"
             "assert 'torch' not in sys.modules, 'torch imported'\nprint('ok')")
    run1 = subprocess.run([sys.executable, "-c", check.format(argv=["list", "models"]).replace(
        "assert 'torch'", "0 and 'torch'")], env=env, capture_output=True, text=True)  # fills the cache
    assert run1.returncode == 0 and "vae" in run1.stdout, run1.stderr
    assert list(tmp_path.glob("genlab/catalog-*.json"))
    for argv in (["--help"], ["list"], ["list", "presets"], ["trian"]):
        r = subprocess.run([sys.executable, "-c", check.format(argv=argv)], env=env, capture_output=True, text=True)
        assert r.returncode == 0 and r.stdout.strip().endswith("ok"), (argv, r.stderr)


def test_catalog_follows_the_code(tmp_path, monkeypatch):
    from genlab.cli import catalog

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    first = catalog.catalog()
    key = catalog.source_key()
    assert (tmp_path / "genlab" / f"catalog-{key}.json").is_file()
    assert "vae" in {e["name"] for e in first["models"]}
    monkeypatch.setattr(catalog, "source_key", lambda: "edited")  # a changed source tree: a new key
    assert catalog.catalog() == first and (tmp_path / "genlab" / "catalog-edited.json").is_file()
    assert not (tmp_path / "genlab" / f"catalog-{key}.json").exists()  # the stale one is removed


# --- the progress line ---------------------------------------------------------------------------
class Terminal(io.StringIO):
    def isatty(self):
        return True


@pytest.mark.parametrize("width", [40, 80, 200])
def test_progress_line_fits_the_terminal_with_elapsed_and_eta(width):
    term = Terminal()
    p = Progress(1000, "train", stream=term, width=width)
    p.t0 -= 5.0  # 5 s in
    p.set(250, loss=0.1234, kl=3.5)
    line = p.line()
    assert len(line) < width and "0:05 elapsed" in line and "ETA 0:15" in line and "250/1000" in line
    if width >= 80:
        assert "loss=0.1234" in line  # the values go before the label
    if width >= 120:
        assert "[" in line  # and the bar before the values
    p.set(1000)
    drawn = [seg for seg in term.getvalue().replace("\n", "\r").split("\r") if seg.strip()]
    assert all(len(seg) < width for seg in drawn) and "100%" in drawn[-1]


def test_progress_in_a_log_writes_rarely():
    log = io.StringIO()  # not a terminal
    p = Progress(100, "eval", stream=log, log_every=10, final_line=False)
    for _ in range(100):
        p.update(1)
    assert log.getvalue() == ""  # a quick evaluation leaves the log alone
    p = Progress(100, "eval", stream=log, log_every=10)
    p.t0 -= 11
    p.update(50)
    p.update(50)
    assert len(log.getvalue().splitlines()) == 2 and "100%" in log.getvalue()


def test_evaluations_report_progress():
    from genlab.metrics.quality import evaluate_paths

    term = Terminal()
    p = Progress(0, "eval samples", stream=term, width=100)
    evaluate_paths("digits:test", "digits:train", metrics=["fid"], extractor="digits-classifier", n=200,
                   device=__import__("torch").device("cpu"), seed=0, progress=p)
    assert p.done == p.total and p.total in (200, 400)  # fake features, plus real ones unless cached
    assert "100%" in term.getvalue() and "elapsed" in term.getvalue()


def test_every_option_of_every_command_has_help():
    import argparse

    missing = []
    for command in COMMANDS:
        parser = build_parser(command)
        todo = [(command, parser._subparsers._group_actions[0].choices[command])]
        while todo:
            name, sub = todo.pop()
            for a in sub._actions:
                if isinstance(a, argparse._SubParsersAction):
                    todo += [(f"{name} {k}", v) for k, v in a.choices.items()]
                elif not a.help and a.dest != "help":
                    missing.append(f"{name} {'/'.join(a.option_strings) or a.dest}")
    assert not missing, missing


def test_every_key_of_every_registered_model_and_of_train_and_data_has_help_text():
    import genlab.components  # noqa: F401
    from genlab.registry import MODELS

    missing = [f"{name}: model.{k.key}" for name in sorted(MODELS)
               for k in key_help(MODELS.entry(name).meta["config"]) if not k.help]
    missing += [f"train.{k.key}" for k in key_help(TrainConfig) if not k.help]
    missing += [f"data.{k.key}" for k in key_help(DataConfig) if not k.help]
    assert not missing, missing
