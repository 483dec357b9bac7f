"""One Lanczos step (nqs.lanczos_step): the second moment of H against the exact matrix, the step's
energy and variance against the Krylov space {psi, H psi} written out on the whole 4x4 basis, and
the Monte Carlo estimate against that exact value."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import EXACT_4x4, SHORT_RUN_STEPS, heisenberg_matrix, short_run_4x4, sz0_basis

import nqs
from nqs.lanczos import lanczos_estimates, local_moments

LAT = nqs.Square(4, 4, pbc=True)
H = nqs.Heisenberg(LAT)


@pytest.fixture(scope="module")
def basis_and_matrix():
    basis = sz0_basis(LAT.n_sites)
    return basis, heisenberg_matrix(LAT, basis)


def _amplitudes(model, params, basis):
    log_psi = np.asarray(jax.vmap(model.log_psi, in_axes=(None, 0))(params, jnp.asarray(basis)))
    return np.exp(log_psi - log_psi.real.max())


def _krylov(Hm, psi):
    """The lowest state of span{psi, H psi}: (energy of psi, its variance, energy of phi, its
    variance), totals, by dense linear algebra."""
    v0 = psi / np.linalg.norm(psi)
    h0 = Hm @ v0
    E = np.vdot(v0, h0).real
    v1 = h0 - E * v0
    v1 /= np.linalg.norm(v1)
    h1 = Hm @ v1
    T = np.array([[E, np.vdot(v0, h1)], [np.vdot(v1, h0), np.vdot(v1, h1)]]).real
    lam, vec = np.linalg.eigh(T)
    phi = vec[0, 0] * v0 + vec[1, 0] * v1
    h_phi = Hm @ phi
    return E, np.vdot(h0, h0).real - E**2, lam[0], np.vdot(h_phi, h_phi).real - lam[0] ** 2


@pytest.mark.parametrize("model", [nqs.RBM(alpha=1), nqs.RBMSymm(LAT, alpha=2, dtype="float64")],
                         ids=["RBM complex", "RBMSymm real"])
def test_lanczos_step_is_the_lowest_state_of_the_krylov_space(model, basis_and_matrix):
    basis, Hm = basis_and_matrix
    # random weights three times the initial scale: a state far from the ground state, where the
    # step moves the energy by a lot
    params = jax.tree_util.tree_map(lambda x: 3 * x, model.init(jax.random.PRNGKey(3), LAT.n_sites))
    vmc = nqs.VMC(H, model, n_samples=64)
    e, g, shift = local_moments(vmc, H.tables(model, params), basis)
    psi = _amplitudes(model, params, basis)
    h_psi = Hm @ psi
    np.testing.assert_allclose(e, h_psi / psi, rtol=0, atol=1e-10)
    np.testing.assert_allclose(g, (Hm @ h_psi - 2 * shift * h_psi + shift**2 * psi) / psi, rtol=0, atol=1e-9)

    weights = np.abs(psi) ** 2 / np.sum(np.abs(psi) ** 2)
    out = lanczos_estimates(e, g, shift, LAT.n_sites, weights=weights)
    E, var, E_phi, var_phi = _krylov(Hm, psi)
    N = LAT.n_sites
    assert out["energy_per_site"] == pytest.approx(E / N, abs=1e-12)
    assert out["variance"] == pytest.approx(var, abs=1e-9)
    assert out["lanczos_energy_per_site"] == pytest.approx(E_phi / N, abs=1e-12)
    assert out["lanczos_variance"] == pytest.approx(var_phi, abs=1e-9)
    # variational: between the exact ground state and psi, with a smaller variance
    assert EXACT_4x4 - 1e-9 < out["lanczos_energy_per_site"] < out["energy_per_site"] - 0.01
    assert out["lanczos_variance"] < var
    # phi = [1 + alpha (H - E)] psi reproduces the step's energy
    phi = psi + out["alpha"] * (h_psi - E * psi)
    assert np.vdot(phi, Hm @ phi).real / np.vdot(phi, phi).real / N == pytest.approx(E_phi / N, abs=1e-10)


def test_lanczos_step_on_samples_agrees_with_enumeration(tmp_path, basis_and_matrix):
    """From a stored run: the Monte Carlo estimates of psi's and phi's energies against their exact
    values for the stored parameters."""
    basis, Hm = basis_and_matrix
    out = tmp_path / "short.h5"
    short_run_4x4(out)
    ls = nqs.lanczos_step(out, rounds=8, progress=False)
    assert ls.n_samples == 8 * 256 and ls.step == SHORT_RUN_STEPS and ls.exact == EXACT_4x4

    from nqs.vmc import stored_state

    vmc, params, _, _, _ = stored_state(out)
    E, var, E_phi, var_phi = _krylov(Hm, _amplitudes(vmc.model, params, basis))
    N = LAT.n_sites
    assert 0 < ls.error < 2e-3 and 0 < ls.lanczos_error < 2e-3
    assert abs(ls.energy_per_site - E / N) < 4 * ls.error
    assert abs(ls.lanczos_energy_per_site - E_phi / N) < 4 * ls.lanczos_error
    assert ls.lanczos_energy_per_site < ls.energy_per_site
    assert ls.lanczos_variance == pytest.approx(var_phi, rel=0.3)
    assert ls.lanczos_relative_error < ls.relative_error
    assert abs(ls.extrapolated_energy_per_site - EXACT_4x4) < abs(ls.lanczos_energy_per_site - EXACT_4x4)

    # a second step on the same run (another seed) compiles nothing: the compiled functions are kept
    # per problem, although every read of the file builds a new VMC (and optimizer)
    from nqs.lanczos import _compiled

    compiled = _compiled(vmc)
    functions = (compiled.tables, compiled.draw, compiled.on_samples, compiled.on_neighbours)
    sizes = [f._cache_size() for f in functions]
    assert min(sizes) == 1
    again = nqs.lanczos_step(out, rounds=8, seed=2, progress=False)
    assert _compiled(stored_state(out)[0]) is compiled
    assert [f._cache_size() for f in functions] == sizes
    assert again.lanczos_energy_per_site != ls.lanczos_energy_per_site  # other samples


def test_lanczos_step_refuses_bad_input(tmp_path):
    with pytest.raises(ValueError, match="rounds must be a positive integer"):
        nqs.lanczos_step(tmp_path / "none.h5", rounds=0)
    dbm = nqs.VMC(H, nqs.DBM(alpha_hidden=1, alpha_deep=1), n_samples=64)
    with pytest.raises(ValueError, match="samples hidden units"):
        local_moments(dbm, None, sz0_basis(LAT.n_sites)[:4])


def test_an_eigenstate_is_left_as_it_is():
    """Zero variance (every local energy the same): H psi adds nothing to the Krylov space, and the
    step returns psi's energy instead of dividing by the variance."""
    e = np.full((64, 4), -3.0 + 0j)
    out = lanczos_estimates(e, np.zeros_like(e), -3.0, 4)
    assert out["lanczos_energy_per_site"] == out["extrapolated_energy_per_site"] == out["energy_per_site"] == -0.75
    assert out["lanczos_variance"] == 0 and out["alpha"] == 0
