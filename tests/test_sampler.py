"""Metropolis sampling reproduces |psi|^2 on lattices small enough to enumerate."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats as sps

import nqs
from conftest import sz0_basis
from nqs.sampler import init_state, sample


def _exact(H, model, params, basis):
    tables = H.tables(model, params)
    log_psi = jax.jit(jax.vmap(lambda s: model.log_psi(params, s)))(basis)
    e_loc = jax.jit(jax.vmap(lambda s: H.local_energy(model, tables, s, model.cache(tables, s))))(basis)
    p = np.exp(2 * np.real(log_psi - np.max(np.real(log_psi))))
    p /= p.sum()
    return p, float(np.real(np.sum(p * e_loc)))


def _draw(H, model, params, sampler, n_per_chain, seed=0, site_tables=False, thermalise=300):
    """Samples as the engine draws them (the Hamiltonian's tables: the RBM's exchange moves from its
    per-bond tables), or with ``site_tables`` from the model's own tables (the general move), after
    ``thermalise`` sweeps."""
    state = init_state(sampler, H, jax.random.PRNGKey(seed))
    tables = model.tables(params) if site_tables else H.tables(model, params)
    # the thermalising sweeps as the step's discarded ones: one compiled function
    state, kept, acc = jax.jit(lambda st: sample(sampler, model, tables, H, st, n_per_chain, thermalise))(state)
    return np.asarray(kept), float(acc)


@pytest.mark.parametrize("site_tables", [False, True], ids=["bond-tables", "site-tables"])
@pytest.mark.parametrize("shape", [(2, 2), (4, 2)])
def test_monte_carlo_energy_and_histogram_match_exact_enumeration(shape, site_tables):
    H = nqs.Heisenberg(nqs.Square(*shape))
    model = nqs.RBM(alpha=1, scale=0.25)
    params = model.init(jax.random.PRNGKey(11), H.n_sites)
    basis = jnp.asarray(sz0_basis(H.n_sites))
    p_exact, e_exact = _exact(H, model, params, basis)

    # one sample from each of many thermalised chains: independent draws, so the plain chi-square applies
    sampler = nqs.Metropolis(n_chains=8192)
    # exchange moves within Sz = 0 of 8 sites mix within 100 sweeps (single flips across Sz need more)
    kept, acc = _draw(H, model, params, sampler, n_per_chain=1, site_tables=site_tables, thermalise=100)
    assert 0.0 < acc < 1.0
    S, C, N = kept.shape
    assert np.all(kept.sum(axis=-1) == 0), "exchange moves must conserve Sz = 0"

    tables = H.tables(model, params)
    flat = jnp.asarray(kept.reshape(-1, N))
    e_loc = jax.jit(jax.vmap(lambda s: H.local_energy(model, tables, s, model.cache(tables, s))))(flat)
    st = nqs.statistics(np.real(e_loc).reshape(S, C))
    assert abs(float(st.mean) - e_exact) < 4 * float(st.error)

    # histogram against |psi|^2: chi-square on the enumerated states (chains nearly independent)
    index = {tuple(s): k for k, s in enumerate(np.asarray(basis))}
    counts = np.bincount([index[tuple(s)] for s in kept.reshape(-1, N)], minlength=len(basis))
    expected = p_exact * counts.sum()
    chi2 = np.sum((counts - expected) ** 2 / expected)
    p_value = sps.chi2.sf(chi2, df=len(basis) - 1)
    assert p_value > 1e-3, f"chi2 = {chi2:.1f} for {len(basis) - 1} dof"


def test_single_flip_moves_sample_the_full_hilbert_space():
    H = nqs.Heisenberg(nqs.Square(2, 2))
    model = nqs.RBM(alpha=1, scale=0.5)
    params = model.init(jax.random.PRNGKey(2), 4)
    basis = jnp.asarray([[1.0 if (k >> i) & 1 else -1.0 for i in range(4)] for k in range(16)])
    tables = model.tables(params)
    log_psi = jax.jit(jax.vmap(lambda s: model.log_psi(params, s)))(basis)
    p = np.exp(2 * np.real(log_psi - log_psi.real.max()))
    p /= p.sum()
    kept, _ = _draw(H, model, params, nqs.Metropolis(n_chains=8192, moves="flip"), n_per_chain=1)
    codes = ((kept.reshape(-1, 4) > 0) * (1 << np.arange(4))).sum(axis=1)
    counts = np.bincount(codes, minlength=16)
    chi2 = np.sum((counts - p * counts.sum()) ** 2 / (p * counts.sum()))
    assert sps.chi2.sf(chi2, df=15) > 1e-3
    assert len(np.unique(kept.reshape(-1, 4).sum(axis=1))) > 1, "single flips change Sz"


def test_chains_persist_and_the_sampler_is_reproducible():
    H = nqs.Heisenberg(nqs.Square(4, 2))
    model = nqs.RBM(alpha=1)
    params = model.init(jax.random.PRNGKey(0), 8)
    a, _ = _draw(H, model, params, nqs.Metropolis(n_chains=4), 3, seed=5)
    b, _ = _draw(H, model, params, nqs.Metropolis(n_chains=4), 3, seed=5)
    np.testing.assert_array_equal(a, b)


def test_bad_sampler_settings():
    with pytest.raises(ValueError, match="moves"):
        nqs.Metropolis(moves="swap")
    with pytest.raises(ValueError, match="n_chains"):
        nqs.Metropolis(n_chains=0)
