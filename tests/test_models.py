"""Ansätze: fast-update ratios, local energies against NetKet, closed-form log-derivatives."""

import jax
import jax.numpy as jnp
import netket as nk
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

import nqs
from conftest import random_sz0
from nqs.models.base import flip

LATTICES = [nqs.Square(4, 4, pbc=True), nqs.Square(4, 2, pbc=True), nqs.Square(3, 3, pbc=False)]


def _models(lattice):
    return [nqs.RBM(alpha=1, scale=0.1), nqs.RBM(alpha=2, dtype="float64", scale=0.1), nqs.RBMSymm(lattice, alpha=2, scale=0.1),
            nqs.RBMSymm(lattice, alpha=1, scale=0.1, symmetries="space_group")]


def _netket_local_energies(H, params_dense, sigma):
    """E_loc from NetKet's own RBM and operator: sum_s' H_ss' psi(s')/psi(s), divided by 4 (Pauli units)."""
    a, b, W = params_dense
    # NetKet sizes the hidden layer as int(alpha * N)
    model = nk.models.RBM(alpha=W.shape[1] / W.shape[0] + 1e-9, param_dtype=complex)
    variables = {"params": {"Dense": {"kernel": jnp.asarray(W, complex), "bias": jnp.asarray(b, complex)},
                            "visible_bias": jnp.asarray(a, complex)}}
    op = H.to_netket()
    xp, mels = op.get_conn_padded(np.asarray(sigma))
    log_psi = jax.jit(lambda x: model.apply(variables, x))
    return np.sum(mels * np.exp(log_psi(xp) - log_psi(sigma)[:, None]), axis=-1) / nqs.NETKET_UNIT


@pytest.mark.parametrize("lattice", LATTICES, ids=lambda lat: lat.name)
@pytest.mark.parametrize("marshall", [True, False])
def test_local_energy_equals_netket(lattice, marshall):
    if marshall and not lattice.is_bipartite:
        pytest.skip("not bipartite")
    H = nqs.Heisenberg(lattice, marshall_sign=marshall)
    sigma = jnp.asarray(random_sz0(lattice.n_sites, 128, seed=lattice.n_sites))
    # odd N: the sampled sector is Sz = 1/2, one more up spin
    if lattice.n_sites % 2:
        sigma = jnp.asarray(random_sz0(lattice.n_sites, 128, seed=1) * -1)
        assert np.all(np.sum(sigma, axis=1) == 1)
    for model in _models(lattice):
        params = model.init(jax.random.PRNGKey(7), lattice.n_sites)
        theirs = _netket_local_energies(H, model.dense(params), sigma)
        # the engine's tables (with the per-bond exchange tables) and the model's own (site tables)
        for tables in (H.tables(model, params), model.tables(params)):
            ours = jax.jit(jax.vmap(lambda s: H.local_energy(model, tables, s, model.cache(tables, s))))(sigma)
            np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-10, err_msg=type(model).__name__)


@pytest.mark.parametrize("model_index", [0, 1, 2, 3])
def test_fast_update_ratios_equal_full_reevaluation(model_index):
    lattice = nqs.Square(4, 4)
    H = nqs.Heisenberg(lattice)
    model = _models(lattice)[model_index]
    params = model.init(jax.random.PRNGKey(3), lattice.n_sites)
    tables = model.tables(params)
    ex = H.tables(model, params)
    # compiled once each rather than dispatched op by op for every configuration (the same numbers)
    propose, cache_of, log_psi = jax.jit(model.propose), jax.jit(model.cache), jax.jit(model.log_psi)
    log_ratio, propose_exchange = jax.jit(model.log_ratio), jax.jit(model.propose_exchange)
    bonds = jnp.asarray(lattice.bonds)
    all_log_psi = jax.jit(lambda s: jax.vmap(lambda f: log_psi(params, flip(s, f)))(bonds) - log_psi(params, s))
    rng = np.random.default_rng(0)
    for sigma in random_sz0(16, 20, seed=2):
        sigma = jnp.asarray(sigma)
        cache = cache_of(tables, sigma)
        for flips in (rng.choice(16, 1, replace=False), rng.choice(16, 2, replace=False)):
            flips = jnp.asarray(flips)
            log_r, new_cache = propose(tables, sigma, cache, flips)
            full = log_psi(params, flip(sigma, flips)) - log_psi(params, sigma)
            np.testing.assert_allclose(log_r, np.real(full), rtol=1e-12, atol=1e-13)  # log |psi'/psi|
            np.testing.assert_allclose(new_cache, cache_of(tables, flip(sigma, flips)), rtol=1e-12, atol=1e-13)
        batched = log_ratio(tables, sigma, cache, bonds)
        full = all_log_psi(sigma)
        np.testing.assert_allclose(np.exp(batched), np.exp(full), rtol=1e-12)
        if hasattr(model, "ratio"):  # the local energy's ratios, computed without logs
            np.testing.assert_allclose(model.ratio(tables, sigma, cache, bonds), np.exp(full), rtol=1e-12)
        # exchange moves from the per-bond tables: every anti-aligned bond, ratio and updated cache
        anti = np.asarray(sigma[bonds[:, 0]] != sigma[bonds[:, 1]])
        assert anti.any()
        np.testing.assert_allclose(model.exchange_ratios(ex, sigma, cache)[anti], np.exp(full)[anti], rtol=1e-12)
        for b in np.flatnonzero(anti):
            log_r, new_cache = propose_exchange(ex, sigma, cache, jnp.asarray(b))
            np.testing.assert_allclose(log_r, np.real(full[b]), rtol=1e-12, atol=1e-13)
            np.testing.assert_allclose(new_cache, cache_of(tables, flip(sigma, bonds[b])), rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("dtype", ["complex128", "float64"])
def test_exchange_ratios_of_a_wide_hidden_layer_equal_full_reevaluation(dtype):
    """53 hidden units: the local energy's product runs as a scan over blocks plus a remainder
    (``rbm._bond_products``), for complex and real parameters."""
    from nqs.models import rbm

    lattice = nqs.Square(4, 4)
    H = nqs.Heisenberg(lattice)
    model = nqs.RBM(alpha=53 / 16, dtype=dtype, scale=0.1)
    params = model.init(jax.random.PRNGKey(11), lattice.n_sites)
    assert model.n_hidden(16) == 53 > rbm.PRODUCT_UNROLL and 53 % rbm.PRODUCT_BLOCK
    tables = H.tables(model, params)
    bonds = jnp.asarray(lattice.bonds)
    sigma = jnp.asarray(random_sz0(16, 12, seed=5))
    ratios = jax.jit(jax.vmap(lambda s: model.exchange_ratios(tables, s, model.cache(tables, s))))(sigma)
    log_psi = jax.vmap(lambda s: model.log_psi(params, s))
    for s, r in zip(sigma, ratios):
        full = jnp.exp(log_psi(jax.vmap(lambda f: flip(s, f))(bonds)) - model.log_psi(params, s))
        anti = np.asarray(s[bonds[:, 0]] != s[bonds[:, 1]])
        np.testing.assert_allclose(r[anti], full[anti], rtol=1e-12)


@pytest.mark.parametrize("model_index", [0, 1, 2, 3])
def test_closed_form_log_derivatives_equal_autodiff(model_index):
    lattice = nqs.Square(4, 2)
    model = _models(lattice)[model_index]
    params = model.init(jax.random.PRNGKey(5), lattice.n_sites)
    tables = model.tables(params)
    sigmas = jnp.asarray(random_sz0(8, 10, seed=4))
    caches = jax.vmap(model.cache, in_axes=(None, 0))(tables, sigmas)
    closed = jax.vmap(model.log_derivatives, in_axes=(None, None, 0, 0))(params, tables, sigmas, caches)
    generic = jax.vmap(lambda s: nqs.models.GenericModel.log_derivatives(model, params, tables, s, None))(sigmas)
    np.testing.assert_allclose(closed, generic, rtol=1e-12, atol=1e-14)
    from nqs.sr import materialize

    blocks = materialize(model.log_derivative_blocks(params, tables, sigmas, caches))
    np.testing.assert_allclose(blocks, closed, rtol=1e-12, atol=1e-14)
    assert closed.shape[1] == ravel_pytree(params)[0].size


@pytest.mark.parametrize("lattice", [nqs.Square(4, 4), nqs.Square(6, 4), nqs.Square(2, 2), nqs.Square(4, 3, pbc=False)],
                         ids=lambda lat: lat.name)
@pytest.mark.parametrize("symmetries", ["translations", "space_group"])
def test_rbmsymm_log_derivatives_through_the_translations(lattice, symmetries):
    """The batched O_W = sum_q Y_q[q(j)] (a product with each sample's translated spins) equals the
    per-sample contraction over the group's images, where the group factors; elsewhere it falls back."""
    from nqs.models.rbm import _translation_factors
    from nqs.sr import materialize

    model = nqs.RBMSymm(lattice, alpha=2, scale=0.2, symmetries=symmetries)
    factors = _translation_factors(lattice, symmetries)
    if lattice.pbc and min(lattice.Lx, lattice.Ly) > 2:
        order, qmap = factors
        assert order.shape == (len(model.group) // lattice.n_sites, lattice.n_sites)
        assert sorted(order.ravel()) == list(range(len(model.group)))
        assert np.all(qmap[:, 0] == 0)  # point operations about site 0
    elif not lattice.pbc:
        assert factors is None
    params = model.init(jax.random.PRNGKey(2), lattice.n_sites)
    tables = model.tables(params)
    sigmas = jnp.asarray(random_sz0(lattice.n_sites, 12, seed=3))
    caches = jax.vmap(model.cache, in_axes=(None, 0))(tables, sigmas)
    per_sample = jax.vmap(model.log_derivatives, in_axes=(None, None, 0, 0))(params, tables, sigmas, caches)
    blocks = materialize(model.log_derivative_blocks(params, tables, sigmas, caches))
    np.testing.assert_allclose(blocks, per_sample, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("symmetries", ["translations", "space_group"])
def test_rbmsymm_is_invariant_under_its_group(symmetries):
    lattice = nqs.Square(4, 4)
    model = nqs.RBMSymm(lattice, alpha=2, scale=0.2, symmetries=symmetries)
    params = model.init(jax.random.PRNGKey(1), 16)
    sigma = jnp.asarray(random_sz0(16, 1, seed=9)[0])
    group = model.group
    assert len(group) == {"translations": 16, "space_group": 128}[symmetries]
    values = np.exp([model.log_psi(params, sigma[perm]) for perm in group])
    np.testing.assert_allclose(values, values[0], rtol=1e-12)
    assert model.n_params(16) == 1 + 2 + 2 * 16
    if symmetries == "translations":  # a quarter turn is not among its symmetries: psi changes
        turn = lattice.point_group[5]
        assert abs(np.exp(model.log_psi(params, sigma[turn])) / values[0] - 1) > 1e-3


@pytest.mark.parametrize("shape", [(4, 4), (6, 6), (4, 2), (3, 3)])
def test_space_group_maps_bonds_to_bonds_and_is_a_group(shape):
    lattice = nqs.Square(*shape, pbc=shape != (3, 3))
    G = lattice.space_group
    expected = {(4, 4): 128, (6, 6): 288, (4, 2): 16, (3, 3): 8}[shape]
    assert G.shape == (expected, lattice.n_sites)
    np.testing.assert_array_equal(G[0], np.arange(lattice.n_sites))
    bonds = {tuple(b) for b in np.sort(lattice.bonds, axis=1).tolist()}
    members = {tuple(g) for g in G.tolist()}
    for g in G:
        assert {tuple(sorted((g[i], g[j]))) for i, j in lattice.bonds.tolist()} == bonds
    for g in G[::7]:
        for h in G[::5]:
            assert tuple(g[h]) in members  # closed under composition


def test_rbmsymm_refuses_unknown_symmetries():
    with pytest.raises(ValueError, match="symmetries must be one of translations, space_group"):
        nqs.RBMSymm(nqs.Square(4, 4), symmetries="rotations")


@pytest.mark.parametrize("alpha", [0, -1])
def test_alpha_must_be_positive(alpha):
    with pytest.raises(ValueError, match="alpha"):
        nqs.RBM(alpha=alpha)
    with pytest.raises(ValueError, match="alpha"):
        nqs.RBMSymm(nqs.Square(4, 4), alpha=alpha)


@pytest.mark.parametrize("dtype", [np.complex128, np.complex64, np.float64])
def test_log_cosh_is_netkets_function(dtype):
    """The activation's log cosh, in real arithmetic for complex arguments, is the function NetKet's
    ``nk.nn.activation.log_cosh`` computes (the same branch of the imaginary part, which the next layer of a
    deep network sees), for arguments from 0 to far past exp's range, and its complex derivative
    is tanh."""
    from nqs.models.rbm import _log_cosh

    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(size=2000) * 3, [0.0, 1e-9, -40.0, 300.0, -800.0]])
    y = np.concatenate([rng.normal(size=2000) * 6, [0.0, 7.0, -1e-9, 100.0, 2.5]])
    z = (x + 1j * y) if np.iscomplexobj(np.zeros(1, dtype)) else x
    z = jnp.asarray(z.astype(dtype))
    ours, theirs = np.asarray(_log_cosh(z)), np.asarray(nk.nn.activation.log_cosh(z))
    assert ours.dtype == theirs.dtype
    tol = 1e-12 if dtype != np.complex64 else 2e-5
    np.testing.assert_allclose(ours, theirs, rtol=tol, atol=tol)
    if dtype == np.complex128:
        grad = jax.vmap(jax.grad(_log_cosh, holomorphic=True))(z[:50])
        np.testing.assert_allclose(np.asarray(grad), np.tanh(np.asarray(z[:50])), rtol=1e-12, atol=1e-12)


def test_vectorised_sine_cosine_and_arctangent_are_the_library_functions():
    """nqs/models/_vmath.py (the double-precision log cosh's sine, cosine and arctangent, from
    multiply-adds): within a few ulp of numpy's, across quadrants and the range reduction's limits;
    beyond |x| ~ 3e6 the error stays within an ulp of x (x perturbed by an ulp)."""
    from nqs.models import _vmath

    rng = np.random.default_rng(1)
    x = np.concatenate([rng.normal(size=4000) * 4, rng.uniform(-1e5, 1e5, 4000),
                        np.arange(-8, 9) * np.pi / 4, [0.0, -0.0, 1e-300, np.pi / 2, 2e6, -3e6]])
    s, c = map(np.asarray, jax.jit(_vmath.sincos)(jnp.asarray(x)))
    np.testing.assert_allclose(s, np.sin(x), rtol=0, atol=4e-16)
    np.testing.assert_allclose(c, np.cos(x), rtol=0, atol=4e-16)
    big = np.array([1e7, -3.3e9, 1e12, 2.0**40 + 0.5])
    s, c = map(np.asarray, jax.jit(_vmath.sincos)(jnp.asarray(big)))
    ulp = np.spacing(np.abs(big))
    assert np.all(np.abs(s - np.sin(big)) <= 2 * ulp) and np.all(np.abs(c - np.cos(big)) <= 2 * ulp)

    rx = np.concatenate([rng.uniform(0, 2, 4000), rng.uniform(0, 1e-3, 1000), [1.0, 1.0, 2.0, 1e-300, 3.0]])
    ry = np.concatenate([rng.normal(size=4000) * rng.choice([1e-8, 1.0, 1e3], 4000), rng.normal(size=1000),
                         [1.0, -1.0, 0.0, 5.0, np.sqrt(2.0) - 1]])
    a = np.asarray(jax.jit(_vmath.arg_right)(jnp.asarray(rx), jnp.asarray(ry)))
    np.testing.assert_allclose(a, np.arctan2(ry, rx), rtol=1e-15, atol=3e-16)

    # derivatives, which the log-derivatives of SR take through them (at y = 0 too)
    ds, dc = jax.vmap(jax.grad(lambda t: _vmath.sincos(t)[0])), jax.vmap(jax.grad(lambda t: _vmath.sincos(t)[1]))
    t = jnp.asarray(x[:500])
    np.testing.assert_allclose(np.asarray(ds(t)), np.cos(x[:500]), rtol=0, atol=1e-15)
    np.testing.assert_allclose(np.asarray(dc(t)), -np.sin(x[:500]), rtol=0, atol=1e-15)
    gx, gy = jax.vmap(jax.grad(_vmath.arg_right, argnums=(0, 1)))(jnp.asarray(rx[:500]), jnp.asarray(ry[:500]))
    r2 = rx[:500] ** 2 + ry[:500] ** 2
    np.testing.assert_allclose(np.asarray(gx), -ry[:500] / r2, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(np.asarray(gy), rx[:500] / r2, rtol=1e-13, atol=1e-13)
    assert float(jax.grad(_vmath.arg_right, argnums=1)(2.0, 0.0)) == 0.5


def test_single_precision_sine_cosine_and_arctangent_are_within_a_few_ulp():
    """The float32 polynomials of nqs/models/_vmath.py (complex64 log cosh): sine and cosine within an
    ulp of 1 of the exact values and the arctangent within three ulp of its value (measured 2.4;
    numpy's own float32 functions are within 1.1), across quadrants and up to the range reduction's
    limit |x| ~ 6400, and they stay float32."""
    from nqs.models import _vmath

    rng = np.random.default_rng(2)
    x = np.concatenate([rng.normal(size=4000) * 4, rng.uniform(-6400, 6400, 4000),
                        np.arange(-8, 9) * np.pi / 4, [0.0, -0.0, 1e-30, np.pi / 2]]).astype(np.float32)
    s, c = jax.jit(_vmath.sincos)(jnp.asarray(x))
    assert s.dtype == c.dtype == jnp.float32
    x64 = x.astype(np.float64)
    ulp1 = np.spacing(np.float32(1))  # 1.2e-7: sin and cos are at most 1
    assert np.max(np.abs(np.asarray(s, np.float64) - np.sin(x64))) <= ulp1
    assert np.max(np.abs(np.asarray(c, np.float64) - np.cos(x64))) <= ulp1

    rx = np.concatenate([rng.uniform(0, 2, 4000), rng.uniform(0, 1e-3, 1000), [1.0, 1.0, 2.0]]).astype(np.float32)
    ry = np.concatenate([rng.normal(size=4000) * rng.choice([1e-8, 1.0, 1e3], 4000), rng.normal(size=1000),
                         [1.0, -1.0, 0.0]]).astype(np.float32)
    a = jax.jit(_vmath.arg_right)(jnp.asarray(rx), jnp.asarray(ry))
    assert a.dtype == jnp.float32
    exact = np.arctan2(ry.astype(np.float64), rx.astype(np.float64))
    assert np.all(np.abs(np.asarray(a, np.float64) - exact) <= 3 * np.spacing(np.abs(exact).astype(np.float32)))
