""""Which is fake?": one self-contained HTML page (inline CSS/JS, images as PNG data URIs, nothing fetched;
works from file://) of n pairs, each one real example and one generated, side by side in a seeded random
order. The reader clicks the one they think is generated; the page marks the answer, keeps a running
score ("k / m correct") and at the end gives the one-sided binomial p-value of doing that well by
guessing, P(X ≥ k) with X ~ Binomial(n, 1/2).

The answer key is not written in the page: pair i carries only the token h(salt|i|side of the generated
one), a 32-bit hash (FNV-1a, then the murmur3 finaliser) of a per-page salt; the script hashes the side
clicked and compares. Anyone can recompute it, but nothing in the source reads "fake: left".
`fake_sides(n, seed)` is the key (tests re-derive it from the seed).

Pictures: images in grey (1 channel) or RGB (3), clamped to [0, 1]; physical fields decoded to data
space with the field's normaliser, one colour-mapped tile per channel stacked top to bottom (row 0 at
the bottom, as in previews), colour limits per channel shared by the two members of a pair (1st–99th
percentile of both together) and given under the pair with the units; a field with gaps has the real
example's gaps shaded grey in both.
"""
from __future__ import annotations

import hashlib
import io
import json
from typing import Optional, Sequence

import numpy as np
from torch import Tensor

from ..fields import FieldSpec
from .html import data_uri, esc

SIDES = ("left", "right")
CMAP = "RdYlBu_r"  # as the run previews (genlab.viz.preview)
GAP = 2  # pixels between channel tiles


def fake_sides(n: int, seed: int) -> list[str]:
    """The side ("left" or "right") of the generated example in each of n pairs: seeded coin flips."""
    bits = np.random.default_rng([int(seed), 0x5155_4A5A]).integers(0, 2, int(n))
    return [SIDES[b] for b in bits]


def hash32(text: str) -> int:
    """FNV-1a over the UTF-8 bytes, then murmur3's fmix32; the page's script computes the same."""
    h = 0x811C9DC5
    for b in text.encode("utf-8"):
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & 0xFFFFFFFF
    return h ^ (h >> 16)


def answer_token(salt: str, index: int, side: str) -> str:
    """What pair `index` stores: the hash of the generated example's side."""
    return f"{hash32(f'{salt}|{index}|{side}'):08x}"


# --- pictures ---------------------------------------------------------------------------------------

def _png(rgb: np.ndarray) -> str:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    return data_uri(buf.getvalue(), "image/png")


def _image_rgb(x: Tensor) -> np.ndarray:
    """(C, H, W) in [0, 1] -> (C'·H + gaps, W, 3) uint8: grey, RGB, or one grey tile per channel."""
    a = (x.float().clamp(0, 1).numpy() * 255 + 0.5).astype(np.uint8)
    if a.shape[0] == 3:
        return a.transpose(1, 2, 0).copy()  # (H, W, 3)
    return _stack([np.repeat(t[..., None], 3, 2) for t in a])


def _stack(tiles: Sequence[np.ndarray]) -> np.ndarray:
    out = []
    for i, t in enumerate(tiles):
        if i:
            out.append(np.full((GAP, t.shape[1], 3), 255, np.uint8))
        out.append(t)
    return np.concatenate(out, 0)  # (C·H + (C − 1)·GAP, W, 3)


def _limits(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    v = np.concatenate([a[np.isfinite(a)], b[np.isfinite(b)]])
    if not v.size:
        return 0.0, 1.0
    lo, hi = (float(q) for q in np.percentile(v, [1, 99]))
    return lo, hi if hi > lo else lo + 1e-6


def _colour(t: np.ndarray, lo: float, hi: float, gaps: Optional[np.ndarray]) -> np.ndarray:
    """(H, W) data values -> (H, W, 3) uint8, flipped so that row 0 is at the bottom."""
    import matplotlib

    rgb = matplotlib.colormaps[CMAP](np.clip((t - lo) / (hi - lo), 0, 1))[..., :3]
    if gaps is not None:
        rgb[gaps] = 0.55
    rgb[~np.isfinite(t)] = 0.55
    return (rgb[::-1] * 255 + 0.5).astype(np.uint8)


def colourbar() -> np.ndarray:
    """(8, 96, 3) uint8: the colour map from the lower limit (left) to the upper (right)."""
    ramp = np.linspace(0, 1, 96)[None, :].repeat(8, 0)  # (8, 96)
    return _colour(ramp, 0.0, 1.0, None)[::-1]


def render_pair(real: Tensor, fake: Tensor, spec: FieldSpec, gaps: Optional[Tensor] = None
                ) -> tuple[str, str, list[str]]:
    """PNG data URIs of a real and a generated (C, H, W) example in model space, and legend lines (one per
    channel of a field: name, units, the shared colour limits). gaps: (1|C, H, W), 1 = observed."""
    if spec.bounded:
        return _png(_image_rgb(real)), _png(_image_rgb(fake)), []
    a = spec.normalizer.to_data(real[None].float())[0].numpy()  # (C, H, W) physical units
    b = spec.normalizer.to_data(fake[None].float())[0].numpy()
    hole = None if gaps is None else (gaps.float().numpy() < 0.5)
    tiles_a, tiles_b, legend = [], [], []
    for c in range(a.shape[0]):
        g = None if hole is None else hole[min(c, len(hole) - 1)]  # (H, W) True = gap
        lo, hi = _limits(a[c] if g is None else a[c][~g], b[c] if g is None else b[c][~g])
        tiles_a.append(_colour(a[c], lo, hi, g))
        tiles_b.append(_colour(b[c], lo, hi, g))
        name = spec.channels[c] if c < len(spec.channels) else f"channel {c}"
        unit = f" [{spec.units}]" if spec.units else ""
        row = f"row {c + 1} of {a.shape[0]}: " if a.shape[0] > 1 else ""
        legend.append(f"{row}{name}{unit} {lo:.4g} … {hi:.4g}")
    return _png(_stack(tiles_a)), _png(_stack(tiles_b)), legend


# --- the page ---------------------------------------------------------------------------------------

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px auto;max-width:1100px;
color:#222;padding:0 16px;line-height:1.4}h1{font-size:1.5em;margin-bottom:4px}.sub{color:#555;font-size:.9em}
#board{position:sticky;top:0;background:#fff;padding:8px 0;border-bottom:1px solid #ddd;font-size:1.1em;z-index:1}
.pair{border:1px solid #ddd;border-radius:6px;padding:10px;margin:14px 0}.pair h2{font-size:1em;margin:0 0 6px}
.choices{display:flex;gap:16px;flex-wrap:wrap}.choice{border:3px solid #ccc;border-radius:6px;background:#fafafa;
padding:6px;cursor:pointer;text-align:center}.choice:hover:enabled{border-color:#888}.choice:disabled{cursor:default}
.choice img{display:block;image-rendering:pixelated}.tag{display:block;min-height:1.2em;font-weight:600;margin-top:4px}
.choice:disabled{color:#222}.is-gen{border-color:#c0392b}.is-real{border-color:#2e86c1}
.is-gen .tag{color:#c0392b}.is-real .tag{color:#2e86c1}.picked{outline:3px dashed #333;outline-offset:2px}
.legend{font-size:.8em;color:#444;margin-top:6px}.legend img{vertical-align:middle;height:8px;width:96px;margin:0 4px}
.verdict{font-weight:600;margin-top:6px;min-height:1.2em}.pair.right .verdict{color:#1e8449}
.pair.wrong .verdict{color:#c0392b}#result{border:2px solid #333;border-radius:6px;padding:10px;margin:18px 0}
"""

# Runs in the browser: compares the hash of the side clicked with the pair's token (see the module doc).
SCRIPT = """
(function(){
const SALT = %(salt)s, N = %(n)d;
let correct = 0, answered = 0;
function h32(s){let h=0x811c9dc5;for(const b of new TextEncoder().encode(s)){h=Math.imul(h^b,0x01000193)>>>0;}
h^=h>>>16;h=Math.imul(h,0x85ebca6b)>>>0;h^=h>>>13;h=Math.imul(h,0xc2b2ae35)>>>0;return (h^(h>>>16))>>>0;}
function hex(v){return ('0000000'+v.toString(16)).slice(-8);}
function tail(k,n){  // P(X >= k), X ~ Binomial(n, 1/2), summed in log space
let lc=0;const t=[];for(let j=0;j<=n;j++){if(j>0)lc+=Math.log((n-j+1)/j);if(j>=k)t.push(lc-n*Math.LN2);}
const m=Math.max(...t);return Math.min(1,Math.exp(m)*t.reduce((a,x)=>a+Math.exp(x-m),0));}
function show(){
  const s=document.getElementById('score');
  s.textContent=correct+' / '+answered+' correct';s.dataset.correct=correct;s.dataset.answered=answered;
  document.getElementById('todo').textContent=(N-answered)+' of '+N+' pairs left';
  if(answered<N)return;
  const p=tail(correct,N),r=document.getElementById('result'),pv=document.getElementById('p-value');
  document.getElementById('final-score').textContent=correct+' / '+N;
  pv.textContent=p.toPrecision(3);pv.dataset.value=String(p);
  document.getElementById('meaning').textContent=p<0.05?
    'Unlikely by guessing alone: you can tell this model\\u2019s samples from real data.':
    'Consistent with guessing: this model fooled you (or '+N+' pairs are too few to tell).';
  r.hidden=false;
}
function pick(pair,i,btn){
  if(pair.classList.contains('done'))return;
  pair.classList.add('done');
  const [a,b]=pair.querySelectorAll('.choice');
  const gen=(hex(h32(SALT+'|'+i+'|'+btn.dataset.side))===pair.dataset.k)?btn:(btn===a?b:a);
  const ok=gen===btn;answered++;if(ok)correct++;
  pair.classList.add(ok?'right':'wrong');btn.classList.add('picked');
  for(const c of [a,b]){c.disabled=true;c.classList.add(c===gen?'is-gen':'is-real');
    c.querySelector('.tag').textContent=c===gen?'generated':'real';}
  pair.querySelector('.verdict').textContent=ok?'Right: you picked the generated one.':
    'Wrong: you picked the real one.';
  show();
}
document.querySelectorAll('.pair').forEach(function(pair){
  const i=parseInt(pair.dataset.index,10);
  pair.querySelectorAll('.choice').forEach(function(btn){btn.addEventListener('click',function(){pick(pair,i,btn);});});
});
show();
})();
"""


def _salt(images: Sequence[str], seed: int) -> str:
    h = hashlib.sha256(f"genlab-quiz|{seed}".encode())
    for uri in images:
        h.update(uri.encode("ascii"))
    return h.hexdigest()[:16]


def quiz_page(pairs: Sequence[tuple[str, str, list[str]]], sides: Sequence[str], *, seed: int, title: str,
              about: str, display_width: int) -> str:
    """The page, from (real URI, generated URI, legend lines) per pair and the generated side of each."""
    if len(pairs) != len(sides) or any(s not in SIDES for s in sides):
        raise ValueError("quiz_page: one side ('left' or 'right') per pair")
    salt = _salt([u for p in pairs for u in p[:2]], seed)
    bar = _png(colourbar())
    blocks = []
    for i, ((real, gen, legend), side) in enumerate(zip(pairs, sides)):
        token = answer_token(salt, i, side)
        if token == answer_token(salt, i, SIDES[1 - SIDES.index(side)]):  # a 2^-32 collision: unusable
            raise ValueError("quiz_page: hash collision; use another seed")
        shown = {"left": gen if side == "left" else real, "right": real if side == "left" else gen}
        buttons = "".join(
            f'<button type="button" class="choice" data-side="{s}"><img src="{shown[s]}" width="{display_width}" '
            f'alt="{s} picture of pair {i + 1}"><span class="tag"></span></button>' for s in SIDES)
        leg = ('<div class="legend">' + "<br>".join(f'<img src="{bar}" alt="">{esc(t)}' for t in legend)
               + "</div>") if legend else ""
        blocks.append(f'<div class="pair" id="pair-{i}" data-index="{i}" data-k="{token}"><h2>Pair {i + 1}</h2>'
                      f'<div class="choices">{buttons}</div>{leg}<div class="verdict"></div></div>')
    n = len(pairs)
    body = [f"<h1>{esc(title)}</h1>", f'<p class="sub">{esc(about)}</p>',
            f'<div id="board"><span id="score" data-correct="0" data-answered="0">0 / 0 correct</span> · '
            f'<span id="todo">{n} of {n} pairs left</span></div>',
            *blocks,
            '<div id="result" hidden><b>Final score: <span id="final-score"></span> correct.</b> The chance of '
            'doing at least this well by guessing, P(X ≥ score) with X ~ Binomial(' + str(n) + ', 1/2), is '
            'p = <span id="p-value"></span>. <span id="meaning"></span></div>',
            f"<script>{SCRIPT % {'salt': json.dumps(salt), 'n': n}}</script>"]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{esc(title)}</title>"
            f"<style>{CSS}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")


def display_width(shape: Sequence[int]) -> int:
    """On-screen width (px) of a (C, H, W) picture: small ones scaled up by an integer factor, to ~200 px."""
    h, w = int(shape[-2]), int(shape[-1])
    return w * max(1, min(8, 200 // max(h, w)))


def build_quiz(real: Tensor, fake: Tensor, spec: FieldSpec, *, seed: int, title: str, about: str,
               gaps: Optional[Tensor] = None) -> str:
    """The quiz page of n pairs: real[i] against fake[i] ((n, C, H, W) model space), generated side of pair i
    = fake_sides(n, seed)[i]. gaps: (n, 1|C, H, W) validity masks of the real examples (1 = observed)."""
    if real.shape != fake.shape or real.dim() != 4:
        raise ValueError(f"build_quiz: real {tuple(real.shape)} and generated {tuple(fake.shape)} must be (n, C, H, W)")
    pairs = [render_pair(real[i].cpu(), fake[i].cpu(), spec, None if gaps is None else gaps[i].cpu())
             for i in range(len(real))]
    return quiz_page(pairs, fake_sides(len(real), seed), seed=seed, title=title, about=about,
                     display_width=display_width(real.shape))
