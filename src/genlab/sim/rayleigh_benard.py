"""2-D Rayleigh–Bénard convection between free-slip, fixed-temperature walls: a pseudo-spectral solver.

Equations (Oberbeck–Boussinesq, 2-D, in **free-fall units**: length = layer depth d, velocity
U = sqrt(g α ΔT d), time d/U, temperature = ΔT above the top wall). The temperature is split into the
conduction profile and a deviation, T = 1 − z + θ; with streamfunction ψ (u = −∂ψ/∂z, w = ∂ψ/∂x) and
vorticity ω = ∂w/∂x − ∂u/∂z = ∇²ψ:

    ∂ω/∂t + u·∇ω = ν ∇²ω + ∂θ/∂x,            ν = sqrt(Pr / Ra)
    ∂θ/∂t + u·∇θ = w + κ ∇²θ,                 κ = 1 / sqrt(Ra Pr)
    ∇²ψ = ω

on x ∈ [0, Γ) (periodic, Γ = aspect ratio) and z ∈ [0, 1]. Free-slip walls (w = 0, ∂u/∂z = 0) at fixed
temperature (θ = 0) give ψ = ω = θ = 0 at z = 0 and z = 1, so all three are sine series in z:

    f(x, z) = Σ_k Σ_{n≥1} f̂(k, n) exp(i k x) sin(n π z),     k = 2π m / Γ.

The velocity u and the z-derivatives are cosine series; every product in u·∇ω and u·∇θ is again a sine
series, so the nonlinear terms are evaluated on the grid (midpoints z_j = (j + ½)/Nz, x_i = i Γ/Nx) with
real FFTs in x and type-II sine/cosine transforms in z, and de-aliased by the 2/3 rule in both directions
(modes with |m| > Nx/3 or n > 2 Nz/3 are zeroed). Multiply time by sqrt(Ra Pr) for thermal-diffusion
units (d²/κ).

Time stepping: the IMEX Runge–Kutta scheme ARS(2,2,2) (Ascher, Ruuth & Spiteri 1997; "RK222" in Dedalus):
second order, L-stable implicit part. The whole linear part (diffusion *and* the buoyancy/conduction
coupling ∂θ/∂x, w) is implicit: per mode it is a 2 × 2 block solved in closed form; the advection is
explicit with an adaptive step dt = cfl · min(Δx / max|u|, Δz / max|w|) capped at `dt_max`.

Nusselt number (heat flux / conductive flux), two independent estimates:
    wall:    Nu = −∂T̄/∂z at the walls = 1 − ∂θ̄/∂z (mean of both walls, spectrally exact),
    volume:  Nu = 1 + ⟨w θ⟩ / κ = 1 + sqrt(Ra Pr) ⟨w T⟩;
they agree in a time average over a statistically steady state (tests/test_simulators.py).

Linear theory for the mode (k, n = 1): (σ + ν K²)(σ + κ K²) = k² / K², K² = k² + π², so convection sets in
at Ra_c = min_k K⁶ / k² = 27 π⁴ / 4 ≈ 657.51 for k_c = π / √2 (wavelength 2√2).

Horizontal mean flow: with free-slip walls the m = 0 vorticity modes (a shear flow u(z)) are free, and at
Pr ≈ 1, Ra ≳ 5e5 they grow until they shut convection off between bursts (Goluskin, Johnston, Flierl &
Spiegel 2014, JFM 759, "Convectively driven shear and decreased heat flux"). `mean_flow=False` keeps
them at zero (a body force cancelling the mean Reynolds stress): no shear flow and no bursts.

The state can hold a batch of B independent runs (shape (B, Mz, Mx)); they share the time step. Single
precision (`single=True`, float32/complex64) is 2–2.5 × faster and is what the data sets use.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np
import scipy.fft as sfft

RA_CRITICAL = 27 * math.pi ** 4 / 4  # free-slip / free-slip, fixed temperature
K_CRITICAL = math.pi / math.sqrt(2)

# ARS(2,2,2)
_G = 1.0 - 1.0 / math.sqrt(2.0)
_D = 1.0 - 1.0 / (2.0 * _G)


@dataclass
class RBState:
    """Time and the kept (de-aliased) spectral coefficients of ω and θ, (B, Mz, Mx) complex: sine index
    n = 1..Mz along axis −2, Fourier index m = 0..Mx−1 along axis −1."""

    t: float
    omega: np.ndarray
    theta: np.ndarray
    steps: int = 0

    def copy(self) -> "RBState":
        return RBState(self.t, self.omega.copy(), self.theta.copy(), self.steps)


class RayleighBenard:
    """The solver. ra, pr: Rayleigh and Prandtl numbers; aspect: Γ = Lx / Lz; nz, nx: grid (nx even,
    default ≈ Γ nz for square cells); cfl: safety factor; dt_max: largest step (free-fall units);
    single: float32 arithmetic; mean_flow: False keeps the horizontal mean flow at zero.

    Only the modes kept by the 2/3 rule are stored (Mz = ⌊2 Nz / 3⌋ sine modes, Mx = ⌊Nx / 3⌋ + 1 Fourier
    modes); transforms zero-pad them to the grid and truncate back."""

    def __init__(self, ra: float, pr: float = 1.0, *, aspect: float = 2.0, nz: int = 64, nx: Optional[int] = None,
                 cfl: float = 0.5, dt_max: float = 0.1, single: bool = False, mean_flow: bool = True):
        if not ra > 0 or not pr > 0:
            raise ValueError(f"Ra and Pr must be positive (got Ra={ra}, Pr={pr})")
        nx = int(nx if nx is not None else round(aspect * nz / 2) * 2)
        if nx % 2 or nx < 6 or nz < 4:
            raise ValueError(f"grid {nz} x {nx}: need nz >= 4 and an even nx >= 6")
        self.ra, self.pr, self.aspect, self.nz, self.nx = float(ra), float(pr), float(aspect), int(nz), nx
        self.nu, self.kappa = math.sqrt(pr / ra), 1.0 / math.sqrt(ra * pr)
        self.cfl, self.dt_max = float(cfl), float(dt_max)
        self.mean_flow = bool(mean_flow)
        self.dx, self.dz = aspect / nx, 1.0 / nz
        self.x = np.arange(nx) * self.dx
        self.z = (np.arange(nz) + 0.5) * self.dz
        self.mz, self.mx = (2 * nz) // 3, nx // 3 + 1
        self.kx = 2 * math.pi / aspect * np.arange(self.mx)
        self.real, self.complex = (np.float32, np.complex64) if single else (np.float64, np.complex128)
        self.ik = (1j * self.kx)[None, :].astype(self.complex)     # (1, Mx)
        self.npi = (math.pi * np.arange(1, self.mz + 1))[:, None]  # (Mz, 1): n π
        self.k2 = (self.kx[None, :] ** 2 + self.npi ** 2)          # K² > 0 (n >= 1)
        self.ik_k2 = (self.ik / self.k2).astype(self.complex)
        self.npi, self.k2 = self.npi.astype(self.real), self.k2.astype(self.real)
        self._a = None  # implicit coefficient the solve arrays were built for
        self.last_speed: Optional[tuple[float, float]] = None  # max |u|, |w| of the last step (CFL)

    @property
    def shape(self) -> tuple[int, int]:
        return self.mz, self.mx

    # --- spectral <-> grid ------------------------------------------------------------------------
    def to_grid(self, a: np.ndarray) -> np.ndarray:
        """Sine/Fourier coefficients (..., Mz, Mx) -> values (..., Nz, Nx) on the grid."""
        h = sfft.irfft(a, n=self.nx, axis=-1)
        h *= self.nx * self.nz
        return sfft.idst(h, type=2, n=self.nz, axis=-2)

    def _cos_to_grid(self, b: np.ndarray) -> np.ndarray:
        """Cosine/Fourier coefficients (..., Mz + 1, Mx), n = 0..Mz, with b_0 = 0 -> grid values."""
        h = sfft.irfft(b, n=self.nx, axis=-1)
        h *= self.nx * self.nz
        return sfft.idct(h, type=2, n=self.nz, axis=-2)

    def _dz(self, a: np.ndarray) -> np.ndarray:
        """∂/∂z of sine series: the cosine coefficients n π a_n, n = 0..Mz."""
        b = np.zeros(a.shape[:-2] + (self.mz + 1, self.mx), a.dtype)
        b[..., 1:, :] = self.npi * a
        return b

    def to_spec(self, f: np.ndarray) -> np.ndarray:
        """Grid values (..., Nz, Nx), zero on both walls' odd extension -> kept sine/Fourier coefficients."""
        a = sfft.dst(f, type=2, axis=-2)[..., :self.mz, :]
        return sfft.rfft(a, axis=-1)[..., :self.mx] * (1.0 / (self.nx * self.nz))

    def psi(self, omega: np.ndarray) -> np.ndarray:
        return -omega / self.k2

    def velocity(self, omega: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(u, w) on the grid."""
        psi = self.psi(omega)
        return -self._cos_to_grid(self._dz(psi)), self.to_grid(self.ik * psi)

    # --- right-hand side ---------------------------------------------------------------------------
    def _explicit(self, omega: np.ndarray, theta: np.ndarray):
        """−u·∇ω and −u·∇θ in spectral space (de-aliased), and max |u|, |w| for the CFL. The six grid
        fields (w, ∂ω/∂x, ∂θ/∂x: sine series; −u, ∂ω/∂z, ∂θ/∂z: cosine series) go through two stacked
        transforms, the two products through one."""
        psi = -omega / self.k2
        g_s = self.to_grid(np.stack([self.ik * psi, self.ik * omega, self.ik * theta]))
        g_c = self._cos_to_grid(self._dz(np.stack([psi, omega, theta])))
        u, w = -g_c[0], g_s[0]
        out = self.to_spec(np.stack([u * g_s[1] + w * g_c[1], u * g_s[2] + w * g_c[2]]))
        return -out[0], -out[1], float(np.abs(u).max()), float(np.abs(w).max())

    def _linear(self, omega: np.ndarray, theta: np.ndarray):
        return (-self.nu * self.k2 * omega + self.ik * theta,
                -self.ik_k2 * omega - self.kappa * self.k2 * theta)

    def _solve(self, a: float, r_om: np.ndarray, r_th: np.ndarray):
        """(I − a L) y = r per mode, L = [[−ν K², ik], [−ik/K², −κ K²]]."""
        if self._a != a:
            m11, m22 = 1 + a * self.nu * self.k2, 1 + a * self.kappa * self.k2
            inv = 1.0 / (m11 * m22 - a * a * self.kx[None, :] ** 2 / self.k2)
            c1, c2 = m22 * inv, a * self.ik * inv
            if not self.mean_flow:  # no horizontal mean flow: the m = 0 vorticity modes stay zero
                c1, c2 = c1 * (self.kx > 0), c2 * (self.kx > 0)
            self._a, self._c = a, tuple(c.astype(self.complex) for c in (c1, c2, m11 * inv, a * self.ik_k2 * inv))
        c1, c2, c3, c4 = self._c
        return c1 * r_om + c2 * r_th, c3 * r_th - c4 * r_om

    def cfl_dt(self, umax: float, wmax: float) -> float:
        rate = max(umax / self.dx, wmax / self.dz, 1e-12)
        return min(self.dt_max, self.cfl / rate)

    def step(self, s: RBState, dt: float) -> None:
        """Advance the state one ARS(2,2,2) step of size dt, in place."""
        n1_om, n1_th, umax, wmax = self._explicit(s.omega, s.theta)
        a = _G * dt
        y_om, y_th = self._solve(a, s.omega + a * n1_om, s.theta + a * n1_th)
        n2_om, n2_th, umax2, wmax2 = self._explicit(y_om, y_th)
        l_om, l_th = self._linear(y_om, y_th)
        r_om = s.omega + dt * (_D * n1_om + (1 - _D) * n2_om) + dt * (1 - _G) * l_om
        r_th = s.theta + dt * (_D * n1_th + (1 - _D) * n2_th) + dt * (1 - _G) * l_th
        s.omega, s.theta = self._solve(a, r_om, r_th)
        self.last_speed = (max(umax, umax2), max(wmax, wmax2))
        s.t += dt
        s.steps += 1

    def advance(self, s: RBState, duration: float, *, dt: Optional[float] = None) -> RBState:
        """Step from s.t to s.t + duration (the last step is shortened to land on it). dt None: adaptive,
        the CFL step of the previous step's velocities, rounded down to a ladder of 2^(1/4) ratios so the
        implicit solve arrays are rebuilt only when the step changes."""
        t_end = s.t + duration
        while s.t < t_end - 1e-12:
            if dt is None:
                if self.last_speed is None:
                    u, w = self.velocity(s.omega)
                    self.last_speed = (float(np.abs(u).max()), float(np.abs(w).max()))
                h = self.cfl_dt(*self.last_speed)
                h = min(self.dt_max, 2.0 ** (math.floor(4 * math.log2(h)) / 4))
            else:
                h = dt
            self.step(s, min(h, t_end - s.t))
        return s

    # --- initial states and diagnostics ------------------------------------------------------------
    def initial(self, batch: int = 1, *, seed: int | list[int] = 0, amplitude: float = 1e-3) -> RBState:
        """Small smooth random temperature perturbations: the modes m < 8, n <= 8 with normal coefficients
        drawn from `seed` (the same draws on every grid), scaled to a largest value of `amplitude`."""
        rng = np.random.default_rng(seed)
        c = rng.standard_normal((batch, 8, 8)) + 1j * rng.standard_normal((batch, 8, 8))
        c[..., 0] = c[..., 0].real
        th = np.zeros((batch, self.mz, self.mx), self.complex)
        nz, nx = min(8, self.mz), min(8, self.mx)
        th[:, :nz, :nx] = c[:, :nz, :nx]
        peak = np.abs(self.to_grid(th)).max(axis=(-2, -1), keepdims=True)
        th *= (amplitude / np.maximum(peak, 1e-30)).astype(self.real)
        return RBState(0.0, np.zeros_like(th), th)

    def mode(self, m: int = 1, n: int = 1, amplitude: float = 1e-6, batch: int = 1) -> RBState:
        """θ = amplitude cos(k_m x) sin(n π z), ω = 0."""
        th = np.zeros((batch, self.mz, self.mx), self.complex)
        th[:, n - 1, m] = amplitude / 2 if m else amplitude
        return RBState(0.0, np.zeros_like(th), th)

    def nusselt(self, s: RBState) -> tuple[np.ndarray, np.ndarray]:
        """(wall, volume) Nusselt numbers of each run of the batch, at this instant."""
        a = s.theta[..., :, 0].real  # horizontal mean θ̄(z): sine coefficients
        npi = self.npi[:, 0]
        d_bot = (npi * a).sum(-1)
        d_top = (npi * a * np.cos(npi)).sum(-1)
        wall = 1.0 - 0.5 * (d_bot + d_top)
        _, w = self.velocity(s.omega)
        volume = 1.0 + (w * self.to_grid(s.theta)).mean(axis=(-2, -1)) / self.kappa
        return wall, volume

    def fields(self, s: RBState, nz: Optional[int] = None, nx: Optional[int] = None) -> dict[str, np.ndarray]:
        """Temperature T = 1 − z + θ, vorticity ω, velocity u, w as (B, nz, nx) arrays on the midpoint grid of
        nz × nx points (default: the solver's grid; z upwards from row 0). A coarser grid keeps the modes it
        can hold (n < nz, |m| < nx/2: spectral truncation), so it is the band-limited field sampled there."""
        nz, nx = nz or self.nz, nx or self.nx
        kz, kx = min(self.mz, nz - 1), min(self.mx, nx // 2)
        om, th = s.omega[..., :kz, :kx], s.theta[..., :kz, :kx]
        psi = -om / self.k2[:kz, :kx]

        def synth(c, cosine=False):
            h = sfft.irfft(c, n=nx, axis=-1) * (nx * nz)
            return (sfft.idct if cosine else sfft.idst)(h, type=2, n=nz, axis=-2)

        b = np.zeros(psi.shape[:-2] + (kz + 1, kx), psi.dtype)
        b[..., 1:, :] = self.npi[:kz] * psi
        z = (np.arange(nz) + 0.5) / nz
        return {"temperature": (1.0 - z)[:, None] + synth(th), "vorticity": synth(om),
                "u": -synth(b, cosine=True), "w": synth(self.ik[:, :kx] * psi)}

    def energy(self, s: RBState) -> np.ndarray:
        """Kinetic energy ½⟨u² + w²⟩ per run."""
        u, w = self.velocity(s.omega)
        return 0.5 * (u ** 2 + w ** 2).mean(axis=(-2, -1))


def growth_rate(ra: float, pr: float = 1.0, *, aspect: float = 2 * math.sqrt(2), nz: int = 16, nx: int = 16,
                t_end: float = 3.0, dt: float = 0.01, units: str = "thermal") -> float:
    """Growth rate of the (m = 1, n = 1) mode from the solver (nonlinear terms on, amplitude 1e-6): the slope of
    log |θ̂(1, 1)| over the second half of [0, t_end]. t_end and dt in `units` (thermal: d²/κ; freefall)."""
    sim = RayleighBenard(ra, pr, aspect=aspect, nz=nz, nx=nx)
    to_ff = math.sqrt(ra * pr) if units == "thermal" else 1.0
    s = sim.mode(1, 1, 1e-6)
    sim.advance(s, 0.5 * t_end * to_ff, dt=dt * to_ff)
    t0, a0 = s.t, abs(s.theta[0, 0, 1])
    sim.advance(s, 0.5 * t_end * to_ff, dt=dt * to_ff)
    return math.log(abs(s.theta[0, 0, 1]) / a0) / (s.t - t0) * to_ff


def theory_growth_rate(ra: float, pr: float = 1.0, k: float = K_CRITICAL, n: int = 1) -> float:
    """Largest root σ of (σ + Pr K²)(σ + K²) = Ra Pr k² / K² (thermal-diffusion units)."""
    k2 = k * k + (n * math.pi) ** 2
    b, c = (1 + pr) * k2, pr * k2 * k2 - ra * pr * k * k / k2
    return 0.5 * (-b + math.sqrt(b * b - 4 * c))
