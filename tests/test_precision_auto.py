"""train.precision=auto (training/precision.py): the hardware rule, the timing that decides on CPUs with
AVX-512 BF16 and no AMX, and that measuring leaves a run bit-identical to one run at the chosen precision."""
import json
import time

import pytest
import torch

from genlab.cli.main import main
from genlab.errors import GenlabError
from genlab.training import precision as P

TINY = ["--model.hidden=32", "--model.latent_dim=4", "--model.channels=4", "--train.batch_size=32",
        "--train.progress=false", "--train.log_every=5", "--train.ckpt_every=5"]
CPU = torch.device("cpu")


def _cpu(monkeypatch, *, bf16: bool, amx: bool):
    monkeypatch.setattr(P, "bf16_supported", lambda device: bf16 or amx)
    monkeypatch.setattr(P, "amx_supported", lambda: amx)


def test_the_hardware_rule_and_the_override(monkeypatch):
    monkeypatch.delenv("GENLAB_AUTO_PRECISION", raising=False)
    _cpu(monkeypatch, bf16=False, amx=False)
    assert P.resolve_precision("auto", CPU) == "fp32" and P.resolve_precision("bf16", CPU) == "bf16"
    _cpu(monkeypatch, bf16=True, amx=True)
    assert P.resolve_precision("auto", CPU) == "bf16"
    _cpu(monkeypatch, bf16=True, amx=False)
    assert P.resolve_precision("auto", CPU) == P.MEASURE and P.resolve_precision("fp32", CPU) == "fp32"
    monkeypatch.setenv("GENLAB_AUTO_PRECISION", "fp32")
    assert P.resolve_precision("auto", CPU) == "fp32"
    monkeypatch.setenv("GENLAB_AUTO_PRECISION", "fast")
    with pytest.raises(GenlabError, match="bf16 or fp32"):
        P.resolve_precision("auto", CPU)


@pytest.mark.parametrize("fp32_s,bf16_s,want", [(0.02, 0.005, "bf16"), (0.005, 0.02, "fp32"),
                                                (0.02, 0.019, "fp32")])  # < 10 % faster is not worth it
def test_the_faster_precision_is_kept(fp32_s, bf16_s, want):
    calls = []

    def step(p):
        calls.append(p)
        time.sleep(fp32_s if p == "fp32" else bf16_s)

    times = P.measure_step(step, reps=2)
    assert P.choose(times) == want
    assert calls == ["fp32", "bf16"] * 3  # warm-up, then interleaved
    assert times["fp32"] == pytest.approx(fp32_s, abs=0.004) and times["bf16"] == pytest.approx(bf16_s, abs=0.004)


def test_measuring_leaves_the_run_as_a_run_at_the_chosen_precision(monkeypatch, tmp_path, capsys):
    """A measured run (its choice in precision.json, the report and the checkpoint) has the same weights as a
    run asked for that precision; resuming keeps the choice without measuring again."""
    from genlab.training import trainer as T

    monkeypatch.delenv("GENLAB_AUTO_PRECISION", raising=False)
    monkeypatch.setattr(T, "resolve_precision", lambda p, d: P.MEASURE if p == "auto" else p)
    monkeypatch.setattr(T, "_PICKED", {})
    a = tmp_path / "auto"
    assert main(["train", "vae", "--data", "digits", "--out", str(a), *TINY, "--train.steps=10"]) == 0
    said = capsys.readouterr()
    assert "train.precision=auto:" in said.out + said.err
    rec = json.loads((a / "precision.json").read_text())
    assert rec["requested"] == "auto" and rec["used"] in ("fp32", "bf16") and "measured one step" in rec["why"]
    b = tmp_path / "fixed"
    assert main(["train", "vae", "--data", "digits", "--out", str(b), *TINY, "--train.steps=10",
                 f"--train.precision={rec['used']}"]) == 0
    assert (a / "model.safetensors").read_bytes() == (b / "model.safetensors").read_bytes()
    assert "measured one step" in (a / "report.html").read_text()
    # resume: the checkpoint's choice, no new measurement (a measurement now would raise)
    monkeypatch.setattr(T.Trainer, "_measure_precision", lambda self: (_ for _ in ()).throw(AssertionError))
    monkeypatch.setattr(T, "_PICKED", {})
    assert main(["train", "--resume", str(a), "--train.steps=15"]) == 0
    again = json.loads((a / "precision.json").read_text())
    assert again["used"] == rec["used"] and "checkpoint" in again["why"]
