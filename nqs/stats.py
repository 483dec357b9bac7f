"""Monte Carlo statistics of a quantity sampled on many Markov chains.

Samples come as an array of shape (n_per_chain, n_chains). The error of the mean is taken from
batch means (contiguous blocks of each chain, at least 128 blocks in all when the chains are long enough), which absorbs the
autocorrelation within a chain; the integrated autocorrelation time follows as
tau = (b var(block means) / var - 1) / 2 for blocks of length b. R-hat is the split-free
Gelman–Rubin statistic across chains (R-hat close to 1: the chains agree). The V-score of
Wu et al., Science 386, 296 (2024) is N Var(E) / E^2 for the total energy E of N sites.
All functions are jittable (shapes are static).
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
import numpy as np

MIN_BLOCKS = 128


class Stats(NamedTuple):
    mean: jnp.ndarray
    error: jnp.ndarray
    variance: jnp.ndarray
    tau: jnp.ndarray
    rhat: jnp.ndarray


def statistics(x) -> Stats:
    """Mean, error of the mean (autocorrelation-corrected), variance, tau and R-hat of x (S, C)."""
    x = jnp.real(x)
    S, C = x.shape
    mean = jnp.mean(x)
    var = jnp.var(x)
    n_blocks_per_chain = int(min(S, max(1, -(-MIN_BLOCKS // C))))
    b = S // n_blocks_per_chain
    blocks = x[: b * n_blocks_per_chain].reshape(n_blocks_per_chain, b, C).mean(axis=1).ravel()
    n_blocks = blocks.size
    if n_blocks > 1:
        error = jnp.sqrt(jnp.var(blocks, ddof=1) / n_blocks)
        tau = jnp.maximum(0.0, 0.5 * (b * jnp.var(blocks, ddof=1) / jnp.where(var > 0, var, 1.0) - 1.0))
    else:
        error = jnp.sqrt(var / max(S * C - 1, 1))
        tau = jnp.zeros(())
    if C > 1 and S > 1:
        W = jnp.mean(jnp.var(x, axis=0, ddof=1))
        B = S * jnp.var(jnp.mean(x, axis=0), ddof=1)
        var_plus = (S - 1) / S * W + B / S
        rhat = jnp.sqrt(var_plus / jnp.where(W > 0, W, 1.0))
    else:
        rhat = jnp.ones(())
    return Stats(mean=mean, error=error, variance=var, tau=tau, rhat=rhat)


def v_score(energy_total, variance_total, n_sites: int):
    """V-score N Var(E) / E^2 (Wu et al. 2024) from the total energy and its variance."""
    return n_sites * variance_total / energy_total**2


def combine(means, errors):
    """Pool independent estimates of one quantity with equal sample counts: mean and error."""
    means = np.asarray(means, float)
    errors = np.asarray(errors, float)
    return float(means.mean()), float(np.sqrt(np.sum(errors**2)) / len(errors))
