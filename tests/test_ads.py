"""nqs.ads: the holographic network against exact statements (HSTT1, HSTT2, Maldacena 1998)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import nqs.ads as ads
from nqs.ads import network as nw
from nqs.ads import observables as obs
from nqs.ads import train as tr


@pytest.fixture(scope="module")
def bh_data():
    """Experiment-1 training data (1000 per class) and held-out data from another seed."""
    return ads.schwarzschild_data(0), ads.schwarzschild_data((0, 1))


@pytest.fixture(scope="module")
def qcd_data():
    return ads.qcd_data(0, n_per_class=2000)


def test_true_metric_classifies_the_generated_black_hole_data(bh_data):
    net = nw.SCHWARZSCHILD
    true = {"h": nw.schwarzschild_h(net.etas)}
    for d in bh_data:
        assert d.x.shape == (2000, 2) and d.n_positive == 1000
        assert np.all((d.x[:, 0] >= 0) & (d.x[:, 0] <= 1.5) & (np.abs(d.x[:, 1]) <= 0.2))
        assert nw.accuracy(net, true, d.x, d.y) >= 0.99
    # and a wrong metric (pure AdS4) does not
    assert nw.accuracy(net, {"h": np.full(10, 3.0)}, *bh_data[1]) < 0.9


def test_layers_are_the_euler_steps_of_the_equation_of_motion():
    # with h = 4, m² = −3, λ = 0 the near-boundary solution is exact: the network must converge to it
    # with first-order (Euler) error, halving when the number of layers doubles
    alpha, beta = 0.3, -0.2
    errors = []
    for n in (40, 80, 160):
        net = nw.QCD._replace(n_layers=n)
        phi0, pi0 = nw.near_boundary_solution(alpha, beta, 0.0, net.eta_ini)
        phi, pi = nw.propagate(net, jnp.full(n, 4.0), 0.0, phi0, pi0)
        exact = nw.near_boundary_solution(alpha, beta, 0.0, net.eta_fin)
        errors.append(abs(float(phi) - float(exact[0])) + abs(float(pi) - float(exact[1])))
    assert errors[0] / errors[1] == pytest.approx(2.0, rel=0.1)
    assert errors[1] / errors[2] == pytest.approx(2.0, rel=0.05)


def test_near_boundary_solution_solves_the_eom_to_its_truncation_order():
    # φ'' + 4φ' + 3φ − λφ³ = 0 (AdS5, m² = −3): the residual of the truncated series must be the first
    # neglected term, −3λα²(β − ½λα³η) e^{−5η}, not anything of order e^{−η} or e^{−3η}
    alpha, beta, lam = 0.7, 0.4, 0.9
    phi = lambda eta: nw.near_boundary_solution(alpha, beta, lam, eta)[0]  # noqa: E731
    dphi, d2phi = jax.grad(phi), jax.grad(jax.grad(phi))
    for eta in (3.0, 4.0, 5.0):  # beyond η ≈ 6 the residual drops below float64 round-off of the terms
        assert float(nw.near_boundary_solution(alpha, beta, lam, eta)[1]) == pytest.approx(float(dphi(eta)), rel=1e-12)
        residual = d2phi(eta) + 4 * dphi(eta) + 3 * phi(eta) - lam * phi(eta) ** 3
        leading = -3 * lam * alpha**2 * (beta - 0.5 * lam * alpha**3 * eta) * np.exp(-5 * eta)
        assert abs(float(residual)) < 1e-6 * alpha * np.exp(-eta)
        assert float(residual) / leading == pytest.approx(1.0, abs=1e-3)  # next order is e^{−7η}


def test_qcd_dictionary_units():
    # α = L √3/(2π) m_q (m_q in GeV, L in GeV⁻¹), β = L³ π/√3 ⟨q̄q⟩ (GeV³)
    a, b = nw.qcd_sources(0.01, 0.05, 4.0)
    assert float(a) == pytest.approx(4.0 * np.sqrt(3) / (2 * np.pi) * 0.01)
    assert float(b) == pytest.approx(64.0 * np.pi / np.sqrt(3) * 0.05)
    x = jnp.asarray([[0.01, 0.05]])
    phi, pi = nw.boundary_fields(nw.QCD, {"h": jnp.zeros(15), "L": 4.0, "lam": 0.1}, x)
    assert np.allclose([phi[0], pi[0]], nw.near_boundary_solution(a, b, 0.1, 1.0))


@pytest.mark.parametrize("experiment", ["schwarzschild", "qcd"])
def test_autodiff_gradients_match_finite_differences(experiment, bh_data, qcd_data):
    if experiment == "schwarzschild":
        net, d = nw.SCHWARZSCHILD, bh_data[0]
        params = {"h": jnp.asarray(nw.schwarzschild_h(net.etas) + 0.3 * np.sin(np.arange(10)))}
    else:
        net, d = nw.QCD, qcd_data
        # a point where many samples sit near the edges of the box t(F), so every gradient is sizeable
        params = {"h": jnp.linspace(2.0, 30.0, 15) - 3 * jnp.exp(-((jnp.arange(15) - 4.0) ** 2) / 4),
                  "L": jnp.asarray(3.0), "lam": jnp.asarray(0.05)}
    x, y = jnp.asarray(d.x[::4]), jnp.asarray(d.y[::4])
    f = jax.jit(lambda p: nw.loss(net, p, x, y))
    grad = jax.grad(f)(params)
    flat, unravel = jax.flatten_util.ravel_pytree(params)
    g = jax.flatten_util.ravel_pytree(grad)[0]
    assert np.max(np.abs(g)) > 1e-3
    step = 1e-6
    for i in range(len(flat)):
        e = jnp.zeros_like(flat).at[i].set(step)
        fd = (f(unravel(flat + e)) - f(unravel(flat - e))) / (2 * step)
        assert float(g[i]) == pytest.approx(float(fd), rel=1e-5, abs=1e-8), f"parameter {i}"


def test_shuffle_is_a_uniform_permutation():
    n = 1000
    perms = np.stack([np.asarray(tr.shuffle(jax.random.PRNGKey(k), n)) for k in range(200)])
    assert all(np.array_equal(np.sort(p), np.arange(n)) for p in perms)
    # each position takes each value with probability 1/n: the mean index at a position is (n−1)/2
    assert np.abs(perms.mean(axis=0) - (n - 1) / 2).mean() < 25


@pytest.fixture(scope="module")
def short_bh_run(bh_data):
    recipe = ads.SCHWARZSCHILD_RECIPE._replace(epochs=40, batch_size=100, learning_rate=1e-2)
    # seeds that leave the loss plateau at 0.25 (the network answering 1/2 everywhere) within the first
    # five epochs; seeds 4 and 5 leave it only near epoch 32, and whether they do within 40 epochs
    # depends on round-off (the compiler's optimisation level decides it for seed 4)
    return recipe, tr.train(nw.SCHWARZSCHILD, bh_data[0], recipe, seeds=[3, 7, 8], chunk=20, progress=False)


def test_a_short_training_lowers_the_loss(short_bh_run, bh_data):
    _, result = short_bh_run
    assert result.history.shape == (3, 40)
    assert np.all(result.history[:, -1] < 0.3 * result.history[:, 0])
    acc = [nw.accuracy(nw.SCHWARZSCHILD, {"h": h}, *bh_data[1]) for h in result.params["h"]]
    assert min(acc) > 0.9


def test_an_ensemble_member_equals_the_same_seed_trained_alone(short_bh_run, bh_data):
    # vmap over seeds changes nothing but the round-off of reductions; Adam's dynamics amplify that
    # exponentially (1e-16 after 5 epochs, 1e-11 after 10, percent after 40), so compare early epochs
    recipe, ensemble = short_bh_run
    alone = tr.train(nw.SCHWARZSCHILD, bh_data[0], recipe._replace(epochs=5), seeds=[7], progress=False)
    np.testing.assert_allclose(alone.history[0], ensemble.history[1, :5], rtol=1e-13)


def test_screening_keeps_the_candidates_with_the_lowest_data_loss(qcd_data):
    sc = tr.screen(nw.QCD, qcd_data, candidates=range(6), keep=3, epochs=4, progress=False)
    assert sc.data_loss.shape == (6,) and len(sc.kept) == 3
    idx = [sc.candidates.index(k) for k in sc.kept]
    finite = np.where(np.isfinite(sc.data_loss), sc.data_loss, np.inf)
    assert list(finite[idx]) == sorted(finite)[:3]
    # the returned weights are the kept candidates' own: their data loss is the one reported
    x, y = jnp.asarray(qcd_data.x), jnp.asarray(qcd_data.y)
    for i, j in enumerate(idx):
        p = {k: jnp.asarray(v[i]) for k, v in sc.params.items()}
        assert float(nw.data_loss(nw.QCD, p, x, y)) == pytest.approx(sc.data_loss[j], rel=1e-12)
    with pytest.raises(ValueError, match="keep must be"):
        tr.screen(nw.QCD, qcd_data, candidates=range(2), keep=3)


def test_lattice_data_ship_with_their_source():
    lat = ads.lattice_qcd()
    assert len(lat.m_q) == 7 and lat.m_q[0] == 0 and lat.condensate[-1] == pytest.approx(0.102948908)
    assert "1809.10536" in lat.source and "DL_holographicQCD" in lat.source
    fit = ads.cubic_fit(lat)
    assert np.max(np.abs(fit(lat.m_q) - lat.condensate)) < 0.004  # within the data's noise width
    d = ads.qcd_data(1, n_per_class=500)
    pos = d.y == 0
    assert d.n_positive == 500 and np.all(np.abs(d.x[pos, 1] - fit(d.x[pos, 0])) < 0.004 * 5)


def test_metric_of_pure_ads_is_exact():
    m = obs.metric(nw.QCD, np.full(15, 4.0))
    eta = np.linspace(0.05, 2.0, 50)
    np.testing.assert_allclose(m.log_g_at(eta), 2 * eta, atol=1e-12)


@pytest.mark.parametrize("R", [1.0, 2.5])
def test_ads5_wilson_loop_is_maldacenas_coulomb_law(R):
    # V(r) = −(4π²/Γ(1/4)⁴)(R²/α')/r, i.e. 2πα'V·r = −2π·0.2285·R² at every separation
    r, v = obs.ads5_wilson_loop(R, [0.05, 0.3, 1.0, 4.0, 20.0])
    np.testing.assert_allclose(r * v, -2 * np.pi * obs.ads5_coefficient() * R**2, rtol=1e-8)
    assert obs.ads5_coefficient() == pytest.approx(0.228473, rel=1e-5)
    slope = np.polyfit(np.log(r), np.log(-v), 1)[0]
    assert slope == pytest.approx(-1.0, abs=1e-9)


def test_an_ir_wall_confines_linearly_and_the_string_then_breaks():
    # a metric shaped like the emergent one: h < 0 on a stretch (g = f has a minimum there, the IR
    # wall) and a horizon-like rise towards η_fin
    h = np.array([2.7, 1.5, 0.4, -0.5, -1.0, -1.0, -0.3, 0.9, 2.7, 5.2, 8.5, 12.8, 18.7, 27.0, 38.3])
    pot = obs.quark_potential(nw.QCD, h, L_GeV=4.0, n_points=80)
    m = obs.metric(nw.QCD, h)
    assert pot.eta_wall is not None and pot.tension == pytest.approx(float(m.g(pot.eta_wall)))
    far = pot.r_fm > 0.7 * pot.r_fm.max()
    slope = np.polyfit(pot.r_fm[far], pot.V_fm[far], 1)[0]
    assert slope == pytest.approx(pot.tension, rel=0.02)  # linear confinement, 2πα'σ = g(η_wall)
    assert pot.r_screen_fm is not None and pot.r_fm.min() < pot.r_screen_fm < pot.r_fm.max()
    assert np.all(pot.screened() <= 0)  # beyond r_screen the string breaks: Debye screening
    # short strings stay above η_ini, in pure AdS5 of radius L: V = a/r + b with Maldacena's a
    # (b shifts because the straight strings still reach down through the learned metric)
    short = pot.eta_star > nw.QCD.eta_ini
    a, b = np.polyfit(1 / pot.r_fm[short], pot.V_fm[short], 1)
    L_fm = 4.0 * obs.HBAR_C_GEV_FM
    assert a == pytest.approx(-2 * np.pi * obs.ads5_coefficient() * L_fm**2, rel=1e-6)
