"""Music and sequence data: piano rolls and event tokens by hand, MIDI round trips through music21, the piece
split, transposition, μ-law audio and rendering, user MIDI folders and their bad inputs, the series dataset."""
import numpy as np
import pytest
import torch

from genlab.cli.main import main
from genlab.data import load_dataset
from genlab.data.audio import mu_law_decode, mu_law_encode, render
from genlab.data.music import transpose_roll, transpose_tokens, roll_range, token_range, _shift_bounds
from genlab.data.music_corpus import abc_notes, chorale_names, split_of
from genlab.data.music_io import Vocabulary, from_roll, from_tokens, read_midi, to_roll, to_tokens, write_midi
from genlab.data.music_notes import Notes, notes_from_music21, normalise
from genlab.errors import GenlabError


def piece():
    # C4 quarter, E4 eighth at 1.0, G4 half at 1.5 (off the quarter grid), a chord at 4.0, a rest, A4 at 10
    return Notes.of([60, 64, 67, 60, 64, 69], [0, 1, 1.5, 4, 4, 10], [1, 1.5, 3.5, 5, 6, 11],
                    [80, 80, 80, 100, 100, 64])


def test_roll_keeps_the_notes_sounding_at_each_frame_start():
    roll = to_roll(piece(), 1.0)
    assert roll.shape == (11, 88) and roll.dtype == np.uint8
    on = {(t, k + 21) for t, k in zip(*np.nonzero(roll))}
    # E4 (1.0-1.5) sounds at frame 1's start; G4 (1.5-3.5) at frames 2 and 3; C4 chord 4; E4 4-5; A4 10
    assert on == {(0, 60), (1, 64), (2, 67), (3, 67), (4, 60), (4, 64), (5, 64), (10, 69)}
    back = from_roll(roll, 1.0)
    assert list(back.pitch) == [60, 64, 67, 60, 64, 69]
    assert list(back.start) == [0, 1, 2, 4, 4, 10] and list(back.end) == [1, 2, 4, 5, 6, 11]


def test_event_tokens_by_hand_and_back():
    vocab = Vocabulary(shifts=4, step=0.5)  # small shifts: a gap of 8 steps needs two TIME_SHIFT(4)
    n = Notes.of([60, 62], [0.0, 1.0], [1.0, 5.0], [80, 40])
    tok = to_tokens(n, vocab).tolist()
    on, off, shift, vel = 1, 89, vocab.shift0, vocab.velocity0
    expected = [vel + 20, on + 39, shift + 1, off + 39, vel + 10, on + 41, shift + 3, shift + 3, off + 41, 0]
    assert tok == expected
    back = from_tokens(tok, vocab)
    assert list(back.pitch) == [60, 62] and list(back.start) == [0, 1] and list(back.end) == [1, 5]
    assert list(back.velocity) == [82, 42]  # bin centres (v // 4) * 4 + 2
    assert vocab.size == 1 + 88 + 88 + 4 + 32


def test_tokens_round_trip_a_polyphonic_piece_with_re_struck_notes():
    vocab = Vocabulary()
    n = normalise(Notes.of([60, 60, 64, 67], [0, 0.5, 0, 3], [1, 2, 30, 3.25]))  # C4 re-struck while sounding
    assert list(zip(n.pitch, n.start, n.end)) == [(60, 0, 0.5), (64, 0, 30), (60, 0.5, 2), (67, 3, 3.25)]
    back = from_tokens(to_tokens(n, vocab), vocab)
    assert np.array_equal(back.pitch, n.pitch) and np.allclose(back.start, n.start) and np.allclose(back.end, n.end)


def test_midi_round_trip_reparses_with_music21(tmp_path):
    from music21 import converter

    n = piece()
    path = write_midi(n, tmp_path / "p.mid", tempo=96, program=0, bar=3.0)
    again, bar = read_midi(path)
    assert bar == 3.0 and np.array_equal(again.pitch, n.pitch)
    assert np.allclose(again.start, n.start, atol=1e-3) and np.allclose(again.end, n.end, atol=1e-3)
    m21, m21_bar = notes_from_music21(converter.parse(str(path), forceSource=True))
    assert m21_bar == 3.0
    assert sorted(zip(m21.pitch.tolist(), m21.start.tolist(), m21.end.tolist())) == \
        sorted(zip(n.pitch.tolist(), n.start.tolist(), n.end.tolist()))


def test_abc_tunes_apply_the_key_signature_and_ties():
    tune = "X:1\nT:test\nM:3/4\nL:1/8\nK:F\nB2 A2 G2 | F4- F2 |]\n"
    notes, bar = abc_notes(tune)
    assert bar == 3.0
    assert notes.pitch.tolist() == [70, 69, 67, 65]  # B is B-flat in F major; the tied F is one note
    assert notes.start.tolist() == [0, 1, 2, 3] and notes.end.tolist() == [1, 2, 3, 6]


def test_the_piece_split_is_fixed_by_name_and_keeps_variants_together():
    names = sorted(set(chorale_names()))
    assert len(names) == 350
    splits = [split_of(n) for n in names]
    counts = {s: splits.count(s) for s in ("train", "valid", "test")}
    assert 0.52 < counts["train"] / len(names) < 0.68 and 0.12 < counts["test"] / len(names) < 0.28
    assert split_of("bach/bwv69.6-a") == split_of("bach/bwv69.6")
    assert [split_of(n) for n in names] == splits  # deterministic


def test_transposition_moves_notes_and_stays_on_the_keyboard():
    x = torch.zeros(2, 4, 88)
    x[0, 0, 10], x[0, 1, 12] = 1, 1  # keys 10, 12
    x[1, 2, 86] = 1  # near the top: +5 must be clipped to +1
    low, high = roll_range(x)
    k = _shift_bounds(low, high, torch.tensor([-3, 5]))
    assert k.tolist() == [-3, 1]
    y = transpose_roll(x, k)
    assert y[0, 0, 7] == 1 and y[0, 1, 9] == 1 and y[1, 2, 87] == 1 and y.sum() == x.sum()
    tok = torch.tensor([[1 + 10, 89 + 10, 0, 180]])  # NOTE_ON key 10, NOTE_OFF key 10, EOS, a TIME_SHIFT
    low, high = token_range(tok)
    assert (low.item(), high.item()) == (10, 10)
    assert transpose_tokens(tok, torch.tensor([2])).tolist() == [[13, 101, 0, 180]]


def test_mu_law_codes_by_hand():
    assert mu_law_encode(np.array([-1.0, 0.0, 1.0])).tolist() == [0, 128, 255]
    x = np.linspace(-1, 1, 2001)
    err = np.abs(mu_law_decode(mu_law_encode(x)) - x)
    assert err.max() < 0.035 and err[np.abs(x) < 0.01].max() < 2e-4  # fine steps near 0, coarse near ±1
    assert err.max() > 0.01  # 8 bits are lossy


def test_rendering_a4_gives_440_hz():
    audio = render(Notes.of([69], [0.0], [2.0], [100]), tempo=60, program=0)  # 2 s of A4 on a piano
    assert audio.dtype == np.float32 and abs(len(audio) - 2.5 * 16000) < 2
    assert np.abs(audio).max() == pytest.approx(0.9, abs=1e-3)
    seg = audio[1600:16000]
    spectrum = np.abs(np.fft.rfft(seg * np.hanning(len(seg))))
    f = np.fft.rfftfreq(len(seg), 1 / 16000)[np.argmax(spectrum)]
    assert abs(f - 440.0) < 5.0


def _midi_folder(folder, n=12):
    for i in range(n):
        base = 48 + (i % 5)
        write_midi(Notes.of([base, base + 4, base + 7, base + 12], [0, 1, 2, 3], [1, 2, 3, 4.5]),
                   folder / f"piece-{i:02d}.mid")
    return folder


def test_midi_folder_splits_pads_and_transposes_only_training(tmp_path):
    folder = _midi_folder(tmp_path / "midi")
    train = load_dataset("midi-folder", "train", path=str(folder), length=8, transpose=3)
    test = load_dataset("midi-folder", "test", path=str(folder), length=8, transpose=3)
    assert train.tensors["x"].shape[1:] == (8, 88) and train.derived and not test.derived
    assert train.meta["sequence"]["frame"] == 0.25 and train.meta["sequence"]["repr"] == "roll"
    # 4.5 quarter notes = 18 sixteenth frames -> chunks of 8, 8, 2 (the last padded and masked)
    assert train.tensors["x_valid"].sum(1).tolist()[:3] == [8, 8, 2]
    b1 = train.batch(torch.arange(3), generator=torch.Generator().manual_seed(1))
    assert b1.x.sum() == train.tensors["x"][:3].float().sum()  # transposition keeps every note
    every = load_dataset("midi-folder", "all", path=str(folder), repr="tokens", length=64)
    assert every.info.fields["x"].kind == "tokens" and every.info.fields["x"].levels == 225


def test_bad_midi_inputs_are_one_line_errors(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["data", "info", "midi-folder", f"--data.path={empty}"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no .mid or .midi files" in err[0]
    folder = _midi_folder(tmp_path / "midi", 6)
    (folder / "broken.mid").write_bytes(b"MThd\x00\x00\x00\x06garbage")
    assert main(["data", "info", "midi-folder", f"--data.path={folder}", "--data.split=all"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "broken.mid is not a readable MIDI file" in err[0]
    assert main(["data", "info", "midi-folder", f"--data.path={folder}", "--data.split=all",
                 "--data.skip_bad=true"]) == 0
    assert "skipped 1 unreadable MIDI file" in capsys.readouterr().err
    with pytest.raises(GenlabError, match="is not a readable MIDI file"):
        read_midi(folder / "broken.mid")


def test_series_is_a_standardised_time_split():
    train = load_dataset("series", "train", length=12)
    test = load_dataset("series", "test", length=12)
    spec = train.info.fields["x"]
    assert spec.kind == "sequence" and spec.shape == (12, 1) and spec.units == "M/S" and spec.levels is None
    assert len(train) == 106 - 12 + 1 and test.tensors["x_valid"].sum() == 26  # 132 months: 106 train, 26 test
    x = train.all()  # model space: standardised by the training months
    first = x[:, 0, 0]
    assert abs(float(first.mean())) < 0.3 and 0.7 < float(first.std()) < 1.3
