"""Physics metrics of generated fields against real ones (`genlab eval --metrics spectrum,histogram,...`).

Both sets are (N, C, H, W) in physical units (field_sets.py: data sets as stored, a run's samples decoded
with its normaliser; images in [0, 1]); the real set's geometry (periodic axes, channel names, Ra/Pr) is
used for both. Each metric is registered in METRICS and returns per-channel values (numbers, kept in
metrics.json) and curves (arrays, for the plots and --json):

    spectrum    radially binned power spectrum, |P_f/P_r − 1| per bin; max/mean for k ≤ N/4 (spectra.py)
    histogram   pixel-value KS (+ p), Wasserstein-1 (and /σ_real), χ² of 50-bin histograms (pixels.py)
    minkowski   V0, V1, V2 of {x > ν}, ν = μ_r + t σ_r for t = −3 … 3 (25 values); max_ν |ΔV_i| / σ_pooled
                (morphology.py)
    peaks       8-neighbour maxima per map in height bins of 0.5 σ_r (−3 … 6 σ_r); peaks per map, max per
                bin |Δ mean| / σ_pooled (morphology.py)
    convection  Rayleigh–Bénard: T̄(z), u_rms(z), w_rms(z), Nu = 1 + √(Ra Pr)⟨wθ⟩ per snapshot
                (convection.py)

σ_pooled = √((σ_real² + σ_fake²)/2) of the functional over maps at that threshold/bin, floored at its
resolution (morphology.py). Fields with gaps
(a validity mask) get the histogram only (on observed pixels); the spatial metrics need gap-free maps.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..errors import GenlabError
from . import convection as conv
from . import morphology as morph
from . import pixels, spectra
from .field_sets import FieldSet, check_pair

PROTOCOL_VERSION = 1
DEFAULT = ("spectrum", "histogram", "minkowski", "peaks")


@dataclass(frozen=True)
class PhysicsMetric:
    """compute(real, fake, seed) -> (values, curves); lines(values) -> printed lines; convention: the
    protocol text of how it is measured; spatial: needs gap-free maps."""

    compute: Callable[[FieldSet, FieldSet, int], tuple[dict, dict]]
    lines: Callable[[dict], list[str]]
    convention: str
    spatial: bool = True


METRICS: dict[str, PhysicsMetric] = {}


def register(name: str, convention: str, lines: Callable[[dict], list[str]], *, spatial: bool = True):
    def deco(fn):
        METRICS[name] = PhysicsMetric(fn, lines, convention, spatial)
        return fn
    return deco


def _max(a: np.ndarray) -> float:
    a = np.asarray(a, float)
    a = a[~np.isnan(a)]
    return float(a.max()) if a.size else float("nan")


def _per_channel(values: dict, fmt: Callable[[dict], str], metric: str) -> list[str]:
    return [f"{metric}[{ch}]: {fmt(v)}" for ch, v in values.items()]


# --- spectrum ---------------------------------------------------------------------------------------

def _spectrum_line(v: dict) -> str:
    return (f"max |P_fake/P_real - 1| for k <= N/4 {v['max_rel_err_k_le_n4']:.4f} (mean "
            f"{v['mean_rel_err_k_le_n4']:.4f}; every k {v['max_rel_err_all_k']:.4f})")


@register("spectrum", "P(k) = E|fft(x)_k|^2 / M per mode, physical units, k in units of 2 pi / L, radial bins "
          "of width 1 at k = 1..N/2 (k = 0 left out); fft2 if both axes periodic, fft1 along the periodic axis "
          "averaged over lines if one, Hann-windowed fft2 of mean-removed maps if none; error |P_f/P_r - 1| "
          "summarised over 1 <= k <= N/4",
          lambda v: _per_channel(v, _spectrum_line, "spectrum"))
def spectrum(real: FieldSet, fake: FieldSet, seed: int = 0) -> tuple[dict, dict]:
    sr = spectra.power_spectrum(real.values, real.periodic)
    sf = spectra.power_spectrum(fake.values, real.periodic)
    values, curves = {}, {}
    for c, ch in enumerate(real.channels):
        err = spectra.relative_error(sr["power"][c], sf["power"][c])
        values[ch] = spectra.band_summary(sr["k"], err, sr["n"])
        curves[ch] = {"k": sr["k"], "real": sr["power"][c], "fake": sf["power"][c], "rel_err": err,
                      "modes": sr["modes"], "n": sr["n"], "method": sr["method"]}
    return values, curves


# --- histogram --------------------------------------------------------------------------------------

def _histogram_line(v: dict) -> str:
    return (f"KS {v['ks']:.4f} (p {v['ks_p']:.3g}), W1 {v['w1']:.4g} ({v['w1_over_sigma']:.4f} sigma_real), "
            f"chi2 {v['chi2']:.4f}")


@register("histogram", f"pooled pixel values per channel (at most {pixels.MAX_PIXELS} per set, seeded subset): "
          "two-sample KS and its asymptotic p-value (pixels treated as independent), Wasserstein-1, "
          f"chi2 = sum (h_f - h_r)^2 / (h_r + h_f) of pixel fractions in {pixels.BINS} equal bins over the real "
          "0.1-99.9 % quantile range (outside values in the end bins); observed pixels only where there are gaps",
          lambda v: _per_channel(v, _histogram_line, "histogram"), spatial=False)
def histogram(real: FieldSet, fake: FieldSet, seed: int = 0) -> tuple[dict, dict]:
    fake_valid = fake.valid
    if fake_valid is None and real.valid is not None:  # samples without gaps: where real is always observed
        fake_valid = np.broadcast_to(real.valid.all(axis=0, keepdims=True), fake.values.shape)
    values, curves = {}, {}
    for c, ch in enumerate(real.channels):
        r, f = real.values[:, c], fake.values[:, c]
        r = r[real.valid[:, c]] if real.valid is not None else r
        f = f[fake_valid[:, c]] if fake_valid is not None else f
        if r.size == 0 or f.size == 0:
            raise GenlabError(f"channel {ch} has no observed pixel in {real.name if r.size == 0 else fake.name}; "
                              "nothing to compare")
        values[ch], curves[ch] = pixels.distances(pixels.pooled(r, seed=seed), pixels.pooled(f, seed=seed + 1))
    return values, curves


# --- Minkowski functionals ----------------------------------------------------------------------------

def _minkowski_line(v: dict) -> str:
    return (f"max over nu of |mean_fake - mean_real| / sigma_pooled: V0 {v['v0_max_gap']:.4f}, V1 "
            f"{v['v1_max_gap']:.4f}, V2 {v['v2_max_gap']:.4f}")


@register("minkowski", "excursion sets {x > nu}, nu = mean_real + t std_real, t = -3..3 in 25 steps; pixel "
          "counting on closed unit squares (V0 = n_s/A, V1 = (pi/4)(2 n_e - 4 n_s - edges on the map border)/A, "
          "V2 = (n_s - n_e + n_v)/A, A = H W pixels, periodic axes wrapped); "
          "gap = |mean_fake - mean_real| / max(sqrt((var_r + var_f)/2), resolution 1/A, (pi/2)/A, 1/A) over maps, "
          "max over nu",
          lambda v: _per_channel(v, _minkowski_line, "minkowski"))
def minkowski(real: FieldSet, fake: FieldSet, seed: int = 0) -> tuple[dict, dict]:
    values, curves = {}, {}
    for c, ch in enumerate(real.channels):
        mu, sd = float(real.values[:, c].mean()), float(real.values[:, c].std()) or 1.0
        thr = mu + sd * morph.THRESHOLDS
        mr = morph.minkowski(real.values[:, c], thr, real.periodic)  # (3, N, T)
        mf = morph.minkowski(fake.values[:, c], thr, real.periodic)
        values[ch], curves[ch] = {}, {"t": morph.THRESHOLDS, "threshold": thr}
        floor = morph.resolution(real.values.shape[-2:])
        for i in range(3):
            gap = morph.standardised_gap(mr[i], mf[i], floor[i])
            values[ch][f"v{i}_max_gap"] = _max(gap)
            curves[ch].update({f"v{i}_real_mean": mr[i].mean(0), f"v{i}_real_std": mr[i].std(0),
                               f"v{i}_fake_mean": mf[i].mean(0), f"v{i}_fake_std": mf[i].std(0), f"v{i}_gap": gap})
    return values, curves


# --- peak counts ------------------------------------------------------------------------------------

def _peaks_line(v: dict) -> str:
    return (f"peaks per map {v['per_map_fake']:.2f} +- {v['per_map_fake_std']:.2f} (real {v['per_map_real']:.2f} "
            f"+- {v['per_map_real_std']:.2f}); max per height bin |delta| / sigma_pooled {v['max_gap']:.4f}")


@register("peaks", "pixels strictly above their 8 neighbours (periodic axes wrapped), per map, in height bins "
          "(x - mean_real)/std_real of width 0.5 from -3 to 6 (outside: end bins); gap per bin = |mean_fake - "
          "mean_real| / max(sqrt((var_r + var_f)/2), 1 peak) over maps",
          lambda v: _per_channel(v, _peaks_line, "peaks"))
def peaks(real: FieldSet, fake: FieldSet, seed: int = 0) -> tuple[dict, dict]:
    values, curves = {}, {}
    for c, ch in enumerate(real.channels):
        mu, sd = float(real.values[:, c].mean()), float(real.values[:, c].std()) or 1.0
        cr = morph.peak_counts(real.values[:, c], mu, sd, real.periodic)  # (N, bins)
        cf = morph.peak_counts(fake.values[:, c], mu, sd, real.periodic)
        tr, tf = cr.sum(1), cf.sum(1)
        values[ch] = {"per_map_real": float(tr.mean()), "per_map_real_std": float(tr.std()),
                      "per_map_fake": float(tf.mean()), "per_map_fake_std": float(tf.std()),
                      "max_gap": _max(morph.standardised_gap(cr, cf, 1.0))}
        curves[ch] = {"edges": morph.PEAK_EDGES, "real_mean": cr.mean(0), "real_std": cr.std(0),
                      "fake_mean": cf.mean(0), "fake_std": cf.std(0)}
    return values, curves


# --- convection -------------------------------------------------------------------------------------

def _convection_lines(v: dict) -> list[str]:
    out = [f"convection: Nu {v['nu_mean_fake']:.4f} +- {v['nu_std_fake']:.4f} (real {v['nu_mean_real']:.4f} +- "
           f"{v['nu_std_real']:.4f}), KS {v['nu_ks']:.4f} (p {v['nu_ks_p']:.3g})",
           f"convection: max |T_mean(z) error| {v['T_profile_max_err']:.4f}"]
    rel = [f"{k.split('_')[0]}_rms {v[k]:.4f}" for k in ("u_rms_profile_rel_err", "w_rms_profile_rel_err") if k in v]
    return out + ([f"convection: rms-profile error / max real rms: {', '.join(rel)}"] if rel else [])


def convection_ready(fs: FieldSet) -> bool:
    sim = fs.simulation
    return (sim.get("kind") == "rayleigh-benard" and "ra" in sim and "pr" in sim
            and all(c in fs.channels for c in conv.NEEDS))


def check_convection(fs: FieldSet) -> None:
    """A one-line error unless fs is Rayleigh–Bénard data with temperature and w and known Ra, Pr."""
    if not convection_ready(fs):
        rb = fs.simulation.get("kind") == "rayleigh-benard"
        raise GenlabError(f"metric 'convection' needs Rayleigh-Benard snapshots with channels temperature and w and "
                          f"the simulation's Ra and Pr (data set rayleigh-benard, data.var with temperature,w); "
                          f"{fs.name} has channels {','.join(fs.channels)}{'' if rb else ' and no such simulation'}; "
                          "drop convection from --metrics")


@register("convection", "Rayleigh-Benard snapshots (free-fall units, midpoint rows z = (i + 1/2)/H, z up from "
          "row 0): T_mean(z), u_rms(z), w_rms(z) over x; Nu = 1 + sqrt(Ra Pr) <w (T - (1 - z))> per snapshot; "
          "errors max_z |T_f - T_r| and max_z |rms_f - rms_r| / max_z rms_r; Nu by mean, std and KS",
          _convection_lines)
def convection(real: FieldSet, fake: FieldSet, seed: int = 0) -> tuple[dict, dict]:
    check_convection(real)
    idx = {ch: i for i, ch in enumerate(real.channels)}
    pick = lambda fs: {ch: fs.values[:, i] for ch, i in idx.items()}  # noqa: E731
    values, curves = conv.compare(pick(real), pick(fake), float(real.simulation["ra"]), float(real.simulation["pr"]))
    return values, curves


# --- evaluation -------------------------------------------------------------------------------------

def check_metrics(names) -> list[str]:
    """The metrics asked for, in METRICS order; unknown names are a one-line error."""
    names = [n.strip() for n in names if n.strip()]
    bad = [n for n in names if n not in METRICS]
    if bad or not names:
        raise GenlabError(f"unknown physics metric(s) {', '.join(bad) or '(none)'}; choose from {','.join(METRICS)}")
    return [m for m in METRICS if m in names]


def default_metrics(real: FieldSet) -> list[str]:
    """spectrum, histogram, minkowski, peaks (+ convection for Rayleigh–Bénard); histogram only with gaps."""
    if real.valid is not None:
        return ["histogram"]
    return list(DEFAULT) + (["convection"] if convection_ready(real) else [])


def evaluate(real: FieldSet, fake: FieldSet, metrics, *, seed: int = 0) -> tuple[dict, dict]:
    """(results, curves): results = {metric: values, "protocol": {...}} (numbers only: metrics.json),
    curves = {metric: arrays for plots}."""
    metrics = check_metrics(metrics)
    fake = check_pair(real, fake)
    gappy = real.name if real.valid is not None else fake.name if fake.valid is not None else None
    spatial = [m for m in metrics if METRICS[m].spatial]
    if gappy and spatial:
        raise GenlabError(f"{', '.join(spatial)} need gap-free maps but {gappy} has gaps (a validity mask); "
                          "use --metrics histogram (observed pixels only)")
    if "convection" in metrics:
        check_convection(real)
    results, curves = {}, {}
    for m in metrics:
        results[m], curves[m] = METRICS[m].compute(real, fake, seed)
    results["protocol"] = {
        "physics_version": PROTOCOL_VERSION, "metrics": ",".join(metrics), "real": real.name, "fake": fake.name,
        "n_real": len(real.values), "n_fake": len(fake.values), "seed": seed,
        "shape": "x".join(map(str, real.values.shape[1:])), "channels": ",".join(real.channels),
        "periodic_axes": ",".join(map(str, real.periodic)) or "none",
        "space": "[0, 1] images" if real.spec.bounded else f"physical units ({real.spec.units or 'data space'})",
        **{f"{m}_convention": METRICS[m].convention for m in metrics}}
    return results, curves


def summary_lines(results: dict) -> list[str]:
    """One line per metric and channel (a few for convection)."""
    return [line for m, v in results.items() if m in METRICS for line in METRICS[m].lines(v)]


def jsonable(curves):
    """Curves with arrays as lists (NaN kept; json.dumps writes NaN)."""
    if isinstance(curves, dict):
        return {k: jsonable(v) for k, v in curves.items()}
    if isinstance(curves, np.ndarray):
        return curves.tolist()
    if isinstance(curves, (np.floating, np.integer)):
        return curves.item()
    return curves
