"""Stochastic reconfiguration (Sorella 1998; Carleo & Troyer 2017): the natural-gradient direction.

With centred log-derivatives X = (O - <O>) / sqrt(Ns) and centred local energies
eps = (E_loc - <E_loc>) / sqrt(Ns),

    S = X^H X,   F = X^H eps,   delta = (S + D)^{-1} F,   theta <- theta - eta delta,

where D is diagonal: a constant shift ``diag_shift`` plus, optionally, Carleo & Troyer's schedule
lambda(p) S_kk with lambda(p) = max(lambda_0 b^p, lambda_min) (lambda_0 = 100, b = 0.9,
lambda_min = 1e-4) at optimisation step p.

Three solvers give the same delta:

- ``"dense"``: builds the P x P matrix S; best when the parameters are fewer than the samples.
- ``"kernel"`` (minSR, Chen & Heyl, Nat. Phys. 20, 1476 (2024); Rende et al., Commun. Phys. 7, 260
  (2024)): the push-through identity delta = D^{-1} X^H (X D^{-1} X^H + 1)^{-1} eps solves an
  Ns x Ns system; best when the samples are fewer than the parameters.
- ``"cg"``: conjugate gradient with the matrix-free product S v = X^H (X v), for when both are
  large; for the RBM the products go block by block and O is never formed.

Precision: the dense and kernel systems from ``MIXED_MIN`` (256) unknowns up are built from
single-precision copies of O (of its blocks) and factorised in single precision, and the solution is
refined against the exact double-precision product (X^H (X v) + D v, or the kernel's product block
by block) until its relative residual is below ``REFINE_TOL`` (1e-10); the double-precision matrix
is formed only if that fails (``_solve_refined``). The single-precision Gram matrix costs half the
memory traffic and time of the double one, and the solution is that of a double-precision solve.
The dense S of a model with one outer block of real U (the RBM's sigma t^T) is built around that
block's structure (``_dense_structured``), from single-precision blocks, and refined against the exact
product applied block by block.

``"auto"`` (default) picks the cheapest by operation count (``SR.choose``): dense when P is well below
Ns, kernel when Ns is, CG when both are comparable and O has no structure, and CG when the smaller
of the two exceeds ``max_dense``. With real parameters S and F are the real parts; the solvers then work on
the real matrix [Re X; Im X].

Momentum (SPRING; Goldshlager, Abrahamsen & Lin, J. Chem. Phys. 160, 244107 (2024)): with
``momentum`` mu > 0 the direction of step k keeps mu times that of step k - 1, delta_bar, and SR
solves only for the correction: the minimum-norm solution of X delta = eps in the metric of the
shift, started from delta_bar,

    delta_k = delta_bar + (S + D)^{-1} X^H (eps - X delta_bar) = (S + D)^{-1} (F + D delta_bar).

The shift D, which plain SR spends on pulling the step towards zero, pulls it towards the previous
direction instead: in the directions S resolves the step is SR's, in those it leaves to D the
directions accumulate over ~1 / (1 - mu) steps, like the momentum of stochastic gradient
descent, with the noise of one step damped by the same factor. eps - X delta_bar is X's
product with a vector of local energies less O delta_bar per sample, so every solver below (the
structured ones and the replica rows included) applies unchanged.

Replica estimators (the DBM, ``models.dbm``): each sample carries R >= 2 estimates O_r and E_r of
the log-derivatives and of the local energy, conditionally independent given sigma. Products that
pair two different replicas are unbiased:

    F = sum_{r != r'} X_r^H eps_r' / (R (R - 1))                       (always),
    S = sum_{r != r'} X_r^H X_r' / (R (R - 1))   (``replica_metric="cross"``).

That S is the marginal's S without bias, but it is not of the form X^H X: with finitely many
samples it has negative eigenvalues, and in the directions where the true S nearly vanishes (the
deep layer at the start, whose units hardly correlate with sigma) its noise is not damped by any
variance of O, so one step can throw the parameters far (measured: a 4x4 DBM at shift 1e-3
diverges in the first steps). Only the dense solver (LU) applies to it.

``replica_metric="joint"`` (default) keeps the unbiased F and takes S from each replica's own O,
S_joint = sum_r X_r^H X_r / R: the metric of the joint distribution of (sigma, d), which exceeds
the marginal's by the mean conditional covariance of O given sigma (positive semi-definite). It
is X^H X for the rows (sample, replica) / sqrt(R), and F is X^H eps for the same rows when each row
carries the mean local energy of the *other* replicas; so every solver above, the structured ones
included, applies unchanged to Ns R rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

SOLVERS = ("auto", "dense", "kernel", "cg")


@dataclass(frozen=True)
class SR:
    """Stochastic-reconfiguration settings.

    Args:
        solver: ``"auto"``, ``"dense"``, ``"kernel"`` or ``"cg"``.
        diag_shift: constant added to the diagonal of S (>= 0).
        schedule: ``None`` or ``"carleo-troyer"``: add lambda(p) S_kk with the schedule above.
        lambda0, decay, lambda_min: parameters of that schedule.
        cg_tol: relative residual at which CG stops; cg_maxiter: its iteration cap.
        max_dense: largest linear system (P or Ns) the automatic choice solves directly.
        replica_metric: for models with replicas (DBM): ``"joint"`` or ``"cross"`` (module docstring).
        momentum: mu in [0, 1) of SPRING (Goldshlager, Abrahamsen & Lin, J. Chem. Phys. 160, 244107
            (2024)): each direction is that of the previous step, times mu, corrected by SR,
            delta_k = (S + D)^{-1} (F + D mu delta_{k-1}) (module docstring). 0 (default): plain SR.
    """

    solver: str = "auto"
    diag_shift: float = 0.01
    schedule: str | None = None
    lambda0: float = 100.0
    decay: float = 0.9
    lambda_min: float = 1e-4
    cg_tol: float = 1e-6
    cg_maxiter: int = 500
    max_dense: int = 6000
    replica_metric: str = "joint"
    momentum: float = 0.0

    def __post_init__(self):
        if not 0 <= self.momentum < 1:
            raise ValueError(f"SR: momentum must be in [0, 1) (SPRING's mu; 0 is plain SR), got {self.momentum}")
        if self.replica_metric not in ("joint", "cross"):
            raise ValueError(f"SR: replica_metric must be 'joint' or 'cross', got {self.replica_metric!r}")
        if self.solver not in SOLVERS:
            raise ValueError(f"SR: solver must be one of {SOLVERS}, got {self.solver!r}")
        if not self.diag_shift >= 0:
            raise ValueError(f"SR: diag_shift must be >= 0, got {self.diag_shift}")
        if self.schedule not in (None, "carleo-troyer"):
            raise ValueError(f"SR: schedule must be None or 'carleo-troyer', got {self.schedule!r}")
        if self.schedule is None and self.diag_shift == 0:
            raise ValueError("SR: with no schedule, diag_shift must be > 0 (S is singular in general)")

    def shift_scale(self, step):
        """lambda(p), the multiplier of S_kk at step p (0 without a schedule)."""
        if self.schedule is None:
            return jnp.zeros(())
        return jnp.maximum(self.lambda0 * self.decay ** step, self.lambda_min)

    def choose(self, n_params: int, n_rows: int, gram_width: int | None = None) -> str:
        """The solver ``"auto"`` picks: the cheapest by operation count.

        dense costs P^2 Ns + P^3/3 (S and its Cholesky), kernel Ns^2 w + Ns^3/3 (the Gram matrix,
        w = P columns, or the sum of the factor widths for outer-product blocks, and its Cholesky),
        CG 2 Ns P per iteration. CG's iteration count grows as the square root of the condition
        number of S + shift, ~ 1/sqrt(shift); it is charged as ``CG_ITERATIONS`` / sqrt(shift)
        (400 at shift 1e-2: generous, since a direct solve's cost is certain and CG's is not). On a
        2-core CPU this picks dense for the 4x4 RBM (P = 288), the structured kernel for 6x6-10x10
        RBMs and CG for the 4x4 DeepFFNN (P = 1072 columns without structure: 38 ms against 155 ms
        for either direct solve early in a run; CG's iterations grow as S's condition number does,
        4-5 at step 20 and ~50 from step 60, when the dense solve's 128-132 ms beat CG's 168-211, on
        2026-11-30). Beyond ``max_dense`` rows and parameters only CG fits in memory.
        """
        if self.solver != "auto":
            return self.solver
        if min(n_params, n_rows) > self.max_dense:
            return "cg"
        P, ns = float(n_params), float(n_rows)
        w = P if gram_width is None else float(gram_width)
        costs = {
            "dense": P * P * ns + P**3 / 3,
            "kernel": ns * ns * w + ns**3 / 3,
            "cg": CG_ITERATIONS / np.sqrt(max(self.diag_shift, self.lambda_min)) * 2 * ns * P,
        }
        return min(costs, key=costs.get)


NORMAL_COPY_MAX = 2**25  # entries of X up to which CG multiplies by real copies laid out for it (_normal_product)
CG_ITERATIONS = 40  # times 1/sqrt(shift): the CG iterations the automatic choice charges (SR.choose)


def centred(O, e_loc, real_params: bool):
    """X and eps of the module docstring; for real parameters, real and imaginary parts stacked."""
    ns = O.shape[0]
    X = (O - jnp.mean(O, axis=0)) / jnp.sqrt(ns)
    eps = (e_loc - jnp.mean(e_loc)) / jnp.sqrt(ns)
    if real_params:
        if jnp.iscomplexobj(X):
            X = jnp.concatenate([X.real, X.imag], axis=0)
            eps = eps.astype(jnp.result_type(eps.dtype, jnp.complex64))
            eps = jnp.concatenate([eps.real, eps.imag])
        else:
            eps = jnp.real(eps)
        dtype = X.dtype
    else:
        dtype = jnp.result_type(X.dtype, jnp.complex64)
        X = X.astype(dtype)
    return X, eps.astype(dtype)


def _widths(blocks):
    """The number of parameters (columns of O) of each block: n for a dense block, n1 n2 for an outer one."""
    return [b[1].shape[-1] if b[0] == "dense" else b[1].shape[-1] * b[2].shape[-1] for b in blocks]


def materialize(blocks):
    """The (Ns, [R,] P) matrix of log-derivatives from its blocks (see ``natural_gradient``)."""
    cols = []
    for block in blocks:
        if block[0] == "dense":
            cols.append(block[1])
        else:
            U, V = block[1], block[2]
            dtype = jnp.result_type(U.dtype, V.dtype)
            cols.append((U[..., :, None].astype(dtype) * V[..., None, :].astype(dtype)).reshape(U.shape[:-1] + (-1,)))
    dtype = jnp.result_type(*[c.dtype for c in cols])
    return jnp.concatenate([c.astype(dtype) for c in cols], axis=-1)


def replica_s_and_force(O, e_loc, real_params: bool):
    """S and F from R replica estimates per sample, O (Ns, R, P) and e_loc (Ns, R): every product
    pairs two different replicas (module docstring)."""
    ns, R = e_loc.shape
    X = (O - jnp.mean(O, axis=(0, 1))) / jnp.sqrt(ns)
    eps = (e_loc - jnp.mean(e_loc)) / jnp.sqrt(ns)
    if not real_params:
        X = X.astype(jnp.result_type(X.dtype, jnp.complex64))
    eps = eps.astype(jnp.result_type(eps.dtype, X.dtype))
    Xs, es = jnp.sum(X, axis=1), jnp.sum(eps, axis=1)
    pairs = R * (R - 1)
    S = (_xh_dot(Xs, Xs) - sum(_xh_dot(X[:, r], X[:, r]) for r in range(R))) / pairs
    F = (_xh_dot(Xs, es) - sum(_xh_dot(X[:, r], eps[:, r]) for r in range(R))) / pairs
    if real_params:
        S, F = jnp.real(S), jnp.real(F)
    return S, F


def _replica_rows(blocks, e_loc):
    """The joint metric's rows: (sample, replica) pairs, each with the mean local energy of the other replicas."""
    ns, R = e_loc.shape
    other = (jnp.sum(e_loc, axis=1, keepdims=True) - e_loc) / (R - 1)
    rows = [(b[0],) + tuple(x.reshape((ns * R,) + x.shape[2:]) for x in b[1:]) for b in blocks]
    return rows, other.reshape(ns * R)


def _replica_dense(sr, shift, O, e_loc, step, real_params, bar=None):
    S, F = replica_s_and_force(O, e_loc, real_params)
    # the schedule scales the diagonal of S, which a replica estimate can push slightly below 0
    D = shift + sr.shift_scale(step) * jnp.maximum(jnp.real(jnp.diag(S)), 0.0)
    D = jnp.maximum(D, 1e-14)
    if bar is not None:  # SPRING: (S + D)^{-1} (F + D delta_bar), S the cross-replica estimate
        F = F + (D * bar).astype(F.dtype)
    return jnp.linalg.solve(S + jnp.diag(D).astype(S.dtype), F)


def _in_double(blocks, e_loc):
    """The blocks and local energies in double precision (when jax_enable_x64 is on, as nqs sets it).

    A single-precision state gets its SR linear algebra in double: S = X^H X accumulates rounding
    of order 6e-8 max_k S_kk, and with filters tied over a large group S_kk is large (the sum over
    the 800 symmetries of the 10x10 space group makes |O_b| up to 800), so the rounding can reach
    the size of a diagonal shift of 1e-3 and S + shift stop being positive definite in single
    precision (measured: 4 filters over that group, |O| up to 430, an eigenvalue of -0.34). The rounding of O itself is harmless: S of the rounded O is still a Gram matrix, and
    in its near-null directions X v ~ 0 damps the perturbation. The direction is cast back to the
    parameters' precision by the caller.
    """
    converted = {}  # an array in several blocks stays one array (``_dense_structured`` looks for that)
    def double(x):
        if id(x) not in converted:
            converted[id(x)] = (x, _double(x))
        return converted[id(x)][1]

    return [(b[0],) + tuple(double(x) for x in b[1:]) for b in blocks], _double(e_loc)


def _double(x):
    """x in double precision (complex64 -> complex128, float32 -> float64) when x64 is on; else x."""
    if not jax.config.jax_enable_x64:
        return x
    if x.dtype == jnp.complex64:
        return x.astype(jnp.complex128)
    if jnp.issubdtype(x.dtype, jnp.floating) and x.dtype != jnp.float64:
        return x.astype(jnp.float64)
    return x


def natural_gradient(sr: SR, O, e_loc, step, real_params: bool, diag_shift=None, previous=None):
    """The SR direction delta = (S + D)^{-1} F, flat of length P (with SPRING's ``sr.momentum``,
    (S + D)^{-1} (F + D mu delta_{k-1})).

    Args:
        sr: settings.
        O: log-derivatives, either an (Ns, P) array or a list of column blocks in parameter order,
            each ``("dense", A)`` with A of shape (Ns, p), or ``("outer", U, V)`` for the p = n1 n2
            columns O[s, i n2 + k] = U[s, i] V[s, k] (the RBM weights: O_W = sigma t^T). With a
            constant shift the kernel solver works on outer blocks without ever forming them:
            their Gram matrix is (U U^H) * (V V^H), elementwise.
        e_loc: local energies, shape (Ns,); or (Ns, R) for R replica estimates per sample, with the
            blocks then carrying the replica axis too (O of shape (Ns, R, P)).
        step: optimisation step p (for the diagonal-shift schedule).
        real_params: take real parts of S and F (real parameters).
        diag_shift: overrides ``sr.diag_shift`` (a traced value: the driver raises it after a
            divergence without recompiling).
        previous: delta_{k-1}, the direction of the previous step (P,), when ``sr.momentum`` > 0.
    """
    shift = sr.diag_shift if diag_shift is None else diag_shift
    blocks = [("dense", O)] if not isinstance(O, (list, tuple)) else list(O)
    blocks, e_loc = _in_double(blocks, e_loc)
    bar = None
    if sr.momentum > 0 and previous is not None:
        bar = sr.momentum * _double(previous)
    if e_loc.ndim == 2:
        if sr.replica_metric == "cross":
            return _replica_dense(sr, shift, materialize(blocks), e_loc, step, real_params, bar)
        blocks, e_loc = _replica_rows(blocks, e_loc)
    if bar is None:
        return _direction(sr, shift, blocks, e_loc, step, real_params)
    # eps - X delta_bar: the local energies less O delta_bar (the centring of eps does the rest)
    dtype = jnp.result_type(bar.dtype, *[x.dtype for b in blocks for x in b[1:]])
    o_dot, _ = _block_products(blocks, dtype)
    e_loc = e_loc - o_dot(bar.astype(dtype))
    return _direction(sr, shift, blocks, e_loc, step, real_params) + bar


def _direction(sr, shift, blocks, e_loc, step, real_params):
    """(S + D)^{-1} X^H eps by the solver ``sr.choose`` picks (``natural_gradient``)."""
    ns = e_loc.shape[0]
    widths = _widths(blocks)
    rows = 2 * ns if real_params and any(jnp.iscomplexobj(b[1]) or jnp.iscomplexobj(b[-1]) for b in blocks) else ns
    can_structure = sr.schedule is None and rows == ns and any(b[0] == "outer" for b in blocks)
    gram_width = sum(b[1].shape[1] if b[0] == "dense" else b[1].shape[1] + b[2].shape[1] for b in blocks)
    solver = sr.choose(sum(widths), rows, gram_width if can_structure else None)
    structured = solver == "kernel" and can_structure
    if structured:
        return _kernel_structured(shift, blocks, e_loc, real_params)
    if solver == "cg" and rows == ns and any(b[0] == "outer" for b in blocks):
        return _cg_structured(sr, shift, blocks, e_loc, step, real_params)
    if solver == "dense" and rows == ns and _outer_gram_applies(blocks):
        return _dense_structured(sr, shift, blocks, e_loc, step, real_params)
    X, eps = centred(materialize(blocks), e_loc, real_params)
    F = _xh_dot(X, eps)
    s_diag = jnp.sum(jnp.abs(X) ** 2, axis=0)
    D = shift + sr.shift_scale(step) * s_diag
    # a parameter whose O never fluctuates (S_kk = 0, F_k = 0) gets no update, not a division by zero
    D = jnp.maximum(D, 1e-14)
    if solver == "dense":
        if _mixed(X, X.shape[1]):  # S from single-precision X, refined against X^H X + D in double
            S_low = _gram(X.astype(_low(X.dtype)))
            S_low = S_low + jnp.diag(D).astype(S_low.dtype)
            return _solve_refined(
                S_low, lambda v: _xh_dot(X, X @ v) + D * v, F, REFINE_TOL,
                lambda: _cholesky_solve(_gram(X) + jnp.diag(D).astype(X.dtype), F),
            )
        S = _gram(X)
        S = S + jnp.diag(D).astype(S.dtype)
        return _cholesky_solve(S, F)
    if solver == "kernel":
        XD = X / jnp.sqrt(D)
        if _mixed(XD, XD.shape[0]):
            K_low = _gram_rows(XD.astype(_low(XD.dtype)))
            K_low = K_low + jnp.eye(K_low.shape[0], dtype=K_low.dtype)
            y = _solve_refined(
                K_low, lambda v: XD @ _xh_dot(XD, v) + v, eps, REFINE_TOL,
                lambda: _cholesky_solve(_gram_rows(XD) + jnp.eye(XD.shape[0], dtype=XD.dtype), eps),
            )
            return _xh_dot(XD, y) / jnp.sqrt(D)
        K = _gram_rows(XD)
        K = K + jnp.eye(K.shape[0], dtype=K.dtype)
        y = _cholesky_solve(K, eps)
        return _xh_dot(XD, y) / jnp.sqrt(D)

    return _cg(sr, _normal_product(X, D), F, D)


def _normal_product(X, D):
    """v -> X^H (X v) + D v, CG's product, in real arithmetic on copies of X laid out for it.

    Complex X as the real P = [Re X; Im X] (2Ns x P) and its transpose, copied once per solve:
    X v = (P_r v_r - P_i v_i) + i (P_r v_i + P_i v_r) is P's product with the two columns
    [v_r, v_i], and X^H u = P^T [[u_r, u_i], [u_i, -u_r]], each one real matrix product. XLA's
    complex matrix-vector products on a CPU run at a fraction of the real ones, and its product with
    X's transpose (contracting the rows) at a third of the same product on a transposed copy: a CG
    iteration on the 4x4 DeepFFNN's 1008 x 1072 X took 6.9 ms as X^H (X v), 2.5 ms here (2-core
    CPU). Real X (real parameters) gets the transposed copy only. The copies double the memory X
    takes; above ``NORMAL_COPY_MAX`` entries of X the products run on X itself."""
    if X.size > NORMAL_COPY_MAX:
        return lambda v: _xh_dot(X, X @ v) + D * v
    if not jnp.iscomplexobj(X):
        XT = _transposed_copy(X)
        return lambda v: XT @ (X @ v) + D * v
    ns = X.shape[0]
    P = jnp.concatenate([jnp.real(X), jnp.imag(X)], axis=0)
    PT = _transposed_copy(P)

    def product(v):
        R = P @ jnp.stack([jnp.real(v), jnp.imag(v)], axis=1)  # (2 Ns, 2)
        ur, ui = R[:ns, 0] - R[ns:, 1], R[:ns, 1] + R[ns:, 0]  # X v
        Y = jnp.stack([jnp.concatenate([ur, ui]), jnp.concatenate([ui, -ur])], axis=1)
        H = PT @ Y  # (P, 2): the real and imaginary parts of X^H (X v)
        return jax.lax.complex(H[:, 0], H[:, 1]) + D * v

    return product


def _transposed_copy(A):
    """A^T as an array of its own (row-major), which XLA's matrix-vector products read in order."""
    return jnp.transpose(A).copy()


def _outer_gram_applies(blocks):
    """Whether the dense S is built by ``_dense_structured``: one outer block, one factor real."""
    outer = [b for b in blocks if b[0] == "outer"]
    return len(outer) == 1 and not (jnp.iscomplexobj(outer[0][1]) and jnp.iscomplexobj(outer[0][2]))


def _dense_structured(sr, shift, blocks, e_loc, step, real_params):
    """The dense solve with S built from the blocks around their outer block (the RBM's O_W =
    sigma t^T, U = sigma real), O never formed. An outer block whose real factor is the second
    (Saito's FFNN: O_W = (f g' / A) sigma^T) is the transposed block of the swapped factors: S is
    built for that and its columns put back in the block's order.

    S = X^H X = G / Ns - conj(m) m^T with G = O^H O and m = <O>, F = O^H (E - <E>) / Ns. A dense
    block that is one of the outer block's factors (the RBM's a and b: sigma and t; the FFNN's b) is
    that factor times a constant, so its columns are among those of [U, 1] (x) [V, 1]: the
    products of the factors with a column of ones appended where such a block needs it. G on those
    columns, G[(i,j),(k,l)] = sum_s U_si U_sk conj(V_sj) V_sl, is the product of the pair products
    U_i U_k and conj(V_j) V_l, each pair once (``_outer_gram``); the other dense blocks' columns M
    meet them in U^T times the products conj(V_j) M_c, and M^H M is small. All in real GEMMs over
    the sample axis: for the 4x4 RBM (P = 288) one GEMM of 153 x 306 columns, a seventh of the
    multiplications of X^H X, and S is gathered from it in the blocks' order. The factors are
    recognised as the same arrays (``is``), as the models return them; a copy is treated as a block
    of its own (the same S, more work).

    From ``MIXED_MIN`` unknowns up, G is built from single-precision blocks (the GEMMs at twice the
    speed: 4x4 RBM 5.1-5.5 -> 2.6-3.2 ms of its ~10 ms step on a 2-core CPU) and factorised in single
    precision; the solution is refined against the exact double-precision S v + D v applied block by
    block (``_centred_products``: 4 Ns n1 n2 multiplications, S never formed in double), and m, F and
    the diagonal of S (hence the shift D) are exact: the system solved is the double-precision one.
    m^T m is subtracted from G in single precision, a cancellation when |<O>|^2 dwarfs the
    fluctuations; the shift keeps the rounding small against the smallest eigenvalue, and should the
    refinement still not converge the double-precision S is built and factorised instead.
    """
    ns = e_loc.shape[0]
    k = next(i for i, b in enumerate(blocks) if b[0] == "outer")
    U0, V0 = blocks[k][1], blocks[k][2]
    swap = jnp.iscomplexobj(U0)
    if swap:
        U0, V0 = V0, U0
    n1, n2 = U0.shape[1], V0.shape[1]
    dense = [b[1] for b in blocks if b[0] == "dense"]
    ones_v = any(a is U0 for a in dense)  # U (x) 1 needs a column of ones after V
    ones_u = any(a is V0 for a in dense)  # 1 (x) V needs one after U
    others = [a for a in dense if a is not U0 and a is not V0]
    dtype = jnp.result_type(U0.dtype, V0.dtype, e_loc.dtype, *[a.dtype for a in others])
    if real_params:  # O is real here (rows == Ns)
        dtype = jnp.real(jnp.zeros((), dtype)).dtype
    real = jnp.real(jnp.zeros((), dtype)).dtype
    U = U0.astype(real)
    V = V0.astype(dtype)
    if ones_u:
        U = jnp.concatenate([U, jnp.ones((ns, 1), real)], axis=1)
    if ones_v:
        V = jnp.concatenate([V, jnp.ones((ns, 1), dtype)], axis=1)
    w1, w2 = U.shape[1], V.shape[1]
    M = jnp.concatenate([a.astype(dtype) for a in others], axis=1) if others else None
    e = e_loc - jnp.mean(e_loc)
    e = jnp.real(e).astype(dtype) if real_params else e.astype(dtype)

    # where each parameter (the blocks' order) sits among the columns of [U (x) V, M]
    grid = np.arange(w1 * w2).reshape(w1, w2)
    index, m_col = [], w1 * w2
    for b in blocks:
        if b[0] == "outer":
            index.append((grid[:n1, :n2].T if swap else grid[:n1, :n2]).ravel())
        elif b[1] is U0:
            index.append(grid[:n1, w2 - 1])
        elif b[1] is V0:
            index.append(grid[w1 - 1, :n2])
        else:
            index.append(np.arange(m_col, m_col + b[1].shape[1]))
            m_col += b[1].shape[1]
    index = np.concatenate(index)

    m = _times(U, V, contract_rows=True).ravel() / ns
    F = _times(U, jnp.conj(V) * e[:, None], contract_rows=True).ravel()
    if M is not None:
        m = jnp.concatenate([m, jnp.mean(M, axis=0)])
        F = jnp.concatenate([F, _xh_dot(M, e)])
    m, F = m[index], F[index] / ns
    # the exact products and diag S, in double and in the blocks' order
    x_dot, xh_dot, s_diag = _centred_products(blocks, dtype)
    D = jnp.maximum(shift + sr.shift_scale(step) * s_diag, 1e-14)

    def shifted_s(U, V, M, m, D):  # S + D in the blocks' order, in the precision of V and M
        G = _outer_gram(U, V)
        if M is not None:
            G_wr = _outer_times(U, V, M)
            G = jnp.concatenate([jnp.concatenate([G, G_wr], axis=1),
                                 jnp.concatenate([jnp.conj(G_wr).T, _xh_dot(M, M)], axis=1)], axis=0)
        S = G[index][:, index] / ns - jnp.conj(m)[:, None] * m[None, :]
        return S + jnp.diag(D.astype(S.dtype))

    if not _mixed(V, index.size):
        return _cholesky_solve(shifted_s(U, V, M, m, D), F)
    low, low_real = _low(dtype), _low(real)
    A_low = shifted_s(U.astype(low_real), V.astype(low), None if M is None else M.astype(low), m.astype(low), D)
    return _solve_refined(A_low, lambda v: xh_dot(x_dot(v)) + D * v, F, REFINE_TOL,
                          lambda: _cholesky_solve(shifted_s(U, V, M, m, D), F))


def _pair_products(A, B=None):
    """The columns A_j B_l for l >= j, in ``np.triu_indices`` order, from static slices (XLA's
    gather of the same columns by index costs several times more)."""
    B = A if B is None else B
    return jnp.concatenate([A[:, j:j + 1] * B[:, j:] for j in range(A.shape[1])], axis=1)


def _outer_gram(U, V):
    """(U (x) V)^H (U (x) V) for real U (Ns, n1) and V (Ns, n2): rows and columns (i, j), i * n2 + j.

    G[(i,j),(k,l)] = sum_s (U_si U_sk) (conj(V_sj) V_sl) is symmetric in (i, k) (U is real) and
    Hermitian in (j, l): one real GEMM over the sample axis between the pair products U_i U_k,
    i <= k, and conj(V_j) V_l, j <= l (real and imaginary parts side by side, formed in real
    arithmetic), a quarter of the (n1 n2)^2 Ns of the plain product; the other pairs are gathered
    from it.
    """
    ns, n1 = U.shape
    n2 = V.shape[1]
    iu, ku = np.triu_indices(n1)
    ju, lu = np.triu_indices(n2)
    if jnp.iscomplexobj(V):
        Vr, Vi = jnp.real(V), jnp.imag(V)
        re = _pair_products(Vr) + _pair_products(Vi)
        im = _pair_products(Vr, Vi) - _pair_products(Vi, Vr)
        R = jax.lax.dot_general(_pair_products(U).astype(re.dtype), jnp.concatenate([re, im], axis=1), _CONTRACT_ROWS)
        R = jax.lax.complex(R[:, :ju.size], R[:, ju.size:])  # (pairs ik, pairs jl)
    else:
        R = jax.lax.dot_general(_pair_products(U).astype(V.dtype), _pair_products(V), _CONTRACT_ROWS)

    def pairs(n, a, b):
        index = np.zeros((n, n), np.int32)
        index[a, b] = index[b, a] = np.arange(a.size)
        return index

    T = R[pairs(n1, iu, ku)[:, :, None, None], pairs(n2, ju, lu)[None, None]]  # T[i, k, j, l]
    if jnp.iscomplexobj(T):  # j > l: the conjugate of the pair (l, j)
        T = jnp.where(jnp.asarray(np.greater.outer(np.arange(n2), np.arange(n2))), jnp.conj(T), T)
    return T.transpose(0, 2, 1, 3).reshape(n1 * n2, n1 * n2)


def _outer_times(U, V, M):
    """sum_s U_si conj(V_sj) M_sc, rows (i, j) and columns c, for real U (Ns, n1): one real GEMM of U
    with the products conj(V_j) M_c, formed in real arithmetic when complex."""
    ns, n1 = U.shape
    n2, r = V.shape[1], M.shape[1]
    if not (jnp.iscomplexobj(V) or jnp.iscomplexobj(M)):
        return _times(U, (V[:, :, None] * M[:, None, :]).reshape(ns, n2 * r), contract_rows=True).reshape(n1 * n2, r)
    V, M = V.astype(jnp.result_type(V.dtype, M.dtype)), M.astype(jnp.result_type(V.dtype, M.dtype))
    Vr, Vi, Mr, Mi = jnp.real(V), jnp.imag(V), jnp.real(M), jnp.imag(M)
    re = Vr[:, :, None] * Mr[:, None, :] + Vi[:, :, None] * Mi[:, None, :]
    im = Vr[:, :, None] * Mi[:, None, :] - Vi[:, :, None] * Mr[:, None, :]
    U = U.astype(Vr.dtype)
    return jax.lax.complex(jax.lax.dot_general(U, re.reshape(ns, n2 * r), _CONTRACT_ROWS),
                           jax.lax.dot_general(U, im.reshape(ns, n2 * r), _CONTRACT_ROWS)).reshape(n1 * n2, r)


def _cg(sr, matvec, F, D):
    """CG on matvec(delta) = F, started from and preconditioned by the diagonal D (Jacobi)."""
    delta, _ = jax.scipy.sparse.linalg.cg(
        matvec, F, x0=F / D, tol=sr.cg_tol, atol=0.0, maxiter=sr.cg_maxiter, M=lambda v: v / D
    )
    return delta


def _kernel_structured(diag_shift, blocks, e_loc, real_params):
    """minSR with a constant shift d on blocks: delta = X^H (X X^H + d)^{-1} eps, X never formed.

    The uncentred Gram matrix G = O O^H is a sum over blocks (A A^H, or (U U^H) * (V V^H) for an
    outer block); centring is X X^H = H G H / Ns with H = 1 - 11^T / Ns. Because eps is centred and
    H G H annihilates the constant vector, y = (X X^H + d)^{-1} eps sums to zero, so
    X^H y = O^H y / sqrt(Ns), again block by block (U^H diag(y) V^* for outer blocks).

    In double precision from ``MIXED_MIN`` samples up, G is built from single-precision blocks
    (half the memory traffic of the Ns x Ns passes, half the flops) and its factor refined against
    the exact product (X X^H + d) y = (O (O^H H y)) / Ns + d y, block by block in double
    (``_solve_refined``): the Ns x Ns matrix never exists in double precision unless the
    refinement fails.
    """
    ns = e_loc.shape[0]
    dtype = jnp.result_type(*[b[i].dtype for b in blocks for i in range(1, len(b))])
    if not real_params:
        dtype = jnp.result_type(dtype, jnp.complex64)
    eps = ((e_loc - jnp.mean(e_loc)) / jnp.sqrt(ns)).astype(dtype)
    if real_params:
        eps = jnp.real(eps)

    o_dot, oh_dot = _block_products(blocks, dtype)
    row_sums = o_dot(oh_dot(jnp.ones((ns,), dtype)))  # G 1, G = O O^H uncentred

    def kernel(cast):
        grams = {}  # one Gram matrix per distinct array (the RBM's sigma and t each appear in two blocks)

        def gram(x):  # in x's own dtype: sigma's Gram is real, 4x cheaper than a complex one
            if id(x) not in grams:
                grams[id(x)] = (x, _gram_rows(cast(x)))
            return grams[id(x)][1]

        G = None
        for block in blocks:
            g = gram(block[1]) if block[0] == "dense" else gram(block[1]) * gram(block[2])
            G = g if G is None else G + g
        G = G.astype(cast(jnp.zeros((), dtype)).dtype)
        # centred, H G H = G - r 1^T - 1 r^H + mean(r) with r = G 1 / Ns = O (O^H 1) / Ns from the
        # blocks (Ns n1 n2 operations, in double) rather than from G's row and column means (two
        # passes over the Ns x Ns matrix: ~2 ms of the 6x6 RBM's step on a 2-core CPU); the
        # subtraction fuses into the pass that sums the Gram matrices
        r = (row_sums / ns).astype(G.dtype)
        G = G - r[:, None] - jnp.conj(r)[None, :] + jnp.mean(r).real.astype(G.dtype)
        # the shift in G's precision: the VMC step passes it as a traced double, which would
        # otherwise promote the single-precision kernel (and its factorisation) to double
        return G / ns + jnp.asarray(diag_shift).astype(G.dtype) * jnp.eye(ns, dtype=G.dtype)

    if _mixed(eps, ns):
        def exact(y):  # (X X^H + d) y in double, O never formed
            y_c = y - jnp.mean(y)
            Gy = o_dot(oh_dot(y_c))
            return (Gy - jnp.mean(Gy)) / ns + diag_shift * y

        K_low = kernel(lambda x: x.astype(_low(x.dtype)))
        y = _solve_refined(K_low, exact, eps, REFINE_TOL, lambda: _cholesky_solve(kernel(lambda x: x), eps))
    else:
        y = _cholesky_solve(kernel(lambda x: x), eps)
    y = (y - jnp.mean(y)) / jnp.sqrt(ns)
    out = []
    for block in blocks:
        if block[0] == "dense":
            out.append(_xh_dot(block[1].astype(dtype), y))
        else:
            U, V = block[1].astype(dtype), block[2].astype(dtype)
            out.append(jax.lax.dot_general(jnp.conj(U) * y[:, None], jnp.conj(V), _CONTRACT_ROWS).ravel())
    return jnp.concatenate(out)


_CONTRACT_ROWS = (((0,), (0,)), ((), ()))


def _gram(X):
    """X^H X. For complex X = A + iB through real products: A^T A + B^T B + i (A^T B - B^T A),
    the first as one product of the stacked [A; B], three real GEMMs' worth of work in all
    (a complex GEMM costs four, and XLA's CPU complex GEMM is slower per flop)."""
    if not jnp.iscomplexobj(X):
        X = jax.lax.optimization_barrier(X)
        return jax.lax.dot_general(X, X, _CONTRACT_ROWS)
    A, B = jax.lax.optimization_barrier((X.real, X.imag))
    # the barrier keeps XLA from fusing the real/imag split into the products, which would leave
    # the fast GEMM kernel for a slow generic loop
    R = jax.lax.optimization_barrier(jnp.concatenate([A, B], axis=0))
    C = jax.lax.dot_general(A, B, _CONTRACT_ROWS)
    return jax.lax.dot_general(R, R, _CONTRACT_ROWS) + 1j * (C - C.T)


def _gram_rows(Y):
    """Y Y^H, for complex Y through real products of [Re Y, Im Y] and [Im Y, -Re Y]."""
    if not jnp.iscomplexobj(Y):
        Y = jax.lax.optimization_barrier(Y)
        return jax.lax.dot_general(Y, Y, (((1,), (1,)), ((), ())))
    R = jax.lax.optimization_barrier(jnp.concatenate([Y.real, Y.imag], axis=1))
    R2 = jnp.concatenate([R, jnp.concatenate([Y.imag, -Y.real], axis=1)], axis=0)
    G = jax.lax.dot_general(R, R2, (((1,), (1,)), ((), ())))
    n = Y.shape[0]
    return G[:, :n] - 1j * G[:, n:]


def _xh_dot(X, v):
    """X^H v without forming the conjugate transpose."""
    return jax.lax.dot_general(jnp.conj(X), v, _CONTRACT_ROWS)


def _times(A, B, contract_rows=False):
    """A @ B (or A^T B with ``contract_rows``), a real operand kept real: a real matrix times a
    complex one is one real product with the complex one's real and imaginary parts side by side
    (XLA's CPU complex products run at a fraction of its real ones, and a real factor cast to
    complex quadruples the work)."""
    dims = _CONTRACT_ROWS if contract_rows else (((1,), (0,)), ((), ()))
    ca, cb = jnp.iscomplexobj(A), jnp.iscomplexobj(B)
    if ca and cb or not (ca or cb):
        dtype = jnp.result_type(A.dtype, B.dtype)
        return jax.lax.dot_general(A.astype(dtype), B.astype(dtype), dims)
    if not ca:  # real A: [Re B, Im B] side by side
        n = B.shape[1]
        R = jax.lax.dot_general(A.astype(B.real.dtype), jnp.concatenate([B.real, B.imag], axis=1), dims)
        return jax.lax.complex(R[:, :n], R[:, n:])
    # complex A, real B: [Re A; Im A] stacked along A's free axis
    axis = 1 if contract_rows else 0
    m = A.shape[axis]
    R = jax.lax.dot_general(jnp.concatenate([A.real, A.imag], axis=axis), B.astype(A.real.dtype), dims)
    return jax.lax.complex(R[:m], R[m:])


def _block_products(blocks, dtype):
    """(O v, O^H y) for O given as column blocks, in ``dtype``: an outer block costs Ns n1 n2 each way
    (sum_k ((U V_mat) * V)_sk, and U^H diag(y) V^*), and O is never formed. A real block or factor
    stays real (in ``dtype``'s precision) and meets a complex vector in one real product (``_times``)."""
    ns = blocks[0][1].shape[0]
    real = jnp.real(jnp.zeros((), dtype)).dtype
    cast = lambda x: x.astype(dtype if jnp.iscomplexobj(x) else real)  # noqa: E731
    blocks = [(b[0],) + tuple(cast(x) for x in b[1:]) for b in blocks]
    offsets = np.cumsum([0] + _widths(blocks))

    def o_dot(v):  # O v, shape (Ns,)
        out = jnp.zeros((ns,), jnp.result_type(dtype, v.dtype))
        for b, lo, hi in zip(blocks, offsets[:-1], offsets[1:]):
            if b[0] == "dense":
                out = out + _times(b[1], v[lo:hi, None])[:, 0]
                continue
            A, B = b[1], b[2]
            v_mat = v[lo:hi].reshape(A.shape[1], B.shape[1])
            if jnp.iscomplexobj(A) and not jnp.iscomplexobj(B):  # sum_a A_sa (B v_mat^T)_sa
                out = out + jnp.sum(A * _times(B, v_mat.T), axis=1)
            else:  # sum_b (A v_mat)_sb B_sb
                out = out + jnp.sum(_times(A, v_mat) * B, axis=1)
        return out

    def oh_dot(y):  # O^H y, shape (P,)
        parts = []
        for b in blocks:
            if b[0] == "dense":
                parts.append(_times(jnp.conj(b[1]), y[:, None], contract_rows=True)[:, 0])
                continue
            A, B = b[1], b[2]
            if jnp.iscomplexobj(A) and not jnp.iscomplexobj(B):  # (B^T (conj(A) y))^T
                parts.append(_times(B, jnp.conj(A) * y[:, None], contract_rows=True).T.ravel())
            else:  # A^H (conj(B) y)
                parts.append(_times(jnp.conj(A), jnp.conj(B) * y[:, None], contract_rows=True).ravel())
        return jnp.concatenate(parts)

    return o_dot, oh_dot


def _centred_products(blocks, dtype):
    """(X v, X^H y, diag S) in ``dtype`` for O given as column blocks, X = (O - 1 <O>^T) / sqrt(Ns):
    the products block by block (``_block_products``), O never formed, and S_kk = <|O_k|^2> -
    |<O_k>|^2 from each block's squares (sum_s U_si^2 |V_sj|^2 for an outer block)."""
    ns = blocks[0][1].shape[0]
    o_dot, oh_dot = _block_products(blocks, dtype)
    o_mean_conj = oh_dot(jnp.ones((ns,), dtype)) / ns  # conj(<O>)
    x_dot = lambda v: (o_dot(v) - jnp.sum(jnp.conj(o_mean_conj) * v)) / jnp.sqrt(ns)  # noqa: E731
    xh_dot = lambda y: (oh_dot(y) - o_mean_conj * jnp.sum(y)) / jnp.sqrt(ns)  # noqa: E731
    sq = []
    for b in blocks:
        if b[0] == "dense":
            sq.append(jnp.mean(jnp.abs(b[1]) ** 2, axis=0))
        else:
            sq.append((jnp.abs(b[1]).T ** 2 @ jnp.abs(b[2]) ** 2).ravel() / ns)
    return x_dot, xh_dot, jnp.concatenate(sq) - jnp.abs(o_mean_conj) ** 2


def _cg_structured(sr, shift, blocks, e_loc, step, real_params):
    """CG on (S + D) delta = F with S v = X^H (X v) applied block by block, O never formed.

    For an outer block O v costs Ns n1 n2 and so does O^H y (``_block_products``): the memory of
    the parameters times the samples is never allocated, which is what lets 16384 samples of a
    10x10 RBM fit, and keeps GPU CG compute- not memory-bound.
    """
    ns = e_loc.shape[0]
    dtype = jnp.result_type(*[b[i].dtype for b in blocks for i in range(1, len(b))])
    if not real_params:
        dtype = jnp.result_type(dtype, jnp.complex64)
    x_dot, xh_dot, s_diag = _centred_products(blocks, dtype)

    def real_part(x):
        return jnp.real(x) if real_params else x

    eps = ((e_loc - jnp.mean(e_loc)) / jnp.sqrt(ns)).astype(jnp.result_type(dtype, e_loc.dtype))
    F = real_part(xh_dot(eps.astype(jnp.result_type(dtype, jnp.complex64)) if real_params else eps))
    D = jnp.maximum(shift + sr.shift_scale(step) * s_diag, 1e-14)

    return _cg(sr, lambda v: real_part(xh_dot(x_dot(v))) + D * v, F, D)


MIXED_MIN = 256  # smallest system factorised in single precision (_solve_refined)
MAX_REFINE = 8  # refinement steps _solve_refined tries before the double-precision fallback
# Relative residual the refinement reaches. Not CG's looser cg_tol: SR's systems have condition
# numbers up to ~1e5 at shift 1e-2 (the DBM's joint metric), a residual r leaves an error up to
# cond r in the update's softest directions, and with 1e-6 the DBM's 300-step bench runs ended
# worse in two seeds of three (5.0e-3 and 6.5e-3 against 2.2e-3 and 4.0e-3; the third identical).
REFINE_TOL = 1e-10


def _low(dtype):
    """The single-precision counterpart of a double dtype."""
    return jnp.complex64 if jnp.issubdtype(dtype, jnp.complexfloating) else jnp.float32


def _mixed(x, n):
    """Whether an n x n system of x's precision is factorised in single precision and refined."""
    return n >= MIXED_MIN and x.dtype in (jnp.float64, jnp.complex128)


def _solve_refined(A_low, matvec, b, tol, fallback):
    """Solve A x = b, A Hermitian positive definite, to relative residual ``tol``.

    A is known exactly only through ``matvec`` (double precision, matrix-free: X^H (X v) + D v
    for SR's S), and approximately as the single-precision matrix ``A_low`` (the same Gram matrix
    built from single-precision data: half the memory traffic and, on a CPU, half the time of the
    double-precision product). A_low's Cholesky factor gives x_0, and refinement steps
    x <- x + A_low^{-1} (b - A x) (iterative refinement, Moler, J. ACM 14, 316 (1967)) each
    multiply the error by about cond(A) 1e-7, until ||b - A x|| <= tol ||b||. Should the
    single-precision factor fail (A_low not positive definite) or the residual stay above ``tol``
    after ``MAX_REFINE`` steps, ``fallback()`` (the double-precision direct solve) gives x instead.
    """
    low = A_low.dtype
    # LAPACK reads the matrix column by column, and XLA builds it row by row: handing it A^T (= conj A
    # for Hermitian A) makes the column-major operand the matrix already in memory, where A itself
    # costs a transposing copy (12-23 ms on top of the 26 ms factorisation of the 6x6 RBM's 1008 x 1008
    # kernel on a 2-core CPU). Its factor L' (L' L'^H = conj A) solves A x = r as x = conj(L'^-H L'^-1 conj r).
    L = jax.lax.linalg.cholesky(A_low.T, symmetrize_input=False)
    b_norm = jnp.linalg.norm(b)

    def solve_low(r):
        return jnp.conj(jax.scipy.linalg.cho_solve((L, True), jnp.conj(r.astype(low)))).astype(b.dtype)

    def not_done(carry):
        _, r, i = carry
        r_norm = jnp.linalg.norm(r)
        return (r_norm > tol * b_norm) & (i < MAX_REFINE) & jnp.isfinite(r_norm)

    def refine(carry):
        x, r, i = carry
        x = x + solve_low(r)
        return x, b - matvec(x), i + 1

    x = solve_low(b)
    x, r, _ = jax.lax.while_loop(not_done, refine, (x, b - matvec(x), jnp.zeros((), jnp.int32)))
    converged = jnp.linalg.norm(r) <= tol * b_norm  # False for a NaN from a failed factor
    return jax.lax.cond(converged, lambda: x, fallback)


def _cholesky_solve(A, b):
    """Solve A x = b for Hermitian positive-definite A in A's precision (below MIXED_MIN, the fallbacks)."""
    L = jnp.linalg.cholesky(A)
    return jax.scipy.linalg.cho_solve((L, True), b)
