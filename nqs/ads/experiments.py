"""The two experiments of Hashimoto, Sugishita, Tanaka & Tomiya, end to end: data, training,
analysis, HDF5 file and figures. ``nqs ads schwarzschild`` and ``nqs ads qcd`` call these.

1. ``schwarzschild``: recover h(η) = 3 coth(3η) of the AdS4 black hole from data it labelled
   (HSTT1). Reports the learned h against the truth layer by layer and the held-out accuracy.
2. ``qcd``: learn the emergent metric, λ and the AdS radius L from lattice QCD's chiral condensate
   (HSTT2). Reports 1/L in MeV, λ and λ/L over an ensemble of seeds, the IR wall and horizon of the
   metric, and the quark–antiquark potential it predicts.

Which recipe for QCD: HSTT2's, verbatim (``screen=0``), falls into the trivial minimum (every point
called negative, loss 0.25) for nearly every seed on our data; by default we first screen 8
random starts per kept seed for 100 epochs without the penalty (``train.screen``) and then run
HSTT2's recipe, unchanged, from the best of them. Both are measured in docs/ads.md.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np

from . import data as ads_data
from . import network as nw
from . import observables as obs
from . import train as tr
from .io import ResultsWriter, check_output

# Experiment 1: Adam, small minibatches, h_n ~ N(d, 1) (HSTT1 start from a random metric; the exact
# settings are ours: these converge to zero data loss for every seed we tried).
SCHWARZSCHILD_RECIPE = tr.Recipe(epochs=2000, batch_size=10, learning_rate=1e-3, h_mean=3.0, h_std=1.0,
                                 lam=None, L=None)
# Experiment 2: HSTT2's recipe.
QCD_RECIPE = tr.Recipe(epochs=5000, batch_size=100, learning_rate=1e-3, h_mean=4.0, h_std=3.0, lam=0.2, L=0.8)

# A seed counts as converged when it classifies at least this fraction of its training data
# (the trivial minimum, everything negative, scores 0.5 on balanced data).
CONVERGED_ACCURACY = 0.75

# HSTT2's quoted values (their ensemble): 1/L = 237(3) MeV, λ/L = 0.0127(6).
PAPER_INV_L_MEV = (237.0, 3.0)
PAPER_LAM_OVER_L = (0.0127, 0.0006)


def _accuracies(net, params, x, y) -> np.ndarray:
    """Accuracy of every seed (leading axis of params) on (x, y)."""
    x, y = jnp.asarray(x), jnp.asarray(y)
    f = jax.jit(jax.vmap(lambda p: jnp.mean((nw.predict(net, p, x) >= 0.5) == (y > 0.5))))
    return np.asarray(f({k: jnp.asarray(v) for k, v in params.items()}))


def _pngs(out: str, names) -> dict:
    stem = os.path.splitext(out)[0]
    return {n: f"{stem}_{n}.png" for n in names}


@dataclass
class SchwarzschildResult:
    """Experiment 1. ``h`` has shape (n_seeds, N); deviations are |h_mean/h_true − 1| per layer."""

    net: nw.Network
    train: tr.TrainResult
    h_true: np.ndarray
    train_accuracy: np.ndarray
    test_accuracy: np.ndarray
    files: dict = field(default_factory=dict)

    @property
    def h(self) -> np.ndarray:
        return self.train.params["h"]

    @property
    def deviation(self) -> np.ndarray:
        return np.abs(self.h.mean(axis=0) / self.h_true - 1)


def schwarzschild(seed: int = 0, n_seeds: int = 4, recipe: tr.Recipe = SCHWARZSCHILD_RECIPE,
                  net: nw.Network = nw.SCHWARZSCHILD, n_per_class: int = 1000, out: str | None = None,
                  force: bool = False, progress: bool = True, command_line: str | None = None,
                  plots: bool = True) -> SchwarzschildResult:
    """Experiment 1: train ``n_seeds`` networks on black-hole data and compare h with 3 coth(3η).

    Args:
        seed: data seed (training data from ``seed``, held-out data from (seed, 1)); the training
            seeds are seed, seed+1, ..., seed+n_seeds−1.
        n_seeds: ensemble size.
        out: HDF5 file to write (PNG figures beside it), or None.
    """
    if n_seeds <= 0:
        raise ValueError(f"--seeds must be > 0, got {n_seeds}")
    if out is not None:
        check_output(out, force)
    train_set = ads_data.schwarzschild_data(seed, n_per_class, net)
    test_set = ads_data.schwarzschild_data((seed, 1), n_per_class, net)
    h_true = nw.schwarzschild_h(net.etas, net.d)
    seeds = list(range(seed, seed + n_seeds))
    config = {"network": net._asdict(), "recipe": recipe._asdict(), "seeds": seeds, "n_per_class": n_per_class}
    writer = None
    try:
        if out is not None:
            writer = ResultsWriter(out, force=force, experiment="schwarzschild", config=config, data_seed=seed,
                                   units={"eta": "units of the AdS radius", "h": "units of 1/L"},
                                   command_line=command_line)
            writer.network(net)
            writer.arrays("data/train", x=train_set.x, y=train_set.y, attrs={"columns": "phi, pi at eta_ini"})
            writer.arrays("data/test", x=test_set.x, y=test_set.y, attrs={"seed": f"({seed}, 1)"})
            writer.start_runs(seeds)
        result = tr.train(net, train_set, recipe, seeds=seeds, progress=progress,
                          callback=writer.append_history if writer else None, description="schwarzschild")
        res = SchwarzschildResult(net, result, h_true,
                                  _accuracies(net, result.params, train_set.x, train_set.y),
                                  _accuracies(net, result.params, test_set.x, test_set.y))
        if writer is not None:
            per_seed = [{"train_accuracy": float(a), "test_accuracy": float(b), "final_loss": float(l),
                         "max_rel_deviation": float(np.max(np.abs(h / h_true - 1))),
                         "mean_rel_deviation": float(np.mean(np.abs(h / h_true - 1)))}
                        for a, b, l, h in zip(res.train_accuracy, res.test_accuracy, result.history[:, -1], res.h)]
            writer.finish_runs(result.params, per_seed)
            writer.arrays("summary", h_true=h_true, h_mean=res.h.mean(0), h_std=res.h.std(0),
                          attrs={"max_rel_deviation": float(res.deviation.max()),
                                 "mean_rel_deviation": float(res.deviation.mean()),
                                 "test_accuracy_mean": float(res.test_accuracy.mean()),
                                 "run_time_s": result.run_time, "compile_time_s": result.compile_time})
            res.files["h5"] = out
    finally:
        if writer is not None:
            writer.close()
    if out is not None and plots:
        from .plot import plot_schwarzschild

        png = _pngs(out, ["metric"])["metric"]
        plot_schwarzschild(net.etas, res.h, lambda e: nw.schwarzschild_h(e, net.d), result.history, png,
                           title=f"AdS{net.d + 1} Schwarzschild: learned metric, {n_seeds} seeds")
        res.files["metric"] = png
    return res


@dataclass
class QCDResult:
    """Experiment 2. Per-seed arrays follow ``train.seeds``; ``converged`` masks the ensemble statistics."""

    net: nw.Network
    train: tr.TrainResult
    screen: tr.ScreenResult | None
    accuracy: np.ndarray
    potential: obs.Potential | None
    files: dict = field(default_factory=dict)

    @property
    def converged(self) -> np.ndarray:
        return (self.accuracy >= CONVERGED_ACCURACY) & self.train.finite

    @property
    def inv_L_MeV(self) -> np.ndarray:
        return 1000.0 / self.train.params["L"]

    @property
    def lam(self) -> np.ndarray:
        return self.train.params["lam"]

    @property
    def lam_over_L_GeV(self) -> np.ndarray:
        return self.lam / self.train.params["L"]

    def stat(self, values) -> tuple[float, float]:
        """Mean and standard deviation over the converged seeds (nan if none converged)."""
        v = np.asarray(values)[self.converged]
        return (float(v.mean()), float(v.std())) if len(v) else (float("nan"), float("nan"))


def qcd(seed: int = 0, n_seeds: int = 10, recipe: tr.Recipe = QCD_RECIPE, screen: int = 8,
        screen_epochs: int = 100, screen_lr: float = 1e-2, net: nw.Network = nw.QCD, n_per_class: int = 10_000,
        out: str | None = None, force: bool = False, progress: bool = True, command_line: str | None = None,
        potential: bool = True, plots: bool = True) -> QCDResult:
    """Experiment 2: the holographic QCD ensemble.

    Args:
        seed: data seed; candidate training seeds are seed, seed+1, ...
        n_seeds: ensemble size (seeds trained with the full recipe).
        recipe: the main training (HSTT2's by default).
        screen: candidates per kept seed in the screening stage (``train.screen``); 0 runs HSTT2's
            recipe verbatim from ``n_seeds`` random starts.
        screen_epochs, screen_lr: the screening run (no penalty).
        potential: compute the Wilson-loop potential of the ensemble-mean metric.
    """
    if n_seeds <= 0:
        raise ValueError(f"--seeds must be > 0, got {n_seeds}")
    if screen < 0:
        raise ValueError(f"--screen must be >= 0 candidates per seed, got {screen}")
    if out is not None:
        check_output(out, force)
    lattice = ads_data.lattice_qcd()
    fit = ads_data.cubic_fit(lattice)
    train_set = ads_data.qcd_data(seed, n_per_class, fit=fit)
    config = {"network": net._asdict(), "recipe": recipe._asdict(), "n_seeds": n_seeds, "n_per_class": n_per_class,
              "screen": {"candidates_per_seed": screen, "epochs": screen_epochs, "learning_rate": screen_lr}}
    writer = None
    try:
        if out is not None:
            writer = ResultsWriter(out, force=force, experiment="qcd", config=config, data_seed=seed,
                                   units={"m_q": "GeV", "condensate": "GeV^3", "L": "GeV^-1", "inv_L": "MeV",
                                          "lam_over_L": "GeV", "eta": "units of L", "r": "fm",
                                          "V": "2 pi alpha' V in fm"},
                                   command_line=command_line)
            writer.network(net)
            writer.arrays("data/train", x=train_set.x, y=train_set.y, attrs={"columns": "m_q [GeV], <qbar q> [GeV^3]"})
            writer.arrays("data/lattice", m_q=lattice.m_q, condensate=lattice.condensate, fit=fit.coef,
                          attrs={"source": lattice.source})
        sc = None
        if screen:
            sc = tr.screen(net, train_set, recipe, candidates=range(seed, seed + screen * n_seeds), keep=n_seeds,
                           epochs=screen_epochs, learning_rate=screen_lr, progress=progress)
            seeds, init = sc.kept, sc.params
            if writer is not None:
                writer.arrays("screen", candidates=sc.candidates, data_loss=sc.data_loss, kept=sc.kept,
                              attrs={"epochs": screen_epochs, "learning_rate": screen_lr, "run_time_s": sc.run_time})
        else:
            seeds, init = list(range(seed, seed + n_seeds)), None
        if writer is not None:
            writer.start_runs(seeds)
        result = tr.train(net, train_set, recipe, seeds=seeds, init=init, progress=progress,
                          callback=writer.append_history if writer else None, description="qcd")
        acc = _accuracies(net, result.params, train_set.x, train_set.y)
        res = QCDResult(net, result, sc, acc, None)
        ok = res.converged
        if potential and ok.any():
            res.potential = obs.quark_potential(net, result.params["h"][ok].mean(0), float(res.train.params["L"][ok].mean()))
        if writer is not None:
            per_seed = [{"accuracy": float(a), "final_loss": float(l), "L_GeV_inv": float(L), "inv_L_MeV": float(1000 / L),
                         "lam": float(lam), "lam_over_L_GeV": float(lam / L), "converged": bool(c)}
                        for a, l, L, lam, c in zip(acc, result.history[:, -1], result.params["L"], result.params["lam"], ok)]
            writer.finish_runs(result.params, per_seed)
            summary = {"n_converged": int(ok.sum()), "run_time_s": result.run_time, "compile_time_s": result.compile_time,
                       "paper_inv_L_MeV": list(PAPER_INV_L_MEV), "paper_lam_over_L": list(PAPER_LAM_OVER_L)}
            for name, values in (("inv_L_MeV", res.inv_L_MeV), ("lam", res.lam), ("lam_over_L_GeV", res.lam_over_L_GeV)):
                summary[name + "_mean"], summary[name + "_std"] = res.stat(values)
            arrays = {"h_mean": result.params["h"][ok].mean(0) if ok.any() else np.full(net.n_layers, np.nan)}
            if res.potential is not None:
                p = res.potential
                arrays.update(r_fm=p.r_fm, V_fm=p.V_fm, eta_star=p.eta_star)
                summary.update({k: v for k, v in (("eta_wall", p.eta_wall), ("tension_2pi_alpha", p.tension),
                                                  ("r_screen_fm", p.r_screen_fm)) if v is not None})
            writer.arrays("summary", attrs=summary, **arrays)
            res.files["h5"] = out
    finally:
        if writer is not None:
            writer.close()
    if out is not None and plots:
        from . import plot

        pngs = _pngs(out, ["metric", "data", "potential"])
        plot.plot_qcd_metric(net.etas, result.params["h"][ok] if ok.any() else result.params["h"], result.history,
                             pngs["metric"], title=f"Emergent metric, {int(ok.sum())}/{len(ok)} converged seeds")
        best = int(np.argmax(acc))
        p_best = {k: jnp.asarray(v[best]) for k, v in result.params.items()}
        positive = np.asarray(nw.predict(net, p_best, jnp.asarray(train_set.x))) < 0.5
        plot.plot_qcd_data(train_set.x, train_set.y, positive, lattice, fit, pngs["data"])
        res.files.update(metric=pngs["metric"], data=pngs["data"])
        if res.potential is not None:
            plot.plot_potential(res.potential, pngs["potential"], title="Quark–antiquark potential (f = g)")
            res.files["potential"] = pngs["potential"]
    return res
