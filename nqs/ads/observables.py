"""Observables of the emergent geometry: the metric from the learned h, and the quark–antiquark
potential from the Wilson loop (HSTT2; Maldacena, PRL 80, 4859 (1998); Rey & Yee, EPJC 22, 379
(2001)).

The metric. The network only learns h(η) = ∂_η log √(f g^{d−1}), one combination of f and g; the
Wilson loop needs both, so one more relation must be assumed. We assume f = g (an assumption, not a
result: a horizon where f vanishes faster than g is not representable), so that h = (d/2) ∂_η log g and

    g(η) = f(η) = exp(2η_ini − (2/d) ∫_η^{η_ini} h dη'),   η < η_ini,     g = e^{2η} above η_ini,

normalised to AdS, ds² = L²dη² + e^{2η}(−dt² + dx²), near the boundary (where the network's input
layer already assumes AdS). h is piecewise constant, h_n on the layer [η_n + Δη, η_n] that uses it.

The Wilson loop. A string hanging from a quark pair at distance r, static, with turning point η*,
in ds² = −f dt² + dη² + g dx² has, with A = f g and A* = A(η*) (Nambu–Goto, T = 1/(2πα')),

    r(η*) = 2 ∫_{η*}^{∞} √A* / (√g √(A − A*)) dη,
    2πα' V(η*) = 2 ∫_{η*}^{∞} √f (√A/√(A − A*) − 1) dη − 2 ∫_{η_IR}^{η*} √f dη,

the energy of the connected string minus that of two straight strings down to the horizon (or the
end of space) η_IR: V = 0 is a free quark pair. In pure AdS5 of radius R this gives exactly
V = −(4π²/Γ(1/4)⁴)(R²/α')/r (Maldacena 1998), which the tests check. Where A = f g has a local
minimum η_w (an IR wall) the turning point can approach it and r → ∞ with
2πα' dV/dr → √A(η_w) = g(η_w): a linear, confining potential. Where the connected string costs more
than the two straight strings (V > 0) it breaks: V(r) = min(V_conn, 0), Debye screening.

Units: with η in units of L the metric is ds² = L²dη² + g(−dt² + dx²), so distances come out in
units of L and 2πα'V in units of L as well (``quark_potential`` converts to fm).
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple

import numpy as np

from .network import Network

HBAR_C_GEV_FM = 0.1973269804  # ħc in GeV·fm: 1 GeV⁻¹ = 0.1973 fm


def ads5_coefficient() -> float:
    """4π²/Γ(1/4)⁴ ≈ 0.2285: V(r) = −coefficient · (R²/α')/r in AdS5 (Maldacena 1998)."""
    return 4 * math.pi**2 / math.gamma(0.25) ** 4


class Metric(NamedTuple):
    """The emergent metric with f = g: log g on the layer edges, AdS above η_ini, ending at η_IR.

    Attributes:
        edges: η at the layer edges, decreasing from η_ini to η_fin, shape (N+1,).
        log_g: log g at the edges, shape (N+1,).
        h: the layer values h_n, shape (N,).
        d: boundary dimension.
    """

    edges: np.ndarray
    log_g: np.ndarray
    h: np.ndarray
    d: int

    @property
    def eta_ir(self) -> float:
        """The last η the network knows (η_fin); strings end there."""
        return float(self.edges[-1])

    def log_g_at(self, eta):
        """log g(η): exact for piecewise-constant h (linear in η on each layer), 2η above η_ini."""
        eta = np.asarray(eta, dtype=float)
        # np.interp needs increasing abscissae; log g is linear between edges because h is constant there
        inside = np.interp(eta, self.edges[::-1], self.log_g[::-1])
        below = self.log_g[-1] + (2.0 / self.d) * self.h[-1] * (eta - self.edges[-1])
        return np.where(eta >= self.edges[0], 2.0 * eta, np.where(eta < self.edges[-1], below, inside))

    def g(self, eta):
        return np.exp(self.log_g_at(eta))

    f = g  # the assumption f = g


def metric(net: Network, h) -> Metric:
    """The f = g metric from learned h (see the module docstring for the normalisation)."""
    h = np.asarray(h, dtype=float)
    if h.shape != (net.n_layers,):
        raise ValueError(f"h must have shape ({net.n_layers},) for this network, got {h.shape}")
    edges = net.eta_ini + net.delta_eta * np.arange(net.n_layers + 1)
    # each layer lowers log g by (2/d) h_n |Δη| going down in η
    log_g = 2.0 * net.eta_ini + np.concatenate([[0.0], np.cumsum((2.0 / net.d) * h * net.delta_eta)])
    return Metric(edges, log_g, h, net.d)


def _turning_point_integrals(f: Callable, g: Callable, eta_star: float, eta_ir: float, breaks=()) -> tuple:
    """r and 2πα'V for one turning point η* (see module docstring), by adaptive quadrature.

    Near η* substitute η = η* + s², which removes the 1/√(A − A*) endpoint singularity.
    """
    from scipy import integrate  # here, not at import: it would add a third of a second to every `nqs` command

    a_star = f(eta_star) * g(eta_star)
    span = 4.0  # the substituted part covers [η*, η*+span]; beyond it the integrands are smooth and decaying
    pts_s = sorted({np.sqrt(b - eta_star) for b in breaks if eta_star < b < eta_star + span})

    def gap(eta):
        return np.maximum(f(eta) * g(eta) - a_star, 1e-300)

    def r_near(s):
        eta = eta_star + s * s
        return 2 * s * np.sqrt(a_star) / np.sqrt(g(eta) * gap(eta))

    def v_near(s):
        eta = eta_star + s * s
        A = f(eta) * g(eta)
        return 2 * s * np.sqrt(f(eta)) * (np.sqrt(A) - np.sqrt(gap(eta))) / np.sqrt(gap(eta))

    def r_far(eta):
        return np.sqrt(a_star) / np.sqrt(g(eta) * gap(eta))

    def v_far(eta):
        A = f(eta) * g(eta)
        # √A/√(A−A*) − 1 = A*/(√(A−A*)(√A + √(A−A*))): no cancellation at large A
        return np.sqrt(f(eta)) * a_star / (np.sqrt(gap(eta)) * (np.sqrt(A) + np.sqrt(gap(eta))))

    # the far integrands fall like (A*/A)^{1/2}: stop where A/A* > 1e30 instead of at ∞, which
    # would overflow f and g (exponential in η) inside the quadrature
    eta_uv = eta_star + span
    for _ in range(200):
        if f(eta_uv) * g(eta_uv) > 1e30 * a_star:
            break
        eta_uv += span
    opts = dict(limit=400, epsabs=1e-12, epsrel=1e-10)
    s_max = np.sqrt(span)
    far_pts = [b for b in breaks if eta_star + span < b < eta_uv] or None
    r = integrate.quad(r_near, 0.0, s_max, points=pts_s or None, **opts)[0]
    r += integrate.quad(r_far, eta_star + span, eta_uv, points=far_pts, **opts)[0]
    v = integrate.quad(v_near, 0.0, s_max, points=pts_s or None, **opts)[0]
    v += integrate.quad(v_far, eta_star + span, eta_uv, points=far_pts, **opts)[0]
    ir_pts = [b for b in breaks if eta_ir < b < eta_star] if np.isfinite(eta_ir) else []
    straight = integrate.quad(lambda e: np.sqrt(f(e)), eta_ir, eta_star, points=ir_pts or None, **opts)[0]
    return 2 * r, 2 * v - 2 * straight


def wilson_loop(f: Callable, g: Callable, eta_stars, eta_ir: float = -np.inf, breaks=()) -> tuple:
    """The connected Nambu–Goto string in ds² = −f dt² + dη² + g dx², for each turning point η*.

    Args:
        f, g: metric functions of η (vectorised numpy callables), boundary at η → +∞.
        eta_stars: turning points; each must have A = fg increasing through η* and A(η) > A(η*) above.
        eta_ir: where the straight (disconnected) strings end: a horizon or the end of space.
        breaks: η where f or g have kinks (layer edges), passed to the quadrature.

    Returns:
        (r, 2πα'V) arrays: quark separation and energy relative to two straight strings, in the
        units of η (e.g. L).
    """
    eta_stars = np.atleast_1d(np.asarray(eta_stars, dtype=float))
    out = np.array([_turning_point_integrals(f, g, e, eta_ir, breaks) for e in eta_stars])
    return out[:, 0], out[:, 1]


def ads5_wilson_loop(R: float, z_stars) -> tuple:
    """The Wilson loop in pure AdS5, ds² = R²(−dt² + dx² + dz²)/z², through ``wilson_loop``.

    With η = −R log(z/R) the metric is ds² = dη² + e^{2η/R}(−dt² + dx²): f = g = e^{2η/R}, and the
    straight strings run to the Poincaré horizon z → ∞ (η → −∞).

    Returns:
        (r, 2πα'V) for turning points z*; the exact answer is 2πα'V = −2π · (4π²/Γ(1/4)⁴) R²/r.
    """
    z_stars = np.asarray(z_stars, dtype=float)
    if R <= 0 or np.any(z_stars <= 0):
        raise ValueError(f"need R > 0 and turning points z* > 0, got R={R}, z*={z_stars}")
    fg = lambda eta: np.exp(2 * np.asarray(eta) / R)  # noqa: E731
    return wilson_loop(fg, fg, -R * np.log(z_stars / R))


class Potential(NamedTuple):
    """The quark–antiquark potential of an emergent metric.

    Attributes:
        r_fm: separations of the connected string, fm (increasing).
        V_fm: 2πα'V of the connected string, fm (energy × 2πα'; V = 0 is a free pair).
        eta_star: the turning points (units of L).
        eta_wall: where g = f has its local minimum (the IR wall), or None.
        tension: 2πα' σ = g(η_wall), the slope of the linear part (dimensionless), or None.
        r_screen_fm: where V_conn reaches 0 and the string breaks (Debye screening), or None.
    """

    r_fm: np.ndarray
    V_fm: np.ndarray
    eta_star: np.ndarray
    eta_wall: float | None
    tension: float | None
    r_screen_fm: float | None

    def screened(self) -> np.ndarray:
        """V(r) = min(V_conn, 0): the string breaks into two straight strings once that is cheaper."""
        return np.minimum(self.V_fm, 0.0)


def ir_wall(m: Metric) -> float | None:
    """The highest local minimum of g below η_ini (h changes sign from − below to + above), or None."""
    for n in range(len(m.h) - 1):
        # layer n is above layer n+1; g' ∝ h, so a minimum sits on the edge between h_{n+1} < 0 < h_n
        if m.h[n] > 0 >= m.h[n + 1]:
            return float(m.edges[n + 1])
    return None


def quark_potential(net: Network, h, L_GeV: float, n_points: int = 120, eta_max: float | None = None) -> Potential:
    """V(r) from a learned metric (f = g), in fm, with the linear part and the screening length.

    Args:
        net: the network the metric came from.
        h: learned layer values.
        L_GeV: the AdS radius in GeV⁻¹ (sets the unit of length: r = L ρ).
        n_points: turning points sampled between the wall (or η_fin) and ``eta_max``.
        eta_max: highest turning point (default η_ini + 1.5, small r).
    """
    if not L_GeV > 0:
        raise ValueError(f"the AdS radius must be > 0 GeV^-1, got {L_GeV}")
    m = metric(net, h)
    eta_max = net.eta_ini + 1.5 if eta_max is None else eta_max
    wall = ir_wall(m)
    lower = wall if wall is not None else m.eta_ir
    # turning points must see A = g² increase all the way up: stay above the highest local maximum of g
    grid = np.linspace(lower, eta_max, 4000)
    lg = m.log_g_at(grid)
    ok = np.array([np.all(lg[i + 1:] > lg[i]) for i in range(len(grid) - 1)] + [True])
    lo = grid[np.argmax(ok)]
    # cluster turning points near the wall, where r runs off to infinity
    t = np.linspace(0, 1, n_points + 1)[1:]
    stars = lo + (eta_max - lo) * t**3
    stars = stars[np.interp(stars, grid, ok.astype(float)) > 0.5]
    r, v = wilson_loop(m.f, m.g, stars, eta_ir=m.eta_ir, breaks=tuple(m.edges))
    scale = L_GeV * HBAR_C_GEV_FM
    order = np.argsort(r)
    r, v, stars = r[order] * scale, v[order] * scale, stars[order]
    tension = float(m.g(wall)) if wall is not None else None
    crossing = np.nonzero((v[:-1] < 0) & (v[1:] >= 0))[0]
    r_screen = None
    if len(crossing):
        i = crossing[0]
        r_screen = float(r[i] - v[i] * (r[i + 1] - r[i]) / (v[i + 1] - v[i]))
    return Potential(r, v, stars, wall, tension, r_screen)
