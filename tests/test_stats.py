"""Monte Carlo statistics against known formulas."""

import numpy as np
import pytest

import nqs
from nqs.stats import v_score


def _ar1(rho, n, chains, seed):
    rng = np.random.default_rng(seed)
    x = np.zeros((n, chains))
    x[0] = rng.normal(size=chains) / np.sqrt(1 - rho**2)
    for t in range(1, n):
        x[t] = rho * x[t - 1] + rng.normal(size=chains)
    return x


def test_error_of_mean_accounts_for_autocorrelation():
    """AR(1) with coefficient rho: Var(mean) = var/n (1+rho)/(1-rho), tau = rho/(1-rho)."""
    rho, n, chains = 0.8, 4096, 16
    x = _ar1(rho, n, chains, seed=0)
    st = nqs.statistics(x)
    var = 1 / (1 - rho**2)
    expected_error = np.sqrt(var / (n * chains) * (1 + rho) / (1 - rho))
    assert float(st.error) == pytest.approx(expected_error, rel=0.3)
    assert float(st.tau) == pytest.approx(rho / (1 - rho), rel=0.35)
    naive = np.sqrt(var / (n * chains))
    assert float(st.error) > 2 * naive


def test_independent_samples_give_the_naive_error_and_rhat_one():
    x = np.random.default_rng(1).normal(size=(512, 32))
    st = nqs.statistics(x)
    assert float(st.error) == pytest.approx(1 / np.sqrt(x.size), rel=0.3)
    assert float(st.rhat) == pytest.approx(1.0, abs=0.02)


def test_rhat_flags_chains_that_disagree():
    x = np.random.default_rng(2).normal(size=(256, 8))
    x[:, 0] += 3.0
    assert float(nqs.statistics(x).rhat) > 1.1


def test_v_score_formula():
    assert v_score(-10.0, 0.5, 16) == pytest.approx(16 * 0.5 / 100)
