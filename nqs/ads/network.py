"""The bulk scalar's radial equation of motion, discretised, as a deep neural network.

Hashimoto, Sugishita, Tanaka & Tomiya, "Deep learning and the AdS/CFT correspondence",
PRD 98, 046019 (2018), arXiv:1802.08313 (HSTT1), and "Deep learning and holographic QCD",
PRD 98, 106014 (2018), arXiv:1809.10536 (HSTT2).

In the metric ds² = −f(η)dt² + dη² + g(η)dx² (d−1 spatial x), a scalar with action
∫√−g [−½(∂φ)² − ½m²φ² − V(φ)], V = λφ⁴/4, that depends on η alone obeys

    ∂_η π + h(η) π − m² φ − λ φ³ = 0,    π = ∂_η φ,    h(η) = ∂_η log √(f g^{d−1}).

Forward Euler with N steps from the boundary side η_ini down to η_fin, Δη = (η_fin − η_ini)/N < 0,
is the network (HSTT1): layer n, at η_n = η_ini + nΔη, maps

    φ ← φ + Δη π,    π ← π − Δη (h_n π − m² φ − λ φ³).

Because Δη is negative this integrates the equation towards the horizon; it is the same recursion
as the papers' with the sign carried by Δη. The weights are the metric values h_n (and, for QCD,
λ and the AdS radius L). The last layer is the horizon condition F(φ, π) at η_fin, read through the
smoothed box t(F) = [tanh((F−ε)/δ) − tanh((F+ε)/δ) + 2]/2 (≈0 for |F| < ε, ≈1 outside); data on
the physical curve carry the label y = 0, data off it y = 1, and the loss is (mean |t − y|)² plus
the smoothness penalty on h (HSTT1, HSTT2).

Two presets reproduce the papers: ``SCHWARZSCHILD`` (HSTT1: d = 3, m² = −1, λ = 1, 10 layers,
η from 1 to 0.1, regular-horizon condition F = (2/η)π − m²φ − λφ³) and ``QCD`` (HSTT2: d = 4,
m² = −3, 15 layers, η from 1 to 1/15, F = π(η_fin), inputs (m_q, ⟨q̄q⟩) through the near-boundary
solution). η is measured in units of the AdS radius L.

Why ``lax.scan`` over layers rather than a Python loop: unrolled, XLA on CPU fuses the whole
15-layer chain into every one of the 17 gradient outputs and computes it 17 times; the rolled loop
materialises each layer once and is about ten times faster per training step on 2 cores.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

HORIZONS = ("regular", "pi")
BOUNDARIES = ("field", "qcd")


class Network(NamedTuple):
    """Static description of one holographic network (hashable: usable as a ``jit`` static argument).

    Attributes:
        d: boundary spacetime dimension (the bulk has d+1).
        m2: bulk mass squared m² in units of 1/L².
        n_layers: number of Euler steps N.
        eta_ini: boundary-side cutoff η_ini (input layer), in units of L.
        eta_fin: horizon-side cutoff η_fin (output layer), in units of L.
        horizon: ``"regular"``, F = (2/η_fin)π − m²φ − λφ³ (regularity at a black-hole horizon,
            HSTT1), or ``"pi"``, F = π(η_fin) (HSTT2).
        boundary: ``"field"``, the inputs are (φ, π) at η_ini; or ``"qcd"``, the inputs are
            (m_q [GeV], ⟨q̄q⟩ [GeV³]) mapped to (φ, π) by ``qcd_boundary``.
        lam: the quartic coupling λ when it is not a trained parameter.
        eps: half-width ε of the accepted window |F| < ε.
        width: smoothing δ of the box t(F).
        c_smooth: coefficient c of the smoothness penalty c Σ_n η_n⁴ (h_{n+1} − h_n)².
        c_boundary: coefficient of the AdS boundary penalty c (d − h_1)² (HSTT2; 0 switches it off).
        n_colors: N_c in the QCD source/condensate normalisation.
    """

    d: int
    m2: float
    n_layers: int
    eta_ini: float
    eta_fin: float
    horizon: str = "regular"
    boundary: str = "field"
    lam: float = 1.0
    eps: float = 0.1
    width: float = 0.01
    c_smooth: float = 1e-3
    c_boundary: float = 0.0
    n_colors: int = 3

    @property
    def delta_eta(self) -> float:
        """Δη = (η_fin − η_ini)/N, negative: the network runs from the boundary to the horizon."""
        return (self.eta_fin - self.eta_ini) / self.n_layers

    @property
    def etas(self) -> np.ndarray:
        """η_n = η_ini + nΔη, n = 0..N−1: where layer n reads h_n (its input side)."""
        return self.eta_ini + self.delta_eta * np.arange(self.n_layers)

    def validate(self) -> "Network":
        if self.horizon not in HORIZONS:
            raise ValueError(f"horizon must be one of {HORIZONS}, got {self.horizon!r}")
        if self.boundary not in BOUNDARIES:
            raise ValueError(f"boundary must be one of {BOUNDARIES}, got {self.boundary!r}")
        if self.n_layers < 2:
            raise ValueError(f"n_layers must be >= 2, got {self.n_layers}")
        if not self.eta_ini > self.eta_fin > 0:
            raise ValueError(
                f"need eta_ini > eta_fin > 0 (boundary at larger eta), got eta_ini={self.eta_ini}, eta_fin={self.eta_fin}"
            )
        if not (self.eps > 0 and self.width > 0):
            raise ValueError(f"eps and width of t(F) must be > 0, got eps={self.eps}, width={self.width}")
        return self


# HSTT1: AdS4 Schwarzschild, h(η) = 3 coth(3η). HSTT1 give the form of the penalty; c = 1e-3 is
# our reading of their value; the horizon-side layers move with it (docs/ads.md).
SCHWARZSCHILD = Network(d=3, m2=-1.0, n_layers=10, eta_ini=1.0, eta_fin=0.1, horizon="regular",
                        boundary="field", lam=1.0, c_smooth=1e-3, c_boundary=0.0)

# HSTT2: the holographic QCD network, penalty 0.01 (d − h_1)² + Σ_n 0.01 η_n⁴ (h_{n+1} − h_n)².
QCD = Network(d=4, m2=-3.0, n_layers=15, eta_ini=1.0, eta_fin=1.0 / 15, horizon="pi",
              boundary="qcd", lam=0.2, c_smooth=0.01, c_boundary=0.01)


def schwarzschild_h(eta, d: int = 3):
    """h(η) = d coth(dη) of the AdS_{d+1} Schwarzschild black hole (horizon at η = 0, HSTT1)."""
    eta = np.asarray(eta, dtype=float)
    return d / np.tanh(d * eta)


def layer(net: Network, h_n, lam, phi, pi):
    """One Euler step of the EOM at η_n: (φ, π) → (φ + Δη π, π − Δη(h_n π − m²φ − λφ³))."""
    de = net.delta_eta
    return phi + de * pi, pi - de * (h_n * pi - net.m2 * phi - lam * phi**3)


def propagate(net: Network, h, lam, phi, pi, *, return_all: bool = False, unroll: int = 1):
    """Run (φ, π) from η_ini through all N layers to η_fin.

    Args:
        h: metric values h_n, shape (N,).
        lam: quartic coupling λ.
        phi, pi: fields at η_ini, any (matching) shape.
        return_all: also return the fields at the input of every layer, shape (N, ...).
        unroll: layers per iteration of the compiled loop (a speed knob; results are identical).

    Returns:
        (φ, π) at η_fin, or ((φ, π), (φ_n, π_n)) with ``return_all``.
    """

    def step(state, h_n):
        new = layer(net, h_n, lam, *state)
        return new, state if return_all else None

    final, inputs = jax.lax.scan(step, (phi, pi), jnp.asarray(h), unroll=unroll)
    return (final, inputs) if return_all else final


def horizon_condition(net: Network, lam, phi, pi):
    """F at η_fin: (2/η_fin)π − m²φ − λφ³ for a regular horizon (HSTT1), or π (HSTT2)."""
    if net.horizon == "regular":
        return (2.0 / net.eta_fin) * pi - net.m2 * phi - lam * phi**3
    return pi


def qcd_sources(m_q, condensate, L, n_colors: int = 3):
    """Dimensionless bulk coefficients from the QCD data (HSTT2, with N_c colours).

    α = L √N_c/(2π) m_q,    β = L³ π/√N_c ⟨q̄q⟩,

    with m_q in GeV, ⟨q̄q⟩ in GeV³ and the AdS radius L in GeV⁻¹.
    """
    alpha = L * (np.sqrt(n_colors) / (2 * np.pi)) * m_q
    beta = L**3 * (np.pi / np.sqrt(n_colors)) * condensate
    return alpha, beta


def near_boundary_solution(alpha, beta, lam, eta):
    """The asymptotic solution of φ'' + 4φ' + 3φ − λφ³ = 0 (AdS5, m² = −3, HSTT2) and π = φ'.

    φ = α e^{−η} + β e^{−3η} − ½ λ α³ η e^{−3η},
    π = −α e^{−η} − 3β e^{−3η} + (3/2) λ α³ η e^{−3η} − ½ λ α³ e^{−3η};

    it solves the equation up to terms of order η e^{−5η}.
    """
    e1, e3 = jnp.exp(-eta), jnp.exp(-3 * eta)
    a3 = lam * alpha**3
    phi = alpha * e1 + beta * e3 - 0.5 * a3 * eta * e3
    pi = -alpha * e1 - 3 * beta * e3 + 1.5 * a3 * eta * e3 - 0.5 * a3 * e3
    return phi, pi


def coupling(net: Network, params):
    """λ: trained (``params["lam"]``) if present, else the network's fixed value."""
    return params["lam"] if "lam" in params else net.lam


def boundary_fields(net: Network, params, x):
    """(φ, π) at η_ini from the inputs x[..., 0:2]: directly, or through the QCD dictionary."""
    x = jnp.asarray(x)
    if net.boundary == "field":
        return x[..., 0], x[..., 1]
    alpha, beta = qcd_sources(x[..., 0], x[..., 1], params["L"], net.n_colors)
    return near_boundary_solution(alpha, beta, coupling(net, params), net.eta_ini)


def horizon_value(net: Network, params, x, unroll: int = 1):
    """F(x): the network from the inputs x, shape (..., 2), to the horizon condition, shape (...)."""
    lam = coupling(net, params)
    phi, pi = boundary_fields(net, params, x)
    phi, pi = propagate(net, params["h"], lam, phi, pi, unroll=unroll)
    return horizon_condition(net, lam, phi, pi)


def output(F, eps: float = 0.1, width: float = 0.01):
    """t(F) = [tanh((F−ε)/δ) − tanh((F+ε)/δ) + 2]/2: ≈0 on |F| < ε (label 0), ≈1 elsewhere (label 1)."""
    return 0.5 * (jnp.tanh((F - eps) / width) - jnp.tanh((F + eps) / width) + 2.0)


def predict(net: Network, params, x, unroll: int = 1):
    """t(F(x)), the network's output in [0, 1] (0 = on the physical curve)."""
    return output(horizon_value(net, params, x, unroll), net.eps, net.width)


def classify(net: Network, params, x):
    """The predicted label: 0 (positive, |F| < ε) where t < ½, else 1. t(±ε) = ½ exactly."""
    return (predict(net, params, x) >= 0.5).astype(jnp.int32)


def accuracy(net: Network, params, x, y) -> float:
    """Fraction of inputs whose predicted label equals y."""
    return float(jnp.mean(classify(net, params, x) == jnp.asarray(y).astype(jnp.int32)))


def penalty(net: Network, h):
    """c_smooth Σ_{n=1}^{N−1} η_n⁴ (h_{n+1} − h_n)² + c_boundary (d − h_1)² (HSTT1, HSTT2).

    The η⁴ weight lets h vary fast near the horizon (η → 0), where coth(dη) does, and keeps it
    smooth near the boundary; the second term ties the first layer to AdS (h → d as η → ∞).
    """
    etas = jnp.asarray(net.etas[:-1])
    smooth = net.c_smooth * jnp.sum(etas**4 * (h[1:] - h[:-1]) ** 2)
    return smooth + net.c_boundary * (net.d - h[0]) ** 2


def data_loss(net: Network, params, x, y, unroll: int = 1):
    """(mean |t(F(x)) − y|)², the papers' L1 loss squared (without the penalty)."""
    return jnp.mean(jnp.abs(predict(net, params, x, unroll) - y)) ** 2


def loss(net: Network, params, x, y, unroll: int = 1):
    """The training loss: (mean |t − y|)² + penalty(h)."""
    return data_loss(net, params, x, y, unroll) + penalty(net, params["h"])


def init_params(net: Network, key, *, h_mean: float, h_std: float, lam: float | None = None,
                L: float | None = None, dtype=jnp.float64) -> dict:
    """Initial weights: h_n ~ N(h_mean, h_std²), and λ, L (GeV⁻¹) where the network trains them.

    The QCD network (``boundary="qcd"``) trains λ and L and needs both; the field network trains h
    alone unless ``lam`` is given.
    """
    params = {"h": (h_mean + h_std * jax.random.normal(key, (net.n_layers,))).astype(dtype)}
    if net.boundary == "qcd":
        if lam is None or L is None:
            raise ValueError("the QCD network trains lambda and the AdS radius L: give initial lam and L (GeV^-1)")
        if not L > 0:
            raise ValueError(f"the AdS radius L must be > 0 GeV^-1, got {L}")
        params["L"] = jnp.asarray(L, dtype)
        params["lam"] = jnp.asarray(lam, dtype)
    elif lam is not None:
        params["lam"] = jnp.asarray(lam, dtype)
    return params
