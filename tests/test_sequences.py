"""Sequence models: key/value-cache and WaveNet queue generation identical to recomputing the prefix,
causality, exact NLL by hand, bf16, and the CLI on a user MIDI folder (train -> sample .mid/.wav/.png,
a prompt, eval) with its bad inputs."""
import json
import math

import numpy as np
import pytest
import torch

from genlab.cli.main import main
from genlab.errors import GenlabError
from genlab.fields import DataInfo, FieldSpec
from genlab.metrics.sequence import evaluate_sequence
from genlab.models.sequence.bernoulli import Bernoulli, BernoulliConfig
from genlab.models.sequence.lstm import LSTM, LSTMConfig
from genlab.models.sequence.transformer import Transformer, TransformerConfig
from genlab.models.sequence.wavenet import WaveNet, WaveNetConfig

ROLL = DataInfo.of({"x": FieldSpec((12, 88), "sequence", 2, valid="x_valid"), "x_valid": FieldSpec((12,), "mask")})
TOKENS = DataInfo.of({"x": FieldSpec((40,), "tokens", 225, valid="x_valid", channels=("events",)),
                      "x_valid": FieldSpec((40,), "mask")})
AUDIO = DataInfo.of({"x": FieldSpec((64,), "tokens", 256, valid="x_valid", channels=("mu-law",)),
                     "x_valid": FieldSpec((64,), "mask")})


def build(cls, cfg, info, seed=0):
    torch.manual_seed(seed)
    return cls(cfg, info).eval()


def test_kv_cache_sampling_gives_the_tokens_of_recomputing_the_prefix():
    model = build(Transformer, TransformerConfig(width=32, heads=4, layers=2, dropout=0.0), TOKENS)
    a = model.generate_steps(3, 40, generator=torch.Generator().manual_seed(5), cached=True)
    b = model.generate_steps(3, 40, generator=torch.Generator().manual_seed(5), cached=False)
    assert a.dtype == torch.long and torch.equal(a, b)
    assert len(set(a.flatten().tolist())) > 5  # it did sample (not a constant sequence)
    # the cached step features are the full causal pass's, position by position
    x = torch.randint(0, 225, (2, 10))
    full = model.backbone(model.embed(x))
    cache = model.new_state(2, 10)
    steps = [model.step_features(model.embed.one(x[:, t - 1] if t else None, 2), cache) for t in range(10)]
    assert torch.allclose(torch.cat(steps, 1), full, atol=1e-5)


@pytest.mark.parametrize("info", [AUDIO, ROLL], ids=["mu-law", "roll"])
def test_fast_wavenet_generation_is_identical_to_naive(info):
    model = build(WaveNet, WaveNetConfig(channels=8, skip=16, layers=4, stacks=2), info)
    a = model.generate_steps(2, info.spec.shape[0], generator=torch.Generator().manual_seed(1), cached=True)
    b = model.generate_steps(2, info.spec.shape[0], generator=torch.Generator().manual_seed(1), cached=False)
    assert torch.equal(a, b) and a.float().std() > 0
    assert model.receptive_field == 1 + 2 * (1 + 2 + 4 + 8)


@pytest.mark.parametrize("name", ["transformer", "wavenet", "lstm"])
def test_output_at_t_ignores_inputs_at_t_and_later(name):
    cls, cfg = {"transformer": (Transformer, TransformerConfig(width=16, heads=2, layers=2, dropout=0.0)),
                "wavenet": (WaveNet, WaveNetConfig(channels=8, skip=8, layers=3)),
                "lstm": (LSTM, LSTMConfig(width=8, hidden=8, layers=2))}[name]
    model = build(cls, cfg, ROLL)
    x = (torch.rand(2, 12, 88, generator=torch.Generator().manual_seed(0)) < 0.1).float()
    base = model.params(x)
    for t in (0, 5, 11):
        y = x.clone()
        y[:, t:] = 1 - y[:, t:]  # change every input from t on
        out = model.params(y)
        assert torch.equal(out[:, :t + 1], base[:, :t + 1]), f"{name}: output <= {t} moved"
        if t < 11:
            assert not torch.allclose(out[:, t + 1], base[:, t + 1]), f"{name}: output {t + 1} ignores x_{t}"


def test_nll_by_hand_bernoulli_and_uniform_models():
    model = build(Bernoulli, BernoulliConfig(), ROLL)
    b = torch.full((88,), -2.0)
    b[:3] = torch.tensor([0.0, 1.0, -1.0])
    model.output.bias.data.copy_(b)
    x = torch.zeros(1, 12, 88)
    x[0, :, 0] = 1
    x[0, ::2, 1] = 1  # frames 0, 2, 4, ...: key 1 on
    sig = lambda v: 1 / (1 + math.exp(-v))  # noqa: E731
    per_frame_on = -(math.log(sig(0.0)) + math.log(sig(1.0)) + math.log(1 - sig(-1.0)) + 85 * math.log(1 - sig(-2.0)))
    per_frame_off = per_frame_on + math.log(sig(1.0)) - math.log(1 - sig(1.0))
    lp = model.step_log_prob(x)
    assert lp[0, 0].item() == pytest.approx(-per_frame_on, rel=1e-6)
    assert lp[0, 1].item() == pytest.approx(-per_frame_off, rel=1e-6)

    class Split:  # a tiny split with padding: only the valid frames count
        name, split, meta = "hand", "test", {}
        info = ROLL

        def __len__(self):
            return 1

        def batch(self, idx, device):
            from genlab.fields import Batch
            valid = torch.zeros(1, 12)
            valid[0, :5] = 1
            return Batch(fields={"x": x, "x_valid": valid})

    res = evaluate_sequence(model, Split())
    want = (3 * per_frame_on + 2 * per_frame_off) / 5  # frames 0, 2, 4 have key 1 on; 1, 3 off
    assert res["nll_per_frame_nats"] == pytest.approx(want, rel=2e-6)  # float32 step log-probabilities
    assert res["nll_per_frame_bits"] == pytest.approx(want / math.log(2), rel=2e-6) and res["frames"] == 5
    # a transformer whose output layer is zero predicts 1/2 per key and 1/V per token: 88 ln 2, ln 225
    for info, want in ((ROLL, 88 * math.log(2)), (TOKENS, math.log(225))):
        t = build(Transformer, TransformerConfig(width=16, heads=2, layers=1, dropout=0.0), info)
        torch.nn.init.zeros_(t.output.weight), torch.nn.init.zeros_(t.output.bias)
        data = torch.zeros(2, *info.spec.shape) if info is ROLL else torch.randint(0, 225, (2, 40))
        assert torch.allclose(-t.step_log_prob(data), torch.full(data.shape[:2], want), rtol=1e-6)


def test_bf16_autocast_forward_is_finite_and_close():
    model = build(Transformer, TransformerConfig(width=32, heads=4, layers=2, dropout=0.0), TOKENS)
    x = torch.randint(0, 225, (2, 40))
    ref = model.step_log_prob(x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        low = model.step_log_prob(x)
    assert low.dtype == torch.float32 and torch.isfinite(low).all()
    assert (low - ref).abs().max() < 0.15 * ref.abs().max()


def test_prompt_longer_than_the_context_is_refused():
    model = build(Transformer, TransformerConfig(width=16, heads=2, layers=1, context=16, dropout=0.0), ROLL)
    with pytest.raises(GenlabError, match="context of 16 frames"):
        model.generate_steps(1, 8, prompt=torch.zeros(1, 12, 88))
    assert model.generate_steps(1, 4, prompt=torch.zeros(1, 12, 88)).shape == (1, 16, 88)


def _folder(path):
    from genlab.data.music_corpus import split_of
    from genlab.data.music_io import write_midi
    from genlab.data.music_notes import Notes

    path.mkdir()
    for i in range(12):
        base = 55 + i % 5
        write_midi(Notes.of([base, base + 4, base + 7, base + 2], [0, 0, 1, 2], [1, 2, 2, 4]), path / f"p{i:02d}.mid")
    assert {split_of(f"p{i:02d}.mid") for i in range(12)} == {"train", "valid", "test"}
    return path


@pytest.fixture(scope="module")
def music_run(tmp_path_factory):
    """A 3-step transformer run on a folder of 12 small MIDI files (eighth-note frames, 24 per example)."""
    tmp = tmp_path_factory.mktemp("music")
    folder, run = _folder(tmp / "midi"), tmp / "run"
    code = main(["train", "transformer", "--data", "midi-folder", f"--data.path={folder}", "--data.frame=0.5",
                 "--data.length=24", "--model.width=16", "--model.heads=2", "--model.layers=1", "--train.steps=3",
                 "--train.batch_size=4", "--train.progress=false", "--out", str(run)])
    assert code == 0
    return folder, run


def test_cli_samples_midi_wav_png_and_evaluates(music_run, tmp_path, capsys):
    from music21 import converter

    folder, run = music_run
    assert main(["sample", str(run), "--out", str(tmp_path / "s.mid"), "--seed", "1"]) == 0
    parsed = converter.parse(str(tmp_path / "s.mid"), forceSource=True)  # our MIDI re-parses with music21
    assert len(parsed.flatten().notes) >= 1
    assert main(["sample", str(run), "-n", "2", "--out", str(tmp_path / "s.wav")]) == 0
    import wave
    with wave.open(str(tmp_path / "s-01.wav")) as w:
        assert w.getframerate() == 16000 and w.getnframes() > 16000 * 0.5
    assert main(["sample", str(run), "-n", "3", "--out", str(tmp_path / "s.png")]) == 0
    assert (tmp_path / "s.png").stat().st_size > 1000
    out = capsys.readouterr().out
    assert "MIDI file" in out and "WAV file" in out
    assert main(["eval", str(run)]) == 0
    printed = capsys.readouterr().out
    assert "nll_per_frame_nats" in printed and "nll_per_frame_bits" in printed
    rec = [r for r in json.loads((run / "metrics.json").read_text())["records"] if r["kind"] == "sequence-nll"]
    nats = rec[0]["values"]["nll_per_frame_nats"]
    assert 0 < nats < 88 * math.log(2) * 1.2
    assert rec[0]["values"]["nll_per_frame_bits"] == pytest.approx(nats / math.log(2))
    assert "sequence-nll" in (run / "report.html").read_text()


def test_cli_continues_a_prompt_and_refuses_one_too_long(music_run, tmp_path, capsys):
    folder, run = music_run
    prompt = folder / "p03.mid"
    assert main(["sample", str(run), "--prompt", str(prompt), "--prompt-bars", "1", "--bars", "2",
                 "--out", str(tmp_path / "c.npy")]) == 0
    x = np.load(tmp_path / "c.npy")
    assert x.shape == (1, 8 + 16, 88)  # 1 bar of prompt (8 eighths in 4/4) + 2 bars
    from genlab.data.music_io import read_midi, to_roll
    notes, _ = read_midi(prompt)
    assert np.array_equal(x[0, :8], to_roll(notes, 0.5, 8))  # the prompt is kept as given
    assert main(["sample", str(run), "--prompt", str(prompt), "--bars", "1", "--out", str(tmp_path / "c.mid")]) == 0
    capsys.readouterr()
    # 2 bars of prompt (16 frames) + 2 bars (16) exceed the context of 24 frames: one line, exit 2
    from genlab.data.music_io import write_midi
    from genlab.data.music_notes import Notes
    long = write_midi(Notes.of([60, 62, 64], [0, 4, 8], [4, 8, 12]), tmp_path / "long.mid")  # 3 bars
    assert main(["sample", str(run), "--prompt", str(long), "--prompt-bars", "2", "--bars", "2",
                 "--out", str(tmp_path / "d.mid")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "context of 24 frames" in err[0] and not (tmp_path / "d.mid").exists()
    assert main(["sample", str(run), "--out", str(tmp_path / "x.mid"), "--prompt", str(tmp_path / "nope.mid")]) == 2
    assert "does not exist" in capsys.readouterr().err
