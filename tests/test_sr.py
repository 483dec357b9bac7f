"""Stochastic reconfiguration: the solvers agree with each other and with the textbook formula."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import nqs
from conftest import compiled_gradient, random_sz0
from nqs import sr as sr_module
from nqs.sr import materialize, natural_gradient


def _problem(model, n_samples, seed=0):
    lattice = nqs.Square(4, 2)
    H = nqs.Heisenberg(lattice)
    params = model.init(jax.random.PRNGKey(seed), lattice.n_sites)
    tables = model.tables(params)
    sigma = jnp.asarray(random_sz0(8, n_samples, seed=seed))
    caches = jax.vmap(model.cache, in_axes=(None, 0))(tables, sigma)
    e_loc = jax.vmap(lambda s, c: H.local_energy(model, tables, s, c))(sigma, caches)
    return model.log_derivative_blocks(params, tables, sigma, caches), e_loc


def _textbook(O, e, shift, scale, real, system=False):
    """(S + shift + scale diag S)^{-1} F from the definitions S = <O*O> - <O*><O>, F = <O*E> - <O*><E>
    (with ``system``, also the matrix S + D and F)."""
    O, e = np.asarray(O), np.asarray(e)
    S = (O.conj().T @ O) / len(e) - np.outer(O.conj().mean(0), O.mean(0))
    F = (O.conj().T @ e) / len(e) - O.conj().mean(0) * e.mean()
    if real:
        S, F = S.real, F.real
    A = S + np.diag(shift + scale * np.diag(S).real)
    return (np.linalg.solve(A, F), A, F) if system else np.linalg.solve(A, F)


@pytest.mark.parametrize("n_samples", [40, 200], ids=["samples<params", "samples>params"])
@pytest.mark.parametrize("dtype", ["complex128", "float64"])
@pytest.mark.parametrize("schedule", [None, "carleo-troyer"])
def test_solvers_give_the_same_update(n_samples, dtype, schedule):
    model = nqs.RBM(alpha=2, dtype=dtype, scale=0.2)  # P = 8 + 16 + 128 = 152
    blocks, e_loc = _problem(model, n_samples)
    real = dtype == "float64"
    step = 30
    updates = {}
    for solver in ("dense", "kernel", "cg"):
        sr = nqs.SR(solver=solver, diag_shift=1e-2, schedule=schedule, cg_tol=1e-14, cg_maxiter=5000)
        updates[solver] = np.asarray(compiled_gradient(sr, blocks, e_loc, step, real))
        # the unstructured path (O as one matrix) must agree as well
        updates[solver + "-matrix"] = np.asarray(compiled_gradient(sr, materialize(blocks), e_loc, step, real))
    scale = float(nqs.SR(schedule=schedule).shift_scale(step))
    reference = _textbook(materialize(blocks), e_loc, 1e-2, scale, real)
    norm = np.linalg.norm(reference)
    for name, delta in updates.items():
        assert np.linalg.norm(delta - reference) / norm < 1e-8, name


@pytest.mark.parametrize("dtype", ["complex128", "float64"])
def test_cg_on_a_large_o_multiplies_by_o_itself(dtype, monkeypatch):
    """CG's products X^H (X v) run on real copies of X laid out for them up to NORMAL_COPY_MAX
    entries, on X itself above it: the same update either way."""
    model = nqs.RBM(alpha=2, dtype=dtype, scale=0.2)
    blocks, e_loc = _problem(model, 200)
    real = dtype == "float64"
    sr = nqs.SR(solver="cg", diag_shift=1e-2, cg_tol=1e-14, cg_maxiter=5000)
    O = materialize(blocks)
    copied = np.asarray(compiled_gradient(sr, O, e_loc, 30, real))
    monkeypatch.setattr(sr_module, "NORMAL_COPY_MAX", 0)
    direct = np.asarray(compiled_gradient(sr, O, e_loc, 30, real))
    reference = _textbook(O, e_loc, 1e-2, 0.0, real)
    for delta in (copied, direct):
        assert np.linalg.norm(delta - reference) / np.linalg.norm(reference) < 1e-8


@pytest.mark.parametrize("case, schedule", [("complex", None), ("real", "carleo-troyer"),
                                            ("real parameters, complex O", None)])
def test_spring_momentum_is_sr_pulled_towards_the_previous_direction(case, schedule):
    """SPRING (SR(momentum=mu)): delta = (S + D)^{-1} (F + D mu delta_prev), by every solver, from
    the blocks and from the matrix; the local energies less O mu delta_prev carry the momentum."""
    model = nqs.RBM(alpha=2, dtype="float64" if case == "real" else "complex128", scale=0.2)
    blocks, e_loc = _problem(model, 100, seed=5)
    real = case != "complex"
    step, mu, shift = 30, 0.8, 1e-2
    scale = float(nqs.SR(schedule=schedule).shift_scale(step))
    O = np.asarray(materialize(blocks))
    rng = np.random.default_rng(2)
    previous = rng.normal(size=O.shape[1])
    if not real:
        previous = previous + 1j * rng.normal(size=O.shape[1])
    S = (O.conj().T @ O) / len(e_loc) - np.outer(O.conj().mean(0), O.mean(0))
    F = (O.conj().T @ np.asarray(e_loc)) / len(e_loc) - O.conj().mean(0) * np.mean(e_loc)
    if real:
        S, F = S.real, F.real
    D = shift + scale * np.diag(S).real
    reference = np.linalg.solve(S + np.diag(D), F + D * mu * previous)
    plain = np.linalg.solve(S + np.diag(D), F)
    assert np.linalg.norm(reference - plain) > 0.1 * np.linalg.norm(reference)  # the momentum matters here
    for solver in ("dense", "kernel", "cg"):
        sr = nqs.SR(solver=solver, diag_shift=shift, schedule=schedule, cg_tol=1e-14, cg_maxiter=5000, momentum=mu)
        for name, o in (("blocks", blocks), ("matrix", materialize(blocks))):
            delta = np.asarray(compiled_gradient(sr, o, e_loc, step, real, previous=jnp.asarray(previous)))
            assert np.linalg.norm(delta - reference) / np.linalg.norm(reference) < 1e-8, (solver, name)
    with pytest.raises(ValueError, match="momentum"):
        nqs.SR(momentum=1.0)


def test_carleo_troyer_schedule():
    sr = nqs.SR(schedule="carleo-troyer")
    assert float(sr.shift_scale(0)) == pytest.approx(100.0)
    assert float(sr.shift_scale(10)) == pytest.approx(100 * 0.9**10)
    assert float(sr.shift_scale(10_000)) == pytest.approx(1e-4)


def test_automatic_choice():
    sr = nqs.SR()
    assert sr.choose(n_params=300, n_rows=1000) == "dense"  # 4x4 RBM
    assert sr.choose(n_params=10_200, n_rows=1008, gram_width=400) == "kernel"  # 10x10 RBM, outer blocks
    assert sr.choose(n_params=1072, n_rows=1008) == "cg"  # 4x4 DeepFFNN: O has no structure
    assert sr.choose(n_params=100_000, n_rows=50_000) == "cg"  # too large for a direct solve
    assert nqs.SR(solver="dense").choose(n_params=100_000, n_rows=50_000) == "dense"


def test_bad_settings():
    with pytest.raises(ValueError, match="solver"):
        nqs.SR(solver="qr")
    with pytest.raises(ValueError, match="diag_shift"):
        nqs.SR(diag_shift=-1)


@pytest.mark.parametrize("dtype", ["complex128", "float64"])
def test_single_precision_factor_refined_to_double_precision(dtype):
    """From MIXED_MIN up the dense and kernel solvers factorise a Gram matrix built in single
    precision and refine against the exact double-precision product: the update is the textbook one
    to the refinement's residual (complex O as blocks: the structured kernel; real O as one matrix)."""
    from nqs.sr import MIXED_MIN, REFINE_TOL

    model = nqs.RBM(alpha=4, dtype=dtype, scale=0.2)  # P = 8 + 32 + 256 = 296
    n_samples = 260
    assert min(296, n_samples) >= MIXED_MIN  # both systems take the mixed-precision path
    blocks, e_loc = _problem(model, n_samples, seed=3)
    real = dtype == "float64"
    reference = _textbook(materialize(blocks), e_loc, 1e-2, 0.0, real)
    # a relative residual r bounds the relative error by cond(S + shift) r; the single-precision
    # factor alone is off by ~cond 6e-8, far outside the bound
    O = np.asarray(materialize(blocks))
    cond = (np.linalg.norm(O - O.mean(0), 2) ** 2 / n_samples + 1e-2) / 1e-2
    assert cond > 100
    O = blocks if dtype == "complex128" else materialize(blocks)  # the structured and the plain kernel
    # the shift as the VMC step passes it, a traced double: it must not promote the single-precision
    # matrix to double (it did, in the structured kernel, until the shift was cast to its dtype)
    low_potrf = "lapack_spotrf" if real else "lapack_cpotrf"
    shift = jnp.asarray(1e-2, jnp.float64)
    for solver in ("dense", "kernel"):
        sr = nqs.SR(solver=solver, diag_shift=1e-2)
        solve = jax.jit(lambda e, d: natural_gradient(sr, O, e, 0, real, diag_shift=d))  # noqa: B023
        delta = np.asarray(solve(e_loc, shift))
        assert np.linalg.norm(delta - reference) / np.linalg.norm(reference) < cond * REFINE_TOL, solver
        assert low_potrf in solve.lower(e_loc, shift).compile().as_text(), f"{solver}: not factorised in single precision"


def test_refined_solve_falls_back_to_double_precision():
    """A single-precision matrix that is not positive definite (its factor is NaN), or a tolerance
    the refinement cannot reach, hands the system to the double-precision fallback."""
    from nqs.sr import _cholesky_solve, _solve_refined

    rng = np.random.default_rng(1)
    n = 40
    Q, _ = np.linalg.qr(rng.normal(size=(n, n)))
    A = jnp.asarray((Q * np.geomspace(1.0, 1e-3, n)) @ Q.T)
    b = jnp.asarray(rng.normal(size=n))
    exact = np.linalg.solve(np.asarray(A), np.asarray(b))
    matvec = lambda v: A @ v  # noqa: E731
    fallback = lambda: _cholesky_solve(A, b)  # noqa: E731
    refined = _solve_refined(A.astype(jnp.float32), matvec, b, 1e-10, lambda: jnp.full(n, jnp.nan))
    np.testing.assert_allclose(np.asarray(refined), exact, rtol=1e-7)  # refinement alone got there
    not_pd = _solve_refined(-A.astype(jnp.float32), matvec, b, 1e-10, fallback)
    np.testing.assert_allclose(np.asarray(not_pd), exact, rtol=1e-9)
    unreachable = _solve_refined(A.astype(jnp.float32), matvec, b, 0.0, lambda: jnp.zeros(n))
    assert np.all(np.asarray(unreachable) == 0.0)


@pytest.mark.parametrize("factors", ["shared", "copied"])
@pytest.mark.parametrize("size", ["double", "mixed"])
@pytest.mark.parametrize("swapped", [False, True], ids=["real-first", "real-second"])
@pytest.mark.parametrize("real", [False, True])
def test_dense_s_built_around_an_outer_block_in_any_column_order(real, swapped, size, factors, monkeypatch):
    """The dense solver builds S from the blocks around their one outer block (sr._dense_structured,
    O never formed); with the outer block between dense ones, and with its real factor first (the
    RBM's sigma t^T) or second (Saito's FFNN), the update is the one from O itself. From MIXED_MIN
    unknowns up S is built in single precision and the solution refined against the exact product
    block by block: still the double-precision update, with the constant shift alone (S itself
    singular: fewer samples than parameters) and with Carleo & Troyer's schedule, without the
    double-precision fallback (made to fail here)."""
    rng = np.random.default_rng(4)
    ns, n1, n2 = (80, 4, 3) if size == "double" else (120, 16, 16)
    U = jnp.asarray(rng.choice([-1.0, 1.0], (ns, n1)))
    # a mean of O well above its fluctuations, as the RBM's t = tanh(theta) has
    V = jnp.asarray(0.8 + 0.3 * rng.normal(size=(ns, n2)) + (0 if real else 1j * (0.5 + 0.3 * rng.normal(size=(ns, n2)))))
    Z = jnp.asarray(rng.normal(size=(ns, 2)) + (0 if real else 1j * rng.normal(size=(ns, 2))))
    outer = ("outer", V, U) if swapped else ("outer", U, V)
    if factors == "shared":  # the dense blocks are the outer block's factors (the RBM's a and b)
        blocks = [("dense", U), ("dense", Z), outer, ("dense", V)]
    else:  # equal arrays, not the same ones: blocks of their own
        blocks = [("dense", U + 0), ("dense", Z), outer, ("dense", V + 0)]
    assert sr_module._outer_gram_applies(blocks)
    grams = []  # the factors S is built from: with a column of ones each when shared
    outer_gram = sr_module._outer_gram
    monkeypatch.setattr(sr_module, "_outer_gram",
                        lambda U, V: grams.append(tuple(sorted((U.shape[1], V.shape[1])))) or outer_gram(U, V))
    assert sr_module._mixed(V.astype(jnp.complex128), sum(sr_module._widths(blocks))) == (size == "mixed")
    e_loc = jnp.asarray(rng.normal(size=ns) + 1j * rng.normal(size=ns))
    if size == "mixed":
        monkeypatch.setattr(sr_module, "_cholesky_solve", lambda A, b: jnp.full_like(b, jnp.nan))
    for sr in (nqs.SR(solver="dense", schedule="carleo-troyer"), nqs.SR(solver="dense", diag_shift=0.01)):
        reference, A, F = _textbook(materialize(blocks), e_loc, sr.diag_shift, float(sr.shift_scale(3)), real, True)
        delta = np.asarray(compiled_gradient(sr, blocks, e_loc, 3, real))
        # the double-precision system's solution: its residual at the refinement's tolerance (a
        # single-precision solve leaves ~1e-6), hence within cond(A) x that of the exact solution
        assert np.linalg.norm(A @ delta - F) / np.linalg.norm(F) < 1e-9
        assert np.linalg.norm(delta - reference) / np.linalg.norm(reference) < 1e-7
    assert set(grams) == {tuple(sorted((n1 + 1, n2 + 1) if factors == "shared" else (n1, n2)))}
