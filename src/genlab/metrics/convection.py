"""Convection diagnostics of Rayleigh–Bénard snapshots (the `rayleigh-benard` data set: free-fall units,
H × W midpoint grid z_i = (i + ½)/H upwards from the bottom wall at row 0, x periodic along axis 2).

Per snapshot, with ⟨·⟩_x the mean along x and ⟨·⟩ the mean over the whole grid:

    profiles     T̄(z) = ⟨T⟩_x,   u_rms(z) = √⟨u²⟩_x,   w_rms(z) = √⟨w²⟩_x
    Nusselt      Nu = 1 + √(Ra Pr) ⟨w θ⟩,   θ = T − (1 − z)

(the volume estimate of genlab/sim/rayleigh_benard.py: heat flux over the conductive flux; on the
midpoint grid of a band-limited snapshot the grid mean is the solver's value; θ = 0, conduction, gives
Nu = 1 whatever w is). Profiles of a set are means over its snapshots (rms profiles: √ of the mean
square). Errors, generated vs real: max_z |T̄_f − T̄_r| (units of ΔT), and max_z |u_rms,f − u_rms,r| /
max_z u_rms,r (likewise w); the Nu distributions by mean, std and the two-sample KS statistic.
"""
from __future__ import annotations

import math

import numpy as np

NEEDS = ("temperature", "w")


def heights(h: int) -> np.ndarray:
    """z of the rows of an h-row midpoint grid: (i + ½)/h."""
    return (np.arange(h) + 0.5) / h


def nusselt(temperature: np.ndarray, w: np.ndarray, ra: float, pr: float) -> np.ndarray:
    """Nu = 1 + √(Ra Pr) ⟨w θ⟩ per snapshot of (N, H, W) temperature and vertical velocity."""
    theta = temperature - (1.0 - heights(temperature.shape[-2]))[:, None]  # (N, H, W) − (H, 1)
    return 1.0 + math.sqrt(ra * pr) * (w * theta).mean(axis=(-2, -1))


def profiles(fields: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per-snapshot profiles (N, H) of the channels present: T̄ from temperature, u_rms, w_rms."""
    out = {}
    if "temperature" in fields:
        out["T_mean"] = fields["temperature"].mean(axis=-1)
    for v in ("u", "w"):
        if v in fields:
            out[f"{v}_rms"] = np.sqrt((fields[v] ** 2).mean(axis=-1))
    return out


def _set_profile(name: str, p: np.ndarray) -> np.ndarray:
    return p.mean(0) if name == "T_mean" else np.sqrt((p ** 2).mean(0))


def compare(real: dict[str, np.ndarray], fake: dict[str, np.ndarray], ra: float, pr: float) -> tuple[dict, dict]:
    """(summary, curves) of real vs generated snapshots, each {channel name: (N, H, W)} with at least
    temperature and w."""
    from scipy import stats

    nu_r = nusselt(real["temperature"], real["w"], ra, pr)
    nu_f = nusselt(fake["temperature"], fake["w"], ra, pr)
    ks = stats.ks_2samp(nu_r, nu_f)
    summary = {"nu_mean_real": float(nu_r.mean()), "nu_std_real": float(nu_r.std()),
               "nu_mean_fake": float(nu_f.mean()), "nu_std_fake": float(nu_f.std()),
               "nu_ks": float(ks.statistic), "nu_ks_p": float(ks.pvalue)}
    pr_, pf_ = profiles(real), profiles(fake)
    curves: dict = {"z": heights(real["temperature"].shape[-2]), "nu_real": nu_r, "nu_fake": nu_f}
    for name in pr_:
        a, b = _set_profile(name, pr_[name]), _set_profile(name, pf_[name])
        curves[f"{name}_real"], curves[f"{name}_fake"] = a, b
        curves[f"{name}_real_std"], curves[f"{name}_fake_std"] = pr_[name].std(0), pf_[name].std(0)
        gap = float(np.abs(b - a).max())
        if name == "T_mean":
            summary["T_profile_max_err"] = gap
        else:
            top = float(a.max())
            summary[f"{name}_profile_rel_err"] = gap / top if top > 0 else float("nan")
    return summary, curves
