"""Figures of the holographic experiments (matplotlib, Agg backend, PNG)."""

from __future__ import annotations

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _loss_panel(ax, history):
    epochs = np.arange(1, history.shape[1] + 1)
    for row in history:
        ax.semilogy(epochs, row, lw=0.8, alpha=0.7)
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss (with penalty)")
    ax.grid(True, which="both", alpha=0.3)


def plot_schwarzschild(etas, h, h_true, history, path, title=""):
    """Learned h_n (every seed, and their mean) against the true d·coth(dη), and the loss curves."""
    plt = _pyplot()
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    fine = np.linspace(etas.min() * 0.9, etas.max(), 300)
    a.plot(fine, h_true(fine), "k-", lw=1.5, label="true 3 coth(3η)")
    for row in h:
        a.plot(etas, row, ".", color="C0", alpha=0.35)
    a.plot(etas, h.mean(axis=0), "o-", color="C0", label=f"learned (mean of {len(h)} seeds)")
    a.set_xlabel("η (boundary at η = 1, horizon at η = 0)")
    a.set_ylabel("h(η)")
    a.legend()
    a.grid(alpha=0.3)
    _loss_panel(b, history)
    return _save(fig, path, title)


def plot_qcd_metric(etas, h, history, path, title=""):
    """The emergent metric h(η) of every seed (mean ± spread) and the loss curves."""
    plt = _pyplot()
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    for row in h:
        a.plot(etas, row, "-", color="C1", lw=0.6, alpha=0.4)
    mean, std = h.mean(axis=0), h.std(axis=0)
    a.errorbar(etas, mean, yerr=std, fmt="o-", color="C1", capsize=2, label=f"mean ± spread, {len(h)} seeds")
    a.axhline(4, color="k", ls=":", lw=1, label="AdS5 (h = 4)")
    a.axhline(0, color="k", lw=0.5)
    a.set_xlabel("η (units of L; boundary at η = 1)")
    a.set_ylabel("emergent metric h(η)")
    a.legend()
    a.grid(alpha=0.3)
    _loss_panel(b, history)
    return _save(fig, path, title)


def plot_qcd_data(x, y, predicted_positive, lattice, fit, path):
    """Training data (positive, negative), the lattice points, the cubic fit and what the network calls positive."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    neg, pos = y > 0.5, y < 0.5
    ax.plot(x[neg, 0], x[neg, 1], ".", ms=1, color="0.75", label="negative (label 1)")
    ax.plot(x[pos, 0], x[pos, 1], ".", ms=1.5, color="C0", label="positive (label 0)")
    hit = predicted_positive
    ax.plot(x[hit, 0], x[hit, 1], ".", ms=1, color="C3", alpha=0.4, label="network: positive")
    m = np.linspace(0, x[:, 0].max(), 200)
    ax.plot(m, fit(m), "k-", lw=1, label="cubic fit")
    ax.plot(lattice.m_q, lattice.condensate, "ks", ms=5, label="lattice QCD")
    ax.set_xlabel("quark mass m_q [GeV]")
    ax.set_ylabel("⟨q̄q⟩ [GeV³]")
    leg = ax.legend(fontsize=7)
    for handle in leg.legend_handles:  # the data points are tiny; show them at a readable size
        handle.set_markersize(5)
    return _save(fig, path)


def plot_potential(pot, path, title=""):
    """2πα'V(r) of the connected string, the screened V = min(V, 0), the linear asymptote."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    ax.plot(pot.r_fm, pot.V_fm, "-", color="C0", lw=1, label="connected string")
    ax.plot(pot.r_fm, pot.screened(), "-", color="C3", lw=2, label="V(r) = min(V_conn, 0)")
    if pot.tension is not None:
        far = pot.r_fm > 0.6 * pot.r_fm.max()
        if far.sum() >= 2:
            intercept = np.mean(pot.V_fm[far] - pot.tension * pot.r_fm[far])
            r = np.linspace(0, pot.r_fm.max(), 50)
            ax.plot(r, intercept + pot.tension * r, "k:", lw=1, label=f"slope 2πα'σ = g(η_wall) = {pot.tension:.2f}")
    if pot.r_screen_fm is not None:
        ax.axvline(pot.r_screen_fm, color="C3", ls="--", lw=0.8, label=f"screening r = {pot.r_screen_fm:.2f} fm")
    ax.axhline(0, color="k", lw=0.5)
    lo = np.percentile(pot.V_fm, 5)
    ax.set_ylim(max(lo, -3 * abs(pot.V_fm.max()) - 1), pot.V_fm.max() * 1.1 + 0.1)
    ax.set_xlabel("quark separation r [fm]")
    ax.set_ylabel("2πα' V(r)  [fm]")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    if title:
        ax.set_title(title)
    return _save(fig, path)


def _save(fig, path, title=""):
    """Title, layout, PNG at 120 dpi, close; returns the path."""
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    _pyplot().close(fig)
    return path
