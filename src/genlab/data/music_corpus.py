"""The music corpora bundled with music21, parsed once into notes and cached; the split by piece.

Corpora (all offline, in PyPI `music21`'s corpus):
- `chorales`: the 371 four-part chorales of J. S. Bach in Riemenschneider's numbering
  (`music21.corpus.chorales.Iterator`), MusicXML, parsed with music21 (ties merged; grace notes left out).
- `folk`: the Essen folk-song collection as bundled (`essenFolksong/*.abc`, 31 files, 8,450 monophonic
  tunes without the four small test files), read with music21's ABC tokenizer (key signatures, broken
  rhythms, tuplets and ties applied by music21; repeats are not expanded: each tune is its written line).

Split (fixed, by piece, independent of which or how many pieces are read): u = the first 8 hex digits of
SHA-256("genlab-music-split:" + piece name) / 2^32; train if u < 0.6, valid if u < 0.8, else test —
the 60/20/20 proportions of the JSB Chorales benchmark split (229/76/77 of 382), not its pieces. A lettered
variant ('bwv69.6-a') is hashed by its base name, so a chorale and its variant never straddle two splits.

Cache: $XDG_CACHE_HOME/genlab/music/ (default ~/.cache/genlab/music): the whole corpus is parsed once into
one .npz (a split is a filter on it; `data.n` parses only the first n pieces of a split, an entry of its own),
keyed by the list of piece names and the SHA-256 of the source of the parsing functions (`code_version`: a
change of the parsing never reads a stale entry, a change of the split never re-parses); plain arrays only
(np.load allow_pickle=False): the notes of all pieces concatenated, piece offsets, bar lengths and the
names as JSON text. Piece names are de-duplicated (Riemenschneider's list names 22 files twice). Parsing every chorale
takes ~3 min here once; the Essen tunes ~2 min.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import warnings
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from ..errors import GenlabError
from .music_notes import Notes, normalise, notes_from_music21
from .npz_cache import write_npz

SPLIT_SALT = "genlab-music-split:"
SPLIT_EDGES = (0.6, 0.8)
MUSIC_SPLITS = ("train", "valid", "test", "all")
HERE = Path(__file__).resolve().parent


def split_of(name: str) -> str:
    """train / valid / test of a piece, from the hash of its name (module docstring); lettered variants of
    one chorale ('bach/bwv69.6' and 'bach/bwv69.6-a', which music21 parses to the same notes) share one."""
    base = re.sub(r"-[a-z]+$", "", name)
    u = int(hashlib.sha256((SPLIT_SALT + base).encode()).hexdigest()[:8], 16) / 2 ** 32
    return "train" if u < SPLIT_EDGES[0] else "valid" if u < SPLIT_EDGES[1] else "test"


def split_rule() -> str:
    return (f"by piece: u = sha256('{SPLIT_SALT}' + name without a '-letters' variant suffix)[:8] / 2^32; "
            f"train u < {SPLIT_EDGES[0]}, "
            f"valid u < {SPLIT_EDGES[1]}, test otherwise (60/20/20)")


def in_split(names: list[str], split: str) -> list[str]:
    return list(names) if split == "all" else [n for n in names if split_of(n) == split]


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "genlab" / "music"


def code_version(corpus: str = "chorales") -> str:
    """SHA-256 (16 hex digits) of the source of the functions that turn a corpus's files into the cached notes:
    a change of that parsing gives a new key; a change of the split or of anything else keeps the cache."""
    import inspect

    from . import music_notes

    parts = [music_notes.Notes.of, music_notes.normalise, pack, unpack]
    parts += ([music_notes.notes_from_music21, _chorale_file, parse_chorale] if corpus == "chorales"
              else [essen_files, essen_tunes, abc_notes])
    h = hashlib.sha256()
    for fn in parts:
        h.update(inspect.getsource(fn).encode())
    return h.hexdigest()[:16]


# --- the pieces as stored -------------------------------------------------------------------------

def pack(pieces: list[tuple[str, Notes, float]]) -> dict[str, np.ndarray]:
    """Pieces (name, notes, bar) -> plain arrays (concatenated notes + offsets)."""
    lens = [len(n) for _, n, _ in pieces]
    cat = lambda attr, dt: np.concatenate([getattr(n, attr) for _, n, _ in pieces] or [np.zeros(0)]).astype(dt)  # noqa: E731
    return {"pitch": cat("pitch", np.int16), "start": cat("start", np.float64), "end": cat("end", np.float64),
            "velocity": cat("velocity", np.uint8), "offsets": np.cumsum([0] + lens).astype(np.int64),
            "bars": np.asarray([b for _, _, b in pieces], np.float64),
            "names": np.array(json.dumps([name for name, _, _ in pieces]))}


def unpack(arrays: dict[str, np.ndarray]) -> list[tuple[str, Notes, float]]:
    names = json.loads(str(arrays["names"]))
    off = arrays["offsets"]
    out = []
    for i, name in enumerate(names):
        sl = slice(int(off[i]), int(off[i + 1]))
        out.append((name, Notes.of(arrays["pitch"][sl], arrays["start"][sl], arrays["end"][sl],
                                   arrays["velocity"][sl]), float(arrays["bars"][i])))
    return out


def cached_pieces(corpus: str, names: list[str], parse: Callable[[str], Optional[tuple[Notes, float]]]) -> list:
    """(name, notes, bar) of `names` (in that order), parsed one by one by `parse(name)` the first time and
    then read from the cache (one entry per corpus and list of names). `parse` returns None for a piece
    to leave out (said once, as a warning)."""
    key_info = {"corpus": corpus, "names": hashlib.sha256("\n".join(names).encode()).hexdigest(),
                "count": len(names), "code": code_version(corpus)}
    key = hashlib.sha256(json.dumps(key_info, sort_keys=True).encode()).hexdigest()[:20]
    path = cache_dir() / f"{corpus}-{len(names)}-{key}.npz"
    if path.is_file():
        try:
            with np.load(path, allow_pickle=False) as z:
                if json.loads(str(z["__key__"])) == key_info:
                    return unpack({k: z[k] for k in z.files})
        except (OSError, ValueError, KeyError):
            pass  # unreadable or foreign: parse again and replace it
    pieces, skipped = [], []
    for name in names:
        got = parse(name)
        if got is None or not len(got[0]):
            skipped.append(name)
        else:
            pieces.append((name, *got))
    if skipped:
        warnings.warn(f"{len(skipped)} {corpus} piece(s) could not be read and are left out (first: {skipped[0]})",
                      stacklevel=3)
    payload = {**pack(pieces), "__key__": np.array(json.dumps(key_info, sort_keys=True))}
    write_npz(path, payload, f"{corpus}")
    return pieces


def select(corpus: str, names: list[str], split: str, limit: Optional[int], parse) -> list:
    """The pieces of a split: the whole corpus is parsed (and cached) once and filtered by split; with a
    `limit`, only the first `limit` names of the split (by name) are parsed (a cache entry of their own)."""
    names = sorted(set(names))
    if limit:
        return cached_pieces(corpus, in_split(names, split)[:limit], parse)
    keep = set(in_split(names, split))
    return [p for p in cached_pieces(corpus, names, parse) if p[0] in keep]


# --- Bach chorales ----------------------------------------------------------------------------------

def chorale_names() -> list[str]:
    corpus = _music21_corpus()
    return list(corpus.chorales.Iterator(returnType="filename"))


def _music21_corpus():
    try:
        from music21 import corpus
    except ImportError:
        raise GenlabError("the music datasets need music21; install it: pip install music21") from None
    return corpus


def _chorale_file(name: str) -> Path:
    work = _music21_corpus().getWork(name)
    files = [Path(w) for w in (work if isinstance(work, list) else [work])]
    return next((f for f in files if f.suffix in (".mxl", ".xml", ".musicxml")), files[0])


def parse_chorale(name: str) -> Optional[tuple[Notes, float]]:
    from music21 import converter

    try:
        score = converter.parse(str(_chorale_file(name)), forceSource=True)  # no music21 pickle cache
    except Exception:  # noqa: BLE001 — a corpus file music21 cannot parse is left out
        return None
    return notes_from_music21(score)


def chorales(split: str, limit: Optional[int] = None) -> list[tuple[str, Notes, float]]:
    """(name, notes, bar length) of the chorales of a split (the first `limit` by name if given)."""
    return select("chorales", chorale_names(), split, limit, parse_chorale)


# --- Essen folk songs -------------------------------------------------------------------------------

def essen_files() -> list[Path]:
    folder = Path(_music21_corpus().__file__).resolve().parent / "essenFolksong"
    files = sorted(p for p in folder.glob("*.abc") if not p.stem.startswith("test"))
    if not files:
        raise GenlabError(f"no Essen folk-song files in {folder}; reinstall music21 (pip install music21)")
    return files


def essen_tunes() -> dict[str, str]:
    """name ('file#X') -> the ABC text of that tune (header + body)."""
    out = {}
    for f in essen_files():
        text = f.read_text(encoding="latin-1")
        for tune in re.split(r"(?m)^(?=X:)", text):
            m = re.match(r"X:\s*(\d+)", tune)
            if m:
                out[f"{f.stem}#{int(m.group(1))}"] = tune
    return out


def abc_notes(text: str) -> tuple[Notes, float]:
    """One ABC tune -> (notes, bar length) from music21's tokenizer (ties merged, rests skipped)."""
    from music21 import abcFormat

    handler = abcFormat.ABCHandler()
    handler.process(text)
    pitch, start, end = [], [], []
    now, bar, tied = 0.0, 4.0, False
    for tok in handler.tokens:
        if isinstance(tok, abcFormat.ABCMetadata) and tok.isMeter():
            meter = tok.getTimeSignatureParameters()  # None for a free meter ("M: none"): keep 4/4 bars
            if meter:
                bar = meter[0] * 4.0 / meter[1]
        if not isinstance(tok, (abcFormat.ABCNote, abcFormat.ABCChord)):
            continue
        ql = float(tok.quarterLength or 0.0)
        if ql <= 0:
            continue
        if not tok.isRest:
            names = [tok.pitchName] if isinstance(tok, abcFormat.ABCNote) or not tok.subTokens else \
                [s.pitchName for s in tok.subTokens if isinstance(s, abcFormat.ABCNote) and not s.isRest]
            midis = [_midi(n) for n in names if n]
            if tied and pitch and len(midis) == 1 and midis[0] == pitch[-1] and abs(end[-1] - now) < 1e-9:
                end[-1] = now + ql  # a tie continues the previous note
            else:
                for p in midis:
                    pitch.append(p), start.append(now), end.append(now + ql)
            tied = getattr(tok, "tie", None) in ("start", "continue")
        now += ql
    return normalise(Notes.of(pitch, start, end)), bar


def _midi(pitch_name: str) -> int:
    from music21 import pitch

    return int(pitch.Pitch(pitch_name).midi)


def folk(split: str, limit: Optional[int] = None) -> list[tuple[str, Notes, float]]:
    """(name, notes, bar) of the Essen tunes of a split (the first `limit` by name if given)."""
    tunes = essen_tunes()

    def parse(name: str) -> Optional[tuple[Notes, float]]:
        try:
            return abc_notes(tunes[name])
        except Exception:  # noqa: BLE001 — a tune the tokenizer rejects is left out
            return None

    return select("folk", list(tunes), split, limit, parse)
