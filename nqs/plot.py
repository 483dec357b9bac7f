"""Figures: the convergence of a VMC run against its reference energy."""

from __future__ import annotations

import numpy as np


def plot_convergence(history: dict, path, exact: float | None = None, title: str = "", label: str = "VMC"):
    """Energy per site against step (with its error band) and, if ``exact`` is known, the relative
    error on a log scale; written to ``path`` (PNG). Returns the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    e = np.asarray(history["energy_per_site"])
    err = np.asarray(history["error_per_site"])
    steps = np.arange(len(e))
    n_panels = 2 if exact is not None else 1
    fig, axes = plt.subplots(n_panels, 1, figsize=(6.4, 2.6 + 2.2 * n_panels), sharex=True, squeeze=False)
    ax = axes[0, 0]
    ax.plot(steps, e, lw=1, label=label)
    ax.fill_between(steps, e - err, e + err, alpha=0.3, lw=0)
    if exact is not None:
        ax.axhline(exact, color="k", ls="--", lw=1, label=f"exact {exact:.6f}")
        top = max(np.nanmax(e[len(e) // 10:]) if len(e) > 10 else np.nanmax(e), exact + 1e-3 * abs(exact))
        ax.set_ylim(exact - 0.15 * (top - exact), top + 0.05 * (top - exact))
    ax.set_ylabel("E / N  [J, S·S units]")
    ax.legend(loc="upper right", fontsize=8)
    if title:
        ax.set_title(title)
    if exact is not None:
        ax2 = axes[1, 0]
        ax2.semilogy(steps, np.abs(e - exact) / abs(exact), lw=1)
        ax2.set_ylabel("|E − E_exact| / |E_exact|")
        ax2.grid(True, which="both", alpha=0.3)
    axes[-1, 0].set_xlabel("VMC step")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
