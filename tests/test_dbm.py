"""Deep Boltzmann machine: fast path against full evaluation, the replica estimators against exact sums
over sigma and d, the empty deep layer against the RBM, and the settings it refuses."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

import nqs
from conftest import EXACT_4x4, compiled_gradient, dense_heisenberg, random_sz0, sz0_basis
from nqs.models.base import flip
from nqs.sr import materialize, replica_s_and_force

LAT = nqs.Square(4, 2, pbc=True)
H = nqs.Heisenberg(LAT)
MODEL = nqs.DBM(alpha_hidden=1, alpha_deep=0.5, scale=0.3)  # M = 8 hidden, M_d = 4 deep units


@pytest.fixture(scope="module")
def params():
    return MODEL.init(jax.random.PRNGKey(1), LAT.n_sites)


def _random_x(n, seed):
    rng = np.random.default_rng(seed)
    sigma = random_sz0(LAT.n_sites, n, seed=seed)
    return jnp.asarray(np.concatenate([sigma, rng.choice([-1.0, 1.0], (n, MODEL.n_aux(LAT.n_sites)))], axis=1))


def test_fast_path_equals_full_evaluation(params):
    tables = MODEL.tables(params)
    N, width = LAT.n_sites, LAT.n_sites + MODEL.n_aux(LAT.n_sites)
    assert width == 16 and MODEL.n_replicas == 2
    rng = np.random.default_rng(0)
    bonds = jnp.asarray(LAT.bonds)
    for x in _random_x(10, 3):
        cache = MODEL.cache(tables, x)
        # visible pairs, one deep unit of either replica, and a visible spin with a deep unit
        for flips in (rng.choice(N, 2, replace=False), [N + rng.integers(4)], [N + 4 + rng.integers(4)], [0, N + 1]):
            flips = jnp.asarray(flips)
            log_r, new_cache = MODEL.propose(tables, x, cache, flips)
            full = (MODEL.log_weight(params, flip(x, flips)) - MODEL.log_weight(params, x)) / 2
            np.testing.assert_allclose(log_r, full, rtol=1e-11, atol=1e-12)
            np.testing.assert_allclose(new_cache, MODEL.cache(tables, flip(x, flips)), atol=1e-12)
        # per-replica ratios Phi(sigma', d_r) / Phi(sigma, d_r) over all bonds
        sigma, ds = MODEL.split(x, N)
        ratios = MODEL.log_ratio(tables, x, cache, bonds)
        full = np.array([[MODEL.log_phi(params, flip(sigma, b), ds[r]) - MODEL.log_phi(params, sigma, ds[r])
                          for r in range(2)] for b in bonds])
        np.testing.assert_allclose(ratios, full, rtol=1e-11, atol=1e-12)
        # log-derivatives per replica = autodiff of log Phi(sigma, d_r)
        O = MODEL.log_derivatives(params, tables, x, cache)
        for r in range(2):
            g = ravel_pytree(jax.grad(MODEL.log_phi)(params, sigma, ds[r]))[0]
            np.testing.assert_allclose(O[r], g, atol=1e-12)


def test_replica_local_energy_averages_to_the_exact_one(params):
    """Given sigma, the mean over d (weight Phi(sigma, d)) of E_loc(sigma, d) is (H Psi)(sigma)/Psi(sigma)."""
    basis = sz0_basis(LAT.n_sites)
    Hm = dense_heisenberg(LAT, basis)
    lp = np.array(jax.vmap(lambda s: MODEL.log_psi(params, s))(jnp.asarray(basis)))
    psi = np.exp(lp - lp.max())
    tables = MODEL.tables(params)
    ds = 1.0 - 2.0 * ((np.arange(16)[:, None] >> np.arange(4)) & 1)
    for k in (0, 17, 40):
        sigma = jnp.asarray(basis[k])
        w = np.exp([MODEL.log_phi(params, sigma, jnp.asarray(d)) for d in ds])
        e = []
        for d in ds:
            x = jnp.concatenate([sigma, jnp.asarray(d), jnp.asarray(d)])
            e.append(H.local_energy(MODEL, tables, x, MODEL.cache(tables, x))[0])
        np.testing.assert_allclose(np.dot(w, e) / w.sum(), (Hm @ psi)[k] / psi[k], rtol=1e-10)


@pytest.fixture(scope="module")
def sampled(params):
    """512 chains x 24 sweeps of (sigma, d, d') on 4x2 at fixed parameters."""
    vmc = nqs.VMC(H, MODEL, sampler=nqs.Metropolis(n_chains=512, n_discard=20), n_samples=512 * 24)
    state = vmc.init(jax.random.PRNGKey(0))
    sstate, e_loc, (tables, x, caches), acceptance, shape = jax.jit(
        lambda p, s: vmc._sample_and_measure(p, s, 50))(params, state.sampler)
    blocks = MODEL.log_derivative_blocks(params, tables, x, caches)
    return np.asarray(materialize(blocks)), np.asarray(e_loc), shape, blocks


def _exact(params):
    basis = sz0_basis(LAT.n_sites)
    Hm = dense_heisenberg(LAT, basis)
    b = jnp.asarray(basis)
    lp = np.array(jax.vmap(lambda s: MODEL.log_psi(params, s))(b))
    psi = np.exp(lp - lp.max())
    prob = psi**2 / np.sum(psi**2)
    e_loc = (Hm @ psi) / psi
    O = np.array(jax.vmap(lambda s: ravel_pytree(jax.grad(MODEL.log_psi)(params, s))[0])(b))
    E = prob @ e_loc
    F = prob @ (O * e_loc[:, None]) - (prob @ O) * E
    S = (O * prob[:, None]).T @ O - np.outer(prob @ O, prob @ O)
    return E, F, S


def test_sampled_energy_and_force_agree_with_exact_sums(params, sampled):
    O, e_loc, (n_per_chain, n_chains), _ = sampled
    E, F, S = _exact(params)
    S_est, F_est = replica_s_and_force(jnp.asarray(O), jnp.asarray(e_loc), True)
    # error bars from 64 groups of 8 independent chains
    groups = np.arange(n_chains).reshape(64, 8)
    rows = lambda g: (np.arange(n_per_chain)[:, None] * n_chains + g[None, :]).ravel()  # noqa: E731
    E_g = np.array([e_loc[rows(g)].mean() for g in groups])
    F_g = np.array([np.asarray(replica_s_and_force(jnp.asarray(O[rows(g)]), jnp.asarray(e_loc[rows(g)]), True)[1])
                    for g in groups])
    assert abs(e_loc.mean() - E) < 4 * E_g.std() / 8
    F_err = F_g.std(axis=0) / 8
    assert np.all(np.abs(np.asarray(F_est) - F) < 4 * F_err + 1e-12)
    # the cross-replica S is unbiased too: a few per cent of its largest element here
    assert np.abs(np.asarray(S_est) - S).max() < 0.05 * np.abs(S).max()


def test_both_replica_metrics_give_a_descent_direction(params, sampled):
    O, e_loc, _, blocks = sampled
    E, F, S = _exact(params)
    e_loc = jnp.asarray(e_loc)
    for metric in ("joint", "cross"):
        sr = nqs.SR(solver="dense", diag_shift=0.01, replica_metric=metric)
        delta = compiled_gradient(sr, [("dense", jnp.asarray(O))], e_loc, 0, True)
        assert np.dot(np.asarray(delta), F) > 0  # theta - eta delta lowers the energy to first order
    # the joint metric through the structured solvers on (sample, replica) rows = the dense one
    few = [(b[0],) + tuple(x[:200] for x in b[1:]) for b in blocks]
    dense = compiled_gradient(nqs.SR(solver="dense", diag_shift=0.01), few, e_loc[:200], 0, True)
    for solver in ("kernel", "cg"):
        other = compiled_gradient(nqs.SR(solver=solver, diag_shift=0.01, cg_tol=1e-12), few, e_loc[:200], 0, True)
        np.testing.assert_allclose(other, dense, rtol=1e-6, atol=1e-7 * np.abs(dense).max())


def test_empty_deep_layer_is_the_rbm():
    lattice = nqs.Square(4, 4)
    Hs = nqs.Heisenberg(lattice)
    runs = []
    for model in (nqs.DBM(alpha_hidden=1, alpha_deep=0), nqs.RBM(alpha=1, dtype="float64")):
        assert nqs.sampler.n_aux(model, 16) == 0
        vmc = nqs.VMC(Hs, model, sampler=nqs.Metropolis(n_chains=16, n_thermalize=10), n_samples=256, learning_rate=0.05)
        state, step = vmc.init(jax.random.PRNGKey(4)), vmc.make_step()
        energies = []
        for _ in range(5):
            state, info = step(state)
            energies.append(float(info["energy_per_site"]))
        runs.append((ravel_pytree(state.params)[0], np.asarray(state.sampler.sigma), energies))
    np.testing.assert_allclose(runs[0][0], runs[1][0], rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(runs[0][1], runs[1][1])
    np.testing.assert_allclose(runs[0][2], runs[1][2], rtol=1e-12)


@pytest.mark.slow
def test_dbm_lowers_the_4x4_energy():
    lattice = nqs.Square(4, 4)
    result = nqs.ground_state(
        nqs.Heisenberg(lattice), nqs.DBM(alpha_hidden=2, alpha_deep=0.125), n_samples=1024, steps=300, seed=0,
        learning_rate=0.03, sr=nqs.SR(diag_shift=1e-2), progress=False, exact=EXACT_4x4,
    )
    assert result.relative_error < 5e-3


def test_refused_settings():
    with pytest.raises(ValueError, match="complex"):
        nqs.DBM(dtype="complex128")
    with pytest.raises(ValueError, match="alpha_deep"):
        nqs.DBM(alpha_deep=-1)
    with pytest.raises(ValueError, match="Marshall"):
        nqs.VMC(nqs.Heisenberg(LAT, marshall_sign=False), MODEL)
    with pytest.raises(ValueError, match="dense"):
        nqs.VMC(H, MODEL, sr=nqs.SR(solver="kernel", replica_metric="cross"))
    with pytest.raises(ValueError, match="replica_metric"):
        nqs.SR(replica_metric="both")
    with pytest.raises(ValueError, match="0 deep units"):
        nqs.DBM(alpha_deep=0.01).init(jax.random.PRNGKey(0), 8)
    with pytest.raises(ValueError, match="NetKet cannot sample"):
        nqs.as_flax(MODEL, 8)
    with pytest.raises(ValueError, match="M_d <= 20"):
        big = nqs.DBM(alpha_deep=2)
        big.log_psi(big.init(jax.random.PRNGKey(0), 16), jnp.ones(16))
