"""Pictures of the physics metrics (genlab/metrics/physics.py), generated vs real: one PNG per metric with a
column per channel, written to a folder (RUN/physics/) with an index.json of captions for the run report."""
from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

REAL, FAKE = "#1f77b4", "#d62728"


def _columns(n: int, rows: int = 1, size=(4.0, 3.2)):
    fig, axes = plt.subplots(rows, n, figsize=(max(size[0] * n, 6.0), size[1] * rows), squeeze=False)
    return fig, axes


def _band(ax, x, mean, std, color, label):
    ax.plot(x, mean, color=color, label=label)
    ax.fill_between(x, mean - std, mean + std, color=color, alpha=0.2, linewidth=0)


def _plain_log_ticks(ax) -> None:
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.xaxis.set_minor_formatter(NullFormatter())


def spectrum(curves: dict, title: str):
    fig, axes = _columns(len(curves), 2)
    for j, (ch, c) in enumerate(curves.items()):
        k, real, fake, err = (np.asarray(c[key], float) for key in ("k", "real", "fake", "rel_err"))
        top, bottom = axes[0, j], axes[1, j]
        top.loglog(k, real, color=REAL, label="real")
        top.loglog(k, fake, color=FAKE, label="generated", linestyle="--")
        top.set_title(f"{ch} ({c['method']})")
        top.set_ylabel("P(k) per mode")
        top.legend(fontsize=8)
        bottom.semilogx(k, err, color="k")
        bottom.axhline(0.1, color="grey", linestyle=":", label="10 %")
        bottom.axvline(c["n"] / 4, color="grey", linestyle="--", label="k = N/4")
        bottom.set_xlabel("k (units of 2π/L)")
        _plain_log_ticks(top)
        _plain_log_ticks(bottom)
        bottom.set_ylabel("|P_gen/P_real − 1|")
        bottom.legend(fontsize=8)
    fig.suptitle(title)
    return fig


def histogram(curves: dict, title: str):
    fig, axes = _columns(len(curves))
    for j, (ch, c) in enumerate(curves.items()):
        e = np.asarray(c["edges"], float)
        ax = axes[0, j]
        ax.stairs(c["density_real"], e, color=REAL, label="real")
        ax.stairs(c["density_fake"], e, color=FAKE, label="generated", linestyle="--")
        ax.set_yscale("log")
        ax.set_title(ch)
        ax.set_xlabel("pixel value")
        ax.set_ylabel("density (end bins hold the tails)")
        ax.legend(fontsize=8)
    fig.suptitle(title)
    return fig


def minkowski(curves: dict, title: str):
    names = ("V0 area fraction", "V1 boundary length / area", "V2 Euler characteristic / area")
    fig, axes = _columns(3, len(curves))
    for i, (ch, c) in enumerate(curves.items()):
        t = np.asarray(c["t"], float)
        for j in range(3):
            ax = axes[i, j]
            _band(ax, t, np.asarray(c[f"v{j}_real_mean"]), np.asarray(c[f"v{j}_real_std"]), REAL, "real")
            _band(ax, t, np.asarray(c[f"v{j}_fake_mean"]), np.asarray(c[f"v{j}_fake_std"]), FAKE, "generated")
            ax.set_title(f"{ch}: {names[j]}", fontsize=9)
            ax.set_xlabel("ν (σ_real from the real mean)")
            ax.legend(fontsize=7)
    fig.suptitle(title + " (mean ± std over maps)")
    return fig


def peaks(curves: dict, title: str):
    fig, axes = _columns(len(curves))
    for j, (ch, c) in enumerate(curves.items()):
        e = np.asarray(c["edges"], float)
        mid = (e[:-1] + e[1:]) / 2
        ax = axes[0, j]
        ax.errorbar(mid - 0.05, c["real_mean"], yerr=c["real_std"], color=REAL, fmt="o-", ms=3, label="real")
        ax.errorbar(mid + 0.05, c["fake_mean"], yerr=c["fake_std"], color=FAKE, fmt="s--", ms=3, label="generated")
        ax.set_title(ch)
        ax.set_xlabel("peak height (σ_real from the real mean; end bins hold the tails)")
        ax.set_ylabel("peaks per map")
        ax.legend(fontsize=8)
    fig.suptitle(title + " (mean ± std over maps)")
    return fig


def convection(c: dict, title: str):
    profiles = [p for p in ("T_mean", "u_rms", "w_rms") if f"{p}_real" in c]
    fig, axes = _columns(len(profiles) + 1)
    z = np.asarray(c["z"], float)
    for j, p in enumerate(profiles):
        ax = axes[0, j]
        for who, color in (("real", REAL), ("fake", FAKE)):
            m, s = np.asarray(c[f"{p}_{who}"]), np.asarray(c[f"{p}_{who}_std"])
            ax.plot(m, z, color=color, label="real" if who == "real" else "generated")
            ax.fill_betweenx(z, m - s, m + s, color=color, alpha=0.2, linewidth=0)
        ax.set_xlabel({"T_mean": "horizontal mean T", "u_rms": "u_rms", "w_rms": "w_rms"}[p])
        ax.set_ylabel("z")
        ax.legend(fontsize=8)
    ax = axes[0, -1]
    nr, nf = np.asarray(c["nu_real"], float), np.asarray(c["nu_fake"], float)
    bins = np.histogram_bin_edges(np.concatenate([nr, nf]), bins=20)  # (21,) over both sets
    ax.hist(nr, bins, color=REAL, alpha=0.5, label="real", density=True)
    ax.hist(nf, bins, color=FAKE, alpha=0.5, label="generated", density=True)
    ax.set_xlabel("Nu = 1 + √(Ra Pr)⟨wθ⟩ per snapshot")
    ax.legend(fontsize=8)
    fig.suptitle(title)
    return fig


PLOTS = {"spectrum": spectrum, "histogram": histogram, "minkowski": minkowski, "peaks": peaks,
         "convection": convection}
CAPTIONS = {
    "spectrum": "power spectrum per mode (top) and |P_gen/P_real − 1| per wavenumber bin (bottom; dotted: 10 %, "
                "dashed: k = N/4)",
    "histogram": "pixel-value distributions (50 bins over the real 0.1–99.9 % range)",
    "minkowski": "Minkowski functionals of the excursion sets {x > ν}, mean ± std over maps",
    "peaks": "local maxima (8 neighbours) per map by height, mean ± std over maps",
    "convection": "horizontally averaged temperature, rms velocity profiles and the Nusselt numbers of the snapshots",
}


def _margins(fig) -> None:
    """Fixed margins in inches (tight_layout costs seconds per figure on a busy CPU)."""
    w, h = fig.get_size_inches()
    fig.subplots_adjust(left=0.85 / w, right=1 - 0.15 / w, bottom=0.6 / h, top=1 - 0.55 / h, wspace=0.5, hspace=0.55)


def save_plots(curves: dict, folder: Path, *, title: str, command: str = "") -> list[Path]:
    """One PNG per metric in `curves` ({metric: curves}) under folder, plus index.json (caption, command)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    index_file = folder / "index.json"
    try:
        index = json.loads(index_file.read_text()) if index_file.is_file() else {}
    except ValueError:
        index = {}
    out = []
    for metric, c in curves.items():
        fig = PLOTS[metric](c, f"{metric}: {title}")
        _margins(fig)
        path = folder / f"{metric}.png"
        fig.savefig(path, dpi=90)
        plt.close(fig)
        index[path.name] = {"caption": f"{CAPTIONS[metric]} — {title}", "command": command}
        out.append(path)
    index_file.write_text(json.dumps(index, indent=1))
    return out
