"""Training data for the holographic networks: the black-hole experiment and the lattice QCD data.

Experiment 1 (HSTT1): boundary values (φ, π) at η_ini, uniform in [0, 1.5] × [−0.2, 0.2], are
run through the network with the true metric h(η) = 3 coth(3η); a point is positive (label 0)
when the horizon condition holds to |F| < 0.1, negative (label 1) otherwise. Labelling uses the
very forward map that is trained, so the true metric classifies its own data exactly.

Experiment 2 (HSTT2): the chiral condensate ⟨q̄q⟩ against the quark mass m_q from lattice QCD
above the crossover (7 points, shipped as ``nqs/data/chiral_condensate_highT.csv`` with their
source) is fitted by a cubic; points (m_q, ⟨q̄q⟩) uniform in [0, 0.022] GeV × [0, 0.11] GeV³ are
positive when |⟨q̄q⟩ − fit(m_q)| < |ξ| with a fresh ξ ~ N(0, 0.004²) per point (the acceptance
rule of the authors' code), negative otherwise, until each class holds n points.
"""

from __future__ import annotations

from importlib import resources
from typing import NamedTuple

import jax
import numpy as np

from .network import SCHWARZSCHILD, Network, horizon_value, schwarzschild_h

LATTICE_FILE = "chiral_condensate_highT.csv"


class Dataset(NamedTuple):
    """Inputs x, shape (n, 2), and labels y in {0, 1} (0: on the physical curve), shape (n,)."""

    x: np.ndarray
    y: np.ndarray

    @property
    def n_positive(self) -> int:
        return int(np.sum(self.y == 0))

    def split(self, fraction: float, seed: int = 0) -> tuple["Dataset", "Dataset"]:
        """Random (train, held-out) split with ``fraction`` of the points held out."""
        if not 0 < fraction < 1:
            raise ValueError(f"the held-out fraction must be in (0, 1), got {fraction}")
        perm = np.random.default_rng(seed).permutation(len(self.y))
        cut = int(round(len(perm) * (1 - fraction)))
        a, b = perm[:cut], perm[cut:]
        return Dataset(self.x[a], self.y[a]), Dataset(self.x[b], self.y[b])


def _balanced(draw, is_positive, n_per_class: int, rng: np.random.Generator, batch: int) -> Dataset:
    """Draw batches until each class has n points; keep the first n of each, in drawing order."""
    if n_per_class <= 0:
        raise ValueError(f"n_per_class must be > 0, got {n_per_class}")
    pos, neg = [], []
    n_pos = n_neg = 0
    for _ in range(10_000):
        x = draw(rng, batch)
        ok = is_positive(x, rng)
        pos.append(x[ok])
        neg.append(x[~ok])
        n_pos += int(ok.sum())
        n_neg += int((~ok).sum())
        if n_pos >= n_per_class and n_neg >= n_per_class:
            break
    else:
        raise ValueError(f"could not draw {n_per_class} points of each class (got {n_pos} positive, {n_neg} negative)")
    xp = np.concatenate(pos)[:n_per_class]
    xn = np.concatenate(neg)[:n_per_class]
    x = np.concatenate([xp, xn])
    y = np.concatenate([np.zeros(n_per_class), np.ones(n_per_class)])
    return Dataset(x.astype(np.float64), y.astype(np.float64))


def schwarzschild_data(seed: int, n_per_class: int = 1000, net: Network = SCHWARZSCHILD,
                       phi_range=(0.0, 1.5), pi_range=(-0.2, 0.2)) -> Dataset:
    """Experiment-1 data: (φ, π) at η_ini labelled by |F| < ε under h(η) = d coth(dη).

    Args:
        seed: seed of the numpy generator that draws the points.
        n_per_class: points of each label (HSTT1: 1000).
        net: the network whose forward map labels the points (its ``d`` fixes the true metric).

    Returns:
        ``Dataset`` with n positives (y = 0) followed by n negatives (y = 1).
    """
    params = {"h": np.asarray(schwarzschild_h(net.etas, net.d))}
    F = jax.jit(lambda x: horizon_value(net, params, x))

    def draw(rng, n):
        return np.stack([rng.uniform(*phi_range, n), rng.uniform(*pi_range, n)], axis=1)

    def positive(x, rng):
        return np.abs(np.asarray(F(x))) < net.eps

    return _balanced(draw, positive, n_per_class, np.random.default_rng(seed), batch=20_000)


class LatticeData(NamedTuple):
    """The lattice QCD points: quark mass m_q [GeV], chiral condensate ⟨q̄q⟩ [GeV³], and their source."""

    m_q: np.ndarray
    condensate: np.ndarray
    source: str


def lattice_qcd() -> LatticeData:
    """Read the packaged lattice QCD chiral-condensate data (HSTT2's training data) and its source."""
    text = resources.files("nqs.data").joinpath(LATTICE_FILE).read_text()
    comments = [line[1:].strip() for line in text.splitlines() if line.startswith("#")]
    rows = [line for line in text.splitlines() if line and not line.startswith("#")]
    values = np.array([[float(v) for v in line.split(",")] for line in rows[1:]])
    return LatticeData(values[:, 0], values[:, 1], " ".join(comments))


def cubic_fit(lattice: LatticeData | None = None) -> np.polynomial.Polynomial:
    """Least-squares cubic ⟨q̄q⟩(m_q) through the lattice points (GeV → GeV³), as in HSTT2."""
    lattice = lattice or lattice_qcd()
    return np.polynomial.Polynomial.fit(lattice.m_q, lattice.condensate, 3).convert()


def qcd_data(seed: int, n_per_class: int = 10_000, noise: float = 0.004, m_q_range=(0.0, 0.022),
             condensate_range=(0.0, 0.11), fit: np.polynomial.Polynomial | None = None) -> Dataset:
    """Experiment-2 data: (m_q [GeV], ⟨q̄q⟩ [GeV³]) labelled by closeness to the cubic fit.

    Args:
        seed: seed of the numpy generator.
        n_per_class: points of each label (HSTT2: 10000).
        noise: σ of the per-point acceptance width |ξ|, ξ ~ N(0, σ²), in GeV³ (HSTT2: 0.004).

    Returns:
        ``Dataset`` with n positives (y = 0) followed by n negatives (y = 1).
    """
    if not noise > 0:
        raise ValueError(f"noise must be > 0 GeV^3, got {noise}")
    fit = fit or cubic_fit()

    def draw(rng, n):
        return np.stack([rng.uniform(*m_q_range, n), rng.uniform(*condensate_range, n)], axis=1)

    def positive(x, rng):
        return np.abs(x[:, 1] - fit(x[:, 0])) < np.abs(rng.normal(0.0, noise, len(x)))

    return _balanced(draw, positive, n_per_class, np.random.default_rng(seed), batch=50_000)
